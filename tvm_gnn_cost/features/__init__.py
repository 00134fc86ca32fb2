"""Stage graphs of scheduled TIR: TVM's per-store features plus loop structure, per stage, and their edges."""

from .cache import StageGraphCache
from .extraction import build_stage_graph, extract_stage_graphs, stage_graphs

__all__ = ["StageGraphCache", "build_stage_graph", "extract_stage_graphs", "stage_graphs"]
