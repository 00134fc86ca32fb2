"""The CPU a schedule runs on, as the graph-level features :data:`~tvm_gnn_cost.nn.graph.CPU_FEATURES`.

SIMD width (AVX-512: 512 bits, AVX: 256, else 128) and FMA come from LLVM's description of the
target's ``mcpu``; the cores from the target's ``num-cores``; the cache sizes from the machine
that measured (``task.json`` records them), else from this host when the target names its CPU,
else from :data:`TYPICAL_CACHES`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..nn.graph import CPU_FEATURES
from ..provenance import host_caches

if TYPE_CHECKING:
    from tvm.target import Target

#: Data cache sizes (bytes) of CPUs whose data predates recorded caches, and of this project's machines.
TYPICAL_CACHES: dict[str, dict[str, int]] = {
    "rocketlake": {"L1d": 48 << 10, "L2": 512 << 10, "L3": 16 << 20},
    "znver3": {"L1d": 32 << 10, "L2": 512 << 10, "L3": 32 << 20},
    "znver4": {"L1d": 32 << 10, "L2": 1 << 20, "L3": 32 << 20},
}
#: Caches assumed for a CPU in neither the records nor :data:`TYPICAL_CACHES`.
DEFAULT_CACHES: dict[str, int] = {"L1d": 32 << 10, "L2": 1 << 20, "L3": 16 << 20}


def cpu_features(target: Target, caches: Mapping[str, int] | None = None) -> np.ndarray:
    """The :data:`CPU_FEATURES` row of ``target`` (zeros for a non-CPU target), with ``caches`` if known."""
    if str(target.kind.name) != "llvm":
        return np.zeros(len(CPU_FEATURES), dtype=np.float32)
    return _row(str(target), tuple(sorted(caches.items())) if caches else None).copy()


@functools.lru_cache(maxsize=64)
def _row(target_json: str, caches: tuple[tuple[str, int], ...] | None) -> np.ndarray:
    """The row for one target and cache set; LLVM's queries take about a millisecond, so rows are kept."""
    from tvm.target import Target
    from tvm.target.codegen import llvm_cpu_has_features, llvm_get_system_cpu

    target = Target(target_json)
    mcpu = str(target.attrs["mcpu"]) if "mcpu" in target.attrs else llvm_get_system_cpu()
    known = dict(caches) if caches else None
    if known is None:
        known = (host_caches() if mcpu == llvm_get_system_cpu() else None) or TYPICAL_CACHES.get(mcpu, DEFAULT_CACHES)
    sizes = {level: known.get(level) or DEFAULT_CACHES[level] for level in DEFAULT_CACHES}
    cores = int(target.attrs["num-cores"]) if "num-cores" in target.attrs else 1
    row = [
        (512 if llvm_cpu_has_features("avx512f", target) else 256 if llvm_cpu_has_features("avx", target)
         else 128) / 512,  # (LLVM's llvm_get_vector_width answers for the host, whatever the target)
        float(llvm_cpu_has_features("fma", target)),
        math.log2(max(cores, 1)) / 6,
        math.log2(sizes["L1d"] / 1024) / 6,
        math.log2(sizes["L2"] / 1024) / 11,
        math.log2(sizes["L3"] / 1024) / 16,
    ]
    return np.array(row, dtype=np.float32)

