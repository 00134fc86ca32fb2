"""A tuned model end to end: compiled with and without its database, checked against the reference, timed."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from ..datasets.frontends import ImportedModel, compare_outputs, vm_outputs

if TYPE_CHECKING:
    from tvm.runtime import Executable
    from tvm.s_tir import meta_schedule as ms
    from tvm.target import Target


def compile_and_measure(model: ImportedModel, database: ms.database.Database, target: Target,
                         rpc: ms.runner.RPCConfig | None, seed: int, advance: Callable[[], None]) -> dict[str, Any]:
    """Compile with and without the database, check the tuned outputs against the reference, time all three."""
    from tvm.s_tir import meta_schedule as ms

    untuned = ms.relax_integration.compile_relax(ms.database.MemoryDatabase(), model.mod, target, None)
    tuned = ms.relax_integration.compile_relax(database, model.mod, target, None)
    advance()
    inputs = model.random_inputs(seed)
    with _device(rpc) as load:
        outputs, tuned_seconds = _run(load(tuned), inputs)
        advance()
        _, untuned_seconds = _run(load(untuned), inputs)
        advance()
    expected = model.reference(inputs)
    ort_seconds = _time_python(lambda: model.onnxruntime(inputs)) if model.onnxruntime else None
    advance()
    match, error = compare_outputs(outputs, expected)
    return {"untuned_seconds": untuned_seconds, "tuned_seconds": tuned_seconds, "onnxruntime_seconds": ort_seconds,
            "reference": model.reference_name, "max_abs_error": error, "outputs_match": match,
            "reference_constant": all(np.ptp(e) == 0 for e in expected)}


@contextmanager
def _device(rpc: ms.runner.RPCConfig | None) -> Iterator[Callable[[Executable], Any]]:
    """Yields ``load(executable) -> (VirtualMachine, device)`` on this CPU or on one RPC device."""
    import tvm
    from tvm import relax

    if rpc is None:
        yield lambda executable: (relax.VirtualMachine(executable, tvm.cpu()), tvm.cpu())
        return
    session = rpc.connect_server()
    with tempfile.TemporaryDirectory() as tmp:

        def load(executable: Executable) -> tuple[Any, Any]:
            path = os.path.join(tmp, f"model{len(os.listdir(tmp))}.so")
            executable.export_library(path)
            session.upload(path)
            return relax.VirtualMachine(session.load_module(os.path.basename(path)), session.cpu()), session.cpu()

        yield load


def _run(loaded: tuple[Any, Any], inputs: Sequence[np.ndarray], repeat: int = 10) -> tuple[list[np.ndarray], float]:
    """Outputs of ``main`` and its median latency (``repeat`` timings of at least 100 ms each, after a warm-up)."""
    vm, device = loaded
    outputs = vm_outputs(vm, device, inputs)
    timer = vm.time_evaluator("invoke_stateful", device, number=1, repeat=repeat, min_repeat_ms=100)
    return outputs, float(np.median(timer("main").results))


def _time_python(fn: Callable[[], Any], repeat: int = 10, min_seconds: float = 0.1) -> float:
    """Median seconds per call of ``fn``, timed like TVM's ``time_evaluator`` (warm-up, >= 100 ms per repeat)."""
    fn()
    times = []
    for _ in range(repeat):
        calls, start, elapsed = 0, time.perf_counter(), 0.0
        while elapsed < min_seconds:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
        times.append(elapsed / calls)
    return float(np.median(times))
