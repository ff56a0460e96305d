"""`digits predict`: recognize image files, as a table or as JSON lines.

Streamed, so a folder of 100,000 images costs the memory of one chunk: folders are
listed lazily (only names are kept, to print them in order), images are read and
recognized CHUNK at a time on ``--jobs`` cores, and each result is printed as soon
as its chunk is done. One path that cannot be read (a missing file, a folder without
permission, a FIFO, a name that is not valid UTF-8) never stops the others: it is
reported with its reason and the exit status becomes 1.
"""

from __future__ import annotations

import collections
import errno
import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from .imagefile import describe
from .preprocess import ImageError
from .recognizer import UNREADABLE, NumberPrediction, Prediction, Recognizer

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
CHUNK = 256  # images recognized (and held in memory) at a time


def image_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders expanded to the image files inside, sorted by name."""
    return [path for path, problem in walk(paths) if problem is None]


def walk(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """Each image file to read, as (path, None), or a path that cannot be read, as (path, why).

    Folders are expanded to the regular image files directly inside, sorted by name;
    only their names are held, never the images.
    """
    for path in paths:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            yield path, "file not found"
            continue
        except OSError as exc:
            yield path, f"cannot read it ({exc.strerror or exc})"
            continue
        if stat.S_ISDIR(mode):
            yield from _folder(path)
        elif not stat.S_ISREG(mode):
            yield path, "not a regular file (a FIFO, device or socket?): only image files are read"
        else:
            yield path, _name_problem(path)


def _folder(folder: Path) -> Iterator[tuple[Path, str | None]]:
    """A folder's entries in name order: image files to read, and a row for everything that cannot be.

    Regular files with another suffix and hidden names are left out silently (a
    README, a temporary file); subfolders, FIFOs, devices, sockets and broken
    symbolic links are reported, so that nothing is skipped without a word.
    """
    try:
        with os.scandir(folder) as entries:
            found = sorted((e.name, _entry_problem(e)) for e in entries if not e.name.startswith("."))
    except OSError as exc:
        yield folder, f"cannot read this folder ({exc.strerror or exc})"
        return
    for name, problem in found:
        if problem == _NOT_AN_IMAGE:
            continue
        path = folder / name
        yield path, problem or _name_problem(path)


_NOT_AN_IMAGE = "not an image"


def _entry_problem(entry: os.DirEntry[str]) -> str | None:
    """None for an image file to read, _NOT_AN_IMAGE for a file to leave out, else why it is not read."""
    try:
        mode = os.stat(entry.path).st_mode  # follows symbolic links
    except FileNotFoundError:
        return "a broken symbolic link (its target does not exist); fix or remove it"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops back on itself; fix or remove it"
        return f"cannot read it ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "a folder inside the folder (not searched); pass it on its own"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, device or socket?): only image files are read"
    return None if Path(entry.name).suffix.lower() in IMAGE_SUFFIXES else _NOT_AN_IMAGE


def _name_problem(path: Path) -> str | None:
    """Why a file name cannot be shown, or None: names that are not valid UTF-8 are reported, not guessed."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8; rename the file"
    return None


def shown(path: Path | str) -> str:
    """The path as text any terminal can print (undecodable bytes as \\xNN)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def printable(text: str) -> str:
    """``text`` with control and invisible formatting characters escaped (a newline as \\n, ESC as \\x1b).

    A file name may hold any of them: printed raw, a newline forges a row and ESC
    sequences drive the terminal. JSON output escapes them already.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def result_for(
    recognizer: Recognizer, path: Path | str, source: Any, multi: bool, digits: int | None = None
) -> dict[str, Any]:
    """The JSON-ready result for one image: shared by `digits predict --json` and the HTTP API."""
    try:
        found: Prediction | NumberPrediction = (
            recognizer.predict_number(source, digits) if multi else recognizer.predict(source)
        )
    except ImageError as exc:
        return {"path": str(path), "error": str(exc)}
    except Exception as exc:  # a decoder's or our own failure on this image: the other images go on
        return {"path": str(path), "error": f"could not be read ({describe(exc)})"}
    return as_result(path, found)


def as_result(path: Path | str, found: Prediction | NumberPrediction) -> dict[str, Any]:
    """The JSON shape of `digits predict --json` for a prediction already made.

    A number carries only the number's fields: ``"digit": null`` and empty probabilities
    mean "no digit" in a one-digit answer, so they are left out rather than sent with
    another meaning (each digit's own fields are in ``"digits"``).
    """
    return {"path": str(path), **found.to_dict()}


def predict_files(
    paths: Sequence[Path],
    *,
    model: str | os.PathLike[str] | None = None,
    as_json: bool = False,
    top_k: int = 3,
    multi: bool = False,
    jobs: int | None = None,
    progress: bool | None = None,
    digits: int | None = None,
    out: TextIO | None = None,
) -> int:
    """Print one result per image as it is ready; return 1 if any path failed, else 0.

    ``progress`` (default: when stderr is a terminal) shows a bar on stderr.
    """
    # One digit per image needs no number reader; --jobs 1 means one core, the model's thread included.
    recognizer = Recognizer.load(model, sequence_model=multi, threads=1 if jobs == 1 else None)
    found = walk(paths)
    chunks = iter(lambda: list(islice(found, CHUNK)), [])

    def results(bar: Any) -> Iterator[dict[str, Any]]:
        for chunk in _results(recognizer, chunks, multi, jobs, digits):
            yield from chunk
            bar.update(len(chunk))

    with _progress_bar(sys.stderr.isatty() if progress is None else progress) as bar:
        count, failed = print_results(results(bar), as_json=as_json, top_k=top_k, multi=multi, out=out)
    if not count:
        print("error: no image files found in " + printable(", ".join(shown(p) for p in paths)), file=sys.stderr)
        return 1
    return 1 if failed else 0


