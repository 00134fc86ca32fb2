"""The CPU's graph-level features: what LLVM says of the target's CPU, plus the measuring machine's caches."""

from __future__ import annotations

import numpy as np
import pytest
import tvm

from tvm_gnn_cost.features.cpu import TYPICAL_CACHES, cpu_features
from tvm_gnn_cost.nn.graph import CPU_FEATURES

COLUMN = {name: i for i, name in enumerate(CPU_FEATURES)}


def _target(mcpu: str, cores: int = 2) -> tvm.target.Target:
    return tvm.target.Target({"kind": "llvm", "mcpu": mcpu, "num-cores": cores})


def test_simd_width_fma_and_cores_come_from_the_target():
    avx512, avx2, sse = (cpu_features(_target(c)) for c in ("rocketlake", "znver3", "nehalem"))
    assert avx512[COLUMN["vector_bits"]] == 1.0 and avx2[COLUMN["vector_bits"]] == 0.5
    assert sse[COLUMN["vector_bits"]] == 0.25 and sse[COLUMN["fma"]] == 0.0 and avx2[COLUMN["fma"]] == 1.0
    assert cpu_features(_target("znver3", 8))[COLUMN["log2_cores"]] == pytest.approx(3 / 6)
    assert cpu_features(_target("znver3"))[COLUMN["log2_cores"]] == pytest.approx(1 / 6)


def test_caches_come_from_the_records_else_a_table_of_known_cpus():
    recorded = cpu_features(_target("znver3"), {"L1d": 64 << 10, "L2": 2 << 20, "L3": 64 << 20})
    assert recorded[COLUMN["log2_l1d"]] == pytest.approx(6 / 6) and recorded[COLUMN["log2_l2"]] == pytest.approx(11 / 11)
    from tvm.target.codegen import llvm_get_system_cpu

    other = next(c for c in TYPICAL_CACHES if c != llvm_get_system_cpu())  # not this host: its caches do not apply
    l2 = TYPICAL_CACHES[other]["L2"] / 1024
    assert cpu_features(_target(other))[COLUMN["log2_l2"]] == pytest.approx(np.log2(l2) / 11)
    assert cpu_features(tvm.target.Target("cuda")).tolist() == [0.0] * len(CPU_FEATURES)
    row = cpu_features(_target("znver3"))
    row[:] = 0  # a copy: the cached row is not the caller's to change
    assert cpu_features(_target("znver3"))[COLUMN["vector_bits"]] == 0.5
