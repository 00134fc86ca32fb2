"""Random but realistic networks as ONNX models: the pretraining data behind ``tvm-gnn-cost generate``.

A model is a random DAG of the operators real networks use, drawn from one seed in one of the
families of its generator version (:data:`FAMILIES`). Version 1 drew CNNs (convolutions with
varied kernels, strides, dilations, groups and padding; depthwise convolutions; batch norm;
activations; pooling; residual adds; channel concatenation; a dense head) and transformer
encoders, batch 1 to 4. Version 2 adds mobile networks (depthwise-separable inverted residuals,
squeeze-excite, hard-swish), U-Nets (transposed convolutions, resizing, skip concatenations),
1-D and 3-D CNNs, vision transformers and MLP-mixers over image patches, causal decoders
(masked attention over prompts of 8 to 512 tokens, or one decoding step over a KV cache), and
LSTM/GRU cells unrolled into matmuls, gate slices and element-wise updates; batch 1 to 16.
Shapes come from the ranges such models use (capped so a task stays quick to measure).
Weights are He-initialised so activations keep their scale through the depth and outputs are
never constant (an output check on constant outputs proves nothing).

Every model is checked before its tasks are measured (:func:`check_model`): it imports with
TVM's ONNX frontend, builds with TVM's default pipeline, and its outputs match onnxruntime's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import tokens, vision
from .layers import Graph, Tensor, pick

if TYPE_CHECKING:
    import onnx
    from tvm.target import Target

    from ..frontends import ImportedModel
    from ..workloads import Task

logger = logging.getLogger(__name__)

#: The newest generator version: what a new model is drawn with. Every model records its own.
GENERATOR_VERSION = 2
#: ONNX opset of generated models (LayerNormalization needs 17) and the IR version onnxruntime reads.
OPSET, IR_VERSION = 17, 8

Family = Callable[[Graph, int], tuple[Tensor, Tensor]]
#: Model families and their probabilities, by generator version. Version 1 is what seed 0's committed
#: data was drawn from; it must keep drawing the same models.
FAMILIES: dict[int, dict[str, tuple[Family, float]]] = {
    1: {"cnn": (vision.cnn, 0.7), "transformer": (tokens.transformer, 0.3)},
    2: {
        "cnn": (vision.cnn, 0.15),
        "mobile": (vision.mobile, 0.14),
        "unet": (vision.unet, 0.10),
        "conv1d": (vision.conv1d, 0.08),
        "conv3d": (vision.conv3d, 0.07),
        "vit": (tokens.vit, 0.10),
        "mixer": (tokens.mixer, 0.07),
        "transformer": (tokens.transformer, 0.07),
        "decoder": (tokens.decoder, 0.13),
        "rnn": (tokens.rnn, 0.09),
    },
}
#: Batch sizes drawn (uniformly from the tuple), by generator version.
BATCHES = {1: (1, 1, 1, 2, 4), 2: (1, 1, 2, 4, 8, 16)}


def random_model(seed: int, name: str | None = None, *, version: int = GENERATOR_VERSION) -> onnx.ModelProto:
    """A random model of generator ``version``, reproducible from ``seed``.

    The graph is named ``name`` or ``gen<seed>-<family>``; from version 2 the family and the
    version are also in the model's metadata (``family``, ``generator_version``).
    """
    from onnx import TensorProto, checker, helper

    g = Graph(np.random.default_rng(seed))
    batch, family = _batch_and_family(g.rng, version)
    x, y = FAMILIES[version][family][0](g, batch)
    graph = helper.make_graph(
        g.nodes, name or f"gen{seed}-{family}",
        [helper.make_tensor_value_info(x.name, TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info(y.name, TensorProto.FLOAT, y.shape)],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    if version > 1:
        helper.set_model_props(model, {"family": family, "generator_version": str(version)})
    checker.check_model(model, full_check=True)  # shapes we tracked agree with ONNX's inference
    return model


def _batch_and_family(rng: np.random.Generator, version: int) -> tuple[int, str]:
    """The first two draws of a model: its batch size and its family."""
    if version not in FAMILIES:
        raise ValueError(f"unknown generator version {version}; known: {sorted(FAMILIES)}")
    batch, draw, total = int(pick(rng, BATCHES[version])), rng.random(), 0.0
    for family, (_, share) in FAMILIES[version].items():
        total += share
        if draw < total:
            return batch, family
    return batch, family  # shares that add up to slightly less than 1


def model_family(seed: int, version: int = GENERATOR_VERSION) -> str:
    """The family :func:`random_model` draws for ``seed`` (without building the model)."""
    return _batch_and_family(np.random.default_rng(seed), version)[1]


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

    from ..frontends import compare_outputs, vm_outputs

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
    **options: Any,
) -> tuple[list[Task], dict[str, dict]]:
    """Every task :func:`iter_generated_tasks` yields, and ``out/models.json``'s content after it."""
    tasks = list(iter_generated_tasks(out, count, seed, target, **options))
    return tasks, json.loads((out / "models.json").read_text())


