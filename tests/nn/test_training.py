"""The training loop's batches and options: grouped batches see every record once and more pairs; the head can train alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_learner import _samples

from tvm_gnn_cost.nn import GNNConfig, GNNLearner, TrainConfig
from tvm_gnn_cost.nn.training import epoch_batches, ranked_pairs


def _tasks(sizes: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def test_grouped_batches_cover_every_record_once_with_few_tasks_a_batch():
    task = _tasks([40, 3, 17, 64, 9, 1, 30])
    config = TrainConfig(batch_size=32, group_tasks=4)
    batches = epoch_batches(task, config, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(len(task)))
    for batch in batches:
        tasks = np.unique(task[batch])
        assert len(tasks) <= 4 and len(batch) <= 32  # four runs of at most 8 records (two may share a task)
    shuffled = epoch_batches(task, TrainConfig(batch_size=32, group_tasks=0), np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(np.concatenate(shuffled)), np.arange(len(task)))
    assert all(len(b) == 32 for b in shuffled[:-1])


def test_grouped_batches_give_many_more_ranked_pairs_than_shuffled_ones():
    task = _tasks([32] * 200)  # many tasks, as in the corpus: a shuffled batch holds few pairs of any one
    throughput = np.random.default_rng(2).random(len(task))

    def pairs_per_batch(config: TrainConfig) -> float:
        batches = epoch_batches(task, config, np.random.default_rng(0))
        return np.mean([ranked_pairs(throughput[b], task[b]) for b in batches])

    grouped, shuffled = TrainConfig(batch_size=128, group_tasks=8), TrainConfig(batch_size=128, group_tasks=0)
    assert pairs_per_batch(grouped) > 5 * pairs_per_batch(shuffled)


def test_the_recipe_options_are_checked():
    with pytest.raises(ValueError, match="rank_loss"):
        TrainConfig(rank_loss="hinge")
    with pytest.raises(ValueError, match="finetune"):
        TrainConfig(finetune="body")
    with pytest.raises(ValueError, match="group_tasks"):
        TrainConfig(batch_size=8, group_tasks=16)


@pytest.mark.parametrize("rank_loss", ["lambdarank", "throughput"])
def test_every_rank_loss_learns_the_order(rank_loss):
    learner = GNNLearner(config=GNNConfig(hidden=32), train_config=TrainConfig(max_steps=10**9, rank_loss=rank_loss,
                                                                              group_tasks=2), seed=0)
    stats = learner.train(_samples(96, 0), epochs=60, target_kinds={"llvm"})
    assert stats.steps > 0 and stats.pairs_per_step > 0
    test = _samples(32, 1)
    scores = learner.predict([s.graph for s in test])[0]
    seconds = np.array([s.seconds for s in test])
    assert ((scores[:, None] > scores[None, :])[seconds[:, None] < seconds[None, :]]).mean() > 0.6  # chance: 0.5
    assert np.argmin(seconds) in np.argsort(-scores)[:5]  # both weigh the fastest most


def test_head_only_fine_tuning_leaves_the_body_as_it_was():
    learner = GNNLearner(config=GNNConfig(hidden=16), train_config=TrainConfig(finetune="head", update_epochs=2), seed=0)
    learner.train(_samples(40, 0), epochs=2, target_kinds={"llvm"})
    before = {k: v.clone() for k, v in learner.network.state_dict().items()}
    learner.learn(_samples(16, 1), "llvm")  # knows llvm: fine-tunes, the head only
    after = learner.network.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("head.") for k in changed)
    assert all(p.requires_grad for p in learner.network.parameters())  # unfrozen again
