"""MNIST on disk: find it, download it, verify it, read it.

The four IDX files (LeCun, Cortes, Burges) are looked up in one data directory:
``--data-dir``, else ``$DIGITS_DATA_DIR``, else ``~/.cache/digit-recognizer/mnist``
(``$XDG_CACHE_HOME`` respected). Each file may be gzip-compressed or raw. Content
is verified by the SHA-256 of the *decompressed* bytes, because mirrors recompress
the ``.gz`` wrappers and their checksums differ while the content does not.

IDX parsing is ten lines, so it lives here rather than in a dependency.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import re
import socket
import struct
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

Split = Literal["train", "test"]

#: File stem -> SHA-256 of the uncompressed content (the canonical MNIST bytes).
CHECKSUMS: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: File stem -> size in bytes of the uncompressed content: downloads and decompression stop there.
SIZES: dict[str, int] = {
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}

#: File stem -> SHA-256 of the canonical ``.gz`` file (as the default mirrors serve it), checked
#: before anything is decompressed. A mirror that recompressed the files is still accepted after a
#: decompression bounded by SIZES whose content matches CHECKSUMS.
GZ_CHECKSUMS: dict[str, str] = {
    "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: Public mirrors of the gzip files, tried in order (HTTPS only; ``$DIGITS_MNIST_MIRRORS`` replaces them).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

DOWNLOAD_TIMEOUT = 300.0  # seconds one file may take in all (``$DIGITS_DOWNLOAD_TIMEOUT``)
CONNECT_TIMEOUT = 10.0  # seconds to reach a mirror before trying the next one
STALL_TIMEOUT = 30.0  # seconds without a byte before a download is given up
MAX_CONTENT_BYTES = 64 << 20  # bound on a decompressed file whose size is not known (MNIST's largest: 47 MB)

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


def read_bytes(path: Path, limit: int = MAX_CONTENT_BYTES) -> bytes:
    """The file's content, decompressed when it is gzip (decided by content, not name), at most ``limit`` bytes."""
    try:
        raw = path.read_bytes()
        if raw[:2] != _GZIP_MAGIC:
            return raw
        view = memoryview(raw)
        content = b"".join(_gunzip_bounded((view[i : i + (1 << 20)] for i in range(0, len(raw), 1 << 20)), limit))
    except (OSError, zlib.error) as exc:
        raise DataError(f"{path} could not be read ({exc}); delete it and run `digits data` again.") from exc
    if len(content) > limit:
        raise DataError(f"{path} decompresses to more than {limit:,} bytes; it is not MNIST. Delete it.")
    return content


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
    _refuse_a_file(directory)
    if missing := missing_files(directory, stems):
        if not download:
            raise DataError(_missing_message(directory, missing))
        _make_data_dir(directory)
        print(f"MNIST not found in {directory}; downloading {len(missing)} file(s)", file=sys.stderr)
        fetch(directory, missing)
    return directory


def mirrors_from_env() -> tuple[str, ...]:
    """``$DIGITS_MNIST_MIRRORS`` (URLs separated by commas or spaces), else the default HTTPS mirrors."""
    urls = tuple(u for u in re.split(r"[,\s]+", os.environ.get("DIGITS_MNIST_MIRRORS", "")) if u)
    for url in urls:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise DataError(f"DIGITS_MNIST_MIRRORS holds {url!r}, which is not an http(s) URL.")
    return urls or MIRRORS


def timeout_from_env() -> float:
    """``$DIGITS_DOWNLOAD_TIMEOUT``: the most seconds one file may take to download (default 300)."""
    value = os.environ.get("DIGITS_DOWNLOAD_TIMEOUT", "")
    if not value:
        return DOWNLOAD_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise DataError(f"DIGITS_DOWNLOAD_TIMEOUT must be a number of seconds above 0, got {value!r}.")
    return seconds


