"""Whole numbers written by real people: how often `digits predict --multi` reads them exactly.

Each number (2 to 6 digits) is composed from the pen strokes of ONE UNIPEN writer held
out of training (``unipen.load(("test",))``), drawn left to right the way people write:
every digit scaled to a common height with some jitter, a wandering baseline, and
spacing drawn from real handwriting:

  apart       neighbours 10-60% of the height apart (75% of the numbers)
  touching    at least one pair of neighbours touching or overlapping slightly (25%)
  two-stroke  every number holds a digit written in 2+ strokes (4, 5, crossed 7, 1 with a foot)

in two styles: ``canvas`` (black pen on a white canvas, as the apps draw) and ``scan``
(smaller, grey paper, ink of varying darkness, noise, then binarized or saved as JPEG).

Reported: exact-number accuracy per spacing and style, digit-count errors (a digit
dropped or invented), the same with the count given (``digits=N``), the model's own
ceiling ("digits alone": every digit of the number read right when drawn alone, so the
gap to "exact" is what segmentation loses), and the time per number against one
digit's recognition (``Recognizer.predict`` on the number's first digit drawn alone on
the same canvas; each the fastest of three runs, as timeit does, since on a shared
machine the slower runs measure the neighbours).

Usage:  python benchmarks/bench_numbers.py [--n 1200] [--seed 0] [--writers test] [--model PATH]
``--writers val`` composes numbers from validation writers: tune on those, report on test.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from digit_recognizer import Recognizer, ink, segment, unipen
from digit_recognizer.ink import InkSample, Stroke

Rng = np.random.Generator
TWO_STROKE_DIGITS = (1, 4, 5, 7)
TIME_EVERY = 3  # time every third number ...
REPEATS = 3  # ... as the fastest of three runs: on a shared machine the slower runs measure the neighbours


def counting(recognizer: Recognizer, read: list[int]) -> Callable[[np.ndarray], np.ndarray]:
    """``recognizer.scores`` that notes how many images each call read: a cost no machine load distorts."""

    def scores(batch: np.ndarray) -> np.ndarray:
        read.append(len(batch))
        return recognizer.scores(batch)

    return scores


def fastest(call: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


@dataclass(frozen=True)
class Case:
    truth: str
    spacing: str  # apart | touching | two-stroke
    style: str  # canvas | scan
    image: Image.Image
    alone: list[Image.Image]  # each digit drawn alone, in the same style: what the model reads without segmentation


def by_writer(samples: tuple[InkSample, ...]) -> dict[str, dict[int, list[InkSample]]]:
    writers: dict[str, dict[int, list[InkSample]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        if s.strokes and any(len(st.points) for st in s.strokes):
            writers[s.writer][s.label].append(s)
    return {w: dict(d) for w, d in writers.items() if len(d) >= 4}


def pick_number(writer: dict[int, list[InkSample]], length: int, spacing: str, rng: Rng) -> list[InkSample] | None:
    labels = sorted(writer)
    chosen = [writer[int(d)][rng.integers(len(writer[int(d)]))] for d in rng.choice(labels, length)]
    if spacing == "two-stroke":
        several = [s for d in TWO_STROKE_DIGITS for s in writer.get(d, []) if len(s.strokes) >= 2]
        if not several:
            return None
        chosen[rng.integers(length)] = several[rng.integers(len(several))]
    return chosen


def compose(
    digits: list[InkSample], spacing: str, height: float, pen: float, rng: Rng
) -> tuple[list[list[Stroke]], int]:
    """Each digit's strokes placed left to right on one line; returns them and the canvas width."""
    touching = set()
    if spacing == "touching":
        pairs = len(digits) - 1
        touching = {k for k in range(pairs) if rng.random() < 0.5} or {int(rng.integers(pairs))}
    placed: list[list[Stroke]] = []
    right = 0.4 * height
    base = 1.3 * height
    for k, sample in enumerate(digits):
        box = ink.bounding_box([Stroke(0.0, s.points) for s in sample.strokes])
        assert box is not None
        x0, y0, x1, y1 = box
        size = height * rng.uniform(0.85, 1.12)
        scale = size / max(y1 - y0, 0.3 * (x1 - x0), 1e-6)
        bottom = base + rng.normal(0, 0.04) * height
        gap = rng.uniform(-0.12, -0.02) * height if (k - 1) in touching else rng.uniform(0.1, 0.6) * height
        left = right + (gap if k else 0) + pen
        placed.append(ink.transformed(sample.strokes, scale, (left - x0 * scale, bottom - y1 * scale), width=pen))
        right = left + (x1 - x0) * scale + pen
    return placed, int(right + 0.4 * height)


