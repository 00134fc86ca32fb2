"""The tvm-gnn-cost command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tvm_gnn_cost.cli import app

runner = CliRunner()


def test_demo_rejects_unknown_names_with_the_known_ones():
    result = runner.invoke(app, ["demo", "--models", "gnn,lightgbm"])
    assert result.exit_code == 2
    assert "lightgbm" in result.output and "xgb" in result.output
    result = runner.invoke(app, ["demo", "--workloads", "gemm-7"])
    assert result.exit_code == 2 and "gemm-256" in result.output


def test_tiny_demo_writes_table_json_and_plot(tmp_path):
    result = runner.invoke(
        app, ["demo", "--trials", "8", "--workloads", "gemm-128", "--models", "gnn,xgb", "--out", str(tmp_path),
              "--population", "64"]
    )
    assert result.exit_code == 0, result.output
    assert "gemm-128" in result.output and "gnn best" in result.output
    summary = json.loads((tmp_path / "demo.json").read_text())
    assert [r["cost_model"] for r in summary["results"]] == ["gnn", "xgb"]
    gnn_stats = summary["results"][0]["stats"]
    # the pretrained GNN ranks from the first round: it builds graphs of the search's candidates,
    # and update() finds measured ones it scored in the cache
    assert gnn_stats["graph_cache_misses"] > 8 and gnn_stats["graph_cache_hits"] > 0
    for r in summary["results"]:
        assert r["stats"]["cost_model_update_seconds"] > 0 and r["stats"]["cost_model_predict_seconds"] > 0
        # the search's proposals are timed around its calls of predict
        assert r["stats"]["search_strategy_seconds"] > r["stats"]["cost_model_predict_seconds"]
        task = r["tasks"]["gemm-128"]
        assert task["trials"] == 8 and 0 < task["best_seconds"] < 1
        assert len(task["curve"]) == 8 and task["elapsed"] == sorted(task["elapsed"])
    assert (tmp_path / "demo.png").stat().st_size > 10_000


def test_graph_command_lists_edges_and_draws(tmp_path):
    out = tmp_path / "g.png"
    result = runner.invoke(app, ["graph", "gemm-128", "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "DATAFLOW" in result.output and "C_update" in result.output
    assert out.stat().st_size > 5_000


def test_collect_writes_a_database_per_task_and_a_manifest(tmp_path):
    args = ["collect", str(tmp_path), "--suites", "ops", "--tasks", "GMM-1", "--random", "3", "--search", "0"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "measured 3 records" in result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["tasks"] == {"GMM-1": {"records": 3, "failed": 0}} and manifest["machine"]["cpu"]
    assert manifest["finished"] is True
    assert (tmp_path / "GMM-1" / "database_tuning_record.json").read_text().count("\n") == 3
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "measured 0 records" in again.output


def test_collect_rejects_unknown_suites_and_unmatched_tasks(tmp_path):
    result = runner.invoke(app, ["collect", str(tmp_path), "--suites", "mobilenet"])
    assert result.exit_code == 2 and "resnet50" in result.output
    result = runner.invoke(app, ["collect", str(tmp_path), "--suites", "ops", "--tasks", "XYZ*"])
    assert result.exit_code == 2 and "no task matches" in result.output


def test_tune_rejects_bad_input_naming_the_argument(small_cnn, tmp_path):
    cases = [
        (["resnet5"], "MODEL", "nor a zoo model (resnet50, squeezenet"),
        ([str(small_cnn), "--cost-model", "lightgbm"], "--cost-model", "known: gnn, gnn-scratch, gnn-nomp, xgb, random"),
        ([str(small_cnn), "--input-shape", "image:1,3,64,64"], "--input-shape", "does not fit"),
        ([str(small_cnn), "--rpc-key", "cpu"], "--rpc-key", "give both --rpc-tracker and --rpc-key"),
        ([str(small_cnn), "--rpc-tracker", "localhost", "--rpc-key", "cpu"], "--rpc-tracker", "is not HOST:PORT"),
        ([str(small_cnn), "--target", "{llvm"], "--target", "Expecting property name"),
        ([str(small_cnn), "--trials", "0"], "--trials", "at least 1"),
        ([str(small_cnn), "--population", "16"], "--population", "at least --trials-per-iter (32)"),
        ([str(small_cnn), "--strategy", "annealing"], "--strategy", "known: evolutionary, guided"),
    ]
    for args, hint, message in cases:
        result = runner.invoke(app, ["tune", *args, "--work-dir", str(tmp_path)])
        text = " ".join(result.output.replace("│", " ").split())  # rich wraps the message in a box
        assert result.exit_code == 2, (args, result.output)
        assert hint in text and message in text, (args, result.output)
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    result = runner.invoke(app, ["tune", str(bad)])
    text = " ".join(result.output.replace("│", " ").split())  # where rich wraps depends on the path's length
    assert result.exit_code == 2 and "not a valid ONNX model" in text, result.output


@pytest.mark.parametrize(("args", "hint", "message"), [
    (["generate", "OUT", "--models", "0"], "--models", "at least 1"),
    (["generate", "OUT", "--random", "0", "--search", "0"], "--random", "positive number"),
    (["generate", "OUT", "--rpc-tracker", "localhost:9190"], "--rpc-key", "give both"),
    (["train", "data/ops-resnet50-squeezenet.tar.xz", "--out", "x.pt", "--epochs", "0"], "--epochs", "at least 1"),
    (["train", "data/ops-resnet50-squeezenet.tar.xz", "--out", "x.pt", "--val-fraction", "1.5"], "--val-fraction",
     "between 0 and 1"),
    (["train", "data/ops-resnet50-squeezenet.tar.xz", "--out", "x.pt", "--tasks", "XYZ*"], "--tasks", "matches"),
    (["train", "missing.tar.xz", "--out", "x.pt"], "DATA", "no such dataset"),
    (["train", "data/ops-resnet50-squeezenet.tar.xz", "--out", "x.pt", "--tasks", "squeezenet.*"], "DATA",
     "one model"),
])
def test_generate_and_train_reject_bad_input_naming_the_argument(args, hint, message, tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    args = [str(tmp_path / a) if a in ("OUT", "x.pt") else a for a in args]
    result = runner.invoke(app, args)
    text = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and hint in text and message in text, result.output
