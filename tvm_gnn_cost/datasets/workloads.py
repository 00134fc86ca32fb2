"""What we tune: named operator workloads, TVM's operator benchmark set, and ONNX zoo models' tasks."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tvm.ir import IRModule
    from tvm.target import Target
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


def _attention_scores(seq: int, heads: int, dim: int) -> Callable[[], PrimFunc]:
    """A transformer's attention scores Q K^T from (batch, seq, heads, dim) queries and keys,
    both transposed into heads inside the task (MetaSchedule's "TBG" benchmark workload)."""

    def make() -> PrimFunc:
        from tvm import te
        from tvm.s_tir.meta_schedule.testing import te_workload

        return te.create_prim_func(te_workload.transpose_batch_matmul(1, seq, heads, dim))

    return make


#: Workload name -> builder of its PrimFunc. Shapes are ResNet-style layers and BERT-base attention.
WORKLOADS: dict[str, Callable[[], PrimFunc]] = {
    "gemm-128": _gemm(128),
    "gemm-256": _gemm(256),
    "gemm-512": _gemm(512),
    "conv2d-14x14x64": _conv2d(1, 14, 64, 64, 3, 1, 1),
    "conv2d-28x28x128": _conv2d(1, 28, 128, 128, 3, 1, 1),
    "conv2d-bias-relu-14x14x64": _conv2d_bias_relu(1, 14, 64, 64, 3, 1, 1),
    "attention-128x12x64": _attention_scores(128, 12, 64),
}

#: The demo's default workload set: a GEMM and a ResNet conv2d layer.
DEMO_WORKLOADS: tuple[str, ...] = ("gemm-256", "conv2d-28x28x128")


@dataclass(frozen=True)
class Task:
    """A tuning task: a one-function ``IRModule`` (``main``), its weight in its model, where it came from."""

    name: str
    mod: IRModule
    weight: float
    source: str


def get_workload(name: str) -> PrimFunc:
    """The PrimFunc of a named workload; raises ``KeyError`` naming the known ones."""
    try:
        return WORKLOADS[name]()
    except KeyError:
        raise KeyError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}") from None


def workload_task(name: str) -> Task:
    """A named workload as a :class:`Task` (weight 1)."""
    from tvm import IRModule

    return Task(name, IRModule({"main": get_workload(name)}), 1.0, "workloads")


#: The models of the ONNX model zoo's "light" set that the ``onnx`` wheel ships (name -> file).
ONNX_ZOO: dict[str, str] = {
    name: f"light_{name}.onnx"
    for name in ("resnet50", "squeezenet", "densenet121", "inception_v1", "inception_v2", "shufflenet",
                 "vgg19", "bvlc_alexnet", "zfnet512")
}

#: Suites ``collect`` knows: TVM's operator benchmark set plus each zoo model's tasks.
SUITES: tuple[str, ...] = ("ops", *ONNX_ZOO)


def onnx_zoo_path(name: str) -> Path:
    """The file of a zoo model shipped in the ``onnx`` package; ``KeyError`` names the known ones."""
    import onnx

    if name not in ONNX_ZOO:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(ONNX_ZOO)}")
    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / ONNX_ZOO[name]


def onnx_model_path(model: str) -> tuple[str, Path]:
    """A model's name and ONNX file: ``model`` is a file path or the name of a zoo model (:data:`ONNX_ZOO`)."""
    if Path(model).exists():
        return Path(model).stem, Path(model)
    if model not in ONNX_ZOO:
        raise FileNotFoundError(f"{model}: no such file, nor a zoo model ({', '.join(ONNX_ZOO)})")
    return model, onnx_zoo_path(model)


def operator_tasks(configs: Sequence[int] = (1, 2)) -> list[Task]:
    """Tasks of ``te_workload.CONFIGS`` (GEMM, conv1d/2d/3d, depthwise, ...), the given shape indices of each."""
    from tvm import IRModule
    from tvm.s_tir.meta_schedule.testing import te_workload

    return [
        Task(f"{family}-{i}", IRModule({"main": te_workload.create_te_workload(family, i)}), 1.0, "te_workload")
        for family, (_, shapes) in te_workload.CONFIGS.items()
        for i in configs
        if i < len(shapes)
    ]


def prepare_for_extraction(mod: IRModule) -> IRModule:
    """The Relax passes after which ``extract_tasks`` sees fused TIR functions (it finds none before)."""
    import tvm
    from tvm import relax

    passes = [
        relax.transform.DecomposeOpsForInference(),
        relax.transform.LegalizeOps(),
        relax.transform.AnnotateTIROpPattern(),
        relax.transform.FoldConstant(),
        relax.transform.FuseOps(),
        relax.transform.FuseTIR(),
    ]
    return tvm.transform.Sequential(passes)(mod)


def relax_tasks(mod: IRModule, target: Target, prefix: str, source: str) -> list[Task]:
    """The tuning tasks of a Relax model (``prepare_for_extraction`` applied here), named ``prefix.task``.

    Functions that arrive already scheduled are left out, as ``tune_relax`` does.
    """
    from tvm.s_tir import meta_schedule as ms

    return [
        Task(f"{prefix}.{t.task_name}", t.mod, float(t.weight), source)
        for t in ms.relax_integration.extract_tasks(prepare_for_extraction(mod), target)
        if not (t.mod.attrs and t.mod.attrs.get("tirx.is_scheduled", False))
    ]


def heaviest_first(tasks: Sequence[Task]) -> list[Task]:
    """Tasks by weight x FLOPs, largest first: roughly the share of the model's time each takes."""
    from tvm.s_tir.analysis import estimate_tir_flops

    return sorted(tasks, key=lambda t: -t.weight * estimate_tir_flops(t.mod))


def model_tasks(name: str, target: Target) -> list[Task]:
    """The tuning tasks of a zoo model, imported with TVM's Relax ONNX frontend, named ``model.task``."""
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    return relax_tasks(from_onnx(onnx.load(onnx_zoo_path(name)), keep_params_in_input=False), target, name,
                       f"onnx:{name}")


def suite_tasks(suites: Sequence[str], target: Target, *, op_configs: Sequence[int] = (1, 2),
                exclude: Collection[str] = ()) -> list[Task]:
    """Tasks of the named suites, without repeats: a task equal to an earlier one (structurally) is dropped.

    So is a task whose structural hash (hex) is in ``exclude``, e.g. a task of a held-out model.
    """
    import tvm_ffi

    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise KeyError(f"unknown suite {unknown[0]!r}; known: {', '.join(SUITES)}")
    seen = set(exclude)
    tasks = []
    for suite in suites:
        for task in operator_tasks(op_configs) if suite == "ops" else model_tasks(suite, target):
            key = f"{tvm_ffi.structural_hash(task.mod):016x}"
            if key not in seen:
                seen.add(key)
                tasks.append(task)
    return tasks
