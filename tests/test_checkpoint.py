"""Damaged checkpoint files load or are refused with an error naming the file; nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tvm_gnn_cost import CheckpointError, GNNCostModel


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("checkpoint") / "model.pt"
    GNNCostModel(seed=0).save(str(path))
    return path.read_bytes()


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_checkpoints_load_or_are_refused_naming_the_file(data, checkpoint, tmp_path_factory):
    damage = data.draw(st.sampled_from(["random", "truncated", "flipped"]))
    if damage == "random":
        content = data.draw(st.binary(max_size=4096))
    elif damage == "truncated":
        content = checkpoint[: data.draw(st.integers(0, len(checkpoint) - 1))]
    else:
        flips = data.draw(st.lists(st.tuples(st.integers(0, len(checkpoint) - 1), st.integers(1, 255)), min_size=1,
                                   max_size=4))
        array = np.frombuffer(checkpoint, dtype=np.uint8).copy()
        for position, mask in flips:
            array[position] ^= mask
        content = array.tobytes()
    path = tmp_path_factory.mktemp("damaged") / "damaged.pt"
    path.write_bytes(content)
    model = GNNCostModel()
    try:
        model.load(str(path))
    except CheckpointError as err:
        assert "damaged.pt" in str(err)
    else:  # flipped bits inside a weight's bytes: a valid checkpoint with other numbers
        assert model.config == GNNCostModel().config
