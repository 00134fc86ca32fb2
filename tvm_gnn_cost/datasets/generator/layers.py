"""An ONNX graph under construction from one seeded generator, and the layers the model families share.

Every weight and every random choice comes from ``Graph.rng`` in a fixed order, so a seed gives
the same model byte for byte. Shapes are tracked here (``Tensor.shape``) and checked by ONNX's
shape inference when the model is finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Activations a layer draws from (``None``: none); version-1 models drew from exactly this tuple.
ACTIVATIONS = ("Relu", "Relu", "Clip", "Sigmoid", "LeakyRelu", "Tanh", "HardSwish", None)


@dataclass
class Tensor:
    """A value of the graph: its name and static shape."""

    name: str
    shape: tuple[int, ...]


def pick(rng: np.random.Generator, values: Sequence) -> object:
    """One of ``values``, uniformly."""
    return values[rng.integers(len(values))]


def round8(x: float, low: int = 8, high: int = 512) -> int:
    """``x`` as a channel count: a multiple of 8 in [low, high]."""
    return int(min(high, max(low, x)) // 8 * 8)


@dataclass
class Graph:
    """ONNX nodes and initialisers under construction, with fresh names and seeded weights."""

    rng: np.random.Generator
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)

    def name(self, kind: str) -> str:
        return f"{kind}{len(self.nodes) + len(self.initializers)}"

    def constant(self, array: np.ndarray, kind: str = "w") -> str:
        """An initialiser; a 0-d ``array`` becomes shape ``(1,)`` (as version-1 models have it, see :meth:`scalar`)."""
        from onnx import numpy_helper

        name = self.name(kind)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def scalar(self, value: int) -> str:
        """A 0-d int64 initialiser (an index that drops its axis, for ``Gather``)."""
        from onnx import numpy_helper

        name = self.name("i")
        self.initializers.append(numpy_helper.from_array(np.array(value, "int64"), name))
        return name

    def weight(self, shape: Sequence[int], fan_in: int) -> str:
        """He-normal weights: activations keep their scale through ReLU layers."""
        return self.constant((self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype("float32"))

    def bias(self, n: int) -> str:
        return self.constant((0.1 * self.rng.standard_normal(n)).astype("float32"))

    def node(self, op: str, inputs: Sequence[str], shape: Sequence[int], **attrs: object) -> Tensor:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [out], **attrs))
        return Tensor(out, tuple(int(d) for d in shape))

    def activation(self, x: Tensor) -> Tensor:
        """A random activation of :data:`ACTIVATIONS` (or none) applied to ``x``."""
        return self.apply(ACTIVATIONS[self.rng.integers(len(ACTIVATIONS))], x)

    def apply(self, kind: str | None, x: Tensor) -> Tensor:
        """The activation ``kind`` (an ONNX op name, ``Clip`` for ReLU6, ``Gelu`` as erf) applied to ``x``."""
        if kind is None:
            return x
        if kind == "Clip":  # ReLU6
            low, high = self.constant(np.array(0, "float32"), "c"), self.constant(np.array(6, "float32"), "c")
            return self.node("Clip", [x.name, low, high], x.shape)
        if kind == "LeakyRelu":
            return self.node(kind, [x.name], x.shape, alpha=0.1)
        if kind == "Gelu":  # x * (1 + erf(x / sqrt 2)) / 2, the exact GELU, from opset-17 ops
            scaled = self.node("Mul", [x.name, self.constant(np.array(1 / np.sqrt(2), "float32"), "c")], x.shape)
            erf = self.node("Erf", [scaled.name], x.shape)
            one = self.node("Add", [erf.name, self.constant(np.array(1, "float32"), "c")], x.shape)
            half = self.node("Mul", [x.name, self.constant(np.array(0.5, "float32"), "c")], x.shape)
            return self.node("Mul", [half.name, one.name], x.shape)
        return self.node(kind, [x.name], x.shape)

    def batch_norm(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        params = [
            self.constant((1 + 0.1 * self.rng.standard_normal(c)).astype("float32")),  # scale
            self.constant((0.1 * self.rng.standard_normal(c)).astype("float32")),  # bias
            self.constant((0.1 * self.rng.standard_normal(c)).astype("float32")),  # running mean
            self.constant(self.rng.uniform(0.5, 1.5, c).astype("float32")),  # running variance
        ]
        return self.node("BatchNormalization", [x.name, *params], x.shape, epsilon=1e-5)

    def ints(self, values: Sequence[int]) -> str:
        """An int64 1-D constant (shapes, slice bounds, axes)."""
        return self.constant(np.array(values, "int64"), "i")


def conv(g: Graph, x: Tensor, out: int, kernel: int, *, stride: int = 1, dilation: int = 1, groups: int = 1,
         pad: int | None = None, bias: bool = True) -> Tensor:
    """A 1-, 2- or 3-D convolution (from ``x``'s rank), "same" padding unless ``pad`` is given."""
    n, c, *spatial = x.shape
    d, span = len(spatial), dilation * (kernel - 1)
    pad = span // 2 if pad is None else pad
    inputs = [x.name, g.weight((out, c // groups, *[kernel] * d), c // groups * kernel**d)]
    if bias:
        inputs.append(g.bias(out))
    shape = (n, out, *((s + 2 * pad - span - 1) // stride + 1 for s in spatial))
    return g.node("Conv", inputs, shape, kernel_shape=[kernel] * d, strides=[stride] * d, dilations=[dilation] * d,
                  group=groups, pads=[pad] * (2 * d))


def conv_bn_act(g: Graph, x: Tensor, out: int, kernel: int, act: str | None, **options: object) -> Tensor:
    """Convolution (no bias), batch norm, activation: the unit of most CNNs."""
    return g.apply(act, g.batch_norm(conv(g, x, out, kernel, bias=False, **options)))


def pool(g: Graph, x: Tensor, op: str, kernel: int, stride: int) -> Tensor:
    """Max or average pooling over every spatial axis, padded so odd kernels keep the grid."""
    n, c, *spatial = x.shape
    pad = (kernel - 1) // 2
    shape = (n, c, *((s + 2 * pad - kernel) // stride + 1 for s in spatial))
    return g.node(op, [x.name], shape, kernel_shape=[kernel] * len(spatial), strides=[stride] * len(spatial),
                  pads=[pad] * (2 * len(spatial)))


def classifier(g: Graph, x: Tensor, classes: int) -> Tensor:
    """Global average pooling, flatten, a dense layer: the head of image, audio and video models."""
    n, c = x.shape[:2]
    pooled = g.node("GlobalAveragePool", [x.name], (n, c, *[1] * (len(x.shape) - 2)))
    flat = g.node("Flatten", [pooled.name], (n, c))
    return g.node("Gemm", [flat.name, g.weight((classes, c), c), g.constant(np.zeros(classes, "float32"))],
                  (n, classes), transB=1)


def linear(g: Graph, x: Tensor, out: int) -> Tensor:
    return g.node("MatMul", [x.name, g.weight((x.shape[-1], out), x.shape[-1])], (*x.shape[:-1], out))


def layer_norm(g: Graph, x: Tensor) -> Tensor:
    d = x.shape[-1]
    scale, bias = g.constant(np.ones(d, "float32")), g.constant(np.zeros(d, "float32"))
    return g.node("LayerNormalization", [x.name, scale, bias], x.shape, axis=-1, epsilon=1e-5)


def attention(g: Graph, x: Tensor, heads: int, *, causal: bool = False, past: int = 0) -> Tensor:
    """Multi-head self-attention: projections, reshape/transpose into heads, QK^T, softmax, AV, output.

    ``causal`` masks later positions (a decoder); ``past`` prepends that many cached keys and
    values (constants), as one decoding step over a KV cache does.
    """
    n, s, d = x.shape
    hd = d // heads

    def split(t: Tensor, order: list[int]) -> Tensor:
        shape = g.constant(np.array([n, s, heads, hd], "int64"), "shape")
        r = g.node("Reshape", [t.name, shape], (n, s, heads, hd))
        return g.node("Transpose", [r.name], tuple(r.shape[i] for i in order), perm=order)

    q, k, v = (split(linear(g, x, d), [0, 2, 1, 3]) for _ in range(3))
    if past:
        k, v = (g.node("Concat", [g.constant(g.rng.standard_normal((n, heads, past, hd)).astype("float32")), t.name],
                       (n, heads, past + s, hd), axis=2) for t in (k, v))
    keys = past + s
    kt = g.node("Transpose", [k.name], (n, heads, hd, keys), perm=[0, 1, 3, 2])
    scores = g.node("MatMul", [q.name, kt.name], (n, heads, s, keys))
    scaled = g.node("Mul", [scores.name, g.constant(np.array(1 / np.sqrt(hd), "float32"), "c")], scores.shape)
    if causal:  # query i sees the cache and the new positions up to its own
        mask = np.triu(np.full((s, keys), -1e4, "float32"), k=past + 1)[None, None]
        scaled = g.node("Add", [scaled.name, g.constant(mask, "mask")], scaled.shape)
    probs = g.node("Softmax", [scaled.name], scaled.shape, axis=-1)
    attended = g.node("MatMul", [probs.name, v.name], (n, heads, s, hd))
    merged = g.node("Transpose", [attended.name], (n, s, heads, hd), perm=[0, 2, 1, 3])
    shape = g.constant(np.array([n, s, d], "int64"), "shape")
    return linear(g, g.node("Reshape", [merged.name, shape], (n, s, d)), d)


def encoder_layer(g: Graph, x: Tensor, heads: int, *, act: str | None = None, causal: bool = False,
                  past: int = 0) -> Tensor:
    """A pre-norm transformer layer: attention and an MLP (width 2x or 4x), each with a residual add.

    The MLP's activation is ``act``, or drawn from :data:`ACTIVATIONS` when ``None``.
    """
    d = x.shape[-1]
    x = g.node("Add", [x.name, attention(g, layer_norm(g, x), heads, causal=causal, past=past).name], x.shape)
    widened = linear(g, layer_norm(g, x), d * int(pick(g.rng, (2, 4))))
    hidden = g.activation(widened) if act is None else g.apply(act, widened)
    return g.node("Add", [x.name, linear(g, hidden, d).name], x.shape)


def patch_tokens(g: Graph, image: Tensor, dim: int, patch: int) -> Tensor:
    """Non-overlapping patches embedded by a strided convolution, as tokens ``(n, patches, dim)``."""
    x = conv(g, image, dim, patch, stride=patch, pad=0)
    n, _, h, w = x.shape
    flat = g.node("Reshape", [x.name, g.ints([n, dim, h * w])], (n, dim, h * w))
    return g.node("Transpose", [flat.name], (n, h * w, dim), perm=[0, 2, 1])


def heads_for(rng: np.random.Generator, dim: int) -> int:
    """A head count that divides ``dim``."""
    return int(pick(rng, [h for h in (2, 4, 6, 8) if dim % h == 0]))
