"""Tuning whole models: ONNX through the CLI with resume, torch modules, RPC measurement, the correctness check."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import tvm_ffi
from conftest import free_port
from typer.testing import CliRunner

from tvm_gnn_cost.cli import app
from tvm_gnn_cost.datasets.database import task_database
from tvm_gnn_cost.datasets.frontends import load_onnx
from tvm_gnn_cost.search.measure import rpc_config
from tvm_gnn_cost.whole_model.tuning import tune_model, tune_torch

pytestmark = pytest.mark.slow
runner = CliRunner()


def _records(work_dir):
    """(workload hash, schedule hash) of every record in a work dir's database, sorted."""
    db = task_database(work_dir)
    return sorted((tvm_ffi.structural_hash(r.workload.mod), tvm_ffi.structural_hash(r.as_measure_candidate().sch.mod))
                  for r in db.get_all_tuning_records())


def test_cli_tunes_an_onnx_model_checks_it_and_resumes_without_remeasuring(small_cnn, tmp_path):
    work_dir = tmp_path / "work"
    args = ["tune", str(small_cnn), "--population", "64", "--cost-model", "gnn", "--work-dir", str(work_dir),
            "--trials-per-iter", "8"]
    result = runner.invoke(app, [*args, "--trials", "24"])
    assert result.exit_code == 0, result.output
    assert "small_cnn.fused_conv2d_add_relu" in result.output and "outputs match onnxruntime" in result.output
    summary = json.loads((work_dir / "summary.json").read_text())
    assert summary["outputs_match"] and summary["reference"] == "onnxruntime"
    assert summary["max_abs_error"] < 1e-3 and summary["tuned_seconds"] > 0 and summary["untuned_seconds"] > 0
    assert summary["onnxruntime_seconds"] > 0 and not summary["reference_constant"]
    # heaviest task first, so the conv gets the first round of a tight budget
    assert summary["tasks"][0]["name"] == "small_cnn.fused_conv2d_add_relu" and summary["tasks"][0]["trials"] == 8
    first = _records(work_dir)
    assert len(first) >= 24 and (work_dir / "cost_model.pt").exists() and (work_dir / "tune.json").exists()

    again = runner.invoke(app, [*args, "--trials", "24"])  # budget already spent: nothing is measured
    assert again.exit_code == 0, again.output
    assert _records(work_dir) == first and "(0 this run" in again.output

    more = runner.invoke(app, [*args, "--trials", "56"])  # a larger budget continues the same database
    assert more.exit_code == 0, more.output
    records = _records(work_dir)
    assert set(first) < set(records)
    assert len(set(records)) == len(records), "a schedule already in the database was measured again"

    other = runner.invoke(app, [*args[:-4], "--cost-model", "xgb", "--work-dir", str(work_dir), "--trials", "8"])
    assert other.exit_code == 2 and "--work-dir" in other.output and "'gnn', now 'xgb'" in other.output


def test_a_torch_module_is_tuned_through_torch_export_with_guided_search_and_matches_torch(tmp_path):
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 16))
    result = tune_torch(module, [torch.randn(8, 256)], tmp_path, trials=16, cost_model="xgb", trials_per_iter=8,
                        population=64, strategy="guided", progress=False)  # any cost model can guide it
    assert result.reference == "torch" and result.outputs_match and result.max_abs_error < 1e-3
    assert not result.reference_constant
    assert result.onnxruntime_seconds is None
    assert sum(t.trials for t in result.tasks) >= 16 and any("matmul" in t.name for t in result.tasks)


def test_outputs_that_differ_from_the_reference_are_reported(small_cnn, tmp_path):
    model = load_onnx(small_cnn)
    wrong = dataclasses.replace(model, reference=lambda arrays: [np.zeros((1, 10), "float32") + 1])
    result = tune_model(wrong, tmp_path, trials=4, cost_model="random", trials_per_iter=4, population=64,
                        progress=False)
    assert not result.outputs_match and result.max_abs_error > 0.5 and result.reference_constant


def test_tuning_measures_through_an_rpc_tracker(small_cnn, tmp_path, rpc_tracker):
    with pytest.raises(ValueError, match="no server under key 'gpu-box' \\(keys: test-cpu\\)"):
        rpc_config(rpc_tracker, "gpu-box")
    result = runner.invoke(app, ["tune", str(small_cnn), "--trials", "8", "--trials-per-iter", "8", "--population",
                                 "64", "--cost-model", "random", "--work-dir", str(tmp_path),
                                 "--rpc-tracker", rpc_tracker, "--rpc-key", "test-cpu"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["outputs_match"] and summary["tasks"][0]["trials"] == 8
    assert summary["tasks"][0]["best_seconds"] is not None  # measured on the RPC server, not failed


def test_an_unreachable_tracker_is_a_clear_error():
    with pytest.raises(ValueError, match=r"cannot reach the RPC tracker at 127.0.0.1:\d+ .*rpc_tracker"):
        rpc_config(f"127.0.0.1:{free_port()}", "test-cpu")
