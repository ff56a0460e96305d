"""UNIPEN: 15,953 digits written with a pen by 268 people, carried in the package.

Real pen trajectories (category 1a of UNIPEN train_r01_v07, CC BY 4.0), converted to
the JSON-lines strokes format of ``ink``. They hold the styles MNIST barely has
(European 1s with a flag and a foot, crossed 7s, slashed zeros, closed 4s), so
training mixes them with MNIST and the handwriting benchmark measures on writers
held out of training.

Writers, never samples, are split: a writer's bucket comes from a hash of their id,
so the split is fixed whatever order the file is in and whatever seed trains.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .ink import InkFormatError, InkSample, read_ndjson

FILE_NAME = "unipen-1a-digits.ndjson.gz"
SHA256 = "2196e47ac8ebafeb9364fd8b0109622311bf59231d00cb4f8e230df11e6d3d1e"
LICENSE = "CC BY 4.0"
CITATION = (
    "I. Guyon, L. Schomaker, R. Plamondon, M. Liberman and S. Janet, 'UNIPEN project of on-line data exchange "
    "and recognizer benchmarks', ICPR 1994; Unipen Consortium (1999), 'Unipen data set of on-line (vectorial) "
    "handwriting - train_r01_v07', Zenodo, doi:10.5281/zenodo.1195803"
)

WriterSplit = Literal["train", "val", "test"]
#: Share of writers in each split, by hash bucket out of 100: train 70, validation 10, test 20.
SPLIT_BUCKETS: dict[str, range] = {"train": range(0, 70), "val": range(70, 80), "test": range(80, 100)}


class UnipenError(Exception):
    """The UNIPEN file is missing or damaged; the message says what to do."""


@dataclass(frozen=True)
class Unipen:
    """The samples of one or more writer splits, in file order."""

    samples: tuple[InkSample, ...]
    sha256: str

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def writers(self) -> list[str]:
        return sorted({s.writer for s in self.samples})


def bundled_path() -> Path:
    return Path(__file__).parent / "datasets" / "unipen" / FILE_NAME


def default_path() -> Path:
    """``$DIGITS_UNIPEN`` (a file), else the copy inside the package."""
    env = os.environ.get("DIGITS_UNIPEN")
    return Path(env).expanduser() if env else bundled_path()


def writer_split(writer: str) -> WriterSplit:
    """The split a writer belongs to, fixed by a hash of their id."""
    bucket = int.from_bytes(hashlib.sha256(writer.encode()).digest()[:4], "big") % 100
    for name, buckets in SPLIT_BUCKETS.items():
        if bucket in buckets:
            return name  # type: ignore[return-value]
    raise AssertionError("the buckets cover 0-99")


def load(
    splits: Sequence[WriterSplit] = ("train", "val", "test"), path: str | os.PathLike[str] | None = None
) -> Unipen:
    """The samples of the writers in ``splits``; raises UnipenError with the fix when the file is unusable."""
    file = Path(path) if path is not None else default_path()
    if not file.is_file():
        raise UnipenError(
            f"UNIPEN strokes file {file} not found. Reinstall the package (it carries {FILE_NAME}), "
            "set DIGITS_UNIPEN to a copy of it, or train without it: --no-unipen."
        )
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    try:
        samples = tuple(s for s in read_ndjson(file) if writer_split(s.writer) in splits)
    except InkFormatError as exc:
        raise UnipenError(str(exc)) from None
    except OSError as exc:
        raise UnipenError(f"cannot read {file}: {exc.strerror or exc}") from None
    return Unipen(samples, digest)
