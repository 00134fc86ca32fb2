"""TimedCostModel: the same scores and updates as the model it wraps, with the seconds and counters added up."""

from __future__ import annotations

import numpy as np
from tvm.s_tir import meta_schedule as ms

from tvm_gnn_cost import TimedCostModel, make_cost_model
from tvm_gnn_cost.cost_model import COST_MODELS, GNNCostModel


def test_timed_model_passes_calls_through_and_adds_up_their_seconds(measured_gemm):
    context, candidates, results, _ = measured_gemm
    timed = TimedCostModel(ms.cost_model.RandomModel(seed=5))
    np.testing.assert_array_equal(timed.predict(context, candidates[:16]),
                                  ms.cost_model.RandomModel(seed=5).predict(context, candidates[:16]))
    timed.update(context, candidates[:16], results[:16])
    assert timed.seconds["predict"] > 0 and timed.seconds["update"] > 0
    assert np.array_equal(timed.spread(context, candidates[:16]), np.zeros(16))  # XGB-like models have none
    assert set(timed.stats()) == {"cost_model_predict_seconds", "cost_model_update_seconds",
                                  "cost_model_spread_seconds"}


def test_timed_gnn_reports_its_graph_cache_and_faults(measured_gemm):
    context, candidates, results, _ = measured_gemm
    timed = TimedCostModel(make_cost_model("gnn", seed=0))
    timed.predict(context, candidates[:8])
    timed.predict(context, candidates[:8])
    stats = timed.stats()
    assert stats["graph_cache_misses"] == 8 and stats["graph_cache_hits"] == 8
    timed.update(context, candidates[:16], results[:16])
    assert timed.spread(context, candidates[:8]).max() > 0 and timed.seconds["spread"] > 0  # the GNN's, timed
    timed.inner.faults["update"] = 2  # what GNNCostModel counts when an update fails and is rolled back
    assert timed.stats()["cost_model_update_faults"] == 2


def test_the_registry_builds_every_name_and_refuses_unknown_ones():
    built = {name: make_cost_model(name, seed=1, num_cores=2) for name in COST_MODELS}
    assert isinstance(built["gnn"], GNNCostModel) and built["gnn"].learner.anchor is not None
    assert built["gnn-scratch"].learner.anchor is None and built["gnn-nomp"].learner.config.num_layers == 0
    assert isinstance(built["xgb"], ms.cost_model.XGBModel) and built["xgb"].config.nthread == 2
    assert make_cost_model("xgb", seed=1, warmup=0).num_warmup_samples == 0
    try:
        make_cost_model("lightgbm", seed=1)
    except ValueError as err:
        assert "lightgbm" in str(err) and "xgb" in str(err)
    else:
        raise AssertionError("an unknown name was accepted")
