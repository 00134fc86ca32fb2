"""Scoring any cost model on measured records: the one evaluation function, and the predictors it scores.

A predictor maps a task and the positions of some of its records to (scores, predicted
seconds or None); :func:`evaluate` turns a predictor and records into the metrics of
:mod:`~tvm_gnn_cost.evaluation.metrics`. Pretraining's validation, the offline benchmark and
the transfer benchmark all score through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from tvm.s_tir import meta_schedule as ms

from ..cost_model import make_cost_model
from ..datasets.loading import TaskRecords
from ..features import stage_graphs
from ..nn import FAILED_SECONDS, GNNLearner, StageGraph
from ..nn.graph import HAS_ROW_COLUMN, STORE_FEATURES
from .metrics import TaskPrediction, summarize

#: Records of some tasks: each task with the positions of the records taken from it.
Records = list[tuple[TaskRecords, np.ndarray]]
#: (task, record positions) -> (scores, higher is faster; predicted seconds or None).
Predictor = Callable[[TaskRecords, np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def every_record(tasks: Sequence[TaskRecords]) -> Records:
    """Each task with all its records."""
    return [(task, np.arange(len(task.seconds))) for task in tasks]


def evaluate(predict: Predictor, records: Records) -> dict[str, float | None]:
    """The metrics of ``predict`` on ``records``: ranking ones averaged over tasks, errors over records."""
    predictions = []
    for task, index in records:
        scores, seconds = predict(task, index)
        predictions.append(TaskPrediction(task.weight, task.seconds[index], scores, seconds))
    return summarize(predictions)


def learner_predictor(learner: GNNLearner, graphs: dict[str, list[StageGraph]]) -> Predictor:
    """A learner's scores (:meth:`GNNLearner.log_throughput`) and predicted seconds, given each task's stage graphs by name."""

    def predict(task: TaskRecords, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chosen = [graphs[task.name][i] for i in index]
        scores, log_seconds = learner.predict(chosen)
        return learner.log_throughput(chosen, scores), np.exp(log_seconds)

    return predict


def mean_predictor(predictors: Sequence[Predictor]) -> Predictor:
    """An ensemble: the mean of the members' scores and the geometric mean of their seconds.

    Members must score in one unit (a learner's :meth:`~GNNLearner.log_throughput` is fitted
    to log-throughput), so their mean ranks as an ensemble of independently trained networks would.
    """

    def predict(task: TaskRecords, index: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        outputs = [member(task, index) for member in predictors]
        scores = np.mean([s for s, _ in outputs], axis=0)
        if any(seconds is None for _, seconds in outputs):
            return scores, None
        return scores, np.exp(np.mean([np.log(seconds) for _, seconds in outputs], axis=0))

    return predict


class Features:
    """Per-task inputs every model needs, extracted once: stage graphs and summed per-store rows.

    The per-store rows are the graphs' node features (a node per store, ``HAS_ROW_COLUMN`` set),
    so TVM's extractor runs once per candidate for both.
    """

    def __init__(self, tasks: Sequence[TaskRecords]) -> None:
        self.graphs: dict[str, list[StageGraph]] = stage_graphs(tasks)
        self.store_sums: dict[str, np.ndarray] = {
            name: np.stack([g.x[g.x[:, HAS_ROW_COLUMN] > 0, :STORE_FEATURES].sum(axis=0, dtype=np.float64)
                            for g in graphs])
            for name, graphs in self.graphs.items()
        }


def teach(model: ms.cost_model.CostModel, task: TaskRecords, index: np.ndarray) -> None:
    """One ``update`` of any cost model with some of a task's records, failures as TVM stores them."""
    seconds = np.nan_to_num(task.seconds[index], nan=FAILED_SECONDS)
    model.update(task.context(), [task.candidates[i] for i in index],
                 [ms.runner.RunnerResult([float(s)], None) for s in seconds])


def fitted_xgb(train: Records, seed: int) -> ms.cost_model.XGBModel:
    """TVM's XGBModel given each training task through ``update`` as a tuning run would."""
    model = make_cost_model("xgb", seed=seed, warmup=0)
    for n, (task, index) in enumerate(train):
        model.adaptive_training = n < len(train) - 1  # retrain at the last update, on all data
        teach(model, task, index)
    model.adaptive_training = True
    return model
