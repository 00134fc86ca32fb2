"""Stage graphs of measured records kept on disk, so each offline run extracts a dataset's graphs once.

Extraction costs about 25 ms a record (6 minutes for 12,000 records on 2 cores), and pretraining,
the learning curve and the transfer benchmark all read the same corpus. A task's graphs are
stored as one ``.npz`` (plain arrays, loaded without pickle) in ``cache_dir()/graphs``, under a
key made of the task's records digest, its target and caches, the TVM version and the source
of the code that builds graphs, so a change to any of them extracts again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ..files import atomic_open, cache_dir
from ..nn import graph as graph_layout
from ..nn.graph import StageGraph
from . import cpu, extraction


def graph_file(digest: str, target: str, caches: Mapping[str, int] | None) -> Path:
    """Where the graphs of a task with records ``digest``, measured for ``target`` with ``caches``, are kept."""
    key = json.dumps([digest, target, sorted((caches or {}).items()), _code_digest()])
    return cache_dir() / "graphs" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"


def save_graphs(path: Path, graphs: Sequence[StageGraph]) -> None:
    """Write graphs as concatenated arrays plus per-graph node and edge counts (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    unknown = np.full(len(graph_layout.CPU_FEATURES), np.nan, dtype=np.float32)
    with atomic_open(path) as f:
        np.savez(f, x=np.concatenate([g.x for g in graphs]), edge_attr=np.concatenate([g.edge_attr for g in graphs]),
                 edge_index=np.concatenate([g.edge_index for g in graphs], axis=1),
                 nodes=np.array([g.num_nodes for g in graphs]), edges=np.array([g.num_edges for g in graphs]),
                 cpu=np.stack([unknown if g.cpu is None else g.cpu for g in graphs]),
                 names=np.array([n for g in graphs for n in g.block_names], dtype=str))


def load_graphs(path: Path) -> list[StageGraph]:
    """The graphs :func:`save_graphs` wrote."""
    with np.load(path, allow_pickle=False) as data:
        nodes, edges = np.cumsum(data["nodes"])[:-1], np.cumsum(data["edges"])[:-1]
        parts = zip(np.split(data["x"], nodes), np.split(data["edge_index"], edges, axis=1),
                    np.split(data["edge_attr"], edges), np.split(data["names"], nodes), data["cpu"])
        return [StageGraph(x, index, attr, tuple(str(n) for n in names), None if np.isnan(c).all() else c)
                for x, index, attr, names, c in parts]


@cache
def _code_digest() -> str:
    """A digest of TVM's version and the source that turns TIR into graphs."""
    sources = b"".join(Path(m.__file__).read_bytes() for m in (extraction, cpu, graph_layout))
    return hashlib.sha256(sources + version("apache-tvm").encode()).hexdigest()[:16]
