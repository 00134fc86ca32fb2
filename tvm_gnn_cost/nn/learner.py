"""``GNNLearner``: the network with everything it learns with, the one object that trains.

The TVM plug-in (:class:`~tvm_gnn_cost.cost_model.GNNCostModel`), pretraining and the
benchmarks all learn and predict through it, so what is benchmarked is what ships. It holds
the network, its optimizer, the bounded replay buffer, the pretrained weights fine-tuning is
pulled toward (the anchor), the target kinds its measurements came from, and a seeded
generator. Pure torch and numpy: it imports no TVM.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import CheckpointError, config_from_dict, configs_to_dict, load_checkpoint, save_checkpoint
from .data import ReplayBuffer, Sample
from .ensemble import HeadEnsemble
from .graph import NODE_FEATURES, StageGraph
from .model import GNNConfig, StageGNN
from .residual import ResidualBooster
from .scores import fit_score_scale, search_scores
from .training import FitStats, TrainConfig, fit, predict_graphs

logger = logging.getLogger(__name__)

#: The weights a learner starts from by default; ``weights/README.md`` is their data card.
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "default.pt"

#: How many of the newest buffered samples :meth:`GNNLearner.calibrate` refits the score scale on after an update.
CALIBRATION_SAMPLES = 2048

#: What :meth:`GNNLearner.snapshot` returns: weights by name, the target kinds, the score scale, the residual booster.
Snapshot = tuple[dict[str, torch.Tensor], set[str], float, ResidualBooster | None]


def stored_config(payload: dict[str, Any], path: str | os.PathLike) -> GNNConfig:
    """The architecture a checkpoint was saved with, refused if its graphs differ from this version's."""
    config = config_from_dict(GNNConfig, payload["model_config"], path)
    if config.node_features != NODE_FEATURES:
        raise CheckpointError(
            f"{path}: model expects {config.node_features} node features, this version builds {NODE_FEATURES}"
        )
    return config


