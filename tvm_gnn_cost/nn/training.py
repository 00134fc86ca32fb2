"""The training loop and batched prediction, shared by online updates, pretraining and the benchmarks."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .data import collate
from .graph import StageGraph
from .losses import anchor_penalty, latency_loss, pairwise_rank_loss
from .model import StageGNN

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """How the model learns from measurements (stored in checkpoints).

    The online schedule: a model that does not yet know the target kind waits for
    ``min_samples`` valid measurements, then trains ``first_epochs`` passes over the replay
    buffer; after that (and from the first ``update`` for pretrained weights of that kind)
    ``update_epochs`` passes after every ``update`` (incremental: weights and optimizer state carry over), each capped at
    ``max_steps`` mini-batch steps so an update's cost stays bounded as the buffer grows.
    ``anchor_weight`` pulls the weights toward pretrained ones (L2-SP), so fine-tuning on one
    task's measurements does not forget what pretraining taught.
    """

    lr: float = 2e-3
    weight_decay: float = 1e-5
    batch_size: int = 128
    first_epochs: int = 40
    update_epochs: int = 8
    max_steps: int = 300
    min_samples: int = 32
    replay_capacity: int = 8192
    rank_weight: float = 1.0
    latency_weight: float = 0.5
    anchor_weight: float = 1.0


def fit(
    model: StageGNN,
    optimizer: torch.optim.Optimizer,
    graphs: Sequence[StageGraph],
    throughput: np.ndarray,
    log_latency: np.ndarray,
    task: np.ndarray,
    *,
    epochs: int,
    config: TrainConfig,
    generator: np.random.Generator,
    anchor: dict[str, torch.Tensor] | None = None,
) -> float:
    """Run up to ``epochs`` shuffled passes (at most ``config.max_steps`` steps); return the mean loss.

    With an ``anchor`` (pretrained weights by parameter name) and ``config.anchor_weight`` > 0,
    the loss adds ``anchor_weight`` times their :func:`anchor_penalty`.
    """
    anchored = anchor is not None and config.anchor_weight > 0
    n = len(graphs)
    steps_per_epoch = max(1, math.ceil(n / config.batch_size))
    total_steps = min(epochs * steps_per_epoch, config.max_steps)
    model.train()
    losses = []
    order = np.empty(0, dtype=np.int64)
    for _ in range(total_steps):
        if len(order) == 0:
            order = generator.permutation(n)
        idx, order = order[: config.batch_size], order[config.batch_size :]
        batch = collate([graphs[i] for i in idx])
        score, pred_log = model(batch.x, batch.edge_index, batch.edge_attr, batch.batch, len(idx), batch.cpu_features)
        loss = config.rank_weight * pairwise_rank_loss(
            score, torch.from_numpy(throughput[idx]), torch.from_numpy(task[idx])
        ) + config.latency_weight * latency_loss(pred_log, torch.from_numpy(log_latency[idx]))
        if anchored:
            loss = loss + config.anchor_weight * anchor_penalty(model, anchor)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    mean = float(np.mean(losses)) if losses else math.nan
    logger.debug("trained %d steps on %d samples, mean loss %.4f", total_steps, n, mean)
    return mean


@torch.no_grad()
def predict_graphs(model: StageGNN, graphs: Sequence[StageGraph], chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Scores and log-latencies of graphs, batched in chunks; float64 arrays."""
    model.eval()
    scores, logs = [], []
    for start in range(0, len(graphs), chunk):
        part = graphs[start : start + chunk]
        batch = collate(part)
        s, l = model(batch.x, batch.edge_index, batch.edge_attr, batch.batch, len(part), batch.cpu_features)
        scores.append(s.numpy())
        logs.append(l.numpy())
    if not scores:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(scores).astype(np.float64), np.concatenate(logs).astype(np.float64)
