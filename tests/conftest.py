"""Shared fixtures: real TVM tasks, sampled candidates, and one measured set (built and run here).

Property tests (hypothesis) draw the same examples on every run (``derandomize``), so CI is
reproducible; ``HYPOTHESIS_PROFILE=explore`` draws new ones each run to search further.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st

from tvm_gnn_cost import host_target, make_builder, make_runner, measure_candidates, sample_candidates
from tvm_gnn_cost.datasets.workloads import get_workload
from tvm_gnn_cost.nn.data import mean_seconds
from tvm_gnn_cost.search.measure import rpc_config, rpc_servers, tune_context

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _meta_schedule_logger_propagates():
    """Keep pytest's unnamed capture handlers off MetaSchedule's logger.

    pytest >= 9 attaches its handlers to every non-propagating logger when a test starts, and
    MetaSchedule's ``create_loggers`` formats the names of the handlers it finds there (None
    fails), so a second ``tune_tir`` in one session would raise. Propagating, the logger is
    captured through root instead; ``tune_tir`` turns propagation off again for its own run.
    """
    logging.getLogger("tvm.s_tir.meta_schedule").propagate = True


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


def write_small_cnn(path, *, batch: int | str = 1, seed: int = 0):
    """A small real CNN as an ONNX file: conv 3x3 + bias + ReLU, global average pool, dense (Gemm).

    ``batch`` may be a name (``"N"``) to make the batch dimension dynamic.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = {
        "conv_w": rng.standard_normal((16, 3, 3, 3)).astype("float32") * 0.2,
        "conv_b": rng.standard_normal(16).astype("float32") * 0.1,
        "fc_w": rng.standard_normal((10, 16)).astype("float32") * 0.2,
        "fc_b": rng.standard_normal(10).astype("float32") * 0.1,
    }
    nodes = [
        helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])],
        [numpy_helper.from_array(w, name) for name, w in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def small_cnn(tmp_path):
    """Path of a small CNN ONNX file with static shapes."""
    return write_small_cnn(tmp_path / "small_cnn.onnx")


def free_port() -> int:
    """A TCP port free on localhost now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def rpc_tracker():
    """A TVM RPC tracker and two servers under key ``test-cpu``, as separate processes on localhost."""
    port = free_port()
    tracker = subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_tracker", "--host", "127.0.0.1",
                                "--port", str(port), "--port-end", str(port + 1), "--silent"])
    servers = [
        subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_server", "--host", "127.0.0.1",
                          "--tracker", f"127.0.0.1:{port}", "--key", "test-cpu", "--silent"])
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if rpc_servers(rpc_config(f"127.0.0.1:{port}", "test-cpu")) == len(servers):
                    break
            except ValueError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the RPC servers did not register with the tracker within 60 s")
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        for process in (*servers, tracker):
            process.terminate()
            process.wait(timeout=30)


def damaged(original: bytes) -> st.SearchStrategy[bytes]:
    """Files a loader may meet: random bytes, ``original`` cut short, or ``original`` with 1-4 bytes flipped."""

    def flip(changes: list[tuple[int, int]]) -> bytes:
        content = bytearray(original)
        for position, mask in changes:
            content[position] ^= mask
        return bytes(content)

    positions = st.integers(0, len(original) - 1)
    return st.one_of(
        st.binary(max_size=4096),
        positions.map(lambda n: original[:n]),
        st.lists(st.tuples(positions, st.integers(1, 255)), min_size=1, max_size=4).map(flip),
    )
