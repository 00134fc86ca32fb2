"""Transfer, offline: the pretrained GNN on models it never saw, zero-shot and after 8, 32 and 128 measurements.

The unseen models' tasks (Inception v1, VGG-19, ZFNet-512; never in pretraining) come from
``--unseen``. For each seed, each task's records are shuffled; the last ``--test`` are held
out, and a model is given the first k (k in ``--shots``) the way a search gives them: GNNs
learn them through ``GNNLearner.learn`` in rounds of 32 (what ``GNNCostModel.update`` does), XGBModels
through one ``update``. Models:

- ``gnn-plain``: the pretrained weights (``--weights``), fine-tuned with no safeguard;
- ``gnn-anchor``: the same, fine-tuning pulled toward the pretrained weights (L2-SP,
  ``TrainConfig.anchor_weight`` = ``--anchor-weight``);
- ``gnn-replay``: ``gnn-plain`` with ``--replay`` pretraining records in its replay buffer;
- ``gnn-head``: the pretrained weights with only the readout head fine-tuned (``finetune="head"``, anchored);
- ``gnn-residual``: the pretrained network frozen, plus a residual XGBoost booster fitted on the
  k measurements with the network's log-throughput as base margin (``finetune="residual"``,
  TenSet's local-residual transfer);
- ``gnn-hybrid``: ``gnn-anchor``, plus that residual booster refitted after each round once the
  run holds ``--residual-from`` measurements (``TrainConfig.residual_from``);
- ``gnn-scratch``: ``GNNLearner(pretrained=False)`` (random scores until it has 32 measurements);
- ``xgb-pretrained``: TVM's XGBModel fed every record the GNN trained on first (TenSet-style), then the k;
- ``xgb``: TVM's XGBModel from scratch, its tuning defaults (random scores for its first 100).

Forgetting: after fine-tuning, each pretrained GNN is also scored on tasks of the
pretraining models ``train`` held out for validation (``val_models`` in the history JSON
beside the weights; ``--probe-tasks`` of those validation scored, spread evenly over their
names, since the probe runs after every fine-tuning); the change from the pretrained
weights' score there is what fine-tuning on one task cost them (``forgetting`` in the JSON:
the change in pairwise accuracy, negative when they forgot).

Results go to benchmarks/results/transfer.json and transfer.png.

    .venv/bin/python benchmarks/transfer.py [--quick] [--seeds 1 2 3] [--models gnn-hybrid --add]

``--add`` runs only ``--models`` and adds them to the result in ``--out`` (same weights, seeds,
shots and held-out records), so an arm can join a committed table without re-running the rest.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from tvm_gnn_cost import TrainConfig, host_target, make_cost_model
from tvm_gnn_cost.datasets.loading import TaskRecords, load_dataset, load_spread
from tvm_gnn_cost.evaluation import (
    Features,
    evaluate,
    every_record,
    fitted_xgb,
    learner_predictor,
    mean_sd,
    teach,
)
from tvm_gnn_cost.files import write_json
from tvm_gnn_cost.nn import DEFAULT_WEIGHTS, GNNLearner, Sample
from tvm_gnn_cost.plots import plot_shot_curves
from tvm_gnn_cost.pretraining import PretrainConfig
from tvm_gnn_cost.provenance import results_header

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PRETRAINING = [ROOT / "data" / "generated", ROOT / "data" / "ops-resnet50-squeezenet.tar.xz"]
UNSEEN = ROOT / "data" / "unseen-inception-vgg-zfnet.tar.xz"
ROUND = 32  # candidates a search measures per round (tune_tasks' num_trials_per_iter)
QUICK_TASKS = 24  # --quick: pretraining tasks per dataset, spread over it (the corpus keeps growing)
GNN_VARIANTS = ("gnn-plain", "gnn-anchor", "gnn-replay", "gnn-head", "gnn-residual", "gnn-hybrid")
MODELS = (*GNN_VARIANTS, "gnn-scratch", "xgb-pretrained", "xgb")


def fine_tuned(learner: GNNLearner, new: list[Sample], replay: list[Sample]) -> GNNLearner:
    """``learner`` after learning ``new`` in search rounds, with ``replay`` in its buffer first."""
    learner.buffer.extend(replay)
    for start in range(0, len(new), ROUND):
        learner.learn(new[start:start + ROUND], "llvm")
    return learner


def scores_of(learner: GNNLearner, features: Features, task: TaskRecords, index: np.ndarray) -> np.ndarray:
    """The learner's scores for some records of a task."""
    return learner_predictor(learner, features.graphs)(task, index)[0]


def quality(learner: GNNLearner, features: Features, tasks: list[TaskRecords]) -> float:
    """Pairwise accuracy of ``learner`` on all records of ``tasks`` (the forgetting probe)."""
    return evaluate(learner_predictor(learner, features.graphs), every_record(tasks))["pairwise_accuracy"]


