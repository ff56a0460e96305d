"""The README's example commands, run as written, print what the README shows.

Figures change when a retrained model ships, so outputs are compared by structure and by
what was read: the same rows, paths, digits and numbers, and confidences where the README
has them. `python samples/make_samples.py` regenerates the images the examples use.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def examples() -> list[tuple[str, list[str]]]:
    """Every ``$ digits predict ...`` line in the README's text blocks, with the lines shown under it."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```text\n(.*?)```", README.read_text("utf-8"), flags=re.S):
        command: str | None = None
        for line in block.splitlines():
            if line.startswith("$ "):
                command = line[2:] if line.startswith("$ digits predict") else None
                if command:
                    found.append((command, []))
            elif command:
                found[-1][1].append(line)
    return found


def run(command: str) -> tuple[int, list[str]]:
    args = command.split()[1:]  # "digits" -> python -m digit_recognizer
    done = subprocess.run(
        [sys.executable, "-m", "digit_recognizer", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    return done.returncode, done.stdout.splitlines()


def test_the_readme_has_predict_examples() -> None:
    commands = [command for command, _ in examples()]
    assert "digits predict samples/" in commands
    assert "digits predict --multi samples/2025.png" in commands


@pytest.mark.parametrize(("command", "shown"), examples(), ids=[c for c, _ in examples()])
def test_a_readme_example_prints_what_the_readme_shows(command: str, shown: list[str]) -> None:
    status, printed = run(command)
    assert status == 0, printed
    assert len(printed) == len(shown), f"{command}: {printed}"
    for real, documented in zip(printed, shown, strict=True):
        assert real.split()[:2] == documented.split()[:2], f"{command}: README shows {documented!r}, got {real!r}"
        assert bool(re.search(r"\d%", real)) == bool(re.search(r"\d%", documented))


def test_the_samples_are_what_make_samples_writes(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "samples"
    shutil.copytree(REPO / "samples", copy)
    done = subprocess.run(
        [sys.executable, str(copy / "make_samples.py")], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in ("seven.png", "2025.png", "three-photo.jpg", "blank.png"):
        assert (copy / name).read_bytes() == (REPO / "samples" / name).read_bytes(), f"{name} is out of date"


def test_the_readme_api_example_answers_what_it_shows() -> None:
    import json

    testclient = pytest.importorskip("fastapi.testclient", reason="the web extra is not installed")
    from digit_recognizer.web.server import create_app

    text = README.read_text("utf-8")
    shown = json.loads(re.search(r"/api/predict\n(\{.*?\})\n", text).group(1))  # type: ignore[union-attr]
    body = (REPO / "samples" / "seven.png").read_bytes()
    real = (
        testclient.TestClient(create_app())
        .post("/api/predict", content=body, headers={"Content-Type": "image/png"})
        .json()
    )
    assert real.keys() == shown.keys() and real["digit"] == shown["digit"]
