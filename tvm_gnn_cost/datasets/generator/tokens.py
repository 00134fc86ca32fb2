"""Token model families: transformer encoders, vision transformers, MLP-mixers, causal decoders, recurrent cells.

Each family is ``family(g, batch) -> (input, output)``. :func:`transformer` is the version-1
family and draws exactly what it drew then; the others were added in version 2.
"""

from __future__ import annotations

import numpy as np

from .layers import Graph, Tensor, encoder_layer, heads_for, layer_norm, linear, pick, patch_tokens


def transformer(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """Input tokens -> pre-norm encoder layers (attention + MLP, residual adds) -> mean over tokens."""
    rng = g.rng
    seq, d = int(pick(rng, (16, 32, 64, 128, 196))), int(pick(rng, (64, 128, 192, 256, 384)))
    heads = heads_for(rng, d)
    tokens = Tensor("input", (batch, seq, d))
    x = tokens
    for _ in range(int(rng.integers(1, 4))):
        x = encoder_layer(g, x, heads)
    return tokens, g.node("ReduceMean", [x.name], (batch, d), axes=[1], keepdims=0)


def _image_tokens(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """An image cut into patches and embedded as tokens, as ViTs and mixers start."""
    rng = g.rng
    size = int(pick(rng, [s for s in (32, 64, 96, 224) if batch * s * s <= 4 * 224 * 224] or [32]))
    patch = int(pick(rng, [p for p in (4, 8, 16, 32) if size % p == 0 and 4 <= (size // p) ** 2 <= 256]))
    image = Tensor("input", (batch, 3, size, size))
    return image, patch_tokens(g, image, int(pick(rng, (64, 128, 192, 256, 384))), patch)


def _pooled_logits(g: Graph, x: Tensor) -> Tensor:
    """Final layer norm, mean over tokens, a dense head."""
    n, _, d = x.shape
    mean = g.node("ReduceMean", [layer_norm(g, x).name], (n, d), axes=[1], keepdims=0)
    return linear(g, mean, int(pick(g.rng, (10, 100, 1000))))


def vit(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """A vision transformer: patch embedding, learned position embedding, GELU encoder layers."""
    rng = g.rng
    image, x = _image_tokens(g, batch)
    _, t, d = x.shape
    x = g.node("Add", [x.name, g.constant((0.02 * rng.standard_normal((1, t, d))).astype("float32"))], x.shape)
    heads = heads_for(rng, d)
    for _ in range(int(rng.integers(1, 5))):
        x = encoder_layer(g, x, heads, act="Gelu")
    return image, _pooled_logits(g, x)


def mixer(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """An MLP-mixer: patch embedding, then token-mixing and channel-mixing MLPs with residual adds."""
    rng = g.rng
    image, x = _image_tokens(g, batch)
    n, t, d = x.shape

    def mlp(y: Tensor, width: int) -> Tensor:
        return linear(g, g.apply("Gelu", linear(g, y, width)), y.shape[-1])

    for _ in range(int(rng.integers(1, 5))):
        across = g.node("Transpose", [layer_norm(g, x).name], (n, d, t), perm=[0, 2, 1])
        mixed = mlp(across, int(pick(rng, (32, 64, 128, 256))))
        x = g.node("Add", [x.name, g.node("Transpose", [mixed.name], (n, t, d), perm=[0, 2, 1]).name], x.shape)
        x = g.node("Add", [x.name, mlp(layer_norm(g, x), d * int(pick(rng, (2, 4)))).name], x.shape)
    return image, _pooled_logits(g, x)


def decoder(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """A causal decoder: masked self-attention over a prompt, or one decoding step over a KV cache."""
    rng = g.rng
    d = int(pick(rng, (64, 128, 256, 384, 512)))
    if rng.random() < 0.3:  # a decoding step: a few new tokens attend to a cache of earlier ones
        seq, past = int(pick(rng, (1, 1, 2, 4))), int(pick(rng, [p for p in (63, 127, 255, 511) if batch * p <= 2048]))
    else:
        seq, past = int(pick(rng, [s for s in (8, 16, 32, 64, 128, 256, 512) if batch * s <= 2048])), 0
    heads = heads_for(rng, d)
    tokens = Tensor("input", (batch, seq, d))
    x, act = tokens, str(pick(rng, ("Gelu", "Relu")))
    for _ in range(int(rng.integers(1, 4))):
        x = encoder_layer(g, x, heads, act=act, causal=True, past=past)
    return tokens, linear(g, layer_norm(g, x), int(pick(rng, (256, 1000, 4096))))


def rnn(g: Graph, batch: int) -> tuple[Tensor, Tensor]:
    """LSTM or GRU layers unrolled over a short sequence into matmuls, gate slices and element-wise updates."""
    rng = g.rng
    cell = str(pick(rng, ("lstm", "gru")))
    steps, features = int(rng.integers(3, 9)), int(pick(rng, (32, 64, 128, 256)))
    sequence = Tensor("input", (batch, steps, features))
    xs = [g.node("Gather", [sequence.name, g.scalar(t)], (batch, features), axis=1)
          for t in range(steps)]
    for _ in range(int(rng.integers(1, 3))):
        hidden = int(pick(rng, (64, 128, 256, 512)))
        xs = _unrolled(g, xs, hidden, cell)
    return sequence, linear(g, xs[-1], int(pick(rng, (10, 100, 1000))))


def _unrolled(g: Graph, xs: list[Tensor], hidden: int, cell: str) -> list[Tensor]:
    """One recurrent layer over inputs ``xs``: its hidden state after every step."""
    n, gates = xs[0].shape[0], 4 if cell == "lstm" else 3
    w = g.weight((xs[0].shape[1], gates * hidden), xs[0].shape[1])
    u = g.weight((hidden, gates * hidden), hidden)
    b = g.bias(gates * hidden)
    h = c = Tensor(g.constant(np.zeros((n, hidden), "float32"), "zeros"), (n, hidden))

    def matmul(x: Tensor, weight: str) -> Tensor:
        return g.node("MatMul", [x.name, weight], (n, gates * hidden))

    def gate(t: Tensor, i: int) -> Tensor:
        return g.node("Slice", [t.name, g.ints([i * hidden]), g.ints([(i + 1) * hidden]), g.ints([1])], (n, hidden))

    def op(kind: str, *args: Tensor) -> Tensor:
        return g.node(kind, [a.name for a in args], (n, hidden))

    states = []
    for x in xs:
        if cell == "lstm":
            z = g.node("Add", [op("Add", matmul(x, w), matmul(h, u)).name, b], (n, gates * hidden))
            i, f, cand, o = (op("Tanh" if k == 2 else "Sigmoid", gate(z, k)) for k in range(4))
            c = op("Add", op("Mul", f, c), op("Mul", i, cand))
            h = op("Mul", o, op("Tanh", c))
        else:
            zx, zh = (g.node("Add", [matmul(t, m).name, b], (n, gates * hidden)) for t, m in ((x, w), (h, u)))
            r, z = (op("Sigmoid", op("Add", gate(zx, k), gate(zh, k))) for k in range(2))
            cand = op("Tanh", op("Add", gate(zx, 2), op("Mul", r, gate(zh, 2))))
            h = op("Add", cand, op("Mul", z, op("Sub", h, cand)))  # (1 - z) * cand + z * h
        states.append(h)
    return states