def xgb_scores(saved: Path | None, rng: np.random.Generator, seed: int, task: TaskRecords, shots: np.ndarray,
               test: np.ndarray) -> np.ndarray:
    """TVM's XGBModel (from scratch, or loaded from ``saved``) updated with the shots, scoring the test records.

    A loaded model retrains on all its data plus the shots (adaptive training off: with
    thousands of pretraining records it would otherwise skip retraining for a few more).
    Before its warm-up XGBModel scores uniformly at random from numpy's global generator;
    those scores are drawn from ``rng`` instead, so that a seed gives the same result.
    """
    model = make_cost_model("xgb", seed=seed, warmup=0 if saved else None)  # from scratch: TVM's 100 at random
    if saved:
        model.load(str(saved))
        model.adaptive_training = False
    if len(shots):
        teach(model, task, shots)
    if model.data_size < model.num_warmup_samples or model.booster is None:
        return rng.uniform(size=len(test))
    return model.predict(task.context(), [task.candidates[i] for i in test])


def aggregate(runs: list[dict], key: str) -> dict:
    """Mean and sample sd over seeds of ``run[key][model][k]``: a dict of metrics, or one number."""
    first = runs[0][key]
    return {a: {b: mean_sd([r[key][a][b] for r in runs]) if not isinstance(v, dict) else
                {m: mean_sd([r[key][a][b][m] for r in runs]) for m in v}
                for b, v in first[a].items()} for a in first}


def run_seed(args: argparse.Namespace, seed: int, features: Features, trained_on: list[TaskRecords],
             probe: list[TaskRecords], unseen: list[TaskRecords], scratch: Path) -> dict:
    """Every model's metrics for one seed, for each k, and how much each pretrained GNN forgot."""
    orders_rng, replay_rng, scorer = (np.random.default_rng([seed, stream]) for stream in range(3))
    orders = {t.name: orders_rng.permutation(len(t.seconds)) for t in unseen}  # shots of k: a prefix of 4k's
    plain = replace(TrainConfig(), anchor_weight=0.0, residual_from=0)  # the booster: gnn-hybrid's alone
    anchored = replace(TrainConfig(), anchor_weight=args.anchor_weight, residual_from=0)
    pretrained = partial(GNNLearner, pretrained=args.weights, seed=seed)
    fresh = {  # a new learner per task and k, same seed
        "gnn-plain": partial(pretrained, train_config=plain),
        "gnn-anchor": partial(pretrained, train_config=anchored),
        "gnn-head": partial(pretrained, train_config=replace(anchored, finetune="head")),
        "gnn-residual": partial(pretrained, train_config=replace(anchored, finetune="residual")),
        "gnn-hybrid": partial(pretrained, train_config=replace(anchored, residual_from=args.residual_from)),
        "gnn-scratch": partial(GNNLearner, pretrained=False, seed=seed),
    }
    fresh["gnn-replay"] = fresh["gnn-plain"]  # the same model; its buffer starts with the replay records
    pool = [(t, i) for t in trained_on for i in range(len(t.seconds))]
    replay = [pool[j][0].samples(features.graphs[pool[j][0].name], [pool[j][1]])[0]
              for j in sorted(replay_rng.choice(len(pool), size=min(args.replay, len(pool)), replace=False))]
    saved = {"xgb": None}
    if "xgb-pretrained" in args.models:
        saved["xgb-pretrained"] = scratch / f"xgb-{seed}.tar"
        fitted_xgb(every_record(trained_on), seed).save(str(saved["xgb-pretrained"]))
    run = {"seed": seed, "probe_before": quality(fresh["gnn-plain"](), features, probe), "models": {},
           "retained": {}}
    test = [(t, orders[t.name][-args.test:]) for t in unseen]
    for name in args.models:
        run["models"][name], run["retained"][name] = {}, {}
        for k in args.shots:
            retained: list[float] = []

            def predict(task: TaskRecords, index: np.ndarray, k: int = k, name: str = name) -> tuple[np.ndarray, None]:
                """A fresh model given the task's first k records, scoring ``index``."""
                shots = orders[task.name][:k]
                if not name.startswith("gnn"):
                    return xgb_scores(saved[name], scorer, seed, task, shots, index), None
                learner = fine_tuned(fresh[name](), task.samples(features.graphs[task.name], shots),
                                     replay if name == "gnn-replay" else [])
                scores = (scores_of(learner, features, task, index) if learner.trained
                          else learner.random_scores(len(index)))  # what predict gives before it trains
                if name in GNN_VARIANTS and k:
                    retained.append(quality(learner, features, probe))
                return scores, None

            metrics = evaluate(predict, test)
            run["models"][name][str(k)] = metrics
            if retained:
                run["retained"][name][str(k)] = float(np.mean(retained)) - run["probe_before"]
            print(f"seed {seed} {name:14s} k={k:3d} " + " ".join(
                f"{m}={v:.3f}" for m, v in metrics.items() if v is not None))
    return run


