"""Shared fixtures: where real MNIST is, tiny IDX files, the shipped recognizer."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from digit_recognizer import Recognizer, data
from digit_recognizer.recognizer import shipped_model_path

REPO = Path(__file__).resolve().parents[1]


def real_mnist_dir() -> Path | None:
    """$DIGITS_DATA_DIR, ../shared/data/mnist or the user cache: the first that has all four files."""
    candidates = [os.environ.get("DIGITS_DATA_DIR"), REPO.parent / "shared" / "data" / "mnist", data.default_data_dir()]
    for candidate in candidates:
        if candidate and not data.missing_files(Path(candidate)):
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Real MNIST: found on disk, else downloaded to the user cache; skipped only when neither works."""
    found = real_mnist_dir()
    if found is not None:
        return found
    try:
        data.fetch(data.default_data_dir(), data.missing_files(data.default_data_dir()), progress=False, timeout=20)
    except data.DataError as exc:
        pytest.skip(f"real MNIST is not on this machine and could not be downloaded: {exc}")
    return data.default_data_dir()


@pytest.fixture(scope="session")
def mnist_test(mnist_dir: Path) -> data.Dataset:
    return data.load_split("test", mnist_dir, download=False)


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    assert shipped_model_path().is_file(), "the shipped model must be in the package"
    return Recognizer.load()


def idx_images(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", 0x803, n, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()


def write_tiny_mnist(folder: Path, n_train: int = 20, n_test: int = 10, compress: bool = True) -> dict[str, bytes]:
    """Write the four IDX files with random content; returns stem -> uncompressed bytes."""
    rng = np.random.default_rng(0)
    contents = {
        "train-images-idx3-ubyte": idx_images(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte": idx_labels(rng.integers(0, 10, n_train)),
        "t10k-images-idx3-ubyte": idx_images(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte": idx_labels(rng.integers(0, 10, n_test)),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for stem, content in contents.items():
        if compress:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / stem).write_bytes(content)
    return contents


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    write_tiny_mnist(tmp_path / "mnist")
    return tmp_path / "mnist"
