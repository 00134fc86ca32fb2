"""Datasets of measured schedules: MetaSchedule JSON databases, one per task; collecting and loading.

Each task directory holds TVM's own ``database_workload.json`` and
``database_tuning_record.json`` (what ``ms.tune_tir`` writes to its work dir) plus ``task.json``
(name, source, weight, target, CPU, versions). Every measured candidate is committed, failures
included, with TVM's convention for a failed build or run: ``run_secs == [1e10]``.

A task gets ``num_random`` random samples of its design space first, then ``num_search``
candidates chosen by MetaSchedule's evolutionary search guided by an ``XGBModel`` fitted to
the random samples, so that good schedules are in the data too. The database is the state:
a run that is interrupted and started again measures only what is missing.

:func:`load_dataset` reads a dataset directory, or a ``.tar.xz`` of one (extracted once into
a cache directory), back into candidates and their measured times.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data import FAILED_SECONDS, Sample, mean_seconds
from .files import atomic_open, write_json
from .measure import measure_candidates, sample_candidates, tune_context
from .tuning import SkipMeasured, TrialLog, replay_records

if TYPE_CHECKING:
    from tvm.ir import IRModule
    from tvm.s_tir import meta_schedule as ms
    from tvm.target import Target

    from .graph import StageGraph
    from .workloads import Task

WORKLOAD_FILE = "database_workload.json"
RECORD_FILE = "database_tuning_record.json"
TASK_FILE = "task.json"


def task_database(task_dir: Path) -> ms.database.JSONDatabase:
    """The JSON database in a directory (created if missing): a task's in a dataset, a model's in a tune work dir.

    TVM refuses a whole database for one line it cannot parse (a disk filled or a process
    killed mid-write leaves one); such lines are moved aside by :func:`drop_malformed_lines`
    and the rest is opened. Record lines that are not strict JSON ``[index, record]`` are moved
    aside before TVM sees them: some of those crash its reader instead of raising.
    """
    from tvm.s_tir import meta_schedule as ms

    task_dir.mkdir(parents=True, exist_ok=True)
    paths = (str(task_dir / WORKLOAD_FILE), str(task_dir / RECORD_FILE))
    if not all(_is_record_shaped(line) for line in _lines(task_dir / RECORD_FILE)):
        drop_malformed_lines(task_dir)
    try:
        return ms.database.JSONDatabase(*paths)
    except Exception:
        if not drop_malformed_lines(task_dir):
            raise
        return ms.database.JSONDatabase(*paths)


def drop_malformed_lines(directory: Path) -> int:
    """Move the lines of a JSON database that TVM cannot parse to ``<file>.malformed``; returns how many.

    A record of a dropped workload goes too; the other records' workload indices are renumbered.
    Lines are handled as bytes split at ``\\n`` (as TVM reads them), so a bad line is moved
    byte for byte, whatever it holds.
    """
    import logging

    from tvm.s_tir import meta_schedule as ms

    workloads, kept_workloads, bad_workloads, index = [], [], [], {}
    for i, line in enumerate(_lines(directory / WORKLOAD_FILE)):
        try:
            workloads.append(ms.database.Workload.from_json(json.loads(line)))
        except Exception:  # noqa: BLE001 - any parse failure makes the line malformed
            bad_workloads.append(line)
            continue
        index[i] = len(kept_workloads)
        kept_workloads.append(line)
    kept_records, bad_records = [], []
    for line in _lines(directory / RECORD_FILE):
        try:
            old, record = json.loads(line)
            ms.database.TuningRecord.from_json(record, workloads[index[old]])
        except Exception:  # noqa: BLE001
            bad_records.append(line)
            continue
        kept_records.append(line if index[old] == old else json.dumps([index[old], record]).encode())
    for name, kept, bad in ((WORKLOAD_FILE, kept_workloads, bad_workloads), (RECORD_FILE, kept_records, bad_records)):
        if bad:
            with open(directory / f"{name}.malformed", "ab") as f:
                f.writelines(line + b"\n" for line in bad)
            with atomic_open(directory / name) as f:
                f.writelines(line + b"\n" for line in kept)
            logging.getLogger(__name__).warning("%s: %d malformed lines skipped (kept in %s.malformed), %d kept",
                                                directory / name, len(bad), name, len(kept))
    return len(bad_workloads) + len(bad_records)


def _is_record_shaped(line: bytes) -> bool:
    """Whether a record line is strict JSON ``[int, value]``: TVM's reader segfaults on some other lines
    (``null``, ``{}``, ``[null, []]``, ``-Infinity``, text starting with ``+`` or ``-``) instead of raising."""
    try:
        value = json.loads(line, parse_constant=_refuse_constant)
    except ValueError:
        return False
    return isinstance(value, list) and len(value) == 2 and type(value[0]) is int


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _lines(path: Path) -> list[bytes]:
    """The non-blank lines of a file, split at ``\\n`` only (none if it does not exist)."""
    return [line for line in path.read_bytes().split(b"\n") if line.strip()] if path.exists() else []


def versions() -> dict[str, str]:
    """Versions of the libraries a measurement or a model depends on."""
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("apache-tvm", "apache-tvm-ffi", "torch", "torch-geometric", "xgboost-cpu")}


def machine(target: Target) -> dict[str, object]:
    """Where measurements were taken: CPU name as LLVM sees it, cores, OS, and the target."""
    from tvm.target.codegen import llvm_get_system_cpu

    return {
        "cpu": llvm_get_system_cpu(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "target": str(target),
    }


@dataclass
class TaskProgress:
    """Records measured for one task in this call, and what its database holds now."""

    task: str
    measured: int
    total: int
    failed: int


def collect_task(
    task: Task,
    task_dir: Path,
    target: Target,
    builder: ms.builder.Builder,
    runner: ms.runner.Runner,
    *,
    num_random: int,
    num_search: int,
    seed: int = 1,
    batch_size: int = 32,
    on_records: Callable[[int], None] | None = None,
) -> TaskProgress:
    """Bring one task's database up to ``num_random`` random and ``num_search`` searched records.

    Random samples are committed batch by batch, so an interruption loses at most one batch.
    A design space with fewer distinct schedules than asked for is recorded as exhausted in
    ``task.json`` and neither sampled nor searched again.
    """
    db = task_database(task_dir)
    info = _read_info(task_dir) or _task_info(task, target, seed)
    done_before = len(db)
    context = tune_context(task.mod, target, task.name, seed=seed)
    workload = db.commit_workload(task.mod)

    while not info["random_exhausted"] and info["random"] < num_random:
        want = min(batch_size, num_random - info["random"])
        candidates = sample_candidates(context, want, seed=seed + len(db) + 1)
        info["random_exhausted"] = len(candidates) < want
        results = measure_candidates(context, candidates, builder, runner)
        for candidate, result in zip(candidates, results):
            db.commit_tuning_record(_record(candidate, result, workload, target))
        info["random"] += len(candidates)
        _write_info(task_dir, info)
        if on_records:
            on_records(len(candidates))

    search_trials = num_search - (len(db) - info["random"])
    # a space that ran out of distinct random samples has none left for the search to find either
    # (it mutates the same decisions); searching it anyway costs minutes per element-wise task
    info["search_exhausted"] |= info["random_exhausted"]
    if search_trials > 0 and not info["search_exhausted"]:
        measured = _search(task, target, db, builder, runner, search_trials, seed, on_records)
        info["search_exhausted"] = measured < search_trials
    _write_info(task_dir, info)
    records = db.get_all_tuning_records()
    failed = sum(mean_seconds(r.run_secs) is None for r in records)
    return TaskProgress(task.name, len(records) - done_before, len(records), failed)


def _search(
    task: Task,
    target: Target,
    db: ms.database.JSONDatabase,
    builder: ms.builder.Builder,
    runner: ms.runner.Runner,
    trials: int,
    seed: int,
    on_records: Callable[[int], None] | None,
) -> int:
    """Measure ``trials`` candidates picked by evolutionary search; returns how many it found."""
    from tvm.s_tir import meta_schedule as ms

    model = ms.cost_model.XGBModel(
        config=ms.cost_model.xgb_model.XGBConfig(seed=seed, nthread=os.cpu_count()), num_warmup_samples=0
    )
    measured: set[int] = set()
    context = tune_context(task.mod, target, task.name, seed=seed, search_strategy=SkipMeasured(measured))
    # the search starts from what the random samples taught it, and never re-measures them
    measured |= replay_records(model, context, db.get_all_tuning_records())
    log = TrialLog([task.name], on_records)
    with tempfile.TemporaryDirectory() as work_dir:  # tune_tasks logs there; records go to ``db``
        ms.tune_tasks(
            tasks=[context],
            task_weights=[1.0],
            work_dir=work_dir,
            max_trials_global=trials,
            num_trials_per_iter=min(trials, 32),
            builder=builder,
            runner=runner,
            database=db,
            cost_model=model,
            measure_callbacks=[*ms.MeasureCallback.create("default"), log],
            task_scheduler="round-robin",
        )
    return len(log.trials)


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
    }


def _read_info(task_dir: Path) -> dict | None:
    path = task_dir / TASK_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _write_info(task_dir: Path, info: dict) -> None:
    write_json(task_dir / TASK_FILE, info)


@dataclass
class TaskRecords:
    """The measured candidates of one task: ``seconds[i]`` is NaN where candidate ``i`` failed."""

    name: str
    source: str
    weight: float
    mod: IRModule
    target: Target
    candidates: list[ms.MeasureCandidate]
    seconds: np.ndarray

    def context(self, num_threads: int = 2) -> ms.TuneContext:
        """A tuning context for feature extraction and cost-model calls (no search attached)."""
        from tvm.s_tir import meta_schedule as ms

        return ms.TuneContext(mod=self.mod, target=self.target, task_name=self.name, num_threads=num_threads)

    def samples(self, graphs: Sequence[StageGraph], index: Iterable[int] | None = None) -> list[Sample]:
        """Training samples of the records at ``index`` (all by default); ``graphs[i]`` is record i's stage graph."""
        index = range(len(self.seconds)) if index is None else index
        return [Sample(graphs[i], self.name, None if np.isnan(self.seconds[i]) else float(self.seconds[i]))
                for i in index]


