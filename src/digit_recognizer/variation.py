"""The same digit as the writer might have written it another time, and styles the data lacks.

UNIPEN gives a few hundred real hands, each digit once: rendered as it is, the
model learns those strokes by heart. Two kinds of variation work on the *strokes*,
before any picture exists, so that every rendering through the apps' preprocessing
is a plausible new drawing:

- ``vary``: stroke-level augmentation of one take. Per-stroke jitter and scale,
  a slant and a rotation of the whole, a wider or narrower hand, a smooth wobble
  along the pen's path, resampled points, and the odd pen lift (a stroke broken
  in two with a small gap, as a dry pen or a scanner leaves it).
- ``generated_style``: styles that real writers outside UNIPEN and MNIST use and
  that both data sets barely hold, drawn onto a real writer's digit: a flag and a
  foot on a 1, a crossbar and a hooked top on a 7, a loop at the foot of a 2, a flat
  (ʒ-like) top on a 3, a flattened lower loop on an 8, a 9 with a small head on a
  long slanted tail.

Coordinates are those of ink (x right, y down, any scale). Everything is seeded by
the caller's ``numpy.random.Generator``; no torch. ``docs/variations.png`` (made by
``benchmarks/show_variations.py``) shows what these make.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .ink import Point, Stroke, bounding_box

Rng = np.random.Generator
StyleMaker = Callable[[Sequence[Stroke], Rng], list[Stroke]]


# --------------------------------------------------------------------------- another take


def vary(strokes: Sequence[Stroke], rng: Rng) -> list[Stroke]:
    """Another take of the same digit by the same hand: every change small enough to keep its class."""
    box = _box(strokes)
    if box is None:
        return list(strokes)
    x0, y0, x1, y1 = box
    height = max(y1 - y0, x1 - x0, 1e-6)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    slant = rng.uniform(-0.3, 0.3)  # x shift per unit of height above the centre: a forward or backward lean
    angle = math.radians(rng.uniform(-8, 8))
    aspect = math.exp(rng.uniform(-0.2, 0.2))  # a narrower or wider hand
    whole = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) @ np.array(
        [[aspect, -slant], [0.0, 1.0]]
    )
    out: list[Stroke] = []
    for stroke in strokes:
        points = _resampled(np.asarray(stroke.points, dtype=np.float64).reshape(-1, 2), height, rng)
        points = _wobbled(points, height, rng)
        # per stroke: its own small shift and scale about its own centre (strokes drawn a little apart)
        own = points.mean(0)
        points = own + (points - own) * rng.uniform(0.9, 1.1) + rng.normal(0, 0.025 * height, size=2)
        points = centre + (points - centre) @ whole.T
        out.extend(_with_pen_lift(Stroke(stroke.width, _as_points(points)), rng))
    return out


def _resampled(points: np.ndarray, height: float, rng: Rng) -> np.ndarray:
    """The path with points every 2-6% of the digit's height (pens sample at different rates)."""
    if len(points) < 2:
        return points
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    if along[-1] <= 0:
        return points
    spacing = rng.uniform(0.02, 0.06) * height
    at = np.linspace(0, along[-1], max(2, int(along[-1] / spacing) + 1))
    return np.stack([np.interp(at, along, points[:, 0]), np.interp(at, along, points[:, 1])], 1)


def _wobbled(points: np.ndarray, height: float, rng: Rng) -> np.ndarray:
    """A smooth displacement along the path (a shaky or quick hand), at most ~3% of the height."""
    if len(points) < 4:
        return points
    knots = rng.normal(0, 0.015 * height, size=(5, 2))
    where = np.linspace(0, 4, len(points))
    return points + np.stack([np.interp(where, np.arange(5), knots[:, k]) for k in (0, 1)], 1)