def iter_generated_tasks(
    out: Path,
    count: int,
    seed: int,
    target: Target,
    *,
    check_target: Target | None = None,
    exclude: Collection[str] = (),
    done: Collection[str] = (),
    version: int = GENERATOR_VERSION,
    on_model: Callable[[str, dict], None] | None = None,
) -> Iterator[Task]:
    """Generate ``count`` models into ``out/models``, check each, and yield their distinct tasks as they come.

    A model new to ``out`` is drawn with generator ``version``; one ``models.json`` already lists
    keeps the version recorded there (1 when none is, as before versions were recorded), so a
    resumed directory regenerates the same models. Each model is written as ONNX
    (``gen<seed>-<index>.onnx``) and checked once with
    :func:`check_model` on ``check_target`` (default: this machine's CPU); the verdict, the
    reason and the model's new tasks go to ``out/models.json``, so a rerun neither regenerates
    nor rechecks. A model that fails is logged and skipped, and so is one whose recorded tasks
    are all in ``done`` (e.g. packed into chunks: it is not even imported). Tasks are
    de-duplicated across models by structural hash: a task equal to one of an earlier model is
    yielded once, under that model's name; a task whose hash (hex) is in ``exclude`` is left out
    (measured elsewhere, or a task of a model no training may see). Yielding model by model
    lets measuring start with the first model rather than after the last.
    """
    import onnx
    import tvm_ffi

    from ...files import write_json
    from ...search.measure import host_target
    from ..frontends import ModelImportError, load_onnx
    from ..workloads import relax_tasks

    models_dir = out / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    index_path = out / "models.json"
    index: dict[str, dict] = json.loads(index_path.read_text()) if index_path.exists() else {}
    seen, done = set(exclude), set(done)
    for i in range(count):
        name = f"gen{seed}-{i:04d}"
        entry = index.get(name)
        if entry and entry["status"] == "ok" and "tasks" in entry and done.issuperset(entry["tasks"]):
            if on_model:
                on_model(name, entry)
            continue
        path = models_dir / f"{name}.onnx"
        drawn_with = entry.get("version", 1) if entry else version
        if not path.exists():
            onnx.save(random_model(model_seed(seed, i), name, version=drawn_with), str(path))
        try:
            imported = load_onnx(path)
        except ModelImportError as err:
            entry = {"status": "failed", "reason": str(err), "seed": model_seed(seed, i), "version": drawn_with}
        if entry is None:
            check = check_model(imported, check_target or host_target())
            entry = {"status": "ok" if check.ok else "failed", "reason": check.reason,
                     "max_abs_error": check.max_abs_error, "seed": model_seed(seed, i), "version": drawn_with,
                     "family": model_family(model_seed(seed, i), drawn_with)}
        new = []
        if entry["status"] == "ok":
            for task in relax_tasks(imported.mod, target, name, f"generated:{name}"):
                key = f"{tvm_ffi.structural_hash(task.mod):016x}"
                if key not in seen:
                    seen.add(key)
                    new.append(task)
            entry = {**entry, "tasks": entry.get("tasks", [t.name for t in new])}  # as first found: done skips by it
        else:
            logger.warning("generated model %s skipped: %s", path, entry["reason"])
        if index.get(name) != entry:
            index[name] = entry
            write_json(index_path, index)
        if on_model:
            on_model(name, entry)
        yield from new
