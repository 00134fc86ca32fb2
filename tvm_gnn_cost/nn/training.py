"""The training loop and batched prediction, shared by online updates, pretraining and the benchmarks."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Batch

from .data import collate
from .graph import StageGraph
from .losses import RANK_LOSSES, anchor_penalty, latency_loss
from .model import StageGNN

logger = logging.getLogger(__name__)


#: What ``TrainConfig.finetune`` can name: every weight, the readout head alone, or none (a
#: :class:`~tvm_gnn_cost.nn.residual.ResidualBooster` fitted on the run's measurements instead).
FINETUNE = ("all", "head", "residual")


@dataclass(frozen=True)
class TrainConfig:
    """How the model learns from measurements (stored in checkpoints).

    The online schedule: a model that does not yet know the target kind waits for
    ``min_samples`` valid measurements, then trains ``first_epochs`` passes over the replay
    buffer; after that (and from the first ``update`` for pretrained weights of that kind)
    ``update_epochs`` passes after every ``update`` (incremental: weights and optimizer state carry over), each capped at
    ``max_steps`` mini-batch steps so an update's cost stays bounded as the buffer grows.
    ``anchor_weight`` pulls the weights toward pretrained ones (L2-SP), so fine-tuning on one
    task's measurements does not forget what pretraining taught; ``finetune="head"`` updates
    only the readout head once the model knows the target kind, and ``finetune="residual"``
    freezes the network and fits a residual booster to the buffer instead (:mod:`.residual`);
    ``residual_from`` > 0 fits that booster on top of any ``finetune`` once the buffer holds that
    many valid measurements (a task's own data corrects the network where it has enough of it);
    0 (never) by default: the booster ranks better offline at 128 shots (``benchmarks/transfer.py``,
    ``gnn-hybrid``) but searched worse on unseen models (``search.py --unseen``: final best / XGBModel's
    1.04 with it from 64, 0.95 without; final bests re-measured together, geometric mean over 2 tasks x 3 seeds).

    The recipe: ``rank_loss`` names one of :data:`~tvm_gnn_cost.nn.losses.RANK_LOSSES`;
    ``group_tasks`` > 0 forms each batch from that many tasks, ``batch_size // group_tasks``
    records each (more same-task pairs per step than shuffled batches of many tasks; 8 won on
    validation by 0.02 pairwise over shuffled batches, ``benchmarks/results/recipe.json``).
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
    rank_loss: str = "ranknet"
    group_tasks: int = 8
    finetune: str = "all"
    residual_from: int = 0

    def __post_init__(self) -> None:
        if self.rank_loss not in RANK_LOSSES:
            raise ValueError(f"rank_loss={self.rank_loss!r}; choose one of {sorted(RANK_LOSSES)}")
        if self.finetune not in FINETUNE:
            raise ValueError(f"finetune={self.finetune!r}; choose one of {FINETUNE}")
        if self.residual_from < 0:
            raise ValueError(f"residual_from={self.residual_from} must be 0 (never) or a number of measurements")
        if not 0 <= self.group_tasks <= self.batch_size:
            raise ValueError(f"group_tasks={self.group_tasks} must be between 0 (shuffled) and batch_size "
                             f"({self.batch_size})")


@dataclass(frozen=True)
class FitStats:
    """What one :func:`fit` call did: mean loss, steps, and same-task pairs of different throughput per step."""

    loss: float
    steps: int
    pairs_per_step: float


def epoch_batches(task: np.ndarray, config: TrainConfig, generator: np.random.Generator) -> list[np.ndarray]:
    """One pass over the samples as index batches: shuffled, or ``config.group_tasks`` tasks per batch.

    Grouped batches cut each task's shuffled records into runs of ``batch_size // group_tasks``
    and deal the runs out in random order (two runs of one task may meet), so every record is
    still seen once per epoch.
    """
    order = generator.permutation(len(task))
    if not config.group_tasks:
        return [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
    per_task = max(1, config.batch_size // config.group_tasks)
    order = order[np.argsort(task[order], kind="stable")]  # grouped by task, shuffled within each
    runs = [run[i : i + per_task] for run in np.split(order, np.flatnonzero(np.diff(task[order])) + 1)
            for i in range(0, len(run), per_task)]
    runs = [runs[i] for i in generator.permutation(len(runs))]
    step = config.group_tasks
    return [np.concatenate(runs[i : i + step]) for i in range(0, len(runs), step)]


def ranked_pairs(throughput: np.ndarray, task: np.ndarray) -> int:
    """Pairs of one task with different throughput: what a ranking loss learns from."""
    return int(((task[:, None] == task[None, :]) & (throughput[:, None] > throughput[None, :])).sum())


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
    head_only: bool = False,
) -> FitStats:
    """Run up to ``epochs`` passes of :func:`epoch_batches` (at most ``config.max_steps`` steps).

    With an ``anchor`` (pretrained weights by parameter name) and ``config.anchor_weight`` > 0,
    the loss adds ``anchor_weight`` times their :func:`anchor_penalty`. ``head_only`` leaves
    every weight but the readout head's as it is.
    """
    anchored = anchor is not None and config.anchor_weight > 0
    rank_loss = RANK_LOSSES[config.rank_loss]
    frozen = [p for name, p in model.named_parameters() if head_only and not _in_head(name)]
    for p in frozen:
        p.requires_grad_(False)
    model.train()
    losses, pairs = [], 0
    try:
        for _ in range(epochs):
            if len(losses) == config.max_steps:
                break
            for idx in epoch_batches(task, config, generator)[: config.max_steps - len(losses)]:
                batch = collate([graphs[i] for i in idx])
                score, pred_log = model(batch.x, batch.edge_index, batch.edge_attr, batch.batch, len(idx),
                                        batch.cpu_features)
                loss = config.rank_weight * rank_loss(
                    score, torch.from_numpy(throughput[idx]), torch.from_numpy(task[idx])
                ) + config.latency_weight * latency_loss(pred_log, torch.from_numpy(log_latency[idx]))
                if anchored:
                    loss = loss + config.anchor_weight * anchor_penalty(model, anchor)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                pairs += ranked_pairs(throughput[idx], task[idx])
    finally:
        for p in frozen:
            p.requires_grad_(True)
        model.eval()
    stats = FitStats(float(np.mean(losses)) if losses else math.nan, len(losses), pairs / max(1, len(losses)))
    logger.debug("trained %d steps on %d samples, mean loss %.4f, %.0f ranked pairs a step", stats.steps,
                 len(graphs), stats.loss, stats.pairs_per_step)
    return stats


def _in_head(name: str) -> bool:
    """Whether a parameter (by ``named_parameters`` name, DDP's ``module.`` prefix allowed) is the readout head's."""
    return name.removeprefix("module.").startswith("head.")


def collated_chunks(graphs: Sequence[StageGraph], chunk: int = 4096) -> Iterator[tuple[int, Batch]]:
    """(first index, collated batch) of each run of ``chunk`` graphs: inference on any number in bounded memory."""
    for start in range(0, len(graphs), chunk):
        yield start, collate(graphs[start : start + chunk])


@torch.no_grad()
def predict_graphs(model: StageGNN, graphs: Sequence[StageGraph]) -> tuple[np.ndarray, np.ndarray]:
    """Scores and log-latencies of graphs, batched in chunks; float64 arrays."""
    model.eval()
    scores, logs = [], []
    for _, batch in collated_chunks(graphs):
        s, l = model(batch.x, batch.edge_index, batch.edge_attr, batch.batch, batch.num_graphs, batch.cpu_features)
        scores.append(s.numpy())
        logs.append(l.numpy())
    if not scores:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(scores).astype(np.float64), np.concatenate(logs).astype(np.float64)
