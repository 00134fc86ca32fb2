"""A task's MetaSchedule JSON database on disk: its file names, opening it, and repairing damaged lines.

Each task directory holds TVM's own ``database_workload.json`` and
``database_tuning_record.json`` (what ``ms.tune_tir`` writes to its work dir) plus ``task.json``
(name, source, weight, target, CPU, versions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import atomic_open

if TYPE_CHECKING:
    from tvm.s_tir import meta_schedule as ms

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


def record_lines(task_dir: Path) -> list[tuple[list[float] | None, dict]] | None:
    """(run seconds, target as JSON) of each record, in the order ``JSONDatabase`` returns them, read
    without TVM; None if a line is not a well-formed record (open the database to repair it).

    TVM keeps records in a multiset ordered by mean run time (no time counts as 1e10), which puts
    equal times in insertion order: a stable sort by that mean.
    """
    parsed = []
    for line in _lines(task_dir / RECORD_FILE):
        try:
            _, (_, run_secs, target, *_) = json.loads(line, parse_constant=_refuse_constant)
        except (ValueError, TypeError):
            return None
        if not isinstance(target, dict) or not (run_secs is None or isinstance(run_secs, list)):
            return None
        parsed.append((run_secs, target))
    return sorted(parsed, key=lambda row: sum(row[0]) / len(row[0]) if row[0] else 1e10)


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
