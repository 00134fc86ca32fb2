"""tvm_gnn_cost: a graph-neural-network cost model for TVM MetaSchedule.

Public API (imported lazily, so builder workers that only need :func:`build_module` stay fast)::

    from tvm_gnn_cost import GNNCostModel, host_target, make_builder, make_runner
    from tvm_gnn_cost import tune_onnx, tune_torch  # whole models
    from tvm_gnn_cost import random_model, check_model, pretrain  # pretraining data and training
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

__version__ = "0.1.0"


def _cache_sourceless_frames() -> None:
    """Record that frames of frozen modules (importlib, `python -m`) and of `eval` code belong to no module.

    TVMScript's `T.prim_func` calls `inspect.stack()`, and `inspect.getmodule` rescans all of
    `sys.modules` for each frame whose file maps to no module. TVM's tensor intrinsics, which every
    `TuneContext` imports, define ~250 prim_funcs inside nested imports and `eval`: that import took
    1-2 minutes per process (longer with torch loaded). An entry that names no module gives the
    same answer (None) without the scan, and the import takes ~10 s.
    """
    frozen = ("importlib._bootstrap", "importlib._bootstrap_external", "runpy", "zipimport")
    for filename in (*(f"<frozen {name}>" for name in frozen), "<string>", "<ast>"):
        inspect.modulesbyfile.setdefault(filename, "")


_cache_sourceless_frames()

_EXPORTS = {
    "GNNCostModel": "cost_model",
    "GNNConfig": "model",
    "StageGNN": "model",
    "TrainConfig": "training",
    "CheckpointError": "checkpoint",
    "StageGraph": "graph",
    "extract_stage_graphs": "graph",
    "host_target": "measure",
    "build_module": "measure",
    "make_builder": "measure",
    "make_runner": "measure",
    "sample_candidates": "measure",
    "measure_candidates": "measure",
    "Task": "workloads",
    "suite_tasks": "workloads",
    "collect_task": "dataset",
    "load_dataset": "dataset",
    "TimedCostModel": "tuning",
    "SkipMeasured": "tuning",
    "rpc_config": "measure",
    "load_onnx": "frontends",
    "from_torch": "frontends",
    "ModelImportError": "frontends",
    "tune_onnx": "model_tuning",
    "tune_torch": "model_tuning",
    "tune_model": "model_tuning",
    "ModelTuneResult": "model_tuning",
    "random_model": "datasets.generator",
    "check_model": "datasets.generator",
    "generated_tasks": "datasets.generator",
    "pretrain": "pretraining",
    "PretrainConfig": "pretraining",
    "stage_graphs": "pretraining",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
