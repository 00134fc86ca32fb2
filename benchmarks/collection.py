"""Collection throughput: records per hour of two collection recipes, side by side on the same tasks, in one run.

``before`` is the recipe the committed data was collected with until 2026-12 (8 random
samples + 8 evolutionary-search candidates per task, MetaSchedule's population of 512);
``after`` is the campaign's (32 random + 8 searched, population 64). Both run the same
collector (:func:`tvm_gnn_cost.datasets.collection.collect_task`) with the same builder and runner
(``make_runner()``: 3 timed runs of at least 50 ms each), so the measurements are of equal
quality; only the recipe differs. For each seed, every task is collected by both recipes into
fresh directories, in alternating order, so machine drift hits both alike. Tasks are the
distinct tasks of generated models of a generator seed no campaign uses.

Reported per recipe and seed: records, collection seconds, records per hour; the ratio
after / before (mean and spread over seeds); the seconds each phase took; and, per task, the
best latency each recipe found (after / before), which says whether the faster recipe still
finds the good schedules. Results go to benchmarks/results/collection.json and .png.

    .venv/bin/python benchmarks/collection.py [--quick] [--tasks 8] [--seeds 1 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from tvm_gnn_cost import host_target, make_builder, make_runner
from tvm_gnn_cost.datasets.collection import Recipe, collect_task
from tvm_gnn_cost.datasets.database import TASK_FILE
from tvm_gnn_cost.datasets.generator import generated_tasks
from tvm_gnn_cost.datasets.loading import load_dataset
from tvm_gnn_cost.evaluation import mean_sd
from tvm_gnn_cost.files import write_json
from tvm_gnn_cost.plots import plot_collection
from tvm_gnn_cost.provenance import results_header

RESULTS = Path(__file__).resolve().parent / "results"
RECIPES = {"before": Recipe(random=8, search=8, population=512), "after": Recipe(random=32, search=8, population=64)}
GENERATOR_SEED = 7  # no campaign collects this seed's models


def pick_tasks(work: Path, count: int, models: int) -> list:
    """``count`` distinct tasks spread over the first ``models`` models of :data:`GENERATOR_SEED`."""
    tasks, _ = generated_tasks(work, models, GENERATOR_SEED, host_target())
    step = max(1, len(tasks) // count)
    return tasks[::step][:count]


def collect_one(task, recipe: str, seed: int, builder, runner, work: Path) -> dict:
    """Collect one task with one recipe into a fresh directory; its records, seconds by phase and best latency."""
    task_dir = work / f"{recipe}-{seed}" / task.name
    start = time.perf_counter()
    progress = collect_task(task, task_dir, host_target(), builder, runner, replace(RECIPES[recipe], seed=seed))
    seconds = time.perf_counter() - start
    info = json.loads((task_dir / TASK_FILE).read_text())
    (loaded,) = load_dataset(task_dir.parent, [task.name])
    best = float(np.nanmin(loaded.seconds)) if np.isfinite(loaded.seconds).any() else None
    return {"records": progress.total, "failed": progress.failed, "seconds": round(seconds, 2),
            "phases": info["seconds"], "best_seconds": best}


def summarize(runs: list[dict]) -> dict:
    """Records per hour per recipe and seed, the after/before ratio over seeds, best-latency ratios per task."""
    per_seed = {}
    for run in runs:
        rates = {}
        for recipe in RECIPES:
            records = sum(t[recipe]["records"] for t in run["tasks"].values())
            seconds = sum(t[recipe]["seconds"] for t in run["tasks"].values())
            rates[recipe] = {"records": records, "seconds": round(seconds, 1),
                             "records_per_hour": round(records / seconds * 3600, 1)}
        per_seed[run["seed"]] = rates
    ratios = [r["after"]["records_per_hour"] / r["before"]["records_per_hour"] for r in per_seed.values()]
    best = [t["after"]["best_seconds"] / t["before"]["best_seconds"] for run in runs for t in run["tasks"].values()
            if t["after"]["best_seconds"] and t["before"]["best_seconds"]]
    return {
        "per_seed": per_seed,
        "records_per_hour_ratio": {**mean_sd(ratios), "values": ratios},
        "best_ratio_after_over_before": {"geomean": float(np.exp(np.mean(np.log(best)))) if best else None,
                                         "median": float(np.median(best)) if best else None,
                                         "values": best},
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8, help="distinct generated tasks")
    parser.add_argument("--models", type=int, default=4, help="generated models the tasks are drawn from")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--quick", action="store_true", help="2 tasks of 1 model, 1 seed, recipes cut to 2 + 2")
    parser.add_argument("--out", type=Path, help="JSON result (default results/collection.json, "
                        "or results/quick/collection.json with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.models, args.seeds = 2, 1, args.seeds[:1]
        RECIPES.update({name: replace(r, random=2, search=2) for name, r in RECIPES.items()})
    out = args.out or RESULTS / ("quick" if args.quick else "") / "collection.json"
    logging.basicConfig(level=logging.WARNING)

    begin = time.perf_counter()
    builder, runner = make_builder(), make_runner()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tasks = pick_tasks(work / "models", args.tasks, args.models)
        runs = []
        for seed in args.seeds:
            run = {"seed": seed, "tasks": {}}
            for i, task in enumerate(tasks):
                order = list(RECIPES) if (i + seed) % 2 else list(RECIPES)[::-1]  # alternate who goes first
                run["tasks"][task.name] = {r: collect_one(task, r, seed, builder, runner, work) for r in order}
                print(f"seed {seed} {task.name[:50]:50s} " + "  ".join(
                    f"{r}: {v['records']:3d} in {v['seconds']:6.1f} s" for r, v in run["tasks"][task.name].items()),
                    flush=True)
            runs.append(run)

    result = {
        **results_header(host_target()),
        "recipes": {name: {k: v for k, v in r.to_json().items() if k != "seed"} for name, r in RECIPES.items()},
        "generator_seed": GENERATOR_SEED,
        "seeds": args.seeds,
        "tasks": [t.name for t in tasks],
        "summary": summarize(runs),
        "runs": runs,
        "seconds": round(time.perf_counter() - begin, 1),
    }
    write_json(out, result)
    plot_collection(result, out.with_suffix(".png"), title=f"collection recipes side by side ({result['machine']['cpu']})")
    ratio = result["summary"]["records_per_hour_ratio"]
    print(f"records per hour, after / before: {ratio['mean']:.2f} +- {ratio['std']:.2f}; wrote {out}")
    return result


if __name__ == "__main__":
    main()
