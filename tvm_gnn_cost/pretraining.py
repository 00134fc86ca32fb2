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
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .datasets.loading import TaskRecords
from .evaluation import evaluate, every_record, learner_predictor
from .files import write_json
from .nn import GNNConfig, GNNLearner, ReplayBuffer, StageGraph, TrainConfig

logger = logging.getLogger(__name__)

#: Training records (evenly spaced, so every task counts) the score scale is fitted on after pretraining.
CALIBRATION_SAMPLES = 8192


@dataclass(frozen=True)
class PretrainConfig:
    """The offline schedule: ``epochs`` passes at most, stopping after ``patience`` without progress.

    Validation holds out whole models, at least ``val_fraction`` of them and enough to give
    ``val_min_tasks`` tasks with ``val_min_records`` valid records each (only those are scored:
    a task of three records says little about ranking). ``recipe`` is the loss, batch shape and
    weight decay; the learner keeps it for fine-tuning, so online updates learn as pretraining did.
    """

    epochs: int = 200
    patience: int = 10  # shipped weights: validation peaked at epoch 33 of 43 (weights/default.json)
    val_fraction: float = 0.2
    val_min_records: int = 8
    val_min_tasks: int = 40
    batch_size: int = 128  # global: split evenly across DDP processes
    lr: float = 2e-3
    seed: int = 0
    recipe: TrainConfig = TrainConfig()


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


def split_by_model(tasks: Sequence[TaskRecords], fraction: float, seed: int, *, min_records: int = 1,
                   min_tasks: int = 0) -> tuple[list, list]:
    """(training tasks, validation tasks): whole models (task ``source``) go to validation, never single records.

    Models are drawn in a seeded order until they are ``fraction`` of all and hold ``min_tasks``
    tasks of ``min_records`` valid records (never more than half the models; fewer tasks are
    then logged). Validation keeps only such tasks; the held-out models' others train nothing.
    """
    models = sorted({t.source for t in tasks})
    if len(models) < 2:
        raise ValueError(f"validation is split by model, but all tasks come from one model ({models})")
    scored = Counter(t.source for t in tasks if np.isfinite(t.seconds).sum() >= min_records)
    order = np.random.default_rng(seed).permutation(models).tolist()
    wanted, most = max(1, round(fraction * len(models))), max(1, len(models) // 2)
    count = next((n for n in range(wanted, most + 1) if sum(scored[m] for m in order[:n]) >= min_tasks), most)
    val = set(order[:count])
    val_tasks = [t for t in tasks if t.source in val and np.isfinite(t.seconds).sum() >= min_records]
    if not val_tasks:
        raise ValueError(f"no task of the {count} validation model(s) has {min_records} valid records")
    if len(val_tasks) < min_tasks:
        logger.warning("validation holds %d tasks of >= %d valid records (%d models), fewer than %d",
                       len(val_tasks), min_records, count, min_tasks)
    return [t for t in tasks if t.source not in val], val_tasks


def split_tasks(tasks: Sequence[TaskRecords], config: PretrainConfig) -> tuple[list, list]:
    """:func:`split_by_model` with ``config``'s fraction, seed and validation rule."""
    return split_by_model(tasks, config.val_fraction, config.seed, min_records=config.val_min_records,
                          min_tasks=config.val_min_tasks)


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
    accuracy on the held-out models), its score scale fitted on the training records, and the
    history. The learner keeps ``config.recipe`` for fine-tuning; pretraining runs it with its
    own learning rate, batch size and no step cap. Deterministic for ``config.seed`` and a
    number of processes.
    """
    start = time.perf_counter()
    rank, world = _distributed()
    train_tasks, val_tasks = split_tasks(tasks, config)
    learner = GNNLearner(config=model_config, train_config=config.recipe, seed=config.seed)
    learner.reset_optimizer(lr=config.lr)
    offline = dataclasses.replace(config.recipe, lr=config.lr, batch_size=max(1, config.batch_size // world),
                                  group_tasks=min(config.recipe.group_tasks, max(1, config.batch_size // world)),
                                  max_steps=10**9)
    samples = [s for task in train_tasks for s in task.samples(graphs[task.name])]
    buffer = ReplayBuffer(len(samples))
    buffer.extend(samples)
    throughput, log_latency, task_ids = buffer.targets(samples)
    shard = np.arange(len(samples))[rank::world][: len(samples) // world]  # equal shards: equal steps per epoch
    shard_graphs = [samples[i].graph for i in shard]
    learner.fit_input_norm([s.graph for s in samples])  # on every record, so all processes agree
    network = torch.nn.parallel.DistributedDataParallel(learner.network) if world > 1 else learner.network
    validation = every_record(val_tasks)

    history, best_score, best_epoch, best_state = [], -math.inf, 0, None
    for epoch in range(1, config.epochs + 1):
        stats = learner.fit(shard_graphs, throughput[shard], log_latency[shard], task_ids[shard], epochs=1,
                            config=offline, network=network)
        metrics = evaluate(learner_predictor(learner, graphs), validation)
        history.append({"epoch": epoch, "train_loss": stats.loss, "pairs_per_step": stats.pairs_per_step,
                        **{f"val_{k}": v for k, v in metrics.items()}})
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
    calibration = np.arange(0, len(samples), max(1, len(samples) // CALIBRATION_SAMPLES))
    learner.calibrate([samples[i].graph for i in calibration], log_latency[calibration], task_ids[calibration])
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
