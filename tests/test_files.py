"""Checkpoints and results files survive a process killed in the middle of saving one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from tvm_gnn_cost.nn.checkpoint import load_checkpoint

# Each saver writes a 64 MB file once, says so, then saves new generations of it until killed.
_CHECKPOINT_SAVER = """
import sys, torch
from tvm_gnn_cost.nn.checkpoint import save_checkpoint
weights = torch.arange(16_000_000, dtype=torch.float32)
state = {"model_config": {}, "train_config": {}, "state_dict": {"w": weights}}
def save(generation):
    save_checkpoint(sys.argv[1], {**state, "generation": generation})
"""
_RESULTS_SAVER = """
import sys
from tvm_gnn_cost.files import write_json
rows = list(range(6_000_000))
def save(generation):
    write_json(sys.argv[1], {"generation": generation, "rows": rows})
"""
_LOOP = """
save(0)
print("saved", flush=True)
generation = 1
while True:
    save(generation)
    generation += 1
"""


def _checkpoint_ok(path) -> bool:
    payload = load_checkpoint(path)
    return isinstance(payload["generation"], int) and torch.equal(
        payload["state_dict"]["w"], torch.arange(16_000_000, dtype=torch.float32)
    )


def _results_ok(path) -> bool:
    data = json.loads(path.read_text())
    return isinstance(data["generation"], int) and len(data["rows"]) == 6_000_000


@pytest.mark.parametrize(
    "saver, complete, name",
    [(_CHECKPOINT_SAVER, _checkpoint_ok, "model.pt"), (_RESULTS_SAVER, _results_ok, "summary.json")],
    ids=["checkpoint", "results-json"],
)
def test_a_save_killed_midway_leaves_the_previous_file_intact(tmp_path, saver, complete, name):
    path = tmp_path / name
    interrupted = 0
    for delay in (0.05, 0.3, 0.7):
        process = subprocess.Popen([sys.executable, "-c", saver + _LOOP, str(path)], stdout=subprocess.PIPE)
        assert process.stdout.readline() == b"saved\n"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)  # no cleanup handler runs
        process.wait(timeout=30)
        leftovers = list(tmp_path.glob(f".{name}.*.tmp"))
        interrupted += bool(leftovers)
        assert complete(path)  # complete, from the last save that finished
        for leftover in leftovers:
            leftover.unlink()
    assert interrupted >= 1, "no kill landed inside a save; the test proved nothing"
