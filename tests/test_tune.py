"""End to end: MetaSchedule tunes with GNNCostModel and records valid results."""

from __future__ import annotations

import json

import numpy as np
import torch
import tvm
from tvm.s_tir import meta_schedule as ms

from tvm_gnn_cost import GNNCostModel, TrainConfig, host_target, make_builder, make_runner
from tvm_gnn_cost.measure import tune_context
from tvm_gnn_cost.tuning import evolutionary_search
from tvm_gnn_cost.workloads import get_workload


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
    assert model.buffer.num_measured == len(seconds)
    assert any(not torch.equal(p, model.anchor[k]) for k, p in model.network.named_parameters())  # fine-tuned

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
    assert model.trained
