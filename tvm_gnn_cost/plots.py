"""Plots of tuning results (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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
