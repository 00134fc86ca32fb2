"""``GNNCostModel``: the stage-graph GNN as a MetaSchedule ``PyCostModel``.

A thin adapter: candidates become :class:`~tvm_gnn_cost.graph.StageGraph`\\ s, measurements
become :class:`~tvm_gnn_cost.data.Sample`\\ s in a bounded replay buffer, and the plain
functions in :mod:`~tvm_gnn_cost.training` do the learning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.cost_model import PyCostModel
from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature
from tvm.s_tir.meta_schedule.utils import shash2hex

from .checkpoint import CheckpointError, config_from_dict, configs_to_dict, load_checkpoint, save_checkpoint
from .data import ReplayBuffer, Sample, mean_seconds
from .graph import NODE_FEATURES, StageGraph, StageGraphCache
from .model import GNNConfig, StageGNN
from .training import TrainConfig, fit, predict_graphs

if TYPE_CHECKING:
    from tvm.s_tir.meta_schedule import MeasureCandidate, TuneContext
    from tvm.s_tir.meta_schedule.runner import RunnerResult

logger = logging.getLogger(__name__)

#: The weights a :class:`GNNCostModel` starts from by default; ``weights/README.md`` is their data card.
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "default.pt"


def _stored_config(payload: dict[str, Any], path: str | os.PathLike) -> GNNConfig:
    """The architecture a checkpoint was saved with, refused if its graphs differ from this version's."""
    config = config_from_dict(GNNConfig, payload["model_config"], path)
    if config.node_features != NODE_FEATURES:
        raise CheckpointError(
            f"{path}: model expects {config.node_features} node features, this version builds {NODE_FEATURES}"
        )
    return config


