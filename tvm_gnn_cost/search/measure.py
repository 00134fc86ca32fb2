"""Target, builder and runner helpers that work on a plain CPU host, and candidate sampling.

The stock ``LocalBuilder`` imports ``tvm.s_tir.tensor_intrin`` (about a minute) in every
fresh worker and restarts its pool for every batch, so with its default 30 s timeout every
candidate fails to build. :func:`make_builder` returns a :class:`PooledBuilder` that builds
with :func:`build_module`, which skips that import, in workers kept across batches;
:func:`host_target` names the host CPU so LLVM emits AVX2/AVX-512 code.
"""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING, Any

from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.builder import PyBuilder

if TYPE_CHECKING:
    from tvm.ir import IRModule
    from tvm.runtime import Module
    from tvm.s_tir import meta_schedule as ms
    from tvm.target import Target


def host_target(num_cores: int | None = None) -> Target:
    """An LLVM target for this machine's CPU (``mcpu`` from LLVM's host detection)."""
    import tvm

    cores = num_cores if num_cores is not None else os.cpu_count() or 1
    return tvm.target.Target(
        {"kind": "llvm", "mcpu": tvm.target.codegen.llvm_get_system_cpu(), "num-cores": cores}
    )


def build_module(mod: IRModule, target: Target, _params: dict | None) -> Module:
    """MetaSchedule's default build, without importing the tensor intrinsics first.

    CPU schedules without tensorization never need them; importing them costs about a
    minute per builder worker.
    """
    from tvm import tirx
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return tirx.build(mod, target=target)


def build_and_export(mod: IRModule, target: Target) -> str:
    """Build a candidate in a worker and export it as MetaSchedule's default (tar) artifact."""
    from tvm.s_tir.meta_schedule.builder.local_builder import default_export

    return default_export(build_module(mod, target, None))


@derived_object
class PooledBuilder(PyBuilder):
    """A local builder whose worker processes live across batches.

    ``LocalBuilder`` starts a fresh pool for every batch, and each new worker spends seconds
    importing TVM (and torch, which tvm_ffi imports). Here workers persist and are replaced
    after ``max_uses`` builds, which bounds the memory the restart guards against. A build
    that exceeds ``timeout_sec`` is killed and reported, as in ``LocalBuilder``.
    """

    def __init__(self, *, max_workers: int | None = None, timeout_sec: float = 60.0, max_uses: int = 256) -> None:
        from tvm.support.popen_pool import PopenPoolExecutor

        super().__init__()
        self.timeout_sec = timeout_sec
        self._pool = PopenPoolExecutor(
            max_workers=max_workers or os.cpu_count() or 1, timeout=timeout_sec, maximum_process_uses=max_uses
        )

    def build(self, build_inputs: list[ms.builder.BuilderInput]) -> list[ms.builder.BuilderResult]:
        from tvm.s_tir.meta_schedule.builder import BuilderResult
        from tvm.support.popen_pool import StatusKind

        results = []
        jobs = [(inp.mod, inp.target) for inp in build_inputs]
        for outcome in self._pool.map_with_error_catching(lambda job: build_and_export(*job), jobs):
            if outcome.status == StatusKind.COMPLETE:
                results.append(BuilderResult(outcome.value, None))
            elif outcome.status == StatusKind.TIMEOUT:
                results.append(BuilderResult(None, f"PooledBuilder: timeout, killed after {self.timeout_sec} s"))
            else:
                results.append(BuilderResult(None, f"PooledBuilder: an exception occurred\n{outcome.value}"))
        return results


def make_builder(*, max_workers: int | None = None, timeout_sec: float = 60.0) -> PooledBuilder:
    """The builder to tune with here: :class:`PooledBuilder` building with :func:`build_module`."""
    return PooledBuilder(max_workers=max_workers, timeout_sec=timeout_sec)


