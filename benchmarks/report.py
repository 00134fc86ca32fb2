"""Write docs/results.md from the benchmark results (JSON) and the dataset's manifest.

    .venv/bin/python benchmarks/report.py [--results benchmarks/results] [--out docs/results.md]

Every number in the page comes from those files; the sentences that compare the GNN with
XGBoost are derived from the same numbers, so they cannot drift from the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np

from tvm_gnn_cost.nn import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "results.md"

METRICS = {
    "pairwise_accuracy": "pairwise acc.",
    "kendall_tau": "Kendall tau",
    "top1": "top-1",
    "top5": "top-5",
    "mape": "MAPE",
    "median_ape": "median APE",
}

DEFINITIONS = """\
## Metric definitions

All ranking metrics are computed within one task (the search only compares candidates of
one task), then averaged over tasks with equal weight, except top-k, which is TenSet's
weighted ratio. Failed candidates (build or run errors, timeouts) have no latency: they are
left out of the pairwise, tau and error metrics, and count in top-k as their task's slowest
valid candidate (so one task whose pick failed cannot zero the weighted ratio).

- **pairwise accuracy**: over all pairs of valid candidates of a task with different measured
  times, the fraction whose scores are ordered like their times (a tie counts one half).
- **Kendall tau**: Kendall's tau-b between score and throughput (1 / seconds) of a task's
  valid candidates (`scipy.stats.kendalltau`).
- **top-k score** (TenSet): sum over tasks of weight x best measured time, divided by the sum
  of weight x the best measured time among the k candidates the model ranks highest; 1.0 means
  the model's top k always contain the task's best candidate. Weights are the tasks' weights
  in their model (how often the fused kernel occurs); operator-set tasks weigh 1.
- **MAPE / median APE**: mean / median over valid records of |predicted - measured| /
  measured seconds. Only for models that predict a latency: the GNN (its log-latency head)
  and the XGBoost latency regressor. TVM's XGBModel predicts per-task normalised throughput
  and has none.
- **final best / XGBModel's**: a search run's best measured latency divided by XGBModel's
  in the run with the same task and seed (below 1: better than XGBModel).
- **trials to XGBModel's best**: the first trial at which a run's best-so-far reaches the
  final best of XGBModel's run with the same task and seed ("never" if it does not within the
  budget). The median counts "never" as the largest value.
- **cost-model share**: seconds inside the cost model's `predict` and `update` (timed by
  `TimedCostModel`) divided by the run's wall time.
- **search share**: seconds in the search strategy's proposals (its calls of `predict` and
  `spread` included) plus the cost model's `update`, divided by the run's wall time: what
  the tuning spends besides building and running candidates and TVM's own bookkeeping.
- **re-measured final best / XGBModel's**: every run's best schedule built again once all
  runs are done and timed in interleaved rounds (a fresh random order each round); the
  median over rounds divided by XGBModel's of the same task and seed. Drift of the machine
  between runs falls on both alike.
"""


def geomean(ratios: list[float]) -> float | None:
    """Geometric mean of positive ratios (None for none): the average of relative speeds."""
    return float(np.exp(np.mean(np.log(ratios)))) if ratios else None


def fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def mean_std(stat: dict | None, digits: int = 3) -> str:
    return "n/a" if stat is None else f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def versus(ours: dict, theirs: dict) -> tuple[float, float, int]:
    """Two mean ± sd rows: the gap of their means, the larger sd (the seed spread), and the gap's sign
    beyond that spread (1 better, -1 worse, 0 a tie)."""
    delta, spread = ours["mean"] - theirs["mean"], max(ours["std"], theirs["std"])
    return delta, spread, int(delta > spread) - int(delta < -spread)


def machine_line(result: dict) -> str:
    m, v = result["machine"], result["versions"]
    return (f"{m['cores']} cores, `llvm_get_system_cpu()` = `{m['cpu']}`, apache-tvm {v['apache-tvm']}, "
            f"torch {v['torch']}, xgboost {v['xgboost-cpu']}, {result['date'][:10]}")


def dataset_section(offline: dict) -> list[str]:
    return [
        "## Dataset",
        "",
        f"`{offline['dataset']}`: {offline['num_tasks']} tasks, {offline['num_records']} measured schedules "
        f"({offline['num_failed']} failed builds or runs, kept as failures), measured on "
        f"`{offline['measured_on']}`. How it was collected, where, and how long it took: "
        "[data/README.md](../data/README.md).",
        "",
    ]


def offline_section(offline: dict, plot: str) -> list[str]:
    summary = offline["summary"]
    lines = [
        "## Offline prediction quality",
        "",
        f"`python benchmarks/offline.py` -> `benchmarks/results/offline.json`. Seeds {offline['seeds']}; each "
        f"seed holds out a random {offline['unseen_fraction']:.0%} of the tasks (split by task, never by "
        f"record): models train on the rest and are scored on the held-out tasks (**unseen**) and on a "
        f"held-out {offline['held_record_fraction']:.0%} of the records of the training tasks (**seen**). "
        f"GNN: {offline['gnn_epochs']} epochs. Mean ± standard deviation over seeds.",
        "",
    ]
    for where in ("unseen", "seen"):
        lines += [f"**{where} tasks**", "", "| model | " + " | ".join(METRICS.values()) + " |",
                  "| --- |" + " ---: |" * len(METRICS)]
        for model, stats in summary.items():
            lines.append(f"| {model} | " + " | ".join(mean_std(stats[where][m]) for m in METRICS) + " |")
        lines.append("")
    lines += [f"![offline metrics]({plot})", ""]
    lines += ["Models: `gnn` = GNNCostModel trained offline; `gnn-nomp` = the same with message passing off "
              "(`num_layers=0`, the ablation); `xgb` = TVM's XGBModel fed task by task through `update`; "
              "`xgb-latency` = an XGBoost regressor of log latency on the same per-store features summed per "
              "candidate.", ""]
    lines += ["**Reading.** " + " ".join(offline_verdicts(summary)), ""]
    return lines + offline_target_lines(summary)


#: Issue #19's offline targets: unseen pairwise accuracy at least another model's plus a margin.
OFFLINE_TARGETS = (("xgb", "XGBModel's", 0.05), ("gnn-nomp", "`gnn-nomp`'s", 0.02))


def offline_target_lines(summary: dict) -> list[str]:
    """The GNN's unseen pairwise accuracy against :data:`OFFLINE_TARGETS`, met or missed by how much."""
    if "gnn" not in summary:
        return []
    gnn = summary["gnn"]["unseen"]["pairwise_accuracy"]
    ours = gnn["mean"]
    lines = ["Against the targets of issue #19 (unseen tasks, pairwise accuracy; means over seeds):", ""]
    for model, label, margin in OFFLINE_TARGETS:
        if model in summary:
            theirs = summary[model]["unseen"]["pairwise_accuracy"]
            floor = theirs["mean"] + margin
            lines.append(f"- the GNN >= {label} + {margin:.2f}: {ours:.3f} against {floor:.3f}, "
                         + ("met" if ours >= floor else f"**missed by {floor - ours:.3f}**")
                         + f" (seed spread {max(gnn['std'], theirs['std']):.3f})")
    return lines + [""]


