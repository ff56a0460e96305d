"""`digits adapt` on simulated people: does learning from corrections fix their handwriting, and at what cost?

For each of several UNIPEN *test* writers (never seen in training) with at least
``--min-digits`` digits, half of their digits (seeded) become corrections, saved as
the apps save a "Wrong?": a canvas PNG plus its strokes in ``.ndjson``; the other half
is their test, drawn as canvas pictures (``synth.canvas``) and read through the apps'
preprocessing. For each person:

  person     accuracy on their held-out half, before and after adapting
  general    UNIPEN test writers other than that person, canvas style (a fixed subset), before and after
  MNIST      the 10,000 MNIST test digits (``evaluation.evaluate_onnx``), before and after
  seconds    wall time of ``adapt`` (reading, re-drawing, replay, fine-tuning, calibration, export)

Then one timing run on 200 corrections (from several test writers) with ``--threads``.
Targets: the person's errors at least halved; the general benchmark drops by at most
0.3 points; MNIST stays >= 99.6%; 200 corrections adapted in at most 60 s on 2 cores.

Usage:  python benchmarks/bench_adapt.py [--model PATH] [--writers 8] [--general 2000] [--threads 2] [--epochs N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch

from digit_recognizer import Recognizer, data, synth, unipen
from digit_recognizer.evaluation import digit_probabilities, evaluate_onnx
from digit_recognizer.ink import InkSample
from digit_recognizer.preprocess import ImageError, NoDigit, preprocess
from digit_recognizer.recognizer import shipped_model_path
from digit_recognizer.training.adapt import adapt
from digit_recognizer.training.config import AdaptConfig


def canvas_inputs(samples: list[InkSample], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Canvas pictures through the apps' preprocessing: float (N, 28, 28), with a NaN image where none was found."""
    rng = np.random.default_rng(seed)
    arrays = np.full((len(samples), 28, 28), np.nan, dtype=np.float32)
    for i, sample in enumerate(samples):
        with contextlib.suppress(ImageError, NoDigit):  # no digit found: counted as wrong
            arrays[i] = preprocess(synth.canvas(sample.strokes, rng))
    return arrays, np.array([s.label for s in samples])


def accuracy(model: Path, arrays: np.ndarray, labels: np.ndarray) -> float:
    """Share read right; a picture with no digit found, or answered "not a digit", is wrong."""
    found = ~np.isnan(arrays).any((1, 2))
    probabilities = digit_probabilities(Recognizer.load(model), arrays[found])
    predicted = np.where(probabilities.max(1) > 0, probabilities.argmax(1), -1)
    return float((predicted == labels[found]).sum() / len(labels))


