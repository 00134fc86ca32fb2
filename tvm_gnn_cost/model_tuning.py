"""Tune a whole model: extract its tasks, tune them into a resumable work dir, compile, check and time it.

The work dir is MetaSchedule's: ``database_workload.json`` and ``database_tuning_record.json``
(TVM's JSON database, shared by all tasks of the model, as ``tune_relax`` writes it), the
task scheduler's ``logs/``, plus ``tune.json`` (what is being tuned, so a resume cannot mix
models), the cost model's file and ``summary.json``. Running again continues from the
database: the budget counts the trials already there, the cost model relearns from them,
and no schedule in the database is measured again.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import mean_seconds
from .dataset import task_database, versions
from .files import write_json
from .frontends import ImportedModel, ModelImportError, from_torch, load_onnx
from .measure import host_target, make_builder, make_runner, tune_context
from .tuning import (
    POPULATION,
    SkipMeasured,
    TimedCostModel,
    TrialLog,
    evolutionary_search,
    fault_stats,
    make_cost_model,
    replay_records,
)
from .workloads import Task, heaviest_first, relax_tasks

if TYPE_CHECKING:
    import torch
    from tvm.runtime import Executable
    from tvm.s_tir import meta_schedule as ms
    from tvm.target import Target

logger = logging.getLogger(__name__)

#: Outputs match the reference when ``|tvm - ref| <= atol * min(1, max|ref|) + rtol * |ref|`` elementwise
#: (float32 models). ``atol`` shrinks with outputs smaller than 1, so that a softmax over 1000 classes
#: (values near 1e-3) is still checked.
TOLERANCE = {"rtol": 1e-3, "atol": 1e-3}
#: Cost-model files in the work dir. XGBModel's is TVM's own format; it unpickles on load, so a
#: resumed run rebuilds XGBModel from the database instead of loading it.
COST_MODEL_FILES = {"gnn": "cost_model.pt", "gnn-scratch": "cost_model.pt", "gnn-nomp": "cost_model.pt",
                    "xgb": "cost_model.xgb.tar"}


class WorkDirError(ValueError):
    """The work dir holds a run of another model, cost model or target."""


@dataclass
class TaskSummary:
    """One task after tuning: its trials in the database (all runs) and in this run, and its best time."""

    name: str
    weight: float
    trials: int
    new_trials: int
    best_seconds: float | None


@dataclass
class ModelTuneResult:
    """What tuning a model gave: per-task results, end-to-end times and the correctness check."""

    model: str
    cost_model: str
    work_dir: str
    target: str
    trials: int  # the budget (all runs)
    tasks: list[TaskSummary]
    tuning_seconds: float  # this run
    untuned_seconds: float  # median end-to-end latency, same pipeline without the database
    tuned_seconds: float
    onnxruntime_seconds: float | None
    reference: str  # what the outputs were checked against
    max_abs_error: float
    outputs_match: bool
    # every element of every reference output equal (e.g. a model whose weights are placeholders,
    # like the ONNX zoo's light models): the check then cannot catch a wrong result
    reference_constant: bool
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """Untuned over tuned end-to-end latency."""
        return self.untuned_seconds / self.tuned_seconds

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"speedup": self.speedup, "tolerance": TOLERANCE}


def tune_onnx(path: str | Path, work_dir: str | Path, *, input_shapes: dict[str, Sequence[int]] | None = None,
              **options: Any) -> ModelTuneResult:
    """Tune an ONNX file; ``options`` are :func:`tune_model`'s."""
    return tune_model(load_onnx(path, input_shapes), work_dir, **options)


def tune_torch(module: torch.nn.Module, example_inputs: Sequence[torch.Tensor], work_dir: str | Path,
               **options: Any) -> ModelTuneResult:
    """Tune a ``torch.nn.Module`` for the example inputs' shapes (via ``torch.export``); see :func:`tune_model`."""
    return tune_model(from_torch(module, example_inputs), work_dir, **options)


