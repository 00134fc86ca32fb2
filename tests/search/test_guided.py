"""GuidedSearch: its batch rule, and real tuning with TVM's builder and runner."""

from __future__ import annotations

import numpy as np
import pytest
import tvm_ffi
from tvm.s_tir import meta_schedule as ms

from tvm_gnn_cost import GNNCostModel, GuidedSearch, host_target, make_builder, make_runner
from tvm_gnn_cost.datasets.workloads import get_workload
from tvm_gnn_cost.search.guided import log_scale, pick_batch
from tvm_gnn_cost.search.tuning import STRATEGIES, search_strategy


def test_pick_batch_takes_the_best_scores_without_spread_or_diversity():
    score = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    keys = [(i,) for i in range(5)]
    assert pick_batch(score, np.zeros(5), keys, 3, beta=1.0, diversity=0.0) == [1, 3, 2]


def test_pick_batch_explores_where_the_model_is_unsure():
    score, spread = np.array([1.0, 0.9, 0.0]), np.array([0.0, 0.0, 2.0])
    keys = [(0,), (1,), (2,)]
    assert pick_batch(score, spread, keys, 1, beta=0.0, diversity=0.0) == [0]
    assert pick_batch(score, spread, keys, 1, beta=1.0, diversity=0.0) == [2]


def test_pick_batch_diversity_skips_near_copies_of_a_pick():
    score = np.array([1.0, 0.99, 0.5])
    keys = [("a", "b", "c"), ("a", "b", "c"), ("x", "y", "z")]  # 0 and 1 take the same decisions
    assert pick_batch(score, np.zeros(3), keys, 2, beta=0.0, diversity=0.0) == [0, 1]
    assert pick_batch(score, np.zeros(3), keys, 2, beta=0.0, diversity=3.0) == [0, 2]


def test_pick_batch_picks_among_a_subset_and_counts_earlier_picks_of_the_round():
    score = np.array([1.0, 0.2, 0.9, 0.8])
    keys = [("a", "b"), ("p", "q"), ("a", "b"), ("x", "y")]  # 2 copies 0's decisions
    near = pick_batch(score, np.zeros(4), keys, 1, beta=0.0, diversity=3.0, among=[1, 2])
    assert near == [2]  # the best of the subset, on the scale of the whole pool
    assert pick_batch(score, np.zeros(4), keys, 2, beta=0.0, diversity=3.0, after=near) == [3, 1]  # 0 repeats 2
    assert pick_batch(np.array([np.nan, 0.5]), np.array([np.nan, 0.0]), [(0,), (1,)], 1, beta=1.0,
                      diversity=0.0) == [1]  # a NaN score is never the best
    assert pick_batch(np.array([np.nan, np.nan]), np.zeros(2), [(0,), (1,)], 2, beta=1.0, diversity=0.0) == [0, 1]


def test_log_scale_ranks_by_log_throughput_and_floors_non_positive_scores():
    score, spread = log_scale(np.array([1.0, 0.1, -0.2, np.nan]), np.array([0.5, 0.05, 0.0, 0.0]))
    assert np.allclose(score[:3], np.log([1.0, 0.1, 1e-6])) and np.isnan(score[3])
    assert np.allclose(spread[:2], [0.5, 0.5])  # a spread proportional to the score is one log spread
    assert pick_batch(score, spread, [(0,), (1,), (2,), (3,)], 4, beta=0.0, diversity=0.0) == [0, 1, 2, 3]


