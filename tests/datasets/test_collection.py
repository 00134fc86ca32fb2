"""Collecting into MetaSchedule JSON databases, resuming, failures, and loading back (real builds and runs)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tvm_ffi
from hypothesis import given, settings
from hypothesis import strategies as st
from tvm.s_tir.meta_schedule.database import TuningRecord
from tvm.s_tir.meta_schedule.runner import RunnerResult

from tvm_gnn_cost import host_target, make_builder, make_runner, sample_candidates
from tvm_gnn_cost.datasets.collection import Recipe, _record, collect_task
from tvm_gnn_cost.datasets.database import RECORD_FILE, TASK_FILE, WORKLOAD_FILE, task_database
from tvm_gnn_cost.datasets.loading import load_dataset, load_datasets, load_spread, load_zero_shot, matching
from tvm_gnn_cost.datasets.workloads import get_workload, suite_tasks, workload_task
from tvm_gnn_cost.features.extraction import extract_stage_graphs
from tvm_gnn_cost.search.measure import tune_context

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tools():
    return host_target(2), make_builder(max_workers=2), make_runner()


def test_collect_resumes_without_measuring_twice_then_searches(tmp_path, tools):
    target, builder, runner = tools
    task, task_dir = workload_task("gemm-128"), tmp_path / "gemm-128"
    first = collect_task(task, task_dir, target, builder, runner, Recipe(6, 0), batch_size=4)
    assert (first.measured, first.total) == (6, 6)
    again = collect_task(task, task_dir, target, builder, runner, Recipe(6, 0))
    assert (again.measured, again.total) == (0, 6)  # interrupted or repeated runs resume from the database
    more = collect_task(task, task_dir, target, builder, runner, Recipe(6, 8))
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
    progress = collect_task(workload_task("gemm-128"), task_dir, target, builder, failing, Recipe(3, 0))
    assert progress.failed == 3
    lines = (task_dir / RECORD_FILE).read_text().splitlines()
    assert len(lines) == 3 and all("1e+10" in line or "10000000000" in line for line in lines)
    (loaded,) = load_dataset(tmp_path)
    assert np.isnan(loaded.seconds).all()


def test_load_dataset_from_directory_and_archive(tmp_path, tools):
    target, builder, runner = tools
    root = tmp_path / "data"
    for name in ("gemm-128", "conv2d-bias-relu-14x14x64"):
        collect_task(workload_task(name), root / name, target, builder, runner, Recipe(4, 0))
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
    assert [t.name for t in load_datasets([root, archive], "gemm-*,*x64")] == [t.name for t in from_dir] * 2
    with pytest.raises(LookupError, match="no task of .*/data matches 'resnet\\*'"):
        load_datasets([root, archive], "resnet*")
    assert [t.name for t in load_spread(archive, 1)] == ["conv2d-bias-relu-14x14x64"]  # the first of two
    assert len(load_spread(archive, 5)) == 2 and len(load_spread(archive, None)) == 2


def test_names_match_any_of_comma_separated_patterns():
    names = ["gemm-128", "conv2d-1", "resnet50.fused_conv2d"]
    assert matching(names, "") == names
    assert matching(names, "gemm-*,*conv2d") == ["gemm-128", "resnet50.fused_conv2d"]
    assert matching(names, ",") == names and matching(names, "vgg*") == []


@pytest.mark.parametrize(("recipe", "message"), [
    ({"random": 0, "search": 0}, "positive number"),
    ({"random": -1, "search": 8}, "positive number"),
    ({"random": 8, "search": 8, "population": 4}, "population must be at least the search's round \\(8"),
])
def test_a_recipe_that_cannot_run_is_refused(recipe, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**recipe)
    assert Recipe(32, 8).to_json() == {"random": 32, "search": 8, "population": 64, "seed": 1}


def test_model_tasks_are_extracted_once_across_suites():
    tasks = suite_tasks(["squeezenet", "squeezenet"], host_target(2))
    assert len(tasks) == 30 and all(t.name.startswith("squeezenet.") for t in tasks)
    assert sum(t.weight for t in tasks) == 41 and all(t.source == "onnx:squeezenet" for t in tasks)


def test_malformed_database_lines_are_moved_aside_and_the_rest_loads(tmp_path, tools):
    target, builder, runner = tools
    task_dir = tmp_path / "gemm-128"
    collect_task(workload_task("gemm-128"), task_dir, target, builder, runner, Recipe(6, 0))
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


def test_nan_zero_and_infinite_latencies_never_become_training_targets(tmp_path, tools):
    target, builder, runner = tools
    task_dir = tmp_path / "gemm-128"
    collect_task(workload_task("gemm-128"), task_dir, target, builder, runner, Recipe(4, 0))
    db = task_database(task_dir)
    records = db.get_all_tuning_records()
    workload, candidates = records[0].workload, [r.as_measure_candidate() for r in records]
    bad = [[float("nan")], [float("inf")], [0.0], [-1.0]]
    for candidate, run_secs in zip(candidates, bad):  # TVM's own writer, as another tool would use it
        db.commit_tuning_record(TuningRecord(candidate.sch.trace, workload, run_secs, target, candidate.args_info))
    # collect itself stores TVM's failure marker for a run that reports a non-finite time
    db.commit_tuning_record(_record(candidates[0], RunnerResult([float("nan")], None), workload, target))

    (loaded,) = load_dataset(tmp_path)
    # TVM writes NaN and inf as bare nan / inf and cannot read them back: those lines go aside
    malformed = (task_dir / f"{RECORD_FILE}.malformed").read_text()
    assert malformed.count("\n") == 2 and "[nan]" in malformed and "[inf]" in malformed
    # zero, negative and failure-marker times load as failed (NaN), never as latencies
    assert len(loaded.seconds) == 7 and np.isfinite(loaded.seconds).sum() == 4


@pytest.fixture(scope="module")
def small_database(tmp_path_factory) -> tuple[bytes, bytes]:
    """A JSON database of five GEMM schedules written by TVM (times made up: only lines matter here)."""
    directory = tmp_path_factory.mktemp("db")
    context = tune_context(get_workload("gemm-128"), host_target(2), "gemm-128")
    db = task_database(directory)
    workload = db.commit_workload(context.mod)
    for i, candidate in enumerate(sample_candidates(context, 5, seed=3)):
        db.commit_tuning_record(TuningRecord(candidate.sch.trace, workload, [1e-3 * (i + 1)], context.target,
                                             candidate.args_info))
    return (directory / WORKLOAD_FILE).read_bytes(), (directory / RECORD_FILE).read_bytes()


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_damaged_database_opens_with_every_line_kept_or_set_aside(data, small_database, tmp_path_factory):
    """Random lines, JSON values and cut-short records inserted anywhere: TVM's reader must never crash."""
    workloads, records = small_database
    good = records.split(b"\n")[:-1]
    line = st.one_of(
        st.binary(min_size=1, max_size=200),
        _JSON.map(lambda value: json.dumps(value).encode()),
        st.sampled_from(good).flatmap(lambda g: st.integers(0, len(g) - 1).map(lambda i: g[:i])),  # cut short
    ).map(lambda b: b.replace(b"\n", b" ")).filter(lambda b: b.strip())
    lines = list(good)
    for extra in data.draw(st.lists(line, min_size=1, max_size=6)):
        lines.insert(data.draw(st.integers(0, len(lines))), extra)
    extra_workloads = data.draw(st.lists(line, max_size=2))  # appended: the records' indices stay right
    directory = tmp_path_factory.mktemp("damaged")
    (directory / WORKLOAD_FILE).write_bytes(workloads + b"".join(w + b"\n" for w in extra_workloads))
    (directory / RECORD_FILE).write_bytes(b"\n".join(lines) + b"\n")

    db = task_database(directory)
    kept = (directory / RECORD_FILE).read_bytes().split(b"\n")[:-1]
    aside_path = directory / f"{RECORD_FILE}.malformed"
    aside = aside_path.read_bytes().split(b"\n")[:-1] if aside_path.exists() else []
    assert len(db) == len(kept) and set(good) <= set(kept)
    assert sorted(kept + aside) == sorted(lines)  # nothing lost, nothing changed
    assert (directory / WORKLOAD_FILE).read_bytes().startswith(workloads)


def test_zero_shot_sets_keep_unseen_tasks_with_enough_records_and_quick_ones_are_small():
    data = Path(__file__).resolve().parents[2] / "data"
    corpus, unseen = load_zero_shot([data / "ops-resnet50-squeezenet.tar.xz"], data / "unseen-inception-vgg-zfnet.tar.xz",
                                    min_records=8, quick=True)
    assert len(corpus) == 24 and 0 < len(unseen) <= 4
    assert all(np.isfinite(t.seconds).sum() >= 8 for t in unseen)
    assert not {t.source for t in corpus} & {t.source for t in unseen}
