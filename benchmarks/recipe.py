"""Which training recipe? The GNN pretrained with one knob changed at a time, scored on held-out and unseen models.

Every variant pretrains through ``pretraining.pretrain`` (what ``tvm-gnn-cost train`` and
``make weights`` run) on the whole corpus, with ``PretrainConfig()``'s schedule and
validation rule (whole held-out models, tasks of at least 8 valid records, at least 40 such
tasks), and differs from ``--base`` (default ``ranknet``, the recipe of the weights shipped
before this benchmark) in one thing: the ranking loss, the batch shape, regularisation,
width, or message passing; ``--base grouped-8x16`` changes things of today's recipe. Each is scored on the validation models at its kept epoch (what picks the
default) and zero-shot on every record of the transfer benchmark's unseen models (Inception
v1, VGG-19, ZFNet-512). TVM's XGBModel fed the same training records is the reference.

Results go to benchmarks/results/recipe.json and recipe.png; ``chosen`` names the variant with
the best mean validation pairwise accuracy. ``--add`` trains only the variants named and adds
them to an existing result of the same corpus and seeds (accuracies, not timings, so runs
of another day compare). ``ensemble`` scores, for every variant trained in the run, the mean of
its seeds' log-throughputs zero-shot on the unseen models: what shipping the seeds together
as one model would rank like (validation is another split for each seed, so it has none).

    .venv/bin/python benchmarks/recipe.py [--quick] [--seeds 1 2 3] [--variants ranknet lambdarank] [--add]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from tvm_gnn_cost import host_target
from tvm_gnn_cost.datasets.loading import TaskRecords, load_zero_shot
from tvm_gnn_cost.evaluation import (Features, Predictor, evaluate, every_record, fitted_xgb, learner_predictor,
                                     mean_predictor, mean_sd)
from tvm_gnn_cost.files import write_json
from tvm_gnn_cost.nn import GNNConfig, TrainConfig
from tvm_gnn_cost.plots import plot_metric_bars
from tvm_gnn_cost.pretraining import PretrainConfig, pretrain, split_tasks
from tvm_gnn_cost.provenance import results_header

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PRETRAINING = [ROOT / "data" / "generated", ROOT / "data" / "ops-resnet50-squeezenet.tar.xz"]
UNSEEN = ROOT / "data" / "unseen-inception-vgg-zfnet.tar.xz"

#: The recipe of the weights shipped before this benchmark, which every variant changes one thing of.
BASE_RECIPE: dict[str, Any] = {"rank_loss": "ranknet", "group_tasks": 0, "weight_decay": 1e-5}
#: name -> (GNNConfig fields, TrainConfig fields) that differ from ``GNNConfig()`` and :data:`BASE_RECIPE`.
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ranknet": ({}, {}),
    "grouped-8x16": ({}, {"group_tasks": 8}),
    "lambdarank": ({}, {"rank_loss": "lambdarank"}),
    "throughput": ({}, {"rank_loss": "throughput"}),
    "dropout-0.2": ({"dropout": 0.2}, {}),
    "decay-1e-3": ({}, {"weight_decay": 1e-3}),
    "fitted-norm": ({"input_norm": "fitted"}, {}),
    "hidden-32": ({"hidden": 32}, {}),
    "hidden-128": ({"hidden": 128}, {}),
    "nomp": ({"num_layers": 0}, {}),
    "layers-4": ({"num_layers": 4}, {}),
    "stage-readout": ({"readout": "stages"}, {}),
}
#: How top-1 counts a task whose pick failed to build or run (results without the key: infinitely slow).
TOP1_FAILED_PICK = "slowest valid"
GROUPS = {"validation": "held-out models (validation)", "unseen": "unseen models, zero-shot"}


def gnn_run(name: str, base: str, tasks: list[TaskRecords], features: Features, unseen: list[TaskRecords],
            config: PretrainConfig) -> tuple[dict, Predictor]:
    """One variant, ``base``'s network with its own change, pretrained on ``tasks``: its validation
    metrics at the kept epoch, zero-shot ones on ``unseen``, and its predictor (for the ensemble of seeds).

    ``config.recipe`` is ``base``'s already."""
    model_fields, recipe_fields = VARIANTS[name]
    learner, result = pretrain(tasks, features.graphs, replace(config, recipe=replace(config.recipe, **recipe_fields)),
                               model_config=GNNConfig(**{**VARIANTS[base][0], **model_fields}))
    best = result.history[result.best_epoch - 1]
    predict = learner_predictor(learner, features.graphs)
    return {
        "validation": {k.removeprefix("val_"): v for k, v in best.items() if k.startswith("val_")},
        "unseen": evaluate(predict, every_record(unseen)),
        "best_epoch": result.best_epoch, "epochs": len(result.history), "train_seconds": round(result.seconds, 1),
        "pairs_per_step": best["pairs_per_step"], "score_scale": learner.score_scale,
    }, predict


