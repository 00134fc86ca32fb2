"""The losses: ranking pairs stay within a task and weigh by the gap, failures carry no latency, the anchor pulls."""

from __future__ import annotations

import math

import torch

from tvm_gnn_cost.nn.losses import (
    RANK_LOSSES,
    anchor_penalty,
    lambda_rank_loss,
    latency_loss,
    pairwise_rank_loss,
    throughput_loss,
)


def test_rank_loss_is_low_for_the_right_order_and_high_for_the_reverse():
    throughput = torch.tensor([1.0, 0.5, 0.25])
    task = torch.zeros(3, dtype=torch.long)
    right = pairwise_rank_loss(torch.tensor([3.0, 2.0, 1.0]), throughput, task)
    reverse = pairwise_rank_loss(torch.tensor([1.0, 2.0, 3.0]), throughput, task)
    assert right < math.log(2) < reverse  # log 2: the loss of equal scores


def test_rank_loss_never_compares_candidates_of_different_tasks():
    throughput = torch.tensor([1.0, 0.5, 1.0, 0.5])
    task = torch.tensor([0, 0, 1, 1])
    base = pairwise_rank_loss(torch.tensor([2.0, 1.0, 2.0, 1.0]), throughput, task)
    shifted = pairwise_rank_loss(torch.tensor([2.0, 1.0, 102.0, 101.0]), throughput, task)  # task 1 far above task 0
    assert torch.isclose(base, shifted)
    alone = pairwise_rank_loss(torch.tensor([2.0, 1.0]), torch.tensor([1.0, 1.0]), torch.tensor([0, 1]))
    assert alone == 0 and alone.requires_grad is False  # no pair of one task with different throughput


def test_rank_loss_weighs_each_pair_by_its_throughput_gap():
    task = torch.zeros(3, dtype=torch.long)
    throughput = torch.tensor([1.0, 0.9, 0.1])  # the wrong order of (0, 2) costs more than that of (0, 1)
    swap_close = pairwise_rank_loss(torch.tensor([1.0, 2.0, 0.0]), throughput, task)
    swap_far = pairwise_rank_loss(torch.tensor([1.0, 3.0, 2.0]), throughput, task)
    assert swap_close < swap_far


def test_latency_loss_skips_failures_and_is_zero_without_measurements():
    pred = torch.tensor([-9.0, -7.0, 0.0], requires_grad=True)
    loss = latency_loss(pred, torch.tensor([-9.0, -7.0, float("nan")]))
    assert loss == 0
    loss.backward()
    assert pred.grad[2] == 0  # the failure's prediction is not pulled anywhere
    assert latency_loss(pred, torch.full((3,), float("nan"))) == 0


def test_anchor_penalty_is_zero_at_the_anchor_and_grows_with_the_distance():
    model = torch.nn.Linear(3, 2)
    anchor = {k: v.detach().clone() for k, v in model.named_parameters()}
    assert anchor_penalty(model, anchor) == 0
    with torch.no_grad():
        model.weight += 0.1
    near = anchor_penalty(model, anchor).item()
    with torch.no_grad():
        model.weight += 0.1
    assert 0 < near < anchor_penalty(model, anchor).item()
    assert math.isclose(near, 6 * 0.1**2, rel_tol=1e-4)  # six weights, each 0.1 away


def test_lambda_rank_orders_like_rank_net_and_keeps_to_tasks():
    throughput = torch.tensor([1.0, 0.5, 0.25, 1.0, 0.5])
    task = torch.tensor([0, 0, 0, 1, 1])
    right = lambda_rank_loss(torch.tensor([3.0, 2.0, 1.0, 2.0, 1.0]), throughput, task)
    reverse = lambda_rank_loss(torch.tensor([1.0, 2.0, 3.0, 1.0, 2.0]), throughput, task)
    shifted = lambda_rank_loss(torch.tensor([3.0, 2.0, 1.0, 102.0, 101.0]), throughput, task)
    assert right < reverse and torch.isclose(right, shifted)


def test_lambda_rank_weighs_a_wrong_order_at_the_top_above_one_at_the_bottom():
    task = torch.zeros(4, dtype=torch.long)
    throughput = torch.tensor([1.0, 0.9, 0.2, 0.1])  # the same gap (0.1) at the top and at the bottom
    scores = torch.tensor([4.0, 3.0, 2.0, 1.0], requires_grad=True)
    lambda_rank_loss(scores, throughput, task).backward()
    top, bottom = scores.grad[0] - scores.grad[1], scores.grad[2] - scores.grad[3]
    assert top.abs() > bottom.abs()  # RankNet would push both pairs alike


def test_throughput_loss_fits_exp_score_to_throughput_and_ignores_failures():
    throughput = torch.tensor([1.0, 0.5, 0.0])
    task = torch.zeros(3, dtype=torch.long)
    exact = throughput_loss(torch.log(torch.tensor([1.0, 0.5, 1.0])), throughput, task)  # failure predicted high
    assert exact < 1e-7
    assert throughput_loss(torch.zeros(3), throughput, task) > 0.01
    assert throughput_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2, dtype=torch.long)) == 0
    assert set(RANK_LOSSES) == {"ranknet", "lambdarank", "throughput"}
