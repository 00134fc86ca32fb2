"""The TVM plug-in: ``GNNCostModel`` over the learner, the registry of cost models by name, the timing wrapper."""

from ..nn import DEFAULT_WEIGHTS
from .gnn import GNNCostModel
from .registry import COST_MODELS, make_cost_model
from .timed import TimedCostModel, fault_stats

__all__ = ["COST_MODELS", "DEFAULT_WEIGHTS", "GNNCostModel", "TimedCostModel", "fault_stats", "make_cost_model"]
