"""GNNLearner on hand-made graphs: it learns an order, keeps its schedule, saves and reloads, and needs no TVM."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from test_model import chain

from tvm_gnn_cost.nn import GNNConfig, GNNLearner, Sample, TrainConfig
from tvm_gnn_cost.nn.checkpoint import CheckpointError


def _samples(n: int, seed: int, task: str = "t") -> list[Sample]:
    """Chains whose time grows with their first feature: a rule a network can learn."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(n):
        graph = chain(int(rng.integers(2, 5)), seed * 1000 + i)
        graph.x[:, 1:] *= 0.01  # small noise beside the feature that sets the time
        graph.x[:, 0] = rng.uniform(0, 4)
        samples.append(Sample(graph, task, float(1e-4 * (1 + graph.x[0, 0]))))
    return samples


def test_a_learner_trained_offline_ranks_unseen_graphs_of_the_rule():
    learner = GNNLearner(config=GNNConfig(hidden=32), train_config=TrainConfig(max_steps=10**9), seed=0)
    assert not learner.trained
    learner.train(_samples(96, 0), epochs=30, target_kinds={"llvm"})
    assert learner.trained and learner.target_kinds == {"llvm"}
    test = _samples(32, 1)
    scores, log_seconds = learner.predict([s.graph for s in test])
    seconds = np.array([s.seconds for s in test])
    faster = seconds[:, None] < seconds[None, :]
    assert ((scores[:, None] > scores[None, :])[faster]).mean() > 0.8
    assert scores.dtype == log_seconds.dtype == np.float64


def test_online_learning_waits_for_min_samples_then_fine_tunes_every_round():
    learner = GNNLearner(config=GNNConfig(hidden=16), train_config=TrainConfig(min_samples=16, first_epochs=2,
                                                                              update_epochs=1), seed=0)
    before = learner.snapshot()
    learner.learn(_samples(8, 0), "llvm")
    assert not learner.trained and all(torch.equal(before[0][k], v) for k, v in learner.network.state_dict().items())
    learner.learn(_samples(8, 1), "llvm")  # 16 measured: the first training
    assert learner.trained and learner.num_updates == 2
    trained = learner.snapshot()
    learner.learn(_samples(4, 2), "llvm")  # known kind: fine-tunes at once
    assert any(not torch.equal(trained[0][k], v) for k, v in learner.network.state_dict().items())
    learner.rollback(trained)
    assert all(torch.equal(trained[0][k], v) for k, v in learner.network.state_dict().items())


def test_save_and_load_restore_the_learner_and_the_same_seed_gives_the_same_scores(tmp_path):
    learner = GNNLearner(config=GNNConfig(hidden=16), seed=3)
    learner.train(_samples(40, 0), epochs=2, target_kinds={"llvm"})
    learner.save(tmp_path / "l.pt")
    other = GNNLearner(seed=0)
    other.load(tmp_path / "l.pt")
    graphs = [s.graph for s in _samples(8, 5)]
    np.testing.assert_array_equal(other.predict(graphs)[0], learner.predict(graphs)[0])
    assert other.config == learner.config and other.target_kinds == {"llvm"} and other.seed == 3
    np.testing.assert_array_equal(GNNLearner(seed=4).random_scores(5), GNNLearner(seed=4).random_scores(5))
    started = GNNLearner(pretrained=tmp_path / "l.pt")  # a starting point: anchored to those weights
    assert started.anchor is not None and started.trained
    with pytest.raises(ValueError, match="differs from the pretrained"):
        GNNLearner(pretrained=tmp_path / "l.pt", config=GNNConfig(hidden=8))
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        GNNLearner(pretrained=tmp_path / "missing.pt")


def test_a_format_1_checkpoint_loads_as_a_network_without_the_cpu_input(tmp_path):
    GNNLearner(config=GNNConfig(hidden=16, cpu_features=0), seed=1).save(tmp_path / "new.pt")
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    del payload["model_config"]["cpu_features"]  # what format 1 wrote: no such field, no such weights
    torch.save({**payload, "format_version": 1}, tmp_path / "v1.pt")
    old = GNNLearner(pretrained=tmp_path / "v1.pt")
    assert old.config.cpu_features == 0 and old.network.cpu_encoder is None
    graphs = [s.graph for s in _samples(4, 2)]
    np.testing.assert_array_equal(old.predict(graphs)[0], GNNLearner(pretrained=tmp_path / "new.pt").predict(graphs)[0])


def test_the_learner_trains_and_predicts_without_importing_tvm():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from tvm_gnn_cost.nn import EDGE_FEATURES, NODE_FEATURES, GNNLearner, Sample, StageGraph
        graphs = [StageGraph(np.random.default_rng(i).random((3, NODE_FEATURES), dtype=np.float32),
                             np.array([[0, 1], [1, 2]]), np.ones((2, EDGE_FEATURES), np.float32), ("a", "b", "c"))
                  for i in range(40)]
        learner = GNNLearner(pretrained=True)
        learner.train([Sample(g, "t", 1e-4 * (1 + i)) for i, g in enumerate(graphs)], epochs=1, target_kinds={"llvm"})
        assert learner.predict(graphs)[0].shape == (40,)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tvm", "tvm_ffi"))
        assert not loaded, loaded
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_search_scores_are_throughput_ratios_in_the_raw_order_with_a_scale_that_is_kept(tmp_path):
    learner = GNNLearner(config=GNNConfig(hidden=32), train_config=TrainConfig(max_steps=10**9), seed=0)
    assert learner.score_scale == 1.0
    learner.train(_samples(96, 0), epochs=20, target_kinds={"llvm"})
    assert learner.score_scale > 0.05  # fitted: raw score differences follow the measured times
    graphs = [s.graph for s in _samples(64, 1)]
    raw, scores = learner.predict(graphs)[0], learner.search_scores(graphs)
    assert (scores > 0).all() and scores.max() == 1.0
    np.testing.assert_array_equal(np.argsort(scores, kind="stable"), np.argsort(raw, kind="stable"))
    snapshot = learner.snapshot()
    learner.score_scale = 9.0
    learner.rollback(snapshot)
    assert learner.score_scale == snapshot[2]
    learner.save(tmp_path / "l.pt")
    loaded = GNNLearner(pretrained=tmp_path / "l.pt")
    assert loaded.score_scale == learner.score_scale and loaded.train_config == learner.train_config


def test_a_pretrained_learner_keeps_the_recipe_it_was_trained_with_unless_told_otherwise(tmp_path):
    recipe = TrainConfig(rank_loss="lambdarank", group_tasks=4)
    GNNLearner(config=GNNConfig(hidden=16), train_config=recipe, seed=0).save(tmp_path / "l.pt")
    assert GNNLearner(pretrained=tmp_path / "l.pt").train_config == recipe
    assert GNNLearner(pretrained=tmp_path / "l.pt", train_config=TrainConfig()).train_config == TrainConfig()