def save_as_corrections(samples: list[InkSample], root: Path, seed: int) -> Path:
    """Each sample as the apps save a correction: ``root/<digit>/<n>.png`` and its strokes beside it."""
    rng = np.random.default_rng(seed)
    for n, sample in enumerate(samples):
        folder = root / str(sample.label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(synth.canvas(sample.strokes, rng)).save(folder / f"{n:05d}.png")
        (folder / f"{n:05d}.ndjson").write_text(sample.to_json() + "\n")
    return root


def pct(x: float) -> str:
    return f"{100 * x:6.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=shipped_model_path(), help="base ONNX model (its .pt beside it)")
    parser.add_argument("--writers", type=int, default=8, help="simulated people")
    parser.add_argument("--min-digits", type=int, default=60, help="a person needs at least this many digits")
    parser.add_argument("--general", type=int, default=2000, help="other writers' digits in the general benchmark")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads while adapting")
    parser.add_argument("--epochs", type=int, default=AdaptConfig().epochs)
    parser.add_argument("--timing", type=int, default=200, help="corrections in the timing run (0: skip it)")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITS_DATA_DIR)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--split", default="test", choices=["test", "val"], help="writers to simulate; tune on val, report test"
    )
    args = parser.parse_args()
    cfg = AdaptConfig(epochs=args.epochs, threads=args.threads)

    test_writers = unipen.load((args.split,)).samples
    by_writer: dict[str, list[InkSample]] = defaultdict(list)
    for s in test_writers:
        by_writer[s.writer].append(s)
    rng = np.random.default_rng(args.seed)
    eligible = sorted(w for w, ss in by_writer.items() if len(ss) >= args.min_digits)
    people = [eligible[i] for i in sorted(rng.choice(len(eligible), min(args.writers, len(eligible)), replace=False))]
    pick = np.sort(rng.choice(len(test_writers), min(args.general, len(test_writers)), replace=False))
    general_samples = [test_writers[int(i)] for i in pick]
    general_x, general_y = canvas_inputs(general_samples, args.seed + 1)
    general_writer = np.array([s.writer for s in general_samples])
    mnist_test = data.load_split("test", args.data_dir)
    mnist_before = evaluate_onnx(args.model, mnist_test.images, mnist_test.labels).accuracy

    print(
        f"bench_adapt: base {args.model}; {len(people)} UNIPEN {args.split} writers with >= {args.min_digits} digits "
        f"(of {len(eligible)}); general benchmark {len(general_samples)} other {args.split}-writer digits (canvas) + "
        f"MNIST test 10,000\n"
        f"  adapt: epochs {cfg.epochs} (at most {cfg.max_steps} steps), lr {cfg.lr}, "
        f"{cfg.personal_share:.0%} of each batch yours, "
        f"{cfg.redraws} re-drawings per correction, torch {torch.__version__} with {args.threads} threads, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared and loaded: other jobs ran)\n"
    )
    header = (
        f"{'writer':<26}{'corr':>5}{'test':>5}  {'person before':>13}{'after':>8}  {'errors':>9}  "
        f"{'general before':>14}{'after':>8}  {'MNIST after':>11}  {'seconds':>7}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, writer in enumerate(people):
            samples = by_writer[writer]
            order = np.random.default_rng([args.seed, n]).permutation(len(samples))
            half = len(samples) // 2
            corrections = [samples[int(i)] for i in order[:half]]
            tests = [samples[int(i)] for i in order[half:]]
            folder = save_as_corrections(corrections, Path(tmp) / f"p{n}" / "corrections", args.seed + 10 + n)
            test_x, test_y = canvas_inputs(tests, args.seed + 100 + n)
            others = general_writer != writer
            out = Path(tmp) / f"p{n}" / "model.onnx"
            start, cpu = time.perf_counter(), time.process_time()
            adapt(folder, out, model_path=args.model, data_dir=args.data_dir, cfg=cfg, log=lambda line: None)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            row = {
                "person_before": accuracy(args.model, test_x, test_y),
                "person_after": accuracy(out, test_x, test_y),
                "general_before": accuracy(args.model, general_x[others], general_y[others]),
                "general_after": accuracy(out, general_x[others], general_y[others]),
                "mnist_after": evaluate_onnx(out, mnist_test.images, mnist_test.labels).accuracy,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "n_test": len(tests),
            }
            rows.append(row)
            wrong = [round((1 - row[key]) * len(tests)) for key in ("person_before", "person_after")]
            errors = f"{wrong[0]}->{wrong[1]}"
            print(
                f"{writer[:25]:<26}{len(corrections):>5}{len(tests):>5}  {pct(row['person_before']):>13}"
                f"{pct(row['person_after']):>8}  {errors:>9}  {pct(row['general_before']):>14}"
                f"{pct(row['general_after']):>8}  {pct(row['mnist_after']):>11}  {seconds:>7.1f}{cpu_seconds:>7.1f}",
                flush=True,
            )
        if rows:
            summarize(rows, mnist_before)
        if args.timing:
            time_run(test_writers, args, cfg, Path(tmp))


def summarize(rows: list[dict[str, float]], mnist_before: float) -> None:
    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in rows]))

    err_before = sum((1 - r["person_before"]) * r["n_test"] for r in rows)
    err_after = sum((1 - r["person_after"]) * r["n_test"] for r in rows)
    had_errors = [r for r in rows if r["person_before"] < 1]
    halved = sum((1 - r["person_after"]) <= (1 - r["person_before"]) / 2 for r in had_errors)
    drop = 100 * (mean("general_before") - mean("general_after"))
    print("-" * 40)
    print(
        f"person: mean accuracy {pct(mean('person_before'))}% -> {pct(mean('person_after'))}%; errors "
        f"{err_before:.0f} -> {err_after:.0f} in all ({err_after / max(err_before, 1):.0%} remain); "
        f"halved or better for {halved} of the {len(had_errors)} people with errors   [target: halved]"
    )
    print(
        f"general: {pct(mean('general_before'))}% -> {pct(mean('general_after'))}% (drop {drop:+.2f} points, "
        f"worst person {100 * max(r['general_before'] - r['general_after'] for r in rows):+.2f})   [target: <= 0.3]"
    )
    print(
        f"MNIST test: {pct(mnist_before)}% -> mean {pct(mean('mnist_after'))}%, lowest "
        f"{pct(min(r['mnist_after'] for r in rows))}%   [target: >= 99.6]"
    )
    print(
        f"adapt time: mean {mean('seconds'):.1f} s wall, {mean('cpu_seconds'):.1f} s CPU (all threads); "
        f"longest {max(r['seconds'] for r in rows):.1f} s wall (the first includes rendering the replay cache)"
    )


def time_run(samples: tuple[InkSample, ...], args: argparse.Namespace, cfg: AdaptConfig, tmp: Path) -> None:
    """Adapting on ``args.timing`` corrections (several test writers), replay data already cached."""
    rng = np.random.default_rng(args.seed + 999)
    chosen = [samples[int(i)] for i in rng.choice(len(samples), args.timing, replace=False)]
    folder = save_as_corrections(chosen, tmp / "timing" / "corrections", args.seed + 999)
    start, cpu = time.perf_counter(), time.process_time()
    out = tmp / "timing" / "model.onnx"
    adapt(folder, out, model_path=args.model, data_dir=args.data_dir, cfg=replace(cfg), log=lambda line: None)
    print(
        f"timing: {args.timing} corrections adapted in {time.perf_counter() - start:.1f} s wall "
        f"({time.process_time() - cpu:.1f} s CPU over all threads; load average {os.getloadavg()[0]:.1f}) with "
        f"{torch.get_num_threads()} torch threads on {os.cpu_count()} shared CPUs   [target: <= 60 s on 2 cores]"
    )


if __name__ == "__main__":
    main()
