"""Tune a whole model: extract its tasks, tune them into a resumable work dir, compile, check and time it.

The work dir is MetaSchedule's: ``database_workload.json`` and ``database_tuning_record.json``
(TVM's JSON database, shared by all tasks of the model, as ``tune_relax`` writes it), the
task scheduler's ``logs/``, plus ``tune.json`` (what is being tuned, so a resume cannot mix
models), the cost model's file and ``summary.json``. Running again continues from the
database: the budget counts the trials already there, the cost model relearns from them,
and no schedule in the database is measured again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..cost_model import TimedCostModel, make_cost_model
from ..datasets.database import task_database
from ..datasets.frontends import TOLERANCE, ImportedModel, ModelImportError, from_torch, load_onnx
from ..datasets.workloads import Task, heaviest_first, relax_tasks
from ..files import write_json
from ..nn import mean_seconds
from ..provenance import versions
from ..search.measure import host_target, make_builder, make_runner, tune_context
from ..search.tuning import POPULATION, replay_records, run_tune_tasks, search_strategy
from .compile import compile_and_measure

if TYPE_CHECKING:
    import torch
    from tvm.s_tir import meta_schedule as ms
    from tvm.target import Target

logger = logging.getLogger(__name__)

#: Cost-model files in the work dir. XGBModel's is TVM's own format; it unpickles on load, so a
#: resumed run rebuilds XGBModel from the database instead of loading it.
COST_MODEL_FILES = {"gnn": "cost_model.pt", "gnn-scratch": "cost_model.pt", "gnn-nomp": "cost_model.pt",
                    "xgb": "cost_model.xgb.tar"}


class WorkDirError(ValueError):
    """The work dir holds a run of another model, cost model or target."""


@dataclass
class TaskSummary:
    """One task after tuning: its trials in the database (all runs) and in this run, and its best time."""

    name: str
    weight: float
    trials: int
    new_trials: int
    best_seconds: float | None


@dataclass
class ModelTuneResult:
    """What tuning a model gave: per-task results, end-to-end times and the correctness check."""

    model: str
    cost_model: str
    work_dir: str
    target: str
    trials: int  # the budget (all runs)
    tasks: list[TaskSummary]
    tuning_seconds: float  # this run
    untuned_seconds: float  # median end-to-end latency, same pipeline without the database
    tuned_seconds: float
    onnxruntime_seconds: float | None
    reference: str  # what the outputs were checked against
    max_abs_error: float
    outputs_match: bool
    # every element of every reference output equal (e.g. a model whose weights are placeholders,
    # like the ONNX zoo's light models): the check then cannot catch a wrong result
    reference_constant: bool
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """Untuned over tuned end-to-end latency."""
        return self.untuned_seconds / self.tuned_seconds

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"speedup": self.speedup, "tolerance": TOLERANCE}


def tune_onnx(path: str | Path, work_dir: str | Path, *, input_shapes: dict[str, Sequence[int]] | None = None,
              **options: Any) -> ModelTuneResult:
    """Tune an ONNX file; ``options`` are :func:`tune_model`'s."""
    return tune_model(load_onnx(path, input_shapes), work_dir, **options)


def tune_torch(module: torch.nn.Module, example_inputs: Sequence[torch.Tensor], work_dir: str | Path,
               **options: Any) -> ModelTuneResult:
    """Tune a ``torch.nn.Module`` for the example inputs' shapes (via ``torch.export``); see :func:`tune_model`."""
    return tune_model(from_torch(module, example_inputs), work_dir, **options)


