"""The Recognizer: one onnxruntime session, any image in, a Prediction out.

Loading the model is the slow part (tens of milliseconds), so a Recognizer is made
once and reused; onnxruntime sessions are safe to call from several threads, and
the Recognizer keeps no other mutable state, so one instance serves a whole app.
"""

from __future__ import annotations

import ast
import atexit
import collections
import functools
import itertools
import math
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .handoff import Handoff, SharedArrays, read_shared
from .imagefile import describe
from .preprocess import INK_THRESHOLD, ImageError, ImageSource, Ink, NoDigit, load_ink, normalize, preprocess
from .segment import Box, Segmentation, segment
from .sessions import open_session, read_card

if TYPE_CHECKING:  # the number reader's modules are imported when a number is first read: start-up time
    from .ctc import Reading, SequenceReader

MODEL_NAME = "mnist_cnn"
NO_DIGIT = 10  # column of the "not a digit" class in scores(), for models trained with one
UNSURE_BELOW = 0.8  # confidence under which an answer is shown as unsure ("7 or 1?")
NOT_A_DIGIT = "not one digit: a stray mark, a scribble, or several digits (read those in number mode)"
ALTERNATIVES = 2  # the segmenter's readings with up to this many digits more or fewer compete (with a sequence model)


class ModelError(Exception):
    """The model file is missing or unreadable; the message says how to get one."""


@dataclass(frozen=True)
class Prediction:
    """One digit: the best guess, how sure the model is, and all ten probabilities.

    ``digit`` is None when the image holds no digit (blank, or only specks); then
    ``reason`` says why and ``probabilities`` is empty.
    """

    digit: int | None
    confidence: float
    probabilities: tuple[float, ...] = ()
    reason: str | None = None

    @classmethod
    def from_probabilities(cls, probabilities: Sequence[float] | np.ndarray) -> Prediction:
        """The most likely digit of ten probabilities, with all ten kept.

        Eleven scores (a model with a "not a digit" class) give ``digit`` None when
        that class wins; the ten digit probabilities are kept either way.
        """
        p = np.asarray(probabilities, dtype=np.float64)
        digits = p[:10]
        digit = int(digits.argmax())
        if len(p) > NO_DIGIT and p[NO_DIGIT] > digits[digit]:
            return cls(None, 0.0, tuple(digits.tolist()), reason=NOT_A_DIGIT)
        return cls(digit, float(digits[digit]), tuple(digits.tolist()))

    @property
    def unsure(self) -> bool:
        """True when a digit was read but the model is not sure of it (shown as "7 or 1?")."""
        return self.digit is not None and self.confidence < UNSURE_BELOW

    def top_k(self, k: int = 3) -> list[tuple[int, float]]:
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), self.probabilities[d]) for d in order]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "probabilities": [round(p, 6) for p in self.probabilities],
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class DigitInNumber:
    """A digit found inside a number, with its box (x0, y0, x1, y1) in image pixels.

    ``image`` is the 28x28 array the model read, for apps that show it.
    """

    prediction: Prediction
    box: tuple[int, int, int, int]
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {**self.prediction.to_dict(), "box": list(self.box)}


@dataclass(frozen=True)
class NumberPrediction:
    """A whole number read left to right; ``number`` is None when no digit was found.

    ``ignored`` holds the boxes of marks left out of every digit (dots, dashes, scribbles),
    so no ink is dropped without a word; ``reason`` says why there is no number, or why
    the reading has another count of digits than was asked for.
    """

    number: str | None
    digits: list[DigitInNumber] = field(default_factory=list)
    reason: str | None = None
    ignored: list[Box] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        """The chance every digit is right, assuming independence: the product of confidences."""
        return float(np.prod([d.prediction.confidence for d in self.digits])) if self.digits else 0.0

    @property
    def unsure(self) -> bool:
        """True when the weakest digit is unsure: the number is shown as unsure."""
        return any(d.prediction.unsure for d in self.digits)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.number,
            "confidence": round(self.confidence, 6),
            "unsure": self.unsure,
            "digits": [d.to_dict() for d in self.digits],
            "ignored": [{"box": list(box)} for box in self.ignored],
        }
        if self.reason:
            out["reason"] = self.reason
        return out


