"""Shared fixtures: real TVM tasks, sampled candidates, and one measured set (built and run here)."""

from __future__ import annotations

import numpy as np
import pytest

from tvm_gnn_cost import host_target, make_builder, make_runner, measure_candidates, sample_candidates
from tvm_gnn_cost.data import mean_seconds
from tvm_gnn_cost.measure import tune_context
from tvm_gnn_cost.workloads import get_workload


@pytest.fixture(scope="session")
def make_context():
    """Build a tuning context for a named workload on this host's CPU (2 threads)."""
    return lambda workload: tune_context(get_workload(workload), host_target(2), workload)


@pytest.fixture(scope="session")
def target():
    return host_target(2)


@pytest.fixture(scope="session")
def measured_gemm(make_context):
    """96 random schedules of a 128^3 GEMM, measured on this CPU: (context, candidates, results, seconds)."""
    context = make_context("gemm-128")
    candidates = sample_candidates(context, 96, seed=7)
    results = measure_candidates(context, candidates, make_builder(), make_runner())
    seconds = np.array([mean_seconds(r.run_secs) or np.nan for r in results])
    assert np.isfinite(seconds).sum() >= 80, [r.error_msg for r in results if r.error_msg][:2]
    return context, candidates, results, seconds