def render(strokes: list[Stroke], width: int, height: float, style: str, rng: Rng) -> Image.Image:
    canvas = ink.render(strokes, (width, int(1.7 * height)))
    if style == "canvas":
        return canvas
    a = np.asarray(canvas, dtype=np.float32) / 255
    paper, dark = rng.uniform(0.6, 0.9), rng.uniform(0.05, 0.35)
    a = dark + (paper - dark) * a + rng.normal(0, 0.03, a.shape)
    gray = Image.fromarray(np.clip(a * 255, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        return gray.point(lambda v: 255 if v > (paper + dark) * 127.5 else 0)
    buffer = io.BytesIO()
    gray.save(buffer, "JPEG", quality=int(rng.integers(50, 90)))
    return Image.open(io.BytesIO(buffer.getvalue()))


def make_cases(n: int, writers: dict[str, dict[int, list[InkSample]]], seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    names = sorted(writers)
    cases: list[Case] = []
    plan = ["apart"] * (n * 3 // 4) + ["touching"] * (n - n * 3 // 4) + ["two-stroke"] * (n // 4)
    for spacing in plan:
        while True:
            writer = writers[names[rng.integers(len(names))]]
            length = int(rng.integers(2, 7))
            digits = pick_number(writer, length, spacing, rng)
            if digits is not None:
                break
        style = "canvas" if rng.random() < 0.5 else "scan"
        height = rng.uniform(90, 180) if style == "canvas" else rng.uniform(30, 60)
        pen = height * rng.uniform(0.05, 0.12)
        placed, width = compose(digits, spacing, height, pen, rng)
        truth = "".join(str(s.label) for s in digits)
        image = render([s for digit in placed for s in digit], width, height, style, rng)
        alone = [render(digit, width, height, style, rng) for digit in placed]
        cases.append(Case(truth, spacing, style, image, alone))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1200, help="numbers with random spacing (plus n/4 two-stroke ones)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--writers", choices=["test", "val"], default="test", help="UNIPEN writers (default test)")
    parser.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--show", type=int, default=0, help="print this many misread numbers")
    args = parser.parse_args()

    import onnxruntime

    recognizer = Recognizer.load(args.model)
    writers = by_writer(unipen.load((args.writers,)).samples)
    cases = make_cases(args.n, writers, args.seed)
    print(
        f"numbers of 2-6 digits from {len(writers)} UNIPEN {args.writers} writers, seed {args.seed}; "
        f"model {recognizer.path.name}; CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"onnxruntime {onnxruntime.__version__} ({recognizer._session.get_session_options().intra_op_num_threads} "
        f"threads), python {platform.python_version()}, numpy {np.__version__}"
    )
    results: dict[tuple[str, str], list[tuple[bool, bool, bool]]] = defaultdict(list)
    times: dict[int, list[float]] = defaultdict(list)
    unit: list[float] = []  # one digit's recognition, timed beside the numbers
    reads: dict[int, list[int]] = defaultdict(list)  # candidate digits the model read per number
    batch_sizes: list[int] = []
    shown = 0
    recognizer.predict_number(cases[0].image)
    for k, case in enumerate(cases):
        found = recognizer.predict_number(case.image)
        if k % TIME_EVERY == 0:
            unit.append(fastest(lambda: recognizer.predict(case.alone[0])))  # noqa: B023 (called at once)
            times[len(case.truth)].append(fastest(lambda: recognizer.predict_number(case.image)))  # noqa: B023
            segment(case.image, counting(recognizer, batch_sizes))
            reads[len(case.truth)].append(sum(batch_sizes))
            batch_sizes.clear()
        hinted = recognizer.predict_number(case.image, digits=len(case.truth))
        read = found.number or ""
        alone = "".join(str(p.digit) for p in recognizer.predict_batch(case.alone))
        results[(case.spacing, case.style)].append(
            (read == case.truth, len(read) != len(case.truth), hinted.number == case.truth, alone == case.truth)
        )
        if read != case.truth and shown < args.show:
            shown += 1
            print(f"  misread {case.spacing:<10} {case.style:<6} {case.truth:>6} -> {read}")

    print(
        f"\n{'spacing':<11}{'style':<8}{'numbers':>8}{'exact':>9}{'count err':>11}{'exact, N given':>16}"
        f"{'digits alone':>14}"
    )
    for spacing in ("apart", "touching", "two-stroke"):
        for style in ("canvas", "scan", "all"):
            rows = [r for (sp, st), rs in results.items() if sp == spacing and style in (st, "all") for r in rs]
            exact, count, hinted, alone = (np.mean([r[k] for r in rows]) for k in range(4))
            print(f"{spacing:<11}{style:<8}{len(rows):>8}{exact:>9.1%}{count:>11.1%}{hinted:>16.1%}{alone:>14.1%}")
    every = [r for rs in results.values() for r in rs]
    print(f"{'all':<19}{len(every):>8}{np.mean([r[0] for r in every]):>9.1%}{np.mean([r[1] for r in every]):>11.1%}")

    one = float(np.mean(unit))
    print(
        f"\ntime, best of {REPEATS} runs, one number in {TIME_EVERY}; one digit: Recognizer.predict on the "
        f"number's first digit drawn alone on the same canvas, {one * 1000:.2f} ms on average"
    )
    for length in sorted(times):
        mean = float(np.mean(times[length]))
        print(
            f"  {length}-digit number: {mean * 1000:6.2f} ms = {mean / one:4.1f}x one digit; the model read "
            f"{np.mean(reads[length]):4.1f} candidate digits on average ({len(times[length])} timed)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