def shipped_model_path() -> Path:
    return Path(__file__).parent / "models" / f"{MODEL_NAME}.onnx"  # not importlib.resources: 11 ms of start-up


class Recognizer:
    """Recognize handwritten digits with an ONNX model (default: the one shipped in the package)."""

    def __init__(self, session: Any, path: Path, card: dict[str, Any], sequence: SequenceReader | None = None) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self.path = path
        self.card = card
        self.sequence = sequence  # the number reader for touching digits (None: numbers by the segmenter alone)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        threads: int | None = None,
        sequence_model: str | os.PathLike[str] | bool = True,
    ) -> Recognizer:
        """Load an ONNX model and its model card (``<name>.json`` beside it, optional).

        The model is checked here, once, for every app and verb: a model that cannot
        work is refused with a ModelError saying why, rather than failing on every image.
        ``sequence_model``: the sequence reader's ONNX file (True: the shipped one when it
        is there; False: none, numbers are read by the segmenter alone).
        """
        model_path = Path(path) if path is not None else shipped_model_path()
        if not model_path.is_file():
            hint = (
                "Pass --model with the path of a model.onnx, e.g. runs/train/exp/model.onnx from `digits train`."
                if path is not None
                else "The shipped model is missing from the installed package; reinstall it with `pip install .`."
            )
            raise ModelError(f"Model file {model_path} not found. {hint}")
        session = open_session(model_path, threads, ModelError)
        sequence = _load_sequence(sequence_model, threads)
        return cls(_checked_model(session, model_path), model_path, read_card(model_path), sequence)

    # -- the model ------------------------------------------------------------------

    def scores(self, batch: np.ndarray) -> np.ndarray:
        """(N, 11) probabilities for MNIST-normalized float images (N, 28, 28) in [0, 1].

        Columns 0-9 are the digits, column NO_DIGIT the chance the image is no digit at
        all (a stray mark): zero for a model trained without that class.
        """
        x = np.ascontiguousarray(batch, dtype=np.float32).reshape(-1, 1, 28, 28)
        out = np.zeros((len(x), NO_DIGIT + 1), dtype=np.float32)
        if len(x):
            raw = self._session.run(None, {self._input: x})[0]
            out[:, : raw.shape[1]] = raw[:, : NO_DIGIT + 1]
        return out

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """(N, 10) digit probabilities for MNIST-normalized float images (N, 28, 28) in [0, 1]."""
        return self.scores(batch)[:, :10]

    # -- images ---------------------------------------------------------------------

    def preprocess(self, image: ImageSource) -> np.ndarray:
        """The 28x28 float array the model sees (raises NoDigit for a blank image)."""
        return preprocess(image)

    def predict(self, image: ImageSource) -> Prediction:
        """Recognize the single digit in a path, bytes, PIL image or numpy array."""
        try:
            x = preprocess(image)
        except NoDigit as empty:
            return Prediction(None, 0.0, reason=str(empty))
        return Prediction.from_probabilities(self.scores(x[None])[0])

    def predict_batch(self, images: Iterable[ImageSource], *, jobs: int | None = None) -> list[Prediction]:
        """Recognize many images, in order, on ``jobs`` cores (default: all).

        Works wherever Python runs (a script without a main guard, ``python -c``, a
        thread, a notebook) and answers as ``predict`` does image by image. An image that
        cannot be read does not stop the others: its Prediction has digit None and a
        ``reason`` starting with ``UNREADABLE`` ("unreadable image: ..."). How the work
        is spread over cores, safely, is explained in ``_recognize_all``.
        """
        return _recognize_all(self, list(images), jobs)

    def predict_stream(
        self, batches: Iterable[Sequence[ImageSource]], *, jobs: int | None = None
    ) -> Iterator[list[Prediction]]:
        """``predict_batch`` of each batch in turn, the next ones already being read: for folders of any size.

        Memory holds a few batches, never the whole stream, and the cores never wait for
        the caller: while it handles one batch's predictions, the worker processes read
        the next (STREAM_AHEAD batches in flight). Where processes are not safe (see
        ``_processes_are_safe``) each batch is read in threads as ``predict_batch`` does.
        """
        workers = max(1, jobs or os.cpu_count() or 1)
        batches = iter(batches)
        for batch in batches:  # small batches in this process: starting the workers costs more than they save
            if workers > 1 and len(batch) >= PARALLEL_MIN_BATCH and _processes_are_safe():
                yield from _stream_in_processes(self, itertools.chain([batch], batches), workers)
                return
            yield self.predict_batch(batch, jobs=jobs)

    def predict_prepared(self, prepared: Sequence[np.ndarray | Prediction]) -> list[Prediction]:
        """Predictions for ``preprocess_many``'s output: one batched model call for every array in it."""
        arrays = [p for p in prepared if isinstance(p, np.ndarray)]
        probs = iter(self.scores(np.stack(arrays)) if arrays else [])
        return [Prediction.from_probabilities(next(probs)) if isinstance(p, np.ndarray) else p for p in prepared]

    def predict_number(self, image: ImageSource | Ink, digits: int | None = None) -> NumberPrediction:
        """Find every digit in an image of a number and read them left to right.

        The model scores every way of grouping and cutting the strokes, and the most
        probable reading wins (see ``segment``); with a sequence model, the segmenter's
        readings are rescored by it (see ``combine``). ``digits``: the count when it is
        known (a form field), to get the best reading of exactly that many digits.
        The image is read and its ink found once (``load_ink``), for both readers.
        """
        try:
            ink = load_ink(image)
            found = segment(ink, self.scores, digits=digits, alternatives=ALTERNATIVES if self.sequence else 0)
        except NoDigit as empty:
            return NumberPrediction(None, reason=str(empty))
        if self.sequence is None or not found.digits:
            return _number_from(found)
        return self._combined(ink, found, self.sequence.read(ink), digits)

    def _combined(self, ink: Ink, found: Segmentation, reading: Reading, digits: int | None) -> NumberPrediction:
        """The segmenter's readings rescored by the sequence reader (``combine.choose``)."""
        from . import combine
        from .ctc import digit_probabilities

        options = [found, *found.alternatives]
        weakest = min(max(p.scores[:10]) for p in found.digits)
        choice = combine.choose(
            [(o.text, o.score) for o in options], reading.log_probability, reading.text, weakest, digits
        )
        if choice.index is not None:
            chosen = options[choice.index]
            return _number_from(chosen, found.reason if choice.index == 0 else None, found.ignored)
        same = next((o for o in options if len(o.digits) == len(reading.text)), None)
        pieces = [(p.box, p.image) for p in same.digits] if same is not None else _pieces_from_frames(ink, reading)
        read = []
        for k, ((box, image), span) in enumerate(zip(pieces, reading.spans, strict=True)):
            p = digit_probabilities(reading.log_probs, span)
            digit = int(reading.text[k])
            read.append(DigitInNumber(Prediction(digit, float(p[digit]), tuple(p.tolist())), box, image))
        return NumberPrediction(reading.text, read, found.reason, found.ignored)


