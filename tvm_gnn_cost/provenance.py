"""Where and with what a result was produced: library versions, the machine, its caches, a results header.

Every dataset manifest, task file and benchmark result records these, so any number can be
traced to the CPU and versions that produced it.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tvm.target import Target


def versions() -> dict[str, str]:
    """Versions of the libraries a measurement or a model depends on."""
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("apache-tvm", "apache-tvm-ffi", "torch", "torch-geometric", "xgboost-cpu")}


def machine(target: Target) -> dict[str, object]:
    """Where measurements were taken: the target's CPU (LLVM's name), this host's cores, OS and caches.

    ``caches`` (bytes of L1d, L2 and L3 per core's view, from sysfs) describe this host, so they
    are recorded only when the target names this host's CPU; ``None`` otherwise (e.g. RPC devices).
    """
    from tvm.target.codegen import llvm_get_system_cpu

    host = llvm_get_system_cpu()
    mcpu = str(target.attrs["mcpu"]) if "mcpu" in target.attrs else host
    return {
        "cpu": mcpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "target": str(target),
        "caches": host_caches() if mcpu == host else None,
    }


def host_caches(root: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> dict[str, int] | None:
    """This host's data caches as sysfs lists them for CPU 0: ``{"L1d": bytes, "L2": ..., "L3": ...}``."""
    caches = {}
    for index in sorted(root.glob("index*")):
        try:
            level, kind, size = ((index / f).read_text().strip() for f in ("level", "type", "size"))
        except OSError:
            continue
        if kind in ("Data", "Unified"):
            units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
            caches[f"L{level}d" if level == "1" else f"L{level}"] = int(size.rstrip("KMG")) * units.get(size[-1], 1)
    return caches or None


def results_header(target: Target) -> dict[str, object]:
    """What every benchmark result starts with: the date (UTC), the machine (for ``target``) and versions."""
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(target),
            "versions": versions()}
