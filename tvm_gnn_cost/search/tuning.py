"""Tuning: MetaSchedule's ``tune_tasks`` behind one wrapper that logs every trial, and the search strategies.

:func:`run_tune_tasks` is the only call of ``ms.tune_tasks`` in the package: workload tuning
(the demo and benchmarks), whole-model tuning and the dataset collector's search all go
through it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback
from tvm.s_tir.meta_schedule.search_strategy import PySearchStrategy

from ..cost_model import TimedCostModel, make_cost_model
from ..nn import mean_seconds
from .guided import GuidedSearch, timed
from .measure import host_target, make_builder, make_runner, tune_context

if TYPE_CHECKING:
    from ..datasets.workloads import Task

POPULATION = 512  # MetaSchedule's EvolutionarySearch default: schedules each generation keeps


def evolutionary_search(population: int, trials_per_iter: int, **knobs: Any) -> ms.search_strategy.EvolutionarySearch:
    """MetaSchedule's evolutionary search with ``population`` schedules per generation.

    Each round samples, mutates and scores about five populations' worth of schedules, so a
    smaller population makes rounds cheaper and the search narrower. ``knobs`` are its other
    arguments by MetaSchedule's names (``genetic_num_iters``, ``eps_greedy``,
    ``init_measured_ratio``, ``genetic_mutate_prob``, ...). Raises ``ValueError`` if it could
    not fill a round of ``trials_per_iter`` candidates.
    """
    if population < trials_per_iter:
        raise ValueError(f"population ({population}) must be at least the trials per round ({trials_per_iter})")
    return ms.search_strategy.EvolutionarySearch(population_size=population, **knobs)


#: The search strategies :func:`search_strategy` can name: MetaSchedule's evolutionary search
#: (wrapped in :class:`SkipMeasured`) or :class:`~tvm_gnn_cost.search.guided.GuidedSearch`.
STRATEGIES = ("evolutionary", "guided")


def search_strategy(name: str, population: int, trials_per_iter: int, measured: set[int] | None = None,
                    spread: Callable[[ms.TuneContext, list], np.ndarray] | None = None,
                    **knobs: Any) -> ms.search_strategy.SearchStrategy:
    """A fresh strategy for one task that never proposes a schedule in ``measured`` (structural hashes).

    ``spread``: the cost model's uncertainty per candidate, which the guided search explores by
    (e.g. ``GNNCostModel.spread``; the evolutionary search has no use for it). ``knobs``: the
    strategy's own arguments (:func:`evolutionary_search`'s, or :class:`GuidedSearch`'s).
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown search strategy {name!r}; choose one of {STRATEGIES}")
    measured = measured if measured is not None else set()
    try:
        if name == "guided":
            return GuidedSearch(measured, spread=spread, **knobs)
        return SkipMeasured(measured, inner=evolutionary_search(population, trials_per_iter, **knobs))
    except TypeError as err:  # a knob the strategy does not have
        raise ValueError(f"the {name} search has no knob among {sorted(knobs)} ({err})") from err


@derived_object
class SkipMeasured(PySearchStrategy):
    """MetaSchedule's evolutionary search that never proposes a schedule measured before.

    ``EvolutionarySearch`` seeds each round with the database's best records but only
    remembers what it measured itself, so a resumed run re-measures the best schedules of
    the last one (and ``collect``'s search phase re-measured random samples). This wrapper
    drops candidates whose module (structural hash) is in ``measured``; the inner search
    only counts what was actually measured against its budget.

    Args:
        measured: structural hashes of the scheduled modules already measured.
        max_empty_rounds: rounds in a row that only proposed measured schedules before the
            task is declared exhausted.
    """

    def __init__(self, measured: set[int], *, max_empty_rounds: int = 8,
                 inner: ms.search_strategy.SearchStrategy | None = None) -> None:
        super().__init__()
        self.measured = measured
        self.max_empty_rounds = max_empty_rounds
        self.inner = inner if inner is not None else ms.search_strategy.EvolutionarySearch()
        self.skipped = 0
        self.seconds = 0.0

    def _initialize_with_tune_context(self, context: ms.TuneContext) -> None:
        self.inner._initialize_with_tune_context(context)

    def pre_tuning(self, max_trials: int, num_trials_per_iter: int, design_spaces: list, database: Any = None,
                   cost_model: Any = None) -> None:
        self.inner.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database, cost_model)

    def post_tuning(self) -> None:
        self.inner.post_tuning()

    @timed
    def generate_measure_candidates(self) -> list[ms.MeasureCandidate] | None:
        import tvm_ffi

        for _ in range(self.max_empty_rounds):
            batch = self.inner.generate_measure_candidates()
            if batch is None:
                return None
            fresh = [c for c in batch if tvm_ffi.structural_hash(c.sch.mod) not in self.measured]
            self.skipped += len(batch) - len(fresh)
            if fresh:
                return fresh
        return None

    def notify_runner_results(self, measure_candidates: list, results: list) -> None:
        self.inner.notify_runner_results(measure_candidates, results)

    def clone(self) -> ms.search_strategy.SearchStrategy:
        return SkipMeasured(self.measured, max_empty_rounds=self.max_empty_rounds, inner=self.inner.clone())


