"""Metric definitions on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from tvm_gnn_cost.evaluation.metrics import TaskPrediction, kendall_tau, pairwise_accuracy, percentage_errors, summarize, top_k_score

NAN = np.nan


def test_pairwise_accuracy_counts_ordered_pairs_and_skips_failures():
    seconds = np.array([1.0, 2.0, 3.0, NAN])
    assert pairwise_accuracy(np.array([3.0, 2.0, 1.0, 9.0]), seconds) == 1.0
    assert pairwise_accuracy(np.array([1.0, 2.0, 3.0, 9.0]), seconds) == 0.0
    # two pairs right, one tied (2 s and 3 s scored equal: half a point)
    assert pairwise_accuracy(np.array([3.0, 1.0, 1.0, 0.0]), seconds) == pytest.approx((1 + 1 + 0.5) / 3)
    assert np.isnan(pairwise_accuracy(np.array([1.0, 2.0]), np.array([1.0, NAN])))


def test_kendall_tau_is_one_for_the_same_order():
    seconds = np.array([1.0, 2.0, 4.0, NAN])
    assert kendall_tau(np.array([9.0, 5.0, 1.0, 0.0]), seconds) == pytest.approx(1.0)
    assert kendall_tau(np.array([1.0, 5.0, 9.0, 0.0]), seconds) == pytest.approx(-1.0)


def test_top_k_is_tenset_weighted_ratio_and_failed_picks_cost():
    a = TaskPrediction(weight=2.0, seconds=np.array([1.0, 2.0, 4.0]), scores=np.array([0.0, 1.0, 2.0]))
    b = TaskPrediction(weight=1.0, seconds=np.array([NAN, 3.0, 6.0]), scores=np.array([1.0, 0.0, -1.0]))
    # top-1: a picks 4.0 (best 1.0); b picks a failure, counted as its slowest valid time (6.0)
    assert top_k_score([a, b], 1) == pytest.approx((2 * 1.0 + 1 * 3.0) / (2 * 4.0 + 6.0))
    assert top_k_score([a], 1) == pytest.approx(0.25)
    assert top_k_score([a, b], 2) == pytest.approx((2 * 1.0 + 3.0) / (2 * 2.0 + 3.0))
    assert top_k_score([a, b], 5) == 1.0


def test_percentage_errors_and_summary():
    t = TaskPrediction(1.0, np.array([1.0, 2.0, NAN]), np.array([1.0, 0.0, 0.5]), np.array([1.5, 1.0, 7.0]))
    assert percentage_errors([t]) == pytest.approx([0.5, 0.5])
    summary = summarize([t])
    assert summary["mape"] == pytest.approx(0.5) and summary["median_ape"] == pytest.approx(0.5)
    assert summary["pairwise_accuracy"] == 1.0 and summary["top1"] == 1.0
    no_latency = summarize([TaskPrediction(1.0, t.seconds, t.scores)])
    assert no_latency["mape"] is None and no_latency["median_ape"] is None
