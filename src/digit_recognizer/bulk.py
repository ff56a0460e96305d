"""`digits predict --ray`: recognize images past one machine, on Ray Data.

The driver (the process that runs the command) only lists the work, in the order
given: image files (folders expanded as `digits predict` expands them), http(s) URLs,
files on any filesystem pyarrow knows (``s3://``, ``gs://``, ``hdfs://``, ``file://``),
and slices of Parquet tables of image bytes. ``ray.data`` hands the work to a pool of
workers (``map_batches`` with an actor pool): each loads the model once, reads its own
images, so that no image passes through the driver, and answers each with the dict
`digits predict --json` prints (``predict.result_for``). The results come back in the
order given, to be printed as `digits predict` prints them or written to one Parquet
or JSON lines file.

Why the workers read, rather than Ray's ``read_binary_files`` or ``read_parquet``: a
read task needs a CPU of its own, and with every CPU given to a worker the reads never
start (Ray Data waits for ever); a file that cannot be read would stop the whole run
instead of giving its error row; and Ray's readers do not keep a row's position, which
names a Parquet row that has no ``path``.

Nothing here imports ray or pyarrow until it is used: `digits predict` without
``--ray`` never loads them.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from ._extras import require
from .imagefile import MAX_FILE_BYTES, describe, read_capped
from .predict import IMAGE_SUFFIXES, as_result, print_results, printable, result_for, shown, walk
from .recognizer import UNREADABLE, Recognizer

IMAGE_COLUMN = "image"  # a Parquet table's image bytes (PNG, JPEG, ... as in a file)
PATH_COLUMN = "path"  # optional: the name each row's result carries (default: TABLE#ROW, counted from 0)
OUTPUT_SUFFIXES = (".parquet", ".jsonl")
BATCH = 32  # work items per map_batches call: an image file or URL each, or SLICE rows of a table
SLICE = 16  # Parquet rows per work item
FETCH_TIMEOUT = 30.0  # seconds a URL may take to answer and send its image
CONNECT_TIMEOUT = 5.0  # seconds to reach a cluster's address before saying it does not answer


class BulkError(Exception):
    """The run cannot start (no cluster at the address, a bad output name, a table without images); says the fix."""


# --------------------------------------------------------------------------- the work, listed on the driver


def read_images(sources: Sequence[str]) -> Any:
    """A ``ray.data.Dataset`` of the work for ``sources``, in order, for ``Recognize``.

    A source is an image file or a folder of them, an ``http(s)://`` URL, a file or folder
    on a pyarrow filesystem (``s3://bucket/scans/``), or a Parquet table (``.parquet``)
    with a binary ``image`` column and an optional ``path`` column. Only names and table
    footers are read here; the images are read by the workers.
    """
    ray = require("ray", "reading images with Ray Data")
    items = work_items(sources)
    if not items:
        raise BulkError(f"no image files found in {printable(', '.join(sources))}")
    return ray.data.from_items(items)


def work_items(sources: Sequence[str]) -> list[dict[str, Any]]:
    """One item per image file or URL, one per SLICE rows of a Parquet table; unreadable sources keep their reason."""
    items: list[dict[str, Any]] = []
    for source in sources:
        if _is_url(source):
            items.append(_item(source, source))
        elif source.lower().endswith(".parquet"):
            items.extend(_table_items(source))
        elif "://" in source:
            items.extend(_uri_items(source))
        else:
            for path, problem in walk([Path(source)]):
                items.append(_item(shown(path), "" if problem else os.path.abspath(path), problem or ""))
    return items


def _item(path: str, source: str, problem: str = "", **table: Any) -> dict[str, Any]:
    """A work item: every item has every field, so that Arrow gives them one schema."""
    blank = {"group": -1, "start": 0, "stop": 0, "row": 0, "named": False}  # not a slice of a Parquet table
    return {"path": path, "source": source, "problem": problem, **blank, **table}


def _is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def _uri_items(uri: str) -> list[dict[str, Any]]:
    """A file on a pyarrow filesystem, or the image files directly inside a folder there, sorted by name."""
    from pyarrow import fs

    scheme = uri.split("://", 1)[0]
    try:
        filesystem, path = fs.FileSystem.from_uri(uri)
        info = filesystem.get_file_info(path)
        if info.type == fs.FileType.NotFound:
            return [_item(uri, "", "file not found")]
        if info.type != fs.FileType.Directory:
            return [_item(uri, uri)]
        entries = sorted(filesystem.get_file_info(fs.FileSelector(path)), key=lambda e: e.base_name)
    except Exception as exc:  # a filesystem pyarrow lacks, no credentials, no network: this source's row says so
        return [_item(uri, "", f"cannot read it ({describe(exc)})")]
    items = []
    for entry in entries:
        name = f"{scheme}://{entry.path}"
        if entry.base_name.startswith("."):
            continue
        if entry.type == fs.FileType.Directory:
            items.append(_item(name, "", "a folder inside the folder (not searched); pass it on its own"))
        elif Path(entry.base_name).suffix.lower() in IMAGE_SUFFIXES:
            items.append(_item(name, name))
    return items


def _table_items(table: str) -> list[dict[str, Any]]:
    """SLICE rows of a Parquet table at a time, read from its footer; BulkError when it holds no images."""
    import pyarrow as pa

    try:
        parquet = _open_parquet(table)
    except FileNotFoundError:
        return [_item(table, "", "file not found")]
    except Exception as exc:
        return [_item(table, "", f"cannot read it as a Parquet table ({describe(exc)})")]
    schema = parquet.schema_arrow
    if IMAGE_COLUMN not in schema.names:
        raise BulkError(
            f"{table} has no {IMAGE_COLUMN!r} column (its columns: {', '.join(schema.names)}); write each image's "
            f"bytes (PNG, JPEG...) in a binary column {IMAGE_COLUMN!r}, and optionally its name in {PATH_COLUMN!r}"
        )
    kind = schema.field(IMAGE_COLUMN).type
    if not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind)):
        raise BulkError(f"{table}: the {IMAGE_COLUMN!r} column holds {kind}, not bytes; store each image file's bytes")
    items, row = [], 0
    source = table if "://" in table else os.path.abspath(table)
    for group in range(parquet.metadata.num_row_groups):
        rows = parquet.metadata.row_group(group).num_rows
        for start in range(0, rows, SLICE):
            stop = min(rows, start + SLICE)
            named = PATH_COLUMN in schema.names
            items.append(_item(table, source, group=group, start=start, stop=stop, row=row + start, named=named))
        row += rows
    return items


def _open_parquet(table: str) -> Any:
    import pyarrow.parquet as pq
    from pyarrow import fs

    if "://" in table:
        filesystem, path = fs.FileSystem.from_uri(table)
        return pq.ParquetFile(filesystem.open_input_file(path))
    return pq.ParquetFile(table)


# --------------------------------------------------------------------------- the workers


class Recognize:
    """The ``map_batches`` callable: one model load per worker, then each batch's results, in order.

    A batch is a ``pyarrow.Table`` of ``read_images`` items, or of your own rows with a
    ``path`` column and the image bytes in ``image`` (or ``bytes``, as
    ``ray.data.read_binary_files(..., include_paths=True)`` gives). Each result row has
    ``path``, ``digit`` (or with ``multi``, ``number``), ``confidence``, ``reason``,
    ``error`` and ``json``: the line `digits predict --json` prints for that image.
    ``model``: the bytes of an ONNX model, sent with the task so that every machine
    reads with the same model (default: the one shipped in each machine's package).
    """

    def __init__(
        self,
        *,
        multi: bool = False,
        digits: int | None = None,
        model: bytes | None = None,
        card: bytes | None = None,
    ) -> None:
        self.multi = multi or digits is not None
        self.digits = digits
        self.recognizer = _load(model, card)
        self._table: tuple[tuple[str, int], Any] | None = None  # the last Parquet row group read, by (table, group)

    def __call__(self, batch: Any) -> Any:
        pending: list[tuple[str, Any] | dict[str, Any]] = []  # (path, image) to recognize, or a row already known
        for item in batch.to_pylist():
            pending.extend(self._images(item))
        todo = [p for p in pending if isinstance(p, tuple)]
        done = iter(self._numbers(todo) if self.multi else self._digits(todo))
        return result_table([next(done) if isinstance(p, tuple) else p for p in pending], self.multi)

    def _numbers(self, todo: list[tuple[str, Any]]) -> Iterator[dict[str, Any]]:
        for path, image in todo:
            yield result_for(self.recognizer, path, image, True, self.digits)

    def _digits(self, todo: list[tuple[str, Any]]) -> Iterator[dict[str, Any]]:
        """One model call for the batch; an image that could not be read is read again alone, for its error row."""
        found = self.recognizer.predict_batch([image for _, image in todo], jobs=1)  # the worker's one CPU
        for (path, image), prediction in zip(todo, found, strict=True):
            if prediction.reason and prediction.reason.startswith(UNREADABLE):
                yield result_for(self.recognizer, path, image, False)
            else:
                yield as_result(path, prediction)

    def _images(self, item: dict[str, Any]) -> Iterator[tuple[str, Any] | dict[str, Any]]:
        """The item's (path, image) pairs (a local path, or bytes read here), or its error row."""
        image = item.get(IMAGE_COLUMN, item.get("bytes"))
        if image is not None or "source" not in item:
            yield self._image(str(item.get(PATH_COLUMN) or ""), image, "no image bytes in this row")
        elif item["problem"]:
            yield {"path": item["path"], "error": item["problem"]}
        elif item["group"] >= 0:
            yield from self._table_rows(item)
        elif _is_url(item["source"]):
            yield self._image(item["path"], *fetch(item["source"]))
        elif "://" in item["source"]:
            yield self._image(item["path"], *_read_uri(item["source"]))
        else:
            yield item["path"], item["source"]  # a local path: read as `digits predict` reads it

    @staticmethod
    def _image(path: str, image: Any, problem: str) -> tuple[str, Any] | dict[str, Any]:
        return (path, image) if image is not None else {"path": path, "error": problem}

    def _table_rows(self, item: dict[str, Any]) -> Iterator[tuple[str, Any] | dict[str, Any]]:
        """One slice of a row group; the group is read once per worker and kept until the next one."""
        key = (item["source"], item["group"])
        names = [f"{item['path']}#{item['row'] + i}" for i in range(item["stop"] - item["start"])]
        try:
            if self._table is None or self._table[0] != key:
                columns = [IMAGE_COLUMN, PATH_COLUMN] if item["named"] else [IMAGE_COLUMN]
                self._table = key, _open_parquet(item["source"]).read_row_group(item["group"], columns=columns)
            rows = self._table[1].slice(item["start"], item["stop"] - item["start"]).to_pylist()
        except Exception as exc:  # the table changed or vanished since it was listed: its rows say so, others go on
            yield from ({"path": name, "error": f"could not read the table ({describe(exc)})"} for name in names)
            return
        for name, row in zip(names, rows, strict=True):
            given = row.get(PATH_COLUMN)
            yield self._image(name if given is None else str(given), row[IMAGE_COLUMN], "no image bytes in this row")


def _load(model: bytes | None, card: bytes | None) -> Recognizer:
    """The recognizer a worker reads with: one ONNX thread, as the worker has one CPU."""
    if model is None:
        return Recognizer.load(threads=1)
    with tempfile.TemporaryDirectory(prefix="digits-model-") as folder:
        path = Path(folder) / "model.onnx"
        path.write_bytes(model)
        if card is not None:
            path.with_suffix(".json").write_bytes(card)
        return Recognizer.load(path, threads=1)


def fetch(url: str) -> tuple[bytes | None, str]:
    """A URL's bytes, or None and why not (HTTP status, timeout, too large)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as answer:
            data = read_capped(answer)
    except urllib.error.HTTPError as exc:
        return None, f"could not fetch it (HTTP {exc.code} {exc.reason})"
    except urllib.error.URLError as exc:
        reason = exc.reason
        return None, f"could not fetch it ({reason.strerror or reason if isinstance(reason, OSError) else reason})"
    except TimeoutError:
        return None, f"could not fetch it (no answer within {FETCH_TIMEOUT:.0f} s)"
    except Exception as exc:  # a dropped connection, a bad URL: this row says so, the others go on
        return None, f"could not fetch it ({describe(exc)})"
    if len(data) > MAX_FILE_BYTES:
        return None, f"it is over {MAX_FILE_BYTES / 1e6:.0f} MB, too large to be a picture of a digit"
    return data, ""


def _read_uri(uri: str) -> tuple[bytes | None, str]:
    """A file's bytes on a pyarrow filesystem (s3://, gs://, file://...), or None and why not."""
    from pyarrow import fs

    try:
        filesystem, path = fs.FileSystem.from_uri(uri)
        with filesystem.open_input_stream(path) as stream:
            data = read_capped(stream)
    except FileNotFoundError:
        return None, "file not found"
    except Exception as exc:
        return None, f"cannot read it ({describe(exc)})"
    if len(data) > MAX_FILE_BYTES:
        return None, f"it is over {MAX_FILE_BYTES / 1e6:.0f} MB, too large to be a picture of a digit"
    return data, ""


def result_table(results: list[dict[str, Any]], multi: bool) -> Any:
    """Results as a ``pyarrow.Table`` with one schema whatever each holds (an error, no digit, a number)."""
    import pyarrow as pa

    return pa.Table.from_pylist(
        [
            {
                "path": r["path"],
                "number" if multi else "digit": r.get("number" if multi else "digit"),
                "confidence": r.get("confidence"),
                "reason": r.get("reason"),
                "error": r.get("error"),
                "json": json.dumps(r),
            }
            for r in results
        ],
        schema=result_schema(multi),
    )


def result_schema(multi: bool) -> Any:
    import pyarrow as pa

    answer = pa.field("number", pa.string()) if multi else pa.field("digit", pa.int64())
    fields = [("confidence", pa.float64()), ("reason", pa.string()), ("error", pa.string()), ("json", pa.string())]
    return pa.schema([pa.field("path", pa.string()), answer, *(pa.field(n, t) for n, t in fields)])


# --------------------------------------------------------------------------- running it


def recognize(
    images: Any,
    *,
    model: str | os.PathLike[str] | None = None,
    multi: bool = False,
    digits: int | None = None,
    workers: int | None = None,
) -> Any:
    """The results for a Dataset of images (``read_images``'s, or your own), in its order; lazy: nothing runs yet.

    ``workers``: how many recognizers run, one CPU and one model load each (default:
    every CPU of the cluster). Iterate the results, or write them where Ray writes
    (``.write_parquet("s3://bucket/results/")``).
    """
    return _recognize(images, None if model is None else model_files(Path(model)), multi, digits, workers)


def _recognize(
    images: Any, weights: tuple[bytes, bytes | None] | None, multi: bool, digits: int | None, workers: int | None
) -> Any:
    ray = require("ray", "reading images with Ray Data")
    if not ray.is_initialized():
        ray.init()  # a local cluster, or $RAY_ADDRESS's, as Ray Data itself would
    cpus = _cpus(ray)
    workers = workers or cpus
    if workers > cpus:
        raise BulkError(
            f"--workers {workers}, but the cluster has {cpus} CPUs and each worker takes one; "
            f"pass --workers {cpus} or fewer, or add machines to the cluster"
        )
    ray.data.DataContext.get_current().execution_options.preserve_order = True  # results in the order given
    model, card = weights or (None, None)
    return images.map_batches(
        Recognize,
        fn_constructor_kwargs={"multi": multi, "digits": digits, "model": model, "card": card},
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1,
        batch_size=BATCH,
        batch_format="pyarrow",
    )


def model_files(model: Path) -> tuple[bytes, bytes | None]:
    """An ONNX model's bytes and its card's, for the workers; loaded here first (a ModelError if it cannot be)."""
    Recognizer.load(model, sequence_model=False)
    card = model.with_suffix(".json")
    return model.read_bytes(), card.read_bytes() if card.is_file() else None


@dataclass(frozen=True)
class Cluster:
    """The Ray cluster a run uses: started for it (a local one) or joined, and how long that took."""

    address: str  # "local" when started for the run, "" when this process was connected already
    cpus: int
    seconds: float
    started: bool  # True: a local cluster started for this run, stopped after it

    def describe(self) -> str:
        if not self.address:
            return f"using this process's Ray connection ({self.cpus} CPUs)"
        how = "started a local Ray cluster" if self.started else f"joined the Ray cluster at {self.address}"
        return f"{how} ({self.cpus} CPUs) in {self.seconds:.1f} s"


def connect(address: str | None = None, *, cpus: int | None = None, quiet: bool = True) -> Cluster:
    """Join the cluster at ``address`` (default: $RAY_ADDRESS), else start a local one with ``cpus`` CPUs.

    A process already connected (``ray.init`` was called) keeps its connection. An
    address that does not answer is a BulkError within CONNECT_TIMEOUT seconds, where
    Ray itself would keep retrying for minutes.
    """
    ray = require("ray", "digits predict --ray")
    started = time.perf_counter()
    if ray.is_initialized():
        return Cluster("", _cpus(ray), 0.0, started=False)
    address = address or os.environ.get("RAY_ADDRESS") or None
    options: dict[str, Any] = {"include_dashboard": False}
    if quiet:
        # Ray's C++ notices (one per worker pool: "actor restart will fail" if its arguments were lost) are
        # not the user's to act on; RAY_BACKEND_LOG_LEVEL=info shows them again.
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        options |= {"logging_level": logging.ERROR, "log_to_driver": False}
        ray.data.DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # after ray.data's import, which configures it
    if address is None:
        ray.init(address="local", num_cpus=max(cpus or 0, os.cpu_count() or 1), **options)
    else:
        _check_reachable(address)
        try:
            ray.init(address=address, **options)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BulkError(f"could not join the Ray cluster at {address} ({reason})") from None
    return Cluster(address or "local", _cpus(ray), time.perf_counter() - started, started=address is None)


def _cpus(ray: Any) -> int:
    return int(ray.cluster_resources().get("CPU", 0))


def _check_reachable(address: str) -> None:
    """Refuse, in one line, an address no Ray head listens at (``host:port`` or ``ray://host:port``)."""
    if address in ("auto", "local"):
        return
    where = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = where.hostname, where.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise BulkError(f"{address!r} is not a Ray address; give HOST:PORT, e.g. 10.0.0.1:6379 (the head's port)")
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise BulkError(
            f"no Ray cluster answers at {address} ({exc.strerror or describe(exc)}); start one there with "
            "`ray start --head`, or fix --ray-address / $RAY_ADDRESS"
        ) from None


def check_output(output: Path) -> None:
    """Refuse an output file whose format is unknown or whose folder is missing, before any work starts."""
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise BulkError(
            f"--output {output}: say the format by the suffix, {' or '.join(OUTPUT_SUFFIXES)} (e.g. r.parquet)"
        )
    if not output.parent.is_dir():
        raise BulkError(f"--output {output}: the folder {output.parent} does not exist; create it first")


def write_results(batches: Iterable[Any], output: Path, multi: bool) -> tuple[int, bool]:
    """Write result batches to one Parquet or JSON lines file (by suffix); return (rows, whether any failed).

    Written beside the file first and moved into place at the end: an interrupted run
    leaves no half-written file under the name asked for.
    """
    import pyarrow.parquet as pq

    count, failed = 0, False
    partial = output.with_name(output.name + ".partial")
    try:
        if output.suffix.lower() == ".parquet":
            with pq.ParquetWriter(partial, result_schema(multi)) as writer:
                for batch in batches:
                    writer.write_table(batch)
                    count, failed = count + batch.num_rows, failed or batch["error"].null_count < batch.num_rows
        else:
            with open(partial, "w", encoding="utf-8") as lines:
                for batch in batches:
                    lines.writelines(line + "\n" for line in batch["json"].to_pylist())
                    count, failed = count + batch.num_rows, failed or batch["error"].null_count < batch.num_rows
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return count, failed


def predict_on_ray(
    sources: Sequence[str],
    *,
    model: str | os.PathLike[str] | None = None,
    as_json: bool = False,
    top_k: int = 3,
    multi: bool = False,
    digits: int | None = None,
    address: str | None = None,
    workers: int | None = None,
    output: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """`digits predict --ray`: print what `digits predict` prints (or write ``output``); 1 if any image failed.

    What happened goes to stderr: the cluster started or joined (and how long that
    took), the images per second once it ran, where the results were written.
    """
    ray = require("ray", "digits predict --ray")
    require("pyarrow", "digits predict --ray")
    if output is not None:
        check_output(output)
    multi = multi or digits is not None
    weights = None if model is None else model_files(Path(model))  # refused before the cluster starts
    items = work_items(sources)
    if not items:
        print("error: no image files found in " + printable(", ".join(sources)), file=sys.stderr)
        return 1
    cluster = connect(address, cpus=workers)
    print(f"ray: {cluster.describe()}", file=sys.stderr)
    try:
        began = time.perf_counter()
        results = _recognize(ray.data.from_items(items), weights, multi, digits, workers)
        batches = results.iter_batches(batch_format="pyarrow", batch_size=None)
        if output is not None:
            count, failed = write_results(batches, output, multi)
        else:
            rows = (json.loads(line) for batch in batches for line in batch["json"].to_pylist())
            count, failed = print_results(rows, as_json=as_json, top_k=top_k, multi=multi, out=out)
        seconds = time.perf_counter() - began
        rate = f"{count / seconds:.{0 if count / seconds >= 10 else 1}f} images/s"
        print(f"ray: {count} images in {seconds:.1f} s ({rate}) on {workers or cluster.cpus} workers", file=sys.stderr)
        if output is not None:
            print(f"ray: results written to {output}", file=sys.stderr)
    finally:
        if cluster.started:
            ray.shutdown()
    return 1 if failed else 0
