"""Prediction quality of cost models on measured records: the metrics and the one evaluation function."""

from .metrics import TaskPrediction, kendall_tau, mean_sd, pairwise_accuracy, summarize, top_k_score
from .predictions import (Features, Predictor, Records, evaluate, every_record, fitted_xgb, learner_predictor,
                          mean_predictor, teach)

__all__ = ["Features", "Predictor", "Records", "TaskPrediction", "evaluate", "every_record", "fitted_xgb",
           "kendall_tau", "learner_predictor", "mean_predictor", "mean_sd", "pairwise_accuracy", "summarize",
           "teach", "top_k_score"]
