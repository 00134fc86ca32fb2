"""Plots of tuning results (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .nn.graph import STRUCTURE_COLUMN, STRUCTURE_FEATURES, EdgeType, StageGraph

if TYPE_CHECKING:
    from .search.tuning import TuneResult


def plot_best_curves(results: Sequence[TuneResult], path: Path, *, title: str = "") -> None:
    """One panel per task: best latency so far (ms, log scale) against trials, a line per model."""
    plt = _pyplot()
    tasks = results[0].tasks
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for result in results:
            curve = result.curve(task) * 1e3
            ax.plot(range(1, len(curve) + 1), curve, label=result.cost_model)
        ax.set_yscale("log")
        ax.set_title(task)
        ax.set_xlabel("trials")
        ax.set_ylabel("best latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    _save(fig, path, title)


def _pyplot():
    """matplotlib's pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, title: str) -> None:
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)


#: Metrics drawn by :func:`plot_metric_bars`, with their axis labels.
BAR_METRICS = {"pairwise_accuracy": "pairwise accuracy", "kendall_tau": "Kendall tau",
               "top1": "top-1 score", "top5": "top-5 score", "median_ape": "median APE (latency)"}


#: The record groups :func:`plot_metric_bars` draws by default: the offline benchmark's.
OFFLINE_GROUPS = {"unseen": "unseen tasks", "seen": "seen tasks, held-out records"}


def plot_metric_bars(summary: Mapping[str, Mapping[str, Mapping]], path: Path, *, title: str = "",
                     groups: Mapping[str, str] = OFFLINE_GROUPS) -> None:
    """A panel per metric: a bar per model and group (``summary[model][group][metric]``), mean over seeds with sd bars."""
    import numpy as np

    plt = _pyplot()
    models = list(summary)
    fig, axes = plt.subplots(1, len(BAR_METRICS), figsize=(3.6 * len(BAR_METRICS), 3.6), squeeze=False)
    width = 0.76 / len(groups)
    for ax, (metric, label) in zip(axes[0], BAR_METRICS.items()):
        for j, (group, group_label) in enumerate(groups.items()):
            stats = [summary[m][group].get(metric) for m in models]
            means = [s["mean"] if s else np.nan for s in stats]
            stds = [s["std"] if s else 0.0 for s in stats]
            ax.bar(np.arange(len(models)) + (j - (len(groups) - 1) / 2) * width, means, width, yerr=stds, capsize=3,
                   label=group_label)
        ax.set_xticks(np.arange(len(models)), models, rotation=30, ha="right")
        ax.set_title(label)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    _save(fig, path, title)


