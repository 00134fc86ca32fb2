"""The data campaign: finished tasks packed into chunks, a fresh machine skipping them, unseen models kept out."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tvm_ffi
from typer.testing import CliRunner

from tvm_gnn_cost.cli import app
from tvm_gnn_cost.datasets.campaign import ChunkStore, unpacked_complete, unseen_hashes, workload_hash
from tvm_gnn_cost.datasets.database import TASK_FILE
from tvm_gnn_cost.datasets.generator import iter_generated_tasks
from tvm_gnn_cost.datasets.loading import dataset_roots, load_dataset
from tvm_gnn_cost.datasets.workloads import Task, suite_tasks
from tvm_gnn_cost.search.measure import host_target

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _generate(work: Path, store: Path) -> str:
    result = runner.invoke(app, ["generate", str(work), "--models", "2", "--seed", "0", "--generator-version", "1",
                                 "--random", "2", "--search", "0", "--tasks", "*.mean", "--chunks", str(store),
                                 "--chunk-minutes", "0"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_finished_tasks_are_packed_into_chunks_that_a_fresh_machine_skips(tmp_path):
    store = tmp_path / "store"
    _generate(tmp_path / "work", store)
    cards = ChunkStore(store).cards()
    cpu = host_target().attrs["mcpu"]
    assert [c["chunk"] for c in cards] == [f"{cpu}-s0-000", f"{cpu}-s0-001"]  # --chunk-minutes 0: one per task
    assert [list(c["tasks"]) for c in cards] == [["gen0-0000.mean"], ["gen0-0001.mean"]]
    for card in cards:
        assert card["records"] == 2 and card["failed"] == 0 and card["records_per_hour"] > 0
        assert card["clock"] == "active"  # its seconds leave out pauses
        assert card["recipe"] == {"random": 2, "search": 0, "population": 64, "seed": 0}
        assert card["generator"]["version"] == 1 and card["machine"]["caches"]["L1d"] > 0
        assert (store / card["archive"]).stat().st_size > 1000
    readme = (store / "README.md").read_text()
    assert all(f"`{c['chunk']}`" in readme for c in cards) and "| **all** |" in readme

    loaded = load_dataset(store)  # every chunk of the store
    assert [t.name for t in loaded] == ["gen0-0000.mean", "gen0-0001.mean"]
    assert all(len(t.seconds) == 2 and np.isfinite(t.seconds).all() for t in loaded)

    tasks = [t for t in suite_tasks(["ops"], host_target()) if t.name in ("GMM-1", "C2D-1")]
    renamed = [replace(tasks[0], name="gen0-0000.mean")]  # a packed task's name: skipped whatever it computes
    equal = Task("another-name", loaded[0].mod, 1.0, "elsewhere")  # a packed task's workload, renamed
    assert ChunkStore(store).unmeasured(tasks + renamed + [equal]) == tasks
    output = _generate(tmp_path / "fresh-machine", store)  # nothing of the first work dir, the same store
    assert "2 model verdicts restored from models-s0.json" in output  # checked once, on the first machine
    assert "measured 0 records" in output and "nothing new to pack" in output
    assert len(ChunkStore(store).cards()) == 2

    verdicts = json.loads((store / "models-s0.json").read_text())
    done = {name for entry in verdicts.values() for name in entry["tasks"]}  # as if every task were packed
    third = tmp_path / "third-machine"
    assert ChunkStore(store).restore_models(third, 0) == 2
    assert list(iter_generated_tasks(third, 2, 0, host_target(), done=done)) == []
    assert not any((third / "models").iterdir())  # models whose tasks are all done are not even generated


def test_two_chunks_holding_one_task_name_are_refused(tmp_path):
    for chunk in ("a", "b"):
        task_dir = tmp_path / "store-dirs" / chunk / "gen0-0000.mean"
        task_dir.mkdir(parents=True)
        (task_dir / TASK_FILE).write_text(json.dumps({"name": "gen0-0000.mean"}))
    import tarfile

    store = tmp_path / "store"
    store.mkdir()
    for chunk in ("a", "b"):
        with tarfile.open(store / f"{chunk}.tar.xz", "w:xz") as tar:
            tar.add(tmp_path / "store-dirs" / chunk, arcname=".")
    assert len(dataset_roots(store)) == 2
    with pytest.raises(ValueError, match="more than one archive"):
        load_dataset(store)


@pytest.mark.slow
def test_no_task_of_the_unseen_models_is_in_any_training_data():
    unseen = unseen_hashes(host_target(2))
    assert len(unseen) > 60  # Inception v1, VGG-19 and ZFNet-512: every task, not only the benchmark's
    benchmark = {workload_hash(d.parent) for root in dataset_roots(ROOT / "data" / "unseen-inception-vgg-zfnet.tar.xz")
                 for d in root.glob(f"*/{TASK_FILE}")}
    assert len(benchmark) == 6 and benchmark <= unseen
    training = ChunkStore(ROOT / "data" / "generated").packed()
    for root in dataset_roots(ROOT / "data" / "ops-resnet50-squeezenet.tar.xz"):
        training |= {d.parent.name: workload_hash(d.parent) for d in root.glob(f"*/{TASK_FILE}")}
    assert len(training) >= 176
    assert sorted(name for name, key in training.items() if key in unseen) == []


@pytest.mark.slow
def test_collect_can_leave_out_the_tasks_the_unseen_models_share():
    target = host_target(2)
    kept = suite_tasks(["squeezenet"], target, exclude=unseen_hashes(target))
    assert len(kept) == 27  # of 30: two convolutions and the classifier head are also the unseen models'
    assert {f"{tvm_ffi.structural_hash(t.mod):016x}" for t in kept}.isdisjoint(unseen_hashes(target))


@pytest.mark.slow
def test_a_campaign_stopped_with_sigterm_packs_the_tasks_it_finished(tmp_path):
    store, work = tmp_path / "store", tmp_path / "work"
    command = [str(Path(sys.executable).parent / "tvm-gnn-cost"), "generate", str(work), "--models", "2", "--seed", "0",
               "--generator-version", "1", "--random", "4", "--search", "0", "--tasks", "*.mean,*conv2d*",
               "--chunks", str(store), "--chunk-minutes", "600"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 600
    while not unpacked_complete(work, ()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert process.poll() is None, "finished before it could be stopped"
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 0 and "stopped by SIGTERM" in output, output
    packed = ChunkStore(store).packed()
    assert packed and set(packed) == set(unpacked_complete(work, ())), output  # every finished task, no other
    manifest = json.loads((work / "manifest.json").read_text())
    assert not manifest["finished"] and not manifest["failed_tasks"] and set(manifest["tasks"]) == set(packed)
