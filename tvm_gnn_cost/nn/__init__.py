"""The neural learner: stage graphs in, scores and latencies out. Pure torch, numpy and PyG; imports no TVM.

:class:`GNNLearner` is the one object that trains: the plug-in, pretraining and the
benchmarks all go through it.
"""

from .data import FAILED_SECONDS, ReplayBuffer, Sample, collate, mean_seconds
from .graph import EDGE_FEATURES, NODE_FEATURES, EdgeType, StageGraph
from .learner import DEFAULT_WEIGHTS, GNNLearner
from .model import GNNConfig, StageGNN
from .training import TrainConfig, fit, predict_graphs

__all__ = [
    "DEFAULT_WEIGHTS", "EDGE_FEATURES", "FAILED_SECONDS", "NODE_FEATURES", "EdgeType", "GNNConfig", "GNNLearner",
    "ReplayBuffer", "Sample", "StageGNN", "StageGraph", "TrainConfig", "collate", "fit", "mean_seconds",
    "predict_graphs",
]
