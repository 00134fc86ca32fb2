"""Convolutional model families: plain CNNs, mobile (inverted-residual) networks, U-Nets, 1-D and 3-D CNNs.

Each family is ``family(g, batch) -> (input, output)``. :func:`cnn` is the version-1 family and
draws exactly what it drew then; the others were added in version 2.
"""

from __future__ import annotations

import numpy as np

from .layers import Graph, Tensor, classifier, conv, conv_bn_act, pick, pool, round8


def _cnn_conv(g: Graph, x: Tensor, *, same_shape: bool = False) -> Tensor:
    """A convolution with random kernel, stride, dilation, groups and padding, then maybe BN and an activation.

    ``same_shape`` keeps channels and size (stride 1, "same" padding), as a residual branch needs.
    """
    n, c, h, w = x.shape
    rng = g.rng
    kernel = int(pick(rng, (1, 3, 3, 3, 5, 7) if min(h, w) >= 7 else (1, 3)))
    depthwise = kernel > 1 and rng.random() < 0.25
    out = c if depthwise or same_shape else int(min(512, max(8, c * pick(rng, (0.5, 1, 1, 2, 2, 4)))) // 8 * 8)
    groups = c if depthwise else int(pick(rng, [d for d in (1, 1, 1, 2, 4) if c % d == 0 and out % d == 0]))
    dilation = 2 if kernel == 3 and min(h, w) >= 14 and rng.random() < 0.2 else 1
    stride = 2 if not same_shape and min(h, w) >= 8 and rng.random() < 0.3 else 1
    span = dilation * (kernel - 1)
    pad = span // 2 if same_shape or rng.random() < 0.8 or min(h, w) <= span else 0
    oh, ow = (h + 2 * pad - span - 1) // stride + 1, (w + 2 * pad - span - 1) // stride + 1
    inputs = [x.name, g.weight((out, c // groups, kernel, kernel), c // groups * kernel * kernel)]
    if rng.random() < 0.5:
        inputs.append(g.bias(out))
    y = g.node("Conv", inputs, (n, out, oh, ow), kernel_shape=[kernel, kernel], strides=[stride, stride],
               dilations=[dilation, dilation], group=groups, pads=[pad] * 4)
    if rng.random() < 0.6:
        y = g.batch_norm(y)
    return g.activation(y)


def _cnn_pool(g: Graph, x: Tensor) -> Tensor:
    n, c, h, w = x.shape
    kernel = int(pick(g.rng, (2, 3)))
    pad = 1 if kernel == 3 else 0
    oh, ow = (h + 2 * pad - kernel) // 2 + 1, (w + 2 * pad - kernel) // 2 + 1
    op = "MaxPool" if g.rng.random() < 0.6 else "AveragePool"
    return g.node(op, [x.name], (n, c, oh, ow), kernel_shape=[kernel, kernel], strides=[2, 2], pads=[pad] * 4)


def cnn(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """Input -> stem conv -> random blocks (conv, residual, two-branch concat, pooling) -> dense head."""
    rng = g.rng
    size = int(pick(rng, (32, 56, 64, 112, 224)))
    image = Tensor("input", (batch, 3, size, size))
    width, half = int(pick(rng, (16, 24, 32, 64))), (size - 1) // 2 + 1
    x = g.node("Conv", ["input", g.weight((width, 3, 3, 3), 27)], (batch, width, half, half),
               kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = g.activation(g.batch_norm(x))
    for _ in range(int(rng.integers(3, 9))):
        kind = rng.random()
        if kind < 0.45:
            x = _cnn_conv(g, x)
        elif kind < 0.65:  # residual: a conv that keeps the shape, added to its input
            x = g.activation(g.node("Add", [x.name, _cnn_conv(g, x, same_shape=True).name], x.shape))
        elif kind < 0.8:  # two branches from one input, concatenated along channels
            a, b = _cnn_conv(g, x), _cnn_conv(g, x)
            if a.shape[2:] == b.shape[2:]:
                x = g.node("Concat", [a.name, b.name], (batch, a.shape[1] + b.shape[1], *a.shape[2:]), axis=1)
            else:
                x = a
        elif min(x.shape[2:]) >= 4:
            x = _cnn_pool(g, x)
    pooled = g.node("GlobalAveragePool", [x.name], (*x.shape[:2], 1, 1))
    flat = g.node("Flatten", [pooled.name], x.shape[:2])
    classes = int(pick(rng, (10, 100, 1000)))
    logits = g.node("Gemm", [flat.name, g.weight((classes, x.shape[1]), x.shape[1]),
                             g.constant(np.zeros(classes, "float32"))], (batch, classes), transB=1)
    if rng.random() < 0.5:
        logits = g.node("Softmax", [logits.name], logits.shape, axis=-1)
    return image, logits


def _squeeze_excite(g: Graph, x: Tensor) -> Tensor:
    """Channel attention: global pool, reduce, ReLU, expand, hard sigmoid, rescale (MobileNetV3's SE)."""
    n, c = x.shape[:2]
    squeezed = g.node("GlobalAveragePool", [x.name], (n, c, 1, 1))
    reduced = g.apply("Relu", conv(g, squeezed, round8(c / 4), 1))
    gate = g.node("HardSigmoid", [conv(g, reduced, c, 1).name], (n, c, 1, 1), alpha=1 / 6, beta=0.5)
    return g.node("Mul", [x.name, gate.name], x.shape)


def _inverted_residual(g: Graph, x: Tensor, out: int, *, expand: int, kernel: int, stride: int, se: bool,
                       act: str) -> Tensor:
    """MobileNetV2/V3 block: 1x1 expansion, depthwise k x k, squeeze-excite, linear 1x1 projection, residual."""
    c = x.shape[1]
    y = conv_bn_act(g, x, c * expand, 1, act) if expand > 1 else x
    y = conv_bn_act(g, y, y.shape[1], kernel, act, stride=stride, groups=y.shape[1])  # depthwise
    if se:
        y = _squeeze_excite(g, y)
    y = g.batch_norm(conv(g, y, out, 1, bias=False))
    return g.node("Add", [x.name, y.name], y.shape) if y.shape == x.shape else y


def mobile(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """A mobile network: depthwise-separable inverted residuals with squeeze-excite and hard-swish."""
    rng = g.rng
    size = int(pick(rng, [s for s in (96, 128, 160, 224) if batch * s * s <= 4 * 224 * 224] or [96]))
    act = str(pick(rng, ("Relu", "HardSwish", "HardSwish")))
    image = Tensor("input", (batch, 3, size, size))
    x = conv_bn_act(g, image, int(pick(rng, (16, 24, 32))), 3, act, stride=2)
    for _ in range(int(rng.integers(3, 8))):
        stride = 2 if x.shape[2] >= 8 and rng.random() < 0.35 else 1
        out = round8(x.shape[1] * pick(rng, (1, 1, 1.5, 2)), high=320)
        x = _inverted_residual(g, x, out, expand=int(pick(rng, (1, 3, 4, 6))), kernel=int(pick(rng, (3, 5))),
                               stride=stride, se=rng.random() < 0.5, act=act)
    x = conv_bn_act(g, x, int(pick(rng, (256, 576, 960))), 1, act)
    return image, classifier(g, x, int(pick(rng, (10, 100, 1000))))


def unet(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """A U-Net: conv blocks and pooling down, transposed convolutions or resizing up, skip concatenations."""
    rng = g.rng
    size = int(pick(rng, [s for s in (32, 64, 128) if batch * s * s <= 4 * 128 * 128] or [32]))
    image = Tensor("input", (batch, int(pick(rng, (1, 3))), size, size))
    width, act = int(pick(rng, (8, 16, 32))), str(pick(rng, ("Relu", "LeakyRelu")))
    x, skips = image, []
    for level in range(int(rng.integers(2, 4))):
        for _ in range(int(rng.integers(1, 3))):
            x = conv_bn_act(g, x, width << level, 3, act)
        skips.append(x)
        x = pool(g, x, "MaxPool", 2, 2)
    x = conv_bn_act(g, x, width << len(skips), 3, act)
    for skip in reversed(skips):
        n, c, h, w = x.shape
        out = skip.shape[1]
        if rng.random() < 0.5:  # learned upsampling
            x = g.node("ConvTranspose", [x.name, g.weight((c, out, 2, 2), c * 4), g.bias(out)], (n, out, 2 * h, 2 * w),
                       kernel_shape=[2, 2], strides=[2, 2])
        else:  # resize, then a 1x1 convolution to the skip's width
            mode = str(pick(rng, ("nearest", "linear")))
            scales = g.constant(np.array([1, 1, 2, 2], "float32"), "scales")
            x = conv(g, g.node("Resize", [x.name, "", scales], (n, c, 2 * h, 2 * w), mode=mode), out, 1)
        x = g.node("Concat", [skip.name, x.name], (n, 2 * out, 2 * h, 2 * w), axis=1)
        x = conv_bn_act(g, x, out, 3, act)
    masks = conv(g, x, int(pick(rng, (1, 2, 4, 8))), 1)
    return image, g.node("Sigmoid", [masks.name], masks.shape) if rng.random() < 0.5 else masks


def conv1d(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """A 1-D CNN over a signal (audio, sensors, text embeddings): strided, dilated, grouped, residual."""
    rng = g.rng
    length = int(pick(rng, [n for n in (128, 256, 512, 1024, 2048) if batch * n <= 8192] or [128]))
    signal = Tensor("input", (batch, int(pick(rng, (1, 8, 16, 40, 64))), length))
    act = str(pick(rng, ("Relu", "LeakyRelu", "Tanh", "HardSwish")))
    x = conv_bn_act(g, signal, int(pick(rng, (16, 32, 64))), int(pick(rng, (5, 7, 9, 11))), act, stride=2)
    for _ in range(int(rng.integers(2, 7))):
        kind, c = rng.random(), x.shape[1]
        if kind < 0.5:
            out = round8(c * pick(rng, (1, 1, 2)), high=256)
            groups = int(pick(rng, [d for d in (1, 1, 2, 4) if c % d == 0 and out % d == 0]))
            stride = 2 if x.shape[2] >= 16 and rng.random() < 0.4 else 1
            x = conv_bn_act(g, x, out, int(pick(rng, (1, 3, 5, 7, 9))), act, stride=stride,
                            dilation=int(pick(rng, (1, 1, 2, 4))), groups=groups)
        elif kind < 0.75:  # residual, dilated
            y = conv_bn_act(g, x, c, 3, act, dilation=int(pick(rng, (1, 2, 4))))
            x = g.node("Add", [x.name, y.name], x.shape)
        elif x.shape[2] >= 4:
            x = pool(g, x, str(pick(rng, ("MaxPool", "AveragePool"))), int(pick(rng, (2, 3))), 2)
    return signal, classifier(g, x, int(pick(rng, (10, 35, 100))))


def conv3d(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """A 3-D CNN over a short clip or a volume: 3x3x3 and 1x1x1 convolutions, pooling, residuals."""
    rng = g.rng
    depth = int(pick(rng, (4, 8, 16)))
    size = int(pick(rng, [s for s in (16, 32, 56) if batch * depth * s * s <= 4 * 8 * 56 * 56] or [16]))
    clip = Tensor("input", (batch, int(pick(rng, (1, 3))), depth, size, size))
    x = conv_bn_act(g, clip, int(pick(rng, (8, 16, 32))), 3, "Relu")
    for _ in range(int(rng.integers(2, 5))):
        kind, c = rng.random(), x.shape[1]
        if kind < 0.5:
            stride = 2 if min(x.shape[2:]) >= 4 and rng.random() < 0.4 else 1
            x = conv_bn_act(g, x, round8(c * pick(rng, (1, 2)), high=128), int(pick(rng, (1, 3, 3))), "Relu",
                            stride=stride)
        elif kind < 0.75:
            x = g.node("Add", [x.name, conv_bn_act(g, x, c, 3, None).name], x.shape)
        elif min(x.shape[2:]) >= 2:
            x = pool(g, x, "MaxPool", 2, 2)
    return clip, classifier(g, x, int(pick(rng, (10, 101, 400))))