def make_runner(
    *, timeout_sec: float = 30.0, repeat: int = 1, number: int = 3, rpc: ms.runner.RPCConfig | None = None
) -> ms.runner.Runner:
    """A runner that times each candidate ``number`` x ``repeat`` times (>= 50 ms total).

    Locally a ``LocalRunner``; with ``rpc`` (see :func:`rpc_config`) an ``RPCRunner`` that
    measures on the devices registered with a TVM RPC tracker, one session per device.
    """
    from tvm.s_tir import meta_schedule as ms

    config = ms.runner.EvaluatorConfig(number=number, repeat=repeat, min_repeat_ms=50)
    if rpc is None:
        return ms.runner.LocalRunner(timeout_sec=timeout_sec, evaluator_config=config)
    return ms.runner.RPCRunner(rpc_config=rpc, evaluator_config=config, max_workers=rpc_servers(rpc))


def rpc_config(tracker: str, key: str, *, timeout_sec: float = 10.0) -> ms.runner.RPCConfig:
    """The RPC settings for ``HOST:PORT`` and ``key``, checked: the tracker answers and has servers under ``key``.

    Raises ``ValueError`` saying what to start or fix otherwise.
    """
    from tvm.s_tir import meta_schedule as ms

    host, sep, port = tracker.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"RPC tracker {tracker!r} is not HOST:PORT")
    config = ms.runner.RPCConfig(tracker_host=host, tracker_port=int(port), tracker_key=key,
                                 session_timeout_sec=int(timeout_sec))
    rpc_servers(config)
    return config


def rpc_servers(config: ms.runner.RPCConfig) -> int:
    """How many servers the tracker has under the config's key (at least one, else ``ValueError``)."""
    import socket

    from tvm import rpc

    address = f"{config.tracker_host}:{config.tracker_port}"
    try:  # a plain connection first: TVM's client retries for a minute in a thread that outlives the error
        socket.create_connection((config.tracker_host, config.tracker_port), config.session_timeout_sec).close()
    except OSError as err:
        raise ValueError(f"cannot reach the RPC tracker at {address} ({err.strerror or err}); start one with "
                         f"`python -m tvm.exec.rpc_tracker --host HOST --port PORT`") from None
    tracker = rpc.connect_tracker(config.tracker_host, config.tracker_port)
    try:
        summary = tracker.summary()
    finally:
        tracker.close()
    keys = [info.get("key", "").removeprefix("server:") for info in summary.get("server_info", [])]
    servers = keys.count(config.tracker_key)
    if not servers:
        raise ValueError(f"the RPC tracker at {address} has no server under key {config.tracker_key!r} "
                         f"(keys: {', '.join(sorted(set(keys))) or 'none'}); start one with `python -m "
                         f"tvm.exec.rpc_server --tracker {address} --key {config.tracker_key}`")
    return servers


def sample_candidates(
    context: ms.TuneContext, num: int, *, seed: int = 1, max_rejects: int | None = None
) -> list[ms.MeasureCandidate]:
    """Draw up to ``num`` distinct random schedules from the task's design space, ready to measure.

    Each sample replays a design-space trace with its sampling decisions dropped, so every
    tile size, compute-at location and unroll factor is drawn anew, then applies the
    space's post-processors exactly as the evolutionary search does before measuring.
    Invalid and repeated schedules are rejected; after ``max_rejects`` (default ``20 * num``)
    the distinct ones found so far are returned, which is fewer than ``num`` only for tasks
    with a small design space (an element-wise op has a handful of schedules).
    """
    import tvm_ffi
    from tvm import s_tir
    from tvm.s_tir import meta_schedule as ms

    rng = random.Random(seed)
    spaces = context.space_generator.generate_design_space(context.mod)
    postprocs = context.space_generator.postprocs
    args_info = ms.arg_info.ArgInfo.from_prim_func(context.mod["main"])
    limit = max_rejects if max_rejects is not None else 20 * num
    candidates: list[ms.MeasureCandidate] = []
    seen: set[int] = set()
    rejects = 0
    while len(candidates) < num and rejects <= limit:
        space = spaces[rng.randrange(len(spaces))]
        sch = s_tir.Schedule(context.mod, seed=rng.randrange(1, 2**31 - 1))
        try:
            s_tir.schedule.Trace(space.trace.insts, {}).apply_to_schedule(sch, remove_postproc=True)
            sch.enter_postproc()  # marks where post-processing starts, so a replay can drop it
            ok = all(postproc.apply(sch) for postproc in postprocs)
        except Exception:  # noqa: BLE001 - an invalid random decision is a rejected sample
            ok = False
        key = tvm_ffi.structural_hash(sch.mod) if ok else None
        if ok and key not in seen:
            seen.add(key)
            candidates.append(ms.MeasureCandidate(sch, args_info))
        else:
            rejects += 1
    if not candidates:
        raise RuntimeError(f"task {context.task_name!r}: no valid schedule in {rejects} random samples")
    return candidates


