"""The ``tvm-gnn-cost`` command line: argument parsing and rendering over library calls.

The commands live in :mod:`.data` (collect, generate, train) and :mod:`.tuning` (demo, tune,
graph); importing them registers them on :data:`app`.
"""

from __future__ import annotations

from . import tuning, data  # noqa: I001 - registration order is the help order: demo first
from ._common import app

__all__ = ["app", "data", "main", "tuning"]


def main() -> None:
    """Console-script entry point."""
    app()