def offline_verdicts(summary: dict) -> list[str]:
    """Plain sentences: where the GNN beats, ties or loses to XGBModel, and whether the edges matter.

    A difference no larger than the larger of the two seed spreads (standard deviations) is a tie.
    """
    out = []
    if "gnn" not in summary or "xgb" not in summary:
        return out
    for where in ("unseen", "seen"):
        verdicts: dict[str, list[str]] = {"beats": [], "ties with": [], "loses to": []}
        for metric in ("pairwise_accuracy", "kendall_tau", "top1", "top5"):
            g, x = summary["gnn"][where][metric], summary["xgb"][where][metric]
            if g is None or x is None:
                continue
            kind = ("loses to", "ties with", "beats")[versus(g, x)[2] + 1]
            verdicts[kind].append(f"{METRICS[metric]} {g['mean']:.3f} vs {x['mean']:.3f}")
        said = [f"{kind} XGBModel on {', '.join(items)}" for kind, items in verdicts.items() if items]
        out.append(f"On {where} tasks the GNN {'; '.join(said)}.")
    if "gnn-nomp" in summary:
        g, n = summary["gnn"]["unseen"]["pairwise_accuracy"], summary["gnn-nomp"]["unseen"]["pairwise_accuracy"]
        delta, spread, sign = versus(g, n)
        verdict = ("hurts", "makes no difference beyond the seed spread", "helps")[sign + 1]
        out.append(
            f"Message passing {verdict}: unseen pairwise accuracy {g['mean']:.3f} with edges, {n['mean']:.3f} "
            f"without ({delta:+.3f}; seed spread {spread:.3f})."
        )
    return out


def population(search: dict) -> str:
    """The evolutionary search's population, as the report words it (runs before it was recorded used 512)."""
    return f"evolutionary search population {search.get('population', 512)}"


def search_section(search: dict, plot: str) -> list[str]:
    models = list(next(iter(search["summary"].values())))
    lines = [
        "## Search",
        "",
        f"`python benchmarks/search.py` -> `benchmarks/results/search.json`. Each task tuned alone "
        f"(`ms.tune_tasks`, {search['trials_per_run']} trials, 32 per round, {population(search)}), once per "
        f"model and seed "
        f"{search['seeds']}, with the same `PooledBuilder`, `LocalRunner` and target. Whole benchmark: "
        f"{search['seconds'] / 60:.0f} min. The GNN here learns from scratch during each run (`gnn-scratch`; "
        "`gnn` in runs made before the pretrained weights became the default); the pretrained one is measured "
        "in the transfer section.",
        "",
        *search_table(search["summary"]),
    ]
    rounds = list(range(0, search["trials_per_run"], 32))
    guided = sum(start >= 100 for start in rounds)
    lines += [
        "",
        f"![search curves]({plot})",
        "",
        f"Budget caveat: XGBModel predicts random scores until it holds 100 measurements "
        f"(`num_warmup_samples`, TVM's default), so in these runs {guided} of its {len(rounds)} rounds were "
        f"ranked by its booster and {len(rounds) - guided} were evolutionary search with random scores, like "
        f"the `random` model's. The GNN ranks with its network from its 32nd valid measurement (round 2 on).",
        "",
    ]
    numpy_gemm = search["numpy_gemm_512"]
    gemm = search["summary"].get("gemm-512")
    if gemm:
        lines.append(
            f"GEMM 512x512x512 against numpy ({_blas(numpy_gemm['blas'])}: "
            f"{numpy_gemm['seconds'] * 1e6:.0f} us, measured in the same "
            f"run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset): tuned / numpy = "
            + "; ".join(f"{m} " + ", ".join(fmt(r, 2) for r in gemm[m]["best_over_numpy"]) for m in models)
            + " (per seed; below 1 is faster than numpy)."
        )
        lines.append("")
    lines += ["**Reading.** " + " ".join(search_verdicts(search["summary"])), ""]
    return lines


def search_table(summary: dict) -> list[str]:
    """A row per task and model: best per seed, ratio to XGBModel's, trials to reach it, cost-model share."""
    lines = ["| task | model | best (us), per seed | final best / XGBModel's | trials to XGBModel's best | "
             "cost-model share |",
             "| --- | --- | --- | ---: | --- | ---: |"]
    for task, by_model in summary.items():
        for model, s in by_model.items():
            best = ", ".join("failed" if b is None else f"{b * 1e6:.0f}" for b in s["best_seconds"])
            reach = ", ".join(trial_count(r) for r in s["trials_to_xgb_best"])
            median = s["trials_to_xgb_best_median"]
            lines.append(
                f"| {task} | {model} | {best} | {fmt(s['best_over_xgb_mean'])} ± {fmt(s['best_over_xgb_std'])} | "
                f"{reach} (median {'never' if median is None else f'{median:.0f}'}) | "
                f"{s['cost_model_time_share']:.1%} |"
            )
    return lines


def unseen_search_section(search: dict, plot: str) -> list[str]:
    """The search half of the transfer benchmark, against issue #19's targets for the default GNN."""
    summary, trials = search["summary"], search["trials_per_run"]
    models = list(next(iter(summary.values())))
    lines = ["## Search on unseen models", "",
             f"`python benchmarks/search.py --unseen` -> `benchmarks/results/search_unseen.json` "
             f"({machine_line(search)}): the heaviest task of each of "
             f"{', '.join(t['source'] for t in search['tasks'].values())}, never in pretraining, tuned alone with "
             f"{', '.join(f'`{m}`' for m in models)} ({unseen_arms_line(models)}), {trials} trials, "
             f"{population(search)}, seeds {search['seeds']}, same builder, runner and target.", "",
             *partial_line(search), *search_table(summary), "", f"![unseen search]({plot})", ""]
    if "gnn" in models:
        lines += unseen_search_targets(summary, unseen_default_arm(models))
    return lines + early_lines(summary, models) + [""]