def tune_model(
    model: ImportedModel,
    work_dir: str | Path,
    *,
    trials: int,
    cost_model: str = "gnn",
    target: Target | None = None,
    rpc: ms.runner.RPCConfig | None = None,
    seed: int = 1,
    trials_per_iter: int = 32,
    population: int = POPULATION,
    strategy: str = "evolutionary",
    num_cores: int | None = None,
    progress: bool = True,
) -> ModelTuneResult:
    """Tune all tasks of ``model`` under the gradient task scheduler, then compile, check and time it.

    Args:
        trials: measured candidates in all, over all tasks and runs of this work dir.
        cost_model: a name of :data:`~tvm_gnn_cost.cost_model.COST_MODELS`.
        target: defaults to this machine's CPU; give the devices' target when measuring over RPC.
        rpc: measure candidates and the compiled model on the tracker's devices (see
            :func:`~tvm_gnn_cost.search.measure.rpc_config`) instead of this machine.
        trials_per_iter: candidates a task measures per round of the task scheduler.
        population: schedules per generation of the evolutionary search (MetaSchedule's default 512).
        strategy: ``"evolutionary"`` (MetaSchedule's) or ``"guided"``
            (:class:`~tvm_gnn_cost.search.guided.GuidedSearch`).
        num_cores: build workers and tuning threads (default: this machine's cores).
        progress: show progress bars.
    """
    if trials < 1:
        raise ValueError(f"trials must be at least 1, not {trials}")
    search_strategy(strategy, population, trials_per_iter)  # a bad strategy or population fails before any work
    cores = num_cores or os.cpu_count() or 1
    inner = make_cost_model(cost_model, seed=seed, num_cores=cores)  # unknown names fail before any work
    target = target or host_target(cores)
    work_dir = Path(work_dir)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bars:
        step = bars.add_task(f"extracting tasks of {model.name}", total=None)
        tasks = _tunable_tasks(model, target)
        bars.update(step, total=1, completed=1, description=f"extracted {len(tasks)} tasks of {model.name}")
        session = _Session.open(work_dir, model, tasks, inner, cost_model, target)
        step = bars.add_task(f"resuming from {session.done} records", total=session.done, visible=session.done > 0)
        session.resume(cores, seed, lambda: search_strategy(strategy, population, trials_per_iter,
                                                       spread=getattr(inner, "spread", None)),
                       lambda n: bars.advance(step, n))
        step = bars.add_task(f"tuning with {cost_model}", total=max(trials - session.done, 0))
        timed, log, tuning_seconds = session.tune(trials, trials_per_iter, cores, rpc, seed,
                                                  lambda n: bars.advance(step, n))
        step = bars.add_task("compiling and measuring end to end", total=4)
        measured = compile_and_measure(model, session.database, target, rpc, seed, lambda: bars.advance(step))

    records = _records_by_task(session.database, tasks)
    summaries = [TaskSummary(t.name, t.weight, len(recs), sum(x.task == t.name for x in log), _best(recs))
                 for t, recs in zip(tasks, records)]
    stats = timed.stats() | {"skipped_measured": sum(s.skipped for s in session.strategies),
                             "search_strategy_seconds": round(sum(s.seconds for s in session.strategies), 3)}
    result = ModelTuneResult(model.name, cost_model, str(work_dir), str(target), trials, summaries,
                             tuning_seconds, stats=stats, **measured)
    write_json(work_dir / "summary.json", result.to_json())
    return result


def _tunable_tasks(model: ImportedModel, target: Target) -> list[Task]:
    """The model's tunable tasks, heaviest first (the task scheduler's first round visits them in order,
    so a small budget goes to the tasks that take most of the model's time)."""
    tasks = heaviest_first(relax_tasks(model.mod, target, model.name, f"model:{model.name}"))
    if not tasks:
        raise ModelImportError(f"{model.name} has no tunable task: TVM extracted no TIR function from it")
    return tasks


