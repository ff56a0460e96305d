"""Download attacks against `digit_recognizer.data.fetch`, on a loopback mirror (issue #12).

Each attack serves the real file names with hostile behaviour and records what the
downloader did: the outcome (refused with which message, or what was left on disk),
the seconds it took and the peak Python memory (tracemalloc) while it ran.

    dripping mirror   the true Content-Length, then one byte every 5 s; deadline 10 s
    endless stream    zeros without end, no Content-Length (the real train-images bound)
    gzip bomb         a 4 MB gzip of 4 GB of zeros, for train-images (bound: 47 MB)
    dead mirror       nothing listens on the first mirror; the second serves the files
    silent mirror     the first mirror accepts and never answers; the second serves

Usage:  python benchmarks/reliability_downloads.py   (prints the table; ~30 s)
For the lead's reliability table: ``rows()`` returns the same rows as dicts.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import platform
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import write_tiny_mnist
from digit_recognizer import data
from hostile_mirror import HostileMirror, dead_url, gzip_bomb

STEM = "train-images-idx3-ubyte"


def measure(attack: str, run: Callable[[], Any], folder: Path) -> dict[str, Any]:
    """Run one attack; its outcome, seconds, peak traced memory (MB) and what was left in ``folder``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = run()
        outcome = f"downloaded {', '.join(p.name for p in result)}"
    except data.DataError as exc:
        lines = str(exc).splitlines()
        outcome = "refused: " + (lines[1].split(": ", 1)[-1] if len(lines) > 1 else lines[0])
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    left = sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) if folder.exists() else 0
    return {
        "attack": attack,
        "outcome": outcome,
        "seconds": round(seconds, 2),
        "peak_memory_mb": round(peak, 1),
        "bytes_left_on_disk": left,
    }


def rows(drip_deadline: float = 10.0, bomb_gb: float = 4.0) -> list[dict[str, Any]]:
    """One row per attack (see the module docstring)."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        contents = write_tiny_mnist(root / "files")
        files = {f"{stem}.gz": gzip.compress(content) for stem, content in contents.items()}
        tiny = {stem: hashlib.sha256(content).hexdigest() for stem, content in contents.items()}
        sizes = {stem: len(content) for stem, content in contents.items()}
        bomb = gzip_bomb(bomb_gb)
        with HostileMirror(files, drip_seconds=5.0, bomb=bomb) as mirror:

            def fetch(folder: str, stems: list[str], mirrors: list[str], **kw: Any) -> Callable[[], Any]:
                return lambda: data.fetch(root / folder, stems, mirrors=mirrors, progress=False, **kw)

            out.append(
                measure(
                    "dripping mirror (1 byte / 5 s)",
                    fetch("drip", [STEM], [mirror.url("drip")], checksums=tiny, sizes=sizes, timeout=drip_deadline),
                    root / "drip",
                )
            )
            out.append(measure("endless stream", fetch("endless", [STEM], [mirror.url("endless")]), root / "endless"))
            bomb_row = measure(
                f"gzip bomb ({len(bomb) / 2**20:.0f} MB -> {bomb_gb:g} GB)",
                fetch("bomb", [STEM], [mirror.url("bomb")]),
                root / "bomb",
            )
            out.append(bomb_row)
            two = ["t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"]
            out.append(
                measure(
                    "dead first mirror (2 files)",
                    fetch("dead", two, [dead_url(), mirror.url("ok")], checksums=tiny, sizes=sizes),
                    root / "dead",
                )
            )
            connect, data.CONNECT_TIMEOUT = data.CONNECT_TIMEOUT, 3.0
            try:
                out.append(
                    measure(
                        "silent first mirror (2 files, 3 s connect limit)",
                        fetch("silent", two, [mirror.url("silent"), mirror.url("ok")], checksums=tiny, sizes=sizes),
                        root / "silent",
                    )
                )
            finally:
                data.CONNECT_TIMEOUT = connect
    return out


def main() -> None:
    print(
        f"download attacks on a loopback mirror: python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}; memory is tracemalloc's peak of Python allocations"
    )
    print(f"{'attack':<48}{'seconds':>8}{'peak MB':>9}{'left on disk':>14}  outcome")
    for row in rows():
        print(
            f"{row['attack']:<48}{row['seconds']:>8.2f}{row['peak_memory_mb']:>9.1f}"
            f"{row['bytes_left_on_disk']:>14,}  {row['outcome']}"
        )


if __name__ == "__main__":
    main()