def check_addable(earlier: dict, mine: dict) -> None:
    """Refuse to add arms to a result of other weights, tasks, seeds, shots or machine (``mine``: this run's)."""
    for key, value in mine.items():
        theirs = earlier["machine"]["cpu"] if key == "cpu" else earlier.get(key)
        if theirs != value:
            raise SystemExit(f"--add: the result holds {key}={theirs}, this run {value}; run without --add")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="pretrained GNN checkpoint")
    parser.add_argument("--pretraining", type=Path, nargs="+", default=PRETRAINING,
                        help="the datasets the weights were trained on (for XGBModel, replay, forgetting)")
    parser.add_argument("--unseen", type=Path, default=UNSEEN, help="dataset of models never trained on")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 8, 32, 128])
    parser.add_argument("--test", type=int, default=32, help="held-out records per task (at least 1)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--anchor-weight", type=float, default=TrainConfig().anchor_weight,
                        help="gnn-anchor's TrainConfig.anchor_weight (default: the shipped default's)")
    parser.add_argument("--replay", type=int, default=512, help="pretraining records replayed by gnn-replay")
    parser.add_argument("--probe-tasks", type=int, default=256,
                        help="validation models' tasks the forgetting probe scores after each fine-tuning")
    parser.add_argument("--residual-from", type=int, default=TrainConfig().residual_from or 64,
                        help="gnn-hybrid's TrainConfig.residual_from (default: the shipped default's, else 64)")
    parser.add_argument("--quick", action="store_true",
                        help="2 unseen tasks and 24 pretraining tasks per dataset, 1 seed, shots 0 and 8, "
                        "64 replayed records")
    parser.add_argument("--out", type=Path, help="JSON result (default results/transfer.json, "
                        "or results/quick/transfer.json with --quick)")
    parser.add_argument("--add", action="store_true", help="add --models to the result in --out instead of "
                        "starting a new one")
    args = parser.parse_args(argv)
    if args.test < 1:
        parser.error("--test must be at least 1: the held-out records are what every model is scored on")
    if args.quick:
        args.seeds, args.shots, args.replay = args.seeds[:1], [k for k in args.shots if k <= 8], 64
    out = args.out or RESULTS / ("quick" if args.quick else "") / "transfer.json"
    earlier = json.loads(out.read_text()) if args.add else None
    logging.basicConfig(level=logging.WARNING)

    start = time.perf_counter()
    pretraining = [t for path in args.pretraining for t in load_spread(path, QUICK_TASKS if args.quick else None)]
    unseen = [t for t in load_dataset(args.unseen) if len(t.seconds) >= args.test + max(args.shots)]
    if args.quick:
        unseen = unseen[:2]
    if not unseen:
        raise SystemExit(f"{args.unseen}: no task has {args.test + max(args.shots)} records (--test + largest --shots)")
    features = Features(pretraining + unseen)
    history = args.weights.with_suffix(".json")
    if not history.exists():
        raise SystemExit(f"{history}: missing; the history JSON `train` writes beside the weights names the models it "
                         "held out (the forgetting probe, kept out of XGBModel's pretraining and the replay)")
    val_models = set(json.loads(history.read_text())["val_models"])
    scored = PretrainConfig().val_min_records  # as validation scored them
    held_out = [t for t in pretraining if t.source in val_models and np.isfinite(t.seconds).sum() >= scored]
    probe = held_out[::max(1, len(held_out) // args.probe_tasks)][:args.probe_tasks]
    trained_on = [t for t in pretraining if t.source not in val_models]
    print(f"{len(pretraining)} pretraining tasks, {len(unseen)} unseen tasks "
          f"({sorted({t.source for t in unseen})}); features in {time.perf_counter() - start:.0f} s")

    if earlier is not None:
        check_addable(earlier, {"weights": os.path.relpath(args.weights, ROOT),
                                "unseen_tasks": [t.name for t in unseen], "seeds": args.seeds, "shots": args.shots,
                                "test_records": args.test, "anchor_weight": args.anchor_weight,
                                "replay_records": args.replay, "probe_tasks": [t.name for t in probe],
                                "cpu": results_header(host_target())["machine"]["cpu"]})
    with tempfile.TemporaryDirectory() as scratch:  # pretrained XGBModels, saved once per seed, loaded per task and k
        runs = [run_seed(args, seed, features, trained_on, probe, unseen, Path(scratch)) for seed in args.seeds]
    seconds = time.perf_counter() - start
    if earlier is not None:
        runs = [{**old, "models": {**old["models"], **new["models"]},
                 "retained": {**old["retained"], **new["retained"]}} for old, new in zip(earlier["runs"], runs)]
        seconds += earlier["seconds"]

    result = {
        **results_header(host_target()),
        "measured_on": str(unseen[0].target),
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
        "replay_records": args.replay,
        "residual_from": args.residual_from,
        "summary": aggregate(runs, "models"),
        "forgetting": aggregate(runs, "retained"),
        "probe_before": mean_sd([r["probe_before"] for r in runs]),
        "runs": runs,
        "seconds": round(seconds, 1),
    }
    write_json(out, result)
    plot_shot_curves(result["summary"], out.with_suffix(".png"),
                     title=f"unseen models, {len(args.seeds)} seeds ({result['machine']['cpu']})")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return result


if __name__ == "__main__":
    main()