def test_strategies_reject_a_share_out_of_range_an_unknown_name_and_an_unknown_knob():
    with pytest.raises(ValueError, match="neighbourhood"):
        GuidedSearch(neighbourhood=1.5)
    with pytest.raises(ValueError, match="generations"):
        GuidedSearch(generations=1.5)
    with pytest.raises(ValueError, match="unknown search strategy"):
        search_strategy("annealing", 64, 16)
    for name in STRATEGIES:
        with pytest.raises(ValueError, match="no knob"):
            search_strategy(name, 64, 16, temperature=0.5)
    evolution = search_strategy("evolutionary", 64, 16, genetic_num_iters=2, eps_greedy=0.2).inner
    assert (evolution.genetic_num_iters, evolution.eps_greedy, evolution.population_size) == (2, 0.2, 64)
    assert search_strategy("guided", 64, 16, beta=2.0).beta == 2.0


def _tune(work_dir, trials: int, strategy: GuidedSearch, model: GNNCostModel | None = None) -> ms.database.Database:
    """GEMM-128 tuned with ``model`` (the pretrained GNN) and ``strategy`` in rounds of 16 (resumes from ``work_dir``)."""
    return ms.tune_tir(get_workload("gemm-128"), host_target(2), str(work_dir), max_trials_global=trials,
                       num_trials_per_iter=16, builder=make_builder(), runner=make_runner(),
                       cost_model=model or GNNCostModel(seed=0), seed=1, strategy=strategy)


def _hashes(database: ms.database.Database) -> list[int]:
    return [tvm_ffi.structural_hash(r.as_measure_candidate().sch.mod) for r in database.get_all_tuning_records()]


def test_guided_search_tunes_within_budget_never_twice_and_resumes(tmp_path):
    asked = []

    def spread(context: ms.TuneContext, candidates: list) -> np.ndarray:
        asked.append(len(candidates))
        return np.random.default_rng(len(asked)).random(len(candidates))

    database = _tune(tmp_path, 40, GuidedSearch(spread=spread))  # 16 + 16 + 8: the last round is cut to the budget
    assert len(asked) >= 3 and sum(asked) >= 40 * 4  # every round scored several times its trials
    records = database.get_all_tuning_records()
    assert len(records) == 40
    seconds = [float(np.mean([float(s) for s in r.run_secs])) for r in records]
    assert sum(0 < s < 1 for s in seconds) >= 32  # built and ran (a few may fail, as with any search)
    first = _hashes(database)
    assert len(set(first)) == 40

    # a second run in the same work dir starts from its records, exploring by the GNN's own ensemble
    model = GNNCostModel(seed=0)
    spreads = []

    def gnn_spread(context: ms.TuneContext, candidates: list) -> np.ndarray:
        spreads.append(model.spread(context, candidates))
        return spreads[-1]

    database = _tune(tmp_path, 24, GuidedSearch(spread=gnn_spread, generations=1, log_scores=True), model)
    both = _hashes(database)
    assert len(both) == 64 and len(set(both)) == 64  # nothing of the first run measured again
    assert spreads[0].max() == 0 and max(s.max() for s in spreads[1:]) > 0  # unsure once it has measured
    assert len(spreads[1]) > len(spreads[0])  # each round's pool scored again after a refinement generation
    assert model.faults == {}


def test_guided_search_proposes_the_same_candidates_from_one_seed_on_any_number_of_threads():
    proposals = []
    for threads in (1, 2, 2):
        strategy = GuidedSearch()
        context = ms.TuneContext(get_workload("gemm-128"), target=host_target(2), space_generator="post-order-apply",
                                 search_strategy=strategy, num_threads=threads, rand_state=7)
        context.pre_tuning(64, 16, context.generate_design_space(), ms.database.MemoryDatabase())
        first = strategy.generate_measure_candidates()  # no records yet: design-space samples, scored at random
        seen = {tvm_ffi.structural_hash(c.sch.mod) for c in first}
        wide = strategy._propose([c.sch.trace for c in first[:4]], 32, seen, wide=True)  # mutations and samples
        proposals.append([tvm_ffi.structural_hash(c.sch.mod) for c in first + wide])
    assert proposals[0] == proposals[1] == proposals[2]
    assert len(set(proposals[0])) == 16 + 32  # none proposed twice
