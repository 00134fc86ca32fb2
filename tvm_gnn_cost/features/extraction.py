"""Turn scheduled TIR (MetaSchedule candidates) into stage graphs.

A *stage* is a TIR block other than the root block. Each stage becomes a node whose
features concatenate

* the 164 ``PerStoreFeature`` values of the buffer the stage stores to (TVM's C++ feature
  extractor, the same rows XGBModel sums), zeros when the stage has no row of its own;
* a flag saying whether it has such a row;
* :data:`STRUCTURE_FEATURES`: loop nest depth and extents, parallel / vectorize / unroll /
  thread annotations, iteration kinds, and where the stage sits relative to its consumers.

Store rows are mapped to blocks by the rule ``PerStoreFeature`` itself follows (see
``per_store_feature.cc``): it keeps one row per buffer that receives a store of a
non-constant value, ordered by the first such store in program order, describing the last
store to that buffer. Blocks whose stores are all constants (the ``*_init`` half of a
reduction) have no row; layout-rewrite pre-processing blocks are dropped before extraction
and have none either. If the count of buffers found this way disagrees with the rows TVM
returned, the rows are not attached (all flags are 0) and a warning is logged once.

Edges are typed (:class:`EdgeType`): producer-to-consumer dataflow through a buffer and its
reverse, loop-nest sharing between consecutive stages under a common loop (compute-at,
fused and cache stages), and stages writing the same buffer (init/update pairs). Each edge
carries a one-hot type, ``log2(1 + shared loops)`` and ``log2(1 + bytes of the buffer)``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..nn.graph import EDGE_FEATURES, HAS_ROW_COLUMN, NODE_FEATURES, STORE_FEATURES, STRUCTURE_COLUMN, EdgeType, StageGraph
from .cpu import cpu_features

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from tvm.ir import IRModule
    from tvm.s_tir import meta_schedule as ms

    from ..datasets.loading import TaskRecords

logger = logging.getLogger(__name__)

_LAYOUT_REWRITE = "meta_schedule.layout_rewrite_preproc"
_AUTO_UNROLL = "pragma_auto_unroll_max_step"
_PARALLEL, _VECTORIZED, _UNROLLED, _THREAD = 1, 2, 3, 4


@dataclass
class _Loop:
    uid: int
    extent: int | None
    kind: int
    auto_unroll: int


@dataclass
class _Stage:
    name: str
    loops: list[_Loop]
    reads: list[Any]
    writes: list[Any]
    spatial_iters: int
    reduce_iters: int
    reduce_extent: int
    value_stores: list[Any] = field(default_factory=list)  # buffers given non-constant values
    const_stores: int = 0
    layout_rewrite: bool = False


def slog(x: float) -> float:
    """``log2(1 + |x|)``, the scaling ``PerStoreFeature`` applies to every count."""
    return math.log2(1.0 + abs(x))


def _int_or_none(expr: Any) -> int | None:
    from tvm.tirx import IntImm

    return int(expr.value) if isinstance(expr, IntImm) else None


def _is_constant(value: Any) -> bool:
    from tvm.tirx import Cast, FloatImm, IntImm

    if isinstance(value, Cast):
        value = value.value
    return isinstance(value, (IntImm, FloatImm))


class _Collector:
    """Walks a PrimFunc body once, recording stages with their loop nests and stores."""

    def __init__(self) -> None:
        from tvm.s_tir.stmt import SBlockRealize
        from tvm.tirx import stmt

        self._realize = SBlockRealize
        self._for = stmt.For
        self._seq = stmt.SeqStmt
        self._store = stmt.BufferStore
        self.stages: list[_Stage] = []
        self._loops: list[_Loop] = []
        self._uid = 0

    def visit(self, node: Any, stage: _Stage | None) -> None:
        kind = type(node)
        if kind is self._for:
            self._uid += 1
            auto_unroll = node.annotations.get(_AUTO_UNROLL) if node.annotations else None
            self._loops.append(
                _Loop(self._uid, _int_or_none(node.extent), int(node.kind),
                      int(auto_unroll) if auto_unroll is not None else 0)
            )
            self.visit(node.body, stage)
            self._loops.pop()
        elif kind is self._seq:
            for child in node.seq:
                self.visit(child, stage)
        elif kind is self._store:
            if stage is not None:
                if _is_constant(node.value):
                    stage.const_stores += 1
                else:
                    stage.value_stores.append(node.buffer)
        elif kind is self._realize:
            self._visit_block(node.block)
        else:
            for attr in ("body", "then_case", "else_case"):
                child = getattr(node, attr, None)
                if child is not None:
                    self.visit(child, stage)

    def _visit_block(self, block: Any) -> None:
        iters = block.iter_vars
        if not iters and block.name_hint == "root":
            self.visit(block.body, None)
            return
        reduce_extent, spatial, reduce = 1, 0, 0
        for iv in iters:
            if iv.iter_type == 2:
                reduce += 1
                reduce_extent *= _int_or_none(iv.dom.extent) or 1
            else:
                spatial += 1
        stage = _Stage(
            name=block.name_hint,
            loops=list(self._loops),
            reads=[r.source for r in block.reads],
            writes=[w.source for w in block.writes],
            spatial_iters=spatial,
            reduce_iters=reduce,
            reduce_extent=reduce_extent,
            layout_rewrite=_LAYOUT_REWRITE in block.annotations,
        )
        self.stages.append(stage)
        if block.init is not None:
            self.visit(block.init, stage)
        self.visit(block.body, stage)


def collect_stages(func: Any) -> list[_Stage]:
    """The stages of a PrimFunc in program order."""
    collector = _Collector()
    collector.visit(func.body, None)
    return collector.stages


def store_row_of_stage(stages: list[_Stage]) -> list[int | None]:
    """Index of each stage's ``PerStoreFeature`` row, or None (the rule in the module docstring)."""
    order: dict[Any, int] = {}
    for stage in stages:
        if stage.layout_rewrite:
            continue
        for buffer in stage.value_stores:
            order.setdefault(buffer, len(order))
    rows: list[int | None] = []
    for stage in stages:
        own = [order[b] for b in stage.value_stores if b in order] if not stage.layout_rewrite else []
        rows.append(own[0] if own else None)
    return rows


