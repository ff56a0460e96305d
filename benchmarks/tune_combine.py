"""Tune how the two number readers are combined (``combine.py``'s constants) on UNIPEN *validation* writers.

``bench_numbers.py`` showed the sequence reader alone beating the combination on
overlapping and fused digits: the constants that weigh the segmenter's path score
against the CTC probability were set by hand. This script composes numbers as the
benchmark does, but from validation writers (never the test writers it reports on),
reads each once with both readers, keeps everything ``combine.choose`` looks at, and
then searches a grid of the four constants, which costs nothing more per point. The
objective counts "apart" three times (most numbers people write are), the other
spacings once.

Usage:  python benchmarks/tune_combine.py [--n 600] [--seed 1]
Prints each reader alone, the combination as shipped, the best grid point (exact
numbers per spacing) and the constants to paste into combine.py.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_numbers import make_cases

from digit_recognizer import Recognizer, combine, unipen
from digit_recognizer.preprocess import NoDigit, load_ink
from digit_recognizer.recognizer import ALTERNATIVES
from digit_recognizer.segment import segment
from digit_recognizer.training import numbers

GRID = {
    "SEQUENCE_WEIGHT": (0.1, 0.25, 0.5, 1.0, 2.0),
    "TAKE_SEQUENCE_MARGIN": (-3.0, -1.0, 0.0, 1.0, 3.0),
    "SEQUENCE_SURE": tuple(math.log(p) for p in (0.05, 0.15, 0.3, 0.6)),
    "SEGMENTER_SURE": (0.8, 0.9, 0.95, 0.99, 1.01),
}


@dataclass
class Read:
    """What ``combine.choose`` sees for one number, with the CTC log probabilities cached."""

    truth: str
    spacing: str
    readings: list[tuple[str, float]]
    log_p: dict[str, float]
    greedy: str
    weakest: float


def read_cases(recognizer: Recognizer, n: int, seed: int) -> list[Read]:
    assert recognizer.sequence is not None, "no sequence model shipped"
    out = []
    for case in make_cases(n, numbers.by_writer(unipen.load(("val",)).samples), seed):
        try:
            ink = load_ink(case.image)
            found = segment(ink, recognizer.scores, alternatives=ALTERNATIVES)
        except NoDigit:
            continue
        if not found.digits:
            continue
        reading = recognizer.sequence.read(ink)
        options = [found, *found.alternatives]
        texts = {o.text for o in options} | {reading.text}
        weakest = min(max(p.scores[:10]) for p in found.digits)
        log_p = {t: reading.log_probability(t) for t in texts}
        out.append(Read(case.truth, case.spacing, [(o.text, o.score) for o in options], log_p, reading.text, weakest))
    return out


def accuracy(cases: list[Read], pick: str = "combined") -> dict[str, float]:
    right: dict[str, list[bool]] = {s: [] for s in numbers.SPACINGS}
    for c in cases:
        if pick == "segmenter":
            text = c.readings[0][0]
        elif pick == "sequence":
            text = c.greedy
        else:
            text = combine.choose(c.readings, c.log_p.__getitem__, c.greedy, c.weakest).text
        right[c.spacing].append(text == c.truth)
    result = {s: float(np.mean(v)) for s, v in right.items() if v}
    result["all"] = float(np.mean([x for v in right.values() for x in v]))
    return result


APART_WEIGHT = 3  # most numbers people write have their digits apart: a loss there costs more


def objective(result: dict[str, float]) -> float:
    return sum(APART_WEIGHT * v if k == "apart" else v for k, v in result.items() if k != "all")


def show(name: str, result: dict[str, float]) -> None:
    print(f"{name:<22}" + "  ".join(f"{k} {100 * v:5.1f}" for k, v in result.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=600, help="numbers composed from validation writers")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1; the benchmark uses 0)")
    args = parser.parse_args()
    cases = read_cases(Recognizer.load(), args.n, args.seed)
    print(f"{len(cases)} numbers from validation writers")
    show("segmenter alone", accuracy(cases, "segmenter"))
    show("sequence alone", accuracy(cases, "sequence"))
    show("combined as shipped", accuracy(cases))
    best, best_values = -1.0, None
    for values in itertools.product(*GRID.values()):
        for name, value in zip(GRID, values, strict=True):
            setattr(combine, name, value)
        score = objective(accuracy(cases))
        if score > best + 1e-9:
            best, best_values = score, values
    assert best_values is not None
    for name, value in zip(GRID, best_values, strict=True):
        setattr(combine, name, value)
    show("combined, tuned", accuracy(cases))
    for name, value in zip(GRID, best_values, strict=True):
        shown = f"math.log({math.exp(value):.2g})" if name == "SEQUENCE_SURE" else f"{value:g}"
        print(f"{name} = {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
