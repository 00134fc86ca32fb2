"""The search's scores: a fitted scale turns raw scores into log-throughput; the scores are non-negative and keep the order."""

from __future__ import annotations

import numpy as np
import pytest

from tvm_gnn_cost.nn.scores import MIN_SCALE, fit_score_scale, search_scores


def test_the_scale_is_recovered_within_tasks_whatever_their_offsets():
    rng = np.random.default_rng(0)
    tasks = np.repeat(np.arange(4), 50)
    log_seconds = rng.normal(-8, 1, size=200) + 3 * tasks  # tasks of very different speeds
    scores = -log_seconds / 2.5 + 100 * tasks + rng.normal(0, 0.01, size=200)  # any per-task offset
    log_seconds[::17] = np.nan  # failures are skipped
    assert fit_score_scale(scores, log_seconds, tasks) == pytest.approx(2.5, rel=0.02)


def test_a_model_against_the_measurements_gets_the_floor_and_no_signal_gets_one():
    log_seconds = np.log(np.arange(1.0, 11.0))
    assert fit_score_scale(log_seconds.copy(), log_seconds, np.zeros(10)) == MIN_SCALE  # faster scored lower
    assert fit_score_scale(np.ones(10), log_seconds, np.zeros(10)) == 1.0
    assert fit_score_scale(np.arange(3.0), np.full(3, np.nan), np.zeros(3)) == 1.0


def test_search_scores_are_non_negative_throughput_ratios_in_the_raw_order():
    raw = np.random.default_rng(1).normal(-5, 10, size=512)  # RankNet-like raw scores, mostly negative
    for scale in (MIN_SCALE, 0.3, 1.0, 4.0):
        scores = search_scores(raw, scale)
        assert scores.dtype == np.float64 and (scores > 0).all() and scores.max() == 1.0
        np.testing.assert_array_equal(np.argsort(scores, kind="stable"), np.argsort(raw, kind="stable"))
    np.testing.assert_allclose(search_scores(np.log([2.0, 1.0, 0.5]), 1.0), [1.0, 0.5, 0.25])
    assert search_scores(np.zeros(0), 1.0).shape == (0,)
    with pytest.raises(ValueError, match="positive"):
        search_scores(raw, 0.0)
