"""Import whole models into Relax: ONNX files and ``torch.nn.Module``\\ s, each with a reference to check against.

Both importers return an :class:`ImportedModel`: the Relax module with inference-only ops
decomposed (so task extraction and compilation see the same fused functions), its inputs'
names, shapes and dtypes, and a reference implementation (onnxruntime, ONNX's numpy
``ReferenceEvaluator``, or the torch module itself) that the tuned model's outputs must match.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx
    import torch
    from tvm.ir import IRModule

logger = logging.getLogger(__name__)

#: Runs the reference implementation on numpy inputs (in :attr:`ImportedModel.inputs` order).
Reference = Callable[[Sequence[np.ndarray]], list[np.ndarray]]


#: Outputs match the reference when ``|tvm - ref| <= atol * min(1, max|ref|) + rtol * |ref|`` elementwise
#: (float32 models). ``atol`` shrinks with outputs smaller than 1, so that a softmax over 1000 classes
#: (values near 1e-3) is still checked.
TOLERANCE = {"rtol": 1e-3, "atol": 1e-3}

@dataclass(frozen=True)
class InputSpec:
    """One model input: its name, a static shape and a numpy dtype name."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass
class ImportedModel:
    """A model ready for task extraction and compilation, plus what checks its outputs."""

    name: str
    mod: IRModule
    inputs: list[InputSpec]
    reference: Reference
    reference_name: str  # "onnxruntime", "onnx-reference" (numpy) or "torch"
    onnxruntime: Reference | None = None  # also timed against the tuned model when installed

    def random_inputs(self, seed: int = 0) -> list[np.ndarray]:
        """Random inputs: standard normal floats, integers in [0, 10)."""
        rng = np.random.default_rng(seed)
        return [
            rng.standard_normal(spec.shape).astype(spec.dtype)
            if np.issubdtype(np.dtype(spec.dtype), np.floating)
            else rng.integers(0, 10, size=spec.shape).astype(spec.dtype)
            for spec in self.inputs
        ]


class ModelImportError(ValueError):
    """A model file or its input shapes cannot be used; the message says what to fix."""


class InputShapeError(ModelImportError):
    """An input shape is missing, malformed, or does not fit the model."""


