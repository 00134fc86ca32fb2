"""Measured samples, the bounded replay buffer, and batching of stage graphs for torch."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Batch

from .graph import CPU_FEATURES, StageGraph

_UNKNOWN_CPU = np.zeros(len(CPU_FEATURES), dtype=np.float32)


@dataclass(frozen=True)
class Sample:
    """One measured candidate: its graph, its task, and its mean run time (None if it failed)."""

    graph: StageGraph
    task: str
    seconds: float | None


#: What MetaSchedule's ``AddToDatabase`` stores as the run time of a failed build or run.
FAILED_SECONDS = 1e10


def mean_seconds(run_secs: Sequence[float] | None) -> float | None:
    """The median of a runner's repeat times, or None for a failed, empty or non-finite result.

    Failed builds and runs (including database records holding TVM's ``1e10`` marker) are
    never turned into latencies; they rank below every success.
    """
    if not run_secs:
        return None
    value = float(np.median([float(s) for s in run_secs]))
    return value if math.isfinite(value) and 0 < value < FAILED_SECONDS else None


def collate(graphs: Sequence[StageGraph]) -> Batch:
    """Concatenate stage graphs into one PyG ``Batch`` (vectorised; no per-graph ``Data``); ``cpu_features`` is ``[B, C]``."""
    counts = np.fromiter((g.num_nodes for g in graphs), dtype=np.int64, count=len(graphs))
    offsets = np.cumsum(counts) - counts
    edge_index = np.concatenate([g.edge_index + off for g, off in zip(graphs, offsets)], axis=1)
    ptr = np.concatenate([[0], np.cumsum(counts)])
    return Batch(
        x=torch.from_numpy(np.concatenate([g.x for g in graphs])),
        edge_index=torch.from_numpy(edge_index),
        edge_attr=torch.from_numpy(np.concatenate([g.edge_attr for g in graphs])),
        batch=torch.from_numpy(np.repeat(np.arange(len(graphs)), counts)),
        ptr=torch.from_numpy(ptr),
        cpu_features=torch.from_numpy(np.stack([_UNKNOWN_CPU if g.cpu is None else g.cpu for g in graphs])),
    )


class ReplayBuffer:
    """The most recent ``capacity`` samples, plus each task's best time ever seen.

    The best time survives eviction, so per-task normalisation (``best / seconds``, as
    XGBModel does) stays stable as old samples leave.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"replay capacity must be positive, got {capacity}")
        self.samples: deque[Sample] = deque(maxlen=capacity)
        self.best_seconds: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def extend(self, samples: Sequence[Sample]) -> None:
        for s in samples:
            self.samples.append(s)
            if s.seconds is not None:
                self.best_seconds[s.task] = min(s.seconds, self.best_seconds.get(s.task, math.inf))

    @property
    def num_measured(self) -> int:
        """Samples with a valid latency."""
        return sum(s.seconds is not None for s in self.samples)

    def targets(self, samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-task normalised throughput (0 for failures), log-latency (NaN for failures), task ids."""
        throughput = np.array(
            [self.best_seconds[s.task] / s.seconds if s.seconds else 0.0 for s in samples], dtype=np.float32
        )
        log_latency = np.array([math.log(s.seconds) if s.seconds else math.nan for s in samples], dtype=np.float32)
        names: dict[str, int] = {}
        tasks = np.array([names.setdefault(s.task, len(names)) for s in samples], dtype=np.int64)
        return throughput, log_latency, tasks
