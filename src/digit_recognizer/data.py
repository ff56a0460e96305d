"""MNIST on disk: find it, download it, verify it, read it.

The four IDX files (LeCun, Cortes, Burges) are looked up in one data directory:
``--data-dir``, else ``$DIGITS_DATA_DIR``, else ``~/.cache/digit-recognizer/mnist``
(``$XDG_CACHE_HOME`` respected). Each file may be gzip-compressed or raw. Content
is verified by the SHA-256 of the *decompressed* bytes, because mirrors recompress
the ``.gz`` wrappers and their checksums differ while the content does not.

IDX parsing is ten lines, so it lives here rather than in a dependency.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

Split = Literal["train", "test"]

#: File stem -> SHA-256 of the uncompressed content (the canonical MNIST bytes).
CHECKSUMS: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Public mirrors of the gzip files, tried in order.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}

_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"


class DataError(Exception):
    """MNIST files are missing, corrupt or could not be downloaded; the message says what to do."""


@dataclass(frozen=True)
class Dataset:
    """One split of MNIST held in memory: images (N, 28, 28) uint8, labels (N,) uint8."""

    images: np.ndarray
    labels: np.ndarray
    sha256: dict[str, str]

    def __len__(self) -> int:
        return len(self.labels)


def default_data_dir() -> Path:
    """``$DIGITS_DATA_DIR``, else the per-user cache directory (XDG-aware)."""
    if env := os.environ.get("DIGITS_DATA_DIR"):
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "digit-recognizer" / "mnist"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    return Path(data_dir).expanduser() if data_dir else default_data_dir()


def find_file(data_dir: Path, stem: str) -> Path | None:
    """The ``.gz`` or raw file for ``stem`` in ``data_dir``, or None."""
    for name in (stem + ".gz", stem):
        if (path := data_dir / name).is_file():
            return path
    return None


def missing_files(data_dir: Path, stems: Sequence[str] = tuple(CHECKSUMS)) -> list[str]:
    return [stem for stem in stems if find_file(data_dir, stem) is None]


def read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzip (decided by content, not name)."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == _GZIP_MAGIC else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path} could not be read ({exc}); delete it and run `digits data` again.") from exc


def parse_idx(content: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes (unsigned-byte images or labels) into an array, validating the header."""
    if len(content) < 8:
        raise DataError(f"{name} is truncated: {len(content)} bytes is less than an IDX header.")
    magic, count = struct.unpack(">II", content[:8])
    if magic == _LABELS_MAGIC:
        shape: tuple[int, ...] = (count,)
        offset = 8
    elif magic == _IMAGES_MAGIC:
        if len(content) < 16:
            raise DataError(f"{name} is truncated: the image header needs 16 bytes.")
        rows, cols = struct.unpack(">II", content[8:16])
        if (rows, cols) != (28, 28):
            raise DataError(f"{name} holds {rows}x{cols} images; MNIST images are 28x28.")
        shape = (count, rows, cols)
        offset = 16
    else:
        raise DataError(
            f"{name} is not an MNIST IDX file (magic number 0x{magic:08x}, expected "
            f"0x{_IMAGES_MAGIC:08x} for images or 0x{_LABELS_MAGIC:08x} for labels)."
        )
    expected = int(np.prod(shape))
    if len(content) - offset != expected:
        raise DataError(
            f"{name} is truncated or corrupt: the header promises {expected} bytes of data, "
            f"the file has {len(content) - offset}."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=offset).reshape(shape)


def load_split(
    split: Split,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    verify: bool = False,
) -> Dataset:
    """Load the ``train`` or ``test`` split, downloading missing files when allowed.

    With ``verify=True`` the content is also compared to the canonical checksums, so
    a modified file is refused rather than silently trained on.
    """
    stems = SPLIT_FILES[split]
    directory = ensure_files(data_dir, stems, download=download)
    arrays, digests = [], {}
    for stem in stems:
        path = find_file(directory, stem)
        assert path is not None
        content = read_bytes(path)
        digests[stem] = hashlib.sha256(content).hexdigest()
        if verify and stem in CHECKSUMS and digests[stem] != CHECKSUMS[stem]:
            raise DataError(_checksum_message(path, digests[stem], CHECKSUMS[stem]))
        arrays.append(parse_idx(content, str(path)))
    images, labels = arrays
    _check_pair(images, labels, directory, split)
    return Dataset(images=images, labels=labels, sha256=digests)


def _check_pair(images: np.ndarray, labels: np.ndarray, directory: Path, split: str) -> None:
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"The {split} files in {directory} have images and labels swapped.")
    if len(images) != len(labels):
        raise DataError(f"The {split} files in {directory} disagree: {len(images)} images but {len(labels)} labels.")
    if labels.size and labels.max() > 9:
        raise DataError(f"The {split} labels in {directory} hold {labels.max()}; labels must be 0-9.")


def ensure_files(
    data_dir: str | os.PathLike[str] | None = None,
    stems: Sequence[str] = tuple(CHECKSUMS),
    *,
    download: bool = True,
) -> Path:
    """The data directory, with the files for ``stems`` downloaded into it if they were missing."""
    directory = resolve_data_dir(data_dir)
    if missing := missing_files(directory, stems):
        if not download:
            raise DataError(_missing_message(directory, missing))
        print(f"MNIST not found in {directory}; downloading {len(missing)} file(s)", file=sys.stderr)
        fetch(directory, missing)
    return directory


def fetch(
    data_dir: Path,
    stems: Sequence[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> list[Path]:
    """Download ``stems`` (default: all four) into ``data_dir``, trying each mirror in turn.

    A file is written to a temporary name in the same directory, verified, and only then
    renamed into place, so an interrupted or corrupt download never leaves a file that
    looks complete.
    """
    mirrors = MIRRORS if mirrors is None else mirrors
    checksums = CHECKSUMS if checksums is None else checksums
    data_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem in stems if stems is not None else list(checksums):
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + stem + ".gz"
            try:
                written.append(_download_verified(url, data_dir / (stem + ".gz"), checksums[stem], progress, timeout))
                break
            except (OSError, urllib.error.URLError, DataError) as exc:
                errors.append(f"  {url}: {getattr(exc, 'reason', exc)}")
        else:
            raise DataError(
                f"Could not download {stem}.gz from any mirror:\n"
                + "\n".join(errors)
                + "\n"
                + _missing_message(data_dir, [stem])
            )
    return written


def _download_verified(url: str, target: Path, sha256: str, progress: bool, timeout: float) -> Path:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, _progress_bar(target.name, total, progress) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
            digest = hashlib.sha256(read_bytes(tmp)).hexdigest()
            if digest != sha256:
                raise DataError(f"checksum mismatch (got {digest[:12]}…, expected {sha256[:12]}…)")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def _progress_bar(name: str, total: int | None, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {name}", disable=not enabled, leave=False)


def _missing_message(directory: Path, missing: Sequence[str]) -> str:
    names = ", ".join(stem + ".gz" for stem in missing)
    return (
        f"MNIST files not found in {directory}: {names}.\n"
        f"The four files are {', '.join(s + '.gz' for s in CHECKSUMS)} (gzip or raw).\n"
        "Put them there, point --data-dir (or DIGITS_DATA_DIR) at a folder that has them, "
        "or run `digits data` with internet access to download them."
    )


def _checksum_message(path: Path, got: str, expected: str) -> str:
    return (
        f"{path} does not match the published MNIST content (sha256 {got[:16]}…, expected {expected[:16]}…). "
        "Delete it and run `digits data` to download a fresh copy."
    )
