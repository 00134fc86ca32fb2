"""The benchmark scripts run end to end on tiny budgets, so they never rot."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_overhead_quick(tmp_path):
    out = tmp_path / "overhead.json"
    result = load("overhead").main(["--quick", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["predict_candidates"] == 256 and saved["update_candidates"] == 64
    for key in ("predict_ratio_gnn_over_xgb", "update_ratio_gnn_over_xgb", "build_ratio_pooled_over_local"):
        assert saved[key] > 0 and saved[key] == result[key]
    assert saved["cpu"] and saved["versions"]["tvm"]