def tune_model(
    model: ImportedModel,
    work_dir: str | Path,
    *,
    trials: int,
    cost_model: str = "gnn",
    target: Target | None = None,
    rpc: ms.runner.RPCConfig | None = None,
    seed: int = 1,
    trials_per_iter: int = 32,
    population: int = POPULATION,
    num_cores: int | None = None,
    progress: bool = True,
) -> ModelTuneResult:
    """Tune all tasks of ``model`` under the gradient task scheduler, then compile, check and time it.

    Args:
        trials: measured candidates in all, over all tasks and runs of this work dir.
        cost_model: a name of :data:`~tvm_gnn_cost.tuning.COST_MODELS`.
        target: defaults to this machine's CPU; give the devices' target when measuring over RPC.
        rpc: measure candidates and the compiled model on the tracker's devices (see
            :func:`~tvm_gnn_cost.measure.rpc_config`) instead of this machine.
        trials_per_iter: candidates a task measures per round of the task scheduler.
        population: schedules per generation of the evolutionary search (MetaSchedule's default 512).
        progress: show progress bars.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from tvm.s_tir import meta_schedule as ms

    if trials < 1:
        raise ValueError(f"trials must be at least 1, not {trials}")
    evolutionary_search(population, trials_per_iter)  # a bad population fails before any work
    cores = num_cores or os.cpu_count() or 1
    inner = make_cost_model(cost_model, seed=seed, num_cores=cores)  # unknown names fail before any work
    target = target or host_target(cores)
    work_dir = Path(work_dir)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bars:
        step = bars.add_task(f"extracting tasks of {model.name}", total=None)
        # heaviest first: the task scheduler's first round visits tasks in order, so a small budget
        # goes to the tasks that take most of the model's time
        tasks = heaviest_first(relax_tasks(model.mod, target, model.name, f"model:{model.name}"))
        bars.update(step, total=1, completed=1, description=f"extracted {len(tasks)} tasks of {model.name}")
        if not tasks:
            raise ModelImportError(f"{model.name} has no tunable task: TVM extracted no TIR function from it")
        _claim_work_dir(work_dir, model, cost_model, target)
        database = task_database(work_dir)
        records = _records_by_task(database, tasks)
        done = sum(map(len, records))
        model_file = work_dir / COST_MODEL_FILES[cost_model] if cost_model in COST_MODEL_FILES else None
        if done and model_file and model_file.exists() and cost_model.startswith("gnn"):
            inner.load(str(model_file))
        step = bars.add_task(f"resuming from {done} records", total=done, visible=done > 0)
        contexts, strategies = _resume(inner, tasks, records, target, cores, seed, population, trials_per_iter,
                                       lambda n: bars.advance(step, n))

        remaining = trials - done
        step = bars.add_task(f"tuning with {cost_model}", total=max(remaining, 0))
        log = TrialLog([t.name for t in tasks], lambda n: bars.advance(step, n))
        timed = TimedCostModel(inner)
        start = time.perf_counter()
        if remaining > 0:
            ms.tune_tasks(
                tasks=contexts,
                task_weights=[t.weight for t in tasks],
                work_dir=str(work_dir),
                max_trials_global=remaining,
                num_trials_per_iter=trials_per_iter,
                builder=make_builder(max_workers=cores),
                runner=make_runner(rpc=rpc),
                database=database,
                cost_model=timed,
                measure_callbacks=[*ms.MeasureCallback.create("default"), log],
                task_scheduler=ms.task_scheduler.GradientBased(seed=seed),
            )
            if model_file:
                inner.save(str(model_file))
        tuning_seconds = time.perf_counter() - start

        step = bars.add_task("compiling and measuring end to end", total=4)
        measured_e2e = _compile_and_measure(model, database, target, rpc, seed, lambda: bars.advance(step))

    records = _records_by_task(database, tasks)
    summaries = [
        TaskSummary(t.name, t.weight, len(recs), sum(x.task == t.name for x in log.trials), _best(recs))
        for t, recs in zip(tasks, records)
    ]
    stats = {f"cost_model_{k}_seconds": round(v, 3) for k, v in timed.seconds.items()}
    stats["skipped_measured"] = sum(s.skipped for s in strategies)
    stats |= fault_stats(inner)
    result = ModelTuneResult(model.name, cost_model, str(work_dir), str(target), trials, summaries,
                             tuning_seconds, stats=stats, **measured_e2e)
    write_json(work_dir / "summary.json", result.to_json())
    return result


def _resume(
    model: ms.cost_model.CostModel, tasks: Sequence[Task], records: Sequence[Sequence[Any]], target: Target,
    cores: int, seed: int, population: int, trials_per_iter: int, advance: Callable[[int], None],
) -> tuple[list[ms.TuneContext], list[SkipMeasured]]:
    """Tuning contexts whose search skips the database's schedules, and the cost model taught its records."""
    contexts, strategies = [], []
    for i, (task, task_records) in enumerate(zip(tasks, records)):
        strategies.append(SkipMeasured(set(), inner=evolutionary_search(population, trials_per_iter)))
        contexts.append(tune_context(task.mod, target, task.name, num_threads=cores, seed=seed + i,
                                     search_strategy=strategies[-1]))
        strategies[-1].measured |= replay_records(model, contexts[-1], task_records)
        advance(len(task_records))
    return contexts, strategies


