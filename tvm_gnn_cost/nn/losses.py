"""The losses the network trains on: ranking within a task, log latency, and the pull toward pretrained weights."""

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


def latency_loss(pred_log: torch.Tensor, log_latency: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 on log seconds over measured samples (failures, NaN targets, are skipped)."""
    valid = ~torch.isnan(log_latency)
    if not valid.any():
        return pred_log.sum() * 0.0
    return F.smooth_l1_loss(pred_log[valid], log_latency[valid])


def anchor_penalty(model: torch.nn.Module, anchor: dict[str, torch.Tensor]) -> torch.Tensor:
    """Squared distance of the trainable weights from ``anchor`` (L2-SP, Li et al. 2018)."""
    return sum(((p - anchor[name]) ** 2).sum() for name, p in model.named_parameters())