def _buffer_bytes(buffer: Any) -> int:
    numel = 1
    for dim in buffer.shape:
        numel *= _int_or_none(dim) or 1
    return numel * max(1, buffer.dtype.bits * buffer.dtype.lanes // 8)


def _shared_prefix(a: list[_Loop], b: list[_Loop]) -> int:
    n = 0
    for la, lb in zip(a, b):
        if la.uid != lb.uid:
            break
        n += 1
    return n


def build_stage_graph(func: Any, store_rows: np.ndarray, *, warn_key: str = "", cpu: np.ndarray | None = None
                      ) -> StageGraph:
    """Build the stage graph of a scheduled PrimFunc given its ``PerStoreFeature`` rows and its CPU's features."""
    stages = collect_stages(func)
    params = set(func.params)
    rows = store_row_of_stage(stages)
    n_rows = len({r for r in rows if r is not None})
    if n_rows != store_rows.shape[0]:
        _warn_once(warn_key, f"{n_rows} stored buffers found but {store_rows.shape[0]} feature rows; "
                   "rows not attached")
        rows = [None] * len(stages)

    n = len(stages)
    x = np.zeros((n, NODE_FEATURES), dtype=np.float32)
    writers: dict[Any, list[int]] = {}
    readers: dict[Any, list[int]] = {}
    for i, stage in enumerate(stages):
        for buf in stage.writes:
            writers.setdefault(buf, []).append(i)
        for buf in stage.reads:
            readers.setdefault(buf, []).append(i)

    edges: dict[tuple[int, int, EdgeType], int] = {}  # (source, target, type) -> buffer bytes

    def add(a: int, b: int, kind: EdgeType, nbytes: int) -> None:
        edges.setdefault((a, b, kind), nbytes)

    consumers: list[list[int]] = [[] for _ in range(n)]
    producers: list[set[int]] = [set() for _ in range(n)]
    for buf, ws in writers.items():
        nbytes = _buffer_bytes(buf)
        for w in ws:
            for r in readers.get(buf, ()):
                if r != w and w not in producers[r]:
                    consumers[w].append(r)
                    producers[r].add(w)
                    add(w, r, EdgeType.DATAFLOW, nbytes)
                    add(r, w, EdgeType.DATAFLOW_REVERSE, nbytes)
        for a, b in zip(ws, ws[1:]):
            add(a, b, EdgeType.SAME_BUFFER, nbytes)
            add(b, a, EdgeType.SAME_BUFFER, nbytes)
    for a in range(n - 1):
        if _shared_prefix(stages[a].loops, stages[a + 1].loops) > 0:
            nbytes = _buffer_bytes(stages[a].writes[0]) if stages[a].writes else 0
            add(a, a + 1, EdgeType.LOOP_SHARED, nbytes)
            add(a + 1, a, EdgeType.LOOP_SHARED, nbytes)

    for i, stage in enumerate(stages):
        if rows[i] is not None:
            x[i, :STORE_FEATURES] = store_rows[rows[i]]
            x[i, HAS_ROW_COLUMN] = 1.0
        x[i, STRUCTURE_COLUMN:] = _structure_features(stage, i, n, stages, consumers[i], len(producers[i]), params)

    edge_index = np.array([(a, b) for a, b, _ in edges], dtype=np.int64).reshape(-1, 2).T
    edge_attr = np.zeros((len(edges), EDGE_FEATURES), dtype=np.float32)
    if edges:
        kinds = np.array([kind for _, _, kind in edges], dtype=np.int64)
        shared = [_shared_prefix(stages[a].loops, stages[b].loops) for a, b, _ in edges]
        edge_attr[np.arange(len(edges)), kinds] = 1.0
        edge_attr[:, len(EdgeType)] = np.log2(1.0 + np.array(shared, dtype=np.float64))
        edge_attr[:, len(EdgeType) + 1] = np.log2(1.0 + np.array(list(edges.values()), dtype=np.float64))
    return StageGraph(x, edge_index, edge_attr, tuple(s.name for s in stages), cpu)


def _structure_features(
    stage: _Stage, index: int, n: int, stages: list[_Stage], consumers: list[int], n_producers: int,
    params: set[Any],
) -> list[float]:
    """The :data:`STRUCTURE_FEATURES` of one stage, in that order."""

    def extent_prod(loops: list[_Loop]) -> int:
        prod = 1
        for loop in loops:
            prod *= loop.extent or 1
        return prod

    loops = stage.loops
    by_kind = {k: [l for l in loops if l.kind == k] for k in (_PARALLEL, _VECTORIZED, _UNROLLED, _THREAD)}
    nonunit = [l for l in loops if l.extent != 1 or l.kind != 0 or l.auto_unroll]
    shared = max((_shared_prefix(loops, stages[c].loops) for c in consumers), default=0)
    write = stage.writes[0] if stage.writes else None
    return [
        slog(len(loops)),
        slog(len(nonunit)),
        slog(extent_prod(loops)),
        slog(loops[-1].extent or 1) if loops else 0.0,
        slog(len(by_kind[_PARALLEL])),
        slog(extent_prod(by_kind[_PARALLEL])) if by_kind[_PARALLEL] else 0.0,
        slog(len(by_kind[_VECTORIZED])),
        slog(extent_prod(by_kind[_VECTORIZED])) if by_kind[_VECTORIZED] else 0.0,
        slog(len(by_kind[_UNROLLED])),
        slog(extent_prod(by_kind[_UNROLLED])) if by_kind[_UNROLLED] else 0.0,
        slog(len(by_kind[_THREAD])),
        slog(extent_prod(by_kind[_THREAD])) if by_kind[_THREAD] else 0.0,
        slog(max((l.auto_unroll for l in loops), default=0)),
        slog(stage.spatial_iters),
        slog(stage.reduce_iters),
        slog(stage.reduce_extent),
        slog(len(stage.reads)),
        slog(len(stage.writes)),
        float(stage.const_stores > 0 and not stage.value_stores),
        float(any(w in params for w in stage.writes)),
        float(any(r in params for r in stage.reads)),
        slog(_buffer_bytes(write)) if write is not None else 0.0,
        float(write is not None and write.scope() not in ("global", "")),
        slog(shared),
        shared / len(loops) if loops else 0.0,
        slog(len(consumers)),
        slog(n_producers),
        index / max(1, n - 1),
    ]


_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning("stage graph of %s: %s", key or "a candidate", message)


def extract_stage_graphs(
    context: ms.TuneContext,
    candidates: list[ms.MeasureCandidate],
    extractor: ms.feature_extractor.FeatureExtractor | None = None,
    caches: Mapping[str, int] | None = None,
) -> list[StageGraph]:
    """Stage graphs of MetaSchedule candidates (store rows from TVM's C++ extractor, in parallel).

    ``caches`` are the measuring machine's (see :func:`~tvm_gnn_cost.features.cpu.cpu_features`).
    """
    from tvm.s_tir import meta_schedule as ms

    if not candidates:
        return []
    extractor = extractor or ms.feature_extractor.PerStoreFeature()
    rows = extractor.extract_from(context, candidates)
    key, cpu = str(context.task_name), cpu_features(context.target, caches)
    return [
        build_stage_graph(_main_func(c.sch.mod), r.numpy(), warn_key=key, cpu=cpu) for c, r in zip(candidates, rows)
    ]


def stage_graphs(tasks: Sequence[TaskRecords], on_task: Callable[[], None] | None = None
                 ) -> dict[str, list[StageGraph]]:
    """The stage graphs of every task's records, by task name.

    TVM's extractor runs once per record and machine: graphs of a task loaded from disk (it has
    a records ``digest``) are kept in the cache directory (:mod:`~tvm_gnn_cost.features.store`).
    """
    from tvm.s_tir.meta_schedule.feature_extractor import PerStoreFeature

    from .store import graph_file, load_graphs, save_graphs

    extractor, graphs = PerStoreFeature(), {}
    for task in tasks:
        path = graph_file(task.digest, str(task.target), task.caches) if task.digest else None
        if path is not None and path.exists():
            graphs[task.name] = load_graphs(path)
        else:
            graphs[task.name] = extract_stage_graphs(task.context(), task.candidates, extractor, task.caches)
            if path is not None:
                save_graphs(path, graphs[task.name])
        if on_task:
            on_task()
    return graphs


def _main_func(mod: IRModule) -> Any:
    """The single PrimFunc of a candidate's module."""
    funcs = list(mod.functions.values())
    if len(funcs) != 1:
        raise ValueError(f"expected one PrimFunc in a candidate module, found {len(funcs)}")
    return funcs[0]