def _number_from(found: Segmentation, reason: str | None = None, ignored: list[Box] | None = None) -> NumberPrediction:
    """A segmenter's reading as the answer: each digit with the digit model's probabilities and its box."""
    read = [
        DigitInNumber(Prediction.from_probabilities(piece.scores[:10]), piece.box, piece.image)
        for piece in found.digits
    ]
    number = "".join(str(d.prediction.digit) for d in read) or None
    reason = found.reason if reason is None and ignored is None else reason
    return NumberPrediction(number, read, reason, found.ignored if ignored is None else ignored)


def _pieces_from_frames(ink: Ink, reading: Reading) -> list[tuple[Box, np.ndarray]]:
    """Boxes (source pixels) and 28x28 images of the sequence reader's digits, from the columns it read them in."""
    from .ctc import digit_columns

    strokes = ink.strength >= INK_THRESHOLD
    cols = np.flatnonzero(strokes.any(0))
    out = []
    for x0, x1 in digit_columns(reading, (int(cols[0]), int(cols[-1]) + 1)):
        a, b = max(0, int(x0)), max(int(x0) + 1, math.ceil(x1))
        rows = np.flatnonzero(strokes[:, a:b].any(1))
        y0, y1 = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, strokes.shape[0])
        try:
            image = normalize(ink.strength[y0:y1, a:b])
        except NoDigit:
            image = np.zeros((28, 28), dtype=np.float32)
        s = ink.scale
        out.append(((int(a * s), int(y0 * s), math.ceil(b * s), math.ceil(y1 * s)), image))
    return out


