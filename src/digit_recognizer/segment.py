"""Numbers: cut the ink into more pieces than there are digits, and let the model choose the grouping.

Heuristic over-segmentation, as in LeCun, Bottou, Bengio and Haffner (1998), "Gradient-based
learning applied to document recognition" (the check reader): no fixed gap rule decides where
one digit ends. Instead

1. the ink is cut into *primitives*: its connected strokes, and touching strokes cut again
   at the places where two digits usually meet (minima of the column ink profile, valleys of
   the upper contour, peaks of the lower contour);
2. every run of neighbouring primitives that could be one digit is a *candidate*; all
   candidates go through the model in one batch;
3. dynamic programming over left-to-right paths picks the reading with the highest joint
   probability: the model's probability of each digit times simple priors on its shape (a
   digit's height and width for the number's height, ink cut through, strokes of one digit
   left apart) times, for marks left out, the chance they are not a digit.

A mark left out of every digit is *ignored* and reported with its box: no ink vanishes
silently. Only small marks (dots, short dashes) may be left out, or anything the model
itself calls "not a digit" (the NO_DIGIT column of models trained with that class).

With ``digits=N`` (a form field that holds N digits) the best path with exactly N digits wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np

from .morphology import bounding_boxes, minimum_filter1d, runs
from .preprocess import INK_THRESHOLD, ImageSource, Ink, NoDigit, grow, load_ink, normalize, stroke_width

Box = tuple[int, int, int, int]  # x0, y0, x1, y1
Scorer = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) images -> (N, 11) scores: digits 0-9, then "no digit"

NO_DIGIT = 10  # the "not a digit" column of the scores
MAX_DIGITS = 64  # the most digits a caller may ask for (``digits=N``)
MAX_PRIMITIVES = 6  # a candidate digit is at most this many neighbouring primitives
MAX_CUTS = 3  # cut candidates kept per stroke, the cheapest first

MODEL_WEIGHT = 2.5  # the model's log probabilities count this much against the priors' (an unsure digit costs)
# Priors, as log-probabilities per unit; lengths are in units of the number's height H.
SHORT_DIGIT = 0.8  # a digit shorter than this share of H costs SHORT_COST per missing H
SHORT_COST = 6.0
WIDE_DIGIT = 1.3  # a digit wider than this costs WIDE_COST per extra H
WIDE_COST = 4.0
THIN_DIGIT = 0.22  # anything but a 1 narrower than this costs THIN_COST per missing H
THIN_COST = 8.0
CUT_COST = 0.4  # per stroke a cut goes through beyond CUT_FREE, shared by the two sides of the cut
CUT_FREE = 0.0  # strokes a cut may cross for free (touching digits meet in a stroke or two)
APART_COST = 2.5  # a digit that leaves out strokes lying within its own columns, per share overlapped
HOPELESS = -2.5  # candidates whose shape prior is below this are not read
DIGIT_SIZE = 0.5  # strokes at least this share of H (longer side) are the size of a digit
MAX_GAP = 0.25  # a blank wider than this inside one digit: the run is two digits, not one
MARK_SIZE = 0.3  # marks smaller than this share of H (longer side) may be stray marks
MARK_PENS = 3.0  # so may marks shorter than this many pen widths (a dot, a short dash) at any size
MARK_CHANCE = 0.6  # the chance a small mark is a stray mark rather than part of the number
DOT_AS_DIGIT_COST = 6.0  # a dot or dash read as a digit on its own
SUSPECT_WIDTH = 1.5  # a digit read wider than this share of H may be two: its strokes are cut
SUSPECT_BELOW = 0.9  # so are the strokes of a digit read with less confidence than this
DIGIT_COST = -0.25  # each digit read (more: fewer, larger digits)
# Width for height of each digit 0-9 in UNIPEN's training writers: median and spread of log(w / h)
# (pen 8% of the height included). Merged digits and slivers of cut digits fall outside.
ASPECT_LOG_MEDIAN = np.array([-0.11, -1.05, -0.08, -0.32, -0.34, -0.16, -0.45, -0.24, -0.39, -0.47])
ASPECT_LOG_SPREAD = np.array([0.32, 0.64, 0.27, 0.25, 0.33, 0.28, 0.24, 0.28, 0.25, 0.24])
ASPECT_COST = 0.5  # per squared spread wider than one spread above the median
SUSPECT_ASPECT = 2.5  # a digit read further than this many spreads from its median width is cut
CUT_MARGIN = 0.06  # cuts stay this share of H inside a stroke's ends
CUT_SPACING = 0.15  # and at least this share of H apart
CUT_WIDTH = 0.45  # strokes narrower than this share of H are never cut
JOIN_COST = 0.6  # separate strokes of one digit side by side, not overlapping (see _side_by_side)
JOIN_OVERLAP = 0.33


@dataclass(frozen=True)
class Piece:
    """One digit found in a number: the 28x28 array the model read, its box in source pixels, its scores.

    ``scores`` holds the model's eleven scores (digits 0-9, then "not a digit"); it is
    empty when the segmentation was made without a model.
    """

    image: np.ndarray = field(repr=False, compare=False)
    box: Box
    scores: tuple[float, ...] = ()


@dataclass(frozen=True)
class Segmentation:
    """The digits of a number left to right, and the marks left out of every digit (their boxes).

    ``reason`` explains a reading that could not follow the request (another count of
    digits than asked for). ``score`` is the reading's log probability on the best path
    (0 without a model); ``alternatives`` holds the best readings with other counts of
    digits (when asked for), for a second reader to rescore.
    """

    digits: list[Piece]
    ignored: list[Box] = field(default_factory=list)
    reason: str | None = None
    score: float = 0.0
    alternatives: list[Segmentation] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        """The digits read, as a string ("" without a model or without digits)."""
        return "".join(str(int(np.argmax(p.scores[:10]))) for p in self.digits if p.scores)


def segment(
    source: ImageSource | Ink,
    scores: Scorer | None = None,
    *,
    digits: int | None = None,
    alternatives: int = 0,
) -> Segmentation:
    """The digits of an image of a number, left to right, each MNIST-normalized.

    ``scores`` is the model (``Recognizer.scores``): without it the grouping rests on
    shapes alone (strokes that overlap are one digit; touching digits are not cut).
    ``digits`` asks for exactly that many digits: the best reading of that count when the
    strokes allow one, with a ``reason`` whenever the image looks like another count.
    ``alternatives`` (k) adds the best readings with up to k digits more or fewer.
    Raises NoDigit for a blank image. ``source`` may be an ``Ink`` from ``load_ink``.

    Cuts are proposed lazily, to keep a number's cost near that of its digits: first the
    strokes are read whole; then the strokes of every digit the model is unsure of, or
    that is wide enough to be two digits, are cut, and the best path is sought again
    over all candidates (those already read are not read twice).
    """
    if digits is not None and not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"digits must be a count from 1 to {MAX_DIGITS}, got {digits}")
    ink = load_ink(source)
    reader = _Reader(ink.strength, ink.labels, scores)
    strokes, height = over_segment(ink.labels)
    reading = reader.read(strokes, height, digits)
    if scores is not None:
        suspects = reading.suspects(height, digits)
        if suspects:
            reading = reader.read(over_segment(ink.labels, cut=suspects)[0], height, digits)
    found = reading.result(ink.scale)
    if alternatives:
        others = [reading.with_count(k).result(ink.scale) for k in reading.counts_near(alternatives)]
        found = replace(found, alternatives=others)
    return found


@dataclass
class _Reading:
    primitives: list[Primitive]
    candidates: list[_Candidate]
    images: list[np.ndarray]
    table: np.ndarray
    paths: _Paths
    chosen: list[int]
    left_out: list[int]
    score: float
    scored: bool
    reason: str | None

    def suspects(self, height: float, digits: int | None) -> set[int]:
        """Strokes worth cutting: those of digits read unsure or wide enough to be two."""
        out: set[int] = set()
        for k in self.chosen:
            c = self.candidates[k]
            scores = self.table[k][:10]
            wide = c.box[2] - c.box[0] > SUSPECT_WIDTH * height or _aspect_z(c)[scores.argmax()] > SUSPECT_ASPECT
            if wide or scores.max() < SUSPECT_BELOW or (digits is not None and len(self.chosen) < digits):
                out |= {p.label for p in self.primitives[c.start : c.stop]}
        return out

    def counts_near(self, reach: int) -> list[int]:
        """Other counts of digits within ``reach`` of this reading's that the primitives can hold."""
        n = len(self.chosen)
        return [k for k in range(max(1, n - reach), min(len(self.primitives), n + reach) + 1) if k != n]

    def with_count(self, count: int) -> _Reading:
        """The best reading of exactly ``count`` digits over the same candidates (scores already read)."""
        path = self.paths.path(count)
        if path is None:
            return replace(self, chosen=[], left_out=[], score=-math.inf, reason=None)
        return replace(self, chosen=path[0], left_out=path[1], score=path[2], reason=None)

    def result(self, scale: float) -> Segmentation:
        pieces = [
            Piece(
                self.images[k],
                _scaled(self.candidates[k].box, scale),
                tuple(self.table[k].tolist()) if self.scored else (),
            )
            for k in self.chosen
        ]
        ignored = [_scaled(self.primitives[i].box, scale) for i in self.left_out]
        reason = self.reason if pieces else "only stray marks (dots or short dashes), no digit"
        return Segmentation(pieces, ignored, reason, self.score if self.scored else 0.0)


