"""Any cost model with the seconds it spends added up, and the faults it survived."""

from __future__ import annotations

import time

import numpy as np
from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.cost_model import PyCostModel


@derived_object
class TimedCostModel(PyCostModel):
    """Any cost model, with the seconds spent in its ``predict``, ``update`` and ``spread`` added up."""

    def __init__(self, inner: ms.cost_model.CostModel) -> None:
        super().__init__()
        self.inner = inner
        self.seconds = {"predict": 0.0, "update": 0.0, "spread": 0.0}

    def load(self, path: str) -> None:
        self.inner.load(path)

    def save(self, path: str) -> None:
        self.inner.save(path)

    def update(self, context: ms.TuneContext, candidates: list, results: list) -> None:
        start = time.perf_counter()
        self.inner.update(context, candidates, results)
        self.seconds["update"] += time.perf_counter() - start

    def predict(self, context: ms.TuneContext, candidates: list) -> np.ndarray:
        start = time.perf_counter()
        scores = self.inner.predict(context, candidates)
        self.seconds["predict"] += time.perf_counter() - start
        return scores

    def spread(self, context: ms.TuneContext, candidates: list) -> np.ndarray:
        """The inner model's uncertainty per candidate (``GNNCostModel.spread``); zeros for a model without one."""
        if not hasattr(self.inner, "spread"):
            return np.zeros(len(candidates))
        start = time.perf_counter()
        spread = self.inner.spread(context, candidates)
        self.seconds["spread"] += time.perf_counter() - start
        return spread

    def stats(self) -> dict[str, float]:
        """Seconds in ``predict``, ``update`` and ``spread``, the inner model's graph-cache counters and faults."""
        stats: dict[str, float] = {f"cost_model_{k}_seconds": round(v, 3) for k, v in self.seconds.items()}
        cache = getattr(self.inner, "graph_cache", None)
        if cache is not None:
            stats |= {"graph_cache_hits": cache.hits, "graph_cache_misses": cache.misses}
        return stats | fault_stats(self.inner)


def fault_stats(model: ms.cost_model.CostModel) -> dict[str, int]:
    """``cost_model_<method>_faults``: exceptions a cost model caught and survived (GNNCostModel's)."""
    return {f"cost_model_{method}_faults": n for method, n in getattr(model, "faults", {}).items()}
