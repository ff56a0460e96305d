"""Whole numbers written by real people: how often each reader gets them exactly, by spacing and length.

Each number (2 to 6 digits) is the pen strokes of ONE UNIPEN writer held out of training
(``unipen.load(("test",))``), as they wrote them (no variation), laid out left to right
by ``training/numbers.py`` (the composer the sequence reader trains on, with other
writers): a common height with a size drifting along the number, a wandering, sloping
baseline, and one of four spacings, reported separately:

  apart        neighbours 8-50% of the height apart
  touching     neighbours within -8..+2% of a digit's width: most of them meet
  overlapping  neighbours overlapping by up to a third of the narrower digit's width
  fused        one pair overlapping by a third to a half (00, 11, 77 become one blob)

in two styles: ``canvas`` (black pen on white, as the apps draw) and ``scan`` (grey
paper, noise, either polarity, sometimes binarized), and with a stray mark now and then.

Three readers: the segmenter alone (``Recognizer.load(sequence_model=False)``), the
sequence reader alone (its greedy CTC string) and both combined (``predict_number``
with the sequence model). Reported: exact-number accuracy and digit-count errors per
spacing, per length, and with the count given (``digits=N``); the time of a 5-digit
number against one digit's recognition (``Recognizer.predict`` on the number's first
digit drawn alone), both p50 over the same run.

Usage:  python benchmarks/bench_numbers.py [--n 800] [--seed 0] [--writers test] [--model PATH]
                                           [--seq-model PATH] [--figure docs/number-mistakes.png]
``--writers val`` composes numbers from validation writers: tune on those, report on test.
Without a sequence model (none shipped, no --seq-model) only the segmenter is measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digit_recognizer import Recognizer, ink, unipen
from digit_recognizer.preprocess import load_ink
from digit_recognizer.training import numbers

Rng = np.random.Generator
READERS = ("segmenter", "sequence", "combined")
REPEATS = 3  # each timing is the fastest of three runs: on a shared machine the slower runs measure the neighbours
TIME_EVERY = 4  # time every fourth number


@dataclass(frozen=True)
class Case:
    truth: str
    spacing: str
    style: str
    image: np.ndarray  # (H, W) uint8
    first_alone: np.ndarray  # the first digit drawn alone on the same canvas


def make_cases(n: int, writers: dict[str, numbers.Writer], seed: int) -> list[Case]:
    """``n`` numbers, the four spacings in turn, each from one writer."""
    rng = np.random.default_rng(seed)
    names = sorted(writers)
    cases = []
    for k in range(n):
        spacing = numbers.SPACINGS[k % len(numbers.SPACINGS)]
        writer = writers[names[int(rng.integers(len(names)))]]
        labels = sorted(writer)
        text = "".join(str(labels[int(i)]) for i in rng.integers(len(labels), size=int(rng.integers(2, 7))))
        digits, size, height = numbers.compose_strokes(writer, text, spacing, rng, vary=False)
        strokes = [s for digit in digits for s in digit]
        style = "canvas" if rng.random() < 0.5 else "scan"
        if rng.random() < numbers.MARK_SHARE:
            strokes = [*strokes, numbers.stray_mark(size, height, strokes[0].width, rng)]
        canvas = np.asarray(ink.render(strokes, size))
        alone = np.asarray(ink.render(digits[0], size))
        image = canvas if style == "canvas" else numbers.finish(canvas, rng)
        cases.append(Case(text, spacing, style, image, alone))
    return cases


def fastest(call: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def read_all(cases: list[Case], segmenter: Recognizer, combined: Recognizer | None) -> dict[str, list[dict]]:
    """Every reader's answer for every case (and the confidence of the combined answer)."""
    out: dict[str, list[dict]] = defaultdict(list)
    for case in cases:
        found = segmenter.predict_number(case.image)
        hinted = segmenter.predict_number(case.image, digits=len(case.truth))
        out["segmenter"].append({"read": found.number or "", "hinted": hinted.number or "", "conf": found.confidence})
        if combined is not None and combined.sequence is not None:
            both = combined.predict_number(case.image)
            both_hinted = combined.predict_number(case.image, digits=len(case.truth))
            seq = combined.sequence.read(load_ink(case.image)).text
            out["sequence"].append({"read": seq, "hinted": seq, "conf": 1.0})
            out["combined"].append(
                {"read": both.number or "", "hinted": both_hinted.number or "", "conf": both.confidence}
            )
    return out