@derived_object
class GNNCostModel(PyCostModel):
    """Rank MetaSchedule candidates with a GNN over their stage graphs.

    Use it wherever MetaSchedule takes a cost model::

        ms.tune_tir(mod, target, work_dir, max_trials_global=256, cost_model=GNNCostModel())

    ``predict`` returns float64 scores, higher meaning faster, like ``XGBModel``. By default the
    network starts from the shipped pretrained weights (:data:`DEFAULT_WEIGHTS`, trained on
    CPU measurements of generated models, TVM's operator set, ResNet-50 and SqueezeNet), so
    it ranks ``llvm`` candidates from the first round, and each ``update`` fine-tunes it on
    the task's measurements, pulled toward the pretrained weights (``TrainConfig.anchor_weight``).

    ``pretrained=False`` starts from random weights instead: until the model has trained once
    (``TrainConfig.min_samples`` valid measurements) ``predict`` returns uniform random scores
    from the model's seeded generator, exactly as ``XGBModel`` does during its warm-up. The
    same holds for a target kind it has not trained on (weights learned on ``llvm`` candidates
    say nothing about ``cuda`` ones): it says so once in the log, scores that kind's
    candidates at random, and fine-tunes on their measurements as if for the first time.

    Args:
        pretrained: ``True`` for the shipped weights, a checkpoint path (``tvm-gnn-cost train
            --out``) for others, ``False`` to start from scratch.
        config: the network's architecture (default: the pretrained weights' own, or
            ``GNNConfig()`` from scratch); one that differs from the pretrained weights' is
            refused.
        train_config: the online training schedule.
        seed: seeds batch order, the warm-up scores and, from scratch, weight initialisation.
        graph_cache_size: stage graphs kept by structural hash of the scheduled module, so a
            schedule scored again skips feature extraction (0 disables the cache).
    """

    def __init__(
        self,
        *,
        pretrained: bool | str | os.PathLike = True,
        config: GNNConfig | None = None,
        train_config: TrainConfig = TrainConfig(),
        seed: int = 0,
        graph_cache_size: int = 8192,
    ) -> None:
        super().__init__()
        self.graph_cache = StageGraphCache(graph_cache_size)
        if pretrained is False:
            self._build(config or GNNConfig(), train_config, seed)
            return
        path = DEFAULT_WEIGHTS if pretrained is True else Path(pretrained)
        payload = load_checkpoint(path)
        stored = _stored_config(payload, path)
        if config is not None and config != stored:
            raise ValueError(f"config {config} differs from the pretrained weights' {stored} ({path}); "
                             "pass pretrained=False to train another architecture from scratch")
        self._build(stored, train_config, seed)
        self._restore(payload, path, optimizer=False)
        self.anchor = {k: v.detach().clone() for k, v in self.network.named_parameters()}

    def _build(self, config: GNNConfig, train_config: TrainConfig, seed: int) -> None:
        """(Re)create network, optimizer, buffer and generators from configs and a seed."""
        if config.node_features != NODE_FEATURES:
            raise ValueError(f"config.node_features={config.node_features}, graphs have {NODE_FEATURES}")
        self.config = config
        self.train_config = train_config
        self.seed = seed
        with torch.random.fork_rng():  # seed the weights without touching the caller's global RNG
            torch.manual_seed(seed)
            self.network = StageGNN(config)
        self.network.eval()
        self.optimizer = self._new_optimizer()
        self.buffer = ReplayBuffer(train_config.replay_capacity)
        self.rng = np.random.default_rng(seed)
        self.target_kinds: set[str] = set()  # kinds of the targets whose measurements trained it
        self._warned_kinds: set[str] = set()
        self.num_updates = 0
        self.anchor: dict[str, torch.Tensor] | None = None  # pretrained weights that fine-tuning is pulled toward
        self.faults: dict[str, int] = {}  # exceptions caught in predict / update, by method
        self._extractor = PerStoreFeature()

    def _new_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.network.parameters(), lr=self.train_config.lr, weight_decay=self.train_config.weight_decay
        )

    @property
    def trained(self) -> bool:
        """Whether the network has trained on measurements (of any target kind)."""
        return bool(self.target_kinds)

    # ---- PyCostModel interface -------------------------------------------------------

    def load(self, path: str) -> None:
        """Load weights, configs and optimizer state written by :meth:`save`."""
        payload = load_checkpoint(path)
        train_config = config_from_dict(TrainConfig, payload["train_config"], path)
        self._build(_stored_config(payload, path), train_config, int(payload.get("seed", 0)))
        self._restore(payload, path, optimizer=True)
        self.num_updates = int(payload.get("num_updates", 0))

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
        # checkpoints written before kinds were recorded were all trained on CPU (llvm) measurements
        self.target_kinds = set(payload.get("target_kinds", ["llvm"] if payload.get("trained", True) else []))

    def save(self, path: str) -> None:
        """Write weights, configs and optimizer state (not the replay buffer) atomically."""
        save_checkpoint(
            path,
            {
                **configs_to_dict(self.config, self.train_config),
                "state_dict": self.network.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "seed": self.seed,
                "target_kinds": sorted(self.target_kinds),
                "num_updates": self.num_updates,
                "anchor": self.anchor,
            },
        )
        logger.info("saved GNNCostModel to %s", path)

    def update(self, context: TuneContext, candidates: list[MeasureCandidate], results: list[RunnerResult]) -> None:
        """Add measured candidates to the replay buffer and train incrementally.

        An exception, or training that leaves non-finite weights, is logged once and counted
        in ``faults``; the weights from before the update are kept and tuning goes on.
        """
        if len(candidates) != len(results):
            raise ValueError(f"{len(candidates)} candidates but {len(results)} results")
        if not candidates:
            return
        good, kinds = {k: v.clone() for k, v in self.network.state_dict().items()}, set(self.target_kinds)
        try:
            task = shash2hex(context.mod)
            graphs = self.graphs(context, candidates)
            self.learn([Sample(g, task, mean_seconds(r.run_secs)) for g, r in zip(graphs, results)],
                       context.target.kind.name)
            if not all(torch.isfinite(p).all() for p in self.network.parameters()):
                raise FloatingPointError("training produced non-finite weights")
        except Exception as err:  # noqa: BLE001 - a failed update must not end a tuning run
            self._fault("update", err, "kept the weights from before this update")
            self.network.load_state_dict(good)
            self.target_kinds = kinds
            self.optimizer = self._new_optimizer()  # its moments may be non-finite too

    def learn(self, samples: list[Sample], kind: str) -> None:
        """``update`` once candidates are graphs: buffer the samples (measured on a ``kind`` target) and train.

        A network that already knows ``kind`` (pretrained, or trained earlier in the run)
        fine-tunes ``update_epochs`` right away; one that does not waits for ``min_samples``
        valid measurements, then trains ``first_epochs``.
        """
        self.buffer.extend(samples)
        self.num_updates += 1
        if kind in self.target_kinds:
            self._train(self.train_config.update_epochs, {kind})
        elif self.buffer.num_measured >= self.train_config.min_samples:
            self._train(self.train_config.first_epochs, {kind})

    def predict(self, context: TuneContext, candidates: list[MeasureCandidate]) -> np.ndarray:
        """Scores of candidates, float64, higher is better (random if the network fails, counted in ``faults``)."""
        if not candidates:
            return np.zeros(0, dtype=np.float64)
        kind = context.target.kind.name
        if kind not in self.target_kinds:
            if self.target_kinds and kind not in self._warned_kinds:
                self._warned_kinds.add(kind)
                logger.warning("GNNCostModel was trained on %s targets, not %r: it ranks %r candidates at random "
                               "until it has trained on their measurements", sorted(self.target_kinds), kind, kind)
            return self.rng.uniform(0.0, 1.0, size=len(candidates))
        try:
            return self.predict_graphs(self.graphs(context, candidates))[0]
        except Exception as err:  # noqa: BLE001 - a failed prediction must not end a tuning run
            self._fault("predict", err, "scored this batch at random, like the untrained model")
            return self.rng.uniform(0.0, 1.0, size=len(candidates))

    def _fault(self, method: str, err: Exception, fallback: str) -> None:
        """Count an exception caught in ``method``; log the first of each kind with its traceback."""
        self.faults[method] = self.faults.get(method, 0) + 1
        if self.faults[method] == 1:
            logger.error("GNNCostModel.%s failed (%s: %s); %s. Later failures of %s are counted, not logged.",
                         method, type(err).__name__, err, fallback, method, exc_info=err)

    # ---- plain-array API used by benchmarks and training scripts -------------------------

    def graphs(self, context: TuneContext, candidates: list[MeasureCandidate]) -> list[StageGraph]:
        """Stage graphs of candidates (TVM's C++ store features run on ``context.num_threads``).

        Graphs are cached by the structural hash of the candidate's module (bounded LRU).
        """
        return self.graph_cache.get(context, candidates, self._extractor)

    def predict_graphs(self, graphs: list[StageGraph]) -> tuple[np.ndarray, np.ndarray]:
        """(score, predicted log-seconds) of stage graphs."""
        return predict_graphs(self.network, graphs)

    def train_on(self, samples: list[Sample], *, epochs: int, target_kinds: Iterable[str]) -> float:
        """Offline training: add samples (of any number of tasks, measured on targets of
        ``target_kinds``) to the buffer and train ``epochs`` passes."""
        self.buffer.extend(samples)
        return self._train(epochs, set(target_kinds))

    def _train(self, epochs: int, kinds: set[str]) -> float:
        """Train on the replay buffer (targets normalised per task by its best times)."""
        samples = list(self.buffer.samples)
        throughput, log_latency, tasks = self.buffer.targets(samples)
        loss = fit(
            self.network,
            self.optimizer,
            [s.graph for s in samples],
            throughput,
            log_latency,
            tasks,
            epochs=epochs,
            config=self.train_config,
            generator=self.rng,
            anchor=self.anchor,
        )
        self.target_kinds |= kinds
        return loss
