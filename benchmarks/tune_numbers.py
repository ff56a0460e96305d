"""Tune the priors of number segmentation (``segment.py``'s constants) on UNIPEN *validation* writers.

The model's probabilities and the shape priors are weighed against each other; a new
model (say one with a "not a digit" class) shifts that balance. This script composes
numbers as ``bench_numbers.py`` does, but from validation writers (never the test
writers the benchmark reports on), and runs a coordinate search over the constants:
each is scaled by 0.6, 0.8, 1.25 and 1.6 in turn and kept where exact-number accuracy
(apart counted twice, touching and two-stroke once) improves. Every candidate digit is
read by the model once and cached, so a round costs little more than the first pass.

Usage:  python benchmarks/tune_numbers.py [--n 300] [--rounds 2] [--model PATH]
Prints the accuracy after each change and the constants to paste into segment.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_numbers import make_cases

from digit_recognizer import Recognizer, unipen
from digit_recognizer import segment as _segment_function  # noqa: F401 (the module is loaded with it)
from digit_recognizer.preprocess import load_ink
from digit_recognizer.training import numbers

seg = sys.modules["digit_recognizer.segment"]
PARAMETERS = (
    "MODEL_WEIGHT",
    "ASPECT_COST",
    "SUSPECT_ASPECT",
    "SUSPECT_BELOW",
    "SHORT_COST",
    "WIDE_COST",
    "THIN_COST",
    "CUT_COST",
    "APART_COST",
    "JOIN_COST",
    "DIGIT_COST",
    "MARK_CHANCE",
)


def accuracy(cases: list) -> dict[str, float]:
    """Exact-number accuracy per spacing, reading as ``segment`` does (lazy cuts included)."""
    right: dict[str, list[bool]] = {spacing: [] for spacing in numbers.SPACINGS}
    for truth, spacing, reader, labels in cases:
        strokes, height = seg.over_segment(labels)
        reading = reader.read(strokes, height, None)
        suspects = reading.suspects(height, None)
        if suspects:
            reading = reader.read(seg.over_segment(labels, cut=suspects)[0], height, None)
        read = "".join(str(int(reading.table[k][:10].argmax())) for k in reading.chosen)
        right[spacing].append(read == truth)
    return {k: float(np.mean(v)) for k, v in right.items()}


def objective(result: dict[str, float]) -> float:
    return 2 * result["apart"] + result["touching"] + result["overlapping"] + result["fused"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="numbers (plus n/4 two-stroke ones)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the constants")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1; the benchmark uses 0)")
    parser.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    args = parser.parse_args()
    recognizer = Recognizer.load(args.model)
    cases = []
    for case in make_cases(args.n, numbers.by_writer(unipen.load(("val",)).samples), args.seed):
        ink = load_ink(case.image)
        cases.append((case.truth, case.spacing, seg._Reader(ink.strength, ink.labels, recognizer.scores), ink.labels))
    best = accuracy(cases)
    print(f"start {best}")
    for _ in range(args.rounds):
        for name in PARAMETERS:
            kept = getattr(seg, name)
            for value in [kept * f for f in (0.6, 0.8, 1.25, 1.6)] if kept else [0.25, 0.5, -0.25]:
                if name in ("MARK_CHANCE", "SUSPECT_BELOW"):
                    value = min(0.995, value)
                setattr(seg, name, value)
                result = accuracy(cases)
                if objective(result) > objective(best) + 1e-9:
                    best, kept = result, value
                    print(f"  {name} = {value:.3g}: {best}")
            setattr(seg, name, kept)
    print("\n".join(f"{name} = {getattr(seg, name):.3g}" for name in PARAMETERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
