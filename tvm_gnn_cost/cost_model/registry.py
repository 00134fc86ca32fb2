"""The one registry of cost models by name, used by the CLI, tuning, the benchmarks and the tests.

Every entry is a factory ``(seed, cores, **options) -> CostModel``: ``gnn`` starts from the
shipped pretrained weights, ``gnn-scratch`` from random ones, ``gnn-nomp`` (from scratch) has
no message passing; ``xgb`` is TVM's ``XGBModel`` and ``random`` its ``RandomModel``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tvm.s_tir import meta_schedule as ms

from ..nn import GNNConfig, TrainConfig
from .gnn import GNNCostModel


def gnn(seed: int, _cores: int, *, pretrained: bool | str | os.PathLike = True,
        train_config: TrainConfig | None = None, **config: Any) -> GNNCostModel:
    """A :class:`GNNCostModel`; ``config`` fields (e.g. ``num_layers``) override the default architecture."""
    return GNNCostModel(pretrained=pretrained, config=GNNConfig(**config) if config else None,
                        train_config=train_config, seed=seed)


def xgb(seed: int, cores: int, *, warmup: int | None = None) -> ms.cost_model.XGBModel:
    """TVM's ``XGBModel`` on ``cores`` threads; ``warmup`` records scored at random first (TVM's 100 by default)."""
    options = {} if warmup is None else {"num_warmup_samples": warmup}
    return ms.cost_model.XGBModel(config=ms.cost_model.xgb_model.XGBConfig(seed=seed, nthread=cores),
                                  num_tuning_cores=cores, **options)


COST_MODELS: dict[str, Callable[..., ms.cost_model.CostModel]] = {
    "gnn": gnn,
    "gnn-scratch": lambda seed, cores, **options: gnn(seed, cores, pretrained=False, **options),
    "gnn-nomp": lambda seed, cores, **options: gnn(seed, cores, pretrained=False, num_layers=0, **options),
    "xgb": xgb,
    "random": lambda seed, _cores: ms.cost_model.RandomModel(seed=seed),
}


def make_cost_model(name: str, *, seed: int, num_cores: int | None = None, **options: Any) -> ms.cost_model.CostModel:
    """A fresh cost model by name (a key of :data:`COST_MODELS`) on ``num_cores`` (default: this machine's)."""
    if name not in COST_MODELS:
        raise ValueError(f"unknown cost model {name!r}; choose from {', '.join(COST_MODELS)}")
    return COST_MODELS[name](seed, num_cores or os.cpu_count() or 1, **options)
