"""Search: tune the same tasks with the GNN (from scratch), TVM's XGBModel and a random model, same budget and seeds.

Tasks: ResNet-50's heaviest convolution tasks (by task weight x FLOPs, from the ONNX zoo file
in the ``onnx`` package) and a 512x512x512 GEMM. With ``--unseen`` (the transfer benchmark's
search half): the heaviest task of Inception v1 and of VGG-19, which pretraining never saw,
tuned with the pretrained GNN, the GNN from scratch and XGBModel. An arm is
``MODEL[@STRATEGY][:KNOB=VALUE,...]``: ``MODEL@guided`` searches with
:class:`~tvm_gnn_cost.search.guided.GuidedSearch` instead of the evolutionary search, and knobs
set the strategy's arguments by their own names (``xgb:genetic_num_iters=8``, ``population``
for the evolutionary search's population), or, named like a ``TrainConfig`` field, the GNN's
training recipe (``gnn:residual_from=64``). With ``--sweep``: the stock search's knobs, one
at a time, with XGBModel and the pretrained GNN, 128 trials on the heaviest ResNet-50
convolution and the unseen Inception task, to find the best stock setting; add it to
``--guided``'s arms (e.g. ``--models xgb gnn xgb@guided gnn@guided xgb:population=2048``) so the
guided search is compared with it, not only with the default, and the guided search's own knobs
likewise, e.g. ``gnn@guided:generations=2,log_scores=1``). With ``--guided`` (issue #20's
benchmark): {EvolutionarySearch, GuidedSearch} x {XGBModel, pretrained GNN} on the heaviest
ResNet-50 convolution, the unseen Inception and VGG tasks and BERT-base's attention scores
(Q K^T, 12 heads of 64 over 128 tokens). Each (task, arm, seed) is a separate ``ms.tune_tasks`` run with the same builder, runner, target and trial
budget; every measurement counts against it (failed builds and the guided search's
neighbourhood trials too). When every planned run is done, each run's best schedule is built
again and all of them are timed together in interleaved rounds (a fresh random order each),
so machine drift between runs cancels out of their ratios. Reports:

- best-latency-versus-trials curves (PNG, median over seeds with min-max band);
- each model's final best latency relative to XGBModel's (same task and seed), as tuning measured
  it and as the interleaved re-measurement did;
- the trials each model needs to reach XGBModel's final best (same task and seed);
- each model's best after 64 and after 128 trials relative to XGBModel's then;
- the share of tuning time spent in the cost model's predict and update, and in the cost model
  and the search strategy together (proposing rounds plus the model's update);
- for the GEMM, the ratio to numpy's time for the same product, measured in the same run in a
  child process with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.

    .venv/bin/python benchmarks/search.py [--quick] [--unseen | --sweep | --guided] [--trials 256] [--seeds 1 2 3] [--resume]

The JSON is rewritten after every tuning run (``runs_done`` of ``runs_planned``); ``--resume``
continues a stopped benchmark, measuring only the runs it lacks, if the CPU and budget match.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from tvm_gnn_cost import host_target
from tvm_gnn_cost.datasets.campaign import ChunkStore
from tvm_gnn_cost.datasets.workloads import Task, heaviest_first, model_tasks, workload_task
from tvm_gnn_cost.files import write_json
from tvm_gnn_cost.nn import TrainConfig
from tvm_gnn_cost.plots import plot_seed_curves
from tvm_gnn_cost.provenance import machine, results_header
from tvm_gnn_cost.search.measure import make_builder, make_runner, time_interleaved
from tvm_gnn_cost.search.tuning import POPULATION, STRATEGIES, tune_workloads

RESULTS = Path(__file__).resolve().parent / "results"
GENERATED = Path(__file__).resolve().parent.parent / "data" / "generated"
PRETRAINING_MODELS = ("resnet50", "squeezenet")  # zoo models whose tasks data/ops-resnet50-squeezenet.tar.xz holds
MODELS = ("gnn-scratch", "xgb", "random")  # the pretrained GNN: benchmarks/transfer.py
UNSEEN_MODELS = ("inception_v1", "vgg19")  # --unseen: their heaviest tasks, never in pretraining
UNSEEN_RUN_MODELS = ("gnn", "gnn-scratch", "xgb")
GEMM = "gemm-512"
CHECKPOINTS = (64, 128)  # trials after which each model's best is compared with XGBModel's then
#: --sweep: each knob of MetaSchedule's EvolutionarySearch moved alone from its default (population
#: 512, 4 generations, eps-greedy 0.05, 20% of each population drawn from the measured best)
SWEEP_KNOBS = ("population=128", "population=2048", "genetic_num_iters=2", "genetic_num_iters=8",
               "eps_greedy=0.0", "eps_greedy=0.2", "init_measured_ratio=0.0", "init_measured_ratio=0.5")
SWEEP_MODELS = ("xgb", "gnn")
GUIDED_ARMS = ("xgb", "gnn", "xgb@guided", "gnn@guided")  # --guided: both strategies x both models
ATTENTION = "attention-128x12x64"
REMEASURE_ROUNDS = 5
TRIALS_PER_ITER = 32  # tune_workloads' default: candidates measured per round
TRAIN_KNOBS = frozenset(f.name for f in fields(TrainConfig))  # an arm's knobs that go to the GNN, not the search

NUMPY_GEMM = """
import json, time, numpy as np
n = {n}
a, b = np.random.default_rng(0).random((2, n, n), dtype=np.float32)
a @ b
times = []
for _ in range(7):
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    times.append((time.perf_counter() - start) / 10)
from threadpoolctl import threadpool_info
blas = [{{k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}}
        for p in threadpool_info() if p["user_api"] == "blas"]
