"""Checkpoint files survive a process killed in the middle of saving one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import torch

from tvm_gnn_cost.checkpoint import load_checkpoint

# Saves a 64 MB checkpoint once, says so, then saves new generations of it until killed.
_SAVER = """
import sys, torch
from tvm_gnn_cost.checkpoint import save_checkpoint
weights = torch.arange(16_000_000, dtype=torch.float32)
state = {"model_config": {}, "train_config": {}, "state_dict": {"w": weights}}
save_checkpoint(sys.argv[1], {**state, "generation": 0})
print("saved", flush=True)
generation = 1
while True:
    save_checkpoint(sys.argv[1], {**state, "generation": generation})
    generation += 1
"""


def test_a_save_killed_midway_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "model.pt"
    expected = torch.arange(16_000_000, dtype=torch.float32)
    interrupted = 0
    for delay in (0.05, 0.3, 0.7):
        saver = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE)
        assert saver.stdout.readline() == b"saved\n"
        time.sleep(delay)
        saver.send_signal(signal.SIGKILL)  # no cleanup handler runs
        saver.wait(timeout=30)
        leftovers = list(tmp_path.glob(".model.pt.*.tmp"))
        interrupted += bool(leftovers)
        payload = load_checkpoint(path)  # complete, from the last save that finished
        assert isinstance(payload["generation"], int) and torch.equal(payload["state_dict"]["w"], expected)
        for leftover in leftovers:
            leftover.unlink()
    assert interrupted >= 1, "no kill landed inside a save; the test proved nothing"