def _load_sequence(model: str | os.PathLike[str] | bool, threads: int | None) -> SequenceReader | None:
    """The sequence reader asked for; a broken file is a ModelError saying why."""
    if model is False:
        return None
    from .ctc import SequenceModelError, SequenceReader

    try:
        return SequenceReader.load(None if model is True else model, threads=threads)
    except SequenceModelError as exc:
        raise ModelError(str(exc)) from None


UNREADABLE = "unreadable image: "  # start of a batch item's reason when the image could not be read


def preprocess_many(images: Sequence[ImageSource]) -> list[np.ndarray | Prediction]:
    """Each image's 28x28 array, or a digit-None Prediction saying why there is none (module level: workers run it)."""
    out: list[np.ndarray | Prediction] = []
    for image in images:
        try:
            out.append(preprocess(image))
        except NoDigit as empty:
            out.append(Prediction(None, 0.0, reason=str(empty)))
        except ImageError as bad:
            out.append(Prediction(None, 0.0, reason=UNREADABLE + str(bad)))
        except Exception as exc:  # one image's unexpected failure never stops the batch
            out.append(Prediction(None, 0.0, reason=UNREADABLE + f"could not be read ({describe(exc)})"))
    return out


PARALLEL_MIN_BATCH = 64  # smaller batches are not worth handing out
_pools: dict[tuple[str, int], Any] = {}  # ("process" | "thread", workers) -> an executor, made on first use
_pools_lock = threading.Lock()