print(json.dumps({{"seconds": float(np.median(times)), "blas": blas}}))
"""


def heaviest_convolutions(count: int) -> list[Task]:
    """ResNet-50's conv tasks with the largest weight x FLOPs (the time they take in the model)."""
    return heaviest_first([t for t in model_tasks("resnet50", host_target()) if "conv2d" in t.name])[:count]


def numpy_gemm_seconds(n: int) -> dict:
    """numpy's float32 n x n x n matmul time, in a child process without the OpenBLAS overrides."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    out = subprocess.run([sys.executable, "-c", NUMPY_GEMM.format(n=n)], env=env, capture_output=True,
                         text=True, check=True)
    result = json.loads(out.stdout)
    result["unset_in_parent"] = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                                 if k in os.environ}
    return result


def trials_to_reach(curve: list[float | None], goal: float) -> int | None:
    """The first trial (1-based) whose best-so-far is at most ``goal``; None if never."""
    for i, best in enumerate(curve):
        if best is not None and best <= goal:
            return i + 1
    return None


def unseen_tasks(quick: bool) -> list[Task]:
    """The heaviest task of each of :data:`UNSEEN_MODELS` (of the first only with ``quick``)."""
    return [heaviest_first(model_tasks(name, host_target()))[0] for name in UNSEEN_MODELS[: 1 if quick else None]]


def parse_arm(arm: str) -> tuple[str, str, dict[str, float]]:
    """``MODEL[@STRATEGY][:KNOB=VALUE,...]`` as (model, strategy, knobs); values are numbers."""
    head, _, knobs = arm.partition(":")
    model, _, strategy = head.partition("@")
    if strategy not in ("", *STRATEGIES):
        raise ValueError(f"{arm}: the strategy after @ must be one of {', '.join(STRATEGIES)}")
    pairs = [item.partition("=") for item in knobs.split(",") if item]
    if any(not key or not value for key, _, value in pairs):
        raise ValueError(f"{arm}: knobs are KNOB=VALUE, separated by commas")
    return model, strategy or "evolutionary", {key: _number(value) for key, _, value in pairs}


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def model_options(model: str, knobs: dict[str, float]) -> dict:
    """The cost model's options in an arm's knobs, popped from them: those named like a
    ``TrainConfig`` field set a GNN's training recipe (``gnn:residual_from=64``)."""
    recipe = {key: knobs.pop(key) for key in [k for k in knobs if k in TRAIN_KNOBS]}
    if recipe and not model.startswith("gnn"):
        raise ValueError(f"{model}: {', '.join(recipe)} set a GNN's training recipe, and {model} is not a GNN")
    return {"train_config": replace(TrainConfig(), **recipe)} if recipe else {}


