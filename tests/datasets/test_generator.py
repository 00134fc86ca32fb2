"""Random models: reproducible, realistic, checked before use; `generate` measures their distinct tasks."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter

import numpy as np
import onnx
import pytest
import tvm_ffi
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from tvm_gnn_cost.cli import app
from tvm_gnn_cost.datasets.database import task_database
from tvm_gnn_cost.datasets.frontends import load_onnx
from tvm_gnn_cost.datasets.loading import load_dataset
from tvm_gnn_cost.datasets.generator import (
    BATCHES,
    FAMILIES,
    check_model,
    model_family,
    model_seed,
    random_model,
)
from tvm_gnn_cost.search.measure import host_target

runner = CliRunner()


@pytest.mark.parametrize("version", sorted(FAMILIES))
def test_the_same_seed_gives_the_same_model_and_another_seed_another(version):
    assert random_model(5, version=version).SerializeToString() == random_model(5, version=version).SerializeToString()
    assert random_model(5, version=version).SerializeToString() != random_model(6, version=version).SerializeToString()


def test_version_1_still_draws_the_models_the_committed_data_was_measured_on():
    # seed 0's chunks hold tasks of these models; a resumed collection must regenerate them bit for bit
    model = random_model(model_seed(0, 0), version=1)
    assert hashlib.sha256(model.SerializeToString()).hexdigest()[:16] == "b63e08f2dd238a30"
    assert model_family(model_seed(0, 0), 1) == model.graph.name.rsplit("-", 1)[1] == "cnn"


def _attributes(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def test_version_2_draws_every_family_with_the_operators_and_attributes_they_need():
    models = [random_model(seed) for seed in range(60)]
    families = Counter(model_family(seed) for seed in range(60))
    assert set(families) == set(FAMILIES[2])
    assert [{p.key: p.value for p in m.metadata_props}["family"] for m in models] == [model_family(s) for s in range(60)]
    nodes = [n for m in models for n in m.graph.node]
    ops = Counter(n.op_type for n in nodes)
    assert {"Conv", "ConvTranspose", "Resize", "HardSwish", "HardSigmoid", "GlobalAveragePool", "Erf", "Gather",
            "Slice", "LayerNormalization", "Softmax", "MatMul", "Concat", "MaxPool", "AveragePool"} <= set(ops)
    convs = [_attributes(n) for n in nodes if n.op_type == "Conv"]
    assert {len(c["kernel_shape"]) for c in convs} == {1, 2, 3}  # 1-D, 2-D and 3-D convolutions
    assert {c["kernel_shape"][0] for c in convs} >= {1, 3, 5, 7} and {c["strides"][0] for c in convs} >= {1, 2, 4}
    assert {c.get("dilations", [1])[0] for c in convs} >= {1, 2, 4}
    assert max(c.get("group", 1) for c in convs) >= 16  # depthwise
    assert {_attributes(n)["mode"].decode() for n in nodes if n.op_type == "Resize"} == {"nearest", "linear"}
    initializers = {i.name.rstrip("0123456789") for m in models for i in m.graph.initializer}
    assert "mask" in initializers  # causal attention
    caches = [n for n in nodes if n.op_type == "Concat" and _attributes(n)["axis"] == 2]
    assert caches  # decoding steps over a KV cache
    batches = {m.graph.input[0].type.tensor_type.shape.dim[0].dim_value for m in models}
    assert batches == {1, 2, 4, 8, 16}
    sequences = {m.graph.input[0].type.tensor_type.shape.dim[1].dim_value for m, s in zip(models, range(60))
                 if model_family(s) == "decoder"}
    assert len(sequences) >= 3  # several prompt lengths and decoding steps


@pytest.mark.slow
def test_every_version_2_family_compiles_with_tvm_and_matches_onnxruntime(tmp_path):
    seeds = {}
    for seed in range(200):
        seeds.setdefault(model_family(seed), seed)
    assert set(seeds) == set(FAMILIES[2])
    for family, seed in seeds.items():
        imported = load_onnx(_save(random_model(seed), tmp_path / f"{family}.onnx"))
        assert imported.inputs[0].shape[0] in BATCHES[2], family
        check = check_model(imported, host_target(2))
        assert check.ok, (family, check)


def test_version_1_draws_the_operators_and_shapes_real_cnns_and_transformers_use():
    models = [random_model(seed, version=1) for seed in range(40)]
    ops = Counter(node.op_type for m in models for node in m.graph.node)
    assert {"Conv", "BatchNormalization", "Relu", "Add", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool",
            "Gemm", "MatMul", "Softmax", "LayerNormalization", "Reshape", "Transpose"} <= set(ops)
    convs = [{a.name: helper.get_attribute_value(a) for a in n.attribute}
             for m in models for n in m.graph.node if n.op_type == "Conv"]
    assert {c["kernel_shape"][0] for c in convs} == {1, 3, 5, 7}
    assert {c["strides"][0] for c in convs} == {1, 2} and {c.get("dilations", [1])[0] for c in convs} == {1, 2}
    assert {c["pads"][0] == 0 for c in convs} == {True, False}
    assert {c.get("group", 1) > 1 for c in convs} == {True, False}  # grouped or depthwise, and plain
    families = Counter(model_family(seed, 1) for seed in range(40))
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
                                 "--search", "0", "--tasks", "*.mean", "--generator-version", "1", *extra])
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
    assert manifest["generator"] == {"seed": 0, "version": 1, "models": 2, "passed": 2,
                                     "distinct_tasks": len(names)}
    assert manifest["machine"]["cpu"] and manifest["versions"]["apache-tvm"] and manifest["records_this_run"] == 4

    before = (tmp_path / "models.json").read_text()
    assert "measured 0 records" in _generate(tmp_path)  # resumed: nothing regenerated, rechecked or remeasured
    assert (tmp_path / "models.json").read_text() == before
    assert random_model(0, "gen0-0000", version=1).SerializeToString() == (tmp_path / "models/gen0-0000.onnx").read_bytes()


@pytest.mark.slow
def test_generate_measures_through_an_rpc_tracker_with_two_servers(tmp_path, rpc_tracker):
    _generate(tmp_path, "--rpc-tracker", rpc_tracker, "--rpc-key", "test-cpu")
    for task in ("gen0-0000.mean", "gen0-0001.mean"):
        records = task_database(tmp_path / task).get_all_tuning_records()
        assert len(records) == 2 and all(r.run_secs[0] < 1 for r in records)  # measured, not the failure marker
    assert json.loads((tmp_path / "manifest.json").read_text())["command"].endswith("--rpc-key test-cpu")
