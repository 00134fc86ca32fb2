"""The bootstrap head ensemble behind GNNLearner.spread, on hand-made graphs (no TVM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_learner import _samples
from test_model import chain, run

from tvm_gnn_cost.nn import GNNConfig, GNNLearner, StageGNN, TrainConfig
from tvm_gnn_cost.nn.ensemble import HeadEnsemble, _embeddings, _read


def _pairwise(score: np.ndarray, seconds: np.ndarray) -> float:
    faster = seconds[:, None] < seconds[None, :]
    return float((score[:, None] > score[None, :])[faster].mean())


@pytest.mark.parametrize("readout", ["pooled", "stages"])
def test_rows_gathered_for_a_member_read_as_the_network_reads_its_graphs(readout):
    torch.manual_seed(0)
    network = StageGNN(GNNConfig(hidden=16, readout=readout)).eval()
    graphs = [chain(n, n) for n in (2, 4, 3, 5)]
    rows, offsets = _embeddings(network, graphs)
    picked = np.array([2, 0, 2, 3])  # out of order, with a repeat: a bootstrap batch
    with torch.no_grad():
        score, log_latency = _read(network, network.head, rows, offsets, picked)
        expected = run(network, [graphs[i] for i in picked])
    torch.testing.assert_close(score, expected[0])
    torch.testing.assert_close(log_latency, expected[1])


def test_an_untrained_learner_or_too_few_measurements_spread_nothing():
    learner = GNNLearner(config=GNNConfig(hidden=16), seed=0)
    graphs = [s.graph for s in _samples(5, 1)]
    assert np.array_equal(learner.spread(graphs), np.zeros(5))
    learner.train(_samples(6, 0), epochs=1, target_kinds={"llvm"})  # under MIN_SAMPLES valid measurements
    assert np.array_equal(learner.spread(graphs), np.zeros(5)) and not learner.ensemble.fitted
    with pytest.raises(ValueError, match="at least 2"):
        HeadEnsemble(1)


def test_members_learn_the_rule_and_disagree_where_they_are_unsure():
    learner = GNNLearner(config=GNNConfig(hidden=32), train_config=TrainConfig(max_steps=10**9), seed=0)
    learner.train(_samples(96, 0), epochs=20, target_kinds={"llvm"})
    test = _samples(64, 1)
    graphs, seconds = [s.graph for s in test], np.array([s.seconds for s in test])
    spread = learner.spread(graphs)
    assert spread.shape == (64,) and np.isfinite(spread).all() and (spread >= 0).all() and spread.std() > 0
    rows, offsets = _embeddings(learner.network, graphs)
    with torch.no_grad():
        members = [_read(learner.network, head, rows, offsets, np.arange(64))[0].numpy()
                   for head in learner.ensemble.heads]
    assert len(members) == 8 and min(_pairwise(m, seconds) for m in members) > 0.7  # each ranks by the rule
    assert len({round(float(m[0]), 6) for m in members}) == 8  # from fresh initialisations: all different


def test_the_ensemble_refits_only_after_the_buffer_or_the_weights_change():
    learner = GNNLearner(config=GNNConfig(hidden=16), train_config=TrainConfig(min_samples=8, first_epochs=2,
                                                                              update_epochs=1), seed=0)
    learner.learn(_samples(32, 0), "llvm")
    graphs = [s.graph for s in _samples(16, 1)]
    first = learner.spread(graphs)
    heads = list(learner.ensemble.heads)
    assert np.array_equal(learner.spread(graphs), first) and learner.ensemble.heads == heads  # not refitted
    learner.learn(_samples(16, 2), "llvm")
    assert learner.ensemble.heads == heads  # refitted when next asked, not at every update
    again = learner.spread(graphs)
    assert learner.ensemble.heads != heads and not np.array_equal(again, first)
