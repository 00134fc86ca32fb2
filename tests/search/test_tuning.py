"""End to end: MetaSchedule tunes with GNNCostModel and records valid results."""

from __future__ import annotations

import json

import numpy as np
import torch
import tvm
import tvm_ffi
from tvm import te
from tvm.s_tir import meta_schedule as ms

from tvm_gnn_cost import GNNCostModel, TrainConfig, host_target, make_builder, make_runner, sample_candidates
from tvm_gnn_cost.datasets.workloads import get_workload
from tvm_gnn_cost.search.measure import tune_context
from tvm_gnn_cost.search.tuning import SkipMeasured, evolutionary_search


def test_tune_tir_with_gnn_records_valid_schedules(tmp_path):
    mod = get_workload("gemm-128")
    target = host_target(2)
    model = GNNCostModel(seed=0)  # the default: pretrained, fine-tuned from the first measurements
    database = ms.tune_tir(
        mod, target, str(tmp_path), max_trials_global=32, num_trials_per_iter=16,
        builder=make_builder(), runner=make_runner(), cost_model=model, seed=1, strategy=evolutionary_search(64, 16),
    )
    records = database.get_all_tuning_records()
    assert len(records) == 32
    seconds = [float(np.median([float(s) for s in r.run_secs])) for r in records if r.run_secs]
    assert len(seconds) >= 24 and all(0 < s < 1 for s in seconds)
    assert model.learner.buffer.num_measured == len(seconds)
    assert any(not torch.equal(p, model.learner.anchor[k]) for k, p in model.learner.network.named_parameters())  # fine-tuned

    # the JSON database on disk is TVM's format and reloads
    lines = (tmp_path / "database_tuning_record.json").read_text().splitlines()
    assert len(lines) == 32 and all(isinstance(json.loads(line), list) for line in lines)
    reloaded = ms.database.JSONDatabase(work_dir=str(tmp_path))
    assert len(reloaded.get_all_tuning_records()) == 32

    # the best schedule compiles and computes the product
    sch = ms.tir_integration.compile_tir(database, mod, target)
    lib = tvm.compile(sch.mod, target=target)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((128, 128), dtype=np.float32) for _ in range(2))
    c = tvm.runtime.tensor(np.zeros((128, 128), dtype=np.float32))
    lib(tvm.runtime.tensor(a), tvm.runtime.tensor(b), c)
    np.testing.assert_allclose(c.numpy(), a @ b, rtol=1e-4, atol=1e-4)


def test_tune_tasks_with_gradient_scheduler_over_two_tasks(tmp_path):
    target = host_target(2)
    tasks = [
        tune_context(get_workload(name), target, name, seed=seed, search_strategy=evolutionary_search(64, 8))
        for seed, name in enumerate(["gemm-128", "conv2d-14x14x64"], start=1)
    ]
    model = GNNCostModel(pretrained=False, seed=0, train_config=TrainConfig(min_samples=8))  # random until 8
    database = ms.tune_tasks(
        tasks=tasks, task_weights=[1.0, 1.0], work_dir=str(tmp_path), max_trials_global=32,
        num_trials_per_iter=8, builder=make_builder(), runner=make_runner(), cost_model=model,
        task_scheduler="gradient",
    )
    records = database.get_all_tuning_records()
    assert len(records) == 32
    assert len({r.workload for r in records}) == 2
    assert model.learner.trained


def _relu_context(strategy: SkipMeasured) -> ms.TuneContext:
    """A ReLU, whose design space is small enough to measure whole."""
    a = te.placeholder((64, 256), name="a")
    b = te.compute((64, 256), lambda i, j: te.max(a[i, j], tvm.tirx.const(0, "float32")), name="b")
    return tune_context(te.create_prim_func([a, b]), host_target(2), "relu", seed=3, search_strategy=strategy)


def _round(measured: set[int]) -> tuple[list | None, SkipMeasured]:
    """One round of 8 candidates of the evolutionary search (random model), skipping ``measured``."""
    strategy = SkipMeasured(measured, max_empty_rounds=4, inner=evolutionary_search(64, 8))
    context = _relu_context(strategy)
    strategy.pre_tuning(64, 8, context.space_generator.generate_design_space(context.mod),
                        ms.database.MemoryDatabase(), ms.cost_model.RandomModel(seed=3))
    batch = strategy.generate_measure_candidates()
    strategy.post_tuning()
    return batch, strategy


def test_skip_measured_passes_unmeasured_schedules_on_and_ends_when_all_are_measured():
    context = _relu_context(SkipMeasured(set()))
    every = {tvm_ffi.structural_hash(c.sch.mod) for c in sample_candidates(context, 64, seed=1)}
    assert len(every) == 1  # the whole design space: TVM's CPU rules leave a ReLU one schedule
    batch, strategy = _round(set())
    assert batch and {tvm_ffi.structural_hash(c.sch.mod) for c in batch} == every and strategy.skipped == 0
    batch, strategy = _round(set(every))
    assert batch is None and strategy.skipped > 0  # nothing left to measure: the task is exhausted
