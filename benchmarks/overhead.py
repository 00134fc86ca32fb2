"""Cost-model overhead: GNNCostModel against XGBModel on the same conv2d candidates, in one run.

Times ``predict`` on 2048 candidates (feature extraction included) and one ``update`` on 256
measured candidates (the GNN from scratch: its first update, the longest one, trains
``first_epochs``; a pretrained model fine-tunes fewer), interleaving the two models' repeats, and writes the ratios to
benchmarks/results/overhead.json. Target: GNN predict at most 2x XGBoost's.

Also times building batches of 32 candidates with TVM's ``LocalBuilder`` (pool restarted
every batch; given our ``build_module`` so it does not time out) against ``PooledBuilder``.

    .venv/bin/python benchmarks/overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
from tvm.s_tir import meta_schedule as ms

from tvm_gnn_cost import (
    build_module,
    host_target,
    make_builder,
    make_cost_model,
    make_runner,
    measure_candidates,
    sample_candidates,
)
from tvm_gnn_cost.datasets.workloads import get_workload
from tvm_gnn_cost.files import write_json
from tvm_gnn_cost.provenance import results_header
from tvm_gnn_cost.search.measure import tune_context

RESULTS = Path(__file__).parent / "results"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="conv2d-28x28x128")
    parser.add_argument("--predict", type=int, default=2048, help="candidates to predict")
    parser.add_argument("--update", type=int, default=256, help="measured candidates for one update")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="256 predicted, 32 measured (one build batch), 1 repeat")
    parser.add_argument("--out", type=Path, help="JSON result (default results/overhead.json, or "
                        "results/quick/overhead.json with --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.predict, args.update, args.repeats = 256, 32, 1
    args.out = args.out or RESULTS / ("quick" if args.quick else "") / "overhead.json"
    logging.basicConfig(level=logging.WARNING)

    target = host_target()
    cores = int(target.attrs["num-cores"])
    context = tune_context(get_workload(args.workload), target, args.workload, num_threads=cores)
    pool = sample_candidates(context, args.predict, seed=1)
    train = sample_candidates(context, args.update, seed=2)
    start = time.perf_counter()
    train_results = measure_candidates(context, train, make_builder(), make_runner())
    print(f"measured {len(train)} candidates in {time.perf_counter() - start:.0f} s")

    gnn = make_cost_model("gnn-scratch", seed=0)  # from scratch: its first update trains the longest (first_epochs)
    # no warm-up: XGBModel predicts with its booster even after a --quick update of 32 samples
    xgb = make_cost_model("xgb", seed=0, num_cores=cores, warmup=0)
    update = {"gnn": timed(lambda: gnn.update(context, train, train_results)),
              "xgb": timed(lambda: xgb.update(context, train, train_results))}

    predict: dict[str, list[float]] = {"gnn": [], "xgb": [], "store_features": []}
    extractor = ms.feature_extractor.PerStoreFeature()
    for _ in range(args.repeats):  # interleaved, so machine noise hits all alike
        predict["xgb"].append(timed(lambda: xgb.predict(context, pool)))
        gnn.graph_cache.clear()  # cold: every graph extracted, as for schedules never seen
        predict["gnn"].append(timed(lambda: gnn.predict(context, pool)))
        predict["store_features"].append(timed(lambda: extractor.extract_from(context, pool)))
    predict["gnn_all_cached"] = [timed(lambda: gnn.predict(context, pool))]
    median = {k: float(np.median(v)) for k, v in predict.items()}

    batches = [train[i : i + 32] for i in range(0, min(len(train), 128), 32)]
    stock = ms.builder.LocalBuilder(max_workers=cores, timeout_sec=60, f_build=build_module)
    pooled = make_builder(max_workers=cores)
    build: dict[str, float] = {"local_builder": 0.0, "pooled_builder": 0.0}
    for batch in batches:
        inputs = [ms.builder.BuilderInput(c.sch.mod, context.target) for c in batch]
        build["local_builder"] += timed(lambda: stock.build(inputs))
        build["pooled_builder"] += timed(lambda: pooled.build(inputs))

    result = {
        **results_header(target),
        "workload": args.workload,
        "predict_candidates": len(pool),
        "update_candidates": len(train),
        "repeats": args.repeats,
        "predict_seconds": median,
        "predict_seconds_all": predict,
        "update_seconds": update,
        "predict_ratio_gnn_over_xgb": median["gnn"] / median["xgb"],
        "predict_ratio_gnn_all_cached_over_xgb": median["gnn_all_cached"] / median["xgb"],
        "update_ratio_gnn_over_xgb": update["gnn"] / update["xgb"],
        "gnn_predict_share_in_store_features": median["store_features"] / median["gnn"],
        "build_seconds": build,
        "build_batches": f"{len(batches)} x 32 candidates",
        "build_ratio_pooled_over_local": build["pooled_builder"] / build["local_builder"],
        "target_predict_ratio_max": 2.0,
    }
    write_json(args.out, result)
    for key in ("predict_seconds", "update_seconds", "predict_ratio_gnn_over_xgb", "update_ratio_gnn_over_xgb",
                "build_seconds"):
        print(f"{key}: {result[key]}")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