def table(cases: list[Case], results: dict[str, list[dict]], key: Callable[[Case], str], keys: list[str]) -> None:
    readers = [r for r in READERS if r in results]
    head = "".join(f"{r + ' exact':>17}{'count err':>11}" for r in readers)
    print(f"{'':<13}{'numbers':>8}{head}")
    for value in keys:
        idx = [i for i, c in enumerate(cases) if key(c) == value]
        if not idx:
            continue
        row = f"{value:<13}{len(idx):>8}"
        for r in readers:
            exact = np.mean([results[r][i]["read"] == cases[i].truth for i in idx])
            count = np.mean([len(results[r][i]["read"]) != len(cases[i].truth) for i in idx])
            row += f"{exact:>17.1%}{count:>11.1%}"
        print(row)


def timings(cases: list[Case], recognizers: dict[str, Recognizer]) -> None:
    """p50 time of a number per length and of one digit, for each recognizer, in the same run."""
    timed = cases[::TIME_EVERY]
    for name, recognizer in recognizers.items():
        one = [fastest(lambda: recognizer.predict(c.first_alone)) for c in timed]  # noqa: B023
        by_length: dict[int, list[float]] = defaultdict(list)
        for c in timed:
            by_length[len(c.truth)].append(fastest(lambda: recognizer.predict_number(c.image)))  # noqa: B023
        unit = float(np.median(one))
        parts = ", ".join(
            f"{n} digits {np.median(t) * 1000:.1f} ms = {np.median(t) / unit:.1f}x"
            for n, t in sorted(by_length.items())
        )
        print(f"  {name:<10} one digit {unit * 1000:.2f} ms (p50 of {len(one)}); {parts}")


def figure(cases: list[Case], results: list[dict], path: Path, most: int = 12) -> None:
    """The misread numbers read with the highest confidence: the worst mistakes, as the reader saw them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wrong = sorted((i for i, r in enumerate(results) if r["read"] != cases[i].truth), key=lambda i: -results[i]["conf"])
    wrong = wrong[:most]
    if not wrong:
        print(f"no mistakes to draw in {path}")
        return
    cols = 3
    rows = -(-len(wrong) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 1.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong, strict=False):
        c = cases[i]
        ax.imshow(c.image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{c.truth} read {results[i]['read'] or '-'} ({c.spacing}, {results[i]['conf']:.0%})", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    print(f"worst mistakes drawn in {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=800, help="numbers, the four spacings in turn (default 800)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--writers", choices=["test", "val"], default="test", help="UNIPEN writers (default test)")
    parser.add_argument("--model", default=None, help="digit model ONNX (default: the shipped one)")
    parser.add_argument("--seq-model", default=None, help="sequence model ONNX (default: the shipped one, if any)")
    parser.add_argument("--figure", type=Path, default=None, help="draw the worst mistakes here (a .png)")
    parser.add_argument("--no-timing", action="store_true", help="skip the timings")
    args = parser.parse_args()

    import onnxruntime

    segmenter = Recognizer.load(args.model, sequence_model=False)
    combined = Recognizer.load(args.model, sequence_model=args.seq_model or True)
    if combined.sequence is None:
        combined = None
    writers = numbers.by_writer(unipen.load((args.writers,)).samples)
    cases = make_cases(args.n, writers, args.seed)
    seq_name = combined.sequence.path.name if combined is not None and combined.sequence else "none"
    print(
        f"numbers of 2-6 digits from {len(writers)} UNIPEN {args.writers} writers (one per number), seed {args.seed}; "
        f"digit model {segmenter.path.name}, sequence model {seq_name}; "
        f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"onnxruntime {onnxruntime.__version__}, python {platform.python_version()}"
    )
    results = read_all(cases, segmenter, combined)
    print("\nby spacing")
    table(cases, results, lambda c: c.spacing, list(numbers.SPACINGS))
    print("\nby style")
    table(cases, results, lambda c: c.style, ["canvas", "scan"])
    print("\nby length")
    table(cases, results, lambda c: f"{len(c.truth)} digits", [f"{n} digits" for n in range(2, 7)])
    print("\nall")
    table(cases, results, lambda c: "all", ["all"])
    for r in results:
        hinted = np.mean([results[r][i]["hinted"] == c.truth for i, c in enumerate(cases)])
        print(f"  {r:<10} exact with the count given (digits=N): {hinted:.1%}")
    if not args.no_timing:
        print(f"\ntime, each the fastest of {REPEATS} runs, one number in {TIME_EVERY}:")
        timings(cases, {"segmenter": segmenter, **({"combined": combined} if combined is not None else {})})
    if args.figure is not None:
        figure(cases, results["combined" if combined is not None else "segmenter"], args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
