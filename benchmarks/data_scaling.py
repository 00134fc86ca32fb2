"""Does more data still pay? The GNN pretrained on 10, 25, 50 and 100% of the corpus, scored on unseen models.

Each point pretrains a fresh GNN with the shipped weights' recipe (``pretraining.pretrain``,
``PretrainConfig()``: validation on held-out whole models, early stopping) on a seeded random
share of the pretraining tasks, and scores it zero-shot on every record of the transfer
benchmark's unseen models (Inception v1, VGG-19, ZFNet-512; tasks with at least
``--min-records`` valid records). TVM's XGBModel fed the same share of records (TenSet-style
pretraining) is the reference at every point.

The CPU comparison trains on the whole corpus three ways, scored the same way:
``all-cpus`` (every CPU's data, the CPU's features as input), ``all-cpus-blind`` (the same
data, no CPU input: ``GNNConfig(cpu_features=0)``) and ``target-cpu`` (only the data measured
on the unseen models' CPU, with the CPU input).

Results go to benchmarks/results/data_scaling.json and data_scaling.png once every point is
measured. Until then each point is saved as it finishes, to data_scaling.partial.json beside
them, and ``--resume`` continues from it (same corpus, unseen tasks, recipe and CPU), so a run
longer than one sitting still completes (the result's ``seconds`` says how long the last one took).

    .venv/bin/python benchmarks/data_scaling.py [--quick] [--seeds 1 2 3] [--resume]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from tvm_gnn_cost import host_target
from tvm_gnn_cost.datasets.loading import TaskRecords, load_zero_shot
from tvm_gnn_cost.evaluation import Features, evaluate, every_record, fitted_xgb, learner_predictor, mean_sd
from tvm_gnn_cost.files import write_json
from tvm_gnn_cost.nn import GNNConfig
from tvm_gnn_cost.plots import plot_data_scaling
from tvm_gnn_cost.pretraining import PretrainConfig, pretrain
from tvm_gnn_cost.provenance import machine, results_header

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PRETRAINING = [ROOT / "data" / "generated", ROOT / "data" / "ops-resnet50-squeezenet.tar.xz"]
UNSEEN = ROOT / "data" / "unseen-inception-vgg-zfnet.tar.xz"
FRACTIONS = (0.1, 0.25, 0.5, 1.0)
CPU_ARMS = ("all-cpus", "all-cpus-blind", "target-cpu")


def share(tasks: list[TaskRecords], fraction: float, seed: int) -> list[TaskRecords]:
    """A seeded random ``fraction`` of the tasks (at least two models' worth, so validation can hold one out)."""
    order = np.random.default_rng([seed, round(fraction * 1000)]).permutation(len(tasks))
    chosen = [tasks[i] for i in np.sort(order[: max(1, round(fraction * len(tasks)))])]
    for i in order[len(chosen):]:  # a tiny share may hold one model only: add tasks until there are two
        if len({t.source for t in chosen}) >= 2:
            break
        chosen.append(tasks[i])
    return chosen


def gnn_quality(tasks: list[TaskRecords], features: Features, unseen: list[TaskRecords], seed: int,
                config: PretrainConfig, model_config: GNNConfig = GNNConfig()) -> dict:
    """Zero-shot metrics on ``unseen`` of a GNN pretrained on ``tasks``, with how it trained."""
    learner, result = pretrain(tasks, features.graphs, replace(config, seed=seed), model_config=model_config)
    metrics = evaluate(learner_predictor(learner, features.graphs), every_record(unseen))
    return {**metrics, "best_epoch": result.best_epoch, "epochs": len(result.history),
            "val_pairwise_accuracy": result.best["val_pairwise_accuracy"], "train_seconds": round(result.seconds, 1)}


def xgb_quality(tasks: list[TaskRecords], features: Features, unseen: list[TaskRecords], seed: int) -> dict:
    """Zero-shot metrics on ``unseen`` of TVM's XGBModel fed every record of ``tasks``."""
    model = fitted_xgb(every_record(tasks), seed)

    def predict(task: TaskRecords, index: np.ndarray) -> tuple[np.ndarray, None]:
        return model.predict(task.context(), [task.candidates[i] for i in index]), None

    return evaluate(predict, every_record(unseen))


def summarize(runs: list[dict], key: str) -> dict:
    """``runs[i][key][arm][metric]`` as mean and sd over the runs, per arm and metric."""
    arms = runs[0][key]
    return {arm: {m: mean_sd([r[key][arm][m] for r in runs]) for m in arms[arm]} for arm in arms}


def partial_path(out: Path) -> Path:
    """Where the points measured so far are kept until every point is (``data_scaling.partial.json``)."""
    return out.with_name(f"{out.stem}.partial.json")


def earlier_runs(path: Path, setting: dict) -> tuple[list[dict], float]:
    """The runs a stopped invocation saved to ``path`` (``--resume``) and the seconds they took; none if no file.

    Raises ``SystemExit`` if they were measured on another corpus, unseen set, recipe or CPU.
    """
    if not path.exists():
        return [], 0.0
    before = json.loads(path.read_text())
    changed = [key for key, value in setting.items() if before["setting"].get(key) != value]
    if changed:
        raise SystemExit(f"{path}: measured with another {', '.join(changed)}; move it away to start afresh")
    return before["runs"], before["seconds"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretraining", type=Path, nargs="+", default=PRETRAINING)
    parser.add_argument("--unseen", type=Path, default=UNSEEN)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--min-records", type=int, default=8, help="valid records an unseen task needs to count")
    parser.add_argument("--epochs", type=int, default=PretrainConfig().epochs)
    parser.add_argument("--quick", action="store_true", help="24 tasks per dataset, 4 unseen, 1 seed, 4 epochs")
    parser.add_argument("--out", type=Path, help="JSON result (default results/data_scaling.json, "
                        "or results/quick/data_scaling.json with --quick)")
    parser.add_argument("--resume", action="store_true", help="keep the points a stopped run saved beside --out "
                        "(same corpus, unseen tasks, recipe and CPU) and measure only the rest")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.fractions, args.epochs = args.seeds[:1], [0.5, 1.0], 4
    out = args.out or RESULTS / ("quick" if args.quick else "") / "data_scaling.json"
    logging.basicConfig(level=logging.WARNING)

    start = time.perf_counter()
    corpus, unseen = load_zero_shot(args.pretraining, args.unseen, min_records=args.min_records, quick=args.quick)
    target_cpu = unseen[0].cpu
    features = Features(corpus + unseen)
    print(f"{len(corpus)} pretraining tasks ({sum(len(t.seconds) for t in corpus)} records), {len(unseen)} unseen "
          f"tasks on {target_cpu}; stage graphs in {time.perf_counter() - start:.0f} s")
    config = PretrainConfig(epochs=args.epochs, patience=min(PretrainConfig().patience, args.epochs))

    setting = json.loads(json.dumps({  # as a resumed run reads it back
        "cpu": machine(host_target())["cpu"], "corpus_tasks": len(corpus),
        "corpus_records": int(sum(len(t.seconds) for t in corpus)), "unseen_tasks": [t.name for t in unseen],
        "pretrain_config": asdict(config)}))
    partial = partial_path(out)
    earlier, seconds_before = earlier_runs(partial, setting) if args.resume else ([], 0.0)
    runs = {r["seed"]: r for r in earlier}

    def point(run: dict, section: str, name: str, measure: Callable[[], dict]) -> dict:
        """``run[section][name]``: measured now unless a resumed run holds it, then saved with every point so far."""
        if name not in run[section]:
            run[section][name] = measure()
            write_json(partial, {"setting": setting, "runs": list(runs.values()),
                                 "seconds": round(seconds_before + time.perf_counter() - start, 1)})
        return run[section][name]

    for seed in args.seeds:
        run = runs.setdefault(seed, {"seed": seed, "curve": {}, "cpus": {}})
        for fraction in args.fractions:
            tasks = share(corpus, fraction, seed)
            size = {"tasks": len(tasks), "records": sum(len(t.seconds) for t in tasks)}
            gnn = point(run, "curve", f"gnn@{fraction:g}",
                        lambda: {**size, **gnn_quality(tasks, features, unseen, seed, config)})
            xgb = point(run, "curve", f"xgb@{fraction:g}", lambda: {**size, **xgb_quality(tasks, features, unseen, seed)})
            print(f"seed {seed}, {fraction:.0%} ({size['records']} records): GNN pairwise "
                  f"{gnn['pairwise_accuracy']:.3f}, XGBModel {xgb['pairwise_accuracy']:.3f}")
        run["cpus"]["all-cpus"] = run["curve"][f"gnn@{max(args.fractions):g}"]
        point(run, "cpus", "all-cpus-blind",
              lambda: gnn_quality(corpus, features, unseen, seed, config, GNNConfig(cpu_features=0)))
        same = [t for t in corpus if t.cpu == target_cpu]
        point(run, "cpus", "target-cpu", lambda: {"tasks": len(same), **gnn_quality(same, features, unseen, seed, config)})
        print(f"seed {seed}: " + ", ".join(f"{arm} {run['cpus'][arm]['pairwise_accuracy']:.3f}" for arm in CPU_ARMS))
    runs = [runs[seed] for seed in args.seeds]

    result = {
        **results_header(host_target()),
        "measured_on": target_cpu,
        "pretraining": [os.path.relpath(p, ROOT) for p in args.pretraining],
        "corpus_cpus": {cpu: sum(t.cpu == cpu for t in corpus) for cpu in sorted({t.cpu for t in corpus})},
        "corpus_tasks": setting["corpus_tasks"],
        "corpus_records": setting["corpus_records"],
        "unseen": os.path.relpath(args.unseen, ROOT),
        "unseen_tasks": setting["unseen_tasks"],
        "seeds": args.seeds,
        "fractions": args.fractions,
        "pretrain_config": asdict(config),
        "setting": setting,  # what --resume checks
        "curve": summarize(runs, "curve"),
        "cpus": summarize(runs, "cpus"),
        "runs": runs,
        "seconds": round(seconds_before + time.perf_counter() - start, 1),
    }
    write_json(out, result)
    partial.unlink(missing_ok=True)
    plot_data_scaling(result, out.with_suffix(".png"),
                      title=f"zero-shot on unseen models, {len(args.seeds)} seeds ({result['machine']['cpu']})")
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return result


if __name__ == "__main__":
    main()
