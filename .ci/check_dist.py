"""What the built wheel and sdist must hold, checked before anyone installs them.

A wheel without the model cannot recognize anything, and one without the static files
serves a blank page, and neither fails until a user runs it: so the files the package
needs at run time are asserted here, by name, in both archives.

Usage:  python .ci/check_dist.py DIST_DIR VERSION
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

# Files the installed package opens at run time (paths inside the package).
NEEDED = [
    "models/mnist_cnn.onnx",
    "models/mnist_cnn.json",
    "models/mnist_cnn.pt",
    "datasets/unipen/unipen-1a-digits.ndjson.gz",
    "datasets/unipen/README.md",
    "web/static/index.html",
    "web/static/app.js",
    "web/static/style.css",
]
# Never shipped in the wheel: development files and build leftovers.
FORBIDDEN = ("tests/", "benchmarks/", ".venv/", "__pycache__/", "runs/")


def one(dist: Path, pattern: str) -> Path:
    """The single archive matching ``pattern``; a stale or missing build is an error that says so."""
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        sys.exit(f"error: expected one {pattern} in {dist}, found {[p.name for p in found]}")
    return found[0]


def missing_from(names: list[str], prefix: str) -> list[str]:
    """The NEEDED files not under ``prefix`` in an archive's list of names."""
    return [f for f in NEEDED if f"{prefix}{f}" not in names]


def check_wheel(wheel: Path, version: str) -> list[str]:
    """What is wrong with the wheel: run-time files missing, development files in it, metadata lacking."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next((n for n in names if n.endswith(".dist-info/METADATA")), "")
        text = archive.read(metadata).decode() if metadata else ""
    problems = [f"wheel lacks digit_recognizer/{f}" for f in missing_from(names, "digit_recognizer/")]
    problems += [f"wheel holds {n}" for n in names if any(n.startswith(p) or f"/{p}" in n for p in FORBIDDEN)]
    for field in (f"Version: {version}", "Project-URL: Documentation", "Project-URL: Issues", "License-File: LICENSE"):
        if field not in text:
            problems.append(f"wheel METADATA lacks {field!r}")
    return problems


def check_sdist(sdist: Path) -> list[str]:
    """What is missing from the sdist, which must rebuild the package and run its tests and docs."""
    with tarfile.open(sdist) as archive:
        names = [n.split("/", 1)[1] for n in archive.getnames() if "/" in n]
    problems = [f"sdist lacks src/digit_recognizer/{f}" for f in missing_from(names, "src/digit_recognizer/")]
    for f in ("LICENSE", "CHANGELOG.md", "README.md", "mkdocs.yml", "samples/seven.png", "tests/test_docs.py"):
        if f not in names:
            problems.append(f"sdist lacks {f}")
    return problems


def main() -> None:
    dist, version = Path(sys.argv[1]), sys.argv[2]
    wheel, sdist = one(dist, "*.whl"), one(dist, "*.tar.gz")
    problems = check_wheel(wheel, version) + check_sdist(sdist)
    if problems:
        sys.exit("error: the package is incomplete:\n  " + "\n  ".join(problems))
    size = wheel.stat().st_size / 1e6
    print(f"{wheel.name} ({size:.1f} MB) and {sdist.name} hold the model, its card and weights, UNIPEN and web/static")


if __name__ == "__main__":
    main()
