"""onnxruntime sessions and model cards, opened one way for both models (the digit and the sequence reader)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def open_session(path: Path, threads: int | None, error: type[Exception]) -> Any:
    """A CPU session on ``threads`` (default: up to two cores); ``error`` with the reason when the file is unusable."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise error(f"{path} is not a usable ONNX model ({exc}).") from None


def read_card(model_path: Path) -> dict[str, Any]:
    """The model card beside a model (``<name>.json``); empty when there is none or it is unreadable."""
    card_path = model_path.with_suffix(".json")
    if not card_path.is_file():
        return {}
    try:
        card = json.loads(card_path.read_text())
        return card if isinstance(card, dict) else {}
    except (OSError, ValueError):
        return {}
