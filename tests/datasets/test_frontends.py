"""Importing ONNX files and torch modules: shapes, references, and the errors bad input gets."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import damaged, write_small_cnn
from hypothesis import given, settings
from hypothesis import strategies as st

from tvm_gnn_cost.datasets.frontends import InputShapeError, InputSpec, ModelImportError, from_torch, load_onnx, parse_input_shapes


def test_onnx_shapes_come_from_the_file_and_the_reference_is_onnxruntime(small_cnn):
    model = load_onnx(small_cnn)
    assert model.name == "small_cnn"
    assert model.inputs == [InputSpec("image", (1, 3, 32, 32), "float32")]
    assert model.reference_name == "onnxruntime" and model.onnxruntime is not None
    (logits,) = model.reference(model.random_inputs(seed=0))
    assert logits.shape == (1, 10) and np.isfinite(logits).all()
    assert "main" in [gv.name_hint for gv in model.mod.get_global_vars()]


def test_a_dynamic_batch_needs_an_input_shape_and_gets_it(tmp_path):
    path = write_small_cnn(tmp_path / "dynamic.onnx", batch="N")
    with pytest.raises(ModelImportError, match=r"'image' of dynamic.onnx has a dynamic shape \(\?,3,32,32\).*"
                                               r"--input-shape image:"):
        load_onnx(path)
    model = load_onnx(path, {"image": (4, 3, 32, 32)})
    assert model.inputs[0].shape == (4, 3, 32, 32)
    assert model.reference(model.random_inputs())[0].shape == (4, 10)


@pytest.mark.parametrize(("shapes", "message"), [
    ({"image": (1, 3, 32)}, r"image:1,3,32 does not fit small_cnn.onnx, whose input 'image' has shape \(1,3,32,32\)"),
    ({"image": (1, 3, 64, 64)}, "does not fit"),
    ({"img": (1, 3, 32, 32)}, r"names \['img'\], but small_cnn.onnx's inputs are \['image'\]"),
])
def test_input_shapes_that_do_not_fit_are_refused(small_cnn, shapes, message):
    with pytest.raises(ModelImportError, match=message):
        load_onnx(small_cnn, shapes)


def test_missing_empty_and_non_onnx_files_are_refused(tmp_path):
    with pytest.raises(ModelImportError, match="no such file"):
        load_onnx(tmp_path / "missing.onnx")
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a protobuf")
    with pytest.raises(ModelImportError, match="notes.onnx: not a valid ONNX model"):
        load_onnx(text)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelImportError, match="not a valid ONNX model"):
        load_onnx(empty)


def test_a_truncated_onnx_file_is_refused(small_cnn):
    data = small_cnn.read_bytes()
    small_cnn.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelImportError, match="not a valid ONNX model"):
        load_onnx(small_cnn)


@pytest.mark.parametrize("value", ["image", "image:", "image:1,x", ":1,2", "image:0,3"])
def test_input_shape_syntax_is_checked(value):
    with pytest.raises(ModelImportError, match="NAME:D1,D2"):
        parse_input_shapes([value])


def test_input_shapes_parse():
    assert parse_input_shapes(["a:1,3,224,224", "ids:2,128"]) == {"a": (1, 3, 224, 224), "ids": (2, 128)}


def test_torch_modules_import_through_torch_export():
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    model = from_torch(module, [torch.randn(4, 64)], name="mlp")
    assert model.name == "mlp" and model.reference_name == "torch"
    assert model.inputs == [InputSpec("input0", (4, 64), "float32")]
    inputs = model.random_inputs(seed=1)
    (out,) = model.reference(inputs)
    expected = module(torch.from_numpy(inputs[0])).detach().numpy()
    np.testing.assert_array_equal(out, expected)


def test_a_module_torch_export_cannot_trace_gets_a_clear_error():
    import torch

    class DataDependent(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[x > 0]  # output shape depends on values

    with pytest.raises(ModelImportError, match="cannot export DataDependent with torch.export"):
        from_torch(DataDependent(), [torch.randn(8)])


@given(st.lists(st.text(max_size=20), max_size=3))
def test_any_input_shape_text_parses_or_is_refused_clearly(values):
    try:
        shapes = parse_input_shapes(values)
    except InputShapeError as err:
        assert "NAME:D1,D2" in str(err)
    else:
        assert all(isinstance(d, int) and d > 0 for shape in shapes.values() for d in shape)


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.lists(st.integers(1, 4096), min_size=1, max_size=5)))
def test_input_shapes_round_trip(shapes):
    text = [f"{name}:{','.join(map(str, dims))}" for name, dims in shapes.items()]
    assert parse_input_shapes(text) == {name: tuple(dims) for name, dims in shapes.items()}


@pytest.fixture(scope="module")
def small_cnn_bytes(tmp_path_factory) -> bytes:
    return write_small_cnn(tmp_path_factory.mktemp("onnx") / "original.onnx").read_bytes()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_damaged_onnx_files_import_or_are_refused_naming_the_file(data, small_cnn_bytes, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "damaged.onnx"
    path.write_bytes(data.draw(damaged(small_cnn_bytes)))
    try:
        model = load_onnx(path)
    except ModelImportError as err:
        assert "damaged.onnx" in str(err)
    else:  # a flip in a weight's bytes leaves a valid model
        assert model.reference(model.random_inputs())[0].shape == (1, 10)
