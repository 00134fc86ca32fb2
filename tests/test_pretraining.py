"""Offline pretraining: split by model, early stopping, curves, determinism, and DDP with 2 processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tvm_gnn_cost import GNNCostModel
from tvm_gnn_cost.cli import app
from tvm_gnn_cost.datasets.loading import load_dataset
from tvm_gnn_cost.pretraining import split_by_model

DATASET = Path(__file__).resolve().parent.parent / "data" / "ops-resnet50-squeezenet.tar.xz"
# 608 records of three models (sources): TVM's operator set, SqueezeNet and ResNet-50 convolutions
TASKS = "C2D-*,GMM-*,DEP-*,squeezenet.fused_conv2d1*,resnet50.fused_conv2d2*"
runner = CliRunner()


def test_validation_holds_out_whole_models():
    tasks = load_dataset(DATASET, ["C2D-1", "GMM-1", "squeezenet.fused_conv2d1_add1_relu1",
                                   "resnet50.fused_conv2d2_subtract1_divide1_multiply1_add2"])
    train, val = split_by_model(tasks, 0.34, seed=0)
    assert {t.source for t in train}.isdisjoint({t.source for t in val})
    assert len({t.source for t in val}) == 1 and len(train) + len(val) == len(tasks)
    with pytest.raises(ValueError, match="one model"):
        split_by_model([t for t in tasks if t.source == "onnx:squeezenet"], 0.2, seed=0)


def test_validation_takes_models_until_it_has_enough_tasks_with_enough_records():
    rng = np.random.default_rng(0)
    # 20 models of 5 tasks; only every other task has 8 valid records (the rest 3, or 12 with most failed)
    tasks = [SimpleNamespace(source=f"m{m}", seconds=np.r_[rng.random(8 if t % 2 else 3), np.full(4, np.nan)])
             for m in range(20) for t in range(5)]
    train, val = split_by_model(tasks, 0.1, seed=1, min_records=8, min_tasks=9)
    assert len(val) >= 9 and all(np.isfinite(t.seconds).sum() >= 8 for t in val)
    val_models = {t.source for t in val}
    assert len(val_models) == 5 and not val_models & {t.source for t in train}  # 2 tasks a model: 5 models
    assert len(train) == 75  # the held-out models' small tasks train nothing
    _, few = split_by_model(tasks, 0.1, seed=1, min_records=8, min_tasks=1000)
    assert len({t.source for t in few}) == 10  # never more than half the models
    with pytest.raises(ValueError, match="valid records"):
        split_by_model(tasks, 0.1, seed=1, min_records=50)


def _train_args(out: Path) -> list[str]:
    return ["train", str(DATASET), "--out", str(out), "--tasks", TASKS, "--epochs", "12", "--patience", "4",
            "--val-fraction", "0.34", "--seed", "3"]


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory) -> Path:
    """The checkpoint of one single-process `train` run (history and curves beside it)."""
    out = tmp_path_factory.mktemp("train") / "a.pt"
    result = runner.invoke(app, _train_args(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_train_writes_a_weights_only_checkpoint_history_and_curves_deterministically(trained_once, tmp_path):
    history = json.loads(trained_once.with_suffix(".json").read_text())
    assert history["processes"] == 1 and history["train_models"] and history["val_models"]
    assert set(history["train_models"]).isdisjoint(history["val_models"])
    assert 1 <= history["best_epoch"] <= len(history["history"]) <= 12
    assert history["best"]["val_pairwise_accuracy"] > 0.55  # better than chance on models it never saw
    assert trained_once.with_suffix(".png").stat().st_size > 10_000

    model = GNNCostModel()
    model.load(str(trained_once))  # weights_only load of our own format
    assert model.learner.trained and model.learner.target_kinds == {"llvm"}
    assert model.learner.train_config == GNNCostModel().learner.train_config  # online fine-tuning keeps its schedule
    started = GNNCostModel(pretrained=trained_once)  # what `train` wrote, as the starting point of a search
    assert all(torch.equal(p, model.learner.network.state_dict()[k]) for k, p in started.learner.network.state_dict().items())
    assert started.learner.trained and started.learner.anchor is not None

    assert runner.invoke(app, _train_args(tmp_path / "b.pt")).exit_code == 0
    a, b = (torch.load(path, weights_only=True)["state_dict"] for path in (trained_once, tmp_path / "b.pt"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # same seed, same weights


@pytest.mark.slow
def test_two_ddp_processes_train_to_the_quality_of_one(trained_once, tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               shutil.which("tvm-gnn-cost", path=str(Path(sys.executable).parent)), *_train_args(tmp_path / "two.pt")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    single, ddp = (json.loads(p.with_suffix(".json").read_text()) for p in (trained_once, tmp_path / "two.pt"))
    assert ddp["processes"] == 2 and ddp["val_models"] == single["val_models"]
    gap = ddp["best"]["val_pairwise_accuracy"] - single["best"]["val_pairwise_accuracy"]
    assert abs(gap) <= 0.05, (single["best"], ddp["best"])
