"""Prediction-quality metrics of a cost model over measured tasks (defined in docs/results.md).

Every ranking metric is computed within a task, since the search only ever compares
candidates of one task. Failed candidates (NaN seconds) are left out of the ranking and
error metrics, but count in top-k as the task's slowest valid record: a model that ranks a
failing schedule first pays for it, and one such task cannot zero the whole score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau


@dataclass
class TaskPrediction:
    """A model's output on one task's records: scores (higher = faster) and, optionally, seconds."""

    weight: float
    seconds: np.ndarray  # measured, NaN for failures
    scores: np.ndarray
    predicted_seconds: np.ndarray | None = None


def pairwise_accuracy(scores: np.ndarray, seconds: np.ndarray) -> float:
    """Fraction of pairs of valid candidates with different times that the scores order correctly (ties 1/2)."""
    ok = np.isfinite(seconds)
    s, t = scores[ok], seconds[ok]
    faster = t[:, None] < t[None, :]  # i is faster than j
    if not faster.any():
        return float("nan")
    margin = s[:, None] - s[None, :]
    return float(((margin > 0) + 0.5 * (margin == 0))[faster].mean())


def kendall_tau(scores: np.ndarray, seconds: np.ndarray) -> float:
    """Kendall's tau-b between scores and throughput (1/seconds) over valid candidates."""
    ok = np.isfinite(seconds)
    if ok.sum() < 2 or np.ptp(seconds[ok]) == 0:
        return float("nan")
    return float(kendalltau(scores[ok], -seconds[ok]).statistic)


def top_k_score(tasks: Sequence[TaskPrediction], k: int) -> float:
    """TenSet's top-k score: sum_i w_i best_i / sum_i w_i best_in_top_k_i, over tasks with a valid record.

    ``best_i`` is task i's best measured time; ``best_in_top_k_i`` the best among the k
    candidates the model ranks highest (the task's slowest valid time if all k failed). 1.0 is perfect.
    """
    num = den = 0.0
    for task in tasks:
        if not np.isfinite(task.seconds).any():
            continue
        top = np.argsort(-task.scores, kind="stable")[:k]
        picked = task.seconds[top]
        num += task.weight * np.nanmin(task.seconds)
        den += task.weight * (np.nanmin(picked) if np.isfinite(picked).any() else np.nanmax(task.seconds))
    return float(num / den) if den > 0 else float("nan")


def percentage_errors(tasks: Sequence[TaskPrediction]) -> np.ndarray:
    """|predicted - measured| / measured for every valid record with a latency prediction."""
    errors = [
        np.abs(t.predicted_seconds - t.seconds)[np.isfinite(t.seconds)] / t.seconds[np.isfinite(t.seconds)]
        for t in tasks
        if t.predicted_seconds is not None
    ]
    return np.concatenate(errors) if errors else np.zeros(0)


def summarize(tasks: Sequence[TaskPrediction]) -> dict[str, float | None]:
    """All metrics over a set of tasks: ranking ones averaged over tasks, errors over records."""
    acc = [pairwise_accuracy(t.scores, t.seconds) for t in tasks]
    tau = [kendall_tau(t.scores, t.seconds) for t in tasks]
    errors = percentage_errors(tasks)
    return {
        "pairwise_accuracy": _nanmean(acc),
        "kendall_tau": _nanmean(tau),
        "top1": top_k_score(tasks, 1),
        "top5": top_k_score(tasks, 5),
        "mape": float(errors.mean()) if len(errors) else None,
        "median_ape": float(np.median(errors)) if len(errors) else None,
    }


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def mean_sd(values: Sequence[float | None]) -> dict[str, float] | None:
    """Mean and sample standard deviation over seeds of the finite ``values``; None if there is none."""
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return None
    return {"mean": float(np.mean(finite)), "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0}
