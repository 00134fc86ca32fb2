"""GNNCostModel's MetaSchedule contract on real, measured candidates."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau
from tvm.s_tir.meta_schedule.runner import RunnerResult

from tvm_gnn_cost import CheckpointError, GNNCostModel, TrainConfig
from tvm_gnn_cost.checkpoint import FORMAT_VERSION


def pairwise_accuracy(scores: np.ndarray, seconds: np.ndarray) -> float:
    """Fraction of pairs with different times whose scores order them right (faster = higher)."""
    i, j = np.triu_indices(len(seconds), k=1)
    keep = seconds[i] != seconds[j]
    return float(np.mean((scores[i] > scores[j])[keep] == (seconds[i] < seconds[j])[keep]))


@pytest.fixture(scope="module")
def trained(measured_gemm):
    """A model updated on the first 64 measured candidates; the last 32 are held out."""
    context, candidates, results, _ = measured_gemm
    model = GNNCostModel(seed=0)
    model.update(context, candidates[:32], results[:32])
    model.update(context, candidates[32:64], results[32:64])
    return model


def test_predict_contract_before_training(measured_gemm):
    context, candidates, _, _ = measured_gemm
    model = GNNCostModel(seed=3)
    scores = model.predict(context, candidates[:10])
    assert scores.dtype == np.float64 and scores.shape == (10,)
    assert np.all((scores >= 0) & (scores < 1))  # documented warm-up: uniform random scores
    np.testing.assert_array_equal(GNNCostModel(seed=3).predict(context, candidates[:10]), scores)


def test_update_then_predict_ranks_held_out_candidates(trained, measured_gemm):
    context, candidates, _, seconds = measured_gemm
    scores = trained.predict(context, candidates[64:])
    assert scores.dtype == np.float64 and scores.shape == (32,) and np.all(np.isfinite(scores))
    ok = np.isfinite(seconds[64:])
    accuracy = pairwise_accuracy(scores[ok], seconds[64:][ok])
    tau = kendalltau(scores[ok], -seconds[64:][ok]).statistic
    assert accuracy > 0.6, accuracy  # chance is 0.5; higher score must mean faster
    assert tau > 0.2, tau


def test_latency_head_predicts_the_right_magnitude(trained, measured_gemm):
    context, candidates, _, seconds = measured_gemm
    _, log_seconds = trained.predict_graphs(trained.graphs(context, candidates[64:]))
    ok = np.isfinite(seconds[64:])
    error = np.abs(log_seconds[ok] - np.log(seconds[64:][ok]))
    assert np.median(error) < np.log(3.0)  # median within 3x of the measured time


def test_failed_results_never_become_latencies(measured_gemm):
    context, candidates, results, _ = measured_gemm
    failed = [RunnerResult(None, "build failed"), RunnerResult([], None), RunnerResult([float("nan")], None)]
    model = GNNCostModel(seed=0, train_config=TrainConfig(min_samples=2))
    model.update(context, candidates[:3], failed)
    assert [s.seconds for s in model.buffer.samples] == [None, None, None]
    assert not model.trained  # nothing measured, nothing learned
    model.update(context, candidates[3:6], results[3:6])
    throughput, log_latency, _ = model.buffer.targets(list(model.buffer.samples))
    assert np.all(throughput[:3] == 0) and np.all(np.isnan(log_latency[:3]))
    assert np.all(throughput[3:] > 0) and throughput.max() == 1.0


def test_save_load_round_trip_gives_identical_predictions(trained, measured_gemm, tmp_path):
    context, candidates, _, _ = measured_gemm
    path = tmp_path / "model.pt"
    trained.save(str(path))
    restored = GNNCostModel(seed=99)
    restored.load(str(path))
    np.testing.assert_array_equal(restored.predict(context, candidates), trained.predict(context, candidates))


def test_load_rejects_other_versions_architectures_and_pickles(trained, tmp_path):
    path = tmp_path / "model.pt"
    trained.save(str(path))
    payload = torch.load(path, weights_only=True)

    torch.save({**payload, "format_version": FORMAT_VERSION + 1}, tmp_path / "v.pt")
    with pytest.raises(CheckpointError, match="format version"):
        GNNCostModel().load(str(tmp_path / "v.pt"))

    torch.save({**payload, "architecture": "SomethingElse"}, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="architecture"):
        GNNCostModel().load(str(tmp_path / "a.pt"))

    torch.save({**payload, "model_config": {**payload["model_config"], "hidden": 32}}, tmp_path / "h.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        GNNCostModel().load(str(tmp_path / "h.pt"))

    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump(_Payload(str(marker)), f)
    with pytest.raises(CheckpointError, match="evil.pt"):
        GNNCostModel().load(str(tmp_path / "evil.pt"))
    assert not marker.exists()

    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cut.pt"):
        GNNCostModel().load(str(tmp_path / "cut.pt"))


class _Payload:
    """A pickle that would create a file if it were ever unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _fail_forward(model: GNNCostModel):
    """Make the network raise on every forward pass (a hook, so the model's own code runs unchanged)."""
    def hook(module, args):
        raise RuntimeError("injected predict failure")

    return model.network.register_forward_pre_hook(hook)


