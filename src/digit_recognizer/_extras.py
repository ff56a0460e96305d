"""Optional dependencies: a missing extra is a message with the pip command, not an ImportError.

The command given is the one that works from where this copy was installed: the same
Python, and the same source (a checkout, a wheel file, a Git URL, or the package index),
read from the installation's PEP 610 record (``direct_url.json``). A checkout's users
would otherwise be told to install from PyPI, which may not have the package at all.
"""

from __future__ import annotations

import importlib
import json
import shlex
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlparse

DISTRIBUTION = "digit-recognizer"
EXTRAS = {
    "torch": "train",
    "onnx": "train",
    "fastapi": "web",
    "uvicorn": "web",
    "orjson": "web",
    "fastapi_offline": "web",
    "matplotlib": "plots",
    "ray": "ray",
    "pyarrow": "ray",
}


class MissingExtra(Exception):
    """An optional dependency is not installed; the message names the pip command."""


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` or explain which extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"{feature} needs {module}, which is not installed. Install it with:  "
            f"{install_command(EXTRAS.get(module, 'dev'))}"
        ) from None


def install_command(extra: str) -> str:
    """``pip install`` of ``extra`` for this Python, from the source this package came from."""
    return f"{shlex.quote(sys.executable)} -m pip install {' '.join(install_target(extra, _direct_url()))}"


def install_target(extra: str, direct_url: dict[str, object] | None) -> list[str]:
    """pip's arguments for ``extra``, given the installation's PEP 610 record (None: from an index)."""
    if direct_url is None:
        return [shlex.quote(f"{DISTRIBUTION}[{extra}]")]
    url = str(direct_url.get("url", ""))
    parsed = urlparse(url)
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, dict):
        return [shlex.quote(f"{DISTRIBUTION}[{extra}] @ {vcs.get('vcs', 'git')}+{url}")]
    if parsed.scheme != "file":
        return [shlex.quote(f"{DISTRIBUTION}[{extra}] @ {url}")]
    from urllib.request import url2pathname  # imported here: urllib.request costs every command 10 ms

    path = url2pathname(unquote(parsed.path))
    dir_info = direct_url.get("dir_info")
    editable = isinstance(dir_info, dict) and dir_info.get("editable") is True
    return (["-e"] if editable else []) + [shlex.quote(f"{path}[{extra}]")]


def _direct_url() -> dict[str, object] | None:
    """The installation's ``direct_url.json``: None when installed from an index (or not installed)."""
    from importlib import metadata  # imported here: it costs every command 12 ms

    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        checkout = Path(__file__).resolve().parents[2]  # run from a source tree: install that tree
        return {"url": checkout.as_uri(), "dir_info": {"editable": True}}
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
