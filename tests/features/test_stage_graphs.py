"""Stage graphs of real candidates: nodes, edges and the store-row mapping match the TIR."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tvm import te, tirx

from tvm_gnn_cost.datasets.workloads import get_workload
from tvm_gnn_cost.features.cache import StageGraphCache
from tvm_gnn_cost.features.extraction import extract_stage_graphs
from tvm_gnn_cost.nn.graph import EDGE_FEATURES, EdgeType, HAS_ROW_COLUMN, NODE_FEATURES, STORE_NUM_LOOPS, STORE_OUTER_PROD, STRUCTURE_COLUMN, STRUCTURE_FEATURES
from tvm_gnn_cost.search.measure import host_target, sample_candidates, tune_context

WORKLOADS = ["gemm-256", "conv2d-14x14x64", "conv2d-bias-relu-14x14x64"]


def tir_blocks(sch):
    """The schedule's leaf blocks, as TVM's schedule API lists them."""
    return [sch.get(rv) for rv in sch.get_child_blocks(sch.get_sblock("root"))]


def dataflow_pairs(blocks):
    """(producer, consumer) name pairs from block read/write regions."""
    pairs = set()
    for p in blocks:
        for c in blocks:
            if p is not c and {w.source.name for w in p.writes} & {r.source.name for r in c.reads}:
                pairs.add((p.name_hint, c.name_hint))
    return pairs


@pytest.fixture(scope="module", params=WORKLOADS)
def task_graphs(request, make_context):
    context = make_context(request.param)
    candidates = sample_candidates(context, 40, seed=11)
    return context, candidates, extract_stage_graphs(context, candidates)


def test_nodes_and_dataflow_edges_match_tir(task_graphs):
    _, candidates, graphs = task_graphs
    for cand, graph in zip(candidates, graphs):
        blocks = tir_blocks(cand.sch)
        assert sorted(graph.block_names) == sorted(b.name_hint for b in blocks)
        assert graph.x.shape == (len(blocks), NODE_FEATURES)
        assert graph.edge_attr.shape == (graph.num_edges, EDGE_FEATURES)
        expected = dataflow_pairs(blocks)
        assert set(graph.edges_of(EdgeType.DATAFLOW)) == expected
        assert set(graph.edges_of(EdgeType.DATAFLOW_REVERSE)) == {(c, p) for p, c in expected}
        typed = {(s, t, k) for (s, t), k in zip(graph.edge_index.T.tolist(), graph.edge_attr[:, :4].argmax(1))}
        assert len(typed) == graph.num_edges, "duplicate edges"


def test_store_rows_map_to_the_blocks_they_describe(task_graphs):
    """PerStoreFeature's own loop-nest features (group 5) equal the structure computed for the block."""
    _, _, graphs = task_graphs
    prod = STRUCTURE_COLUMN + STRUCTURE_FEATURES.index("loop_extent_prod")
    nonunit = STRUCTURE_COLUMN + STRUCTURE_FEATURES.index("nonunit_loops")
    has_row = HAS_ROW_COLUMN
    for graph in graphs:
        rows = graph.x[graph.x[:, has_row] > 0]
        assert len(rows) >= 1
        np.testing.assert_allclose(rows[:, STORE_OUTER_PROD], rows[:, prod], atol=1e-4)
        np.testing.assert_allclose(rows[:, STORE_NUM_LOOPS], rows[:, nonunit], atol=1e-4)
        # reduction init blocks store constants: PerStoreFeature gives them no row
        for name, flag in zip(graph.block_names, graph.x[:, has_row]):
            assert flag == (0.0 if name.endswith("_init") else 1.0), name


def test_gemm_with_cache_write_has_the_expected_graph(make_context):
    context = make_context("gemm-256")
    candidates = sample_candidates(context, 40, seed=3)
    graphs = extract_stage_graphs(context, candidates)
    graph = next(g for g in graphs if g.block_names == ("C_init", "C_update", "C_global"))
    assert set(graph.edges_of(EdgeType.DATAFLOW)) == {
        ("C_init", "C_update"), ("C_init", "C_global"), ("C_update", "C_global")
    }
    assert set(graph.edges_of(EdgeType.SAME_BUFFER)) == {("C_init", "C_update"), ("C_update", "C_init")}
    # the cache-write stage is computed at a loop of the update: they share that loop
    assert ("C_update", "C_global") in set(graph.edges_of(EdgeType.LOOP_SHARED))


def test_fused_conv2d_bias_relu_is_one_graph_with_an_epilogue(make_context):
    context = make_context("conv2d-bias-relu-14x14x64")
    graphs = extract_stage_graphs(context, sample_candidates(context, 20, seed=5))
    for graph in graphs:
        assert "conv2d_nhwc_update" in graph.block_names
        # bias add is inlined into the relu: one epilogue stage that consumes the conv output
        assert "T_add" not in graph.block_names
        assert ("conv2d_nhwc_update", "compute") in set(graph.edges_of(EdgeType.DATAFLOW))


def test_layout_rewrite_blocks_have_no_store_row():
    """With a layout-free weight (as Relax marks it) RewriteLayout adds a pre-processing block,
    which PerStoreFeature drops before extraction: it gets no row, and the rest still map."""
    func = get_workload("conv2d-14x14x64").with_attr("layout_free_buffers", [1])
    context = tune_context(func, host_target(2), "conv2d-layout-free")
    candidates = sample_candidates(context, 20, seed=3)
    has_row = HAS_ROW_COLUMN
    prod = STRUCTURE_COLUMN + STRUCTURE_FEATURES.index("loop_extent_prod")
    for cand, graph in zip(candidates, extract_stage_graphs(context, candidates)):
        assert graph.block_names[0] == "weight_global"
        assert sorted(graph.block_names) == sorted(b.name_hint for b in tir_blocks(cand.sch))
        rows = dict(zip(graph.block_names, graph.x[:, has_row]))
        assert rows["weight_global"] == 0 and rows["conv2d_nhwc_update"] == 1
        with_row = graph.x[graph.x[:, has_row] > 0]
        np.testing.assert_allclose(with_row[:, STORE_OUTER_PROD], with_row[:, prod], atol=1e-4)