def print_results(
    results: Iterable[dict[str, Any]],
    *,
    as_json: bool = False,
    top_k: int = 3,
    multi: bool = False,
    out: TextIO | None = None,
) -> tuple[int, bool]:
    """Print results (``result_for``'s dicts) as `digits predict` does; return (how many, whether any failed).

    Printed as they come, CHUNK at a time: the table's path column is as wide as the
    longest path of the first chunk. `digits predict --ray` prints its results here too.
    """
    out = out or sys.stdout
    pending = iter(results)
    failed, width, count = False, 0, 0
    while chunk := list(islice(pending, CHUNK)):
        if not count and not as_json:
            width = max(len(printable(r["path"])) for r in chunk)
            _emit(_header(width, multi), out)
        for result in chunk:
            failed |= "error" in result
            _emit(json.dumps(result) if as_json else _row(result, width, top_k, multi), out)
        count += len(chunk)
    return count, failed


Walked = list[tuple[Path, str | None]]  # a chunk of walk(): (path, None) to read, or (path, why not)


def _results(
    recognizer: Recognizer, chunks: Iterator[Walked], multi: bool, jobs: int | None, digits: int | None
) -> Iterator[list[dict[str, Any]]]:
    """Each chunk's results, in order; paths that could not be read keep their reason.

    Digits are read with ``Recognizer.predict_stream``, so the cores read the next
    chunks while this one is printed; numbers in a thread pool, chunk by chunk.
    """
    if multi:
        for chunk in chunks:
            yield _numbers(recognizer, chunk, jobs, digits)
        return
    pending: collections.deque[Walked] = collections.deque()  # chunks handed out, not yet answered

    def readable() -> Iterator[list[Path]]:
        for chunk in chunks:
            pending.append(chunk)
            yield [path for path, problem in chunk if problem is None]

    for predictions in recognizer.predict_stream(readable(), jobs=jobs):
        found = iter(predictions)
        yield [
            _as_single(path, next(found)) if problem is None else {"path": shown(path), "error": problem}
            for path, problem in pending.popleft()
        ]


def _numbers(recognizer: Recognizer, chunk: Walked, jobs: int | None, digits: int | None) -> list[dict[str, Any]]:
    from concurrent.futures import ThreadPoolExecutor

    readable = [path for path, problem in chunk if problem is None]
    with ThreadPoolExecutor(jobs or os.cpu_count() or 1) as pool:
        done = iter(pool.map(lambda p: result_for(recognizer, shown(p), p, True, digits), readable))
    return [next(done) if problem is None else {"path": shown(path), "error": problem} for path, problem in chunk]


def _as_single(path: Path, found: Prediction) -> dict[str, Any]:
    if found.reason and found.reason.startswith(UNREADABLE):
        return {"path": shown(path), "error": found.reason.removeprefix(UNREADABLE)}
    return as_result(shown(path), found)


def _emit(line: str, out: TextIO) -> None:
    """Print, escaping what the output's encoding cannot show rather than failing on it."""
    try:
        print(line, file=out, flush=True)
    except UnicodeEncodeError:
        encoding = getattr(out, "encoding", None) or "ascii"
        print(line.encode(encoding, "backslashreplace").decode(encoding), file=out, flush=True)


def _progress_bar(enabled: bool) -> Any:
    """A tqdm bar on stderr (imported only when shown: it costs start-up time)."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(unit=" images", file=sys.stderr, leave=False, dynamic_ncols=True)


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, n: int) -> None:
        pass


def _header(width: int, multi: bool) -> str:
    if multi:
        return f"{'path':<{width}}  {'number':>6}  confidence  each digit (confidence)"
    return f"{'path':<{width}}  {'digit':>6}  confidence  alternatives"


def _row(result: dict[str, Any], width: int, top_k: int, multi: bool) -> str:
    path = f"{printable(result['path']):<{width}}"
    if "error" in result:
        return f"{path}  error: {printable(result['error'])}"
    if (result["number"] if multi else result["digit"]) is None:
        return f"{path}  {'-':>6}  {'-':>10}  no digit: {result.get('reason', '')}"
    if multi:
        each = " ".join(f"{d['digit']}({d['confidence']:.0%})" for d in result["digits"])
        return f"{path}  {result['number']:>6}  {result['confidence']:>10.1%}  {each}"
    probabilities = result["probabilities"]
    order = sorted(range(10), key=lambda d: -probabilities[d])[1:top_k]
    others = "  ".join(f"{d} {probabilities[d]:.1%}" for d in order)
    return f"{path}  {result['digit']:>6}  {result['confidence']:>10.1%}  {others}"