def unseen_default_arm(models: list[str]) -> str:
    """The arm that tunes as the shipped default does today: the one naming today's ``residual_from``
    if the run has it (its ``gnn`` then kept the setting the weights stored when measured), else ``gnn``."""
    named = f"gnn:residual_from={TrainConfig().residual_from}"
    return named if named in models else "gnn"


def unseen_arms_line(models: list[str]) -> str:
    """What ``gnn`` means in a run, and which arm is today's default."""
    default = unseen_default_arm(models)
    if default == "gnn":
        return "`gnn`: the pretrained GNN, the default"
    return (f"`gnn`: the pretrained GNN with the online settings its weights stored when measured; "
            f"`{default}` tunes as today's default")


def unseen_search_targets(summary: dict, arm: str = "gnn") -> list[str]:
    """Issue #19's search targets for ``arm``: final best / XGBModel's <= 1.00 on every task (first run and the
    interleaved re-measurement), best after 64 trials / XGBModel's <= 0.90 (geometric mean over runs)."""
    lines = [f"Against the targets of issue #19 (the default, `{arm}`):", ""]
    for task, s in summary.items():
        final = s[arm]["best_over_xgb_mean"]
        again = s[arm].get("remeasured_over_xgb_mean")
        lines.append(f"- {task}: final best / XGBModel's <= 1.00: {final:.3f}"
                     + ("" if again is None else f" (re-measured together: {again:.3f})")
                     + (", met" if final <= 1.0 else f", **missed by {final - 1.0:.3f}**"))
    early = [r for s in summary.values() for r in s[arm].get("best_at_64_over_xgb_at_64", [])]
    if early:
        mean = geomean(early)
        lines.append(f"- best after 64 trials / XGBModel's <= 0.90 (geometric mean over {len(early)} runs): "
                     f"{mean:.3f}" + (", met" if mean <= 0.90 else f", **missed by {mean - 0.90:.3f}**"))
    return lines


def early_lines(summary: dict, models: list[str]) -> list[str]:
    """Per model but XGBModel and per checkpoint (64, 128 trials): its best then over XGBModel's then,
    geometric mean over runs."""
    lines = []
    for model in models:
        keys = [k for k in summary[next(iter(summary))].get(model, {}) if k.startswith("best_at_")]
        for key in keys:
            ratios = [r for s in summary.values() for r in s.get(model, {}).get(key, [])]
            if ratios and model != "xgb":
                early = key.split("_")[2]
                lines.append(f"- `{model}` best after {early} trials / XGBModel's after {early}: geometric mean "
                             f"{geomean(ratios):.3f} over {len(ratios)} runs (below 1: better).")
    return lines


def guided_pilot_section(search: dict, plot: str) -> list[str]:
    """The first look at GuidedSearch: a short run on the unseen tasks, not issue #20's full benchmark."""
    summary, trials = search["summary"], search["trials_per_run"]
    models = list(next(iter(summary.values())))
    final = {m: geomean([s[m]["best_over_xgb_mean"] for s in summary.values() if s[m]["best_over_xgb_mean"]])
             for m in models if m != "xgb"}
    walls = {m: geomean([s[m]["wall_seconds_mean"] / s["xgb"]["wall_seconds_mean"] for s in summary.values()])
             for m in models if m != "xgb"}
    return ["## Guided search: a pilot on the unseen tasks", "",
            f"`python benchmarks/search.py --unseen --trials {trials} --seeds {' '.join(map(str, search['seeds']))} "
            f"--models {' '.join(models)} --out benchmarks/results/search_guided_pilot.json` ({machine_line(search)}; "
            f"{population(search)} for the evolutionary arms). A first look, not issue #20's benchmark (4 tasks, "
            f"3 seeds, 256 trials, interleaved re-measurement): {trials} trials is short of XGBModel's warm-up "
            "of 100 random-scored records plus a few rounds, so it favours the pretrained models. Wall time "
            "includes building and running every measured schedule, so a search that measures slow ones (XGBModel's "
            "random warm-up) also takes longer.", "",
            *partial_line(search), *search_table(summary), "", f"![guided pilot]({plot})", "",
            *(f"- `{m}` final best / XGBModel's: geometric mean {final[m]:.3f} over tasks; wall time / XGBModel's "
              f"{walls[m]:.2f}" for m in final),
            *early_lines(summary, models), ""]


#: How search_guided_threads.json came about: said above its section, since its XGBModel runs are reused.
THREADS_NOTE = ("GuidedSearch again after its proposal moved onto the tuning context's threads (the same "
                "candidates from a seed on any number of threads), to re-measure its share of "
                "wall time. Its `xgb` runs are the ones above, copied into this file before `--resume` ran `gnn@guided` "
                "anew, so the curves' ratios pair runs made hours apart on one machine; the final bests of both were "
                "re-measured together, interleaved.")
#: Issue #20's targets for GuidedSearch with the GNN: (label, statistic, bound it must not exceed).
GUIDED_TARGETS = (("trials to XGBModel's final best, median task", "reach", 128),
                  ("best after 64 trials / XGBModel's after 64, geometric mean", "at_64", 0.85),
                  ("re-measured final best / XGBModel's, geometric mean", "final", 0.95),
                  ("search share of wall time (cost model and strategy), mean over tasks", "share", 0.30))