def measure_candidates(
    context: ms.TuneContext,
    candidates: list[ms.MeasureCandidate],
    builder: ms.builder.Builder,
    runner: ms.runner.Runner,
) -> list[ms.runner.RunnerResult]:
    """Build and run candidates; a failed build becomes a ``RunnerResult`` with its error."""
    built = builder_results(candidates, context.target, builder)
    try:
        return run_built(candidates, built, context.target, runner)
    finally:
        remove_artifacts(built)


def time_interleaved(
    candidates: list[ms.MeasureCandidate],
    target: Target,
    builder: ms.builder.Builder,
    runner: ms.runner.Runner,
    *,
    rounds: int = 5,
    seed: int = 0,
) -> list[list[float | None]]:
    """Each candidate's seconds (:func:`~tvm_gnn_cost.nn.mean_seconds`) in each of ``rounds`` rounds, None where it failed.

    Every candidate is built once; each round runs all of them in a fresh random order, so
    slow drift of a shared machine (another job, the clock, the cache) falls on all of them
    alike and their ratios stay comparable. Candidates may belong to different tasks.
    """
    from ..nn import mean_seconds  # here: builder workers import this module and must not load the learner

    rng = random.Random(seed)
    built = builder_results(candidates, target, builder)
    times: list[list[float | None]] = [[] for _ in candidates]
    try:
        for _ in range(rounds):
            order = rng.sample(range(len(candidates)), len(candidates))
            results = run_built([candidates[i] for i in order], [built[i] for i in order], target, runner)
            for i, result in zip(order, results):
                times[i].append(mean_seconds(result.run_secs))
    finally:
        remove_artifacts(built)
    return times


def builder_results(
    candidates: list[ms.MeasureCandidate], target: Target, builder: ms.builder.Builder
) -> list[ms.builder.BuilderResult]:
    """The builder's result for each candidate's module (an artifact path, or an error)."""
    from tvm.s_tir import meta_schedule as ms

    return builder.build([ms.builder.BuilderInput(c.sch.mod, target) for c in candidates])


def run_built(
    candidates: list[ms.MeasureCandidate],
    built: list[ms.builder.BuilderResult],
    target: Target,
    runner: ms.runner.Runner,
) -> list[ms.runner.RunnerResult]:
    """Run the built candidates in order, one ``runner.run`` call; a failed build is a result with its error."""
    from tvm.s_tir import meta_schedule as ms

    device = "cpu" if target.kind.name == "llvm" else target.kind.name
    results: list[ms.runner.RunnerResult | None] = [None] * len(candidates)
    inputs, positions = [], []
    for i, (cand, res) in enumerate(zip(candidates, built)):
        if res.error_msg:
            results[i] = ms.runner.RunnerResult(None, f"build failed: {res.error_msg}")
        else:
            inputs.append(ms.runner.RunnerInput(res.artifact_path, device, cand.args_info))
            positions.append(i)
    for i, future in zip(positions, runner.run(inputs)):
        results[i] = future.result()
    return results  # type: ignore[return-value]


def remove_artifacts(built: list[ms.builder.BuilderResult]) -> None:
    """Delete the built artifacts and their temporary directories."""
    import shutil

    for res in built:
        if res.artifact_path:
            shutil.rmtree(os.path.dirname(res.artifact_path), ignore_errors=True)


def tune_context(
    mod: Any, target: Target, name: str, *, num_threads: int = 2, seed: int = 1, search_strategy: Any = "evolutionary"
) -> ms.TuneContext:
    """A CPU tuning context with MetaSchedule's default space and (by default) evolutionary search."""
    from tvm.s_tir import meta_schedule as ms

    return ms.TuneContext(
        mod=mod,
        target=target,
        space_generator="post-order-apply",
        search_strategy=search_strategy,
        task_name=name,
        num_threads=num_threads,
        rand_state=seed,
    )
