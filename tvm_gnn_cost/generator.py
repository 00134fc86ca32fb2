"""Random but realistic networks as ONNX models: the pretraining data behind ``tvm-gnn-cost generate``.

A model is a random DAG of the operators real networks use, drawn from one seed: either a
CNN (convolutions with varied kernels, strides, dilations, groups and padding; depthwise
convolutions; batch norm; activations; pooling; residual adds; channel concatenation; a dense
head) or a transformer encoder (layer norm, Q/K/V projections, reshape and transpose into
heads, batched matmuls, softmax, residual adds, an MLP). Shapes come from the ranges such
models use. Weights are He-initialised so activations keep their scale through the depth and
outputs are never constant (an output check on constant outputs proves nothing).

Every model is checked before its tasks are measured (:func:`check_model`): it imports with
TVM's ONNX frontend, builds with TVM's default pipeline, and its outputs match onnxruntime's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx
    from tvm.target import Target

    from .frontends import ImportedModel
    from .workloads import Task

logger = logging.getLogger(__name__)

#: Recorded with every generated dataset; bumped when the same seed would give other models.
GENERATOR_VERSION = 1
#: ONNX opset of generated models (LayerNormalization needs 17) and the IR version onnxruntime reads.
OPSET, IR_VERSION = 17, 8

_ACTIVATIONS = ("Relu", "Relu", "Clip", "Sigmoid", "LeakyRelu", "Tanh", "HardSwish", None)


@dataclass
class _Tensor:
    name: str
    shape: tuple[int, ...]


@dataclass
class _Graph:
    """ONNX nodes and initialisers under construction, with fresh names and seeded weights."""

    rng: np.random.Generator
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)

    def name(self, kind: str) -> str:
        return f"{kind}{len(self.nodes) + len(self.initializers)}"

    def constant(self, array: np.ndarray, kind: str = "w") -> str:
        from onnx import numpy_helper

        name = self.name(kind)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def weight(self, shape: Sequence[int], fan_in: int) -> str:
        """He-normal weights: activations keep their scale through ReLU layers."""
        return self.constant((self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype("float32"))

    def node(self, op: str, inputs: Sequence[str], shape: Sequence[int], **attrs: object) -> _Tensor:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [out], **attrs))
        return _Tensor(out, tuple(int(d) for d in shape))

    def activation(self, x: _Tensor) -> _Tensor:
        kind = _ACTIVATIONS[self.rng.integers(len(_ACTIVATIONS))]
        if kind is None:
            return x
        if kind == "Clip":  # ReLU6
            low, high = self.constant(np.array(0, "float32"), "c"), self.constant(np.array(6, "float32"), "c")
            return self.node("Clip", [x.name, low, high], x.shape)
        if kind == "LeakyRelu":
            return self.node(kind, [x.name], x.shape, alpha=0.1)
        return self.node(kind, [x.name], x.shape)

    def batch_norm(self, x: _Tensor) -> _Tensor:
        c = x.shape[1]
        params = [
            self.constant((1 + 0.1 * self.rng.standard_normal(c)).astype("float32")),  # scale
            self.constant((0.1 * self.rng.standard_normal(c)).astype("float32")),  # bias
            self.constant((0.1 * self.rng.standard_normal(c)).astype("float32")),  # running mean
            self.constant(self.rng.uniform(0.5, 1.5, c).astype("float32")),  # running variance
        ]
        return self.node("BatchNormalization", [x.name, *params], x.shape, epsilon=1e-5)


def _pick(rng: np.random.Generator, values: Sequence) -> object:
    return values[rng.integers(len(values))]


def _conv(g: _Graph, x: _Tensor, *, same_shape: bool = False) -> _Tensor:
    """A convolution with random kernel, stride, dilation, groups and padding, then maybe BN and an activation.

    ``same_shape`` keeps channels and size (stride 1, "same" padding), as a residual branch needs.
    """
    n, c, h, w = x.shape
    rng = g.rng
    kernel = int(_pick(rng, (1, 3, 3, 3, 5, 7) if min(h, w) >= 7 else (1, 3)))
    depthwise = kernel > 1 and rng.random() < 0.25
    out = c if depthwise or same_shape else int(min(512, max(8, c * _pick(rng, (0.5, 1, 1, 2, 2, 4)))) // 8 * 8)
    groups = c if depthwise else int(_pick(rng, [d for d in (1, 1, 1, 2, 4) if c % d == 0 and out % d == 0]))
    dilation = 2 if kernel == 3 and min(h, w) >= 14 and rng.random() < 0.2 else 1
    stride = 2 if not same_shape and min(h, w) >= 8 and rng.random() < 0.3 else 1
    span = dilation * (kernel - 1)
    pad = span // 2 if same_shape or rng.random() < 0.8 or min(h, w) <= span else 0
    oh, ow = (h + 2 * pad - span - 1) // stride + 1, (w + 2 * pad - span - 1) // stride + 1
    inputs = [x.name, g.weight((out, c // groups, kernel, kernel), c // groups * kernel * kernel)]
    if rng.random() < 0.5:
        inputs.append(g.constant((0.1 * rng.standard_normal(out)).astype("float32")))
    y = g.node("Conv", inputs, (n, out, oh, ow), kernel_shape=[kernel, kernel], strides=[stride, stride],
               dilations=[dilation, dilation], group=groups, pads=[pad] * 4)
    if rng.random() < 0.6:
        y = g.batch_norm(y)
    return g.activation(y)


def _pool(g: _Graph, x: _Tensor) -> _Tensor:
    n, c, h, w = x.shape
    kernel = int(_pick(g.rng, (2, 3)))
    pad = 1 if kernel == 3 else 0
    oh, ow = (h + 2 * pad - kernel) // 2 + 1, (w + 2 * pad - kernel) // 2 + 1
    op = "MaxPool" if g.rng.random() < 0.6 else "AveragePool"
    return g.node(op, [x.name], (n, c, oh, ow), kernel_shape=[kernel, kernel], strides=[2, 2], pads=[pad] * 4)


def _cnn(g: _Graph, batch: int) -> tuple[_Tensor, _Tensor]:
    """Input -> stem conv -> random blocks (conv, residual, two-branch concat, pooling) -> dense head."""
    rng = g.rng
    size = int(_pick(rng, (32, 56, 64, 112, 224)))
    image = _Tensor("input", (batch, 3, size, size))
    width, half = int(_pick(rng, (16, 24, 32, 64))), (size - 1) // 2 + 1
    x = g.node("Conv", ["input", g.weight((width, 3, 3, 3), 27)], (batch, width, half, half),
               kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = g.activation(g.batch_norm(x))
    for _ in range(int(rng.integers(3, 9))):
        kind = rng.random()
        if kind < 0.45:
            x = _conv(g, x)
        elif kind < 0.65:  # residual: a conv that keeps the shape, added to its input
            x = g.activation(g.node("Add", [x.name, _conv(g, x, same_shape=True).name], x.shape))
        elif kind < 0.8:  # two branches from one input, concatenated along channels
            a, b = _conv(g, x), _conv(g, x)
            if a.shape[2:] == b.shape[2:]:
                x = g.node("Concat", [a.name, b.name], (batch, a.shape[1] + b.shape[1], *a.shape[2:]), axis=1)
            else:
                x = a
        elif min(x.shape[2:]) >= 4:
            x = _pool(g, x)
    pooled = g.node("GlobalAveragePool", [x.name], (*x.shape[:2], 1, 1))
    flat = g.node("Flatten", [pooled.name], x.shape[:2])
    classes = int(_pick(rng, (10, 100, 1000)))
    logits = g.node("Gemm", [flat.name, g.weight((classes, x.shape[1]), x.shape[1]),
                             g.constant(np.zeros(classes, "float32"))], (batch, classes), transB=1)
    if rng.random() < 0.5:
        logits = g.node("Softmax", [logits.name], logits.shape, axis=-1)
    return image, logits


def _linear(g: _Graph, x: _Tensor, out: int) -> _Tensor:
    return g.node("MatMul", [x.name, g.weight((x.shape[-1], out), x.shape[-1])], (*x.shape[:-1], out))


def _layer_norm(g: _Graph, x: _Tensor) -> _Tensor:
    d = x.shape[-1]
    scale, bias = g.constant(np.ones(d, "float32")), g.constant(np.zeros(d, "float32"))
    return g.node("LayerNormalization", [x.name, scale, bias], x.shape, axis=-1, epsilon=1e-5)


def _attention(g: _Graph, x: _Tensor, heads: int) -> _Tensor:
    """Multi-head self-attention: projections, reshape/transpose into heads, QK^T, softmax, AV, output."""
    n, s, d = x.shape
    hd = d // heads

    def split(t: _Tensor, order: list[int]) -> _Tensor:
        shape = g.constant(np.array([n, s, heads, hd], "int64"), "shape")
        r = g.node("Reshape", [t.name, shape], (n, s, heads, hd))
        return g.node("Transpose", [r.name], tuple(r.shape[i] for i in order), perm=order)

    q, k, v = (split(_linear(g, x, d), [0, 2, 1, 3]) for _ in range(3))
    kt = g.node("Transpose", [k.name], (n, heads, hd, s), perm=[0, 1, 3, 2])
    scores = g.node("MatMul", [q.name, kt.name], (n, heads, s, s))
    scaled = g.node("Mul", [scores.name, g.constant(np.array(1 / np.sqrt(hd), "float32"), "c")], scores.shape)
    probs = g.node("Softmax", [scaled.name], scaled.shape, axis=-1)
    attended = g.node("MatMul", [probs.name, v.name], (n, heads, s, hd))
    merged = g.node("Transpose", [attended.name], (n, s, heads, hd), perm=[0, 2, 1, 3])
    shape = g.constant(np.array([n, s, d], "int64"), "shape")
    return _linear(g, g.node("Reshape", [merged.name, shape], (n, s, d)), d)


def _transformer(g: _Graph, batch: int) -> tuple[_Tensor, _Tensor]:
    """Input tokens -> pre-norm encoder layers (attention + MLP, residual adds) -> mean over tokens."""
    rng = g.rng
    seq, d = int(_pick(rng, (16, 32, 64, 128, 196))), int(_pick(rng, (64, 128, 192, 256, 384)))
    heads = int(_pick(rng, [h for h in (2, 4, 6, 8) if d % h == 0]))
    tokens = _Tensor("input", (batch, seq, d))
    x = tokens
    for _ in range(int(rng.integers(1, 4))):
        x = g.node("Add", [x.name, _attention(g, _layer_norm(g, x), heads).name], x.shape)
        hidden = g.activation(_linear(g, _layer_norm(g, x), d * int(_pick(rng, (2, 4)))))
        x = g.node("Add", [x.name, _linear(g, hidden, d).name], x.shape)
    out = g.node("ReduceMean", [x.name], (batch, d), axes=[1], keepdims=0)
    return tokens, out


def random_model(seed: int, name: str | None = None) -> onnx.ModelProto:
    """A random CNN (70 %) or transformer encoder (30 %), reproducible from ``seed``."""
    from onnx import TensorProto, checker, helper

    g = _Graph(np.random.default_rng(seed))
    batch = int(_pick(g.rng, (1, 1, 1, 2, 4)))
    family = "cnn" if g.rng.random() < 0.7 else "transformer"
    x, y = (_cnn if family == "cnn" else _transformer)(g, batch)
    graph = helper.make_graph(
        g.nodes, name or f"gen{seed}-{family}",
        [helper.make_tensor_value_info(x.name, TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info(y.name, TensorProto.FLOAT, y.shape)],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    checker.check_model(model, full_check=True)  # shapes we tracked agree with ONNX's inference
    return model


@dataclass(frozen=True)
class ModelCheck:
    """The outcome of :func:`check_model`: ``ok``, or why the model may not be measured."""

    ok: bool
    reason: str
    max_abs_error: float


def check_model(model: ImportedModel, target: Target, *, seed: int = 0) -> ModelCheck:
    """Build ``model`` with TVM's default pipeline, run it on random inputs, compare with its reference."""
    import tvm
    from tvm import relax
    from tvm.s_tir import meta_schedule as ms

    from .model_tuning import compare_outputs, vm_outputs

    try:
        executable = ms.relax_integration.compile_relax(ms.database.MemoryDatabase(), model.mod, target, None)
        inputs = model.random_inputs(seed)
        outputs = vm_outputs(relax.VirtualMachine(executable, tvm.cpu()), tvm.cpu(), inputs)
    except Exception as err:  # noqa: BLE001 - any build or run failure rejects the model
        return ModelCheck(False, f"TVM cannot build or run it: {type(err).__name__}: {err}", float("inf"))
    expected = model.reference(inputs)
    match, error = compare_outputs(outputs, expected)
    if not match:
        return ModelCheck(False, f"outputs differ from {model.reference_name} (max abs error {error:.3g})", error)
    if all(np.ptp(e) == 0 for e in expected):
        return ModelCheck(False, "its outputs are constant, so the check proves nothing", error)
    return ModelCheck(True, f"outputs match {model.reference_name}", error)