def sweep_section(sweep: dict, plot: str) -> list[str]:
    """EvolutionarySearch's knobs one at a time, each against the same model's stock setting (same task and seed),
    judged by the bests re-measured together once every run is done (as tuned until then)."""
    runs, seeds = sweep["runs"], sweep["seeds"]
    again = (sweep.get("remeasured") or {}).get("runs")
    judged = {t: {arm: [{"seed": r["seed"], "best_seconds": r["median_seconds"]} for r in rs]
                  for arm, rs in again.get(t, {}).items()} for t in runs} if again else runs
    tasks = list(runs)
    arms = list(next(iter(runs.values())))
    basis = (f"final best re-measured together in {sweep['remeasured']['rounds']} interleaved rounds (median)"
             if again else "final best as tuned (not re-measured yet)")
    lines = ["## Stock search: EvolutionarySearch's knobs", "",
             f"`python benchmarks/search.py --sweep` -> `benchmarks/results/search_sweep.json` ({machine_line(sweep)}): "
             f"each knob moved alone from MetaSchedule's default, {sweep['trials_per_run']} trials, seeds {seeds}, "
             f"with XGBModel and the pretrained GNN. Ratios are a run's {basis} over the same model's stock run "
             "of the same task and seed (below 1: the knob helps), mean ± sd over seeds, then the geometric mean "
             "over tasks; the last but one column is that geometric mean from the bests as tuned.", "",
             *partial_line(sweep),
             "| arm | " + " | ".join(t.split(".")[0] for t in tasks) + " | geometric mean | as tuned | wall / stock |",
             "| --- |" + " ---: |" * (len(tasks) + 3)]
    best: dict[str, tuple[float, str]] = {}
    for arm in arms:
        stock = arm.partition(":")[0]
        per_task = [_paired(judged[t], arm, stock, "best_seconds") for t in tasks]
        overall = geomean([float(np.mean(r)) for r in per_task if r])
        tuned, wall = (_paired_geomean(runs, arm, stock, key) for key in ("best_seconds", "wall_seconds"))
        cells = [f"{np.mean(r):.3f}" + (f" ± {np.std(r, ddof=1):.3f}" if len(r) > 1 else " (1 seed)") if r else "n/a"
                 for r in per_task]
        lines.append(f"| `{arm}` | " + " | ".join(cells) + f" | {fmt(overall)} | {fmt(tuned)} | {fmt(wall, 2)} |")
        if overall is not None and (stock not in best or overall < best[stock][0]):
            best[stock] = (overall, arm)
    lines += ["", f"![sweep curves]({plot})", ""]
    lines += [f"- Best setting with `{stock}`: `{arm}` (geometric mean {ratio:.3f} of its stock runs' final best"
              + ("; no knob beats the default)." if arm == stock else ").") for stock, (ratio, arm) in best.items()]
    return lines + [""]


def _paired_geomean(runs: dict, arm: str, base: str, key: str) -> float | None:
    """Geometric mean over tasks of ``arm``'s mean ``key`` over ``base``'s (:func:`_paired`)."""
    return geomean([float(np.mean(r)) for by_arm in runs.values() if (r := _paired(by_arm, arm, base, key))])


def _paired(by_arm: dict, arm: str, base: str, key: str) -> list[float]:
    """``arm``'s ``key`` over ``base``'s, per seed both ran (and both have it)."""
    theirs = {r["seed"]: r[key] for r in by_arm.get(base, [])}
    return [r[key] / theirs[r["seed"]] for r in by_arm.get(arm, []) if r[key] and theirs.get(r["seed"])]


