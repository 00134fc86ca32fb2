"""Offline training over many tasks (``tvm-gnn-cost train``): validation split by model, early stopping, DDP.

The loss is the online one (:func:`~tvm_gnn_cost.training.fit`): the ranking loss within each
task plus the log-latency head. Validation holds out whole models (a task's ``source``), never
records of a training task, so the validation score says how the model ranks the candidates
of a model it has never seen. Under ``torchrun`` (torch DDP, gloo on CPU) each process trains
on its shard of the records with an equal share of the global batch, and gradients are averaged.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .cost_model import GNNCostModel
from .data import ReplayBuffer
from .dataset import TaskRecords
from .graph import StageGraph, extract_stage_graphs
from .metrics import TaskPrediction, summarize
from .model import GNNConfig
from .training import TrainConfig, fit


@dataclass(frozen=True)
class PretrainConfig:
    """The offline schedule: ``epochs`` passes at most, stopping after ``patience`` without progress."""

    epochs: int = 200
    patience: int = 25
    val_fraction: float = 0.2
    batch_size: int = 128  # global: split evenly across DDP processes
    lr: float = 2e-3
    seed: int = 0


@dataclass
class PretrainResult:
    """What training did: per-epoch history, the epoch whose weights were kept, the split."""

    history: list[dict[str, float]]
    best_epoch: int
    train_models: list[str]
    val_models: list[str]
    processes: int
    seconds: float
    best: dict[str, float] = field(default_factory=dict)


def split_by_model(tasks: Sequence[TaskRecords], fraction: float, seed: int) -> tuple[list, list]:
    """(training tasks, validation tasks): whole models (task ``source``) go to validation, never single records."""
    models = sorted({t.source for t in tasks})
    if len(models) < 2:
        raise ValueError(f"validation is split by model, but all tasks come from one model ({models})")
    rng = np.random.default_rng(seed)
    val = set(rng.permutation(models)[: max(1, round(fraction * len(models)))].tolist())
    return [t for t in tasks if t.source not in val], [t for t in tasks if t.source in val]


def _distributed() -> tuple[int, int]:
    """(rank, world size): ``torch.distributed`` when initialised (torchrun), else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _rank0_says(flag: bool) -> bool:
    """``flag`` as rank 0 sees it, on every process, so all stop at the same epoch (else DDP hangs)."""
    if _distributed()[1] == 1:
        return flag
    value = torch.tensor([int(flag)])
    torch.distributed.broadcast(value, src=0)
    return bool(value.item())


def pretrain(
    tasks: Sequence[TaskRecords],
    graphs: dict[str, list[StageGraph]],
    config: PretrainConfig = PretrainConfig(),
    *,
    model_config: GNNConfig = GNNConfig(),
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> tuple[GNNCostModel, PretrainResult]:
    """Train a fresh :class:`GNNCostModel` on ``tasks`` (their stage ``graphs`` by task name).

    Returns the model with the weights of the epoch that scored best on validation (pairwise
    accuracy on the held-out models), and the history. Deterministic for ``config.seed`` and a
    number of processes.
    """
    start = time.perf_counter()
    rank, world = _distributed()
    train_tasks, val_tasks = split_by_model(tasks, config.val_fraction, config.seed)
    model = GNNCostModel(pretrained=False, config=model_config, seed=config.seed)  # keeps the online schedule for fine-tuning
    offline = TrainConfig(lr=config.lr, batch_size=max(1, config.batch_size // world), max_steps=10**9)
    optimizer = torch.optim.AdamW(model.network.parameters(), lr=offline.lr, weight_decay=offline.weight_decay)
    samples = [s for task in train_tasks for s in task.samples(graphs[task.name])]
    buffer = ReplayBuffer(len(samples))
    buffer.extend(samples)
    throughput, log_latency, task_ids = buffer.targets(samples)
    shard = np.arange(len(samples))[rank::world][: len(samples) // world]  # equal shards: equal steps per epoch
    network = model.network
    if world > 1:
        network = torch.nn.parallel.DistributedDataParallel(model.network)

    history, best_score, best_epoch, best_state = [], -math.inf, 0, None
    for epoch in range(1, config.epochs + 1):
        loss = fit(network, optimizer, [samples[i].graph for i in shard], throughput[shard],
                   log_latency[shard], task_ids[shard], epochs=1, config=offline, generator=model.rng)
        metrics = evaluate(model, val_tasks, graphs)
        history.append({"epoch": epoch, "train_loss": loss, **{f"val_{k}": v for k, v in metrics.items()}})
        if on_epoch:
            on_epoch(history[-1])
        score = metrics["pairwise_accuracy"]
        score = -math.inf if math.isnan(score) else score  # no valid pair to rank
        if best_state is None or score > best_score:
            best_score, best_epoch = score, epoch
            best_state = copy.deepcopy(model.network.state_dict())
        if _rank0_says(epoch - best_epoch >= config.patience):
            break
    model.network.load_state_dict(best_state)
    model.target_kinds |= {t.target.kind.name for t in tasks}
    result = PretrainResult(history, best_epoch, sorted({t.source for t in train_tasks}),
                            sorted({t.source for t in val_tasks}), world, time.perf_counter() - start)
    result.best = {k: v for k, v in history[best_epoch - 1].items() if k != "epoch"}
    return model, result


def stage_graphs(tasks: Sequence[TaskRecords], on_task: Callable[[], None] | None = None
                 ) -> dict[str, list[StageGraph]]:
    """The stage graphs of every task's records, by task name (TVM's extractor runs once per record)."""
    from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature

    extractor, graphs = PerStoreFeature(), {}
    for task in tasks:
        graphs[task.name] = extract_stage_graphs(task.context(), task.candidates, extractor)
        if on_task:
            on_task()
    return graphs


def evaluate(model: GNNCostModel, tasks: Sequence[TaskRecords], graphs: dict[str, list[StageGraph]]
             ) -> dict[str, float | None]:
    """The metrics of :mod:`~tvm_gnn_cost.metrics` for ``model`` on ``tasks``."""
    predictions = []
    for task in tasks:
        scores, log_seconds = model.predict_graphs(graphs[task.name])
        predictions.append(TaskPrediction(task.weight, task.seconds, scores, np.exp(log_seconds)))
    return summarize(predictions)
