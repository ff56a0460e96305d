"""Reliability under faults and hostile input: one table row per attack, with what an ordinary user saw meanwhile.

    python benchmarks/bench_reliability.py                   # every row
    python benchmarks/bench_reliability.py --only server     # rows of one area
    python benchmarks/bench_reliability.py --requests 23     # ordinary requests timed per row

Server rows: starts `digits serve` as a process with the common open-file limit of
1,024 (so 1,030 connections are more than it has descriptors), mounts each attack
from tests/attacks.py (slow headers, idle connections, an endless header, dripping
bodies, palette-PNG pixel bombs, 50-megapixel JPEGs), and meanwhile sends ordinary
requests one after another (a drawn 7, POSTed on a new connection) and times them.
A row's errors are ordinary requests that failed or read something other than 7;
tracebacks are those the server logged during the row. Target: every ordinary
request answered, zero errors, zero tracebacks.

Other areas add rows the same way: a function that takes the command-line
arguments and returns ``Row``s, listed in ``AREAS``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conditions import cpu_model, version

from attacks import (
    Attack,
    EndlessHeader,
    IdleConnections,
    SlowBody,
    SlowHeaders,
    Uploads,
    big_jpeg,
    ordinary_request,
    palette_bomb_png,
    raise_open_file_limit,
)

SERVER_OPEN_FILES = 1024


@dataclass
class Row:
    area: str
    attack: str
    ordinary_ms: list[float]  # each ordinary request's time during the attack (failed ones left out)
    tried: int  # ordinary requests sent
    errors: int  # ordinary requests that failed
    tracebacks: int  # tracebacks in the log of the program under attack during the row
    note: str = ""  # what the attacker got, or what was checked


def main() -> int:
    args = parse_args()
    print_conditions(args)
    rows = [row for area, rows_of in AREAS.items() if args.only in (None, area) for row in rows_of(args)]
    print_table(rows)
    failed = [r for r in rows if r.errors or r.tracebacks or len(r.ordinary_ms) < r.tried]
    print(f"\n{len(rows)} rows; {'all held' if not failed else f'{len(failed)} did NOT hold'}")
    return 1 if failed else 0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=sorted(AREAS), default=None, help="run the rows of one area")
    p.add_argument("--requests", type=int, default=10, help="ordinary requests timed during each attack")
    p.add_argument("--connections", type=int, default=1030, help="connections of the slow-header and idle attacks")
    return p.parse_args()


# --------------------------------------------------------------------------- server rows


@dataclass
class Served:
    url: str
    host: str
    port: int
    log: Path
    pid: int

    def tracebacks(self) -> int:
        return self.log.read_text(errors="replace").count("Traceback")

    def peak_mb(self) -> float:
        """The server's peak resident memory so far (Linux VmHWM), in MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def server_rows(args: argparse.Namespace) -> list[Row]:
    if not raise_open_file_limit(args.connections + 100):
        print(f"warning: this process cannot open {args.connections + 100} sockets; connection rows will be smaller")
    bomb, photo, largest = palette_bomb_png(7000), big_jpeg(50), palette_bomb_png(2000)
    attacks: list[tuple[str, Callable[[Served], Attack | None]]] = [
        ("none (quiet server)", lambda s: None),
        (f"slow headers ({args.connections} connections)", lambda s: SlowHeaders(s.host, s.port, args.connections)),
        (f"idle connections ({args.connections})", lambda s: IdleConnections(s.host, s.port, args.connections)),
        ("endless header (1 connection)", lambda s: EndlessHeader(s.host, s.port)),
        ("dripping bodies (50 connections)", lambda s: SlowBody(s.host, s.port, 50)),
        ("pixel bombs: 7000x7000 palette PNG, 4 clients", lambda s: Uploads(s.host, s.port, bomb, "image/png", "")),
        ("50-megapixel JPEG, 4 clients", lambda s: Uploads(s.host, s.port, photo, "image/jpeg", "")),
        (
            "largest accepted: 2000x2000 palette PNG, 4 clients",
            lambda s: Uploads(s.host, s.port, largest, "image/png", ""),
        ),
    ]
    print(f"pixel bomb: {len(bomb) / 1024:.0f} KB PNG, 7000x7000; photo: {len(photo) / 1024:.0f} KB JPEG, 50 MP\n")
    with serving() as served:
        return [attack_row(served, name, make(served), args.requests) for name, make in attacks]


