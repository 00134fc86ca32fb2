"""Loading a committed dataset reads times and target without TVM's database, in TVM's record order."""

from pathlib import Path

import numpy as np

from tvm_gnn_cost.datasets.database import RECORD_FILE, record_lines, task_database
from tvm_gnn_cost.datasets.loading import load_dataset, task_names
from tvm_gnn_cost.nn import mean_seconds

DATA = Path(__file__).resolve().parents[2] / "data"


def some_tasks(path: Path, n: int) -> list:
    names = task_names(path)
    return load_dataset(path, names[:: max(1, len(names) // n)][:n])


#: Tasks with several failures (TVM sorts them last, at 1e10), and some others.
FAILURES = {"ops-resnet50-squeezenet.tar.xz": ["squeezenet.fused_conv2d_add_relu"],
                 "generated/znver4-s1-013.tar.xz": ["gen1-0102.mean",
                                                    "gen1-0106.fused_conv3d3_subtract3_divide3_multiply3_add7"]}


def test_times_and_target_match_what_tvms_database_returns_record_by_record():
    for name, failing in FAILURES.items():
        tasks = [*load_dataset(DATA / name, failing), *some_tasks(DATA / name, 6)]
        assert sum(np.isnan(tasks[0].seconds)) >= 2
        for task in tasks:
            records = task_database(task.directory).get_all_tuning_records()
            expected = np.array([mean_seconds(r.run_secs) or np.nan for r in records])
            np.testing.assert_array_equal(task.seconds, expected)  # same order, failures (NaN) included
            assert str(task.target) == str(records[0].target)
            assert len(task.records) == len(task.candidates) == len(records)
            assert task.mod.same_as(task.records[0].workload.mod)


def test_a_damaged_record_line_is_read_through_tvms_database_which_repairs_it(tmp_path):
    source = some_tasks(DATA / "ops-resnet50-squeezenet.tar.xz", 1)[0]
    task_dir = tmp_path / "data" / source.name
    task_dir.mkdir(parents=True)
    for f in source.directory.iterdir():
        (task_dir / f.name).write_bytes(f.read_bytes())
    with open(task_dir / RECORD_FILE, "ab") as f:
        f.write(b"[0, -Infinity]\n")
    assert record_lines(task_dir) is None
    (task,) = load_dataset(tmp_path / "data")
    np.testing.assert_array_equal(task.seconds, source.seconds)  # the bad line moved aside, the rest kept
    assert (task_dir / f"{RECORD_FILE}.malformed").exists()
