"""Transfer, offline: the pretrained GNN on models it never saw, zero-shot and after 8, 32 and 128 measurements.

The unseen models' tasks (Inception v1, VGG-19, ZFNet-512; never in pretraining) come from
``--unseen``. For each seed, each task's records are shuffled; the last ``--test`` are held
out, and a model is given the first k (k in ``--shots``) the way a search gives them: GNNs
learn them through ``GNNCostModel.learn`` in rounds of 32 (what ``update`` does), XGBModels
through one ``update``. Models:

- ``gnn-plain``: the pretrained weights (``--weights``), fine-tuned with no safeguard;
- ``gnn-anchor``: the same, fine-tuning pulled toward the pretrained weights (L2-SP,
  ``TrainConfig.anchor_weight`` = ``--anchor-weight``);
- ``gnn-replay``: the same, with ``--replay`` pretraining records in its replay buffer;
- ``gnn-scratch``: ``GNNCostModel(pretrained=False)`` (random scores until it has 32 measurements);
- ``xgb-pretrained``: TVM's XGBModel fed every pretraining record first (TenSet-style), then the k;
- ``xgb``: TVM's XGBModel from scratch, its tuning defaults (random scores for its first 100).

Forgetting: after fine-tuning, each pretrained GNN is also scored on the tasks of the
pretraining models ``train`` held out for validation; the change from the pretrained weights'
score there is what fine-tuning on one task cost them (``forgetting`` in the JSON: the
change in pairwise accuracy, negative when they forgot).

Results go to benchmarks/results/transfer.json and transfer.png.

    .venv/bin/python benchmarks/transfer.py [--quick] [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from offline import Features, fitted_xgb, xgb_model
from tvm.s_tir import meta_schedule as ms

from tvm_gnn_cost import GNNCostModel, TrainConfig, host_target
from tvm_gnn_cost.cost_model import DEFAULT_WEIGHTS
from tvm_gnn_cost.data import FAILED_SECONDS, Sample
from tvm_gnn_cost.dataset import TASK_FILE, TaskRecords, load_dataset, machine, open_dataset, versions
from tvm_gnn_cost.files import write_json
from tvm_gnn_cost.metrics import TaskPrediction, summarize
from tvm_gnn_cost.plots import plot_shot_curves
from tvm_gnn_cost.pretraining import PretrainConfig, split_by_model

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PRETRAINING = sorted((ROOT / "data").glob("generated-*.tar.xz")) + [ROOT / "data" / "ops-resnet50-squeezenet.tar.xz"]
UNSEEN = ROOT / "data" / "unseen-inception-vgg-zfnet.tar.xz"
ROUND = 32  # candidates a search measures per round (tune_tasks' num_trials_per_iter)
GNN_VARIANTS = ("gnn-plain", "gnn-anchor", "gnn-replay")
MODELS = (*GNN_VARIANTS, "gnn-scratch", "xgb-pretrained", "xgb")


def every_nth(dataset: Path, n: int) -> list[str]:
    """Every n-th task name of a dataset, in name order, read without loading any record (``--quick``)."""
    return sorted(d.parent.name for d in open_dataset(dataset).glob(f"*/{TASK_FILE}"))[::n]


def samples(features: Features, task: TaskRecords, index: np.ndarray) -> list[Sample]:
    """Samples of some records of a task (failed ones have no latency)."""
    graphs = features.graphs[task.name]
    return [Sample(graphs[i], task.name, None if np.isnan(task.seconds[i]) else float(task.seconds[i]))
            for i in index]


def fine_tuned(model: GNNCostModel, new: list[Sample], replay: list[Sample]) -> GNNCostModel:
    """``model`` after learning ``new`` in search rounds, with ``replay`` in its buffer first."""
    model.buffer.extend(replay)
    for start in range(0, len(new), ROUND):
        model.learn(new[start:start + ROUND], "llvm")
    return model


def scores_of(model: GNNCostModel, features: Features, task: TaskRecords, index: np.ndarray) -> np.ndarray:
    return model.predict_graphs([features.graphs[task.name][i] for i in index])[0]


def quality(model: GNNCostModel, features: Features, tasks: list[TaskRecords]) -> float:
    """Pairwise accuracy of ``model`` on all records of ``tasks`` (the forgetting probe)."""
    predictions = [TaskPrediction(t.weight, t.seconds, scores_of(model, features, t, np.arange(len(t.seconds))))
                   for t in tasks]
    return summarize(predictions)["pairwise_accuracy"]


def xgb_scores(saved: Path | None, seed: int, task: TaskRecords, shots: np.ndarray, test: np.ndarray) -> np.ndarray:
    """TVM's XGBModel (from scratch, or loaded from ``saved``) updated with the shots, scoring the test records.

    A loaded model retrains on all its data plus the shots (adaptive training off: with
    thousands of pretraining records it would otherwise skip retraining for a few more).
    """
    model = xgb_model(seed, warmup=0 if saved else 100)  # from scratch: TVM's tuning default, 100 at random
    if saved:
        model.load(str(saved))
        model.adaptive_training = False
    if len(shots):
        seconds = np.nan_to_num(task.seconds[shots], nan=FAILED_SECONDS)
        model.update(task.context(), [task.candidates[i] for i in shots],
                     [ms.runner.RunnerResult([float(s)], None) for s in seconds])
    return model.predict(task.context(), [task.candidates[i] for i in test])


def mean_sd(values: list[float]) -> dict[str, float]:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return {"mean": float(np.mean(finite)) if finite else float("nan"),
            "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0}


def aggregate(runs: list[dict], key: str) -> dict:
    """Mean and sample sd over seeds of ``run[key][model][k]``: a dict of metrics, or one number."""
    first = runs[0][key]
    return {a: {b: mean_sd([r[key][a][b] for r in runs]) if not isinstance(v, dict) else
                {m: mean_sd([r[key][a][b][m] for r in runs]) for m in v}
                for b, v in first[a].items()} for a in first}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="pretrained GNN checkpoint")
    parser.add_argument("--pretraining", type=Path, nargs="+", default=PRETRAINING,
                        help="the datasets the weights were trained on (for XGBModel, replay, forgetting)")
    parser.add_argument("--unseen", type=Path, default=UNSEEN, help="dataset of models never trained on")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 8, 32, 128])
    parser.add_argument("--test", type=int, default=32, help="held-out records per task")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--anchor-weight", type=float, default=TrainConfig().anchor_weight or 0.01,
                        help="gnn-anchor's TrainConfig.anchor_weight (default: the shipped default's)")
    parser.add_argument("--replay", type=int, default=512, help="pretraining records replayed by gnn-replay")
    parser.add_argument("--quick", action="store_true",
                        help="2 unseen tasks and every 8th pretraining task, 1 seed, shots 0 and 8, 64 replayed records")
    parser.add_argument("--out", type=Path, help="JSON result (default results/transfer.json, "
                        "or results/quick/transfer.json with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.shots, args.replay = args.seeds[:1], [k for k in args.shots if k <= 8], 64
    out = args.out or RESULTS / ("quick" if args.quick else "") / "transfer.json"
    logging.basicConfig(level=logging.WARNING)

    start = time.perf_counter()
    pretraining = [t for path in args.pretraining for t in load_dataset(path, every_nth(path, 8) if args.quick else None)]
    unseen = [t for t in load_dataset(args.unseen) if len(t.seconds) >= args.test + max(args.shots)]
    if args.quick:
        unseen = unseen[:2]
    if not unseen:
        raise SystemExit(f"{args.unseen}: no task has {args.test + max(args.shots)} records (--test + largest --shots)")
    features = Features(pretraining + unseen)
    _, probe = split_by_model(pretraining, PretrainConfig.val_fraction, PretrainConfig.seed)  # as `train` split
    print(f"{len(pretraining)} pretraining tasks, {len(unseen)} unseen tasks "
          f"({sorted({t.source for t in unseen})}); features in {time.perf_counter() - start:.0f} s")

    runs = []
    scratch = tempfile.TemporaryDirectory()  # pretrained XGBModels, saved once per seed, loaded per task and k
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        plain = replace(TrainConfig(), anchor_weight=0.0)
        anchored = replace(TrainConfig(), anchor_weight=args.anchor_weight)
        fresh: dict[str, Callable[[], GNNCostModel]] = {  # a new model per task and k, same seed
            "gnn-plain": lambda: GNNCostModel(pretrained=args.weights, seed=seed, train_config=plain),
            "gnn-anchor": lambda: GNNCostModel(pretrained=args.weights, seed=seed, train_config=anchored),
            "gnn-scratch": lambda: GNNCostModel(pretrained=False, seed=seed),
        }
        fresh["gnn-replay"] = fresh["gnn-plain"]  # the same model; its buffer starts with the replay records
        pool = [(t, i) for t in pretraining if t not in probe for i in range(len(t.seconds))]
        replay = [samples(features, pool[j][0], np.array([pool[j][1]]))[0]
                  for j in sorted(rng.choice(len(pool), size=min(args.replay, len(pool)), replace=False))]
        saved = {"xgb": None}
        if "xgb-pretrained" in args.models:
            saved["xgb-pretrained"] = Path(scratch.name) / f"xgb-{seed}.tar"
            fitted_xgb([(t, np.arange(len(t.seconds))) for t in pretraining], seed).save(str(saved["xgb-pretrained"]))
        orders = {t.name: rng.permutation(len(t.seconds)) for t in unseen}  # shots of k are a prefix of shots of 4k
        run = {"seed": seed, "probe_before": quality(fresh["gnn-plain"](), features, probe), "models": {},
               "retained": {}}
        for name in args.models:
            run["models"][name], run["retained"][name] = {}, {}
            for k in args.shots:
                predictions, retained = [], []
                for task in unseen:
                    shots, test = orders[task.name][:k], orders[task.name][-args.test:]
                    if name.startswith("gnn"):
                        model = fine_tuned(fresh[name](), samples(features, task, shots),
                                           replay if name == "gnn-replay" else [])
                        scores = (scores_of(model, features, task, test) if model.trained
                                  else model.rng.uniform(size=len(test)))  # what predict gives before it trains
                        if name in GNN_VARIANTS and k:
                            retained.append(quality(model, features, probe))
                    else:
                        scores = xgb_scores(saved[name], seed, task, shots, test)
                    predictions.append(TaskPrediction(task.weight, task.seconds[test], scores))
                run["models"][name][str(k)] = summarize(predictions)
                if retained:
                    run["retained"][name][str(k)] = float(np.mean(retained)) - run["probe_before"]
                print(f"seed {seed} {name:14s} k={k:3d} " + " ".join(
                    f"{m}={v:.3f}" for m, v in run["models"][name][str(k)].items() if v is not None))
        runs.append(run)
    scratch.cleanup()

    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(host_target()),
        "measured_on": str(unseen[0].target),
        "versions": versions(),
        "weights": os.path.relpath(args.weights, ROOT),
        "pretraining": [os.path.relpath(p, ROOT) for p in args.pretraining],
        "unseen": os.path.relpath(args.unseen, ROOT),
        "unseen_tasks": [t.name for t in unseen],
        "unseen_models": sorted({t.source for t in unseen}),
        "probe_tasks": [t.name for t in probe],
        "seeds": args.seeds,
        "shots": args.shots,
        "test_records": args.test,
        "anchor_weight": args.anchor_weight,
        "default_variant": "gnn-anchor" if TrainConfig().anchor_weight == args.anchor_weight > 0 else "gnn-plain",
        "replay_records": args.replay,
        "summary": aggregate(runs, "models"),
        "forgetting": aggregate(runs, "retained"),
        "probe_before": mean_sd([r["probe_before"] for r in runs]),
        "runs": runs,
        "seconds": round(time.perf_counter() - start, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, result)
    plot_shot_curves(result["summary"], out.with_suffix(".png"),
                     title=f"unseen models, {len(args.seeds)} seeds ({result['machine']['cpu']})")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return result


if __name__ == "__main__":
    main()
