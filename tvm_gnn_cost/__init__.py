"""tvm_gnn_cost: a graph-neural-network cost model for TVM MetaSchedule.

Public API (imported lazily, so builder workers that only need :func:`build_module` stay fast)::

    from tvm_gnn_cost import GNNCostModel, host_target, make_builder, make_runner
    from tvm_gnn_cost import tune_onnx, tune_torch  # whole models
    from tvm_gnn_cost import random_model, check_model, pretrain  # pretraining data and training
    from tvm_gnn_cost import GNNLearner  # the learner alone: no TVM

Subpackages, in the direction their imports run (``docs/design.md`` maps them): ``cli`` ->
``whole_model``, ``pretraining``, ``evaluation`` -> ``datasets`` -> ``search`` ->
``cost_model`` -> ``features`` -> ``nn``.
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
    "make_cost_model": "cost_model",
    "COST_MODELS": "cost_model",
    "TimedCostModel": "cost_model",
    "GNNLearner": "nn",
    "GNNConfig": "nn",
    "StageGNN": "nn",
    "TrainConfig": "nn",
    "StageGraph": "nn",
    "CheckpointError": "nn.checkpoint",
    "extract_stage_graphs": "features",
    "stage_graphs": "features",
    "host_target": "search.measure",
    "build_module": "search.measure",
    "make_builder": "search.measure",
    "make_runner": "search.measure",
    "rpc_config": "search.measure",
    "sample_candidates": "search.measure",
    "measure_candidates": "search.measure",
    "SkipMeasured": "search.tuning",
    "GuidedSearch": "search.guided",
    "tune_workloads": "search.tuning",
    "Task": "datasets.workloads",
    "suite_tasks": "datasets.workloads",
    "collect_task": "datasets.collection",
    "collect_tasks": "datasets.collection",
    "load_dataset": "datasets.loading",
    "load_onnx": "datasets.frontends",
    "from_torch": "datasets.frontends",
    "ModelImportError": "datasets.frontends",
    "random_model": "datasets.generator",
    "check_model": "datasets.generator",
    "generated_tasks": "datasets.generator",
    "tune_onnx": "whole_model",
    "tune_torch": "whole_model",
    "tune_model": "whole_model",
    "ModelTuneResult": "whole_model",
    "evaluate": "evaluation",
    "pretrain": "pretraining",
    "PretrainConfig": "pretraining",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