def sweep_arms() -> list[str]:
    """--sweep's arms: each of :data:`SWEEP_MODELS` at the stock setting and with each of :data:`SWEEP_KNOBS`."""
    return [f"{model}{':' + knob if knob else ''}" for model in SWEEP_MODELS for knob in ("", *SWEEP_KNOBS)]


def search_run(task: Task, arm: str, trials: int, seed: int, population: int) -> dict:
    """Tune one task alone with one arm (see :func:`parse_arm`) and seed (``ms.tune_tasks``, the
    same builder, runner, budget for all)."""
    model, strategy, knobs = parse_arm(arm)
    options = model_options(model, knobs)
    population = int(knobs.pop("population", population))
    with tempfile.TemporaryDirectory() as work:
        result = tune_workloads([task], model, trials_per_task=trials, work_dir=Path(work), seed=seed,
                                trials_per_iter=TRIALS_PER_ITER, population=population, strategy=strategy,
                                knobs=knobs, model_options=options)
        best_record = best_tuning_record(Path(work), task)
    record = result.to_json()["tasks"][task.name]
    cost_seconds = sum(v for k, v in result.stats.items() if k.startswith("cost_model_") and k.endswith("_seconds"))
    best = record["best_seconds"]
    print(f"seed {seed} {task.name[:40]:40s} {arm:32s} best "
          f"{best * 1e6 if best else float('nan'):9.1f} us  {result.wall_seconds:6.0f} s", flush=True)
    return {
        "seed": seed,
        "best_seconds": best,
        "curve": record["curve"],
        "wall_seconds": round(result.wall_seconds, 2),
        "cost_model_seconds": round(cost_seconds, 2),
        "stats": result.stats,
        "best_record": best_record,
    }


def best_tuning_record(work_dir: Path, task: Task) -> list | None:
    """The task's best record in the JSON database under ``work_dir``, as ``TuningRecord.as_json`` (None if none ran)."""
    from tvm.s_tir import meta_schedule as ms

    database = ms.database.JSONDatabase(work_dir=str(work_dir))
    top = database.get_top_k(database.commit_workload(task.mod), 1)
    return top[0].as_json() if top else None


def remeasure(tasks: list[Task], runs: dict[str, dict[str, list[dict]]], rounds: int) -> dict:
    """Every run's best schedule built again and timed in ``rounds`` interleaved rounds (:func:`time_interleaved`).

    Returns ``{"rounds": rounds, "runs": {task: {arm: [{"seed", "seconds" (one per round),
    "median_seconds"}]}}}``; runs without a stored best record (none succeeded) are left out.
    """
    from tvm.s_tir import meta_schedule as ms

    by_name = {t.name: t for t in tasks}
    keys, candidates = [], []
    for task, by_arm in runs.items():
        workload = ms.database.Workload(by_name[task].mod)
        for arm, seed_runs in by_arm.items():
            for run in seed_runs:
                if run.get("best_record"):
                    keys.append((task, arm, run["seed"]))
                    record = ms.database.TuningRecord.from_json(run["best_record"], workload)
                    candidates.append(record.as_measure_candidate())
    if not candidates:
        return {"rounds": rounds, "runs": {}}
    print(f"re-measuring the best schedules of {len(candidates)} runs, {rounds} interleaved rounds", flush=True)
    times = time_interleaved(candidates, host_target(), make_builder(), make_runner(), rounds=rounds)
    remeasured: dict = {}
    for (task, arm, seed), seconds in zip(keys, times):
        valid = [t for t in seconds if t is not None]
        remeasured.setdefault(task, {}).setdefault(arm, []).append(
            {"seed": seed, "seconds": seconds, "median_seconds": float(np.median(valid)) if valid else None})
    return {"rounds": rounds, "runs": remeasured}


