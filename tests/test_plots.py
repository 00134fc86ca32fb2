"""The plots the benchmarks write."""

from __future__ import annotations

import matplotlib.image

from tvm_gnn_cost.plots import plot_seed_curves


def test_seed_curves_of_many_models_share_one_legend_beside_the_panels(tmp_path):
    curve = [[3e-3, 2e-3, 1e-3], [4e-3, 2e-3, 2e-3]]
    few, many = tmp_path / "few.png", tmp_path / "many.png"
    plot_seed_curves({"task.a": {f"m{i}": curve for i in range(3)}}, few)
    plot_seed_curves({"task.a": {f"m{i}": curve for i in range(12)}, "task.b": {"m0": curve}}, many)
    height, width = matplotlib.image.imread(few).shape[:2]
    assert (height, width) == (456, 600)  # one 5 x 3.8 inch panel at 120 dpi
    assert matplotlib.image.imread(many).shape[:2] == (456, 1560)  # two panels and a 3-inch legend column
