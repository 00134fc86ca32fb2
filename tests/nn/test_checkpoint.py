"""Damaged checkpoint files load or are refused with an error naming the file; nothing else."""

from __future__ import annotations

import pytest
from conftest import damaged
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
    path = tmp_path_factory.mktemp("damaged") / "damaged.pt"
    path.write_bytes(data.draw(damaged(checkpoint)))
    model = GNNCostModel()
    try:
        model.load(str(path))
    except CheckpointError as err:
        assert "damaged.pt" in str(err)
    else:  # a flip outside every CRC-checked entry (zip padding) leaves the same checkpoint
        assert model.learner.config == GNNCostModel().learner.config
