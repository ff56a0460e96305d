"""The sequence reader: a whole number's line image -> per-frame digit scores -> a string, no cut points.

CRNN (Shi, Bai and Yao 2015) read with CTC (Graves et al. 2006): a CNN encoder over the
number's image at a fixed height, a BiLSTM over its columns and, per frame (every
``STRIDE`` columns), log probabilities of the ten digits and of CTC's *blank*. Digits
that touch or overlap need no cut: the reader emits a digit where it sees one.

Everything here is numpy and onnxruntime (the model is trained in
``training/sequence.py``): no torch on the recognition path.

- ``line_image``: the ``Ink`` every reader starts from (``preprocess.load_ink``), cropped
  to its ink and scaled to ``LINE_HEIGHT`` px; training renders its numbers through it too.
- ``best_path``: greedy decoding (the most probable label per frame, repeats merged, blanks
  dropped), with each digit's frames.
- ``log_probability``: log P(string | image), CTC's forward algorithm summed over every
  alignment: used to rescore the segmenter's candidate readings.

Classes: 0-9 are the digits themselves, ``BLANK`` = 10 is CTC's blank (last, so a
digit's class is its value).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .preprocess import INK_THRESHOLD, Ink
from .sessions import open_session, read_card

MODEL_NAME = "number_ctc"
BLANK = 10  # CTC's blank class; 0-9 are the digits
CLASSES = 11
LINE_HEIGHT = 32  # px: the line image's height; the ink's tallest extent fills INK_HEIGHT of it
INK_HEIGHT = 28
MARGIN = 2  # px of background left of, right of, above and below the ink
STRIDE = 4  # columns per output frame (two 2x2 poolings)
MAX_WIDTH = 2048  # px: wider lines are squeezed to this (about 60 digits)


@dataclass(frozen=True)
class Line:
    """A number's ink as the sequence reader sees it, and the way back to the source's pixels.

    Column ``c`` of ``image`` is column ``x0 + (c - MARGIN) / factor`` of the analysis image.
    """

    image: np.ndarray = field(repr=False)  # (LINE_HEIGHT, W) float32 in [0, 1], W a multiple of STRIDE
    x0: int  # the crop's first column in the analysis image
    y0: int
    factor: float  # line pixels per analysis pixel

    def columns(self, first_frame: int, stop_frame: int) -> tuple[float, float]:
        """The analysis-image columns [x0, x1) that frames [first, stop) cover."""
        to_x = lambda c: self.x0 + (c - MARGIN) / self.factor
        return to_x(first_frame * STRIDE), to_x(stop_frame * STRIDE)


def line_image(ink: Ink | np.ndarray) -> Line:
    """Crop the ink (``Ink.strength``, bright on black) and scale it to the fixed line height."""
    strength = ink.strength if isinstance(ink, Ink) else np.asarray(ink, dtype=np.float32)
    strokes = strength >= INK_THRESHOLD
    rows, cols = np.flatnonzero(strokes.any(1)), np.flatnonzero(strokes.any(0))
    if len(rows) == 0:
        rows = cols = np.array([0])
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    crop = strength[y0:y1, x0:x1]
    h, w = crop.shape
    factor = min(INK_HEIGHT / h, (MAX_WIDTH - 2 * MARGIN) / w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    scaled = np.asarray(Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.BILINEAR))
    width = -(-(size[0] + 2 * MARGIN) // STRIDE) * STRIDE
    out = np.zeros((LINE_HEIGHT, max(width, 4 * STRIDE)), dtype=np.float32)  # (H, W)
    top = (LINE_HEIGHT - size[1]) // 2
    out[top : top + size[1], MARGIN : MARGIN + size[0]] = np.clip(scaled, 0, 1)
    return Line(out, x0, y0, factor)


# --------------------------------------------------------------------------- decoding


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log probabilities over the last axis, computed stably."""
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def best_path(log_probs: np.ndarray) -> tuple[str, list[tuple[int, int]]]:
    """Greedy CTC decoding of (T, CLASSES) log probabilities: the string and each digit's frames [start, stop)."""
    labels = log_probs.argmax(axis=1)  # (T,)
    text, spans = [], []
    previous = BLANK
    for t, label in enumerate(labels.tolist()):
        if label != BLANK and label != previous:
            text.append(str(label))
            spans.append((t, t + 1))
        elif label != BLANK and spans:
            spans[-1] = (spans[-1][0], t + 1)
        previous = label
    return "".join(text), spans


