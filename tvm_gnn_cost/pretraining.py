"""Offline training over many tasks (``tvm-gnn-cost train``): validation split by model, early stopping, DDP.

The loss is the online one (:meth:`~tvm_gnn_cost.nn.GNNLearner.fit`): the ranking loss within each
task plus the log-latency head. Validation holds out whole models (a task's ``source``), never
records of a training task, so the validation score says how the model ranks the candidates
of a model it has never seen. Under ``torchrun`` (torch DDP, gloo on CPU) each process trains
on its shard of the records with an equal share of the global batch, and gradients are averaged.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .datasets.loading import TaskRecords
from .evaluation import evaluate, every_record, learner_predictor
from .files import write_json
from .nn import GNNConfig, GNNLearner, ReplayBuffer, StageGraph, TrainConfig


@dataclass(frozen=True)
class PretrainConfig:
    """The offline schedule: ``epochs`` passes at most, stopping after ``patience`` without progress."""

    epochs: int = 200
    patience: int = 10  # shipped weights: validation peaked at epoch 33 of 43 (weights/default.json)
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


def init_distributed() -> int:
    """This process's rank; under ``torchrun`` (``WORLD_SIZE`` > 1) the gloo process group is started first."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    return _distributed()[0]


def finish_distributed() -> None:
    """End the process group, if one was started."""
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


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
) -> tuple[GNNLearner, PretrainResult]:
    """Train a fresh :class:`GNNLearner` on ``tasks`` (their stage ``graphs`` by task name).

    Returns the learner with the weights of the epoch that scored best on validation (pairwise
    accuracy on the held-out models), and the history. The learner keeps the online schedule
    (``TrainConfig()``) for fine-tuning; pretraining runs its own (``config``). Deterministic
    for ``config.seed`` and a number of processes.
    """
    start = time.perf_counter()
    rank, world = _distributed()
    train_tasks, val_tasks = split_by_model(tasks, config.val_fraction, config.seed)
    learner = GNNLearner(config=model_config, seed=config.seed)
    learner.reset_optimizer(lr=config.lr)
    offline = TrainConfig(lr=config.lr, batch_size=max(1, config.batch_size // world), max_steps=10**9)
    samples = [s for task in train_tasks for s in task.samples(graphs[task.name])]
    buffer = ReplayBuffer(len(samples))
    buffer.extend(samples)
    throughput, log_latency, task_ids = buffer.targets(samples)
    shard = np.arange(len(samples))[rank::world][: len(samples) // world]  # equal shards: equal steps per epoch
    network = torch.nn.parallel.DistributedDataParallel(learner.network) if world > 1 else learner.network
    validation = every_record(val_tasks)

    history, best_score, best_epoch, best_state = [], -math.inf, 0, None
    for epoch in range(1, config.epochs + 1):
        loss = learner.fit([samples[i].graph for i in shard], throughput[shard], log_latency[shard], task_ids[shard],
                           epochs=1, config=offline, network=network)
        metrics = evaluate(learner_predictor(learner, graphs), validation)
        history.append({"epoch": epoch, "train_loss": loss, **{f"val_{k}": v for k, v in metrics.items()}})
        if on_epoch:
            on_epoch(history[-1])
        score = metrics["pairwise_accuracy"]
        score = -math.inf if math.isnan(score) else score  # no valid pair to rank
        if best_state is None or score > best_score:
            best_score, best_epoch = score, epoch
            best_state = copy.deepcopy(learner.network.state_dict())
        if _rank0_says(epoch - best_epoch >= config.patience):
            break
    learner.network.load_state_dict(best_state)
    learner.reset_optimizer()  # fine-tuning starts with fresh moments at the online learning rate
    learner.target_kinds |= {t.target.kind.name for t in tasks}
    result = PretrainResult(history, best_epoch, sorted({t.source for t in train_tasks}),
                            sorted({t.source for t in val_tasks}), world, time.perf_counter() - start)
    result.best = {k: v for k, v in history[best_epoch - 1].items() if k != "epoch"}
    return learner, result


def save_pretrained(learner: GNNLearner, result: PretrainResult, out: Path, *, config: PretrainConfig,
                    data: Sequence[Path], tasks: Sequence[TaskRecords]) -> None:
    """Write the weights-only checkpoint ``out``, its history ``out.json`` (data, split, every epoch) and curves."""
    from .plots import plot_training_curves

    out.parent.mkdir(parents=True, exist_ok=True)
    learner.save(out)
    write_json(out.with_suffix(".json"), {"data": [str(p) for p in data], "tasks": len(tasks),
                                          "records": sum(len(t.seconds) for t in tasks),
                                          "config": dataclasses.asdict(config), **dataclasses.asdict(result)})
    plot_training_curves(result.history, out.with_suffix(".png"), best_epoch=result.best_epoch)