def model_seed(seed: int, index: int) -> int:
    """The seed model ``index`` of generator seed ``seed`` is drawn from (distinct for any index < 10**6)."""
    return seed * 1_000_003 + index


def generated_tasks(
    out: Path,
    count: int,
    seed: int,
    target: Target,
    *,
    check_target: Target | None = None,
    exclude: Collection[str] = (),
    on_model: Callable[[str, dict], None] | None = None,
) -> tuple[list[Task], dict[str, dict]]:
    """Generate ``count`` models into ``out/models``, check each, and return their distinct tasks.

    Each model is written as ONNX (``gen<seed>-<index>.onnx``) and checked once with
    :func:`check_model` on ``check_target`` (default: this machine's CPU); the verdict, the
    reason and the model's new tasks go to ``out/models.json``, so a rerun neither regenerates
    nor rechecks. A model that fails is logged and skipped. Tasks are de-duplicated across
    models by structural hash: a task equal to one of an earlier model is measured once, under
    that model's name; a task whose hash (hex) is in ``exclude`` is left out (measured elsewhere,
    or a task of a model no training may see). Returns the tasks and ``models.json``'s content.
    """
    import onnx
    import tvm_ffi

    from .files import write_json
    from .frontends import ModelImportError, load_onnx
    from .measure import host_target
    from .workloads import relax_tasks

    models_dir = out / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    index_path = out / "models.json"
    index: dict[str, dict] = json.loads(index_path.read_text()) if index_path.exists() else {}
    seen = set(exclude)
    tasks: list[Task] = []
    for i in range(count):
        name = f"gen{seed}-{i:04d}"
        path = models_dir / f"{name}.onnx"
        if not path.exists():
            onnx.save(random_model(model_seed(seed, i), name), str(path))
        entry = index.get(name)
        try:
            imported = load_onnx(path)
        except ModelImportError as err:
            entry = {"status": "failed", "reason": str(err)}
        if entry is None:
            check = check_model(imported, check_target or host_target())
            entry = {"status": "ok" if check.ok else "failed", "reason": check.reason,
                     "max_abs_error": check.max_abs_error, "seed": model_seed(seed, i)}
        if entry["status"] == "ok":
            new = []
            for task in relax_tasks(imported.mod, target, name, f"generated:{name}"):
                key = f"{tvm_ffi.structural_hash(task.mod):016x}"
                if key not in seen:
                    seen.add(key)
                    new.append(task)
            tasks += new
            entry["tasks"] = [t.name for t in new]
        else:
            logger.warning("generated model %s skipped: %s", path, entry["reason"])
        if index.get(name) != entry:
            index[name] = entry
            write_json(index_path, index)
        if on_model:
            on_model(name, entry)
    return tasks, index