def fetch(
    data_dir: Path,
    stems: Sequence[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    sizes: Mapping[str, int] | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> list[Path]:
    """Download ``stems`` (default: all four) into ``data_dir``, trying each mirror in turn.

    Every download is bounded, because a mirror can be slow, broken or hostile:
    ``timeout`` seconds in all per file (not per read, so a mirror that drips a byte
    at a time still fails in time), at most the bytes a gzip of the file's known
    ``sizes`` can take, and a decompression that stops at that size (a gzip bomb costs
    nothing). A file is written to a temporary name in the same directory, verified,
    and only then renamed into place, so an interrupted or corrupt download never
    leaves a file that looks complete. A mirror that cannot be reached is not tried
    again for the following files.
    """
    mirrors = list(mirrors_from_env() if mirrors is None else mirrors)
    checksums = CHECKSUMS if checksums is None else checksums
    sizes = SIZES if sizes is None else sizes
    deadline = timeout_from_env() if timeout is None else timeout
    _make_data_dir(data_dir)
    written = []
    for stem in stems if stems is not None else list(checksums):
        expected = _Expected(checksums[stem], sizes.get(stem), GZ_CHECKSUMS.get(stem))
        errors = []
        for mirror in list(mirrors):
            url = mirror.rstrip("/") + "/" + stem + ".gz"
            try:
                written.append(_download_verified(url, data_dir / (stem + ".gz"), expected, progress, deadline))
                break
            except _Unreachable as exc:
                errors.append(f"  {url}: {exc}")
                mirrors.remove(mirror)  # dead: do not wait for it again for the next file
                mirrors.append(mirror)
            except (_Refused, OSError, http.client.HTTPException) as exc:  # the mirror's fault: try the next
                errors.append(f"  {url}: {exc}")
        else:
            raise DataError(
                f"Could not download {stem}.gz from any mirror:\n"
                + "\n".join(errors)
                + "\n"
                + _missing_message(data_dir, [stem])
                + "\nOther mirrors can be set with DIGITS_MNIST_MIRRORS, a longer time limit with "
                "DIGITS_DOWNLOAD_TIMEOUT (seconds per file)."
            )
    return written


def _make_data_dir(directory: Path) -> None:
    """Create the data folder, or say in one line why it cannot be used."""
    _refuse_a_file(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):  # writable? (a read-only home says so here)
            pass
    except OSError as exc:
        raise DataError(
            f"Cannot write the MNIST data folder {directory} ({exc.strerror or exc}). "
            "Choose a writable folder with --data-dir or DIGITS_DATA_DIR."
        ) from None


def _refuse_a_file(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise DataError(
            f"The MNIST data folder {directory} is a file, not a folder. "
            "Point --data-dir (or DIGITS_DATA_DIR) at a folder, or move the file away."
        )


@dataclass(frozen=True)
class _Expected:
    """What one file must be: its content digest and size, and the canonical .gz digest if known."""

    sha256: str
    size: int | None
    gz_sha256: str | None

    @property
    def max_download(self) -> int:
        """The most bytes a gzip of this content can take (stored blocks: +5 bytes per 64 KB)."""
        return (self.size or MAX_CONTENT_BYTES) * 1001 // 1000 + 1024


class _Refused(Exception):
    """The mirror answered, but with something we do not accept (status, size, content, time)."""


class _Unreachable(_Refused):
    """The mirror could not be reached at all (refused, unknown host, no answer): not tried again."""


def _download_verified(url: str, target: Path, expected: _Expected, progress: bool, timeout: float) -> Path:
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise DataError(f"Cannot write to the MNIST data folder {target.parent} ({exc.strerror or exc}).") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            gz_digest = _download(url, out, expected.max_download, timeout, target.name, progress)
        if gz_digest != expected.gz_sha256:  # not the canonical .gz: check the content, bounded
            _verify_content(tmp, expected)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _download(url: str, out: BinaryIO, limit: int, timeout: float, name: str, progress: bool) -> str:
    """Stream ``url`` into ``out`` within ``timeout`` s and ``limit`` bytes; returns the bytes' SHA-256."""
    deadline = time.monotonic() + timeout
    late = f"no complete download within {timeout:g} s (DIGITS_DOWNLOAD_TIMEOUT)"
    digest = hashlib.sha256()
    response, sock = _open(url, deadline)
    try:
        declared = int(response.getheader("Content-Length") or 0) or None
        if declared and declared > limit:
            raise _Refused(f"the mirror offers {declared:,} bytes; this file cannot be more than {limit:,}")
        received = 0
        with _progress_bar(name, declared, progress) as bar:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Refused(late)
                sock.settimeout(min(left, STALL_TIMEOUT))  # so no single read can outlast the deadline
                try:
                    chunk = response.read1(1 << 16)
                except TimeoutError:
                    raise _Refused(late if time.monotonic() >= deadline else "the mirror stopped sending") from None
                if not chunk:
                    break
                received += len(chunk)
                if received > limit:
                    raise _Refused(f"the mirror sent more than {limit:,} bytes, more than this file can be")
                _write(out, chunk, name)
                digest.update(chunk)
                bar.update(len(chunk))
        if declared and received != declared:
            raise _Refused(f"the download stopped after {received:,} of {declared:,} bytes")
    finally:
        response.close()
        sock.close()
    return digest.hexdigest()


def _write(out: BinaryIO, chunk: bytes, name: str) -> None:
    """Write to the partial file; a local failure (disk full) is the user's to fix, not the mirror's."""
    try:
        out.write(chunk)
    except OSError as exc:
        raise DataError(
            f"Cannot write {name} into the data folder ({exc.strerror or exc}); "
            "free some space or choose another folder with --data-dir."
        ) from None


def _open(url: str, deadline: float, redirects: int = 3) -> tuple[http.client.HTTPResponse, socket.socket]:
    """GET ``url``; returns the response and its socket, whose timeout each read then sets to the time left."""
    parts = urllib.parse.urlsplit(url)
    conn = _connection(parts, max(0.001, min(CONNECT_TIMEOUT, deadline - time.monotonic())))
    try:
        conn.connect()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise _Unreachable(f"cannot connect ({getattr(exc, 'strerror', None) or exc})") from None
    sock = conn.sock
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers={"User-Agent": UA})
        response = conn.getresponse()
    except TimeoutError:
        conn.close()
        raise _Unreachable(f"no answer within {CONNECT_TIMEOUT:g} s") from None
    if response.status in (301, 302, 303, 307, 308) and redirects > 0:
        location = urllib.parse.urljoin(url, response.getheader("Location") or "")
        response.close()
        conn.close()
        if parts.scheme == "https" and not location.startswith("https://"):
            raise _Refused(f"the mirror redirects to {location}, which is not HTTPS")
        return _open(location, deadline, redirects - 1)
    if response.status != 200:
        response.close()
        conn.close()
        raise _Refused(f"HTTP {response.status} {response.reason}")
    return response, sock


UA = "digit-recognizer (MNIST download)"


def _connection(parts: urllib.parse.SplitResult, timeout: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection to the URL's host, through the environment's proxy when one is set."""
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    host = parts.hostname or ""
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        via = urllib.parse.urlsplit(proxy if "//" in proxy else "//" + proxy)
        conn = kind(via.hostname or "", via.port, timeout=timeout)
        conn.set_tunnel(host, parts.port)
        return conn
    return kind(host, parts.port, timeout=timeout)


def _verify_content(path: Path, expected: _Expected) -> None:
    """Check the content's SHA-256, decompressing (when gzip) no more than ``expected.size`` bytes."""
    digest, size = hashlib.sha256(), 0
    limit = expected.size or MAX_CONTENT_BYTES
    with path.open("rb") as raw:
        head = raw.read(2)
        raw.seek(0)
        chunks: Iterable[bytes] = iter(lambda: raw.read(1 << 16), b"")
        try:
            for piece in _gunzip_bounded(chunks, limit) if head == _GZIP_MAGIC else chunks:
                size += len(piece)
                if size > limit:
                    raise _Refused(f"the content is larger than the {limit:,} bytes the file has (a gzip bomb?)")
                digest.update(piece)
        except zlib.error as exc:
            raise _Refused(f"the gzip data is corrupt ({exc})") from None
    got = digest.hexdigest()
    if got != expected.sha256:
        raise _Refused(f"checksum mismatch (got {got[:12]}…, expected {expected.sha256[:12]}…)")


def _gunzip_bounded(chunks: Iterable[bytes | memoryview], limit: int) -> Iterator[bytes]:
    """Decompress gzip (one member or several) piece by piece; stops once more than ``limit`` bytes came out."""
    produced, started = 0, False
    decoder = zlib.decompressobj(wbits=31)
    for chunk in chunks:
        data = bytes(chunk)
        while data:
            if decoder.eof:  # a further gzip member follows
                decoder = zlib.decompressobj(wbits=31)
            started = True
            piece = decoder.decompress(data, 1 << 18)
            data = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
            produced += len(piece)
            yield piece
            if produced > limit:
                return
    while started and not decoder.eof:  # output still held back by max_length
        piece = decoder.decompress(b"", 1 << 18)
        if not piece:
            raise zlib.error("the gzip stream is cut off")
        produced += len(piece)
        yield piece
        if produced > limit:
            return


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
