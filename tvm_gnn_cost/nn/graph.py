"""The learner's input: a stage graph as numpy arrays, and the layout of its node and edge features.

The network (:mod:`tvm_gnn_cost.nn`) sees only this; :mod:`tvm_gnn_cost.features` builds it
from scheduled TIR. A node is a computation stage: the ``PerStoreFeature`` row of the buffer
it stores to, a flag saying whether it has one, and :data:`STRUCTURE_FEATURES`. An edge
carries a one-hot :class:`EdgeType`, ``log2(1 + shared loops)`` and ``log2(1 + buffer bytes)``.
The graph as a whole carries :data:`CPU_FEATURES`, which describe the CPU it runs on, so data
measured on several CPUs trains one model.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

#: Length of a ``PerStoreFeature`` row (default extractor settings).
STORE_FEATURES = 164
#: Index of ``log2(1 + outer loop extent product)`` in a store row (feature group 5).
STORE_OUTER_PROD = 161
#: Index of ``log2(1 + number of non-unit loops)`` in a store row (feature group 5).
STORE_NUM_LOOPS = 162

#: Names of the structural node features computed here, in column order.
STRUCTURE_FEATURES: tuple[str, ...] = (
    "loop_depth",
    "nonunit_loops",
    "loop_extent_prod",
    "innermost_extent",
    "parallel_loops",
    "parallel_extent",
    "vectorized_loops",
    "vectorized_extent",
    "unrolled_loops",
    "unrolled_extent",
    "thread_loops",
    "thread_extent",
    "auto_unroll_max_step",
    "spatial_iters",
    "reduce_iters",
    "reduce_extent",
    "num_reads",
    "num_writes",
    "is_init",
    "writes_output",
    "reads_input",
    "write_buffer_bytes",
    "write_buffer_local",
    "loops_shared_with_consumer",
    "fraction_shared_with_consumer",
    "num_consumers",
    "num_producers",
    "program_position",
)
#: Node feature width: store row, has-row flag, structure.
NODE_FEATURES = STORE_FEATURES + 1 + len(STRUCTURE_FEATURES)
#: Column of the has-store-row flag in a node feature row.
HAS_ROW_COLUMN = STORE_FEATURES
#: First column of the structural features (in :data:`STRUCTURE_FEATURES` order).
STRUCTURE_COLUMN = STORE_FEATURES + 1


class EdgeType(IntEnum):
    """Kinds of edge in a stage graph."""

    DATAFLOW = 0  #: producer -> consumer through a buffer
    DATAFLOW_REVERSE = 1  #: consumer -> producer
    LOOP_SHARED = 2  #: consecutive stages under a common loop, both directions
    SAME_BUFFER = 3  #: consecutive stages writing one buffer, both directions


#: Edge feature width: one-hot type, shared loops, buffer bytes.
EDGE_FEATURES = len(EdgeType) + 2

#: Graph-level features of the CPU (the same for every candidate of a task), each scaled to about 0..1:
#: SIMD width / 512 bits, FMA, log2 of the cores the schedule may use / 6, log2 of the L1d, L2 and
#: L3 sizes in KiB / 6, 11 and 16. All zeros: the CPU is unknown.
CPU_FEATURES: tuple[str, ...] = ("vector_bits", "fma", "log2_cores", "log2_l1d", "log2_l2", "log2_l3")


@dataclass(frozen=True)
class StageGraph:
    """One candidate as a graph of numpy arrays (no torch, no TVM objects).

    Shapes:
        x: ``[num_nodes, NODE_FEATURES]`` float32;
        edge_index: ``[2, num_edges]`` int64 (source row, target row);
        edge_attr: ``[num_edges, EDGE_FEATURES]`` float32;
        cpu: ``[len(CPU_FEATURES)]`` float32, or None for an unknown CPU (read as zeros).
    """

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    block_names: tuple[str, ...]
    cpu: np.ndarray | None = None

    @property
    def num_nodes(self) -> int:
        return self.x.shape[0]

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    def edges_of(self, kind: EdgeType) -> list[tuple[str, str]]:
        """Edges of one kind as (source block, target block) name pairs."""
        mask = self.edge_attr[:, kind] > 0
        return [(self.block_names[s], self.block_names[t]) for s, t in self.edge_index[:, mask].T]
