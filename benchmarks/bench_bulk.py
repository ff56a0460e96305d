"""Bulk reading at the machine's limit (issue 21): each path's cost against what it cannot avoid.

Every figure is a ratio measured in this one run, so that it means the same on any machine:

1. one 300x300 canvas in process: ``Recognizer.predict`` p50 against the model call alone
   (``Recognizer.scores`` of one image) on the same, already preprocessed input (target <= 1.5x);
2. ``predict_batch`` of 2,000 canvases with ``jobs=N`` against ``jobs=1`` on one core (a model with one
   thread; target >= 1.7x on 2 cores), and ``jobs=1`` with the default two-thread model for comparison;
3. ``digits predict --json DIR`` over a folder of 300x300 PNG canvases, as a process, with
   ``--jobs N`` against ``--jobs 1`` (target >= 1.7x on 2 cores); and per image on one core after
   start-up (the run on one file subtracted) against decoding the file plus its share of a
   batched model call on one thread, as ``--jobs 1`` runs it (target <= 1.5x);
4. ``digits predict one.png`` as a whole process against ``python -c "import numpy, PIL.Image,
   onnxruntime"`` (medians of 5, the package byte-compiled as an install leaves it; target <= 1.5x).

Usage:  python benchmarks/bench_bulk.py [--files 5000] [--batch 2000] [--jobs N]
Prints the conditions, then one row per measurement with its ratio and target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).parent))
from bench_recognize import process_time, throughput
from conditions import cpu_model, version

import digit_recognizer
from digit_recognizer import Recognizer
from drawing import draw


def canvases(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` 300x300 canvases: the ten digits drawn at random places and sizes, as the apps send them."""
    rng = np.random.default_rng(seed)
    kinds = [
        np.asarray(draw(str(d), box=tuple(int(v) for v in (*rng.integers(10, 80, 2), *rng.integers(200, 290, 2)))))
        for d in range(10)
        for _ in range(5)
    ]
    return [kinds[i % len(kinds)].copy() for i in range(n)]  # distinct arrays: a pickle sends each one


def p50(call: Callable[[int], object], repeats: int) -> float:
    for i in range(50):  # warm-up: onnxruntime allocates on its first calls
        call(i)
    samples = []
    for i in range(repeats):
        start = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - start)
    return float(np.median(samples))


def row(label: str, value: str, ratio: float | None = None, target: str = "") -> None:
    shown = f"{ratio:>7.2f}x" if ratio is not None else ""
    print(f"{label:<58}{value:>16}{shown:>9}  {target}")


def one_canvas(recognizer: Recognizer, images: list[np.ndarray], repeats: int) -> None:
    ready = np.stack([recognizer.preprocess(c) for c in images[:50]])[:, None]
    model = p50(lambda i: recognizer.scores(ready[i % len(ready)]), repeats)
    alone = p50(lambda i: recognizer.preprocess(images[i % 50]), repeats)
    whole = p50(lambda i: recognizer.predict(images[i % 50]), repeats)
    row("model call alone, one preprocessed canvas (p50)", f"{model * 1000:.3f} ms")
    row("preprocessing alone, one 300x300 canvas (p50)", f"{alone * 1000:.3f} ms", alone / model)
    row("Recognizer.predict, one 300x300 canvas (p50)", f"{whole * 1000:.3f} ms", whole / model, "target <= 1.5x")


def batch(recognizer: Recognizer, single_core: Recognizer, images: list[np.ndarray], jobs: int) -> None:
    """jobs=N against one core: jobs=1 in process with a one-thread model (the default model takes two threads)."""
    recognizer.predict_batch(images[:200], jobs=jobs)  # starts the worker pool
    one = throughput(lambda: single_core.predict_batch(images, jobs=1), len(images))
    two_threads = throughput(lambda: recognizer.predict_batch(images, jobs=1), len(images))
    many = throughput(lambda: recognizer.predict_batch(images, jobs=jobs), len(images))
    row(f"predict_batch, {len(images)} canvases, jobs=1, one core", f"{one:.0f} img/s")
    n = len(images)
    row(f"predict_batch, {n} canvases, jobs=1, model on 2 threads", f"{two_threads:.0f} img/s", two_threads / one)
    row(f"predict_batch, {len(images)} canvases, jobs={jobs}", f"{many:.0f} img/s", many / one, "target >= 1.7x")