def _claim_work_dir(work_dir: Path, model: ImportedModel, cost_model: str, target: Target) -> None:
    """Record what this work dir tunes; refuse to resume it with another model, cost model or target."""
    import tvm_ffi

    claim = {"model": model.name, "model_hash": f"{tvm_ffi.structural_hash(model.mod):016x}",
             "cost_model": cost_model, "target": str(target)}
    path = work_dir / "tune.json"
    if path.exists():
        previous = json.loads(path.read_text())
        for key, shown in (("model_hash", "model"), ("cost_model", "cost_model"), ("target", "target")):
            if previous.get(key) != claim[key]:
                raise WorkDirError(
                    f"{work_dir} holds a tuning run with another {key.replace('_', ' ')} "
                    f"({previous.get(shown)!r}, now {claim[shown]!r}); resume with the same model, cost model "
                    f"and target, or use a new --work-dir"
                )
    work_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, claim | {"versions": versions()})


def _records_by_task(database: ms.database.Database, tasks: Sequence[Task]) -> list[list[Any]]:
    """The database's tuning records grouped by task (matched by the workload's structural hash)."""
    import tvm_ffi

    index = {tvm_ffi.structural_hash(t.mod): i for i, t in enumerate(tasks)}
    grouped: list[list[Any]] = [[] for _ in tasks]
    for record in database.get_all_tuning_records():
        i = index.get(tvm_ffi.structural_hash(record.workload.mod))
        if i is not None:
            grouped[i].append(record)
    return grouped


def _best(records: Sequence[Any]) -> float | None:
    times = [t for t in (mean_seconds(r.run_secs) for r in records) if t is not None]
    return min(times) if times else None


def _compile_and_measure(model: ImportedModel, database: ms.database.Database, target: Target,
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


def compare_outputs(outputs: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> tuple[bool, float]:
    """(all outputs match the reference within :data:`TOLERANCE`, largest absolute difference)."""

    def close(o: np.ndarray, e: np.ndarray) -> bool:
        scale = min(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
        return o.shape == e.shape and np.allclose(o, e, rtol=TOLERANCE["rtol"], atol=TOLERANCE["atol"] * scale)

    match = len(outputs) == len(expected) and all(close(o, e) for o, e in zip(outputs, expected))
    error = max((float(np.max(np.abs(o - e))) for o, e in zip(outputs, expected) if o.shape == e.shape),
                default=float("inf"))
    return match, error


def vm_outputs(vm: Any, device: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run ``main`` of a Relax VM once on numpy inputs; its outputs as numpy arrays."""
    import tvm

    vm.set_input("main", *[tvm.runtime.tensor(a, device) for a in inputs])
    vm.invoke_stateful("main")
    return _numpy(vm.get_outputs("main"))


def _run(loaded: tuple[Any, Any], inputs: Sequence[np.ndarray], repeat: int = 10) -> tuple[list[np.ndarray], float]:
    """Outputs of ``main`` and its median latency (``repeat`` timings of at least 100 ms each, after a warm-up)."""
    vm, device = loaded
    outputs = vm_outputs(vm, device, inputs)
    timer = vm.time_evaluator("invoke_stateful", device, number=1, repeat=repeat, min_repeat_ms=100)
    return outputs, float(np.median(timer("main").results))


def _numpy(value: Any) -> list[np.ndarray]:
    """A VM result (a tensor or nested tuple of tensors) as a flat list of numpy arrays."""
    if hasattr(value, "numpy"):
        return [value.numpy()]
    return [array for item in value for array in _numpy(item)]


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
