"""Atomic file writes: a kill, a full disk or an exception never leaves half a file behind.

Every file tvm_gnn_cost writes whole (checkpoints, results, task and run manifests, a cleaned
database) goes through :func:`atomic_open`: a temporary file beside the target, flushed to
disk, then renamed over it. Readers see the previous complete file or the new one.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` when the block ends, or vanishes if it raises.

    A process killed inside the block leaves ``path`` untouched and a ``.<name>.*.tmp`` file
    beside it.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, data: object) -> None:
    """Replace ``path`` with ``data`` as indented JSON atomically (streamed, not built in memory first).

    Creates the parent directories.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as f:
        text = io.TextIOWrapper(f, encoding="utf-8")
        json.dump(data, text, indent=2)
        text.flush()
        text.detach()  # leave ``f`` open for atomic_open to sync and close


def cache_dir() -> Path:
    """Where unpacked archives and other derived files are kept: ``$TVM_GNN_COST_CACHE``, else ``~/.cache/tvm-gnn-cost``."""
    return Path(os.environ.get("TVM_GNN_COST_CACHE", Path.home() / ".cache" / "tvm-gnn-cost"))
