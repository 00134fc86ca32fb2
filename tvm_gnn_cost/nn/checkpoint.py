"""Checkpoint files: a dict of plain values and tensors, loaded with ``weights_only=True``.

A checkpoint says how to rebuild itself (``format_version``, ``architecture``, the model and
training configs) and holds the weights and optimizer state as ``state_dict``\\ s. Loading
never unpickles code; a file of another format version or architecture, or one whose zip
entries fail their CRC check, is refused with an error naming the file. Saving writes a temporary file and renames it, so an interrupted
save leaves the previous file intact.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from ..files import atomic_open
from .model import ARCHITECTURE, GNNConfig
from .training import TrainConfig

#: Bumped whenever the checkpoint layout or the feature layout changes. Version 2 added the CPU's
#: features (:data:`graph.CPU_FEATURES`); a version-1 file still loads, as a network without them.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used by this version of tvm_gnn_cost.

    :mod:`tvm_gnn_cost.cost_model` registers it with tvm_ffi, so it keeps its type when raised
    through ``CostModel.load``.
    """


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Atomically write ``state`` (plus format version and architecture) to ``path``."""
    path = Path(path)
    payload = {"format_version": FORMAT_VERSION, "architecture": ARCHITECTURE, **state}
    with atomic_open(path) as f:
        torch.save(payload, f)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a checkpoint; raises :class:`CheckpointError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    _check_archive(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling refusals, truncation, non-torch files
        raise CheckpointError(f"{path}: not a readable tvm_gnn_cost checkpoint ({err})") from err
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: not a tvm_gnn_cost checkpoint (top level is {type(payload).__name__})")
    version = payload.get("format_version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r}, this tvm_gnn_cost reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}; retrain or use the tvm_gnn_cost release that wrote it"
        )
    if payload.get("architecture") != ARCHITECTURE:
        raise CheckpointError(f"{path}: architecture {payload.get('architecture')!r}, expected {ARCHITECTURE!r}")
    for key in ("model_config", "train_config", "state_dict"):
        if key not in payload:
            raise CheckpointError(f"{path}: checkpoint lacks {key!r}")
    if version == 1 and isinstance(payload["model_config"], dict):
        payload["model_config"].setdefault("cpu_features", 0)
    return payload


def _check_archive(path: Path) -> None:
    """Refuse a file whose zip entries fail their CRC-32: ``torch.load`` does not check them, so a
    flipped bit in a config or a weight would otherwise load as a different model."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except Exception as err:  # zipfile raises many types on garbage: BadZipFile, ValueError, EOFError, ...
        raise CheckpointError(f"{path}: not a readable tvm_gnn_cost checkpoint ({type(err).__name__}: {err})") from err
    if damaged is not None:
        raise CheckpointError(f"{path}: damaged ({damaged} fails its CRC check); restore it or retrain")


def config_from_dict(cls: type, values: dict[str, Any], path: str | os.PathLike) -> Any:
    """Rebuild a config dataclass, refusing unknown fields (a file from another architecture)."""
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise CheckpointError(f"{path}: unknown {cls.__name__} fields {sorted(unknown)}")
    return cls(**values)


def configs_to_dict(model_config: GNNConfig, train_config: TrainConfig) -> dict[str, dict[str, Any]]:
    """Configs as plain dicts for a checkpoint."""
    return {"model_config": asdict(model_config), "train_config": asdict(train_config)}
