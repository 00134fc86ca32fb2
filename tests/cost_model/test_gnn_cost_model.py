"""GNNCostModel's MetaSchedule contract on real, measured candidates."""

from __future__ import annotations

import logging
import pickle
import tracemalloc
from dataclasses import asdict

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau
from tvm import te
from tvm.s_tir import Schedule
from tvm.s_tir.meta_schedule import MeasureCandidate
from tvm.s_tir.meta_schedule.arg_info import ArgInfo
from tvm.s_tir.meta_schedule.runner import RunnerResult
from tvm.target import Target

from tvm_gnn_cost import CheckpointError, GNNConfig, GNNCostModel, TrainConfig, sample_candidates
from tvm_gnn_cost.datasets.workloads import get_workload
from tvm_gnn_cost.nn import DEFAULT_WEIGHTS
from tvm_gnn_cost.nn.checkpoint import FORMAT_VERSION, load_checkpoint
from tvm_gnn_cost.nn.losses import anchor_penalty
from tvm_gnn_cost.search.measure import tune_context


def pairwise_accuracy(scores: np.ndarray, seconds: np.ndarray) -> float:
    """Fraction of pairs with different times whose scores order them right (faster = higher)."""
    i, j = np.triu_indices(len(seconds), k=1)
    keep = seconds[i] != seconds[j]
    return float(np.mean((scores[i] > scores[j])[keep] == (seconds[i] < seconds[j])[keep]))


@pytest.fixture(scope="module")
def trained(measured_gemm):
    """A model updated on the first 64 measured candidates, the last 32 held out; with the residual
    booster from 64 on, so its scores go through the booster's correction too."""
    context, candidates, results, _ = measured_gemm
    model = GNNCostModel(pretrained=False, seed=0, train_config=TrainConfig(residual_from=64))
    model.update(context, candidates[:32], results[:32])
    model.update(context, candidates[32:64], results[32:64])
    return model


def test_predict_contract_before_training(measured_gemm):
    context, candidates, _, _ = measured_gemm
    model = GNNCostModel(pretrained=False, seed=3)
    scores = model.predict(context, candidates[:10])
    assert scores.dtype == np.float64 and scores.shape == (10,)
    assert np.all((scores >= 0) & (scores < 1))  # documented warm-up: uniform random scores
    np.testing.assert_array_equal(GNNCostModel(pretrained=False, seed=3).predict(context, candidates[:10]), scores)


def test_spread_is_zero_until_the_model_has_measured_candidates_then_in_score_units(measured_gemm):
    context, candidates, results, _ = measured_gemm
    model = GNNCostModel(seed=0)  # pretrained: it ranks at once, but has measured nothing to be unsure about
    assert np.array_equal(model.spread(context, candidates[64:]), np.zeros(32))
    model.update(context, candidates[:64], results[:64])
    spread = model.spread(context, candidates[64:])
    assert spread.dtype == np.float64 and spread.shape == (32,)
    assert np.isfinite(spread).all() and (spread >= 0).all() and spread.max() > 0
    assert spread.max() < 1  # a share of a score in (0, 1]: predicted throughput over the batch's best
    assert model.faults == {}


def test_by_default_it_starts_from_the_shipped_weights_and_ranks_from_the_first_round(measured_gemm):
    context, candidates, _, seconds = measured_gemm
    model = GNNCostModel(seed=1)
    assert model.learner.trained and model.learner.target_kinds == {"llvm"}
    scores = model.predict(context, candidates)
    np.testing.assert_array_equal(GNNCostModel(seed=2).predict(context, candidates), scores)  # the network's
    ok = np.isfinite(seconds)
    assert pairwise_accuracy(scores[ok], seconds[ok]) > 0.6  # before a single measurement of this task
    assert all(torch.equal(model.learner.anchor[k], p) for k, p in model.learner.network.named_parameters())


