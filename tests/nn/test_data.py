"""Run times and the replay buffer on arbitrary input (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tvm_gnn_cost.nn.data import FAILED_SECONDS, ReplayBuffer, Sample, mean_seconds
from tvm_gnn_cost.nn.graph import EDGE_FEATURES, NODE_FEATURES, StageGraph

_GRAPH = StageGraph(np.zeros((1, NODE_FEATURES), np.float32), np.zeros((2, 0), np.int64),
                    np.zeros((0, EDGE_FEATURES), np.float32), ("b",))


@given(st.none() | st.lists(st.floats(allow_nan=True, allow_infinity=True)))
def test_a_run_time_is_positive_and_finite_or_none(run_secs):
    seconds = mean_seconds(run_secs)
    if seconds is None:
        return
    assert math.isfinite(seconds) and 0 < seconds < FAILED_SECONDS
    assert min(run_secs) <= seconds <= max(run_secs)


@given(st.integers(1, 20), st.lists(st.tuples(st.sampled_from("abc"), st.none() | st.floats(1e-7, 10.0))))
def test_the_buffer_keeps_the_newest_samples_and_each_tasks_best_time(capacity, stream):
    buffer = ReplayBuffer(capacity)
    for task, seconds in stream:
        buffer.extend([Sample(_GRAPH, task, seconds)])
    assert [(s.task, s.seconds) for s in buffer.samples] == stream[-capacity:]
    for task in "abc":
        times = [s for t, s in stream if t == task and s is not None]
        assert buffer.best_seconds.get(task) == (min(times) if times else None)
    throughput, log_latency, tasks = buffer.targets(list(buffer.samples))
    measured = np.array([s.seconds is not None for s in buffer.samples], dtype=bool)
    assert np.all((throughput > 0) == measured) and np.all(throughput <= 1)  # the best survives eviction
    assert np.all(np.isnan(log_latency) == ~measured) and len(tasks) == len(buffer)