def earlier_result(out: Path, trials: int, population: int, cpu: str) -> dict:
    """The result a stopped invocation wrote to ``out`` (``--resume``); empty if there is no file.

    Raises ``SystemExit`` if that file was measured on another CPU or with another budget or
    search population: runs from two machines are not comparable. Checked before any task is extracted.
    """
    if not out.exists():
        return {}
    before = json.loads(out.read_text())
    then = (before["machine"]["cpu"], before["trials_per_run"], before.get("population", POPULATION))
    if then != (cpu, trials, population):
        raise SystemExit(f"{out}: measured on {then[0]} with {then[1]} trials per run and population {then[2]}, "
                         f"this run is {cpu} with {trials} and {population}; move the file away to start afresh")
    return before


def best_after(curve: list[float | None], trials: int) -> float | None:
    """Best latency within the first ``trials`` trials (None if none succeeded or the run was shorter)."""
    return curve[trials - 1] if len(curve) >= trials else None


def summarize(runs: dict[str, dict[str, list[dict]]], remeasured: dict | None = None) -> dict:
    """Per task and model: best latency relative to XGBModel's (as tuned and, given the interleaved
    ``remeasured`` times of :func:`remeasure`, as re-measured), trials to reach it, cost-model share."""
    summary: dict = {}
    for task, by_model in runs.items():
        xgb_runs = {r["seed"]: r for r in by_model.get("xgb", [])}
        again = (remeasured or {}).get("runs", {}).get(task, {})
        summary[task] = {}
        for model, seeds in by_model.items():
            pairs = [(r, xgb_runs[r["seed"]]) for r in seeds if r["seed"] in xgb_runs]  # same seed
            ratios = [r["best_seconds"] / x["best_seconds"] for r, x in pairs
                      if r["best_seconds"] and x["best_seconds"]]
            reach = [trials_to_reach(r["curve"], x["best_seconds"]) for r, x in pairs if x["best_seconds"]]
            share = [r["cost_model_seconds"] / r["wall_seconds"] for r in seeds]
            summary[task][model] = {
                "best_seconds": [r["best_seconds"] for r in seeds],
                "best_over_xgb_mean": float(np.mean(ratios)) if ratios else None,
                "best_over_xgb_std": float(np.std(ratios, ddof=1)) if len(ratios) > 1 else 0.0,
                "trials_to_xgb_best": reach,
                "runs_without_valid_best": sum(not r["best_seconds"] for r in seeds),  # no ratio: left out of them
                "trials_to_xgb_best_median": _median_trials(reach),
                "cost_model_time_share": float(np.mean(share)),
                "search_time_share": _search_share(seeds),
                **{f"best_at_{n}_over_xgb_at_{n}": _early_ratios(pairs, n) for n in CHECKPOINTS},
                "wall_seconds_mean": float(np.mean([r["wall_seconds"] for r in seeds])),
            }
            if again:
                summary[task][model] |= _remeasured_ratios(again.get(model, []), again.get("xgb", []))
    return summary


def _early_ratios(pairs: list[tuple[dict, dict]], trials: int) -> list[float]:
    """Each (run, XGBModel's run of its seed) pair's best after ``trials`` over XGBModel's then (runs that long)."""
    early = [(best_after(r["curve"], trials), best_after(x["curve"], trials)) for r, x in pairs]
    return [float(a / b) for a, b in early if a and b]


def _search_share(seeds: list[dict]) -> float | None:
    """Mean share of wall time in the strategy's proposals (its ``predict`` calls included) and the model's update."""
    shares = [(r["stats"]["search_strategy_seconds"] + r["stats"].get("cost_model_update_seconds", 0.0))
              / r["wall_seconds"] for r in seeds if "search_strategy_seconds" in r.get("stats", {})]
    return float(np.mean(shares)) if shares else None


def _remeasured_ratios(ours: list[dict], xgb: list[dict]) -> dict:
    """The re-measured final bests and their ratios to XGBModel's of the same seed (mean and sd)."""
    theirs = {r["seed"]: r["median_seconds"] for r in xgb}
    ratios = [r["median_seconds"] / theirs[r["seed"]] for r in ours
              if r["median_seconds"] and theirs.get(r["seed"])]
    return {
        "remeasured_seconds": {str(r["seed"]): r["median_seconds"] for r in ours},
        "remeasured_over_xgb": [float(v) for v in ratios],
        "remeasured_over_xgb_mean": float(np.mean(ratios)) if ratios else None,
        "remeasured_over_xgb_std": float(np.std(ratios, ddof=1)) if len(ratios) > 1 else 0.0,
    }


