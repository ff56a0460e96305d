"""`digits predict` over big folders: peak memory should not grow with the number of files (issue #13).

Writes N copies of a small drawn digit (distinct file names) into a temporary folder,
runs `python -m digit_recognizer predict --json FOLDER > /dev/null` as a process for
each N, and prints its wall time, images/s and peak resident memory (ru_maxrss of the
child: the largest of its processes, worker processes included). Streamed output means the peak stays flat as N grows.

Usage:  python benchmarks/bench_predict_folder.py [--counts 1000,10000,100000] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from drawing import draw


def run_once(folder: Path, jobs: int | None) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one `digits predict` process over ``folder``."""
    command = [sys.executable, "-m", "digit_recognizer", "predict", "--json", str(folder)]
    if jobs:
        command += ["--jobs", str(jobs)]
    pid_start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - pid_start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"digits predict failed: {process.stderr.read().decode() if process.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1000,10000", help="folder sizes to try (default 1000,10000)")
    parser.add_argument("--jobs", type=int, default=None, help="passed to digits predict --jobs")
    args = parser.parse_args()
    print(
        f"digits predict over a folder: python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, jobs {args.jobs or 'all'}"
    )
    print(f"{'files':>8}{'seconds':>9}{'images/s':>10}{'peak RSS MB':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.png"
        draw("7", size=(64, 64), box=(8, 8, 56, 56)).save(sample)
        folder = Path(tmp) / "images"
        folder.mkdir()
        made = 0
        for count in sorted(int(c) for c in args.counts.split(",")):
            for i in range(made, count):
                shutil.copyfile(sample, folder / f"{i:07d}.png")
            made = count
            seconds, peak = run_once(folder, args.jobs)
            print(f"{count:>8}{seconds:>9.1f}{count / seconds:>10.0f}{peak:>13.0f}")


if __name__ == "__main__":
    main()
