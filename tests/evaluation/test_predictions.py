"""The ensemble predictor: members' scores averaged, their seconds averaged in log space."""

import numpy as np

from tvm_gnn_cost.evaluation import mean_predictor


def constant(scores: list[float], seconds: list[float] | None):
    """A predictor that ignores the task and returns ``scores`` and ``seconds`` at the positions asked for."""
    return lambda task, index: (np.asarray(scores)[index], None if seconds is None else np.asarray(seconds)[index])


def test_the_ensemble_averages_scores_and_takes_the_geometric_mean_of_seconds():
    index = np.array([2, 0])
    members = [constant([0.0, 1.0, 2.0], [1.0, 2.0, 4.0]), constant([2.0, 1.0, -2.0], [4.0, 2.0, 1.0])]
    scores, seconds = mean_predictor(members)(None, index)
    np.testing.assert_allclose(scores, [0.0, 1.0])
    np.testing.assert_allclose(seconds, [2.0, 2.0])


def test_one_member_without_seconds_leaves_the_ensemble_without_seconds():
    scores, seconds = mean_predictor([constant([1.0, 3.0], [1.0, 1.0]), constant([3.0, 5.0], None)])(None, np.arange(2))
    np.testing.assert_allclose(scores, [2.0, 4.0])
    assert seconds is None