def _median_trials(values: list[int | None]) -> float | None:
    """Median trials, a run that never got there counting as infinitely many; None if the median did not."""
    median = float(np.median([np.inf if v is None else v for v in values])) if values else np.inf
    return median if np.isfinite(median) else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=256,
                        help="measured trials per task and run (XGBModel ranks from its 100th)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--models", nargs="+", help=f"arms, default {' '.join(MODELS)}, with --unseen "
                        f"{' '.join(UNSEEN_RUN_MODELS)}; MODEL@guided searches with GuidedSearch instead of "
                        "MetaSchedule's evolutionary search (e.g. gnn@guided xgb@guided), MODEL:KNOB=VALUE sets "
                        "a knob of the strategy (e.g. xgb:genetic_num_iters=8 gnn@guided:beta=2) or, named like a "
                        "TrainConfig field, of the GNN's training (e.g. gnn:residual_from=64)")
    parser.add_argument("--convs", type=int, default=2, help="how many of ResNet-50's heaviest convs")
    parser.add_argument("--unseen", action="store_true", help="the heaviest task of each of Inception v1 and "
                        "VGG-19 (never in pretraining) with the pretrained GNN, the GNN from scratch and XGBModel")
    parser.add_argument("--population", type=int, default=POPULATION,
                        help="schedules per generation of the evolutionary search (MetaSchedule's default)")
    parser.add_argument("--sweep", action="store_true", help="EvolutionarySearch's knobs one at a time with "
                        "XGBModel and the pretrained GNN: the heaviest ResNet-50 conv and the unseen Inception task, "
                        "128 trials, seeds 1 2 unless given")
    parser.add_argument("--guided", action="store_true", help="issue #20's benchmark: "
                        f"{' '.join(GUIDED_ARMS)} on the heaviest ResNet-50 conv, the unseen Inception and VGG tasks "
                        "and BERT-base's attention scores")
    parser.add_argument("--remeasure-rounds", type=int, default=REMEASURE_ROUNDS, help="interleaved rounds of "
                        "re-measuring every run's best schedule once all runs are done (0: none)")
    parser.add_argument("--quick", action="store_true",
                        help="8 trials, 1 seed, 1 conv, population 64 (with --unseen: Inception v1's task only)")
    parser.add_argument("--out", type=Path, help="JSON result (default results/search.json, or search_unseen.json "
                        "with --unseen; under results/quick/ with --quick)")
    parser.add_argument("--resume", action="store_true", help="keep the runs already in --out (same CPU and "
                        "budget) and measure only the missing ones")
    args = parser.parse_args(argv)
    if args.remeasure_rounds < 0:
        parser.error("--remeasure-rounds must be 0 (no re-measurement) or more")
    if args.sweep + args.unseen + args.guided > 1:
        parser.error("--unseen, --sweep and --guided each have their own tasks: give one of them")
    if args.sweep:
        given = set(argv or sys.argv[1:])
        args.models = args.models or sweep_arms()
        args.trials = args.trials if "--trials" in given else 128
        args.seeds = args.seeds if "--seeds" in given else [1, 2]
    args.models = args.models or list(GUIDED_ARMS if args.guided else UNSEEN_RUN_MODELS if args.unseen else MODELS)
    if "xgb" not in args.models:
        parser.error("--models must include xgb: every model is compared with XGBModel's run of the same seed")
    for arm in args.models:
        try:
            model, _, knobs = parse_arm(arm)
            model_options(model, knobs)
        except ValueError as err:
            parser.error(f"--models {err}")
    if args.quick:
        args.trials, args.seeds, args.convs, args.population = 8, args.seeds[:1], 1, 64
        args.remeasure_rounds = min(args.remeasure_rounds, 2)
    name = ("search_sweep.json" if args.sweep else "search_guided.json" if args.guided
            else "search_unseen.json" if args.unseen else "search.json")
    out = args.out or RESULTS / ("quick" if args.quick else "") / name
    logging.basicConfig(level=logging.WARNING)

    earlier = earlier_result(out, args.trials, args.population, machine(host_target())["cpu"]) if args.resume else {}
    if args.sweep:
        tasks = [*heaviest_convolutions(1), heaviest_first(model_tasks(UNSEEN_MODELS[0], host_target()))[0]]
        tasks = tasks[:1] if args.quick else tasks
    elif args.guided:
        convs = [] if args.quick else heaviest_convolutions(1)  # --quick: an unseen conv and the attention
        tasks = [*convs, *unseen_tasks(args.quick), workload_task(ATTENTION)]
    elif args.unseen:
        tasks = unseen_tasks(args.quick)
    else:
        tasks = [*heaviest_convolutions(args.convs), workload_task(GEMM)]
    numpy_gemm = numpy_gemm_seconds(512) if any(t.name == GEMM for t in tasks) else None
    runs = {t.name: {m: earlier.get("runs", {}).get(t.name, {}).get(m, []) for m in args.models} for t in tasks}
    info = task_info(tasks)
    remeasured = earlier.get("remeasured")  # kept while no run is added
    order = ["xgb", *(m for m in args.models if m != "xgb")]  # XGBModel's run first: the others are compared with it
    result = None
    for seed in args.seeds:
        for task in tasks:
            for model in order:
                if any(r["seed"] == seed for r in runs[task.name][model]):
                    continue  # measured by the run --resume continues
                runs[task.name][model].append(search_run(task, model, args.trials, seed, args.population))
                remeasured = None
                # written after every run, so that a stopped benchmark keeps what it measured
                result = write_result(out, info, args, runs, numpy_gemm)
    result = result or write_result(out, info, args, runs, numpy_gemm, remeasured)
    if args.remeasure_rounds and result["runs_done"] == result["runs_planned"] and remeasured is None:
        result = write_result(out, info, args, runs, numpy_gemm, remeasure(tasks, runs, args.remeasure_rounds))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return result