class _Reader:
    """Scores candidates with the model, each run of primitives once, and finds the best path."""

    def __init__(self, ink: np.ndarray, labels: np.ndarray, scores: Scorer | None) -> None:
        self.ink, self.labels, self.scores = ink, labels, scores
        self.seen: dict[tuple[tuple[int, int, int], ...], tuple[np.ndarray, np.ndarray]] = {}

    def read(self, primitives: list[Primitive], height: float, digits: int | None) -> _Reading:
        candidates = _candidates(primitives, height)
        keys = [tuple((p.label, p.box[0], p.box[2]) for p in primitives[c.start : c.stop]) for c in candidates]
        new = [k for k, key in enumerate(keys) if key not in self.seen]
        if new:
            images = np.stack([_candidate_image(self.ink, self.labels, primitives, candidates[k]) for k in new])
            table = self._score(images)
            for k, image, row in zip(new, images, table, strict=True):
                self.seen[keys[k]] = (image, row)
        images_list = [self.seen[key][0] for key in keys]
        table = np.stack([self.seen[key][1] for key in keys])
        paths = _Paths(primitives, candidates, table, height)
        free = paths.path(None)
        assert free is not None  # every primitive alone is a candidate
        path, reason = free, None
        if digits is not None:
            path, reason = _asked_count(paths, digits, free)
        return _Reading(primitives, candidates, images_list, table, paths, *path, self.scores is not None, reason)

    def _score(self, images: np.ndarray) -> np.ndarray:
        if self.scores is None:
            table = np.full((len(images), NO_DIGIT + 1), 0.1)
            table[:, NO_DIGIT] = 0
            return table
        return np.asarray(self.scores(images), dtype=np.float64)


