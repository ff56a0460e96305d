"""Optional dependencies: a missing extra is a message with the pip command, not an ImportError."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRAS = {
    "torch": "train",
    "onnx": "train",
    "fastapi": "web",
    "uvicorn": "web",
    "orjson": "web",
    "fastapi_offline": "web",
    "matplotlib": "plots",
}


class MissingExtra(Exception):
    """An optional dependency is not installed; the message names the pip command."""


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` or explain which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS.get(module, "dev")
        raise MissingExtra(
            f"{feature} needs {module}, which is not installed. "
            f"Install it with:  pip install 'digit-recognizer[{extra}]'  (from a checkout: pip install '.[{extra}]')"
        ) from None