def attack_row(served: Served, name: str, attack: Attack | None, requests: int) -> Row:
    before = served.tracebacks()
    times: list[float] = []
    errors = 0
    with attack or contextlib.nullcontext():
        for _ in range(requests):
            try:
                times.append(1000 * ordinary_request(served.url, timeout=30))
            except AssertionError:
                errors += 1
    note = ""
    if attack is not None:
        answers = ", ".join(f"{status or 'closed'}: {n}" for status, n in sorted(attack.answers.items()))
        note = f"attacker got {answers}" if answers else ""
        if isinstance(attack, SlowHeaders):
            note = f"{attack.opened} connections opened" + (f"; {note}" if note else "")
        if attack.error is not None:
            note += f" (attack failed: {attack.error!r})"
    time.sleep(0.5)  # let the server log what it will
    note = f"{note}; server peak {served.peak_mb():.0f} MB" if note else f"server peak {served.peak_mb():.0f} MB"
    return Row("server", name, times, requests, errors, served.tracebacks() - before, note)


@contextlib.contextmanager
def serving() -> Iterator[Served]:
    """`digits serve` with default limits and an open-file limit of 1,024; stopped with Ctrl+C afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        port = free_port()
        command = [sys.executable, "-m", "digit_recognizer", "serve", "--port", str(port)]
        limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_OPEN_FILES, SERVER_OPEN_FILES))
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit)
        served = Served(f"http://127.0.0.1:{port}", "127.0.0.1", port, log, process.pid)
        try:
            wait_until_ready(served, process)
            yield served
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_ready(served: Served, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"error: digits serve exited:\n{served.log.read_text()}")
        try:
            if httpx.get(f"{served.url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("error: digits serve did not answer /api/health within 60 s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- the table


def download_rows(args: argparse.Namespace) -> list[Row]:
    """Hostile MNIST mirrors on loopback (benchmarks/reliability_downloads.py); no ordinary requests here."""
    from reliability_downloads import rows

    return [
        Row(
            "data",
            r["attack"],
            [],
            0,
            0,
            0,
            f"{r['outcome']} in {r['seconds']} s, peak {r['peak_memory_mb']} MB, {r['bytes_left_on_disk']} B left",
        )
        for r in rows()
    ]


def training_rows(args: argparse.Namespace) -> list[Row]:
    """A kill at every file replacement of a training run, then resume (benchmarks/reliability_training.py)."""
    from reliability_training import kill_at_every_replacement_point

    with tempfile.TemporaryDirectory() as tmp:
        kills = kill_at_every_replacement_point(Path(tmp))
    survived = sum(k.ok for k in kills)
    note = f"{survived}/{len(kills)} recovered with the same model and agreeing files"
    failed = [f"{k.file} ({k.side})" for k in kills if not k.ok]
    return [Row("train", f"kill at each of {len(kills)} replacement points", [], 0, len(failed), 0, note)]


AREAS: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "server": server_rows,
    "data": download_rows,
    "train": training_rows,
}


def print_conditions(args: argparse.Namespace) -> None:
    versions = ", ".join(f"{name} {version(name)}" for name in ("uvicorn", "httptools", "starlette", "pillow"))
    print(f"CPU        {cpu_model()}, {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.2f}")
    print(f"software   Python {platform.python_version()}, {versions}")
    print(f"server     digits serve, 1 worker, default limits, open-file limit {SERVER_OPEN_FILES}")
    print(f"ordinary   {args.requests} requests per row, one after another: POST a drawn 7 on a new connection\n")


def print_table(rows: list[Row]) -> None:
    header = f"{'area':<7}  {'attack':<52}  {'ordinary p50 ms':>15}  {'worst ms':>8}  {'answered':>8}  "
    print(header + f"{'errors':>6}  {'tracebacks':>10}  note")
    for r in rows:
        p50 = f"{statistics.median(r.ordinary_ms):.0f}" if r.ordinary_ms else "-"
        worst = f"{max(r.ordinary_ms):.0f}" if r.ordinary_ms else "-"
        answered = f"{len(r.ordinary_ms)}/{r.tried}"
        print(
            f"{r.area:<7}  {r.attack:<52}  {p50:>15}  {worst:>8}  {answered:>8}  {r.errors:>6}  {r.tracebacks:>10}  "
            f"{r.note}"
        )


if __name__ == "__main__":
    sys.exit(main())
