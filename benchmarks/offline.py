"""Offline prediction quality: the GNN against TVM's XGBoost models on a committed dataset.

For each seed, a random quarter of the tasks is held out (split by task, never by record):
every model trains on the rest and is scored on the held-out tasks ("unseen") and on a
held-out fifth of the records of the training tasks ("seen"). Models:

- ``gnn``: the registry's ``gnn-scratch`` learner trained offline (ranking + log-latency losses);
- ``gnn-nomp``: the same network with message passing off (``num_layers=0``);
- ``xgb``: TVM's XGBModel, fed task by task through its own ``update``;
- ``xgb-latency``: an XGBoost regressor on the same per-store features, summed per
  candidate, trained for log latency.

Metrics are those of :mod:`tvm_gnn_cost.evaluation.metrics`; results go to benchmarks/results/offline.json
and offline.png.

    .venv/bin/python benchmarks/offline.py [--quick] [--data data/...tar.xz]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import xgboost

from tvm_gnn_cost import TrainConfig, host_target, make_cost_model
from tvm_gnn_cost.datasets.loading import TaskRecords, load_dataset
from tvm_gnn_cost.evaluation import Features, Predictor, Records, evaluate, fitted_xgb, learner_predictor, mean_sd
from tvm_gnn_cost.files import write_json
from tvm_gnn_cost.plots import plot_metric_bars
from tvm_gnn_cost.provenance import results_header

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATASET = ROOT / "data" / "ops-resnet50-squeezenet.tar.xz"
MODELS = ("gnn", "gnn-nomp", "xgb", "xgb-latency")


@dataclass(frozen=True)
class Setup:
    """What every trainer gets besides its training tasks."""

    features: Features
    seed: int
    epochs: int


def train_gnn(train: Records, setup: Setup, *, name: str = "gnn-scratch") -> Predictor:
    """A GNN of the registry (from scratch) trained offline; predicts (scores, seconds) for a task's records."""
    learner = make_cost_model(name, seed=setup.seed, train_config=TrainConfig(max_steps=10**9)).learner
    graphs = setup.features.graphs
    samples = [s for task, index in train for s in task.samples(graphs[task.name], index)]
    learner.train(samples, epochs=setup.epochs, target_kinds={task.target.kind.name for task, _ in train})
    return learner_predictor(learner, graphs)


def train_xgb(train: Records, setup: Setup) -> Predictor:
    """TVM's XGBModel given each training task through ``update`` (see :func:`fitted_xgb`)."""
    model = fitted_xgb(train, setup.seed)

    def predict(task: TaskRecords, index: np.ndarray) -> tuple[np.ndarray, None]:
        return model.predict(task.context(), [task.candidates[i] for i in index]), None

    return predict


