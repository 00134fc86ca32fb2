"""The active clock leaves out the time its process group spends stopped (a paused campaign)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

# A process of its own group that starts a clock, then reports active and wall seconds on request.
_TIMED = """
import sys, time
from tvm_gnn_cost.datasets.clock import ActiveClock
clock = ActiveClock()
active, wall = clock(), time.monotonic()
print("ready", flush=True)
sys.stdin.readline()
print(clock() - active, time.monotonic() - wall, flush=True)
"""


def _timed(pause: float) -> tuple[float, float]:
    """Active and wall seconds of a process that runs 0.5 s, is stopped ``pause`` s, and is read at once."""
    proc = subprocess.Popen([sys.executable, "-c", _TIMED], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        if pause:
            os.killpg(proc.pid, signal.SIGSTOP)
            time.sleep(pause)
            os.killpg(proc.pid, signal.SIGCONT)
        proc.stdin.write("\n")
        proc.stdin.flush()
        active, wall = map(float, proc.stdout.readline().split())
    finally:
        proc.kill()
        proc.wait()
    return active, wall


def test_active_seconds_leave_out_a_stop_of_the_process_group():
    active, wall = _timed(pause=3.0)
    assert wall >= 3.5
    assert 0.4 <= active <= 1.0  # the half second it ran, give or take one tick; not the 3 s it was stopped


def test_active_seconds_follow_the_wall_clock_while_running():
    active, wall = _timed(pause=0.0)
    assert abs(active - wall) < 0.05


def test_the_clock_survives_a_sigterm_to_the_group_and_a_killed_ticker(caplog):
    from tvm_gnn_cost.datasets.clock import ActiveClock

    clock = ActiveClock()
    clock()  # answered once: the ticker is up and ignores the signal
    clock._ticker.send_signal(signal.SIGTERM)  # what `kill -TERM -- -<pgid>` sends a campaign: it must finish its task
    time.sleep(0.3)
    assert clock._ticker.poll() is None and clock() > 0
    clock._ticker.kill()
    clock._ticker.wait()
    first = clock()
    assert clock() >= first and clock.stopped() == 0.0  # wall time from here, never an exception
    assert "ticker ended" in caplog.text
    clock.close()
