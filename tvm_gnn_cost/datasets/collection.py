"""Collecting a dataset of measured schedules: one MetaSchedule JSON database per task.

Every measured candidate is committed, failures included, with TVM's convention for a failed
build or run: ``run_secs == [1e10]``. A task gets a :class:`Recipe`'s ``random`` samples of its
design space first, then its ``search`` candidates chosen by MetaSchedule's evolutionary search
guided by an ``XGBModel`` fitted to the random samples, so that good schedules are in the
data too. The database is the state: a run that is interrupted and started again measures
only what is missing.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..cost_model import make_cost_model
from ..files import write_json
from ..nn import FAILED_SECONDS, mean_seconds
from ..provenance import machine, versions
from ..search.measure import measure_candidates, sample_candidates, tune_context
from ..search.tuning import SkipMeasured, evolutionary_search, replay_records, run_tune_tasks
from .clock import active_seconds
from .database import TASK_FILE, task_database

if TYPE_CHECKING:
    from tvm.s_tir import meta_schedule as ms
    from tvm.target import Target

    from .workloads import Task


@dataclass
class TaskProgress:
    """Records measured for one task in this call, and what its database holds now."""

    task: str
    measured: int
    total: int
    failed: int
    complete: bool = False  # both phases reached what was asked, or the design space ran out


#: Schedules per generation of the evolutionary search that picks a task's searched records. MetaSchedule's
#: default (512) spends about 95 s choosing 8 candidates of a conv2d on 2 cores; 64 spends about 13 s
#: (``benchmarks/collection.py`` measures both recipes side by side).
SEARCH_POPULATION = 64


@dataclass(frozen=True)
class Recipe:
    """What collection measures per task: ``random`` design-space samples, then ``search`` searched candidates.

    ``population`` is the search's schedules per generation, ``seed`` seeds sampling and search.
    """

    random: int
    search: int
    population: int = SEARCH_POPULATION
    seed: int = 1

    def __post_init__(self) -> None:
        if self.random < 0 or self.search < 0 or self.random + self.search == 0:
            raise ValueError("a recipe needs a positive number of random and/or search records")
        if self.search and self.population < min(self.search, 32):
            raise ValueError(f"the search population must be at least the search's round "
                             f"({min(self.search, 32)} candidates), got {self.population}")

    def to_json(self) -> dict:
        """The recipe as manifests and chunk cards record it."""
        return asdict(self)


def collect_task(
    task: Task,
    task_dir: Path,
    target: Target,
    builder: ms.builder.Builder,
    runner: ms.runner.Runner,
    recipe: Recipe,
    *,
    batch_size: int = 32,
    on_records: Callable[[int], None] | None = None,
) -> TaskProgress:
    """Bring one task's database up to the recipe's random and searched records.

    One tuning context serves both phases. Random samples are committed batch by batch, so
    an interruption loses at most one batch; the searched ones come from MetaSchedule's
    evolutionary search guided by an ``XGBModel``
    fitted to every record so far. A design space with fewer distinct schedules than asked
    for is recorded as exhausted in ``task.json`` and neither sampled nor searched again.
    ``task.json`` also keeps the workload's structural hash and the seconds each phase took.
    """
    import tvm_ffi

    num_random, num_search, seed = recipe.random, recipe.search, recipe.seed
    db = task_database(task_dir)
    info = _read_info(task_dir) or _task_info(task, target, seed)
    info.setdefault("hash", f"{tvm_ffi.structural_hash(task.mod):016x}")
    seconds = info.setdefault("seconds", {"random": 0.0, "search": 0.0})
    done_before = len(db)
    measured = {tvm_ffi.structural_hash(r.as_measure_candidate().sch.mod) for r in db.get_all_tuning_records()}
    strategy = SkipMeasured(measured, inner=evolutionary_search(recipe.population, min(max(num_search, 1), 32)))
    context = tune_context(task.mod, target, task.name, seed=seed, search_strategy=strategy)
    workload = db.commit_workload(task.mod)

    while not info["random_exhausted"] and info["random"] < num_random:
        start = active_seconds()
        want = min(batch_size, num_random - info["random"])
        candidates = sample_candidates(context, want, seed=seed + len(db) + 1)
        info["random_exhausted"] = len(candidates) < want
        results = measure_candidates(context, candidates, builder, runner)
        for candidate, result in zip(candidates, results):
            db.commit_tuning_record(_record(candidate, result, workload, target))
            measured.add(tvm_ffi.structural_hash(candidate.sch.mod))
        info["random"] += len(candidates)
        seconds["random"] = round(seconds["random"] + active_seconds() - start, 2)
        _write_info(task_dir, info)
        if on_records:
            on_records(len(candidates))

    search_trials = num_search - (len(db) - info["random"])
    # a space that ran out of distinct random samples has none left for the search to find either
    # (it mutates the same decisions); searching it anyway costs minutes per element-wise task
    info["search_exhausted"] |= info["random_exhausted"]
    if search_trials > 0 and not info["search_exhausted"]:
        start = active_seconds()
        found = _search(context, db, builder, runner, search_trials, seed, on_records)
        info["search_exhausted"] = found < search_trials
        info["population"] = recipe.population
        seconds["search"] = round(seconds["search"] + active_seconds() - start, 2)
    records = db.get_all_tuning_records()
    failed = sum(mean_seconds(r.run_secs) is None for r in records)
    searched = len(records) - info["random"]
    info["complete"] = ((info["random"] >= num_random or info["random_exhausted"])
                        and (searched >= num_search or info["search_exhausted"]))
    info["records"], info["failed"] = len(records), failed
    _write_info(task_dir, info)
    return TaskProgress(task.name, len(records) - done_before, len(records), failed, info["complete"])


def _search(
    context: ms.TuneContext,
    db: ms.database.JSONDatabase,
    builder: ms.builder.Builder,
    runner: ms.runner.Runner,
    trials: int,
    seed: int,
    on_records: Callable[[int], None] | None,
) -> int:
    """Measure ``trials`` candidates picked by the context's evolutionary search; returns how many it found.

    The context's strategy is a :class:`SkipMeasured` whose set already holds every record's schedule.
    """
    model = make_cost_model("xgb", seed=seed, warmup=0)
    replay_records(model, context, db.get_all_tuning_records())  # the search starts from what the records taught
    with tempfile.TemporaryDirectory() as work_dir:  # tune_tasks logs there; records go to ``db``
        log = run_tune_tasks([context], work_dir=work_dir, max_trials_global=trials, trials_per_iter=min(trials, 32),
                             cost_model=model, builder=builder, runner=runner, database=db, scheduler="round-robin",
                             on_trials=on_records)
    return len(log.trials)



def collect_tasks(
    tasks: Sequence[Task],
    out: Path,
    target: Target,
    builder: ms.builder.Builder,
    runner: ms.runner.Runner,
    recipe: Recipe,
    *,
    manifest: dict | None = None,
    on_task: Callable[[int, Task], None] | None = None,
    on_records: Callable[[int], None] | None = None,
    after_task: Callable[[TaskProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Measure ``tasks`` into ``out`` (a directory per task), keeping ``out/manifest.json`` current; returns it.

    The manifest (``manifest`` plus machine, versions, date, records per hour, tasks done and
    failed) is rewritten after every task, ``finished`` false until the last, so a run that is
    killed still says what it measured and how fast. A task that raises is logged and listed
    under ``failed_tasks``; the others go on. ``on_task(i, task)`` is called before task i,
    ``after_task(progress)`` after each task that was measured; a true ``should_stop()`` before
    a task ends the run there, ``finished`` false.
    """
    import logging

    start = active_seconds()
    done: list[TaskProgress] = []
    failed_tasks: dict[str, str] = {}

    def write(finished: bool) -> dict:
        seconds = active_seconds() - start
        measured = sum(p.measured for p in done)
        content = {
            **(manifest or {}),
            "recipe": recipe.to_json(),
            "machine": machine(target),
            "versions": versions(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "finished": finished,
            "seconds_this_run": round(seconds, 1),
            "records_this_run": measured,
            "records_per_hour": round(measured / seconds * 3600) if measured else 0,
            "tasks": {p.task: {"records": p.total, "failed": p.failed} for p in done},
            "failed_tasks": failed_tasks,
        }
        write_json(out / "manifest.json", content)
        return content

    out.mkdir(parents=True, exist_ok=True)
    for i, task in enumerate(tasks):
        if should_stop and should_stop():
            return write(finished=False)
        if on_task:
            on_task(i, task)
        try:
            progress = collect_task(task, out / task.name, target, builder, runner, recipe, on_records=on_records)
        except Exception as err:  # noqa: BLE001 - one broken task must not end a long collection
            logging.getLogger(__name__).error("task %s failed: %s", task.name, err)
            failed_tasks[task.name] = str(err)
        else:
            done.append(progress)
            if after_task:
                after_task(progress)
        write(finished=False)
    return write(finished=True)


def _record(
    candidate: ms.MeasureCandidate, result: ms.runner.RunnerResult, workload: ms.database.Workload, target: Target
) -> ms.database.TuningRecord:
    """A tuning record as ``AddToDatabase`` writes it: a failed build or run gets ``[1e10]``.

    So does a run whose times are not positive and finite: TVM writes NaN and inf as bare
    ``nan`` / ``inf``, which its own reader then refuses.
    """
    from tvm.s_tir import meta_schedule as ms

    ok = not result.error_msg and mean_seconds(result.run_secs) is not None
    run_secs = result.run_secs if ok else [FAILED_SECONDS]
    return ms.database.TuningRecord(candidate.sch.trace, workload, run_secs, target, candidate.args_info)


def _task_info(task: Task, target: Target, seed: int) -> dict:
    return {
        "name": task.name,
        "source": task.source,
        "weight": task.weight,
        "seed": seed,
        "machine": machine(target),
        "versions": versions(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "random": 0,
        "random_exhausted": False,
        "search_exhausted": False,
        "clock": "active",  # its phase seconds leave out stopped time (clock.py); older tasks counted pauses
    }


def _read_info(task_dir: Path) -> dict | None:
    path = task_dir / TASK_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _write_info(task_dir: Path, info: dict) -> None:
    write_json(task_dir / TASK_FILE, info)
