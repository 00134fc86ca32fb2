"""Package import: its one side effect keeps `inspect` from rescanning sys.modules (TVMScript's hot spot)."""

from __future__ import annotations

import inspect
import sys

import tvm_gnn_cost  # noqa: F401  (the import under test)


class _NoScan(dict):
    def copy(self):
        raise AssertionError("inspect.getmodule scanned sys.modules")


def test_frames_of_eval_code_map_to_no_module_without_a_scan(monkeypatch):
    frame = eval("sys._getframe()", {"sys": sys})  # a frame of code compiled from "<string>"
    monkeypatch.setattr(sys, "modules", _NoScan(sys.modules))
    info = inspect.getframeinfo(frame)  # what `inspect.stack()` in `T.prim_func` asks of each frame
    assert info.filename == "<string>" and info.code_context is None