def load_dataset(path: Path, names: Sequence[str] | None = None) -> list[TaskRecords]:
    """Every task of a dataset (directory or ``.tar.xz``), in name order; ``names`` selects some.

    Raises ``FileNotFoundError`` naming the path when it holds no task database.
    """
    root = open_dataset(path)
    dirs = sorted(p.parent for p in root.glob(f"*/{TASK_FILE}"))
    if names is not None:
        dirs = [d for d in dirs if d.name in set(names)]
    if not dirs:
        raise FileNotFoundError(f"{path}: no task directories (with {TASK_FILE}) found")
    return [_load_task(d) for d in dirs]


def _load_task(task_dir: Path) -> TaskRecords:
    info = json.loads((task_dir / TASK_FILE).read_text())
    db = task_database(task_dir)
    records = db.get_all_tuning_records()
    if not records:
        raise ValueError(f"{task_dir}: the task's database holds no tuning record")
    seconds = np.array([mean_seconds(r.run_secs) or np.nan for r in records], dtype=np.float64)
    return TaskRecords(
        name=info["name"],
        source=info["source"],
        weight=float(info["weight"]),
        mod=records[0].workload.mod,
        target=records[0].target,
        candidates=[r.as_measure_candidate() for r in records],
        seconds=seconds,
    )


def open_dataset(path: Path) -> Path:
    """A directory holding the dataset: ``path`` itself, or a ``.tar.xz`` extracted once into the cache.

    The cache lives in ``$TVM_GNN_COST_CACHE`` (default ``~/.cache/tvm-gnn-cost``) under the
    archive's content hash; extraction uses tarfile's ``data`` filter, which refuses links
    and paths outside the target.
    """
    path = Path(path)
    if path.is_dir():
        return path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such dataset directory or archive")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("TVM_GNN_COST_CACHE", Path.home() / ".cache" / "tvm-gnn-cost"))
    target = cache / f"{path.name.split('.')[0]}-{digest}"
    if not target.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp, tarfile.open(path) as archive:
            archive.extractall(tmp, filter="data")
            try:
                os.replace(tmp, target)
            except OSError:  # another process (a DDP rank) extracted it first
                if not target.is_dir():
                    raise
            else:
                os.mkdir(tmp)  # TemporaryDirectory removes what it created
    return target