def guided_section(search: dict, plot: str, *, name: str = "search_guided",
                   title: str = "Guided search against the stock search", note: str = "") -> list[str]:
    """Issue #20's benchmark: both strategies with both models, against its targets for GuidedSearch + GNN.

    ``name`` is the result's file stem (another one adds its ``--out`` to the command shown), ``note`` a
    sentence on how this result differs from the benchmark's own."""
    summary, trials = search["summary"], search["trials_per_run"]
    arms = list(dict.fromkeys(arm for by_arm in summary.values() for arm in by_arm))
    stats = {arm: guided_stats(summary, arm) for arm in arms}
    rounds = (search.get("remeasured") or {}).get("rounds")
    again = (f"re-measured together at the end in {rounds} interleaved rounds" if rounds
             else "not re-measured yet (that happens once every planned run is done)")
    tasks = ", ".join(t.split(".")[0] + (" (in the pretraining data)" if info.get("in_pretraining_data") else "")
                      for t, info in search["tasks"].items())
    out = f"benchmarks/results/{name}.json"
    command = "python benchmarks/search.py --guided" + (f" --models {' '.join(arms)} --out {out}"
                                                        if name != "search_guided" else "")
    lines = [f"## {title}", "", *([note, ""] if note else []),
             f"`{command}` -> `{out}` "
             f"({machine_line(search)}): {', '.join(f'`{a}`' for a in arms)} on {tasks}, "
             f"{trials} trials in rounds of {search.get('trials_per_iter', 32)}, seeds {search['seeds']}, same "
             f"builder, runner and target; every measurement counts against the budget. Final bests {again}. "
             "XGBModel scores at random until it holds 100 measurements, so at 64 trials its search is still a "
             "random-scored evolution: the @64 column measures how much a model that ranks from the first round "
             "gains over that.",
             "", *partial_line(search), *search_table(summary), "",
             "| arm | re-measured final / XGBModel's | @64 / XGBModel's | @128 / XGBModel's | trials to XGBModel's best "
             "(median task) | search share | wall / XGBModel's |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for arm, st in stats.items():
        reach = trial_count(st["reach"])
        share = "n/a" if st["share"] is None else f"{st['share']:.1%}"
        lines.append(f"| `{arm}` | {fmt(st['final'])} | {fmt(st['at_64'])} | {fmt(st['at_128'])} | {reach} | "
                     f"{share} | {fmt(st['wall'], 2)} |")
    lines += ["", "Ratios are geometric means over every (task, seed) pair; below 1 is better than XGBModel's "
              "stock search.", "", f"![guided search curves]({plot})", ""]
    ours = stats.get("gnn@guided")
    if ours:
        for label, key, bound in GUIDED_TARGETS:
            value = ours[key]
            verdict = ("not measured yet" if value is None and key != "reach" else "**missed** (never reached)"
                       if value is None else "met" if value <= bound else f"**missed** (by {value - bound:.3g})")
            lines.append(f"- Target for `gnn@guided`, {label} <= {bound}: {fmt(value)}, {verdict}.")
        if rounds:
            losses = [t.split(".")[0] for t, s in summary.items()
                      if (s.get("gnn@guided", {}).get("remeasured_over_xgb_mean") or 0) > 1]
            lines.append("- `gnn@guided` loses to XGBModel (re-measured final best, mean over seeds) on: "
                         + (", ".join(losses) if losses else "no task") + ".")
            lines += stock_gnn_line(summary)
    failed = {arm: n for arm in arms if (n := sum(s[arm]["runs_without_valid_best"] for s in summary.values()
                                                  if arm in s and "runs_without_valid_best" in s[arm]))}
    if failed:
        lines.append("- Runs that found no valid schedule (left out of the ratios, so they flatter their arm): "
                     + ", ".join(f"`{arm}` {n}" for arm, n in failed.items()) + ".")
    return lines + [""]


def trial_count(value: float | None) -> str:
    """A trial count, or "never" where the best was never reached."""
    return "never" if value is None else f"{value:.0f}"


def stock_gnn_line(summary: dict) -> list[str]:
    """GuidedSearch against the stock search with the same GNN, per task: where the strategy, not the
    model, loses (re-measured final best over XGBModel's, mean over seeds, and trials to XGBModel's best)."""
    both = {t.split(".")[0]: (s["gnn@guided"], s["gnn"]) for t, s in summary.items()
            if "gnn" in s and s.get("gnn@guided", {}).get("remeasured_over_xgb_mean")}
    if not both:
        return []
    cells = [f"{task} {fmt(g['remeasured_over_xgb_mean'])} vs {fmt(s['remeasured_over_xgb_mean'])} (reach "
             f"{trial_count(g['trials_to_xgb_best_median'])} vs {trial_count(s['trials_to_xgb_best_median'])})"
             for task, (g, s) in both.items()]
    losses = [task for task, (g, s) in both.items() if g["remeasured_over_xgb_mean"] > s["remeasured_over_xgb_mean"]]
    return ["- `gnn@guided` against the stock search with the same GNN (`gnn`), re-measured final best / "
            f"XGBModel's and trials to XGBModel's best: {'; '.join(cells)}. Guided loses on: "
            + (", ".join(losses) if losses else "no task") + "."]


def guided_stats(summary: dict, arm: str) -> dict[str, float | None]:
    """One arm's row of the guided table over the tasks that have run it: ratios as geometric means over
    every (task, seed) pair, trials to XGBModel's best as the median task's, shares as means over tasks."""
    pairs = [(s[arm], s["xgb"]) for s in summary.values() if arm in s and "xgb" in s]
    rows = [ours for ours, _ in pairs]
    reach = [np.inf if r["trials_to_xgb_best_median"] is None else r["trials_to_xgb_best_median"] for r in rows]
    median = float(np.median(reach)) if reach else np.inf
    shares = [r["search_time_share"] for r in rows if r.get("search_time_share") is not None]
    return {
        "final": geomean([v for r in rows for v in r.get("remeasured_over_xgb", [])]),
        "at_64": geomean([v for r in rows for v in r.get("best_at_64_over_xgb_at_64", [])]),
        "at_128": geomean([v for r in rows for v in r.get("best_at_128_over_xgb_at_128", [])]),
        "reach": median if np.isfinite(median) else None,
        "share": float(np.mean(shares)) if shares else None,
        "wall": geomean([ours["wall_seconds_mean"] / xgb["wall_seconds_mean"] for ours, xgb in pairs]),
    }


def partial_line(search: dict) -> list[str]:
    """A warning paragraph when the benchmark was stopped before all its runs (continued with ``--resume``)."""
    done, planned = search.get("runs_done"), search.get("runs_planned")
    if done is None or done >= planned:
        return []
    return [f"**Partial: {done} of {planned} runs measured** (the benchmark was stopped; `--resume` on the same "
            "CPU measures the rest). Statistics below cover the seeds each model has.", ""]


def _blas(libraries: list[dict]) -> str:
    """'openblas 0.3.31, SkylakeX kernel, 2 threads' for each BLAS numpy loaded."""
    return "; ".join(f"{b['internal_api']} {b['version']}, {b['architecture']} kernel, {b['num_threads']} threads"
                     for b in libraries) or "no BLAS found"


def scratch_gnn(summary: dict) -> str:
    """The search runs' GNN: ``gnn-scratch``, named ``gnn`` in runs from before the pretrained default."""
    return "gnn-scratch" if "gnn-scratch" in next(iter(summary.values())) else "gnn"


def search_verdicts(summary: dict) -> list[str]:
    """Plain sentences on the search runs: GNN and random against XGBModel, spread, cost-model time."""
    def over_xgb(model: str) -> float | None:
        return geomean([s[model]["best_over_xgb_mean"] for s in summary.values()
                        if s.get(model, {}).get("best_over_xgb_mean")])

    name = scratch_gnn(summary)
    gnn, rnd = over_xgb(name), over_xgb("random")
    if gnn is None:
        return []
    verdict = "better than" if gnn < 0.99 else "worse than" if gnn > 1.01 else "on par with"
    out = [f"Over the {len(summary)} tasks, the GNN's final best is {verdict} XGBModel's (geometric mean of the "
           f"per-task ratios {gnn:.3f}" + (f"; the random model's {rnd:.3f})." if rnd else ").")]
    groups: dict[str, list[str]] = {"loses to XGBModel on": [], "beats XGBModel on": [], "ties with XGBModel on": []}
    for task, s in summary.items():
        mean, std = s[name]["best_over_xgb_mean"], s[name]["best_over_xgb_std"]
        key = ("loses to XGBModel on" if mean - 1 > std else "beats XGBModel on" if 1 - mean > std
               else "ties with XGBModel on")
        groups[key].append(f"{task} ({mean:.3f} ± {std:.3f}x)")
    out.append("Per task, counting a gap within the seed-to-seed standard deviation of the ratio as a tie, the GNN "
               + "; ".join(f"{verdict} {', '.join(tasks)}" for verdict, tasks in groups.items() if tasks) + ".")
    shares = {m: [s[m]["cost_model_time_share"] for s in summary.values()] for m in (name, "xgb")}
    out.append(f"The GNN spent {min(shares[name]):.0%}-{max(shares[name]):.0%} of tuning time in predict and "
               f"update, XGBModel {min(shares['xgb']):.0%}-{max(shares['xgb']):.0%}; during its warm-up XGBModel "
               "returns random scores without extracting features, so its share here is not its cost when ranking "
               "(that is compared in the overhead section).")
    return out


def overhead_section(overhead: dict) -> list[str]:
    p, u = overhead["predict_seconds"], overhead["update_seconds"]
    b = overhead["build_seconds"]
    return [
        "## Overhead of the cost model",
        "",
        f"`python benchmarks/overhead.py` -> `benchmarks/results/overhead.json` ({overhead['date'][:10]}, "
        f"`{overhead['machine']['cpu']}`). Same {overhead['predict_candidates']} random candidates of "
        f"{overhead['workload']} for both models, feature extraction included, median of "
        f"{overhead['repeats']} interleaved repeats; one `update` on the same {overhead['update_candidates']} "
        "measured candidates.",
        "",
        "| | GNNCostModel | XGBModel | GNN / XGB |",
        "| --- | ---: | ---: | ---: |",
        f"| `predict`, candidates never seen | {p['gnn']:.2f} s | {p['xgb']:.2f} s | "
        f"**{overhead['predict_ratio_gnn_over_xgb']:.2f}** (target <= {overhead['target_predict_ratio_max']:g}) |",
        f"| `predict`, the same again (graph cache) | {p['gnn_all_cached']:.2f} s | {p['xgb']:.2f} s | "
        f"{overhead['predict_ratio_gnn_all_cached_over_xgb']:.2f} |",
        f"| `update` | {u['gnn']:.2f} s | {u['xgb']:.2f} s | {overhead['update_ratio_gnn_over_xgb']:.2f} |",
        "",
        f"TVM's C++ `PerStoreFeature` extraction alone takes {p['store_features']:.2f} s of the GNN's "
        f"{p['gnn']:.2f} s. Building {overhead['build_batches']}: TVM's `LocalBuilder` {b['local_builder']:.1f} s, "
        f"`PooledBuilder` {b['pooled_builder']:.1f} s ({overhead['build_ratio_pooled_over_local']:.2f}x).",
        "",
    ]


#: The targets for the pretrained GNN on unseen models (issue #19), as (label, k, metric, floor).
TRANSFER_TARGETS = (("zero-shot pairwise accuracy", "0", "pairwise_accuracy", 0.75),
                    ("zero-shot top-1", "0", "top1", 0.50),
                    ("top-1 after 32 measurements", "32", "top1", 0.70))


def default_variant(transfer: dict) -> str:
    """The transfer arm the plug-in's default ``TrainConfig`` fine-tunes as, given the settings the arms ran with."""
    default = TrainConfig()
    if default.finetune != "all":
        return f"gnn-{default.finetune}"
    anchored = default.anchor_weight == transfer["anchor_weight"] > 0  # gnn-hybrid is gnn-anchor plus the booster
    if default.residual_from:
        hybrid = anchored and default.residual_from == transfer.get("residual_from")
        return "gnn-hybrid" if hybrid else "none of the arms (its anchor weight or residual_from was not measured)"
    return "gnn-anchor" if anchored else "gnn-plain"


def transfer_section(transfer: dict, plot: str) -> list[str]:
    """Pretrained GNN against XGBModel (pretrained and from scratch) on unseen models, k-shot, and forgetting."""
    summary, shots = transfer["summary"], [str(k) for k in transfer["shots"]]
    default = default_variant(transfer)
    lines = [
        "## Transfer to unseen models",
        "",
        f"`python benchmarks/transfer.py` -> `benchmarks/results/transfer.json` ({machine_line(transfer)}). "
        f"Weights: `{transfer['weights']}` (data card: `tvm_gnn_cost/weights/README.md`), never trained on "
        f"{', '.join(transfer['unseen_models'])}. {len(transfer['unseen_tasks'])} tasks of those models; per "
        f"seed ({transfer['seeds']}) each task's records are shuffled, the last {transfer['test_records']} held "
        "out, and each model is given the first k the way a search gives them (the GNNs in rounds of 32 through "
        "`learn`, XGBModel in one `update`). `xgb-pretrained` is XGBModel fed every record the GNN's weights "
        "were trained on first (TenSet-style; the validation models held out for both) and retrained with the k; `xgb` is XGBModel from scratch with its tuning defaults "
        "(random scores for its first 100 records); `gnn-scratch` scores at random until 32. The shipped "
        f"default fine-tunes as `{default}`. Mean ± sd over seeds.",
        "",
    ]
    for metric in ("pairwise_accuracy", "top1"):
        lines += [f"| {METRICS[metric]} | " + " | ".join(f"k = {k}" for k in shots) + " |",
                  "| --- |" + " ---: |" * len(shots)]
        lines += [f"| `{m}` | " + " | ".join(mean_std(by_k[k][metric]) for k in shots) + " |"
                  for m, by_k in summary.items()]
        lines.append("")
    lines += [f"![transfer]({plot})", "", f"Against the targets of issue #19 (the default, `{default}`):", ""]
    gnn = summary.get(default, {})
    for label, k, metric, floor in TRANSFER_TARGETS:
        value = gnn[k][metric]["mean"] if k in gnn else None
        lines.append(f"- {label} >= {floor:.2f}: " + ("not measured" if value is None else
                     f"{value:.3f}, " + ("met" if value >= floor else f"**missed by {floor - value:.3f}**")))
    lines += _at_least("pairwise accuracy after 8 measurements >= zero-shot", gnn, "8", gnn, "0", "pairwise_accuracy")
    if "xgb" in summary:
        lines += _at_least("top-1 after 128 measurements >= XGBModel's", gnn, "128", summary["xgb"], "128", "top1")
    variants = [m for m in summary if m.startswith("gnn-") and m != "gnn-scratch" and "8" in summary[m]]
    if variants:
        best = max(variants, key=lambda m: summary[m]["8"]["pairwise_accuracy"]["mean"])
        lines.append(f"- the fine-tuning variant with the best pairwise accuracy at k = 8: `{best}`"
                     + (" (the default)" if best == default else f" (the default is `{default}`)"))
    forgetting = {m: by_k for m, by_k in transfer["forgetting"].items() if by_k}
    if forgetting:
        ks = sorted({k for by_k in forgetting.values() for k in by_k}, key=int)
        lines += ["", "**Forgetting.** After fine-tuning on one unseen task, each pretrained variant is scored on "
                  f"tasks of the pretraining models held out for validation ({len(transfer['probe_tasks'])} tasks; pairwise "
                  f"accuracy {mean_std(transfer['probe_before'])} before). Change in that accuracy (negative: "
                  "forgotten), averaged over tasks, mean ± sd over seeds:", "",
                  "| variant | " + " | ".join(f"k = {k}" for k in ks) + " |", "| --- |" + " ---: |" * len(ks)]
        lines += [f"| `{m}` | " + " | ".join(mean_std(by_k.get(k)) for k in ks) + " |" for m, by_k in forgetting.items()]
        lines += ["", f"`gnn-anchor`: anchor weight {transfer['anchor_weight']:g}; `gnn-replay`: "
                  f"{transfer['replay_records']} pretraining records in the replay buffer"
                  + (f"; `gnn-hybrid`: `gnn-anchor` plus the residual booster from {transfer['residual_from']} "
                     "measurements on." if "gnn-hybrid" in forgetting else ".")]
    return lines + [""]


def _at_least(label: str, ours: dict, k: str, theirs: dict, their_k: str, metric: str) -> list[str]:
    """A target line: ``ours`` at ``k`` at least ``theirs`` at ``their_k`` on ``metric`` (nothing if either is missing)."""
    if k not in ours or their_k not in theirs:
        return []
    value, floor = ours[k][metric]["mean"], theirs[their_k][metric]["mean"]
    return [f"- {label}: {value:.3f} against {floor:.3f}, "
            + ("met" if value >= floor else f"**missed by {floor - value:.3f}**")]


def collection_section(collection: dict, plot: str) -> list[str]:
    """Records per hour of the campaign's recipe against the one before it, measured side by side."""
    summary, recipes = collection["summary"], collection["recipes"]
    ratio, best = summary["records_per_hour_ratio"], summary["best_ratio_after_over_before"]
    describe = lambda r: f"{r['random']} random + {r['search']} searched, population {r['population']}"  # noqa: E731
    return [
        "## Collection throughput",
        "",
        f"`python benchmarks/collection.py` -> `benchmarks/results/collection.json` ({machine_line(collection)}). "
        f"{len(collection['tasks'])} tasks of generated models, each collected by both recipes with the same "
        f"builder and runner, alternating which goes first, seeds {collection['seeds']}: before "
        f"({describe(recipes['before'])}) and after ({describe(recipes['after'])}).",
        "",
        f"Records per hour, after / before: **{mean_std(ratio, 2)}** (per seed: "
        f"{', '.join(f'{v:.2f}' for v in ratio['values'])}). Best latency each recipe found per task, after / "
        f"before: geometric mean {fmt(best['geomean'], 2)}, median {fmt(best['median'], 2)} (below 1: the new "
        "recipe also finds faster schedules).",
        "",
        f"![collection]({plot})",
        "",
    ]


def data_scaling_section(scaling: dict, plot: str) -> list[str]:
    """The learning curve (GNN and XGBModel against pretraining records) and which CPUs' data to train on."""
    curve, cpus = scaling["curve"], scaling["cpus"]
    lines = [
        "## Does more data pay? (learning curve)",
        "",
        f"`python benchmarks/data_scaling.py` -> `benchmarks/results/data_scaling.json` ({machine_line(scaling)}). "
        f"Pretraining corpus: {scaling['corpus_tasks']} tasks, {scaling['corpus_records']} records "
        f"(tasks per CPU: {', '.join(f'{c} {n}' for c, n in scaling['corpus_cpus'].items())}). Each point pretrains "
        "the GNN with the shipped weights' recipe on a seeded random share of the tasks and scores it zero-shot on "
        f"every record of the {len(scaling['unseen_tasks'])} unseen-model tasks (measured on "
        f"`{scaling['measured_on']}`); XGBModel is fed the same share. Mean ± sd over seeds {scaling['seeds']}.",
        "",
        "| share | records | GNN pairwise | XGBModel pairwise | GNN top-1 | XGBModel top-1 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in scaling["fractions"]:
        gnn, xgb = curve[f"gnn@{f:g}"], curve[f"xgb@{f:g}"]
        lines.append(f"| {f:.0%} | {gnn['records']['mean']:.0f} | {mean_std(gnn['pairwise_accuracy'])} | "
                     f"{mean_std(xgb['pairwise_accuracy'])} | {mean_std(gnn['top1'])} | {mean_std(xgb['top1'])} |")
    lines += [
        "",
        "Which CPUs' data to pretrain on (whole corpus): `all-cpus` with the CPU's features as input, "
        "`all-cpus-blind` the same data without them, `target-cpu` only the data measured on the unseen models' CPU.",
        "",
        "| training data | tasks | pairwise | top-1 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for arm, stats in cpus.items():
        tasks = stats.get("tasks")
        lines.append(f"| `{arm}` | {tasks['mean']:.0f} | " if tasks else f"| `{arm}` | {scaling['corpus_tasks']} | ")
        lines[-1] += f"{mean_std(stats['pairwise_accuracy'])} | {mean_std(stats['top1'])} |"
    return lines + ["", f"![data scaling]({plot})", ""]


#: The tables of ``recipe.py`` besides ``recipe.json``: result name -> its command line and title.
RECIPE_RUNS = {
    "recipe_mp": ("python benchmarks/recipe.py --pretraining <recipe.json's chunks> --variants ranknet nomp layers-4 "
                  "stage-readout --out benchmarks/results/recipe_mp.json",
                  "Does message passing earn its keep? (depth, readout)"),
    "recipe_corpus": ("python benchmarks/recipe.py --base grouped-8x16 --variants grouped-8x16 nomp "
                      "--out benchmarks/results/recipe_corpus.json",
                      "The shipped recipe on the whole corpus: message passing, and an ensemble of its seeds"),
}


def recipe_section(recipe: dict, plot: str, *, name: str = "recipe", command: str = "python benchmarks/recipe.py",
                   title: str = "Which training recipe? (loss, batches, regularisation)") -> list[str]:
    """Training recipes, one knob changed at a time, on validation and unseen models, with XGBModel beside them."""
    summary = recipe["summary"]
    lines = [
        f"## {title}",
        "",
        f"`{command}` -> `benchmarks/results/{name}.json` ({machine_line(recipe)}). Each variant "
        f"pretrains on the corpus the JSON names ({recipe['corpus_tasks']} tasks, {recipe['corpus_records']} records) "
        f"with `PretrainConfig()`'s schedule and changes one thing from `{recipe.get('base', 'ranknet')}`; validation "
        "is whole held-out models "
        "(tasks of at least 8 valid records), unseen is every record of the "
        f"{len(recipe['unseen_tasks'])} unseen-model tasks, zero-shot. XGBModel is fed the same training records. "
        f"Mean ± sd over seeds {recipe['seeds']}. Best by validation pairwise: `{recipe['chosen']}`."
        + ("" if "top1_failed_pick" in recipe else
           " This run's top-1 still counted a failed pick as infinitely slow: a seed where one validation task's "
           "pick failed scores 0 on validation top-1 (pairwise is unaffected)."),
        "",
        "| variant | validation pairwise | validation top-1 | unseen pairwise | unseen top-1 | kept epoch | pairs/step |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant, row in summary.items():
        val, unseen = row["validation"], row["unseen"]
        extra = (f"{row['best_epoch']['mean']:.0f} | {row['pairs_per_step']['mean']:.0f}" if "best_epoch" in row
                 else "- | -")
        lines.append(f"| `{variant}` | {mean_std(val['pairwise_accuracy'])} | {mean_std(val['top1'])} | "
                     f"{mean_std(unseen['pairwise_accuracy'])} | {mean_std(unseen['top1'])} | {extra} |")
    seeds = len(recipe["seeds"])
    for variant, metrics in recipe.get("ensemble", {}).items():
        lines.append(f"| `{variant}`, ensemble of {seeds} seeds | - | - | {metrics['pairwise_accuracy']:.3f} | "
                     f"{metrics['top1']:.3f} | - | - |")
    return lines + ["", *ensemble_lines(recipe), *message_passing_lines(summary, recipe.get("base", "ranknet")),
                    f"![training recipes]({plot})", ""]


def ensemble_lines(recipe: dict) -> list[str]:
    """Each ensemble of seeds (mean log-throughput) against its seeds one by one, unseen pairwise, a gap within
    their spread a tie."""
    lines = []
    for variant, metrics in recipe.get("ensemble", {}).items():
        single = recipe["summary"][variant]["unseen"]["pairwise_accuracy"]
        delta, spread, sign = versus({"mean": metrics["pairwise_accuracy"], "std": 0.0}, single)
        lines.append(f"- `{variant}`: the ensemble of its {len(recipe['seeds'])} seeds against one seed, unseen "
                     f"pairwise {metrics['pairwise_accuracy']:.3f} vs {single['mean']:.3f} ({delta:+.3f}, "
                     f"{('worse', 'a tie', 'better')[sign + 1]}; seed spread {spread:.3f})")
    return lines + [""] if lines else []


def message_passing_lines(summary: dict, base: str = "ranknet") -> list[str]:
    """Each variant with edges (``base``, more layers, the stage readout) against ``nomp`` (``base`` without
    them) on pairwise accuracy, a gap within the seed spread a tie."""
    if "nomp" not in summary:
        return []
    lines = []
    for variant in (v for v in (base, "layers-4", "stage-readout") if v in summary):
        parts = []
        for group in ("validation", "unseen"):
            ours, theirs = summary[variant][group]["pairwise_accuracy"], summary["nomp"][group]["pairwise_accuracy"]
            delta, spread, sign = versus(ours, theirs)
            verdict = ("worse", "a tie", "better")[sign + 1]
            parts.append(f"{group} {delta:+.3f} ({verdict}; seed spread {spread:.3f})")
        lines.append(f"- `{variant}` against `nomp`, pairwise: " + ", ".join(parts))
    return lines + [""] if lines else []


def render(results_dir: Path, out: Path) -> str:
    """The results page for the JSON files in ``results_dir``, with plot links relative to ``out``."""
    load = lambda name: json.loads((results_dir / f"{name}.json").read_text())  # noqa: E731
    plot = lambda name: os.path.relpath(results_dir / f"{name}.png", out.parent)  # noqa: E731
    offline, search, overhead = load("offline"), load("search"), load("overhead")
    lines = [
        "# Results",
        "",
        "Generated by `make results` (`benchmarks/run_all.py`: every benchmark, then `benchmarks/report.py`) "
        "from `benchmarks/results/*.json`; do not edit by hand. `make results ARGS=--quick` runs the same on "
        "tiny budgets. The dataset is re-measured with `make dataset`. The machines are shared and noisy: "
        "compare numbers from one run, not across runs.",
        "",
        f"Offline benchmark: {machine_line(offline)}. Search benchmark: {machine_line(search)}.",
        "",
        "**Is the GNN better than TVM's XGBoost model on the same machine, tasks and budget?** "
        + " ".join(offline_verdicts(offline["summary"])[:2] + search_verdicts(search["summary"])[:3]),
        "",
        *dataset_section(offline),
        *offline_section(offline, plot("offline")),
        *search_section(search, plot("search")),
        *overhead_section(overhead),
        *(transfer_section(load("transfer"), plot("transfer")) if (results_dir / "transfer.json").exists() else []),
        *(unseen_search_section(load("search_unseen"), plot("search_unseen"))
          if (results_dir / "search_unseen.json").exists() else []),
        *(guided_pilot_section(load("search_guided_pilot"), plot("search_guided_pilot"))
          if (results_dir / "search_guided_pilot.json").exists() else []),
        *(sweep_section(load("search_sweep"), plot("search_sweep"))
          if (results_dir / "search_sweep.json").exists() else []),
        *(guided_section(load("search_guided"), plot("search_guided"))
          if (results_dir / "search_guided.json").exists() else []),
        *(guided_section(load("search_guided_threads"), plot("search_guided_threads"), name="search_guided_threads",
                         title="Guided search with its proposal on the tuning threads", note=THREADS_NOTE)
          if (results_dir / "search_guided_threads.json").exists() else []),
        *(collection_section(load("collection"), plot("collection"))
          if (results_dir / "collection.json").exists() else []),
        *(data_scaling_section(load("data_scaling"), plot("data_scaling"))
          if (results_dir / "data_scaling.json").exists() else []),
        *(recipe_section(load("recipe"), plot("recipe")) if (results_dir / "recipe.json").exists() else []),
        *(line for name, (command, title) in RECIPE_RUNS.items() if (results_dir / f"{name}.json").exists()
          for line in recipe_section(load(name), plot(name), name=name, command=command, title=title)),
        DEFINITIONS,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    text = render(args.results, args.out)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