@dataclass
class _Session:
    """A claimed work dir: its database, the records each task already has, and the cost model to tune with."""

    work_dir: Path
    tasks: list[Task]
    target: Target
    model: ms.cost_model.CostModel
    model_file: Path | None
    database: ms.database.Database
    records: list[list[Any]]
    contexts: list[ms.TuneContext] = field(default_factory=list)
    strategies: list[ms.search_strategy.SearchStrategy] = field(default_factory=list)

    @classmethod
    def open(cls, work_dir: Path, imported: ImportedModel, tasks: list[Task], model: ms.cost_model.CostModel,
             name: str, target: Target) -> _Session:
        """Claim ``work_dir`` for this model, cost model and target, and read what it holds."""
        _claim_work_dir(work_dir, imported, name, target)
        database = task_database(work_dir)
        model_file = work_dir / COST_MODEL_FILES[name] if name in COST_MODEL_FILES else None
        session = cls(work_dir, tasks, target, model, model_file, database, _records_by_task(database, tasks))
        if session.done and model_file and model_file.exists() and name.startswith("gnn"):
            model.load(str(model_file))
        return session

    @property
    def done(self) -> int:
        """Trials the work dir already holds for these tasks."""
        return sum(map(len, self.records))

    def resume(self, cores: int, seed: int, new_strategy: Callable[[], ms.search_strategy.SearchStrategy],
               advance: Callable[[int], None]) -> None:
        """Tuning contexts whose search skips the database's schedules, and the cost model taught its records."""
        for i, (task, task_records) in enumerate(zip(self.tasks, self.records)):
            self.strategies.append(new_strategy())
            self.contexts.append(tune_context(task.mod, self.target, task.name, num_threads=cores, seed=seed + i,
                                              search_strategy=self.strategies[-1]))
            self.strategies[-1].measured |= replay_records(self.model, self.contexts[-1], task_records)
            advance(len(task_records))

    def tune(self, trials: int, trials_per_iter: int, cores: int, rpc: ms.runner.RPCConfig | None, seed: int,
             on_trials: Callable[[int], None]) -> tuple[TimedCostModel, list, float]:
        """Measure the trials the budget has left; (the timed cost model, this run's trials, seconds)."""
        timed = TimedCostModel(self.model)
        start = time.perf_counter()
        trials_log: list = []
        if trials > self.done:
            log = run_tune_tasks(self.contexts, work_dir=self.work_dir, max_trials_global=trials - self.done,
                                 trials_per_iter=trials_per_iter, cost_model=timed,
                                 builder=make_builder(max_workers=cores), runner=make_runner(rpc=rpc),
                                 task_weights=[t.weight for t in self.tasks], database=self.database, seed=seed,
                                 on_trials=on_trials)
            trials_log = log.trials
            if self.model_file:
                self.model.save(str(self.model_file))
        return timed, trials_log, time.perf_counter() - start


def _claim_work_dir(work_dir: Path, model: ImportedModel, cost_model: str, target: Target) -> None:
    """Record what this work dir tunes; refuse to resume it with another model, cost model or target."""
    import tvm_ffi

    claim = {"model": model.name, "model_hash": f"{tvm_ffi.structural_hash(model.mod):016x}",
             "cost_model": cost_model, "target": str(target)}
    path = work_dir / "tune.json"
    if path.exists():
        previous = json.loads(path.read_text())
        for key, shown in (("model_hash", "model"), ("cost_model", "cost_model"), ("target", "target")):
            if previous.get(key) != claim[key]:
                raise WorkDirError(
                    f"{work_dir} holds a tuning run with another {key.replace('_', ' ')} "
                    f"({previous.get(shown)!r}, now {claim[shown]!r}); resume with the same model, cost model "
                    f"and target, or use a new --work-dir"
                )
    work_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, claim | {"versions": versions()})


def _records_by_task(database: ms.database.Database, tasks: Sequence[Task]) -> list[list[Any]]:
    """The database's tuning records grouped by task (matched by the workload's structural hash)."""
    import tvm_ffi

    index = {tvm_ffi.structural_hash(t.mod): i for i, t in enumerate(tasks)}
    grouped: list[list[Any]] = [[] for _ in tasks]
    for record in database.get_all_tuning_records():
        i = index.get(tvm_ffi.structural_hash(record.workload.mod))
        if i is not None:
            grouped[i].append(record)
    return grouped


def _best(records: Sequence[Any]) -> float | None:
    times = [t for t in (mean_seconds(r.run_secs) for r in records) if t is not None]
    return min(times) if times else None


