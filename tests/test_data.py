"""MNIST files: reading, validation, the download path (against a loopback server) and checksums."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import idx_images, idx_labels, write_tiny_mnist
from digit_recognizer import data
from digit_recognizer.data import DataError


def test_reads_gzip_and_raw_files_alike(tmp_path: Path) -> None:
    write_tiny_mnist(tmp_path / "gz", compress=True)
    write_tiny_mnist(tmp_path / "raw", compress=False)
    gz = data.load_split("train", tmp_path / "gz", download=False)
    raw = data.load_split("train", tmp_path / "raw", download=False)
    assert gz.images.shape == (20, 28, 28) and gz.labels.shape == (20,)
    np.testing.assert_array_equal(gz.images, raw.images)
    np.testing.assert_array_equal(gz.labels, raw.labels)


def test_truncated_file_is_an_error_naming_the_file(tiny_mnist: Path) -> None:
    path = tiny_mnist / "train-images-idx3-ubyte.gz"
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(content[:-100]))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is truncated or corrupt"):
        data.load_split("train", tiny_mnist, download=False)


def test_cut_off_gzip_stream_is_an_error_with_advice(tiny_mnist: Path) -> None:
    path = tiny_mnist / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:15])
    with pytest.raises(DataError, match="could not be read.*digits data"):
        data.load_split("test", tiny_mnist, download=False)


def test_wrong_magic_number_is_refused(tiny_mnist: Path) -> None:
    (tiny_mnist / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x02" + bytes(20)))
    with pytest.raises(DataError, match="not an MNIST IDX file"):
        data.load_split("test", tiny_mnist, download=False)


def test_images_that_are_not_28x28_are_refused() -> None:
    content = idx_images(np.zeros((2, 28, 28)))[:8] + b"\x00\x00\x00\x20\x00\x00\x00\x20" + bytes(2 * 32 * 32)
    with pytest.raises(DataError, match="32x32"):
        data.parse_idx(content, "x")


def test_labels_outside_0_to_9_are_refused(tiny_mnist: Path) -> None:
    (tiny_mnist / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_labels(np.full(10, 11))))
    with pytest.raises(DataError, match="labels must be 0-9"):
        data.load_split("test", tiny_mnist, download=False)


def test_image_and_label_counts_must_agree(tiny_mnist: Path) -> None:
    (tiny_mnist / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_labels(np.zeros(7))))
    with pytest.raises(DataError, match="10 images but 7 labels"):
        data.load_split("test", tiny_mnist, download=False)


def test_missing_files_message_names_the_files_and_the_option(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        data.load_split("train", tmp_path, download=False)
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message
    assert "--data-dir" in message and str(tmp_path) in message


def test_data_dir_comes_from_env_then_xdg_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIGITS_DATA_DIR", str(tmp_path / "here"))
    assert data.default_data_dir() == tmp_path / "here"
    monkeypatch.delenv("DIGITS_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.default_data_dir() == tmp_path / "cache" / "digit-recognizer" / "mnist"
    assert data.resolve_data_dir(str(tmp_path / "x")) == tmp_path / "x"


def test_verify_refuses_files_that_differ_from_published_mnist(tiny_mnist: Path) -> None:
    with pytest.raises(DataError, match="does not match the published MNIST content"):
        data.load_split("train", tiny_mnist, download=False, verify=True)


# --------------------------------------------------------------------------- download


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on loopback serving files from a folder; yields (base URL, folder)."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", root
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _checksums(contents: dict[str, bytes]) -> dict[str, str]:
    return {stem: hashlib.sha256(content).hexdigest() for stem, content in contents.items()}


def test_download_verifies_and_places_all_four_files(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    contents = write_tiny_mnist(root)
    target = tmp_path / "cache"
    written = data.fetch(target, mirrors=[url], checksums=_checksums(contents), progress=False)
    assert sorted(p.name for p in written) == sorted(f"{stem}.gz" for stem in contents)
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{stem}.gz" for stem in contents)
    assert len(data.load_split("test", target, download=False)) == 10


def test_download_falls_back_to_the_next_mirror(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    contents = write_tiny_mnist(root)
    dead = "http://127.0.0.1:9/"  # discard port: nothing listens
    written = data.fetch(
        tmp_path / "c", ["t10k-labels-idx1-ubyte"], mirrors=[dead, url], checksums=_checksums(contents), progress=False
    )
    assert written == [tmp_path / "c" / "t10k-labels-idx1-ubyte.gz"]


def test_corrupt_download_leaves_no_file_behind(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    contents = write_tiny_mnist(root)
    expected = _checksums(contents) | {"t10k-labels-idx1-ubyte": "0" * 64}
    target = tmp_path / "c"
    with pytest.raises(DataError, match="checksum mismatch"):
        data.fetch(target, ["t10k-labels-idx1-ubyte"], mirrors=[url], checksums=expected, progress=False)
    assert list(target.iterdir()) == []  # neither the file nor a .part remains


def test_offline_download_fails_naming_the_files_and_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        data.fetch(tmp_path, ["train-images-idx3-ubyte"], mirrors=["http://127.0.0.1:9/"], progress=False, timeout=2)
    message = str(caught.value)
    assert "Could not download train-images-idx3-ubyte.gz" in message and "--data-dir" in message


def test_real_mnist_matches_the_published_checksums(mnist_dir: Path) -> None:
    train = data.load_split("train", mnist_dir, download=False, verify=True)
    test = data.load_split("test", mnist_dir, download=False, verify=True)
    assert {**train.sha256, **test.sha256} == data.CHECKSUMS
    assert test.images.shape == (10_000, 28, 28) and np.bincount(test.labels).min() > 800


def test_loading_a_split_downloads_what_is_missing(
    mirror: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root = mirror
    contents = write_tiny_mnist(root)
    monkeypatch.setattr(data, "MIRRORS", (url,))
    monkeypatch.setattr(data, "CHECKSUMS", _checksums(contents))
    test = data.load_split("test", tmp_path / "fresh")
    assert len(test) == 10
    assert sorted(p.name for p in (tmp_path / "fresh").iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