def replay_records(model: ms.cost_model.CostModel, context: ms.TuneContext, records: Sequence[Any]) -> set[int]:
    """Teach ``model`` the database ``records`` of one task; returns their modules' structural hashes.

    Failed records (TVM's ``run_secs=[1e10]`` marker) are passed on as they are stored.
    """
    import tvm_ffi

    if not records:
        return set()
    candidates = [r.as_measure_candidate() for r in records]
    model.update(context, candidates, [ms.runner.RunnerResult(r.run_secs, None) for r in records])
    return {tvm_ffi.structural_hash(c.sch.mod) for c in candidates}


@dataclass
class Trial:
    """One measured candidate: which task, when (seconds since tuning began), its time or None."""

    task: str
    elapsed: float
    seconds: float | None


@derived_object
class TrialLog(PyMeasureCallback):
    """Records every trial and advances an optional progress callback ``on_trials(n)``."""

    def __init__(self, task_names: Sequence[str], on_trials: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.task_names = list(task_names)
        self.on_trials = on_trials
        self.trials: list[Trial] = []
        self.start = time.perf_counter()

    def apply(self, task_scheduler: Any, task_id: int, measure_candidates: Any, builder_results: Any,
              runner_results: Any) -> None:
        now = time.perf_counter() - self.start
        for result in runner_results:
            self.trials.append(Trial(self.task_names[task_id], now, mean_seconds(result.run_secs)))
        if self.on_trials:
            self.on_trials(len(runner_results))


@dataclass
class TuneResult:
    """What one cost model achieved on a set of tasks."""

    cost_model: str
    trials: list[Trial]
    wall_seconds: float
    tasks: list[str] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)  # cost-model seconds and counters (graph cache)

    def best(self, task: str) -> float | None:
        times = [t.seconds for t in self.trials if t.task == task and t.seconds is not None]
        return min(times) if times else None

    def curve(self, task: str) -> np.ndarray:
        """Best time so far after each trial of ``task`` (inf until the first success)."""
        times = np.array([t.seconds if t.seconds is not None else np.inf for t in self.trials if t.task == task])
        return np.minimum.accumulate(times) if len(times) else times

    def to_json(self) -> dict[str, Any]:
        return {
            "cost_model": self.cost_model,
            "wall_seconds": self.wall_seconds,
            "stats": self.stats,
            "tasks": {
                task: {
                    "trials": int(sum(t.task == task for t in self.trials)),
                    "best_seconds": self.best(task),
                    "curve": [float(x) if np.isfinite(x) else None for x in self.curve(task)],
                    "elapsed": [round(t.elapsed, 3) for t in self.trials if t.task == task],
                }
                for task in self.tasks
            },
        }


