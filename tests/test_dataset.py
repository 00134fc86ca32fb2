"""Collecting into MetaSchedule JSON databases, resuming, failures, and loading back (real builds and runs)."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
import tvm_ffi

from tvm_gnn_cost import host_target, make_builder, make_runner
from tvm_gnn_cost.dataset import RECORD_FILE, TASK_FILE, WORKLOAD_FILE, collect_task, load_dataset, task_database
from tvm_gnn_cost.graph import extract_stage_graphs
from tvm_gnn_cost.workloads import suite_tasks, workload_task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tools():
    return host_target(2), make_builder(max_workers=2), make_runner()


def test_collect_resumes_without_measuring_twice_then_searches(tmp_path, tools):
    target, builder, runner = tools
    task, task_dir = workload_task("gemm-128"), tmp_path / "gemm-128"
    first = collect_task(task, task_dir, target, builder, runner, num_random=6, num_search=0, batch_size=4)
    assert (first.measured, first.total) == (6, 6)
    again = collect_task(task, task_dir, target, builder, runner, num_random=6, num_search=0)
    assert (again.measured, again.total) == (0, 6)  # interrupted or repeated runs resume from the database
    more = collect_task(task, task_dir, target, builder, runner, num_random=6, num_search=8)
    assert more.measured == 8 and more.total == 14
    info = json.loads((task_dir / TASK_FILE).read_text())
    assert info["random"] == 6 and info["machine"]["cpu"] and info["versions"]["apache-tvm"]
    records = task_database(task_dir).get_all_tuning_records()
    assert len({tvm_ffi.structural_hash(r.as_measure_candidate().sch.mod) for r in records}) == 14


def test_failed_runs_are_stored_with_tvms_marker_and_load_as_nan(tmp_path, tools):
    target, builder, _ = tools
    # 20 ms: enough for the runner's start-up check (three function lookups), not for a measurement,
    # which takes at least make_runner's 50 ms timing window; 0.1 ms failed the check on a loaded machine
    failing = make_runner(timeout_sec=0.02)
    task_dir = tmp_path / "gemm-128"
    progress = collect_task(workload_task("gemm-128"), task_dir, target, builder, failing, num_random=3, num_search=0)
    assert progress.failed == 3
    lines = (task_dir / RECORD_FILE).read_text().splitlines()
    assert len(lines) == 3 and all("1e+10" in line or "10000000000" in line for line in lines)
    (loaded,) = load_dataset(tmp_path)
    assert np.isnan(loaded.seconds).all()


def test_load_dataset_from_directory_and_archive(tmp_path, tools):
    target, builder, runner = tools
    root = tmp_path / "data"
    for name in ("gemm-128", "conv2d-bias-relu-14x14x64"):
        collect_task(workload_task(name), root / name, target, builder, runner, num_random=4, num_search=0)
    archive = tmp_path / "data.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(root, arcname=".")
    from_dir = load_dataset(root)
    from_archive = load_dataset(archive)
    assert [t.name for t in from_dir] == [t.name for t in from_archive] == ["conv2d-bias-relu-14x14x64", "gemm-128"]
    for a, b in zip(from_dir, from_archive):
        np.testing.assert_array_equal(a.seconds, b.seconds)
        assert tvm_ffi.structural_equal(a.mod, b.mod) and len(a.candidates) == 4
        graphs = extract_stage_graphs(b.context(), b.candidates)
        assert all(g.num_nodes >= 2 for g in graphs)
    assert load_dataset(archive, names=["gemm-128"])[0].name == "gemm-128"
    with pytest.raises(FileNotFoundError, match="no task directories"):
        load_dataset(tmp_path / "data", names=["resnet"])


def test_model_tasks_are_extracted_once_across_suites():
    tasks = suite_tasks(["squeezenet", "squeezenet"], host_target(2))
    assert len(tasks) == 30 and all(t.name.startswith("squeezenet.") for t in tasks)
    assert sum(t.weight for t in tasks) == 41 and all(t.source == "onnx:squeezenet" for t in tasks)


def test_malformed_database_lines_are_moved_aside_and_the_rest_loads(tmp_path, tools):
    target, builder, runner = tools
    task_dir = tmp_path / "gemm-128"
    collect_task(workload_task("gemm-128"), task_dir, target, builder, runner, num_random=6, num_search=0)
    records = (task_dir / RECORD_FILE).read_text().splitlines()
    # not JSON, not a record, a record of a workload that is not there, a write cut short
    broken = ['{"not": json', '[0, [[1, 2]]]', "[7," + records[0].split(",", 1)[1], records[-1][:40]]
    (task_dir / RECORD_FILE).write_text("\n".join(records[:3] + broken[:2] + records[3:] + broken[2:]) + "\n")
    workloads = (task_dir / WORKLOAD_FILE).read_text()
    (task_dir / WORKLOAD_FILE).write_text(workloads + '["0x1", "cut sh\n')  # a write cut short

    (loaded,) = load_dataset(tmp_path)  # TVM's JSONDatabase alone refuses the whole file
    assert len(loaded.candidates) == 6 and np.isfinite(loaded.seconds).all()
    assert (task_dir / f"{RECORD_FILE}.malformed").read_text().splitlines() == broken
    assert (task_dir / f"{WORKLOAD_FILE}.malformed").read_text() == '["0x1", "cut sh\n'
    assert (task_dir / RECORD_FILE).read_text().splitlines() == records
    assert len(task_database(task_dir)) == 6  # cleaned once, opens directly from then on