def log_probability(log_probs: np.ndarray, text: str) -> float:
    """log P(text | frames): CTC's forward algorithm over every alignment of ``text`` to the T frames.

    The extended label sequence interleaves blanks (blank, d1, blank, d2, ..., blank);
    alpha[s] is the log probability of the frames so far ending in extended label s.
    -inf when the string cannot fit (more labels and needed blanks than frames).
    """
    labels = [int(c) for c in text]
    extended = np.full(2 * len(labels) + 1, BLANK, dtype=np.int64)
    extended[1::2] = labels
    n = len(extended)
    # a label may skip the blank before it unless it repeats the previous label
    skip = np.zeros(n, dtype=bool)
    skip[3::2] = extended[3::2] != extended[1:-2:2]
    alpha = np.full(n, -np.inf)
    alpha[0] = log_probs[0, BLANK]
    if n > 1:
        alpha[1] = log_probs[0, extended[1]]
    for t in range(1, len(log_probs)):
        stay = alpha
        step = np.concatenate([[-np.inf], alpha[:-1]])
        jump = np.full(n, -np.inf)
        jump[2:] = np.where(skip[2:], alpha[:-2], -np.inf)
        alpha = np.logaddexp(np.logaddexp(stay, step), jump) + log_probs[t, extended]
    tail = alpha[-2:] if n > 1 else alpha[-1:]
    return float(np.logaddexp.reduce(tail))


def digit_probabilities(log_probs: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """(10,) the digit probabilities at a digit's most confident frame, blank left out and renormalized."""
    frames = np.exp(log_probs[span[0] : span[1], :BLANK])  # (frames, 10)
    best = frames[frames.max(axis=1).argmax()]
    return best / max(float(best.sum()), 1e-12)


# --------------------------------------------------------------------------- the model


class SequenceModelError(Exception):
    """The sequence model file is unusable; the message says why."""


def shipped_model_path() -> Path:
    return Path(__file__).parent / "models" / f"{MODEL_NAME}.onnx"  # not importlib.resources: 11 ms of start-up


@dataclass(frozen=True)
class Reading:
    """What the sequence reader made of a line: the greedy string, its digits' frames, all log probabilities."""

    text: str
    spans: list[tuple[int, int]]
    log_probs: np.ndarray = field(repr=False)  # (T, CLASSES)
    line: Line

    def log_probability(self, text: str) -> float:
        return log_probability(self.log_probs, text) if text else float(self.log_probs[:, BLANK].sum())


class SequenceReader:
    """An onnxruntime session of the CRNN: line images (1, 1, LINE_HEIGHT, W) in, (1, T, CLASSES) logits out."""

    def __init__(self, session: Any, path: Path, card: dict[str, Any]) -> None:
        self._session, self.path, self.card = session, path, card
        self._input = session.get_inputs()[0].name

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *, threads: int | None = None) -> SequenceReader | None:
        """The model at ``path`` (default: the shipped one); None when the default is not shipped (yet)."""
        model_path = Path(path) if path is not None else shipped_model_path()
        if not model_path.is_file():
            if path is None:
                return None
            raise SequenceModelError(f"sequence model {model_path} not found; pass a digits train-numbers model.onnx")
        return cls(open_session(model_path, threads, SequenceModelError), model_path, read_card(model_path))

    def read(self, ink: Ink) -> Reading:
        """The greedy reading of a number's ink, with the log probabilities to rescore other strings."""
        line = line_image(ink)
        x = line.image[None, None]  # (1, 1, H, W)
        logits = np.asarray(self._session.run(None, {self._input: x})[0], dtype=np.float64)[0]  # (T, CLASSES)
        log_probs = log_softmax(logits)
        text, spans = best_path(log_probs)
        return Reading(text, spans, log_probs, line)


def frames_for(width: int) -> int:
    """Output frames for a line image ``width`` px wide."""
    return math.ceil(width / STRIDE)


def digit_columns(reading: Reading, ink_columns: tuple[int, int]) -> list[tuple[float, float]]:
    """Each digit's columns [x0, x1) in the analysis image: split halfway between neighbouring digits' frames.

    CTC marks a digit with a spike of a frame or two, not its extent, so a digit owns the
    columns from halfway after the previous spike to halfway before the next one.
    """
    centres = [reading.line.columns(a, b) for a, b in reading.spans]
    middles = [(x0 + x1) / 2 for x0, x1 in centres]
    cuts = [float(ink_columns[0]), *((a + b) / 2 for a, b in pairwise(middles)), float(ink_columns[1])]
    return list(pairwise(cuts))
