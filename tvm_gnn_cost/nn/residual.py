"""A residual booster: XGBoost fitted on one run's measurements to correct the network's log-throughput.

TenSet's local-residual transfer: a pretrained model's prediction is the base margin, and a
small gradient-boosted model learns, from the task's own measurements, what it gets wrong.
Inputs are each candidate's per-store rows summed over its stages (XGBModel's pack-sum);
the target is ``-log seconds`` and the margin ``scale * score``, both centred per task, so
only within-task differences are learned. Strong L2 on the leaves (:data:`PARAMS`) keeps a
fit on a handful of measurements close to the network it corrects: with few samples the
leaf values shrink toward zero, so a few shots cannot pull the ranking far.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import xgboost as xgb

from .graph import StageGraph

#: Booster settings: shallow trees, L2 of 8 on leaf values (a leaf of n residuals r moves by
#: sum(r) / (n + 8)), one thread (it runs beside TVM's builder). ROUNDS boosting rounds.
PARAMS = {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.3, "lambda": 8.0, "min_child_weight": 2.0,
          "base_score": 0.0, "subsample": 1.0, "nthread": 1, "verbosity": 0}
ROUNDS = 32
#: Valid measurements below which no booster is fitted (nothing to learn a correction from).
MIN_SAMPLES = 4


def pack_sum(graphs: Sequence[StageGraph]) -> np.ndarray:
    """``[B, node_features]``: each graph's node rows summed (vectorised over the batch)."""
    if not graphs:
        return np.zeros((0, 0), dtype=np.float32)
    counts = np.fromiter((g.num_nodes for g in graphs), dtype=np.int64, count=len(graphs))
    starts = np.cumsum(counts) - counts
    return np.add.reduceat(np.concatenate([g.x for g in graphs]), starts, axis=0)


def _centred(values: np.ndarray, tasks: np.ndarray) -> np.ndarray:
    """``values`` minus their task's mean."""
    _, group = np.unique(tasks, return_inverse=True)
    return values - (np.bincount(group, values) / np.bincount(group))[group]


class ResidualBooster:
    """An XGBoost booster over :func:`pack_sum` rows whose output adds to the network's log-throughput."""

    def __init__(self, booster: xgb.Booster) -> None:
        self.booster = booster

    @classmethod
    def fit(cls, graphs: Sequence[StageGraph], margin: np.ndarray, log_seconds: np.ndarray,
            tasks: np.ndarray, seed: int = 0) -> ResidualBooster | None:
        """Fit on measured graphs (failures, NaN log-seconds, skipped); None with under :data:`MIN_SAMPLES` valid."""
        valid = np.isfinite(log_seconds) & np.isfinite(margin)
        if valid.sum() < MIN_SAMPLES:
            return None
        index = np.flatnonzero(valid)
        data = xgb.DMatrix(pack_sum([graphs[i] for i in index]),
                           label=_centred(-log_seconds[index].astype(np.float64), tasks[index]),
                           base_margin=_centred(margin[index].astype(np.float64), tasks[index]))
        return cls(xgb.train({**PARAMS, "seed": seed}, data, num_boost_round=ROUNDS))

    def to_tensor(self) -> torch.Tensor:
        """The booster as XGBoost's UBJSON bytes in a uint8 tensor: a checkpoint entry ``weights_only`` loads."""
        return torch.frombuffer(bytearray(self.booster.save_raw("ubj")), dtype=torch.uint8)

    @classmethod
    def from_tensor(cls, data: torch.Tensor) -> ResidualBooster:
        """The booster :meth:`to_tensor` wrote."""
        booster = xgb.Booster()
        booster.load_model(bytearray(data.numpy().tobytes()))
        return cls(booster)

    def correction(self, graphs: Sequence[StageGraph]) -> np.ndarray:
        """What the booster adds to each graph's log-throughput, float64."""
        return self.booster.predict(xgb.DMatrix(pack_sum(graphs)), output_margin=True).astype(np.float64)