def _nan_when_training(model: GNNCostModel):
    """Make training drive the weights to NaN: the network outputs NaN while in training mode."""
    def hook(module, args, output):
        return tuple(o * float("nan") for o in output) if module.training else output

    return model.network.register_forward_hook(hook)


def test_a_failing_predict_falls_back_to_random_scores_logged_once(measured_gemm, caplog):
    context, candidates, results, _ = measured_gemm
    model = GNNCostModel(seed=0)
    model.update(context, candidates[:64], results[:64])
    good = model.predict(context, candidates[64:])
    handle = _fail_forward(model)
    with caplog.at_level("ERROR", logger="tvm_gnn_cost.cost_model"):
        first = model.predict(context, candidates[64:])
        second = model.predict(context, candidates[64:])
    assert first.shape == second.shape == good.shape and first.dtype == np.float64
    assert ((0 <= first) & (first <= 1)).all() and not np.array_equal(first, second)
    assert model.faults == {"predict": 2}
    assert len(caplog.records) == 1 and "injected predict failure" in caplog.text and "at random" in caplog.text
    handle.remove()  # the network itself was never changed
    np.testing.assert_array_equal(model.predict(context, candidates[64:]), good)


def test_training_that_yields_nan_weights_keeps_the_previous_weights(measured_gemm, caplog):
    context, candidates, results, _ = measured_gemm
    model = GNNCostModel(seed=0)
    model.update(context, candidates[:64], results[:64])
    before = model.predict(context, candidates[64:])
    handle = _nan_when_training(model)
    with caplog.at_level("ERROR", logger="tvm_gnn_cost.cost_model"):
        model.update(context, candidates[64:80], results[64:80])
    handle.remove()
    assert model.faults == {"update": 1} and "non-finite weights" in caplog.text
    assert all(torch.isfinite(p).all() for p in model.network.parameters())
    np.testing.assert_array_equal(model.predict(context, candidates[64:]), before)
    model.update(context, candidates[80:], results[80:])  # the next update trains normally again
    assert model.faults == {"update": 1} and not np.array_equal(model.predict(context, candidates[64:]), before)


def test_an_untrained_model_whose_first_training_fails_stays_untrained(measured_gemm):
    context, candidates, results, _ = measured_gemm
    model = GNNCostModel(seed=0)
    _nan_when_training(model)
    model.update(context, candidates[:64], results[:64])
    assert model.faults == {"update": 1} and not model.trained
    scores = model.predict(context, candidates[64:])  # the warm-up's random scores, not NaN
    assert np.isfinite(scores).all()


def test_the_same_seed_gives_the_same_training_and_predictions(measured_gemm):
    context, candidates, results, _ = measured_gemm
    runs = []
    for _ in range(2):
        model = GNNCostModel(seed=3)
        model.update(context, candidates[:64], results[:64])
        runs.append((model.network.state_dict(), model.predict(context, candidates[64:])))
    (weights_a, scores_a), (weights_b, scores_b) = runs
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    np.testing.assert_array_equal(scores_a, scores_b)
    other = GNNCostModel(seed=4)
    other.update(context, candidates[:64], results[:64])
    assert not np.array_equal(other.predict(context, candidates[64:]), scores_a)