class GNNLearner:
    """A :class:`StageGNN` that learns from measured samples and scores stage graphs.

    Args:
        pretrained: ``True`` for the shipped weights (:data:`DEFAULT_WEIGHTS`), a checkpoint
            path for others, ``False`` for random weights.
        config: the architecture (default: the pretrained weights' own, or ``GNNConfig()``);
            one that differs from the pretrained weights' is refused.
        train_config: the online schedule (:meth:`learn`), the optimizer's settings and the
            recipe (loss, batches); default: the pretrained weights' own, or ``TrainConfig()``.
        seed: seeds weight initialisation (from scratch), batch order and :meth:`random_scores`.
        ensemble: members of the bootstrap head ensemble behind :meth:`spread` (fitted only when asked).
    """

    def __init__(
        self,
        *,
        pretrained: bool | str | os.PathLike = False,
        config: GNNConfig | None = None,
        train_config: TrainConfig | None = None,
        seed: int = 0,
        ensemble: int = 8,
    ) -> None:
        self.ensemble_size = ensemble
        if pretrained is False:
            self._build(config or GNNConfig(), train_config or TrainConfig(), seed)
            return
        path = DEFAULT_WEIGHTS if pretrained is True else Path(pretrained)
        payload = load_checkpoint(path)
        stored = stored_config(payload, path)
        if config is not None and config != stored:
            raise ValueError(f"config {config} differs from the pretrained weights' {stored} ({path}); "
                             "pass pretrained=False to train another architecture from scratch")
        self._build(stored, train_config or config_from_dict(TrainConfig, payload["train_config"], path), seed)
        self._restore(payload, path, optimizer=False)
        self.anchor = {k: v.detach().clone() for k, v in self.network.named_parameters()}

    def _build(self, config: GNNConfig, train_config: TrainConfig, seed: int) -> None:
        """(Re)create network, optimizer, buffer and generator from configs and a seed."""
        if config.node_features != NODE_FEATURES:
            raise ValueError(f"config.node_features={config.node_features}, graphs have {NODE_FEATURES}")
        self.config = config
        self.train_config = train_config
        self.seed = seed
        with torch.random.fork_rng():  # seed the weights without touching the caller's global RNG
            torch.manual_seed(seed)
            self.network = StageGNN(config)
        self.network.eval()
        self.reset_optimizer()
        self.buffer = ReplayBuffer(train_config.replay_capacity)
        self.rng = np.random.default_rng(seed)
        self.target_kinds: set[str] = set()  # kinds of the targets whose measurements trained it
        self.num_updates = 0
        self.score_scale = 1.0  # turns raw scores into log-throughputs (:mod:`.scores`), refitted after training
        self.anchor: dict[str, torch.Tensor] | None = None  # pretrained weights fine-tuning is pulled toward
        self.residual: ResidualBooster | None = None  # fitted on this run's buffer (finetune, residual_from)
        self.ensemble = HeadEnsemble(self.ensemble_size, seed=seed)  # behind spread(), refitted when asked after a change
        self.revision = 0  # counts changes of buffer or weights, so the ensemble knows when it is stale
        self._ensemble_revision = -1

    def reset_optimizer(self, lr: float | None = None) -> None:
        """A fresh AdamW (``train_config``'s learning rate unless ``lr``): no moments carried over."""
        self.optimizer = torch.optim.AdamW(self.network.parameters(), lr=self.train_config.lr if lr is None else lr,
                                           weight_decay=self.train_config.weight_decay)

    @property
    def trained(self) -> bool:
        """Whether the network has trained on measurements (of any target kind)."""
        return bool(self.target_kinds)

    # ---- learning ----------------------------------------------------------------------

    def learn(self, samples: Sequence[Sample], kind: str) -> None:
        """One search round's measurements (on a ``kind`` target): buffer them and train online.

        A network that already knows ``kind`` (pretrained, or trained earlier in the run)
        fine-tunes ``update_epochs`` right away (only its head with ``finetune="head"``; with
        ``"residual"`` it refits the residual booster to the buffer and leaves the network as it
        is); one that does not waits for ``min_samples`` valid measurements, then trains ``first_epochs``.
        A known kind also refits the booster after training once the buffer reaches ``residual_from``.
        """
        self.buffer.extend(samples)
        self.num_updates += 1
        self.revision += 1
        config = self.train_config
        known = kind in self.target_kinds
        if known and config.finetune != "residual":
            self._train_buffer(config.update_epochs, {kind}, head_only=config.finetune == "head")
        elif not known and self.buffer.num_measured >= config.min_samples:
            self._train_buffer(config.first_epochs, {kind})
        if known and (config.finetune == "residual" or 0 < config.residual_from <= self.buffer.num_measured):
            self.fit_residual()

    def train(self, samples: Sequence[Sample], *, epochs: int, target_kinds: Iterable[str]) -> FitStats:
        """Offline training: add samples (of any number of tasks, measured on targets of
        ``target_kinds``) to the buffer and train ``epochs`` passes over it."""
        self.buffer.extend(samples)
        self.revision += 1
        return self._train_buffer(epochs, set(target_kinds))

    def _train_buffer(self, epochs: int, kinds: set[str], *, head_only: bool = False) -> FitStats:
        """Train on the replay buffer (targets normalised per task by its best times), then refit the score scale.

        A network that has never trained first fits its input norm (if ``"fitted"``) to the buffer.
        """
        samples = list(self.buffer.samples)
        graphs = [s.graph for s in samples]
        throughput, log_latency, tasks = self.buffer.targets(samples)
        if not self.trained:
            self.fit_input_norm(graphs)
        stats = self.fit(graphs, throughput, log_latency, tasks, epochs=epochs, head_only=head_only)
        recent = slice(-CALIBRATION_SAMPLES, None)  # the newest samples: the task being tuned, bounded cost
        self.calibrate(graphs[recent], log_latency[recent], tasks[recent])
        self.target_kinds |= kinds
        return stats

    def fit(self, graphs: Sequence[StageGraph], throughput: np.ndarray, log_latency: np.ndarray, tasks: np.ndarray,
            *, epochs: int, config: TrainConfig | None = None, network: torch.nn.Module | None = None,
            head_only: bool = False) -> FitStats:
        """:func:`~tvm_gnn_cost.nn.training.fit` with this learner's optimizer, generator and anchor.

        ``config`` overrides the batch size and step cap (pretraining's schedule); ``network``
        is the module to run, e.g. this network wrapped for data-parallel training.
        """
        return fit(network or self.network, self.optimizer, graphs, throughput, log_latency, tasks, epochs=epochs,
                   config=config or self.train_config, generator=self.rng, anchor=self.anchor, head_only=head_only)

    def fit_residual(self) -> None:
        """Refit the residual booster to every buffered sample, the network's log-throughput as its margin."""
        samples = list(self.buffer.samples)
        graphs = [s.graph for s in samples]
        _, log_latency, tasks = self.buffer.targets(samples)
        margin = self.score_scale * self.predict(graphs)[0]
        self.residual = ResidualBooster.fit(graphs, margin, log_latency, tasks, seed=self.seed)

    def fit_input_norm(self, graphs: Sequence[StageGraph]) -> None:
        """Fit a ``"fitted"`` input norm to the node features of ``graphs`` (a ``"layer"`` norm needs nothing)."""
        if self.config.input_norm == "fitted" and graphs:
            self.network.input_norm.fit(torch.from_numpy(np.concatenate([g.x for g in graphs])))

    def calibrate(self, graphs: Sequence[StageGraph], log_latency: np.ndarray, tasks: np.ndarray) -> None:
        """Refit :attr:`score_scale` on measured graphs (:func:`~tvm_gnn_cost.nn.scores.fit_score_scale`)."""
        if len(graphs):
            self.score_scale = fit_score_scale(self.predict(graphs)[0], log_latency, tasks)

    # ---- prediction --------------------------------------------------------------------

    def predict(self, graphs: Sequence[StageGraph]) -> tuple[np.ndarray, np.ndarray]:
        """(raw score, predicted log-seconds) of stage graphs, float64; higher scores are faster."""
        return predict_graphs(self.network, graphs)

    def log_throughput(self, graphs: Sequence[StageGraph], scores: np.ndarray | None = None) -> np.ndarray:
        """Predicted log-throughput up to a constant: ``score_scale * score``, plus the residual booster's correction.

        ``scores``: the network's raw scores of ``graphs``, if the caller has them already.
        """
        value = self.score_scale * (self.predict(graphs)[0] if scores is None else scores)
        return value + self.residual.correction(graphs) if self.residual is not None else value

    def search_scores(self, graphs: Sequence[StageGraph]) -> np.ndarray:
        """What the search gets: predicted throughput over the batch's best, in (0, 1], in :meth:`log_throughput`'s order."""
        return search_scores(self.log_throughput(graphs), 1.0)

    def spread(self, graphs: Sequence[StageGraph]) -> np.ndarray:
        """How unsure the learner is of each graph's log-throughput: its head ensemble's sd
        (:mod:`.ensemble`), refitted to the buffer first if buffer or weights changed since; zeros while the
        buffer holds under :data:`~tvm_gnn_cost.nn.ensemble.MIN_SAMPLES` valid measurements."""
        if self._ensemble_revision != self.revision:
            samples = list(self.buffer.samples)
            throughput, log_latency, tasks = self.buffer.targets(samples)
            self.ensemble.fit(self.network, [s.graph for s in samples], throughput, log_latency, tasks,
                              self.train_config)
            self._ensemble_revision = self.revision
        return self.ensemble.spread(self.network, graphs)

    def random_scores(self, n: int) -> np.ndarray:
        """Uniform random scores from the seeded generator: what an untrained model ranks with."""
        return self.rng.uniform(0.0, 1.0, size=n)

    # ---- state -------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The weights, target kinds, score scale and residual booster, to :meth:`rollback` to after a failed update."""
        weights = {k: v.clone() for k, v in self.network.state_dict().items()}
        return weights, set(self.target_kinds), self.score_scale, self.residual

    def rollback(self, snapshot: Snapshot) -> None:
        """Back to a :meth:`snapshot`, with a fresh optimizer (its moments may be non-finite)."""
        weights, kinds, self.score_scale, self.residual = snapshot
        self.network.load_state_dict(weights)
        self.target_kinds = set(kinds)
        self.revision += 1
        self.reset_optimizer()

    def finite(self) -> bool:
        """Whether every weight is finite."""
        return all(torch.isfinite(p).all() for p in self.network.parameters())

    def save(self, path: str | os.PathLike) -> None:
        """Write weights, configs, optimizer state, anchor and residual booster (not the replay buffer) atomically."""
        save_checkpoint(
            path,
            {
                **configs_to_dict(self.config, self.train_config),
                "state_dict": self.network.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "seed": self.seed,
                "target_kinds": sorted(self.target_kinds),
                "num_updates": self.num_updates,
                "score_scale": self.score_scale,
                "anchor": self.anchor,
                "residual": self.residual.to_tensor() if self.residual is not None else None,
            },
        )

    def load(self, path: str | os.PathLike) -> None:
        """Replace everything but the buffer with what :meth:`save` wrote (optimizer state included)."""
        payload = load_checkpoint(path)
        train_config = config_from_dict(TrainConfig, payload["train_config"], path)
        self._build(stored_config(payload, path), train_config, int(payload.get("seed", 0)))
        self._restore(payload, path, optimizer=True)
        self.num_updates = int(payload.get("num_updates", 0))
        if payload.get("residual") is not None:
            self.residual = ResidualBooster.from_tensor(payload["residual"])

    def _restore(self, payload: dict[str, Any], path: str | os.PathLike, *, optimizer: bool) -> None:
        """Weights, anchor, target kinds and (if ``optimizer``) optimizer state from a checkpoint's payload."""
        try:
            self.network.load_state_dict(payload["state_dict"])
            if optimizer and "optimizer" in payload:
                self.optimizer.load_state_dict(payload["optimizer"])
            if payload.get("anchor") is not None:
                self.anchor = {k: payload["anchor"][k] for k, _ in self.network.named_parameters()}
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{path}: weights do not fit the stored architecture ({err})") from err
        self.network.eval()
        self.score_scale = float(payload.get("score_scale", 1.0))
        # checkpoints written before kinds were recorded were all trained on CPU (llvm) measurements
        self.target_kinds = set(payload.get("target_kinds", ["llvm"] if payload.get("trained", True) else []))
