"""Loading datasets back: a dataset directory, a ``.tar.xz`` of one, or a store of such chunks.

An archive is extracted once into the cache directory; :func:`load_dataset` returns each
task's candidates and measured times, ready for feature extraction and training. Times and
target are read from the record lines directly; TVM's database, whose parse of every trace is
most of a corpus's load time, is opened only when a task's records are used.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..files import cache_dir
from ..nn import Sample, StageGraph, mean_seconds
from .database import RECORD_FILE, TASK_FILE, WORKLOAD_FILE, record_lines, task_database

if TYPE_CHECKING:
    from tvm.ir import IRModule
    from tvm.s_tir import meta_schedule as ms
    from tvm.target import Target


@dataclass
class TaskRecords:
    """The measured records of one task (the database in ``directory``): ``seconds[i]`` is NaN where record ``i`` failed.

    Records are in the order TVM's ``JSONDatabase`` returns them (fastest first), the order every
    cache of derived data (stage graphs) keeps. ``caches`` are the data caches of the machine that
    measured them, where ``task.json`` recorded them.
    """

    name: str
    source: str
    weight: float
    target: Target
    seconds: np.ndarray
    directory: Path
    caches: dict[str, int] | None = None
    digest: str | None = None  # of the task's database files: what a cache of derived data is keyed by

    @cached_property
    def records(self) -> list[ms.database.TuningRecord]:
        """The tuning records, as TVM's database reads them (on first use)."""
        records = task_database(self.directory).get_all_tuning_records()
        if len(records) != len(self.seconds):
            raise ValueError(f"{self.directory}: TVM's database holds {len(records)} records, "
                             f"its lines {len(self.seconds)}")
        return records

    @cached_property
    def mod(self) -> IRModule:
        """The task's workload (on first use)."""
        return self.records[0].workload.mod

    @cached_property
    def candidates(self) -> list[ms.MeasureCandidate]:
        """The records as measure candidates, built on first use: replaying every trace is most of
        a corpus's load time, and a run whose stage graphs are cached never needs them."""
        return [r.as_measure_candidate() for r in self.records]

    @property
    def cpu(self) -> str:
        """The CPU the records were measured for (the target's ``mcpu``)."""
        return str(self.target.attrs["mcpu"]) if "mcpu" in self.target.attrs else "unknown"

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
        chosen = set(names)
        dirs = [d for d in dirs if d.name in chosen]
    if not dirs:
        raise FileNotFoundError(f"{path}: no task directories (with {TASK_FILE}) found")
    repeated = sorted(name for name, n in Counter(d.name for d in dirs).items() if n > 1)
    if repeated:
        raise ValueError(f"{path}: tasks {repeated[:3]} appear in more than one archive")
    return [_load_task(d) for d in dirs]


def matching(names: Iterable[str], patterns: str) -> list[str]:
    """The ``names`` matching one of comma-separated shell ``patterns``, in order; all of them if none is given."""
    chosen = [p for p in patterns.split(",") if p]
    return [n for n in names if not chosen or any(fnmatch.fnmatch(n, p) for p in chosen)]


def task_names(path: Path) -> list[str]:
    """The names of a dataset's tasks, sorted, read without loading any record."""
    return sorted(d.parent.name for root in dataset_roots(path) for d in root.glob(f"*/{TASK_FILE}"))


def load_spread(path: Path, at_most: int | None) -> list[TaskRecords]:
    """A dataset's tasks; with ``at_most``, that many spread evenly over its sorted names (quick runs), the rest unread."""
    if at_most is None:
        return load_dataset(path)
    names = task_names(path)
    return load_dataset(path, names[:: max(1, len(names) // at_most)][:at_most])


def load_zero_shot(pretraining: Sequence[Path], unseen: Path, *, min_records: int, quick: bool = False
                   ) -> tuple[list[TaskRecords], list[TaskRecords]]:
    """(pretraining tasks, unseen tasks with ``min_records`` valid records): what a zero-shot benchmark scores.

    ``quick`` takes 24 tasks spread over each pretraining dataset and the first 4 unseen tasks.
    """
    corpus = [t for path in pretraining for t in load_spread(path, 24 if quick else None)]
    scored = [t for t in load_dataset(unseen) if np.isfinite(t.seconds).sum() >= min_records]
    return corpus, scored[:4] if quick else scored


def load_datasets(paths: Sequence[Path], patterns: str = "") -> list[TaskRecords]:
    """The tasks of several datasets whose names match ``patterns`` (see :func:`matching`).

    Reads only the matching tasks; ``LookupError`` names a dataset none of whose tasks matches.
    """
    found = []
    for path in paths:
        names = matching(task_names(path), patterns)
        if not names:
            raise LookupError(f"no task of {path} matches {patterns!r}")
        found += load_dataset(path, names)
    return found


def dataset_roots(path: Path) -> list[Path]:
    """The directories holding a dataset's task directories: one, or one per archive of a chunk store."""
    path = Path(path)
    if path.is_dir() and not any(path.glob(f"*/{TASK_FILE}")):
        archives = sorted(path.glob("*.tar.xz"))
        if archives:
            return [open_dataset(a) for a in archives]
    return [open_dataset(path)]


def _load_task(task_dir: Path) -> TaskRecords:
    from tvm.target import Target

    info = json.loads((task_dir / TASK_FILE).read_text())
    digest = hashlib.sha256(b"".join((task_dir / f).read_bytes() for f in (WORKLOAD_FILE, RECORD_FILE))).hexdigest()
    lines, records = record_lines(task_dir), None
    if lines is None:  # a line TVM's reader must see (and repair) first
        records = task_database(task_dir).get_all_tuning_records()
        lines = [(r.run_secs, r.target) for r in records]
    if not lines:
        raise ValueError(f"{task_dir}: the task's database holds no tuning record")
    task = TaskRecords(
        name=info["name"],
        source=info["source"],
        weight=float(info["weight"]),
        target=Target(lines[0][1]) if records is None else records[0].target,
        seconds=np.array([mean_seconds(run_secs) or np.nan for run_secs, _ in lines], dtype=np.float64),
        directory=task_dir,
        caches=(info.get("machine") or {}).get("caches"),
        digest=digest,
    )
    if records is not None:
        task.records = records  # read already: the cached property keeps them
    return task


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