def task_info(tasks: list[Task]) -> dict[str, dict]:
    """Each task's weight, source and whether pretraining data holds it: a zoo model of the operator
    archive, or a task of the committed generated corpus (by structural hash) when the run starts."""
    store = ChunkStore(GENERATED)
    return {t.name: {"weight": t.weight, "source": t.source,
                     "in_pretraining_data": t.source in PRETRAINING_MODELS or not store.unmeasured([t])}
            for t in tasks}


def write_result(out: Path, tasks: dict[str, dict], args: argparse.Namespace, runs: dict[str, dict[str, list[dict]]],
                 numpy_gemm: dict | None, remeasured: dict | None = None) -> dict:
    """Summarise the runs so far (and their interleaved re-measurement, once all are done) and
    write them as JSON plus the curves PNG beside it.

    ``args.seeds`` are the planned ones; ``runs_done`` < ``runs_planned`` marks a stopped
    benchmark (continue it with ``--resume``).
    """
    runs = {task: {m: r for m, r in by_model.items() if r} for task, by_model in runs.items() if any(by_model.values())}
    summary = summarize(runs, remeasured)
    if numpy_gemm is not None:
        for stats in summary.get(GEMM, {}).values():
            stats["best_over_numpy"] = [b / numpy_gemm["seconds"] if b else None for b in stats["best_seconds"]]
    result = {
        **results_header(host_target()),
        "trials_per_run": args.trials,
        "trials_per_iter": TRIALS_PER_ITER,
        "population": args.population,
        "seeds": args.seeds,
        "tasks": tasks,
        "numpy_gemm_512": numpy_gemm,
        "runs_done": sum(len(r) for by_model in runs.values() for r in by_model.values()),
        "runs_planned": len(tasks) * len(args.seeds) * len(args.models),
        "summary": summary,
        "remeasured": remeasured,
        "runs": runs,
        "seconds": round(sum(r["wall_seconds"] for by_model in runs.values() for rs in by_model.values() for r in rs)),
    }
    write_json(out, result)
    curves = {task: {model: [[np.inf if x is None else x for x in r["curve"]] for r in seed_runs]
                     for model, seed_runs in by_model.items()}
              for task, by_model in runs.items()}
    plot_seed_curves(curves, out.with_suffix(".png"),
                     title=f"best latency vs trials, seeds {args.seeds} ({result['machine']['cpu']})")
    return result


if __name__ == "__main__":
    main()
