"""Run every benchmark, then write the results page: the one command behind ``make results``.

    .venv/bin/python benchmarks/run_all.py            # full budgets (many hours on 2 cores)
    .venv/bin/python benchmarks/run_all.py --quick    # tiny budgets, a few minutes

Full runs write benchmarks/results/*.json and docs/results.md; --quick writes
benchmarks/results/quick/ (JSON, PNG and results.md there), leaving the committed results alone,
and skips the search sweep and the guided-search benchmark (many arms: tests/test_benchmarks.py
runs the guided one on its own, with two arms).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
#: (script, extra arguments, result name); the scripts import none of each other, so any order works.
BENCHMARKS = (("overhead", [], "overhead"), ("offline", [], "offline"), ("search", [], "search"),
              ("transfer", [], "transfer"), ("search", ["--unseen"], "search_unseen"),
              ("collection", [], "collection"), ("data_scaling", [], "data_scaling"), ("recipe", [], "recipe"),
              ("search", ["--sweep"], "search_sweep"), ("search", ["--guided"], "search_guided"))
QUICK_SKIPS = ("search_sweep", "search_guided")  # a dozen tuning runs each even on tiny budgets


def load(name: str) -> ModuleType:
    """A sibling benchmark script as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark on tiny budgets")
    parser.add_argument("--results", type=Path, help="directory for JSON and PNG results")
    parser.add_argument("--docs", type=Path, help="where to write the results page")
    args = parser.parse_args(argv)
    results = args.results or HERE / "results" / ("quick" if args.quick else "")
    docs = args.docs or (results / "results.md" if args.quick else HERE.parent / "docs" / "results.md")
    for script, extra, name in BENCHMARKS:
        if args.quick and name in QUICK_SKIPS:
            continue
        load(script).main([*extra, *(["--quick"] if args.quick else []), "--out", str(results / f"{name}.json")])
    return load("report").main(["--results", str(results), "--out", str(docs)])


if __name__ == "__main__":
    main()
