"""Whole-model tuning: a network's tasks tuned into one resumable work dir, then compiled, checked and timed."""

from .tuning import ModelTuneResult, WorkDirError, tune_model, tune_onnx, tune_torch

__all__ = ["ModelTuneResult", "WorkDirError", "tune_model", "tune_onnx", "tune_torch"]