def folder(recognizer: Recognizer, one_core: Recognizer, images: list[np.ndarray], jobs: int) -> None:
    """``digits predict DIR`` as a process; per image on one core against decoding plus a one-thread model call."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = root / "canvases"
        files.mkdir()
        for i, image in enumerate(images):
            Image.fromarray(image).save(files / f"{i:06d}.png")
        (root / "one").mkdir()
        Image.fromarray(images[0]).save(root / "one" / "one.png")
        command = [sys.executable, "-m", "digit_recognizer", "predict", "--json"]
        start_up = process_time([*command, "--jobs", "1", str(root / "one")], repeats=3)
        single = process_time([*command, "--jobs", "1", str(files)], repeats=1)
        parallel = process_time([*command, "--jobs", str(jobs), str(files)], repeats=1)
        paths = sorted(files.iterdir())
        decode = p50(lambda i: np.asarray(Image.open(paths[i % len(paths)]).convert("L")), min(2000, len(paths)))
    ready = np.stack([recognizer.preprocess(c) for c in images[:1000]])
    model = 1 / throughput(lambda: one_core.scores(ready), len(ready))
    n = len(images)
    row(f"digits predict DIR, {n} PNG files, --jobs 1", f"{single:.2f} s")
    row(f"digits predict DIR, {n} PNG files, --jobs {jobs}", f"{parallel:.2f} s", single / parallel, "target >= 1.7x")
    each = (single - start_up) / n
    row("  per image on one core, after start-up", f"{each * 1000:.3f} ms")
    row("  decode one file + batched model share, one thread", f"{(decode + model) * 1000:.3f} ms")
    row("  per image against decode + model", "", each / (decode + model), "target <= 1.5x")


def one_file(images: list[np.ndarray]) -> None:
    """Both sides byte-compiled, as ``pip install`` leaves a package (a checkout run with
    PYTHONDONTWRITEBYTECODE would compile the package's source on every start)."""
    python = sys.executable
    package = Path(digit_recognizer.__file__).parent
    subprocess.run([python, "-m", "compileall", "-q", str(package)], check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        Image.fromarray(images[0]).save(Path(tmp) / "one.png")
        bare = process_time([python, "-c", "import numpy, PIL.Image, onnxruntime"])
        whole = process_time([python, "-m", "digit_recognizer", "predict", str(Path(tmp) / "one.png")])
    row("python -c 'import numpy, PIL.Image, onnxruntime'", f"{bare * 1000:.0f} ms")
    row("digits predict one.png, whole process", f"{whole * 1000:.0f} ms", whole / bare, "target <= 1.5x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=5000, help="PNG canvases in the folder (default 5000)")
    parser.add_argument("--batch", type=int, default=2000, help="canvases per predict_batch call (default 2000)")
    parser.add_argument("--repeats", type=int, default=2000, help="single-canvas timings (default 2000)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="cores for the parallel rows")
    args = parser.parse_args()
    recognizer = Recognizer.load()
    print(
        f"bulk reading: model {recognizer.path.name}, {cpu_model()}, {os.cpu_count()} cores, "
        f"python {sys.version.split()[0]}, onnxruntime {version('onnxruntime')}, numpy {np.__version__}, "
        f"Pillow {version('pillow')}, scipy {version('scipy')}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'measurement':<58}{'value':>16}{'ratio':>9}  target")
    images = canvases(max(args.files, args.batch))
    one_canvas(recognizer, images, args.repeats)
    one_core = Recognizer.load(recognizer.path, threads=1)  # as --jobs 1 runs it
    batch(recognizer, one_core, images[: args.batch], args.jobs)
    folder(recognizer, one_core, images[: args.files], args.jobs)
    one_file(images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