# --------------------------------------------------------------------------- 1. primitives


@dataclass(frozen=True)
class Primitive:
    """Part of one connected stroke: its label in ``labels`` and the columns [x0, x1) it keeps.

    ``left_cut`` / ``right_cut`` count the strokes a cut goes through at that side (0: the
    stroke's own end, no cut); ``mark`` says the primitive may be a stray mark.
    """

    label: int
    box: Box
    left_cut: float = 0.0
    right_cut: float = 0.0
    mark: bool = False
    dot: bool = False

    @property
    def whole(self) -> bool:
        return self.left_cut == 0 and self.right_cut == 0


def over_segment(labels: np.ndarray, cut: set[int] | None = None) -> tuple[list[Primitive], float]:
    """The primitives left to right (by centre), and the number's height H in pixels.

    Strokes whose labels are in ``cut`` are cut where touching digits may meet; the others stay whole.
    """
    found = [(i + 1, s) for i, s in enumerate(bounding_boxes(labels)) if s is not None]
    if not found:
        raise NoDigit("only specks of noise, no digit")
    height = float(max(s[0].stop - s[0].start for _, s in found))
    primitives: list[Primitive] = []
    for label, (rows, cols) in found:
        mask = labels[rows, cols] == label
        pen = max(stroke_width(mask), 1.0)
        h, w = mask.shape
        longest = max(h, w)
        mark = longest < MARK_SIZE * height or longest < MARK_PENS * pen
        dot = longest < MARK_PENS * pen
        cuts = _cut_columns(mask, height, pen) if cut and label in cut and not mark else []
        edges = [0, *cuts, w]
        crossed = [0.0, *(np.count_nonzero(mask[:, x]) / pen for x in cuts), 0.0]
        for k in range(len(edges) - 1):
            part = mask[:, edges[k] : edges[k + 1]]
            ys = np.flatnonzero(part.any(1))
            box = (
                cols.start + edges[k],
                rows.start + int(ys[0]),
                cols.start + edges[k + 1],
                rows.start + int(ys[-1]) + 1,
            )
            primitives.append(Primitive(label, box, crossed[k], crossed[k + 1], mark, dot))
    primitives.sort(key=lambda p: (p.box[0] + p.box[2], p.box[0]))
    return primitives, height