def test_graph_cache_returns_the_same_graphs_and_stays_bounded(make_context):
    context = make_context("gemm-128")
    candidates = sample_candidates(context, 12, seed=8)
    cache = StageGraphCache(capacity=8)
    direct = extract_stage_graphs(context, candidates[:6])
    cached = cache.get(context, candidates[:6] + candidates[:6])
    assert len(cached) == 12 and len(cache) <= 6
    assert cache.misses == len(cache) and cache.hits == 12 - len(cache)
    for a, b in zip(direct + direct, cached):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.edge_index, b.edge_index)
    assert cache.get(context, candidates[:1])[0] is cached[0]  # served from the cache
    cache.get(context, candidates)
    assert len(cache) == 8


def _relu(x: te.Tensor, inputs: list[te.Tensor], draw) -> te.Tensor:
    return te.compute(x.shape, lambda *i: te.max(x(*i), 0.0), name="relu")


def _exp_scale(x: te.Tensor, inputs: list[te.Tensor], draw) -> te.Tensor:
    return te.compute(x.shape, lambda *i: te.exp(x(*i)) * 0.5, name="exp")


def _residual(x: te.Tensor, inputs: list[te.Tensor], draw) -> te.Tensor:
    same = [t for t in inputs if [int(d) for d in t.shape] == [int(d) for d in x.shape]]
    other = draw(st.sampled_from(same)) if same else _placeholder(x.shape, inputs)
    return te.compute(x.shape, lambda *i: x(*i) + other(*i), name="add")


def _pad(x: te.Tensor, inputs: list[te.Tensor], draw) -> te.Tensor:
    dims = [int(d) for d in x.shape]

    def value(*i):
        inside = tirx.all(*[tirx.all(j >= 1, j < d + 1) for j, d in zip(i, dims)])
        return tirx.if_then_else(inside, x(*[j - 1 for j in i]), 0.0)

    return te.compute([d + 2 for d in dims], value, name="pad")


def _reduce_last(x: te.Tensor, inputs: list[te.Tensor], draw) -> te.Tensor:
    k = te.reduce_axis((0, x.shape[-1]), name="k")
    return te.compute(x.shape[:-1], lambda *i: te.sum(x(*i, k), axis=k), name="sum")


def _matmul(x: te.Tensor, inputs: list[te.Tensor], draw) -> te.Tensor:
    w = _placeholder((x.shape[1], draw(st.integers(1, 48))), inputs)
    k = te.reduce_axis((0, x.shape[1]), name="k")
    return te.compute((x.shape[0], w.shape[1]), lambda a, b: te.sum(x[a, k] * w[k, b], axis=k), name="matmul")


def _transpose(x: te.Tensor, inputs: list[te.Tensor], draw) -> te.Tensor:
    return te.compute((x.shape[1], x.shape[0]), lambda a, b: x[b, a], name="transpose")


def _placeholder(shape, inputs: list[te.Tensor]) -> te.Tensor:
    tensor = te.placeholder(shape, name=f"in{len(inputs)}")
    inputs.append(tensor)
    return tensor


_ANY_RANK = [_relu, _exp_scale, _residual, _pad]
_RANK_2 = [_reduce_last, _matmul, _transpose]


@st.composite
def programs(draw) -> tuple:
    """A random chain of the operators above on a random input shape, as a PrimFunc."""
    inputs: list[te.Tensor] = []
    x = _placeholder(draw(st.lists(st.integers(1, 40), min_size=1, max_size=3)), inputs)
    for _ in range(draw(st.integers(1, 5))):
        ops = _ANY_RANK + (_RANK_2 if len(x.shape) == 2 else [])
        x = draw(st.sampled_from(ops))(x, inputs, draw)
    return te.create_prim_func([*inputs, x])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(func=programs(), seed=st.integers(1, 2**20))
def test_graphs_of_random_programs_and_schedules_are_well_formed(func, seed):
    context = tune_context(func, host_target(2), "random-program")
    candidates = sample_candidates(context, 3, seed=seed)
    for cand, graph in zip(candidates, extract_stage_graphs(context, candidates)):
        blocks = tir_blocks(cand.sch)
        assert sorted(graph.block_names) == sorted(b.name_hint for b in blocks)
        assert graph.x.shape == (len(blocks), NODE_FEATURES) and np.isfinite(graph.x).all()
        assert set(np.unique(graph.x[:, HAS_ROW_COLUMN])) <= {0.0, 1.0}
        assert graph.edge_index.dtype == np.int64 and graph.edge_attr.shape == (graph.num_edges, EDGE_FEATURES)
        assert ((graph.edge_index >= 0) & (graph.edge_index < graph.num_nodes)).all()
        assert (graph.edge_index[0] != graph.edge_index[1]).all()  # no self loops
        assert np.isfinite(graph.edge_attr).all() and (graph.edge_attr[:, : len(EdgeType)].sum(1) == 1).all()
        pairs = dataflow_pairs(blocks)
        assert set(graph.edges_of(EdgeType.DATAFLOW)) == pairs
        assert set(graph.edges_of(EdgeType.DATAFLOW_REVERSE)) == {(c, p) for p, c in pairs}
        for kind in (EdgeType.LOOP_SHARED, EdgeType.SAME_BUFFER):  # both directions
            edges = set(graph.edges_of(kind))
            assert edges == {(t, s) for s, t in edges}
