"""Active seconds: monotonic time less the time this process group spent stopped.

A campaign is paused with ``kill -STOP`` on its process group while heavy work runs, and its
records per hour must not count the pause. A stopped process cannot see its own stop, and a
thread cannot time it (TVM's calls hold the GIL for seconds), so a tiny child process of the
same group ticks every ``tick`` seconds and counts every wake-up later than ``gap`` seconds as
stopped time. It answers on request, after checking its own tick, so a reading right after a
``kill -CONT`` already leaves the pause out.
"""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
import time

logger = logging.getLogger(__name__)

# The child: wait for a request or the next tick; a late wake-up was a stop; answer with the total.
# It ignores SIGTERM and SIGINT sent to the group (the collection finishes its task on SIGTERM and
# still reads the clock) and ends when its parent's end closes its stdin.
_TICKER = """
import select, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
tick, gap = float(sys.argv[1]), float(sys.argv[2])
stopped, due = 0.0, time.monotonic() + tick
while True:
    ready, _, _ = select.select([sys.stdin], [], [], max(0.0, due - time.monotonic()))
    now = time.monotonic()
    if now - due > gap:
        stopped += now - due
    if now >= due:
        due = now + tick
    if ready:
        if not sys.stdin.readline():
            break
        print(stopped, flush=True)
"""


class ActiveClock:
    """Seconds that advance only while this process group runs (see the module docstring)."""

    def __init__(self, tick: float = 0.25, gap: float = 1.0) -> None:
        # the child inherits the process group, so a `kill -STOP -- -<pgid>` stops it with the rest
        self._ticker = subprocess.Popen([sys.executable, "-c", _TICKER, str(tick), str(gap)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._stopped, self._lost = 0.0, False

    def stopped(self) -> float:
        """Seconds the process group has spent stopped since this clock started.

        If the ticker was killed, the last total it gave (logged once): timing goes on as wall time.
        """
        if self._ticker.poll() is None:
            try:
                self._ticker.stdin.write("?\n")
                self._ticker.stdin.flush()
                self._stopped = float(self._ticker.stdout.readline())
                return self._stopped
            except (BrokenPipeError, ValueError):  # it died between poll and answer
                pass
        if not self._lost:
            self._lost = True
            logger.warning("the active clock's ticker ended (%s); pauses from now on count as collection time",
                           self._ticker.poll())
        return self._stopped

    def __call__(self) -> float:
        """Active seconds on an arbitrary origin, like ``time.monotonic``."""
        now = time.monotonic()
        return now - self.stopped()

    def close(self) -> None:
        """End the ticker (it also ends by itself when this process exits)."""
        self._ticker.stdin.close()
        self._ticker.wait()


@functools.cache
def _clock() -> ActiveClock:
    return ActiveClock()


def active_seconds() -> float:
    """This process's shared :class:`ActiveClock`, started on first use: time collection to rate it."""
    return _clock()()
