"""Workloads: operator and zoo-model tasks, and how a model argument names an ONNX file."""

from __future__ import annotations

import pytest

from tvm_gnn_cost.datasets.workloads import ONNX_ZOO, onnx_model_path


def test_a_model_is_a_file_path_or_a_zoo_name(tmp_path):
    path = tmp_path / "my-net.onnx"
    path.write_bytes(b"")
    assert onnx_model_path(str(path)) == ("my-net", path)
    name, zoo = onnx_model_path("squeezenet")
    assert name == "squeezenet" and zoo.name == ONNX_ZOO["squeezenet"] and zoo.is_file()
    with pytest.raises(FileNotFoundError, match="nor a zoo model \\(resnet50, squeezenet"):
        onnx_model_path("resnet5")