def tune_workloads(
    tasks: Sequence[Task],
    cost_model: str,
    *,
    trials_per_task: int,
    work_dir: Path,
    seed: int = 1,
    num_cores: int | None = None,
    trials_per_iter: int = 32,
    population: int = POPULATION,
    strategy: str = "evolutionary",
    knobs: dict[str, Any] | None = None,
    model_options: dict[str, Any] | None = None,
    on_trials: Callable[[int], None] | None = None,
) -> TuneResult:
    """Tune tasks together under the gradient task scheduler with one cost model.

    Every model gets the same builder, runner, target, task seeds and budget, so results of
    different models from one call pattern are directly comparable. ``population`` is the
    evolutionary search's (see :func:`evolutionary_search`); ``strategy`` names one of
    :data:`STRATEGIES`, ``knobs`` are its arguments (:func:`search_strategy`), ``model_options`` the cost
    model's (:func:`~tvm_gnn_cost.cost_model.make_cost_model`, e.g. ``train_config``). The result's ``stats``
    include the seconds the cost model spent in ``predict`` and ``update`` and the strategies in
    proposing rounds (``search_strategy_seconds``, their ``predict`` calls included). ``num_cores``
    defaults to this machine's.
    """
    num_cores = num_cores or os.cpu_count() or 1
    target = host_target(num_cores)
    model = TimedCostModel(make_cost_model(cost_model, seed=seed, num_cores=num_cores,
                                            **(model_options or {})))
    strategies = [search_strategy(strategy, population, trials_per_iter, spread=model.spread, **(knobs or {}))
                  for _ in tasks]  # one per task: each holds its task's state
    contexts = [tune_context(task.mod, target, task.name, num_threads=num_cores, seed=seed + i, search_strategy=s)
                for i, (task, s) in enumerate(zip(tasks, strategies))]
    names = [task.name for task in tasks]
    start = time.perf_counter()
    log = run_tune_tasks(contexts, work_dir=work_dir, max_trials_global=trials_per_task * len(contexts),
                         max_trials_per_task=trials_per_task, trials_per_iter=trials_per_iter, cost_model=model,
                         builder=make_builder(max_workers=num_cores), runner=make_runner(), seed=seed,
                         on_trials=on_trials)
    stats = model.stats() | {"search_strategy_seconds": round(sum(s.seconds for s in strategies), 3)}
    return TuneResult(cost_model, log.trials, time.perf_counter() - start, names, stats)


def compare_cost_models(
    tasks: Sequence[Task],
    cost_models: Sequence[str],
    *,
    trials_per_task: int,
    out: Path,
    seed: int = 1,
    population: int = POPULATION,
    on_trials: Callable[[str, int], None] | None = None,
) -> list[TuneResult]:
    """:func:`tune_workloads` once per cost model, each in a fresh ``out/work_<model>`` (no record reused).

    ``on_trials(model, n)`` reports each model's measured trials as they come.
    """
    results = []
    for name in cost_models:
        work_dir = Path(out) / f"work_{name}"
        shutil.rmtree(work_dir, ignore_errors=True)
        report = (lambda n, name=name: on_trials(name, n)) if on_trials else None
        results.append(tune_workloads(tasks, name, trials_per_task=trials_per_task, work_dir=work_dir, seed=seed,
                                      population=population, on_trials=report))
    return results


def run_tune_tasks(
    contexts: Sequence[ms.TuneContext],
    *,
    work_dir: str | Path,
    max_trials_global: int,
    trials_per_iter: int,
    cost_model: ms.cost_model.CostModel,
    builder: ms.builder.Builder,
    runner: ms.runner.Runner,
    task_weights: Sequence[float] | None = None,
    max_trials_per_task: int | None = None,
    database: ms.database.Database | None = None,
    scheduler: str = "gradient",
    seed: int = 1,
    on_trials: Callable[[int], None] | None = None,
) -> TrialLog:
    """``ms.tune_tasks`` with TVM's default measure callbacks plus a :class:`TrialLog`, which it returns.

    ``scheduler`` is ``"gradient"`` (MetaSchedule's gradient-based task scheduler, seeded) or
    ``"round-robin"``; ``database`` defaults to a JSON database in ``work_dir``, as in TVM.
    """
    log = TrialLog([str(c.task_name) for c in contexts], on_trials)
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    ms.tune_tasks(
        tasks=list(contexts),
        task_weights=list(task_weights) if task_weights is not None else [1.0] * len(contexts),
        work_dir=str(work_dir),
        max_trials_global=max_trials_global,
        max_trials_per_task=max_trials_per_task,
        num_trials_per_iter=trials_per_iter,
        builder=builder,
        runner=runner,
        database=database if database is not None else "json",
        cost_model=cost_model,
        measure_callbacks=[*ms.MeasureCallback.create("default"), log],
        task_scheduler=ms.task_scheduler.GradientBased(seed=seed) if scheduler == "gradient" else scheduler,
    )
    return log