def test_the_shipped_weights_are_small_documented_and_load_as_weights_only():
    assert DEFAULT_WEIGHTS.stat().st_size < 5_000_000
    card = (DEFAULT_WEIGHTS.parent / "README.md").read_text()
    assert "tvm-gnn-cost train" in card and "rocketlake" in card  # how to reproduce, and where it was measured
    payload = load_checkpoint(DEFAULT_WEIGHTS)  # torch.load(weights_only=True) after a CRC check
    assert payload["format_version"] == FORMAT_VERSION and payload["target_kinds"] == ["llvm"]
    assert payload["train_config"] == asdict(TrainConfig())  # the plug-in tunes as `make weights` would ship


def test_another_architecture_must_start_from_scratch():
    with pytest.raises(ValueError, match="pretrained=False"):
        GNNCostModel(config=GNNConfig(hidden=32))
    model = GNNCostModel(pretrained=False, config=GNNConfig(hidden=32))
    assert model.learner.config.hidden == 32 and not model.learner.trained and model.learner.anchor is None


def test_fine_tuning_is_pulled_toward_the_pretrained_weights(measured_gemm, tmp_path):
    context, candidates, results, _ = measured_gemm
    free, held = (GNNCostModel(train_config=TrainConfig(anchor_weight=w)) for w in (0.0, 1.0))
    for model in (free, held):
        model.update(context, candidates[:16], results[:16])  # a pretrained model fine-tunes at once
        assert model.learner.num_updates == 1 and model.faults == {}
    assert 0 < anchor_penalty(held.learner.network, held.learner.anchor) < anchor_penalty(free.learner.network, free.learner.anchor)
    held.save(str(tmp_path / "held.pt"))
    restored = GNNCostModel(pretrained=False)
    restored.load(str(tmp_path / "held.pt"))
    assert restored.learner.anchor.keys() == held.learner.anchor.keys()
    assert all(torch.equal(restored.learner.anchor[k], v) for k, v in held.learner.anchor.items())


def test_update_then_predict_ranks_held_out_candidates(trained, measured_gemm):
    context, candidates, _, seconds = measured_gemm
    scores = trained.predict(context, candidates[64:])
    assert scores.dtype == np.float64 and scores.shape == (32,) and np.all(np.isfinite(scores))
    # what EvolutionarySearch draws parents by: non-negative throughput ratios, in the model's order
    assert np.all(scores > 0) and scores.max() == 1.0
    assert trained.learner.residual is not None  # 64 measurements: the booster is fitted
    predicted = trained.learner.log_throughput(trained.graphs(context, candidates[64:]))
    np.testing.assert_array_equal(np.argsort(scores, kind="stable"), np.argsort(predicted, kind="stable"))
    ok = np.isfinite(seconds[64:])
    accuracy = pairwise_accuracy(scores[ok], seconds[64:][ok])
    tau = kendalltau(scores[ok], -seconds[64:][ok]).statistic
    assert accuracy > 0.6, accuracy  # chance is 0.5; higher score must mean faster
    assert tau > 0.2, tau


def test_latency_head_predicts_the_right_magnitude(trained, measured_gemm):
    context, candidates, _, seconds = measured_gemm
    _, log_seconds = trained.learner.predict(trained.graphs(context, candidates[64:]))
    ok = np.isfinite(seconds[64:])
    error = np.abs(log_seconds[ok] - np.log(seconds[64:][ok]))
    assert np.median(error) < np.log(3.0)  # median within 3x of the measured time


def test_failed_results_never_become_latencies(measured_gemm):
    context, candidates, results, _ = measured_gemm
    failed = [RunnerResult(None, "build failed"), RunnerResult([], None)] + [
        RunnerResult([t], None) for t in (float("nan"), float("inf"), 0.0, -1.0, 1e10)
    ]
    model = GNNCostModel(pretrained=False, seed=0, train_config=TrainConfig(min_samples=2))
    model.update(context, candidates[:7], failed)
    assert [s.seconds for s in model.learner.buffer.samples] == [None] * 7
    assert not model.learner.trained  # nothing measured, nothing learned
    model.update(context, candidates[7:10], results[7:10])
    throughput, log_latency, _ = model.learner.buffer.targets(list(model.learner.buffer.samples))
    assert np.all(throughput[:7] == 0) and np.all(np.isnan(log_latency[:7]))
    assert np.all(throughput[7:] > 0) and throughput.max() == 1.0