def _recognize_all(
    recognizer: Recognizer, images: list[ImageSource], jobs: int | None, processes: bool = True
) -> list[Prediction]:
    """Recognize ``images`` on ``jobs`` cores: whole in worker processes when that is safe, else in threads.

    Preprocessing is mostly short numpy calls that hold the GIL, so only processes use
    several cores fully; each worker process decodes, preprocesses and runs the model
    on its own share (``recognize_in_worker``: the model loaded once per worker, one
    thread each), so that nothing waits on one process's model call. Processes are
    started (forkserver or spawn, never fork: onnxruntime has threads) only when the
    child would not re-run the user's script (see ``_processes_are_safe``); otherwise a
    thread pool preprocesses, which still overlaps the parts of Pillow and numpy that
    release the GIL, and the model reads the whole batch here. A process pool that
    breaks (a worker killed) falls back to threads.
    """
    workers = max(1, min(jobs or os.cpu_count() or 1, -(-len(images) // 16)))
    if workers < 2 or len(images) < PARALLEL_MIN_BATCH:
        return recognizer.predict_prepared(preprocess_many(images))
    size = -(-len(images) // (workers * 4))
    if processes and _processes_are_safe():
        from concurrent.futures.process import BrokenProcessPool

        work = functools.partial(recognize_in_worker, str(recognizer.path))
        try:
            with Handoff(images) as handoff:  # arrays go through shared memory, not pickles
                parts = [handoff.part(i, i + size) for i in range(0, len(images), size)]
                return [item for part in _pool("process", workers).map(work, parts) for item in part]
        except BrokenProcessPool:
            _forget_pool("process", workers)
    chunks = [images[i : i + size] for i in range(0, len(images), size)]
    prepared = [item for part in _pool("thread", workers).map(preprocess_many, chunks) for item in part]
    return recognizer.predict_prepared(prepared)


STREAM_AHEAD = 2  # batches handed to the worker processes before the caller takes the first


def _stream_in_processes(
    recognizer: Recognizer, batches: Iterator[Sequence[ImageSource]], workers: int
) -> Iterator[list[Prediction]]:
    """``predict_stream`` on worker processes: each batch split into one piece per worker, submitted ahead."""
    from concurrent.futures.process import BrokenProcessPool

    pool = _pool("process", workers)
    work = functools.partial(recognize_in_worker, str(recognizer.path))
    in_flight: collections.deque[tuple[Handoff, list[Any]]] = collections.deque()

    def submit(batch: Sequence[ImageSource]) -> None:
        handoff = Handoff(list(batch))
        size = max(1, -(-len(batch) // workers))
        in_flight.append((handoff, [pool.submit(work, handoff.part(i, i + size)) for i in range(0, len(batch), size)]))

    try:
        for batch in itertools.islice(batches, STREAM_AHEAD):
            submit(batch)
        while in_flight:
            futures = in_flight[0][1]
            if (upcoming := next(batches, None)) is not None:
                submit(upcoming)
            try:
                predictions = [p for future in futures for p in future.result()]
            except BrokenProcessPool:  # a worker was killed: this batch and the rest on threads
                _forget_pool("process", workers)
                rest = [waiting.images for waiting, _ in in_flight]
                for waiting, _ in in_flight:
                    waiting.close()
                in_flight.clear()
                for batch in itertools.chain(rest, batches):
                    yield _recognize_all(recognizer, list(batch), workers, processes=False)
                return
            in_flight.popleft()[0].close()
            yield predictions
    finally:  # the caller stopped early, or an error: no shared block outlives the stream
        for waiting, _ in in_flight:
            waiting.close()


_worker_recognizers: dict[str, Recognizer] = {}  # in a worker process: model path -> its Recognizer


def recognize_in_worker(model: str, images: Sequence[ImageSource] | SharedArrays) -> list[Prediction]:
    """Predictions for ``images`` with the model at ``model`` (module level: worker processes run it).

    The model is loaded on a worker's first chunk and kept, with one onnxruntime thread:
    the workers themselves are the parallelism. Arrays may come in shared memory (``handoff``).
    """
    recognizer = _worker_recognizers.get(model)
    if recognizer is None:
        recognizer = _worker_recognizers[model] = Recognizer.load(model, threads=1, sequence_model=False)
    if isinstance(images, SharedArrays):
        images = read_shared(images)
    return recognizer.predict_prepared(preprocess_many(images))


def _pool(kind: str, workers: int) -> Any:
    """The shared pool of this kind and size, made on first use (imported here: start-up time)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    with _pools_lock:
        pool = _pools.get((kind, workers))
        if pool is None:
            if kind == "process":
                method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
                pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
            else:
                pool = ThreadPoolExecutor(workers, thread_name_prefix="digits-preprocess")
            if not _pools:
                atexit.register(_shutdown_pools)
            _pools[(kind, workers)] = pool
        return pool


def _forget_pool(kind: str, workers: int) -> None:
    """Drop a broken pool: the next call of that kind and size makes a new one."""
    with _pools_lock:
        _pools.pop((kind, workers), None)


def _shutdown_pools() -> None:
    """Stop the pools while the interpreter is whole (left to teardown, a process pool complains)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        _pools.clear()


def _processes_are_safe() -> bool:
    """True when starting worker processes cannot re-run the user's script.

    forkserver and spawn children import the ``__main__`` script (as ``__mp_main__``)
    unless it is a package's ``__main__`` or has no file (``python -c``, a REPL, a
    notebook). Re-importing it is harmless only when the main thread is inside an
    ``if __name__ == "__main__":`` block, which is checked on the script's source. A
    worker process never starts processes of its own.
    """
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        return False
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None and (name == "__main__" or name.endswith(".__main__")):
        return True
    path = getattr(main, "__file__", None)
    if main is None or path is None:
        return True
    frame = sys._current_frames().get(threading.main_thread().ident or -1)
    while frame is not None and not (frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    return frame is not None and frame.f_lineno in _guarded_lines(path)


@functools.lru_cache(maxsize=8)
def _guarded_lines(path: str) -> frozenset[int]:
    """Line numbers inside ``if __name__ == "__main__":`` blocks of a script (empty if unreadable)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return frozenset()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return frozenset(lines)


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    values = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and values == ["__main__"]


DIGIT_MODEL = "a digit model takes float32 images (batch, 1, 28, 28) and gives 10 scores (or 11 with 'not a digit')"


class _CheckedModel:
    """An onnxruntime session as ``Recognizer.scores`` wants it: any batch size in, probabilities out.

    A model exported for batch size 1 is run one image per call; a model that gives
    logits (scores that are not probabilities) gets a softmax.
    """

    def __init__(self, session: Any, batch_of_one: bool, logits: bool) -> None:
        self._session, self.batch_of_one, self.logits = session, batch_of_one, logits

    def get_inputs(self) -> Any:
        return self._session.get_inputs()

    def get_session_options(self) -> Any:
        return self._session.get_session_options()

    def run(self, outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        ((name, x),) = feeds.items()
        if self.batch_of_one and len(x) != 1:
            raw = np.concatenate([self._session.run(outputs, {name: x[i : i + 1]})[0] for i in range(len(x))])
        else:
            raw = self._session.run(outputs, feeds)[0]
        raw = np.asarray(raw, dtype=np.float32).reshape(len(x), -1)
        return [_softmax(raw) if self.logits else raw]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _checked_model(session: Any, path: Path) -> _CheckedModel:
    """Refuse, with one line saying why, a model the recognizer cannot use; adapt one it can."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{path} takes {len(inputs)} inputs; {DIGIT_MODEL}.")
    declared = inputs[0]
    if declared.type != "tensor(float)":
        kind = declared.type.removeprefix("tensor(").rstrip(")")
        raise ModelError(f"{path} takes {kind} input; {DIGIT_MODEL}. Export it with a float32 input.")
    shape = list(declared.shape)
    if len(shape) != 4 or shape[1:] != [1, 28, 28]:
        raise ModelError(f"{path} expects input {shape}; {DIGIT_MODEL}.")
    batch = shape[0]
    if isinstance(batch, int) and batch != 1:
        raise ModelError(f"{path} takes batches of exactly {batch} images; export it with a dynamic batch size (or 1).")
    model = _CheckedModel(session, batch_of_one=batch == 1, logits=False)
    probe = np.zeros((2, 1, 28, 28), dtype=np.float32)
    probe[1, 0, 6:22, 12:16] = 1.0  # a bar: something like a 1
    try:
        scores = model.run(None, {declared.name: probe})[0]
    except Exception as exc:  # onnxruntime's own exception types
        raise ModelError(f"{path} fails on a test image ({exc}); {DIGIT_MODEL}.") from None
    if scores.shape[1] not in (10, 11):
        raise ModelError(f"{path} gives {scores.shape[1]} scores per image; {DIGIT_MODEL}.")
    if not np.isfinite(scores).all():
        raise ModelError(f"{path} gives NaN or infinite scores on a test image; the model is broken.")
    probabilities = bool(((scores >= 0) & (scores <= 1)).all() and np.allclose(scores.sum(axis=1), 1, atol=1e-3))
    model.logits = not probabilities
    return model
