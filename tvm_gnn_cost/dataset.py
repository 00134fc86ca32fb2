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
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data import FAILED_SECONDS, Sample, mean_seconds
from .files import atomic_open, write_json
from .measure import measure_candidates, sample_candidates, tune_context
from .tuning import SkipMeasured, TrialLog, evolutionary_search, replay_records

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
    """Where measurements were taken: the target's CPU (LLVM's name), this host's cores, OS and caches.

    ``caches`` (bytes of L1d, L2 and L3 per core's view, from sysfs) describe this host, so they
    are recorded only when the target names this host's CPU; ``None`` otherwise (e.g. RPC devices).
    """
    from tvm.target.codegen import llvm_get_system_cpu

    host = llvm_get_system_cpu()
    mcpu = str(target.attrs["mcpu"]) if "mcpu" in target.attrs else host
    return {
        "cpu": mcpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "target": str(target),
        "caches": host_caches() if mcpu == host else None,
    }


def host_caches(root: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> dict[str, int] | None:
    """This host's data caches as sysfs lists them for CPU 0: ``{"L1d": bytes, "L2": ..., "L3": ...}``."""
    caches = {}
    for index in sorted(root.glob("index*")):
        try:
            level, kind, size = ((index / f).read_text().strip() for f in ("level", "type", "size"))
        except OSError:
            continue
        if kind in ("Data", "Unified"):
            units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
            caches[f"L{level}d" if level == "1" else f"L{level}"] = int(size.rstrip("KMG")) * units.get(size[-1], 1)
    return caches or None


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
    population: int = SEARCH_POPULATION,
    batch_size: int = 32,
    on_records: Callable[[int], None] | None = None,
) -> TaskProgress:
    """Bring one task's database up to ``num_random`` random and ``num_search`` searched records.

    One tuning context serves both phases. Random samples are committed batch by batch, so
    an interruption loses at most one batch; the searched ones come from MetaSchedule's
    evolutionary search (``population`` schedules per generation) guided by an ``XGBModel``
    fitted to every record so far. A design space with fewer distinct schedules than asked
    for is recorded as exhausted in ``task.json`` and neither sampled nor searched again.
    ``task.json`` also keeps the workload's structural hash and the seconds each phase took.
    """
    import tvm_ffi

    db = task_database(task_dir)
    info = _read_info(task_dir) or _task_info(task, target, seed)
    info.setdefault("hash", f"{tvm_ffi.structural_hash(task.mod):016x}")
    seconds = info.setdefault("seconds", {"random": 0.0, "search": 0.0})
    done_before = len(db)
    measured = {tvm_ffi.structural_hash(r.as_measure_candidate().sch.mod) for r in db.get_all_tuning_records()}
    strategy = SkipMeasured(measured, inner=evolutionary_search(population, min(max(num_search, 1), 32)))
    context = tune_context(task.mod, target, task.name, seed=seed, search_strategy=strategy)
    workload = db.commit_workload(task.mod)

    while not info["random_exhausted"] and info["random"] < num_random:
        start = time.perf_counter()
        want = min(batch_size, num_random - info["random"])
        candidates = sample_candidates(context, want, seed=seed + len(db) + 1)
        info["random_exhausted"] = len(candidates) < want
        results = measure_candidates(context, candidates, builder, runner)
        for candidate, result in zip(candidates, results):
            db.commit_tuning_record(_record(candidate, result, workload, target))
            measured.add(tvm_ffi.structural_hash(candidate.sch.mod))
        info["random"] += len(candidates)
        seconds["random"] = round(seconds["random"] + time.perf_counter() - start, 2)
        _write_info(task_dir, info)
        if on_records:
            on_records(len(candidates))

    search_trials = num_search - (len(db) - info["random"])
    # a space that ran out of distinct random samples has none left for the search to find either
    # (it mutates the same decisions); searching it anyway costs minutes per element-wise task
    info["search_exhausted"] |= info["random_exhausted"]
    if search_trials > 0 and not info["search_exhausted"]:
        start = time.perf_counter()
        found = _search(context, db, builder, runner, search_trials, seed, on_records)
        info["search_exhausted"] = found < search_trials
        info["population"] = population
        seconds["search"] = round(seconds["search"] + time.perf_counter() - start, 2)
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
    from tvm.s_tir import meta_schedule as ms

    model = ms.cost_model.XGBModel(
        config=ms.cost_model.xgb_model.XGBConfig(seed=seed, nthread=os.cpu_count()), num_warmup_samples=0
    )
    replay_records(model, context, db.get_all_tuning_records())  # the search starts from what the records taught
    log = TrialLog([str(context.task_name)], on_records)
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



def collect_tasks(
    tasks: Sequence[Task],
    out: Path,
    target: Target,
    builder: ms.builder.Builder,
    runner: ms.runner.Runner,
    *,
    num_random: int,
    num_search: int,
    seed: int = 1,
    population: int = SEARCH_POPULATION,
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

    start = time.perf_counter()
    done: list[TaskProgress] = []
    failed_tasks: dict[str, str] = {}

    def write(finished: bool) -> dict:
        seconds = time.perf_counter() - start
        measured = sum(p.measured for p in done)
        content = {
            **(manifest or {}),
            "recipe": {"random": num_random, "search": num_search, "population": population, "seed": seed},
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
            progress = collect_task(task, out / task.name, target, builder, runner, num_random=num_random,
                                    num_search=num_search, seed=seed, population=population, on_records=on_records)
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
    """Every task of a dataset, in name order; ``names`` selects some.

    ``path`` is a dataset directory, a ``.tar.xz`` of one, or a directory of such archives (a
    chunk store such as ``data/generated``: all its chunks). Raises ``FileNotFoundError``
    naming the path when it holds no task database, ``ValueError`` when two chunks hold a task
    of the same name.
    """
    dirs = sorted((p.parent for root in dataset_roots(path) for p in root.glob(f"*/{TASK_FILE}")),
                  key=lambda d: d.name)
    if names is not None:
        dirs = [d for d in dirs if d.name in set(names)]
    if not dirs:
        raise FileNotFoundError(f"{path}: no task directories (with {TASK_FILE}) found")
    repeated = sorted(name for name, n in Counter(d.name for d in dirs).items() if n > 1)
    if repeated:
        raise ValueError(f"{path}: tasks {repeated[:3]} appear in more than one archive")
    return [_load_task(d) for d in dirs]


def dataset_roots(path: Path) -> list[Path]:
    """The directories holding a dataset's task directories: one, or one per archive of a chunk store."""
    path = Path(path)
    if path.is_dir() and not any(path.glob(f"*/{TASK_FILE}")):
        archives = sorted(path.glob("*.tar.xz"))
        if archives:
            return [open_dataset(a) for a in archives]
    return [open_dataset(path)]


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


def cache_dir() -> Path:
    """Where unpacked archives and other derived files are kept: ``$TVM_GNN_COST_CACHE``, else ``~/.cache/tvm-gnn-cost``."""
    return Path(os.environ.get("TVM_GNN_COST_CACHE", Path.home() / ".cache" / "tvm-gnn-cost"))


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
    cache = cache_dir()
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
