"""The residual booster: pack-sum rows, a correction learned from measurements, shrunk when they are few."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_learner import _samples

from tvm_gnn_cost.nn import GNNConfig, GNNLearner, TrainConfig
from tvm_gnn_cost.nn.residual import MIN_SAMPLES, ResidualBooster, pack_sum


def _pairwise(scores: np.ndarray, seconds: np.ndarray) -> float:
    return float(((scores[:, None] > scores[None, :])[seconds[:, None] < seconds[None, :]]).mean())


def test_pack_sum_adds_each_graphs_node_rows():
    graphs = [s.graph for s in _samples(5, 0)]
    np.testing.assert_allclose(pack_sum(graphs), np.stack([g.x.sum(0) for g in graphs]), rtol=1e-6)


def test_the_booster_learns_the_order_a_flat_margin_misses_and_needs_a_few_valid_samples():
    samples = _samples(64, 0)
    graphs = [s.graph for s in samples]
    log_seconds = np.log([s.seconds for s in samples])
    tasks = np.zeros(len(samples), dtype=np.int64)
    booster = ResidualBooster.fit(graphs, np.zeros(len(samples)), log_seconds, tasks)
    test = _samples(32, 1)
    assert _pairwise(booster.correction([s.graph for s in test]), np.array([s.seconds for s in test])) > 0.8
    few = np.full(len(samples), np.nan)
    few[: MIN_SAMPLES - 1] = log_seconds[: MIN_SAMPLES - 1]  # the rest failed
    assert ResidualBooster.fit(graphs, np.zeros(len(samples)), few, tasks) is None


def test_a_few_measurements_move_the_margin_less_than_they_are_off():
    samples = _samples(8, 0)
    graphs = [s.graph for s in samples]
    target = -np.log([s.seconds for s in samples])
    booster = ResidualBooster.fit(graphs, np.zeros(8), -target, np.zeros(8, dtype=np.int64))
    residual = target - target.mean()
    assert np.abs(booster.correction(graphs)).max() < np.abs(residual).max()  # L2 on the leaves shrinks it


def test_residual_fine_tuning_freezes_the_network_and_corrects_its_scores():
    learner = GNNLearner(config=GNNConfig(hidden=16), train_config=TrainConfig(finetune="residual"), seed=0)
    learner.train(_samples(16, 2), epochs=1, target_kinds={"llvm"})  # barely trained: much left to correct
    before = learner.snapshot()
    measured = _samples(64, 0)
    learner.learn(measured, "llvm")
    assert all(torch.equal(before[0][k], v) for k, v in learner.network.state_dict().items())
    assert learner.residual is not None
    test = _samples(32, 1)
    graphs, seconds = [s.graph for s in test], np.array([s.seconds for s in test])
    corrected = learner.log_throughput(graphs)
    np.testing.assert_allclose(corrected, learner.score_scale * learner.predict(graphs)[0]
                               + learner.residual.correction(graphs))
    assert _pairwise(corrected, seconds) > 0.8
    scores = learner.search_scores(graphs)
    assert scores.max() == 1.0 and (scores > 0).all()
    learner.rollback(before)
    assert learner.residual is None


def test_residual_from_adds_the_booster_to_fine_tuning_once_the_run_holds_enough_measurements():
    learner = GNNLearner(config=GNNConfig(hidden=16), train_config=TrainConfig(residual_from=64, update_epochs=1),
                         seed=0)
    learner.train(_samples(16, 2), epochs=1, target_kinds={"llvm"})
    trained = learner.snapshot()[0]
    learner.learn(_samples(32, 0), "llvm")
    assert learner.residual is None  # 48 measurements < 64: fine-tuning alone
    assert any(not torch.equal(trained[k], v) for k, v in learner.network.state_dict().items())
    learner.learn(_samples(32, 3), "llvm")
    assert learner.residual is not None  # 80 >= 64: fine-tuned, then corrected


def test_residual_from_must_not_be_negative():
    with pytest.raises(ValueError, match="residual_from"):
        TrainConfig(residual_from=-1)
