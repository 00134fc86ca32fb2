"""Target, builder and sampling helpers on this machine."""

from __future__ import annotations

import time

import numpy as np
import tvm
from tvm.s_tir import meta_schedule as ms

from tvm_gnn_cost import build_module, host_target, make_builder, make_runner, sample_candidates
from tvm_gnn_cost.search.measure import time_interleaved


def test_host_target_names_the_cpu():
    target = host_target(2)
    assert target.kind.name == "llvm"
    assert str(target.attrs["mcpu"]) == tvm.target.codegen.llvm_get_system_cpu()
    assert int(target.attrs["num-cores"]) == 2


def test_sampled_candidates_are_post_processed_and_distinct(make_context):
    context = make_context("gemm-128")
    candidates = sample_candidates(context, 16, seed=4)
    scripts = {c.sch.mod.script() for c in candidates}
    assert len(scripts) > 8
    # RewriteParallelVectorizeUnroll ran: annotations became real loop kinds
    assert any("T.parallel" in s for s in scripts)
    assert all("meta_schedule.parallel" not in s for s in scripts)
    assert [c.sch.mod.script() for c in sample_candidates(context, 4, seed=4)] == [
        c.sch.mod.script() for c in candidates[:4]
    ]


def test_build_module_builds_without_tensor_intrinsics(make_context):
    context = make_context("gemm-128")
    (candidate,) = sample_candidates(context, 1, seed=2)
    lib = build_module(candidate.sch.mod, context.target, None)
    a, b = (np.random.default_rng(0).standard_normal((128, 128), dtype=np.float32) for _ in range(2))
    c = tvm.runtime.tensor(np.zeros((128, 128), dtype=np.float32))
    lib(tvm.runtime.tensor(a), tvm.runtime.tensor(b), c)
    np.testing.assert_allclose(c.numpy(), a @ b, rtol=1e-4, atol=1e-4)


def test_builder_builds_a_batch_well_within_its_timeout(make_context):
    context = make_context("gemm-128")
    candidates = sample_candidates(context, 4, seed=9)
    start = time.perf_counter()
    results = make_builder(timeout_sec=30).build(
        [ms.builder.BuilderInput(c.sch.mod, context.target) for c in candidates]
    )
    assert all(r.error_msg is None for r in results), [r.error_msg for r in results]
    assert time.perf_counter() - start < 30


def test_interleaved_timing_times_every_candidate_each_round_and_keeps_their_order(measured_gemm):
    context, candidates, _, seconds = measured_gemm
    fast, slow = int(np.nanargmin(seconds)), int(np.nanargmax(seconds))
    assert seconds[slow] > 3 * seconds[fast]  # a gap no drift closes
    times = time_interleaved([candidates[slow], candidates[fast]], context.target, make_builder(), make_runner(),
                             rounds=3, seed=1)
    assert [len(t) for t in times] == [3, 3] and all(t is not None and t > 0 for t in times[0] + times[1])
    assert np.median(times[0]) > 2 * np.median(times[1])