def _cut_columns(mask: np.ndarray, height: float, pen: float) -> list[int]:
    """Columns (within the stroke's box) where two touching digits may meet, left to right.

    Candidates are the local minima of the ink per column and the valleys of the upper
    and lower contours; the cheapest (fewest strokes crossed) are kept, never two closer
    than a thin digit's width.
    """
    h, w = mask.shape
    margin = max(2, round(CUT_MARGIN * height))
    if w < CUT_WIDTH * height or w < 0.35 * h:
        return []
    ink = mask.sum(0).astype(np.float64)
    rows = np.arange(h)[:, None]
    top = np.where(mask, rows, h).min(0).astype(np.float64)  # first ink row per column
    bottom = np.where(mask, rows, -1).max(0).astype(np.float64)
    places = set()
    for profile in (ink, -top, bottom):  # low ink; the top dips down; the bottom rises up
        places |= set(_local_minima(profile, margin))
    cost = {x: ink[x] / pen for x in places if margin <= x < w - margin}
    kept: list[int] = []
    for x in sorted(cost, key=lambda x: (cost[x], x)):
        if cost[x] <= 3.5 and all(abs(x - k) >= CUT_SPACING * height for k in kept):
            kept.append(x)
        if len(kept) == MAX_CUTS:
            break
    return sorted(kept)


