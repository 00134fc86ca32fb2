"""The losses the network trains on: ranking within a task (three kinds), log latency, and the pull toward pretrained weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pairwise_rank_loss(score: torch.Tensor, throughput: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
    """RankNet loss over all pairs of one task with different throughput, weighted by the gap.

    Only the order within a task matters to the search, so pairs never cross tasks.
    """
    diff = throughput[:, None] - throughput[None, :]
    mask = (task[:, None] == task[None, :]) & (diff > 0)
    if not mask.any():
        return score.sum() * 0.0
    margin = score[:, None] - score[None, :]
    weights = diff[mask]
    return (F.softplus(-margin[mask]) * weights).sum() / weights.sum()


def lambda_rank_loss(score: torch.Tensor, throughput: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
    """LambdaRank: RankNet pairs weighted by how much swapping them changes the task's NDCG.

    Gains are the normalised throughputs and positions come from the current scores, so a
    pair near the top of the predicted order weighs more than one far below it: the search
    only ever measures the top of its ranking (Burges, "From RankNet to LambdaRank", 2010).
    """
    same = task[:, None] == task[None, :]
    diff = throughput[:, None] - throughput[None, :]
    mask = same & (diff > 0)
    if not mask.any():
        return score.sum() * 0.0
    with torch.no_grad():
        rank = 1 + (same & (score[None, :] > score[:, None])).sum(1)  # 1-based position in the predicted order
        ideal = 1 + (same & (throughput[None, :] > throughput[:, None])).sum(1)
        discount = 1 / torch.log2(1 + rank.to(score.dtype))
        ideal_dcg = torch.zeros(int(task.max()) + 1, dtype=score.dtype).index_add_(
            0, task, throughput.to(score.dtype) / torch.log2(1 + ideal.to(score.dtype)))
        delta = diff.abs() * (discount[:, None] - discount[None, :]).abs() / ideal_dcg[task].clamp_min(1e-12)[:, None]
    margin = score[:, None] - score[None, :]
    weights = delta[mask]
    if not weights.sum() > 0:
        return score.sum() * 0.0
    return (F.softplus(-margin[mask]) * weights).sum() / weights.sum()


def throughput_loss(score: torch.Tensor, throughput: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
    """XGBModel's target: squared error of ``exp(score)`` against normalised throughput, weighted by it.

    The score is a log-throughput, so ``exp`` keeps predictions positive. The target is
    already normalised per task (best time / time), so ``task`` is not needed; failures
    (throughput 0) weigh nothing, as in XGBModel, and the fastest candidates weigh most.
    """
    del task
    target = throughput.to(score.dtype)
    if not target.sum() > 0:
        return score.sum() * 0.0
    predicted = torch.exp(score.clamp(max=5.0))
    return (target * (predicted - target) ** 2).sum() / target.sum()


#: The ranking losses :class:`~tvm_gnn_cost.nn.TrainConfig` can name (``rank_loss=``), all
#: ``(score, throughput, task) -> loss``.
RANK_LOSSES = {"ranknet": pairwise_rank_loss, "lambdarank": lambda_rank_loss, "throughput": throughput_loss}


def latency_loss(pred_log: torch.Tensor, log_latency: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 on log seconds over measured samples (failures, NaN targets, are skipped)."""
    valid = ~torch.isnan(log_latency)
    if not valid.any():
        return pred_log.sum() * 0.0
    return F.smooth_l1_loss(pred_log[valid], log_latency[valid])


def anchor_penalty(model: torch.nn.Module, anchor: dict[str, torch.Tensor]) -> torch.Tensor:
    """Squared distance of the trainable weights from ``anchor`` (L2-SP, Li et al. 2018)."""
    return sum(((p - anchor[name]) ** 2).sum() for name, p in model.named_parameters())
