"""``GNNCostModel``: the stage-graph GNN as a MetaSchedule ``PyCostModel``.

A thin adapter over :class:`~tvm_gnn_cost.nn.GNNLearner`: candidates become stage graphs
(:mod:`~tvm_gnn_cost.features`, cached by structural hash), measurements become samples, and
the learner does the learning. It adds what tuning needs: a fallback that keeps a run going
when the network fails, and random scores for a target kind it has not trained on.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import numpy as np
import tvm_ffi
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.cost_model import PyCostModel
from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature
from tvm.s_tir.meta_schedule.utils import shash2hex

from ..features import StageGraphCache
from ..nn import GNNConfig, GNNLearner, Sample, StageGraph, TrainConfig, mean_seconds
from ..nn.checkpoint import CheckpointError

if TYPE_CHECKING:
    from tvm.s_tir.meta_schedule import MeasureCandidate, TuneContext
    from tvm.s_tir.meta_schedule.runner import RunnerResult

logger = logging.getLogger(__name__)

tvm_ffi.register_error(CheckpointError)  # keeps its type when raised through CostModel.load


@derived_object
class GNNCostModel(PyCostModel):
    """Rank MetaSchedule candidates with a GNN over their stage graphs.

    Use it wherever MetaSchedule takes a cost model::

        ms.tune_tir(mod, target, work_dir, max_trials_global=256, cost_model=GNNCostModel())

    ``predict`` returns float64 scores in (0, 1], higher meaning faster: the predicted
    throughput of each candidate over the batch's best (:mod:`~tvm_gnn_cost.nn.scores`), the
    scale ``XGBModel``'s normalised throughput has and ``EvolutionarySearch``'s
    score-proportional parent choice expects. By default the
    network starts from the shipped pretrained weights (:data:`~tvm_gnn_cost.nn.DEFAULT_WEIGHTS`,
    trained on CPU measurements of generated models, TVM's operator set, ResNet-50 and
    SqueezeNet), so it ranks ``llvm`` candidates from the first round, and each ``update``
    fine-tunes it on the task's measurements, pulled toward the pretrained weights
    (``TrainConfig.anchor_weight``).

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
        train_config: the online training schedule and recipe (default: the pretrained
            weights' own, or ``TrainConfig()`` from scratch).
        seed: seeds batch order, the warm-up scores and, from scratch, weight initialisation.
        graph_cache_size: stage graphs kept by structural hash of the scheduled module, so a
            schedule scored again skips feature extraction (0 disables the cache).
        ensemble: members of the bootstrap head ensemble behind :meth:`spread`.
    """

    def __init__(
        self,
        *,
        pretrained: bool | str | os.PathLike = True,
        config: GNNConfig | None = None,
        train_config: TrainConfig | None = None,
        seed: int = 0,
        graph_cache_size: int = 8192,
        ensemble: int = 8,
    ) -> None:
        super().__init__()
        self.learner = GNNLearner(pretrained=pretrained, config=config, train_config=train_config, seed=seed,
                                  ensemble=ensemble)
        self.graph_cache = StageGraphCache(graph_cache_size)
        self.faults: dict[str, int] = {}  # exceptions caught in predict / update, by method
        self._warned_kinds: set[str] = set()
        self._extractor = PerStoreFeature()

    # ---- PyCostModel interface -------------------------------------------------------

    def load(self, path: str) -> None:
        """Load weights, configs and optimizer state written by :meth:`save`."""
        self.learner.load(path)

    def save(self, path: str) -> None:
        """Write weights, configs and optimizer state (not the replay buffer) atomically."""
        self.learner.save(path)
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
        snapshot = self.learner.snapshot()
        try:
            task = shash2hex(context.mod)
            graphs = self.graphs(context, candidates)
            self.learner.learn([Sample(g, task, mean_seconds(r.run_secs)) for g, r in zip(graphs, results)],
                               context.target.kind.name)
            if not self.learner.finite():
                raise FloatingPointError("training produced non-finite weights")
        except Exception as err:  # noqa: BLE001 - a failed update must not end a tuning run
            self._fault("update", err, "kept the weights from before this update")
            self.learner.rollback(snapshot)

    def predict(self, context: TuneContext, candidates: list[MeasureCandidate]) -> np.ndarray:
        """Scores of candidates, float64 in (0, 1], higher is better (random if the network fails, counted in ``faults``)."""
        if not candidates:
            return np.zeros(0, dtype=np.float64)
        kind = context.target.kind.name
        known = self.learner.target_kinds
        if kind not in known:
            if known and kind not in self._warned_kinds:
                self._warned_kinds.add(kind)
                logger.warning("GNNCostModel was trained on %s targets, not %r: it ranks %r candidates at random "
                               "until it has trained on their measurements", sorted(known), kind, kind)
            return self.learner.random_scores(len(candidates))
        try:
            return self.learner.search_scores(self.graphs(context, candidates))
        except Exception as err:  # noqa: BLE001 - a failed prediction must not end a tuning run
            self._fault("predict", err, "scored this batch at random, like the untrained model")
            return self.learner.random_scores(len(candidates))

    def spread(self, context: TuneContext, candidates: list[MeasureCandidate]) -> np.ndarray:
        """How unsure the model is of each candidate, in :meth:`predict`'s units (for
        :class:`~tvm_gnn_cost.search.guided.GuidedSearch`'s ``spread=``).

        Its bootstrap head ensemble's sd of log-throughput (:mod:`~tvm_gnn_cost.nn.ensemble`,
        refitted on the first call after an ``update``) times the score, the first-order change
        of ``exp``. Zeros before 8 valid measurements, where ``predict`` is random, and if it
        fails (counted in ``faults``).
        """
        zeros = np.zeros(len(candidates), dtype=np.float64)
        if not candidates or context.target.kind.name not in self.learner.target_kinds:
            return zeros
        try:
            graphs = self.graphs(context, candidates)
            return self.learner.search_scores(graphs) * self.learner.spread(graphs)
        except Exception as err:  # noqa: BLE001 - a failed spread must not end a tuning run
            self._fault("spread", err, "no exploration bonus for this batch")
            return zeros

    def graphs(self, context: TuneContext, candidates: list[MeasureCandidate]) -> list[StageGraph]:
        """Stage graphs of candidates (TVM's C++ store features run on ``context.num_threads``).

        Graphs are cached by the structural hash of the candidate's module (bounded LRU).
        """
        return self.graph_cache.get(context, candidates, self._extractor)

    def _fault(self, method: str, err: Exception, fallback: str) -> None:
        """Count an exception caught in ``method``; log the first of each kind with its traceback."""
        self.faults[method] = self.faults.get(method, 0) + 1
        if self.faults[method] == 1:
            logger.error("GNNCostModel.%s failed (%s: %s); %s. Later failures of %s are counted, not logged.",
                         method, type(err).__name__, err, fallback, method, exc_info=err)
