"""MNIST files: reading, validation, the download path (against a loopback server) and checksums."""

from __future__ import annotations

import errno
import functools
import gzip
import hashlib
import http.server
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import idx_images, idx_labels, write_tiny_mnist
from digit_recognizer import data
from digit_recognizer.data import DataError
from hostile_mirror import HostileMirror, dead_url, gzip_bomb


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


# --------------------------------------------------------------------------- hostile mirrors


STEM = "t10k-labels-idx1-ubyte"


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[HostileMirror, dict[str, str], dict[str, int]]]:
    """A misbehaving mirror of tiny MNIST; yields (mirror, content checksums, content sizes)."""
    contents = write_tiny_mnist(tmp_path / "files")
    files = {f"{stem}.gz": gzip.compress(content) for stem, content in contents.items()}
    with HostileMirror(files, drip_seconds=0.2, bomb=_bomb()) as mirror:
        yield mirror, _checksums(contents), {stem: len(content) for stem, content in contents.items()}


@functools.cache
def _bomb() -> bytes:
    return gzip_bomb(0.25)


def test_a_dripping_mirror_fails_within_the_deadline(hostile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mirror, checksums, sizes = hostile
    start = time.monotonic()
    with pytest.raises(DataError, match=r"no complete download within 1 s.*DIGITS_DOWNLOAD_TIMEOUT"):
        data.fetch(tmp_path / "c", [STEM], mirrors=[mirror.url("drip")], checksums=checksums, sizes=sizes,
                   progress=False, timeout=1.0)  # fmt: skip
    assert time.monotonic() - start < 2.0  # the whole file would take 0.2 s x ~1 KB = minutes
    assert list((tmp_path / "c").iterdir()) == []


def test_an_endless_stream_stops_at_the_size_the_file_can_have(hostile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mirror, checksums, sizes = hostile
    with pytest.raises(DataError, match="more than .* bytes, more than this file can be"):
        data.fetch(tmp_path / "c", [STEM], mirrors=[mirror.url("endless")], checksums=checksums, sizes=sizes,
                   progress=False)  # fmt: skip
    assert list((tmp_path / "c").iterdir()) == []  # nothing of the stream is kept


def test_a_gzip_bomb_is_refused_without_inflating_it(hostile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mirror, checksums, _ = hostile
    big = {STEM: 300 << 20}  # even a bound far above the file's size keeps the bomb (256 MB) from mattering
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="gzip bomb|checksum mismatch"):
            data.fetch(tmp_path / "c", [STEM], mirrors=[mirror.url("bomb")], checksums=checksums, sizes=big,
                       progress=False)  # fmt: skip
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MB held while refusing the bomb"


def test_a_gzip_bomb_stops_at_the_known_size(hostile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mirror, checksums, _ = hostile
    with pytest.raises(DataError, match="larger than the 1,048,576 bytes the file has"):
        data.fetch(tmp_path / "c", [STEM], mirrors=[mirror.url("bomb")], checksums=checksums, sizes={STEM: 1 << 20},
                   progress=False)  # fmt: skip


def test_a_bomb_larger_than_the_file_can_be_is_not_even_downloaded(hostile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mirror, checksums, sizes = hostile
    with pytest.raises(DataError, match="the mirror offers .* bytes; this file cannot be more than"):
        data.fetch(tmp_path / "c", [STEM], mirrors=[mirror.url("bomb")], checksums=checksums, sizes=sizes,
                   progress=False)  # fmt: skip


def test_a_dead_or_silent_mirror_is_skipped_for_the_next_files(
    hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    mirror, checksums, sizes = hostile
    monkeypatch.setattr(data, "CONNECT_TIMEOUT", 0.5)
    tried: list[str] = []
    real_open = data._open
    monkeypatch.setattr(data, "_open", lambda url, deadline: tried.append(url) or real_open(url, deadline))
    stems = ["t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"]
    mirrors = [dead_url(), mirror.url("silent"), mirror.url("ok")]
    written = data.fetch(tmp_path / "c", stems, mirrors=mirrors, checksums=checksums, sizes=sizes, progress=False)
    assert [p.name for p in written] == [f"{stem}.gz" for stem in stems]
    assert len(tried) == 4  # dead, silent, ok for the first file; straight to ok for the second


def test_mirrors_and_timeout_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITS_MNIST_MIRRORS", "https://a.example/mnist/, https://b.example/m/")
    monkeypatch.setenv("DIGITS_DOWNLOAD_TIMEOUT", "42")
    assert data.mirrors_from_env() == ("https://a.example/mnist/", "https://b.example/m/")
    assert data.timeout_from_env() == 42.0
    monkeypatch.setenv("DIGITS_DOWNLOAD_TIMEOUT", "nan")
    with pytest.raises(DataError, match="DIGITS_DOWNLOAD_TIMEOUT must be a number of seconds"):
        data.timeout_from_env()
    monkeypatch.setenv("DIGITS_MNIST_MIRRORS", "ftp://old.example/")
    with pytest.raises(DataError, match="not an http"):
        data.mirrors_from_env()


def test_default_mirrors_are_https_only() -> None:
    assert data.MIRRORS and all(url.startswith("https://") for url in data.MIRRORS)


def test_a_local_gzip_bomb_is_not_inflated_past_the_bound(tmp_path: Path) -> None:
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(_bomb())
    with pytest.raises(DataError, match="decompresses to more than"):
        data.read_bytes(tmp_path / "t10k-labels-idx1-ubyte.gz", limit=1 << 20)


@pytest.mark.parametrize("problem", ["a file", "under a file", "read-only"])
def test_an_unusable_data_folder_is_one_clear_line(
    problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("not a folder")
    folder = {"a file": tmp_path / "file", "under a file": tmp_path / "file" / "mnist"}.get(problem, tmp_path / "ro")
    if problem == "read-only":
        monkeypatch.setattr(
            Path, "mkdir", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system"))
        )
    with pytest.raises(DataError) as caught:
        data.ensure_files(folder, ["t10k-labels-idx1-ubyte"])
    message = str(caught.value)
    assert str(folder) in message and "\n" not in message
    assert "--data-dir" in message
