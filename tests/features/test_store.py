"""Stage graphs of measured records kept on disk: loaded back equal, keyed so that stale graphs are never used."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from tvm_gnn_cost.datasets.loading import load_dataset
from tvm_gnn_cost.features import stage_graphs
from tvm_gnn_cost.features.store import graph_file, load_graphs, save_graphs

DATASET = Path(__file__).resolve().parents[2] / "data" / "ops-resnet50-squeezenet.tar.xz"


def _same(a, b) -> bool:
    return (all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("x", "edge_index", "edge_attr"))
            and a.block_names == b.block_names and np.array_equal(a.cpu, b.cpu))


def test_graphs_are_extracted_once_per_task_and_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("TVM_GNN_COST_CACHE", str(tmp_path))
    tasks = load_dataset(DATASET, ["GMM-1", "C2D-1"])
    first = stage_graphs(tasks)
    assert len(list((tmp_path / "graphs").glob("*.npz"))) == 2
    again = stage_graphs(tasks)  # from disk
    assert all(_same(a, b) for t in tasks for a, b in zip(first[t.name], again[t.name]))
    task = tasks[0]
    keys = {graph_file(task.digest, str(task.target), task.caches),
            graph_file("other records", str(task.target), task.caches),
            graph_file(task.digest, str(task.target), {"L1d": 1 << 15, "L2": 1 << 20, "L3": 1 << 25})}
    assert len(keys) == 3  # other records or another machine's caches: other graphs

    no_cpu = [replace(g, cpu=None) for g in first[task.name]]
    save_graphs(tmp_path / "g.npz", no_cpu)
    assert all(g.cpu is None for g in load_graphs(tmp_path / "g.npz"))
