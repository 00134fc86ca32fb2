"""What the search receives: non-negative, throughput-like scores from the network's raw ranking scores.

MetaSchedule's ``EvolutionarySearch`` clamps scores at zero and draws parents in proportion to
them, so their sign and scale matter, not only their order. XGBModel hands it normalised
throughput (best time / time, about 0..1); the GNN's raw scores are log-odds of an order
(RankNet) of arbitrary offset and scale. A scale fitted on measurements turns them into a
log-throughput, and ``exp`` of its distance to the batch's best into predicted throughput over
the best candidate's, in (0, 1].
"""

from __future__ import annotations

import numpy as np

#: The smallest scale :func:`fit_score_scale` returns: a model whose scores do not follow the
#: measurements gives nearly equal search scores (every candidate can be a parent), not reversed ones.
MIN_SCALE = 1e-2


def fit_score_scale(scores: np.ndarray, log_seconds: np.ndarray, tasks: np.ndarray) -> float:
    """The slope ``a`` of least squares ``a * score ~ -log seconds`` within each task (failures, NaN, skipped).

    Centering per task removes each task's offset, so ``a * (s_i - s_j)`` estimates
    ``log(t_j / t_i)``, the log of a throughput ratio. At least :data:`MIN_SCALE`; 1 when no
    task has two valid samples of different score.
    """
    valid = np.isfinite(log_seconds) & np.isfinite(scores)
    if not valid.any():
        return 1.0
    _, group = np.unique(tasks[valid], return_inverse=True)
    counts = np.bincount(group)

    def centred(values: np.ndarray) -> np.ndarray:
        return values - (np.bincount(group, values) / counts)[group]

    s, y = centred(scores[valid].astype(np.float64)), centred(-log_seconds[valid].astype(np.float64))
    variance = float(s @ s)
    if variance <= 1e-12:
        return 1.0
    return max(float(s @ y) / variance, MIN_SCALE)


def search_scores(scores: np.ndarray, scale: float) -> np.ndarray:
    """``exp(scale * (score - max score))``: predicted throughput over the batch's best, in (0, 1], float64.

    Order-preserving for ``scale`` > 0 (up to ties where the exponent underflows, over 700
    log units below the best).
    """
    if scale <= 0:
        raise ValueError(f"score scale must be positive, got {scale}")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    return np.exp(scale * (scores - scores.max()))
