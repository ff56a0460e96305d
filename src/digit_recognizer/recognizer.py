"""The Recognizer: one onnxruntime session, any image in, a Prediction out.

Loading the model is the slow part (tens of milliseconds), so a Recognizer is made
once and reused; onnxruntime sessions are safe to call from several threads, and
the Recognizer keeps no other mutable state, so one instance serves a whole app.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .preprocess import ImageSource, NoDigit, preprocess
from .segment import Box, segment

MODEL_NAME = "mnist_cnn"
NO_DIGIT = 10  # column of the "not a digit" class in scores(), for models trained with one
UNSURE_BELOW = 0.8  # confidence under which an answer is shown as unsure ("7 or 1?")
NOT_A_DIGIT = "not a digit: a stray mark (dot, dash or scribble); draw a digit"


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
    return Path(str(resources.files("digit_recognizer") / "models" / f"{MODEL_NAME}.onnx"))


class Recognizer:
    """Recognize handwritten digits with an ONNX model (default: the one shipped in the package)."""

    def __init__(self, session: Any, path: Path, card: dict[str, Any]) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self.path = path
        self.card = card

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *, threads: int | None = None) -> Recognizer:
        """Load an ONNX model and its model card (``<name>.json`` beside it, optional)."""
        import onnxruntime as ort

        model_path = Path(path) if path is not None else shipped_model_path()
        if not model_path.is_file():
            hint = (
                "Pass --model with the path of a model.onnx, e.g. runs/train/exp/model.onnx from `digits train`."
                if path is not None
                else "The shipped model is missing from the installed package; reinstall it with `pip install .`."
            )
            raise ModelError(f"Model file {model_path} not found. {hint}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{model_path} is not a usable ONNX model ({exc}).") from None
        shape = session.get_inputs()[0].shape
        if list(shape[1:]) != [1, 28, 28]:
            raise ModelError(f"{model_path} expects input {shape}; a digit model takes (batch, 1, 28, 28).")
        return cls(session, model_path, _read_card(model_path))

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

    def predict_batch(self, images: Iterable[ImageSource]) -> list[Prediction]:
        """Recognize many images in one model call; blank ones come back with digit None.

        From PARALLEL_MIN_BATCH images on, preprocessing runs in a pool of worker
        processes, one per core (Python threads would wait on each other); the pool
        starts on first use (a fraction of a second) and is reused afterwards.
        """
        items = list(images)
        prepared = _preprocess_parallel(items) if len(items) >= PARALLEL_MIN_BATCH else preprocess_many(items)
        arrays = [p for p in prepared if isinstance(p, np.ndarray)]
        probs = iter(self.scores(np.stack(arrays)) if arrays else [])
        return [
            Prediction.from_probabilities(next(probs)) if isinstance(p, np.ndarray) else Prediction(None, 0.0, reason=p)
            for p in prepared
        ]

    def predict_number(self, image: ImageSource, digits: int | None = None) -> NumberPrediction:
        """Find every digit in an image of a number and read them left to right.

        The model scores every way of grouping and cutting the strokes, and the most
        probable reading wins (see ``segment``). ``digits``: the count when it is known
        (a form field), to get the best reading of exactly that many digits.
        """
        try:
            found = segment(image, self.scores, digits=digits)
        except NoDigit as empty:
            return NumberPrediction(None, reason=str(empty))
        read = [
            DigitInNumber(Prediction.from_probabilities(piece.scores[:10]), piece.box, piece.image)
            for piece in found.digits
        ]
        number = "".join(str(d.prediction.digit) for d in read) or None
        return NumberPrediction(number, read, found.reason, found.ignored)


def preprocess_many(images: Sequence[ImageSource]) -> list[np.ndarray | str]:
    """Each image's 28x28 array, or the reason it holds no digit (module level: worker processes run it)."""
    out: list[np.ndarray | str] = []
    for image in images:
        try:
            out.append(preprocess(image))
        except NoDigit as empty:
            out.append(str(empty))
    return out


PARALLEL_MIN_BATCH = 256
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _preprocess_parallel(images: list[ImageSource]) -> list[np.ndarray | str]:
    global _pool
    workers = os.cpu_count() or 1
    if workers < 2:
        return preprocess_many(images)
    with _pool_lock:
        if _pool is None:
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
    size = -(-len(images) // workers)
    chunks = [images[i : i + size] for i in range(0, len(images), size)]
    return [item for part in _pool.map(preprocess_many, chunks) for item in part]


def _read_card(model_path: Path) -> dict[str, Any]:
    card_path = model_path.with_suffix(".json")
    if not card_path.is_file():
        return {}
    try:
        card = json.loads(card_path.read_text())
        return card if isinstance(card, dict) else {}
    except (OSError, ValueError):
        return {}
