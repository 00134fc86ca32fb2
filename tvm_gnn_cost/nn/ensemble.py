"""How unsure the learner is of a candidate: the disagreement of a bootstrap ensemble of heads.

Each member is a readout head of the network's shape, initialised afresh and trained on a
bootstrap resample of the learner's buffer over the network's embeddings (the body stays
frozen, so a member costs a small MLP's training, not the network's). Where the measurements
pin the ranking down the members agree; where a candidate's embedding is far from anything
measured, their fresh initialisations still show. The spread is the standard deviation over
members of their log-throughput, each centred on the batch (a ranking's offset is arbitrary),
which is what an upper-confidence search adds to the score.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch

from .graph import StageGraph
from .losses import RANK_LOSSES, latency_loss
from .model import StageGNN
from .scores import fit_score_scale
from .training import TrainConfig, collated_chunks, epoch_batches

#: Fewest valid measurements an ensemble is fitted on; with fewer, every spread is 0.
MIN_SAMPLES = 8


class HeadEnsemble:
    """``size`` bootstrap heads over a frozen network (see the module doc).

    Args:
        size: members (at least 2).
        steps: mini-batch steps each member trains (bounded, so a refit costs about a second
            whatever the buffer holds).
        lr: the members' learning rate (higher than the network's: they start from scratch).
        seed: seeds the members' initialisation and resamples.
    """

    def __init__(self, size: int = 8, *, steps: int = 48, lr: float = 1e-2, seed: int = 0) -> None:
        if size < 2:
            raise ValueError(f"an ensemble needs at least 2 members, not {size}")
        self.size, self.steps, self.lr = size, steps, lr
        self.rng = np.random.default_rng(seed)
        self.heads: list[torch.nn.Module] = []
        self.scales: list[float] = []

    @property
    def fitted(self) -> bool:
        """Whether the members are trained (their spread is not all zeros)."""
        return bool(self.heads)

    def fit(self, network: StageGNN, graphs: Sequence[StageGraph], throughput: np.ndarray, log_latency: np.ndarray,
            tasks: np.ndarray, config: TrainConfig) -> None:
        """Train every member on a resample of these measured graphs with ``config``'s losses and
        batches; unfit (spread 0) with under :data:`MIN_SAMPLES` valid ones."""
        self.heads, self.scales = [], []
        if np.isfinite(log_latency).sum() < MIN_SAMPLES:
            return
        rows, offsets = _embeddings(network, graphs)
        rank_loss = RANK_LOSSES[config.rank_loss]
        for _ in range(self.size):
            head = copy.deepcopy(network.head)
            with torch.random.fork_rng():
                torch.manual_seed(int(self.rng.integers(2**31)))
                for layer in head:
                    if hasattr(layer, "reset_parameters"):
                        layer.reset_parameters()
            optimizer = torch.optim.AdamW(head.parameters(), lr=self.lr, weight_decay=config.weight_decay)
            sample = self.rng.integers(len(graphs), size=len(graphs))  # the bootstrap resample
            for picked in self._batches(sample, tasks, config):
                score, pred_log = _read(network, head, rows, offsets, picked)
                loss = config.rank_weight * rank_loss(score, torch.from_numpy(throughput[picked]),
                                                      torch.from_numpy(tasks[picked]))
                loss = loss + config.latency_weight * latency_loss(pred_log, torch.from_numpy(log_latency[picked]))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            head.eval()
            with torch.no_grad():
                score = _read(network, head, rows, offsets, np.arange(len(graphs)))[0].numpy()
            self.heads.append(head)
            self.scales.append(fit_score_scale(score.astype(np.float64), log_latency, tasks))

    def _batches(self, sample: np.ndarray, tasks: np.ndarray, config: TrainConfig) -> list[np.ndarray]:
        """``steps`` batches of the resample (as buffer indices), epoch after epoch of ``config``'s batching."""
        batches: list[np.ndarray] = []
        while len(batches) < self.steps:
            batches += [sample[idx] for idx in epoch_batches(tasks[sample], config, self.rng)]
        return batches[: self.steps]

    @torch.no_grad()
    def spread(self, network: StageGNN, graphs: Sequence[StageGraph]) -> np.ndarray:
        """Standard deviation over members of each graph's log-throughput, centred on the batch; zeros unfitted."""
        if not self.heads or not graphs:
            return np.zeros(len(graphs))
        rows, offsets = _embeddings(network, graphs)
        index = np.arange(len(graphs))
        values = np.stack([scale * _read(network, head, rows, offsets, index)[0].numpy().astype(np.float64)
                           for head, scale in zip(self.heads, self.scales)])
        values -= values.mean(axis=1, keepdims=True)
        return values.std(axis=0, ddof=1)


@torch.no_grad()
def _embeddings(network: StageGNN, graphs: Sequence[StageGraph]) -> tuple[torch.Tensor, np.ndarray]:
    """The network's :meth:`~StageGNN.embed` rows of every graph, and where each graph's rows start (and the last ends)."""
    network.eval()
    parts, owners = [], []
    for start, batch in collated_chunks(graphs):
        z, owner = network.embed(batch.x, batch.edge_index, batch.edge_attr, batch.batch, batch.num_graphs,
                                 batch.cpu_features)
        parts.append(z)
        owners.append(owner.numpy() + start)
    return torch.cat(parts), np.searchsorted(np.concatenate(owners), np.arange(len(graphs) + 1))


def _read(network: StageGNN, head: torch.nn.Module, rows: torch.Tensor, offsets: np.ndarray,
          picked: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``head``'s (score, log seconds) of the graphs ``picked`` (repeats allowed), from precomputed rows."""
    lengths = offsets[picked + 1] - offsets[picked]
    first = np.cumsum(lengths) - lengths  # where each picked graph's rows start in the gathered batch
    index = np.repeat(offsets[picked] - first, lengths) + np.arange(lengths.sum())
    local = torch.from_numpy(np.repeat(np.arange(len(picked)), lengths))
    return network.read(rows[torch.from_numpy(index)], local, len(picked), head=head)