def plot_seed_curves(curves: Mapping[str, Mapping[str, Sequence[Sequence[float]]]], path: Path, *,
                     title: str = "") -> None:
    """A panel per task: median best latency over seeds against trials, a line per model, min-max band.

    ``curves[task][model]`` holds one best-so-far curve (seconds) per seed. A model keeps its colour
    in every panel; with more models than a panel's legend can hold, one legend stands beside them.
    """
    import numpy as np

    plt = _pyplot()
    models = list(dict.fromkeys(m for by_model in curves.values() for m in by_model))
    palette = plt.get_cmap("tab20" if len(models) > 10 else "tab10").colors
    colours = {model: palette[i % len(palette)] for i, model in enumerate(models)}
    shared_legend = len(models) > 8
    fig, axes = plt.subplots(1, len(curves) + shared_legend, figsize=(5 * len(curves) + 3 * shared_legend, 3.8),
                             squeeze=False)
    for ax, (task, by_model) in zip(axes[0], curves.items()):
        for model, runs in by_model.items():
            length = min(len(c) for c in runs)
            ms = np.array([np.asarray(c[:length], dtype=float) for c in runs]) * 1e3
            x = np.arange(1, length + 1)
            ax.plot(x, np.median(ms, axis=0), color=colours[model], label=f"{model} (median of {len(runs)})")
            ax.fill_between(x, ms.min(axis=0), ms.max(axis=0), color=colours[model], alpha=0.2)
        ax.set_yscale("log")
        ax.set_title(task if len(task) < 40 else task[:37] + "...", fontsize=9)
        ax.set_xlabel("trials")
        ax.set_ylabel("best latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
        if not shared_legend:
            ax.legend(fontsize=7)
    if shared_legend:
        handles = {label: line for ax in axes[0][:-1] for line, label in zip(*ax.get_legend_handles_labels())}
        axes[0][-1].axis("off")
        axes[0][-1].legend(handles.values(), handles.keys(), loc="center left", fontsize=7)
    _save(fig, path, title)


def draw_stage_graph(graph: StageGraph, path: Path, *, title: str = "") -> None:
    """Draw a stage graph: stages top to bottom in program order, edges coloured by type.

    DATAFLOW edges are arrows on the right; LOOP_SHARED and SAME_BUFFER (both directions in
    the graph) are drawn once, dashed, on the left; DATAFLOW_REVERSE mirrors DATAFLOW and is
    not drawn. Edge labels give the number of loops the two stages share.
    """
    plt = _pyplot()
    styles = {
        EdgeType.DATAFLOW: ("tab:blue", "-", -0.5),
        EdgeType.LOOP_SHARED: ("tab:green", "--", 0.5),
        EdgeType.SAME_BUFFER: ("tab:red", ":", 0.8),
    }
    n = graph.num_nodes
    fig, ax = plt.subplots(figsize=(7, 1.3 * n + 1))
    ys = {i: n - 1 - i for i in range(n)}
    ax.set_xlim(-1.6, 1.6)  # fixed before drawing: arc label positions depend on the transform
    ax.set_ylim(-0.7, n - 0.3)
    for i, name in enumerate(graph.block_names):
        ax.text(0, ys[i], f"{name}\n{_stage_summary(graph, i)}", ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round", "fc": "whitesmoke", "ec": "gray"}, zorder=5)
    shared_col = len(EdgeType)
    drawn = set()
    for (s, t), attr in zip(graph.edge_index.T, graph.edge_attr):
        kind = EdgeType(int(attr[:shared_col].argmax()))
        if kind not in styles or (kind != EdgeType.DATAFLOW and (t, s, kind) in drawn):
            continue
        drawn.add((s, t, kind))
        color, line, rad = styles[kind]
        rad *= 1 + 0.6 * (abs(int(s) - int(t)) - 1)  # longer spans bow further out, around the boxes
        ax.annotate("", xy=(0.02 * rad, ys[t]), xytext=(0.02 * rad, ys[s]),
                    arrowprops={"arrowstyle": "-|>" if kind == EdgeType.DATAFLOW else "-", "color": color,
                                "linestyle": line, "connectionstyle": f"arc3,rad={rad}", "shrinkA": 18, "shrinkB": 18})
        shared = round(2 ** float(attr[shared_col]) - 1)
        label_x, label_y = _arc_midpoint(ax, (0.02 * rad, ys[s]), (0.02 * rad, ys[t]), rad)
        ax.text(label_x, label_y, str(shared), color=color, fontsize=8, ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none"}, zorder=6)
    for kind, (color, line, _) in styles.items():
        ax.plot([], [], color=color, linestyle=line, label=f"{kind.name} (label: shared loops)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=8, ncol=1, frameon=False)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    _save(fig, path, "")


def _stage_summary(graph: StageGraph, node: int) -> str:
    """A short description of a stage's loops from its structural features."""
    feats = dict(zip(STRUCTURE_FEATURES, graph.x[node, STRUCTURE_COLUMN:]))

    def unlog(name: str) -> int:
        return round(2 ** float(feats[name]) - 1)

    parts = [f"{unlog('loop_depth')} loops"]
    for kind in ("parallel", "vectorized", "unrolled"):
        if feats[f"{kind}_loops"] > 0:
            parts.append(f"{kind} {unlog(f'{kind}_extent')}")
    if feats["is_init"]:
        parts.append("init (no store row)")
    return ", ".join(parts)


def _arc_midpoint(ax, start: tuple[float, float], end: tuple[float, float], rad: float) -> tuple[float, float]:
    """Data coordinates of the middle of matplotlib's ``arc3`` curve between two points."""
    import numpy as np

    p1, p2 = ax.transData.transform([start, end])
    dx, dy = p2 - p1
    control = (p1 + p2) / 2 + rad * np.array([dy, -dx])
    return tuple(ax.transData.inverted().transform(0.25 * p1 + 0.5 * control + 0.25 * p2))


def plot_training_curves(history: Sequence[Mapping[str, float]], path: Path, *, best_epoch: int) -> None:
    """Training loss and validation ranking metrics against epochs, the kept epoch marked."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(10, 3.8))
    loss_ax.plot(epochs, [row["train_loss"] for row in history])
    loss_ax.set_ylabel("training loss")
    for key, label in (("val_pairwise_accuracy", "pairwise accuracy"), ("val_kendall_tau", "Kendall tau"),
                       ("val_top1", "top-1 score")):
        metric_ax.plot(epochs, [row[key] for row in history], label=label)
    metric_ax.set_ylabel("validation (held-out models)")
    metric_ax.legend(fontsize=7)
    for ax in (loss_ax, metric_ax):
        ax.axvline(best_epoch, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
    _save(fig, path, "pretraining")


def plot_shot_curves(summary: Mapping[str, Mapping[str, Mapping]], path: Path, *, title: str = "",
                     metrics: Sequence[str] = ("pairwise_accuracy", "top1")) -> None:
    """A panel per metric against measurements of the task (k-shot): a line per model, mean with a ±sd band.

    ``summary[model][k][metric]`` is ``{"mean": ..., "std": ...}``.
    """
    import numpy as np

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for model, by_k in summary.items():
            shots = sorted(by_k, key=int)
            mean = np.array([by_k[k][metric]["mean"] for k in shots], dtype=float)
            std = np.array([by_k[k][metric]["std"] for k in shots], dtype=float)
            ax.plot(range(len(shots)), mean, marker="o", label=model)
            ax.fill_between(range(len(shots)), mean - std, mean + std, alpha=0.15)
        ax.set_xticks(range(len(shots)), shots)
        ax.set_xlabel("measurements of the task (k)")
        ax.set_ylabel(BAR_METRICS.get(metric, metric))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, path, title)


def plot_collection(result: Mapping, path: Path, *, title: str = "") -> None:
    """Records per hour of each collection recipe per seed, and per task the best latency each found (after/before)."""
    import numpy as np

    plt = _pyplot()
    summary = result["summary"]
    fig, (rate_ax, best_ax) = plt.subplots(1, 2, figsize=(11, 4))
    seeds = list(summary["per_seed"])
    recipes = list(result["recipes"])
    width = 0.8 / len(recipes)
    for j, recipe in enumerate(recipes):
        rates = [summary["per_seed"][s][recipe]["records_per_hour"] for s in seeds]
        rate_ax.bar(np.arange(len(seeds)) + (j - (len(recipes) - 1) / 2) * width, rates, width, label=recipe)
    rate_ax.set_xticks(range(len(seeds)), [f"seed {s}" for s in seeds])
    rate_ax.set_ylabel("records per hour (2 cores)")
    rate_ax.legend()
    ratios = summary["best_ratio_after_over_before"]["values"]
    best_ax.bar(range(len(ratios)), ratios)
    best_ax.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    best_ax.set_yscale("log")
    best_ax.set_xticks(range(len(ratios)))
    best_ax.set_xlabel("task x seed")
    best_ax.set_ylabel("best latency found, after / before")
    for ax in (rate_ax, best_ax):
        ax.grid(True, axis="y", alpha=0.3)
    _save(fig, path, title)


def plot_data_scaling(result: Mapping, path: Path, *, title: str = "") -> None:
    """Pairwise and top-1 against pretraining records (GNN and XGBModel, mean with a ±sd band), then the CPU arms.

    ``result["curve"]["<model>@<fraction>"][metric]`` and ``result["cpus"][arm][metric]`` are
    ``{"mean": ..., "std": ...}`` (``benchmarks/data_scaling.py``).
    """
    import numpy as np

    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    curve = result["curve"]
    for ax, metric in zip(axes[:2], ("pairwise_accuracy", "top1")):
        for model in ("gnn", "xgb"):
            points = [curve[f"{model}@{f:g}"] for f in result["fractions"]]
            records = np.array([p["records"]["mean"] for p in points])
            mean = np.array([p[metric]["mean"] for p in points])
            std = np.array([p[metric]["std"] for p in points])
            ax.plot(records, mean, marker="o", label="GNN" if model == "gnn" else "XGBModel")
            ax.fill_between(records, mean - std, mean + std, alpha=0.15)
        ax.set_xscale("log")
        ax.set_xlabel("pretraining records")
        ax.set_ylabel(BAR_METRICS.get(metric, metric))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    arms = list(result["cpus"])
    stats = [result["cpus"][arm]["pairwise_accuracy"] for arm in arms]
    axes[2].bar(range(len(arms)), [s["mean"] for s in stats], yerr=[s["std"] for s in stats], capsize=3)
    axes[2].set_xticks(range(len(arms)), arms, rotation=15)
    low = min(s["mean"] - s["std"] for s in stats)
    axes[2].set_ylim(max(0.0, low - 0.05), None)
    axes[2].set_ylabel("pairwise accuracy")
    axes[2].set_title(f"which CPUs' data (unseen models on {result['measured_on']})")
    axes[2].grid(True, axis="y", alpha=0.3)
    _save(fig, path, title)
