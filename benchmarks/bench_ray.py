"""`digits predict --ray` throughput: 1 and 2 local workers on 10,000 drawn canvases (issue 21).

Writes COUNT 300x300 PNG canvases (tests/drawing.py's digits in 100 variants of digit,
pen, box and polarity; distinct file names) into a temporary folder, starts one local Ray
cluster (timed on its own), then for each worker count recognizes the whole folder the
way `digits predict --ray FOLDER` does (``bulk.recognize`` on ``bulk.read_images``, every
result pulled back to this process in order) and times it from submission to the last
result: the workers' start (one model load each) included, the cluster's start not.
Checks that the answers on a sample equal `digits predict --json` on the same files.

Target: 2 workers >= 1.6x one worker's images/s on 10,000 images, the same answers.

Usage:  python benchmarks/bench_ray.py [--count 10000] [--workers 1,2] [--sample 200]
Prints the conditions, the cluster's start, one fixed-column row per worker count, the
speed-up and the answers check.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conditions import cpu_model, version

from digit_recognizer import bulk
from drawing import draw

VARIANTS = 100
TARGET = 1.6


def canvases(folder: Path, count: int) -> list[Path]:
    """COUNT PNG files, VARIANTS distinct drawings written round-robin under distinct names."""
    drawings = []
    for v in range(VARIANTS):
        margin = 30 + (v * 13) % 50
        image = draw(
            str(v % 10),
            pen=10 + (v * 7) % 20,
            box=(margin, margin, 300 - margin, 300 - margin + 10),
            dark_on_light=v % 3 != 0,
        )
        png = io.BytesIO()
        image.save(png, format="PNG")
        drawings.append(png.getvalue())
    paths = [folder / f"{i:05d}.png" for i in range(count)]
    for i, path in enumerate(paths):
        path.write_bytes(drawings[i % VARIANTS])
    return paths


def run(folder: Path, workers: int) -> tuple[float, dict[str, str]]:
    """Seconds to recognize the folder on ``workers`` workers, and each path's `--json` line."""
    began = time.perf_counter()
    results = bulk.recognize(bulk.read_images([str(folder)]), workers=workers)
    lines = {}
    for batch in results.iter_batches(batch_format="pyarrow", batch_size=None):
        lines.update(zip(batch["path"].to_pylist(), batch["json"].to_pylist(), strict=True))
    return time.perf_counter() - began, lines


def digits_predict(paths: list[Path]) -> dict[str, str]:
    """`digits predict --json` on ``paths``, as a process: each path's line."""
    done = subprocess.run(
        [sys.executable, "-m", "digit_recognizer", "predict", "--json", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    return {json.loads(line)["path"]: line for line in done.stdout.splitlines()}


def same(ray_lines: dict[str, str], expected: dict[str, str]) -> bool:
    def parsed(lines: dict[str, str]) -> dict[str, Any]:
        return {path: json.loads(line) for path, line in lines.items()}

    return parsed({p: ray_lines[p] for p in expected}) == parsed(expected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="images (default 10000)")
    parser.add_argument("--workers", default="1,2", help="worker counts to time, in order (default 1,2)")
    parser.add_argument("--sample", type=int, default=200, help="images checked against digits predict (default 200)")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    cpus = max(max(counts), os.cpu_count() or 1)
    print(
        f"digits predict --ray: {args.count} 300x300 PNG canvases; {cpu_model()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}, ray {version('ray')}, "
        f"onnxruntime {version('onnxruntime')}, pyarrow {version('pyarrow')}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        paths = canvases(Path(tmp), args.count)
        import ray

        began = time.perf_counter()
        ray.init(
            address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR
        )
        ray.data.DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        print(f"cluster start: {time.perf_counter() - began:.1f} s (a local cluster of {cpus} CPUs, not timed below)")
        print(f"{'workers':>8}{'images':>9}{'seconds':>10}{'images/s':>10}")
        rates, answers = {}, {}
        for workers in counts:
            seconds, answers[workers] = run(Path(tmp), workers)
            rates[workers] = args.count / seconds
            print(f"{workers:>8}{args.count:>9}{seconds:>10.1f}{rates[workers]:>10.0f}")
        ray.shutdown()
        step = max(1, args.count // args.sample)
        expected = digits_predict(paths[::step][: args.sample])
    if 1 in rates and 2 in rates:
        ratio = rates[2] / rates[1]
        verdict = "met" if ratio >= TARGET else "MISSED"
        print(f"speed-up, 2 workers / 1: {ratio:.2f}x (target >= {TARGET}x: {verdict})")
    agree = all(same(lines, expected) for lines in answers.values())
    print(f"same answers as digits predict on {len(expected)} sampled images, every run: {'yes' if agree else 'NO'}")


if __name__ == "__main__":
    main()
