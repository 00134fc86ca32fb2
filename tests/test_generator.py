"""Random models: reproducible, realistic, checked before use; `generate` measures their distinct tasks."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import onnx
import pytest
import tvm_ffi
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from tvm_gnn_cost.cli import app
from tvm_gnn_cost.dataset import load_dataset, task_database
from tvm_gnn_cost.frontends import load_onnx
from tvm_gnn_cost.generator import GENERATOR_VERSION, check_model, random_model
from tvm_gnn_cost.measure import host_target

runner = CliRunner()


def test_the_same_seed_gives_the_same_model_and_another_seed_another():
    assert random_model(5).SerializeToString() == random_model(5).SerializeToString()
    assert random_model(5).SerializeToString() != random_model(6).SerializeToString()


def test_generated_models_use_the_operators_and_shapes_real_models_use():
    models = [random_model(seed) for seed in range(40)]
    ops = Counter(node.op_type for m in models for node in m.graph.node)
    assert {"Conv", "BatchNormalization", "Relu", "Add", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool",
            "Gemm", "MatMul", "Softmax", "LayerNormalization", "Reshape", "Transpose"} <= set(ops)
    convs = [{a.name: helper.get_attribute_value(a) for a in n.attribute}
             for m in models for n in m.graph.node if n.op_type == "Conv"]
    assert {c["kernel_shape"][0] for c in convs} == {1, 3, 5, 7}
    assert {c["strides"][0] for c in convs} == {1, 2} and {c.get("dilations", [1])[0] for c in convs} == {1, 2}
    assert {c["pads"][0] == 0 for c in convs} == {True, False}
    assert {c.get("group", 1) > 1 for c in convs} == {True, False}  # grouped or depthwise, and plain
    families = Counter(m.graph.name.rsplit("-", 1)[1] for m in models)
    assert families["cnn"] > families["transformer"] > 0
    batches = {m.graph.input[0].type.tensor_type.shape.dim[0].dim_value for m in models}
    assert {1, 2, 4} <= batches


def _save(model: onnx.ModelProto, path) -> str:
    onnx.save(model, str(path))
    return str(path)


def test_a_model_is_checked_against_onnxruntime_and_rejected_when_outputs_differ_or_are_constant(tmp_path):
    model = load_onnx(_save(random_model(1), tmp_path / "gen.onnx"))
    check = check_model(model, host_target(2))
    assert check.ok and check.max_abs_error < 1e-3, check

    wrong = dataclasses.replace(model, reference=lambda inputs: [o * 1.01 for o in model.reference(inputs)])
    check = check_model(wrong, host_target(2))
    assert not check.ok and "outputs differ from onnxruntime" in check.reason

    zero = numpy_helper.from_array(np.zeros((1, 8), "float32"), "zero")
    graph = helper.make_graph([helper.make_node("Mul", ["x", "zero"], ["y"])], "constant",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [zero])
    constant = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    check = check_model(load_onnx(_save(constant, tmp_path / "constant.onnx")), host_target(2))
    assert not check.ok and "constant" in check.reason


def _generate(out, *extra: str):
    result = runner.invoke(app, ["generate", str(out), "--models", "2", "--seed", "0", "--random", "2",
                                 "--search", "0", "--tasks", "*.mean", *extra])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_generate_checks_models_measures_distinct_tasks_and_resumes(tmp_path):
    output = _generate(tmp_path)
    assert "2 of 2 models pass the check" in output
    models = json.loads((tmp_path / "models.json").read_text())
    assert [m["status"] for m in models.values()] == ["ok", "ok"]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["gen0-0000.onnx", "gen0-0001.onnx"]
    names = [t for m in models.values() for t in m["tasks"]]
    assert len(names) == len(set(names)) > 10

    dataset = load_dataset(tmp_path)  # the tasks --tasks chose, two records each, all valid
    assert [t.name for t in dataset] == ["gen0-0000.mean", "gen0-0001.mean"]
    assert all(len(t.seconds) == 2 and np.isfinite(t.seconds).all() for t in dataset)
    hashes = {tvm_ffi.structural_hash(t.mod) for t in dataset}
    assert len(hashes) == 2

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["generator"] == {"seed": 0, "version": GENERATOR_VERSION, "models": 2, "passed": 2,
                                     "distinct_tasks": len(names)}
    assert manifest["machine"]["cpu"] and manifest["versions"]["apache-tvm"] and manifest["records_this_run"] == 4

    before = (tmp_path / "models.json").read_text()
    assert "measured 0 records" in _generate(tmp_path)  # resumed: nothing regenerated, rechecked or remeasured
    assert (tmp_path / "models.json").read_text() == before
    assert random_model(0, "gen0-0000").SerializeToString() == (tmp_path / "models/gen0-0000.onnx").read_bytes()


@pytest.mark.slow
def test_generate_measures_through_an_rpc_tracker_with_two_servers(tmp_path, rpc_tracker):
    _generate(tmp_path, "--rpc-tracker", rpc_tracker, "--rpc-key", "test-cpu")
    for task in ("gen0-0000.mean", "gen0-0001.mean"):
        records = task_database(tmp_path / task).get_all_tuning_records()
        assert len(records) == 2 and all(r.run_secs[0] < 1 for r in records)  # measured, not the failure marker
    assert json.loads((tmp_path / "manifest.json").read_text())["command"].endswith("--rpc-key test-cpu")