def test_save_load_round_trip_gives_identical_predictions(trained, measured_gemm, tmp_path):
    context, candidates, _, _ = measured_gemm
    path = tmp_path / "model.pt"
    trained.save(str(path))
    restored = GNNCostModel(pretrained=False, seed=99)
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
    torch.save(_Payload(str(marker)), tmp_path / "evil.pt")  # a sound archive whose pickle would run code
    with pytest.raises(CheckpointError, match="evil.pt: .*Weights only load failed"):
        GNNCostModel().load(str(tmp_path / "evil.pt"))
    with open(tmp_path / "evil.pkl", "wb") as f:  # a bare pickle, as older torch.save wrote
        pickle.dump(_Payload(str(marker)), f)
    with pytest.raises(CheckpointError, match="evil.pkl"):
        GNNCostModel().load(str(tmp_path / "evil.pkl"))
    assert not marker.exists()

    flipped = bytearray(path.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01  # one bit of one weight
    (tmp_path / "flip.pt").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="flip.pt: damaged .* fails its CRC check"):
        GNNCostModel().load(str(tmp_path / "flip.pt"))

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

    return model.learner.network.register_forward_pre_hook(hook)


def _nan_when_training(model: GNNCostModel):
    """Make training drive the weights to NaN: the network outputs NaN while in training mode."""
    def hook(module, args, output):
        return tuple(o * float("nan") for o in output) if module.training else output

    return model.learner.network.register_forward_hook(hook)


def test_a_failing_predict_falls_back_to_random_scores_logged_once(measured_gemm, caplog):
    context, candidates, results, _ = measured_gemm
    model = GNNCostModel(pretrained=False, seed=0)
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
    model = GNNCostModel(pretrained=False, seed=0)
    model.update(context, candidates[:64], results[:64])
    before = model.predict(context, candidates[64:])
    handle = _nan_when_training(model)
    with caplog.at_level("ERROR", logger="tvm_gnn_cost.cost_model"):
        model.update(context, candidates[64:80], results[64:80])
    handle.remove()
    assert model.faults == {"update": 1} and "non-finite weights" in caplog.text
    assert all(torch.isfinite(p).all() for p in model.learner.network.parameters())
    np.testing.assert_array_equal(model.predict(context, candidates[64:]), before)
    model.update(context, candidates[80:], results[80:])  # the next update trains normally again
    assert model.faults == {"update": 1} and not np.array_equal(model.predict(context, candidates[64:]), before)


def test_an_untrained_model_whose_first_training_fails_stays_untrained(measured_gemm):
    context, candidates, results, _ = measured_gemm
    model = GNNCostModel(pretrained=False, seed=0)
    _nan_when_training(model)
    model.update(context, candidates[:64], results[:64])
    assert model.faults == {"update": 1} and not model.learner.trained
    scores = model.predict(context, candidates[64:])  # the warm-up's random scores, not NaN
    assert np.isfinite(scores).all()


def test_the_same_seed_gives_the_same_training_and_predictions(measured_gemm):
    context, candidates, results, _ = measured_gemm
    runs = []
    for _ in range(2):
        model = GNNCostModel(pretrained=False, seed=3)
        model.update(context, candidates[:64], results[:64])
        runs.append((model.learner.network.state_dict(), model.predict(context, candidates[64:])))
    (weights_a, scores_a), (weights_b, scores_b) = runs
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    np.testing.assert_array_equal(scores_a, scores_b)
    other = GNNCostModel(pretrained=False, seed=4)
    other.update(context, candidates[:64], results[:64])
    assert not np.array_equal(other.predict(context, candidates[64:]), scores_a)