def _with_pen_lift(stroke: Stroke, rng: Rng, p: float = 0.08) -> list[Stroke]:
    """Now and then, the stroke broken in two with a gap of a point or two."""
    n = len(stroke.points)
    if n < 12 or rng.random() >= p:
        return [stroke]
    cut = int(rng.integers(n // 4, 3 * n // 4))
    gap = int(rng.integers(1, 3))
    return [Stroke(stroke.width, stroke.points[:cut]), Stroke(stroke.width, stroke.points[cut + gap :])]


# --------------------------------------------------------------------------- styles the data lacks


def generated_style(label: int, strokes: Sequence[Stroke], rng: Rng) -> tuple[str, list[Stroke]] | None:
    """One of the generated styles for a digit of class ``label``, drawn onto its strokes; None when it has none."""
    makers = GENERATED_STYLES.get(label)
    if not makers or _box(strokes) is None:
        return None
    name = str(rng.choice(sorted(makers)))
    return name, makers[name](strokes, rng)


def one_with_flag(strokes: Sequence[Stroke], rng: Rng, foot: bool | None = None) -> list[Stroke]:
    """A continental 1: a long flag rising to the top of the stem (and, half the time, a foot)."""
    _x0, y0, _x1, y1 = _box_of(strokes)
    h = y1 - y0
    main = _longest(strokes)
    top = min(main.points, key=lambda p: p[1])
    bottom = max(main.points, key=lambda p: p[1])
    length, angle = rng.uniform(0.25, 0.6) * h, math.radians(rng.uniform(15, 60))
    start = (top[0] - length * math.cos(angle), top[1] + length * math.sin(angle))
    stem = sorted(main.points, key=lambda p: p[1]) if _is_straight(main) else list(main.points)
    flagged = Stroke(main.width, [start, *_line(start, top, 4), *stem])
    out = [flagged if s is main else s for s in strokes]
    if foot if foot is not None else rng.random() < 0.5:
        half = rng.uniform(0.15, 0.3) * h
        tilt = rng.uniform(-0.03, 0.03) * h
        out.append(
            Stroke(main.width, _line((bottom[0] - half, bottom[1] - tilt), (bottom[0] + half, bottom[1] + tilt)))
        )
    return out


def seven_crossed(strokes: Sequence[Stroke], rng: Rng) -> list[Stroke]:
    """A continental 7: a crossbar through the middle of the stem, and sometimes a hooked top."""
    _x0, y0, _x1, y1 = _box_of(strokes)
    h = y1 - y0
    y = y0 + rng.uniform(0.45, 0.62) * h
    x = _x_at(strokes, y)
    half, tilt = rng.uniform(0.15, 0.28) * h, rng.uniform(-0.05, 0.03) * h
    width = _longest(strokes).width
    out = list(strokes)
    if rng.random() < 0.35:
        out = _hooked_top(out, h, rng)
    out.append(Stroke(width, _line((x - half, y - tilt), (x + half, y + tilt))))
    return out


def seven_hooked(strokes: Sequence[Stroke], rng: Rng) -> list[Stroke]:
    """A 7 whose top bar starts with a small downward hook, as many European writers make it."""
    _x0, y0, _x1, y1 = _box_of(strokes)
    return _hooked_top(list(strokes), y1 - y0, rng)


def _hooked_top(strokes: list[Stroke], h: float, rng: Rng) -> list[Stroke]:
    first = strokes[0]
    start = first.points[0]
    hook = (start[0] - rng.uniform(0.0, 0.05) * h, start[1] + rng.uniform(0.1, 0.22) * h)
    return [Stroke(first.width, [hook, *_line(hook, start, 3), *first.points[1:]]), *strokes[1:]]


def two_looped(strokes: Sequence[Stroke], rng: Rng) -> list[Stroke]:
    """A 2 with a small loop where the curve meets its base (old-style cursive)."""
    x0, y0, _x1, y1 = _box_of(strokes)
    h = y1 - y0
    main = _longest(strokes)
    # the corner: low and to the left, where the diagonal turns into the base
    i = min(range(len(main.points)), key=lambda k: (main.points[k][0] - x0) - (main.points[k][1] - y0))
    px, py = main.points[i]
    r = rng.uniform(0.06, 0.12) * h
    loop = [(px + r * math.sin(t), py - r + r * math.cos(t)) for t in np.linspace(0, -2 * math.pi, 12)]
    looped = Stroke(main.width, [*main.points[:i], *loop, *main.points[i:]])
    return [looped if s is main else s for s in strokes]


def three_flat_top(strokes: Sequence[Stroke], rng: Rng) -> list[Stroke]:
    """A 3 whose upper bowl is a flat bar and a diagonal (ʒ-like, as in old records)."""
    x0, y0, x1, y1 = _box_of(strokes)
    h = y1 - y0
    main = _longest(strokes)
    middle = [k for k, p in enumerate(main.points) if y0 + 0.3 * h <= p[1] <= y0 + 0.65 * h]
    if not middle:
        return list(strokes)
    cusp = min(middle, key=lambda k: main.points[k][0])  # where the two bowls meet, at the left
    top_left = (x0 + rng.uniform(0.0, 0.15) * (x1 - x0), y0)
    top_right = (x1 - rng.uniform(0.0, 0.1) * (x1 - x0), y0 + rng.uniform(-0.02, 0.03) * h)
    head = [*_line(top_left, top_right, 5), *_line(top_right, main.points[cusp], 5)]
    flat = Stroke(main.width, [*head, *main.points[cusp + 1 :]])
    return [flat if s is main else s for s in strokes]


def eight_flat_loop(strokes: Sequence[Stroke], rng: Rng) -> list[Stroke]:
    """An 8 whose lower loop is squashed flat and wide."""
    x0, y0, x1, y1 = _box_of(strokes)
    mid = y0 + 0.5 * (y1 - y0)
    cx = (x0 + x1) / 2
    squash, widen = rng.uniform(0.45, 0.7), rng.uniform(1.1, 1.35)
    return _moved(strokes, lambda x, y: (cx + (x - cx) * widen, mid + (y - mid) * squash) if y > mid else (x, y))


def nine_long_tail(strokes: Sequence[Stroke], rng: Rng) -> list[Stroke]:
    """A cursive 9: a small (sometimes collapsed) head on a long tail slanting down to the left."""
    x0, y0, x1, y1 = _box_of(strokes)
    neck = y0 + 0.45 * (y1 - y0)
    centre = (x0 + x1) / 2
    head, stretch, lean = rng.uniform(0.45, 1.0), rng.uniform(1.4, 2.0), rng.uniform(0.15, 0.45)

    def cursive(x: float, y: float) -> tuple[float, float]:
        x = centre + (x - centre) * head  # the whole digit narrower, so the head shrinks with no break at the neck
        if y <= neck:
            return x, neck - (neck - y) * head
        down = (y - neck) * stretch
        return x - down * lean, neck + down

    return _moved(strokes, cursive)


#: The generated styles of each digit, by name (the model card lists them).
GENERATED_STYLES: dict[int, dict[str, StyleMaker]] = {
    1: {"1 with a flag": one_with_flag, "1 with a flag and a foot": lambda s, r: one_with_flag(s, r, foot=True)},
    2: {"2 with a loop at its foot": two_looped},
    3: {"3 with a flat top": three_flat_top},
    7: {"7 with a crossbar": seven_crossed, "7 with a hooked top": seven_hooked},
    8: {"8 with a flat lower loop": eight_flat_loop},
    9: {"9 with a long slanted tail": nine_long_tail},
}


# --------------------------------------------------------------------------- geometry


def _box(strokes: Sequence[Stroke]) -> tuple[float, float, float, float] | None:
    live = [Stroke(0.0, s.points) for s in strokes if s.points]
    return bounding_box(live) if live else None


def _box_of(strokes: Sequence[Stroke]) -> tuple[float, float, float, float]:
    box = _box(strokes)
    assert box is not None, "generated styles need ink"
    x0, y0, x1, y1 = box
    return x0, y0, x1, max(y1, y0 + 1e-6)


def _longest(strokes: Sequence[Stroke]) -> Stroke:
    return max((s for s in strokes if s.points), key=lambda s: (s.length(), len(s.points)))


def _is_straight(stroke: Stroke) -> bool:
    """A stroke that is (nearly) one line: its points can be reordered top to bottom."""
    (ax, ay), (bx, by) = stroke.points[0], stroke.points[-1]
    return stroke.length() <= 1.15 * math.hypot(bx - ax, by - ay) + 1e-6


def _x_at(strokes: Sequence[Stroke], y: float) -> float:
    """Where the ink crosses height ``y`` (the point nearest it, on the longest stroke)."""
    return min(_longest(strokes).points, key=lambda p: abs(p[1] - y))[0]


def _line(a: Point, b: Point, n: int = 6) -> list[Point]:
    return [(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t) for t in np.linspace(0, 1, n)]


def _moved(strokes: Sequence[Stroke], move: Callable[[float, float], tuple[float, float]]) -> list[Stroke]:
    return [Stroke(s.width, [move(x, y) for x, y in s.points]) for s in strokes]


def _as_points(array: np.ndarray) -> list[Point]:
    return [(float(x), float(y)) for x, y in array]