def train_xgb_latency(train: Records, setup: Setup) -> Predictor:
    """An XGBoost regressor of log seconds on per-store features summed per candidate."""
    sums = setup.features.store_sums
    valid = [(t, index[np.isfinite(t.seconds[index])]) for t, index in train]
    xs = np.concatenate([sums[t.name][index] for t, index in valid])
    ys = np.concatenate([np.log(t.seconds[index]) for t, index in valid])
    params = {"max_depth": 8, "eta": 0.05, "subsample": 0.8, "seed": setup.seed, "nthread": 2,
              "objective": "reg:squarederror"}
    booster = xgboost.train(params, xgboost.DMatrix(xs, ys), num_boost_round=400)

    def predict(task: TaskRecords, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_seconds = booster.predict(xgboost.DMatrix(sums[task.name][index])).astype(np.float64)
        return -log_seconds, np.exp(log_seconds)

    return predict


#: Offline models by result name: ``gnn`` is the registry's ``gnn-scratch`` trained here on the split.
TRAINERS: dict[str, Callable[[Records, Setup], Predictor]] = {
    "gnn": train_gnn,
    "gnn-nomp": partial(train_gnn, name="gnn-nomp"),
    "xgb": train_xgb,
    "xgb-latency": train_xgb_latency,
}


def split(tasks: list[TaskRecords], seed: int, unseen_fraction: float,
          record_fraction: float) -> tuple[Records, Records, Records]:
    """(training records, held-out records of the training tasks, all records of unseen tasks)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(tasks))
    num_unseen = max(1, round(unseen_fraction * len(tasks)))
    unseen = [(tasks[i], np.arange(len(tasks[i].seconds))) for i in sorted(order[:num_unseen])]
    train, held = [], []
    for i in sorted(order[num_unseen:]):
        perm = rng.permutation(len(tasks[i].seconds))
        cut = round(record_fraction * len(perm))
        if cut:  # a task with a handful of records (an element-wise op) only trains
            held.append((tasks[i], np.sort(perm[:cut])))
        train.append((tasks[i], np.sort(perm[cut:])))
    return train, held, unseen


def aggregate(runs: list[dict]) -> dict:
    """Mean and sample standard deviation of every metric over seeds, per model and evaluation set."""
    out: dict = {}
    for model in runs[0]["models"]:
        out[model] = {}
        for where in ("unseen", "seen"):
            metrics = runs[0]["models"][model][where]
            out[model][where] = {}
            for name in metrics:
                out[model][where][name] = mean_sd([r["models"][model][where][name] for r in runs])
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATASET, help="dataset directory or .tar.xz")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--epochs", type=int, default=60, help="GNN training passes")
    parser.add_argument("--unseen", type=float, default=0.25, help="fraction of tasks held out")
    parser.add_argument("--held-records", type=float, default=0.2, help="fraction of seen tasks' records held out")
    parser.add_argument("--quick", action="store_true", help="16 tasks, 2 seeds, 3 GNN epochs")
    parser.add_argument("--out", type=Path, help="JSON result (default results/offline.json, "
                        "or results/quick/offline.json with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs = args.seeds[:2], 3
    out = args.out or RESULTS / ("quick" if args.quick else "") / "offline.json"
    logging.basicConfig(level=logging.WARNING)

    start = time.perf_counter()
    tasks = load_dataset(args.data)
    if args.quick:
        tasks = tasks[:: max(1, len(tasks) // 16)][:16]
    features = Features(tasks)
    print(f"{len(tasks)} tasks, {sum(len(t.seconds) for t in tasks)} records; "
          f"features in {time.perf_counter() - start:.0f} s")

    runs = []
    for seed in args.seeds:
        train, held, unseen = split(tasks, seed, args.unseen, args.held_records)
        run = {"seed": seed, "unseen_tasks": [t.name for t, _ in unseen], "models": {}, "train_seconds": {}}
        for name in args.models:
            begin = time.perf_counter()
            predict = TRAINERS[name](train, Setup(features, seed, args.epochs))
            run["train_seconds"][name] = round(time.perf_counter() - begin, 1)
            run["models"][name] = {
                "unseen": evaluate(predict, unseen),
                "seen": evaluate(predict, held),
            }
            print(f"seed {seed} {name:12s} unseen {_fmt(run['models'][name]['unseen'])}")
        runs.append(run)

    result = {
        **results_header(host_target()),
        "measured_on": str(tasks[0].target),
        "dataset": str(args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data),
        "num_tasks": len(tasks),
        "num_records": int(sum(len(t.seconds) for t in tasks)),
        "num_failed": int(sum(np.isnan(t.seconds).sum() for t in tasks)),
        "seeds": args.seeds,
        "gnn_epochs": args.epochs,
        "unseen_fraction": args.unseen,
        "held_record_fraction": args.held_records,
        "summary": aggregate(runs),
        "runs": runs,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(out, result)
    plot_metric_bars(result["summary"], out.with_suffix(".png"),
                     title=f"offline prediction quality, {len(args.seeds)} seeds ({result['machine']['cpu']})")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return result


def _fmt(metrics: dict) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in metrics.items() if v is not None)


if __name__ == "__main__":
    main()