def xgb_run(tasks: list[TaskRecords], features: Features, unseen: list[TaskRecords], config: PretrainConfig) -> dict:
    """TVM's XGBModel fed the training records of ``config``'s split, scored like the GNNs."""
    train, val = split_tasks(tasks, config)
    model = fitted_xgb(every_record(train), config.seed)

    def predict(task: TaskRecords, index: np.ndarray) -> tuple[np.ndarray, None]:
        return model.predict(task.context(), [task.candidates[i] for i in index]), None

    return {"validation": evaluate(predict, every_record(val)), "unseen": evaluate(predict, every_record(unseen))}


def summarize(runs: list[dict]) -> dict:
    """Per variant: each group's metrics and each scalar as mean and sd over the seeds."""
    out = {}
    for name, first in runs[0]["variants"].items():
        rows = [r["variants"][name] for r in runs]
        out[name] = {key: ({m: mean_sd([row[key][m] for row in rows]) for m in value} if isinstance(value, dict)
                           else mean_sd([row[key] for row in rows]))
                     for key, value in first.items()}
    return out


def check_addable(earlier: dict, records: int, seeds: list[int], config: PretrainConfig, base: str) -> None:
    """Refuse to add variants to a result of another corpus, seeds, schedule, base variant or top-1 rule.

    A recipe knob added since the result was written counts as equal at its default (it changed nothing then).
    """
    stored = json.loads(json.dumps(asdict(config)))
    default = asdict(TrainConfig())
    stored["recipe"] = {k: v for k, v in stored["recipe"].items()
                        if k in earlier["pretrain_config"]["recipe"] or v != default[k]}
    mine = {"corpus_records": records, "seeds": seeds, "pretrain_config": stored, "top1_failed_pick": TOP1_FAILED_PICK,
            "base": base}
    for key, value in mine.items():
        if earlier.get(key, "ranknet" if key == "base" else None) != value:  # results before --base: ranknet
            raise SystemExit(f"--add: the result holds {key}={earlier.get(key)}, this run {value}; run without --add")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretraining", type=Path, nargs="+", default=PRETRAINING)
    parser.add_argument("--unseen", type=Path, default=UNSEEN)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--base", default="ranknet", choices=list(VARIANTS),
                        help="the variant every other changes one thing of")
    parser.add_argument("--min-records", type=int, default=8, help="valid records an unseen task needs to count")
    parser.add_argument("--epochs", type=int, default=PretrainConfig().epochs)
    parser.add_argument("--quick", action="store_true",
                        help="24 tasks per dataset, 4 unseen, 1 seed, 3 epochs, validation of any size")
    parser.add_argument("--out", type=Path, help="JSON result (default results/recipe.json, "
                        "or results/quick/recipe.json with --quick)")
    parser.add_argument("--add", action="store_true", help="add --variants to the result in --out (same corpus, "
                        "seeds and epochs) instead of starting a new one")
    args = parser.parse_args(argv)
    config = PretrainConfig(epochs=args.epochs, patience=min(PretrainConfig().patience, args.epochs),
                            recipe=TrainConfig(**{**BASE_RECIPE, **VARIANTS[args.base][1]}))
    if args.quick:
        args.seeds = args.seeds[:1]
        config = replace(config, epochs=3, patience=3, val_min_tasks=0, val_min_records=2)
    out = args.out or RESULTS / ("quick" if args.quick else "") / "recipe.json"
    earlier = json.loads(out.read_text()) if args.add else None
    logging.basicConfig(level=logging.WARNING)

    start = time.perf_counter()
    corpus, unseen = load_zero_shot(args.pretraining, args.unseen, min_records=args.min_records, quick=args.quick)
    features = Features(corpus + unseen)
    records = int(sum(len(t.seconds) for t in corpus))
    print(f"{len(corpus)} pretraining tasks ({records} records), {len(unseen)} unseen "
          f"tasks; stage graphs in {time.perf_counter() - start:.0f} s")
    if earlier is not None:
        check_addable(earlier, records, args.seeds, config, args.base)

    runs, members = [], {name: [] for name in args.variants}
    for n, seed in enumerate(args.seeds):
        seeded = replace(config, seed=seed)
        run: dict = {"seed": seed, "val_models": sorted({t.source for t in split_tasks(corpus, seeded)[1]}),
                     "variants": {} if earlier is None else earlier["runs"][n]["variants"]}
        for name in args.variants:
            run["variants"][name], predict = gnn_run(name, args.base, corpus, features, unseen, seeded)
            members[name].append(predict)
        if earlier is None:
            run["variants"]["xgb"] = xgb_run(corpus, features, unseen, seeded)
        for name, row in run["variants"].items():
            print(f"seed {seed} {name:14s} validation pairwise {row['validation']['pairwise_accuracy']:.3f} "
                  f"top-1 {row['validation']['top1']:.3f} | unseen pairwise {row['unseen']['pairwise_accuracy']:.3f} "
                  f"top-1 {row['unseen']['top1']:.3f}")
        runs.append(run)

    summary = summarize(runs)
    ensemble = {**(earlier or {}).get("ensemble", {}),
                **{name: evaluate(mean_predictor(predicts), every_record(unseen))
                   for name, predicts in members.items() if len(predicts) > 1}}
    for name, metrics in ensemble.items():
        print(f"ensemble of {len(args.seeds)} seeds, {name:14s} unseen pairwise {metrics['pairwise_accuracy']:.3f} "
              f"top-1 {metrics['top1']:.3f}")
    gnns = [name for name in summary if name != "xgb"]
    result = {
        **results_header(host_target()),
        "measured_on": sorted({t.cpu for t in unseen}),
        "pretraining": [os.path.relpath(p, ROOT) for p in args.pretraining],
        "corpus_tasks": len(corpus),
        "corpus_records": int(sum(len(t.seconds) for t in corpus)),
        "unseen": os.path.relpath(args.unseen, ROOT),
        "unseen_tasks": [t.name for t in unseen],
        "seeds": args.seeds,
        "base": args.base,
        "pretrain_config": asdict(config),
        "variants": {name: {"model": VARIANTS[name][0], "recipe": VARIANTS[name][1]} for name in gnns},
        "top1_failed_pick": TOP1_FAILED_PICK,
        "chosen": max(gnns, key=lambda n: summary[n]["validation"]["pairwise_accuracy"]["mean"]),
        "summary": summary,
        "ensemble": ensemble,
        "runs": runs,
        "seconds": round(time.perf_counter() - start, 1) + (earlier["seconds"] if earlier else 0.0),
    }
    write_json(out, result)
    plot_metric_bars(summary, out.with_suffix(".png"), groups=GROUPS,
                     title=f"training recipes, {len(args.seeds)} seeds ({result['machine']['cpu']})")
    print(f"chosen by validation: {result['chosen']}; wrote {out} and {out.with_suffix('.png')}")
    return result


if __name__ == "__main__":
    main()