def _local_minima(profile: np.ndarray, reach: int) -> list[int]:
    """Indices where the profile is lowest within ``reach`` on each side (plateaus: their middle)."""
    at_min = profile <= minimum_filter1d(profile, 2 * reach + 1)
    return [(start + stop - 1) // 2 for start, stop in runs(at_min)]


# --------------------------------------------------------------------------- 2. candidates


@dataclass(frozen=True)
class _Candidate:
    start: int  # primitives [start, stop)
    stop: int
    box: Box
    prior: float  # log prior from shape alone
    dot: bool  # a lone dot or dash


def _candidates(primitives: Sequence[Primitive], height: float) -> list[_Candidate]:
    """Every run of neighbouring primitives that could be one digit, with its shape prior."""
    out = []
    for start in range(len(primitives)):
        for stop in range(start + 1, min(start + MAX_PRIMITIVES, len(primitives)) + 1):
            run = primitives[start:stop]
            box = _union([p.box for p in run])
            if stop - start > 1 and box[2] - box[0] > 1.6 * height:
                break  # a lone primitive is always a candidate, so every reading exists
            if stop - start > 1 and (_widest_gap(run) > MAX_GAP * height or _strokes_side_by_side(run, height)):
                continue
            dot = len(run) == 1 and run[0].dot
            prior = _shape_prior(primitives, start, stop, box, height)
            if stop - start == 1 or prior > HOPELESS:  # a shape this unlikely never wins: not worth a model call
                out.append(_Candidate(start, stop, box, prior, dot))
    return out


def _shape_prior(primitives: Sequence[Primitive], start: int, stop: int, box: Box, height: float) -> float:
    """Log prior of a run of primitives being one digit, whichever digit (see the costs above)."""
    x0, y0, x1, y1 = box
    short = max(0.0, SHORT_DIGIT - (y1 - y0) / height)
    wide = max(0.0, (x1 - x0) / height - WIDE_DIGIT)
    inside = primitives[start:stop]
    labels = {p.label for p in inside}
    # A cut costs where the slice on its other side stays out of the digit; the two sides share it.
    starts = {(p.label, p.box[0]) for p in inside}
    ends = {(p.label, p.box[2]) for p in inside}
    cut = sum(
        0.5 * max(0.0, p.left_cut - CUT_FREE) * ((p.label, p.box[0]) not in ends)
        + 0.5 * max(0.0, p.right_cut - CUT_FREE) * ((p.label, p.box[2]) not in starts)
        for p in inside
    )
    apart = 0.0
    for k in (*range(max(0, start - 2), start), *range(stop, min(len(primitives), stop + 2))):
        p = primitives[k]
        if p.label in labels or not p.whole:
            continue
        shared = min(x1, p.box[2]) - max(x0, p.box[0])
        narrower = max(1, min(x1 - x0, p.box[2] - p.box[0]))
        weight = min(1.0, max(p.box[3] - p.box[1], p.box[2] - p.box[0]) / (0.5 * height))
        apart = max(apart, weight * max(0.0, shared / narrower))
    return -(
        SHORT_COST * short + WIDE_COST * wide + CUT_COST * cut + APART_COST * apart + JOIN_COST * _side_by_side(inside)
    )


def _side_by_side(inside: Sequence[Primitive]) -> float:
    """How far the separate strokes of one candidate digit sit beside rather than over each other.

    The strokes of one digit overlap in x (a 5's flag over its body, a 4's bar across its
    stem); two strokes merely next to each other are more likely two digits. 0 for strokes
    that overlap by a third of the narrower one; up to 2 for strokes a third of it apart.
    """
    spans: dict[int, tuple[int, int]] = {}
    for p in inside:
        x0, x1 = spans.get(p.label, (p.box[0], p.box[2]))
        spans[p.label] = (min(x0, p.box[0]), max(x1, p.box[2]))
    ordered = sorted(spans.values())
    cost = 0.0
    for (a0, a1), (b0, b1) in pairwise(ordered):
        share = (min(a1, b1) - b0) / max(1, min(a1 - a0, b1 - b0))
        cost += min(2.0, max(0.0, JOIN_OVERLAP - share) / JOIN_OVERLAP)
    return cost


def _strokes_side_by_side(run: Sequence[Primitive], height: float) -> bool:
    """Two strokes of digit size that do not overlap in x: two digits, never one.

    The strokes of one digit overlap (a 4's bar and stem, a 7's crossbar); only a
    small mark (a 5's flag, a 1's foot) may sit beside its digit.
    """
    boxes: dict[int, Box] = {}
    for p in run:
        boxes[p.label] = _union([boxes[p.label], p.box]) if p.label in boxes else p.box
    ordered = sorted(boxes.values())
    return any(
        b[0] >= a[2] and min(max(a[2] - a[0], a[3] - a[1]), max(b[2] - b[0], b[3] - b[1])) >= DIGIT_SIZE * height
        for a, b in pairwise(ordered)
    )


def _widest_gap(run: Sequence[Primitive]) -> float:
    spans = sorted((p.box[0], p.box[2]) for p in run)
    reach, gap = spans[0][1], 0.0
    for x0, x1 in spans[1:]:
        gap = max(gap, x0 - reach)
        reach = max(reach, x1)
    return gap


def _union(boxes: Sequence[Box]) -> Box:
    x0, y0, x1, y1 = zip(*boxes, strict=True)
    return min(x0), min(y0), max(x1), max(y1)


def _candidate_image(ink: np.ndarray, labels: np.ndarray, primitives: Sequence[Primitive], c: _Candidate) -> np.ndarray:
    """The candidate's ink alone (its strokes, within their columns), MNIST-normalized."""
    x0, y0, x1, y1 = c.box
    y0, x0 = max(0, y0 - 1), max(0, x0 - 1)  # keep the anti-aliased rim
    y1, x1 = min(ink.shape[0], y1 + 1), min(ink.shape[1], x1 + 1)
    window = labels[y0:y1, x0:x1]
    keep = np.zeros(window.shape, dtype=bool)
    for p in primitives[c.start : c.stop]:
        cols = slice(max(p.box[0] - x0, 0), p.box[2] - x0)
        keep[:, cols] |= window[:, cols] == p.label
    crop = np.where(grow(keep), ink[y0:y1, x0:x1], 0)
    crop[crop < INK_THRESHOLD * 0.5] = 0
    return normalize(crop)


# --------------------------------------------------------------------------- 3. the best path


def _digit_score(scores: np.ndarray, c: _Candidate, height: float) -> float:
    """Log probability of the best digit for this candidate, shape priors included."""
    p = np.maximum(scores[:10], 1e-9)
    width = (c.box[2] - c.box[0]) / height
    thin = THIN_COST * max(0.0, THIN_DIGIT - width)
    log_p = (
        MODEL_WEIGHT * np.log(p) - thin - ASPECT_COST * np.maximum(0.0, _aspect_z(c) - 1) ** 2
    )  # too wide: merged digits
    log_p[1] += thin  # a 1 may be as thin as its pen
    return float(log_p.max()) + c.prior - DOT_AS_DIGIT_COST * c.dot - DIGIT_COST


def _aspect_z(c: _Candidate) -> np.ndarray:
    """How many spreads the candidate's width for its height lies from each digit's median."""
    x0, y0, x1, y1 = c.box
    return (math.log(max(x1 - x0, 1) / max(y1 - y0, 1)) - ASPECT_LOG_MEDIAN) / ASPECT_LOG_SPREAD


def _mark_score(primitive: Primitive, scores: np.ndarray | None) -> float:
    """Log probability that a primitive is a stray mark; -inf when it must belong to a digit."""
    chance = MARK_CHANCE if primitive.mark and primitive.whole else 0.0
    if scores is not None and primitive.whole and primitive.mark:
        # Only small marks: a stroke the size of a digit that the model calls "not a digit" is
        # usually digits that touch (trained as such), and must be cut, never dropped.
        chance = max(chance, float(scores[NO_DIGIT]))
    return math.log(chance) if chance > 0 else -math.inf


class _Paths:
    """The best reading of primitives [0, i) as k digits, for every i and k: one dynamic programme, any count.

    ``best[i][k]``: the best log probability of reading primitives [0, i) as k digits;
    ``back`` the step that achieved it. Readings of any count are backtracked from it.
    """

    def __init__(
        self, primitives: Sequence[Primitive], candidates: Sequence[_Candidate], table: np.ndarray, height: float
    ) -> None:
        n = len(primitives)
        minus = -math.inf
        best = [[minus] * (n + 1) for _ in range(n + 1)]
        back: list[list[tuple[int, int, int] | None]] = [[None] * (n + 1) for _ in range(n + 1)]
        best[0][0] = 0.0
        single = {c.start: k for k, c in enumerate(candidates) if c.stop == c.start + 1}
        ending: dict[int, list[int]] = {}
        for k, c in enumerate(candidates):
            ending.setdefault(c.stop, []).append(k)
        digit = [_digit_score(table[k], c, height) for k, c in enumerate(candidates)]
        mark = [_mark_score(p, table[single[i]] if i in single else None) for i, p in enumerate(primitives)]
        for i in range(1, n + 1):
            for count in range(n + 1):
                if best[i - 1][count] + mark[i - 1] > best[i][count]:  # primitive i-1 is a stray mark
                    best[i][count] = best[i - 1][count] + mark[i - 1]
                    back[i][count] = (i - 1, count, -1)
                if count == 0:
                    continue
                for k in ending.get(i, []):
                    start = candidates[k].start
                    score = best[start][count - 1] + digit[k]
                    if score > best[i][count]:
                        best[i][count] = score
                        back[i][count] = (start, count - 1, k)
        self.n, self.best, self.back = n, best, back

    def path(self, digits: int | None) -> tuple[list[int], list[int], float] | None:
        """Candidates (indices), stray marks (primitive indices) and log probability of the best reading.

        Of exactly ``digits`` digits, or of any count for None; None when no reading has that count.
        """
        n, best = self.n, self.best
        count = max(range(n + 1), key=lambda k: best[n][k]) if digits is None else digits
        if count > n or best[n][count] == -math.inf:
            return None
        score = best[n][count]
        chosen, left_out = [], []
        i = n
        while i > 0:
            step = self.back[i][count]
            assert step is not None
            previous, count, k = step
            if k < 0:
                left_out.append(previous)
            else:
                chosen.append(k)
            i = previous
        return chosen[::-1], left_out[::-1], score


ReadPath = tuple[list[int], list[int], float]  # chosen candidates, primitives left out, log probability


def _asked_count(paths: _Paths, digits: int, free: ReadPath) -> tuple[ReadPath, str | None]:
    """The best reading of ``digits`` digits, and why it may be wrong: a form field's count is a hint, not a fact.

    When the strokes cannot make that many digits, the best reading of any count is kept;
    when they can but read best as another count, the asked-for reading is given with a reason.
    """
    found = len(free[0])
    path = paths.path(digits)
    if path is None:
        return free, f"could not find {digits} digits in the image; read {found}"
    if found != digits:
        return path, f"asked for {digits} digits, but the image reads best as {found}; check the count"
    return path, None


def _scaled(box: Box, scale: float) -> Box:
    x0, y0, x1, y1 = box
    return int(x0 * scale), int(y0 * scale), math.ceil(x1 * scale), math.ceil(y1 * scale)