def parse_input_shapes(values: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """``["data:1,3,224,224", ...]`` as ``{"data": (1, 3, 224, 224)}``."""
    shapes = {}
    for value in values:
        name, sep, dims = value.rpartition(":")
        try:
            shape = tuple(int(d) for d in dims.split(",") if d.strip())
        except ValueError:
            shape = ()
        if not sep or not name or not shape or any(d <= 0 for d in shape):
            raise InputShapeError(f"input shape {value!r} is not NAME:D1,D2,... with positive integers")
        shapes[name] = shape
    return shapes


def load_onnx(path: str | Path, input_shapes: Mapping[str, Sequence[int]] | None = None) -> ImportedModel:
    """Import an ONNX file with TVM's Relax frontend; shapes come from the file or ``input_shapes``.

    A dynamic dimension (``dim_param`` or missing) must be given in ``input_shapes``; a given
    shape must have the file's rank and agree with its static dimensions.
    """
    path = Path(path)
    model = _read_onnx(path)
    specs = _onnx_inputs(model, path, dict(input_shapes or {}))
    from tvm.relax.frontend.onnx import from_onnx

    try:
        mod = from_onnx(model, shape_dict={s.name: list(s.shape) for s in specs},
                        dtype_dict={s.name: s.dtype for s in specs}, keep_params_in_input=False)
    except Exception as err:
        raise ModelImportError(f"{path}: TVM's ONNX frontend cannot import it: {err}") from err
    onnxruntime = _onnxruntime_reference(path, specs)
    if onnxruntime is not None:
        reference, reference_name = onnxruntime, "onnxruntime"
    else:
        from onnx.reference import ReferenceEvaluator

        try:
            evaluator = ReferenceEvaluator(model)
        except Exception as err:
            raise ModelImportError(f"{path}: neither onnxruntime nor ONNX's reference evaluator can run it, "
                                   f"so tuned outputs could not be checked ({err})") from err
        reference, reference_name = (
            lambda arrays: [np.asarray(o) for o in evaluator.run(None, _feeds(specs, arrays))],
            "onnx-reference",
        )
    return ImportedModel(path.stem, _for_inference(mod), specs, reference, reference_name, onnxruntime)


def from_torch(module: torch.nn.Module, example_inputs: Sequence[torch.Tensor], name: str = "") -> ImportedModel:
    """Import a ``torch.nn.Module`` through ``torch.export`` and TVM's Relax PyTorch frontend.

    The model is exported for the example inputs' shapes and dtypes; the module itself (in
    eval mode, without gradients) is the reference.
    """
    import torch
    from tvm.relax.frontend.torch import from_exported_program

    module = module.eval()
    args = tuple(example_inputs)
    try:
        with torch.no_grad():
            exported = torch.export.export(module, args)
        mod = from_exported_program(exported, keep_params_as_input=False, unwrap_unit_return_tuple=True)
    except Exception as err:
        raise ModelImportError(f"cannot export {type(module).__name__} with torch.export: {err}") from err
    specs = [InputSpec(f"input{i}", tuple(t.shape), str(t.dtype).removeprefix("torch.")) for i, t in enumerate(args)]

    def reference(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        with torch.no_grad():
            out = module(*(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays))
        outs = out if isinstance(out, (tuple, list)) else [out]
        return [o.detach().numpy() for o in outs]

    return ImportedModel(name or type(module).__name__, _for_inference(mod), specs, reference, "torch")


def _read_onnx(path: Path) -> onnx.ModelProto:
    """Parse and check an ONNX file, or raise :class:`ModelImportError` saying why not."""
    import onnx

    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as err:
        raise ModelImportError(f"{path}: not a valid ONNX model ({type(err).__name__}: {err})") from err
    if not model.graph.node:
        raise ModelImportError(f"{path}: not a valid ONNX model (its graph has no nodes)")
    return model


def _onnx_inputs(model: onnx.ModelProto, path: Path, given: dict[str, Sequence[int]]) -> list[InputSpec]:
    """The graph's real inputs (initializers excluded) with static shapes, checked against ``given``."""
    from onnx.helper import tensor_dtype_to_np_dtype

    initializers = {init.name for init in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in initializers]
    unknown = set(given) - {i.name for i in graph_inputs}
    if unknown:
        raise InputShapeError(f"--input-shape names {sorted(unknown)}, but {path.name}'s inputs are "
                               f"{[i.name for i in graph_inputs]}")
    specs = []
    for value in graph_inputs:
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor.shape.dim]
        shape = given.get(value.name)
        if shape is None:
            if None in dims:
                shown = ",".join(str(d) if d else "?" for d in dims)
                raise InputShapeError(f"input {value.name!r} of {path.name} has a dynamic shape ({shown}); "
                                       f"give it with --input-shape {value.name}:D1,D2,...")
            shape = dims
        elif len(shape) != len(dims) or any(d is not None and d != s for d, s in zip(dims, shape)):
            shown = ",".join(str(d) if d else "?" for d in dims)
            raise InputShapeError(f"--input-shape {value.name}:{','.join(map(str, shape))} does not fit "
                                   f"{path.name}, whose input {value.name!r} has shape ({shown})")
        specs.append(InputSpec(value.name, tuple(int(s) for s in shape),
                               np.dtype(tensor_dtype_to_np_dtype(tensor.elem_type)).name))
    return specs


def _feeds(specs: Sequence[InputSpec], arrays: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    return {spec.name: array for spec, array in zip(specs, arrays)}


def _onnxruntime_reference(path: Path, specs: Sequence[InputSpec]) -> Reference | None:
    """An onnxruntime CPU session over the file, or ``None`` when onnxruntime is not installed or refuses it."""
    try:
        import onnxruntime
    except ImportError:
        logger.info("onnxruntime is not installed; checking outputs with ONNX's numpy reference evaluator")
        return None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - e.g. an opset newer than this onnxruntime supports
        logger.warning("onnxruntime cannot load %s (%s); checking outputs with ONNX's numpy reference evaluator",
                       path, err)
        return None
    return lambda arrays: list(session.run(None, _feeds(specs, arrays)))


def _for_inference(mod: IRModule) -> IRModule:
    """Decompose training-style ops (batch norm) as extraction does, so compiled and tuned functions match."""
    from tvm import relax

    return relax.transform.DecomposeOpsForInference()(mod)


def compare_outputs(outputs: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> tuple[bool, float]:
    """(all outputs match the reference within :data:`TOLERANCE`, largest absolute difference)."""

    def close(o: np.ndarray, e: np.ndarray) -> bool:
        scale = min(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
        return o.shape == e.shape and np.allclose(o, e, rtol=TOLERANCE["rtol"], atol=TOLERANCE["atol"] * scale)

    match = len(outputs) == len(expected) and all(close(o, e) for o, e in zip(outputs, expected))
    error = max((float(np.max(np.abs(o - e))) for o, e in zip(outputs, expected) if o.shape == e.shape),
                default=float("inf"))
    return match, error


def vm_outputs(vm: Any, device: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run ``main`` of a Relax VM once on numpy inputs; its outputs as numpy arrays."""
    import tvm

    vm.set_input("main", *[tvm.runtime.tensor(a, device) for a in inputs])
    vm.invoke_stateful("main")
    return _numpy(vm.get_outputs("main"))


def _numpy(value: Any) -> list[np.ndarray]:
    """A VM result (a tensor or nested tuple of tensors) as a flat list of numpy arrays."""
    if hasattr(value, "numpy"):
        return [value.numpy()]
    return [array for item in value for array in _numpy(item)]
