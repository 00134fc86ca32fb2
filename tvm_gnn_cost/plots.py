"""Plots of tuning results (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from typing import TYPE_CHECKING

from .graph import STRUCTURE_COLUMN, STRUCTURE_FEATURES, EdgeType, StageGraph

if TYPE_CHECKING:
    from .tuning import TuneResult


def plot_best_curves(results: Sequence[TuneResult], path: Path, *, title: str = "") -> None:
    """One panel per task: best latency so far (ms, log scale) against trials, a line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_stage_graph(graph: StageGraph, path: Path, *, title: str = "") -> None:
    """Draw a stage graph: stages top to bottom in program order, edges coloured by type.

    DATAFLOW edges are arrows on the right; LOOP_SHARED and SAME_BUFFER (both directions in
    the graph) are drawn once, dashed, on the left; DATAFLOW_REVERSE mirrors DATAFLOW and is
    not drawn. Edge labels give the number of loops the two stages share.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
