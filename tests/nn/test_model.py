"""StageGNN on tiny hand-made graphs (no TVM)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from tvm_gnn_cost.nn.data import collate
from tvm_gnn_cost.nn.graph import CPU_FEATURES, EDGE_FEATURES, EdgeType, NODE_FEATURES, StageGraph
from tvm_gnn_cost.nn.model import GNNConfig, StageGNN


def chain(n: int, seed: int, with_edges: bool = True) -> StageGraph:
    """n stages in a producer -> consumer chain."""
    rng = np.random.default_rng(seed)
    src = np.arange(n - 1) if with_edges else np.zeros(0, dtype=np.int64)
    edge_index = np.stack([src, src + 1]).astype(np.int64)
    edge_attr = np.zeros((edge_index.shape[1], EDGE_FEATURES), dtype=np.float32)
    edge_attr[:, EdgeType.DATAFLOW] = 1.0
    x = rng.uniform(0, 10, size=(n, NODE_FEATURES)).astype(np.float32)
    return StageGraph(x, edge_index, edge_attr, tuple(f"b{i}" for i in range(n)))


def run(model: StageGNN, graphs: list[StageGraph]):
    batch = collate(graphs)
    return model(batch.x, batch.edge_index, batch.edge_attr, batch.batch, len(graphs), batch.cpu_features)


def test_collate_offsets_edges_and_assigns_graphs():
    batch = collate([chain(3, 0), chain(2, 1)])
    assert batch.x.shape == (5, NODE_FEATURES)
    assert batch.edge_index.tolist() == [[0, 1, 3], [1, 2, 4]]
    assert batch.batch.tolist() == [0, 0, 0, 1, 1]
    assert batch.num_graphs == 2


def test_outputs_have_one_score_and_latency_per_graph():
    torch.manual_seed(0)
    model = StageGNN(GNNConfig()).eval()
    score, log_latency = run(model, [chain(3, 0), chain(1, 1), chain(5, 2)])
    assert score.shape == (3,) and log_latency.shape == (3,)
    assert torch.isfinite(score).all() and torch.isfinite(log_latency).all()


def test_messages_flow_along_edges_only_when_enabled():
    torch.manual_seed(0)
    with_edges, without = chain(4, 3), chain(4, 3, with_edges=False)
    gnn = StageGNN(GNNConfig(num_layers=2)).eval()
    assert not torch.allclose(run(gnn, [with_edges])[0], run(gnn, [without])[0])
    ablation = StageGNN(GNNConfig(num_layers=0)).eval()
    torch.testing.assert_close(run(ablation, [with_edges])[0], run(ablation, [without])[0])


def test_prediction_does_not_depend_on_batch_neighbours():
    torch.manual_seed(0)
    model = StageGNN(GNNConfig()).eval()
    alone = run(model, [chain(3, 0)])[0]
    together = run(model, [chain(2, 5), chain(3, 0), chain(4, 6)])[0][1:2]
    torch.testing.assert_close(alone, together)


def test_the_cpu_enters_the_prediction_unless_the_network_has_no_cpu_input():
    torch.manual_seed(0)
    graph = chain(4, 0)
    wide, narrow = (replace(graph, cpu=np.array([v, 1, 0.2, 0.8, 0.8, 0.9], dtype=np.float32)) for v in (1.0, 0.5))
    assert collate([graph, wide]).cpu_features.tolist()[0] == [0.0] * len(CPU_FEATURES)  # unknown CPU: zeros
    model = StageGNN(GNNConfig()).eval()
    with torch.no_grad():
        assert not torch.allclose(run(model, [wide])[0], run(model, [narrow])[0])
        blind = StageGNN(GNNConfig(cpu_features=0)).eval()  # a format-1 network
        assert torch.equal(run(blind, [wide])[0], run(blind, [narrow])[0])
        batch = collate([wide])
        with pytest.raises(ValueError, match="CPU's features"):
            model(batch.x, batch.edge_index, batch.edge_attr, batch.batch, 1)


def test_a_fitted_input_norm_standardises_each_feature_and_is_saved_with_the_weights():
    graphs = [chain(3, i) for i in range(20)]
    model = StageGNN(GNNConfig(input_norm="fitted")).eval()
    x = torch.from_numpy(np.concatenate([g.x for g in graphs]))
    x[:, 5] = 7.0  # a constant feature maps to 0, it does not divide by zero
    model.input_norm.fit(x)
    z = model.input_norm(x)
    assert torch.allclose(z.mean(0), torch.zeros(NODE_FEATURES), atol=1e-4)
    assert torch.allclose(z[:, 5], torch.zeros(len(x))) and torch.allclose(z.std(0, unbiased=False)[:5], torch.ones(5))
    assert {"input_norm.mean", "input_norm.std"} <= set(model.state_dict())
    with pytest.raises(ValueError, match="input_norm"):
        GNNConfig(input_norm="batch")


def test_dropout_acts_in_training_only_and_keeps_the_weights_names():
    torch.manual_seed(0)
    model = StageGNN(GNNConfig(dropout=0.5))
    assert set(model.state_dict()) == set(StageGNN(GNNConfig()).state_dict())  # old checkpoints still load
    graphs = [chain(3, 0), chain(4, 1)]
    model.eval()
    assert torch.equal(run(model, graphs)[0], run(model, graphs)[0])
    model.train()
    assert not torch.equal(run(model, graphs)[0], run(model, graphs)[0])


def test_a_stage_readout_adds_up_per_stage_scores_and_times():
    torch.manual_seed(0)
    model = StageGNN(GNNConfig(readout="stages", num_layers=0)).eval()  # no messages: each stage on its own
    graphs = [chain(3, 0), chain(2, 1)]
    score, log_latency = run(model, graphs)
    stages = [run(model, [StageGraph(g.x[i:i + 1], np.zeros((2, 0), np.int64), g.edge_attr[:0], ("b",))])
              for g in graphs for i in range(g.num_nodes)]
    torch.testing.assert_close(score, torch.stack([sum(s[0] for s in stages[:3]), sum(s[0] for s in stages[3:])])[:, 0])
    seconds = [torch.exp(s[1]) for s in stages]
    torch.testing.assert_close(log_latency, torch.log(torch.stack([sum(seconds[:3]), sum(seconds[3:])]))[:, 0])
    with pytest.raises(ValueError, match="readout"):
        GNNConfig(readout="mean")