def test_a_target_kind_it_was_not_trained_for_is_ranked_at_random_until_it_trains(trained, tmp_path, caplog):
    cuda = Target({"kind": "cuda", "arch": "sm_80", "max_threads_per_block": 1024,
                   "max_shared_memory_per_block": 49152, "thread_warp_size": 32})
    context = tune_context(get_workload("gemm-128"), cuda, "gemm-128")
    candidates = sample_candidates(context, 40, seed=0)
    trained.save(str(tmp_path / "cpu.pt"))
    model = GNNCostModel()
    model.load(str(tmp_path / "cpu.pt"))
    assert model.learner.target_kinds == {"llvm"}  # recorded in the checkpoint

    with caplog.at_level(logging.WARNING, logger="tvm_gnn_cost.cost_model"):
        for _ in range(3):
            scores = model.predict(context, candidates)
            assert np.all((scores >= 0) & (scores < 1))  # the warm-up ordering, not the CPU network's
    (warning,) = caplog.records  # said once
    assert "['llvm']" in warning.message and "'cuda'" in warning.message

    # This machine has no GPU, so the run times are synthetic; they only need to be valid.
    seconds = np.random.default_rng(0).lognormal(-9, 1, size=len(candidates))
    model.update(context, candidates, [RunnerResult([float(s)], None) for s in seconds])
    assert model.learner.target_kinds == {"llvm", "cuda"} and model.faults == {}
    np.testing.assert_array_equal(  # the network's scores now, not random ones
        model.predict(context, candidates), model.learner.search_scores(model.graphs(context, candidates))
    )


def test_a_candidate_with_thousands_of_blocks_is_scored(trained, target):
    stages = 2000
    data = te.placeholder((64,), name="A")
    out = data
    for i in range(stages):  # a chain of element-wise stages: one block each
        out = _scale_and_shift(out, f"s{i}")
    context = tune_context(te.create_prim_func([data, out]), target, "chain-2000")
    plain, vectorized = Schedule(context.mod), Schedule(context.mod)
    for i in range(stages):
        (loop,) = vectorized.get_loops(vectorized.get_sblock(f"s{i}"))
        vectorized.vectorize(loop)
    args = ArgInfo.from_prim_func(context.mod["main"])
    candidates = [MeasureCandidate(plain, args), MeasureCandidate(vectorized, args)]

    graphs = trained.graphs(context, candidates)
    assert [g.num_nodes for g in graphs] == [stages, stages]
    assert graphs[0].num_edges >= 2 * (stages - 1)  # producer -> consumer and back along the chain
    scores = trained.predict(context, candidates)
    assert scores.dtype == np.float64 and np.all(np.isfinite(scores)) and scores[0] != scores[1]
    assert trained.faults == {}


def _scale_and_shift(x: te.Tensor, name: str) -> te.Tensor:
    return te.compute(x.shape, lambda j: x[j] * 1.01 + 1.0, name=name)


def test_memory_stays_bounded_over_100000_measured_records(measured_gemm):
    context, candidates, results, _ = measured_gemm
    config = TrainConfig(replay_capacity=4096, first_epochs=1, update_epochs=1, max_steps=1)
    model = GNNCostModel(pretrained=False, seed=0, train_config=config, graph_cache_size=64)  # fewer slots than schedules
    rounds, per_round = 200, 500  # 100,000 records, in rounds the size of a large search round
    order = np.random.default_rng(0).integers(0, len(candidates), size=(rounds, per_round))
    graph_bytes = max(g.x.nbytes + g.edge_index.nbytes + g.edge_attr.nbytes for g in model.graphs(context, candidates))
    # the stated bound: every sample and every cached graph holding its own graph, plus 1 KB per sample
    bound = (config.replay_capacity + 64) * graph_bytes + config.replay_capacity * 1024

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        traced = []
        for i, index in enumerate(order):
            model.update(context, [candidates[j] for j in index], [results[j] for j in index])
            if i in (rounds // 5 - 1, rounds - 1):  # once the buffer is full, and at the end
                traced.append(tracemalloc.get_traced_memory()[0] - baseline)
    finally:
        tracemalloc.stop()
    assert len(model.learner.buffer) == config.replay_capacity and len(model.graph_cache) <= 64
    assert model.learner.num_updates == rounds and model.faults == {}
    assert traced[1] <= bound, (traced, bound)
    assert traced[1] - traced[0] <= 1_000_000, traced  # flat after 20,000 records: nothing grows with records
