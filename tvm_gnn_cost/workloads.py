"""Named operator workloads, built from TVM's own benchmark set (``te_workload``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tvm.tirx import PrimFunc


def _gemm(n: int) -> Callable[[], PrimFunc]:
    def make() -> PrimFunc:
        from tvm import te
        from tvm.s_tir.meta_schedule.testing import te_workload

        return te.create_prim_func(te_workload.matmul(n, n, n))

    return make


def _conv2d(n: int, hw: int, ci: int, co: int, k: int, stride: int, pad: int) -> Callable[[], PrimFunc]:
    def make() -> PrimFunc:
        from tvm import te
        from tvm.s_tir.meta_schedule.testing import te_workload

        return te.create_prim_func(te_workload.conv2d_nhwc(n, hw, hw, ci, co, k, stride, pad))

    return make


def _conv2d_bias_relu(n: int, hw: int, ci: int, co: int, k: int, stride: int, pad: int) -> Callable[[], PrimFunc]:
    """conv2d (NHWC) + per-channel bias + ReLU: the fused group Relax's FuseOps produces."""

    def make() -> PrimFunc:
        from tvm import te, topi
        from tvm.s_tir.meta_schedule.testing import te_workload

        inputs, weight, conv = te_workload.conv2d_nhwc(n, hw, hw, ci, co, k, stride, pad)
        bias = te.placeholder((co,), name="bias")
        biased = te.compute(conv.shape, lambda b, h, w, c: conv[b, h, w, c] + bias[c], name="T_add")
        return te.create_prim_func([inputs, weight, bias, topi.nn.relu(biased)])

    return make


#: Workload name -> builder of its PrimFunc. Shapes are ResNet-style layers.
WORKLOADS: dict[str, Callable[[], PrimFunc]] = {
    "gemm-128": _gemm(128),
    "gemm-256": _gemm(256),
    "gemm-512": _gemm(512),
    "conv2d-14x14x64": _conv2d(1, 14, 64, 64, 3, 1, 1),
    "conv2d-28x28x128": _conv2d(1, 28, 128, 128, 3, 1, 1),
    "conv2d-bias-relu-14x14x64": _conv2d_bias_relu(1, 14, 64, 64, 3, 1, 1),
}

#: The demo's default workload set: a GEMM and a ResNet conv2d layer.
DEMO_WORKLOADS: tuple[str, ...] = ("gemm-256", "conv2d-28x28x128")


def get_workload(name: str) -> PrimFunc:
    """The PrimFunc of a named workload; raises ``KeyError`` naming the known ones."""
    try:
        return WORKLOADS[name]()
    except KeyError:
        raise KeyError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}") from None
