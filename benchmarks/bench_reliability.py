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
tracebacks are those the server logged during the row; after each ordinary request
a GET /api/health is timed too. Target: every ordinary request answered, zero
errors, zero tracebacks.

Issue 19's rows (area ``server`` and ``files``): EPS files that would run Ghostscript,
files whose decoders raised uncaught exceptions (TIFF, AVIF, BLP), icons wrapping a
12000x12000 PNG, huge corrections, 1,100 slow readers of the docs' 1.5 MB bundle,
100 KB headers in one write, then all of them at once with 16 ordinary clients
(target: ordinary p99 <= 250 ms, health <= 0.5 s, server peak RSS <= 500 MB, 0
tracebacks). ``files`` runs `digits predict`, `--multi`, `evaluate --images` and
`adapt` on hostile folders, and a fixed-seed fuzz of truncated and mutated files of
every format Pillow writes through the library, the CLI and the server.

Other areas add rows the same way: a function that takes the command-line
arguments and returns ``Row``s, listed in ``AREAS``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from conditions import cpu_model, version

import hostile_files as hostile
from attacks import (
    Attack,
    BigHeaders,
    EndlessHeader,
    IdleConnections,
    Posts,
    SlowBody,
    SlowHeaders,
    SlowReaders,
    Uploads,
    big_jpeg,
    huge_correction,
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
    health_ms: list[float] = field(default_factory=list)  # GET /api/health after each ordinary request


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
    p.add_argument("--fuzz", type=int, default=3000, help="damaged files in the fuzz rows (fixed seed)")
    p.add_argument("--clients", type=int, default=16, help="ordinary clients at once in the all-attacks row")
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
        *issue_19_attacks(args),
    ]
    print(f"pixel bomb: {len(bomb) / 1024:.0f} KB PNG, 7000x7000; photo: {len(photo) / 1024:.0f} KB JPEG, 50 MP\n")
    with serving() as served:
        rows = [attack_row(served, name, make(served), args.requests) for name, make in attacks]
        rows.append(fuzz_server_row(served, args.fuzz))
        rows.append(all_at_once_row(served, args))
        return rows


def issue_19_attacks(args: argparse.Namespace) -> list[tuple[str, Callable[[Served], Attack | None]]]:
    """Issue 19's attacks, each as a row: the file or request, and how many clients send it."""
    eps, ico, correction = hostile.looping_eps(), hostile.ico_wrapping_png(12000), huge_correction()
    decoder_failures = {
        "TIFF, 2nd frame without width": hostile.tiff_without_width(),
        "corrupt AVIF": hostile.corrupt_avif(),
        "corrupt BLP": hostile.corrupt_blp(),
    }
    strokes_5mb = b'{"label": "1", "drawing": [[[' + b"1," * 2_500_000 + b"1], [1]]]}"
    return [
        ("looping EPS sent as image/png, 4 clients", lambda s: Uploads(s.host, s.port, eps, "image/png", "")),
        *((f"{what}, 4 clients", uploading(data)) for what, data in decoder_failures.items()),
        ("ICO wrapping a 12000x12000 PNG, 6 clients", lambda s: Uploads(s.host, s.port, ico, "image/png", "", 6)),
        (
            "corrections: 5 MB of strokes, 6 clients",
            lambda s: Posts(s.host, s.port, "/api/corrections", strokes_5mb, "application/json", "", 6),
        ),
        (
            "corrections: 20,000 points, pen 200, 4000 px, 6 clients",
            lambda s: Posts(s.host, s.port, "/api/corrections", correction, "application/json", "", 6),
        ),
        ("slow readers of the docs' JS (1,100 connections)", lambda s: SlowReaders(s.host, s.port, 1100)),
        ("100 KB header in one write (1 client)", lambda s: BigHeaders(s.host, s.port)),
    ]


def uploading(data: bytes) -> Callable[[Served], Attack | None]:
    return lambda s: Uploads(s.host, s.port, data, "image/png", "")


def all_at_once_row(served: Served, args: argparse.Namespace) -> Row:
    """Every issue-19 attack mounted together while ``args.clients`` ordinary clients send requests.

    The attackers run in a process of their own, so that their threads do not slow
    the ordinary clients' Python (the GIL) and what is timed is the server.
    """
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    before = served.tracebacks()
    context = multiprocessing.get_context("spawn")
    stop, mounted, report = context.Event(), context.Event(), context.Queue()
    attacker = context.Process(target=attack_all, args=(served, args, stop, mounted, report), daemon=True)
    attacker.start()
    mounted.wait(120)
    time.sleep(2)  # let the slow readers fill the connection table

    def one_client(_: int) -> tuple[list[float], list[float], int]:
        mine, checks, failed = [], [], 0
        for _ in range(args.requests):
            try:
                mine.append(1000 * ordinary_request(served.url, timeout=30))
            except AssertionError:
                failed += 1
            checks.append(time_health(served))
        return mine, checks, failed

    times: list[float] = []
    health: list[float] = []
    errors = 0
    try:
        with ThreadPoolExecutor(args.clients) as pool:
            for mine, checks, failed in pool.map(one_client, range(args.clients)):
                times += mine
                health += checks
                errors += failed
    finally:
        stop.set()
        got = report.get(timeout=60) if attacker.is_alive() or not report.empty() else "attackers failed"
        attacker.join(60)
    time.sleep(0.5)
    name = f"all issue-19 attacks at once, {args.clients} ordinary clients"
    note = f"attackers (another process) got {got}; server peak {served.peak_mb():.0f} MB"
    tried = args.clients * args.requests
    return Row("server", name, times, tried, errors, served.tracebacks() - before, note, health)


def attack_all(served: Served, args: argparse.Namespace, stop: Any, mounted: Any, report: Any) -> None:
    """In the attackers' process: mount every issue-19 attack until ``stop`` is set; report what they got."""
    raise_open_file_limit(args.connections + 1300)
    attacks = [a for _, make in issue_19_attacks(args) if (a := make(served)) is not None]
    with contextlib.ExitStack() as stack:
        for attack in attacks:
            stack.enter_context(attack)
        mounted.set()
        stop.wait(600)
    answers: dict[int, int] = {}
    for attack in attacks:
        for status, n in attack.answers.items():
            answers[status] = answers.get(status, 0) + n
    report.put(", ".join(f"{status or 'cut off'}: {n}" for status, n in sorted(answers.items())))


def time_health(served: Served) -> float:
    """Milliseconds for GET /api/health on a new connection (30 s counts as a failure to answer)."""
    import http.client

    started = time.perf_counter()
    connection = http.client.HTTPConnection(served.host, served.port, timeout=30)
    try:
        connection.request("GET", "/api/health")
        connection.getresponse().read()
    except OSError:
        return 30_000.0
    finally:
        connection.close()
    return 1000 * (time.perf_counter() - started)


def attack_row(served: Served, name: str, attack: Attack | None, requests: int) -> Row:
    before = served.tracebacks()
    times: list[float] = []
    health: list[float] = []
    errors = 0
    with attack or contextlib.nullcontext():
        for _ in range(requests):
            try:
                times.append(1000 * ordinary_request(served.url, timeout=30))
            except AssertionError:
                errors += 1
            health.append(time_health(served))
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
    return Row("server", name, times, requests, errors, served.tracebacks() - before, note, health)


@contextlib.contextmanager
def serving() -> Iterator[Served]:
    """`digits serve` with default limits and an open-file limit of 1,024; stopped with Ctrl+C afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        port = free_port()
        corrections = Path(tmp) / "corrections"  # storing on: the corrections rows reach the parser
        command = [sys.executable, "-m", "digit_recognizer", "serve", "--port", str(port)]
        command += ["--corrections-dir", str(corrections)]
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


# --------------------------------------------------------------------------- hostile files (issue 19)


def file_rows(args: argparse.Namespace) -> list[Row]:
    """`digits predict`, `--multi`, `evaluate --images` and `adapt` on hostile folders; the fuzz on library and CLI."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder, sevens = hostile_folder(root / "predict", copies=550)  # about 5,000 entries, as in the issue
        rows = [predict_row(folder, sevens, multi) for multi in (False, True)]
        rows += [evaluate_row(root / "evaluate"), adapt_row(root / "adapt")]
        rows += fuzz_rows(root / "fuzz", args.fuzz)
    return rows


def hostile_folder(folder: Path, copies: int) -> tuple[Path, int]:
    """``copies`` of every hostile file and as many drawn 7s, plus a FIFO, broken and looping links, a subfolder."""
    folder.mkdir(parents=True)
    seven = hostile_seven()
    for i in range(copies):
        for j, make in enumerate(hostile.DECODER_FAILURES.values()):
            (folder / f"bad-{i:03d}-{j}.png").write_bytes(make())
        (folder / f"seven-{i:03d}.png").write_bytes(seven)
    os.mkfifo(folder / "fifo.png")
    (folder / "dangling.png").symlink_to(folder / "nowhere.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "subfolder").mkdir()
    (folder / "escape\x1b[2J\nname.png").write_bytes(seven)
    return folder, copies + 1


def hostile_seven() -> bytes:
    from attacks import drawn_seven

    return drawn_seven()


def run_digits(*argv: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "digit_recognizer", *argv], capture_output=True, text=True)
    return done, time.perf_counter() - started


def predict_row(folder: Path, sevens: int, multi: bool) -> Row:
    entries = len(list(folder.iterdir()))
    done, seconds = run_digits("predict", "--json", *(["--multi"] if multi else []), str(folder))
    results = [json.loads(line) for line in done.stdout.splitlines()]
    read = sum(r.get("digit") == 7 or r.get("number") == "7" for r in results)
    missing = entries - len(results)
    note = f"exit {done.returncode}; {len(results)} rows for {entries} entries; {read}/{sevens} sevens read"
    note += f"; {seconds:.1f} s"
    name = f"digits predict{' --multi' if multi else ''} on {entries} hostile entries"
    return Row("files", name, [], 0, missing + (sevens - read), stderr_tracebacks(done), note)


def evaluate_row(folder: Path) -> Row:
    (folder / "7").mkdir(parents=True)
    seven = hostile_seven()
    for i in range(50):
        (folder / "7" / f"seven-{i}.png").write_bytes(seven)
        (folder / "7" / f"empty-{i}.png").write_bytes(b"")
        (folder / "7" / f"text-{i}.png").write_bytes(hostile.text_named_png())
    done, seconds = run_digits("evaluate", "--images", str(folder), "--json")
    report = json.loads(done.stdout) if done.stdout.startswith("{") else {}
    unread = len(report.get("unreadable", []))
    ok = done.returncode == 1 and report.get("n") == 50 and unread == 100 and done.stderr.count("error: ") == 100
    note = f"exit {done.returncode}; n={report.get('n')}, accuracy {report.get('accuracy')}, {unread} listed unreadable"
    return Row(
        "files",
        "digits evaluate --images: 50 sevens, 50 empty, 50 text",
        [],
        0,
        0 if ok else 1,
        stderr_tracebacks(done),
        f"{note}; {seconds:.1f} s",
    )


def adapt_row(folder: Path) -> Row:
    (folder / "7").mkdir(parents=True)
    (folder / "7" / "a.png").write_bytes(hostile_seven())
    (folder / "7" / "a.ndjson").write_text(hostile.deeply_nested_json() + "\n")
    done, seconds = run_digits("adapt", "--corrections", str(folder), "--out", str(folder / "out.onnx"))
    lines = done.stderr.strip().splitlines()
    ok = done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    note = f"exit {done.returncode} in {seconds:.1f} s; stderr: {lines[-1][:70] if lines else '(empty)'}"
    return Row("files", "digits adapt: strokes of 100,000 '['", [], 0, 0 if ok else 1, stderr_tracebacks(done), note)


def fuzz_rows(folder: Path, cases: int) -> list[Row]:
    """Damaged files of every format Pillow writes, through the library and `digits predict` (both modes)."""
    from digit_recognizer.imagefile import ImageError
    from digit_recognizer.recognizer import Recognizer

    originals = hostile.writable_formats()
    damaged = list(hostile.fuzzed(originals, cases))
    recognizer = Recognizer.load()
    uncaught: list[str] = []
    started = time.perf_counter()
    for name, data in damaged:
        for read in (recognizer.predict, recognizer.predict_number):
            try:
                read(data)
            except ImageError:
                pass
            except Exception as exc:
                uncaught.append(f"{name}: {exc!r}")
    seconds = time.perf_counter() - started
    formats = f"{len(originals)} formats"
    rows = [
        Row(
            "files",
            f"fuzz: {cases} damaged files ({formats}), library",
            [],
            0,
            len(uncaught),
            0,
            f"{len(uncaught)} uncaught exceptions; {seconds:.1f} s"
            + (f"; first: {uncaught[0][:60]}" if uncaught else ""),
        )
    ]
    folder.mkdir(parents=True)
    for name, data in damaged:
        (folder / f"{name}.png").write_bytes(data)
    for multi in (False, True):
        done, seconds = run_digits("predict", "--json", *(["--multi"] if multi else []), str(folder))
        got = len(done.stdout.splitlines())
        note = f"exit {done.returncode}; {got} rows for {len(damaged)} files; {seconds:.1f} s"
        name = f"fuzz: {cases} damaged files, digits predict{' --multi' if multi else ''}"
        rows.append(Row("files", name, [], 0, len(damaged) - got, stderr_tracebacks(done), note))
    return rows


def fuzz_server_row(served: Served, cases: int) -> Row:
    """The same damaged files POSTed to the server, half of them with multi=true: never a 5xx."""
    damaged = list(hostile.fuzzed(hostile.writable_formats(), cases))
    before = served.tracebacks()
    statuses: dict[int, int] = {}
    with httpx.Client(timeout=30) as client:
        for i, (_, data) in enumerate(damaged):
            url = f"{served.url}/api/predict?multi={'true' if i % 2 else 'false'}"
            try:
                status = client.post(url, content=data or b"x", headers={"Content-Type": "image/png"}).status_code
            except httpx.HTTPError:
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
    bad = sum(n for status, n in statuses.items() if status == 0 or status >= 500)
    note = "answers " + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    return Row("server", f"fuzz: {cases} damaged files POSTed", [], 0, bad, served.tracebacks() - before, note)


def stderr_tracebacks(done: subprocess.CompletedProcess[str]) -> int:
    return done.stderr.count("Traceback")


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
    "files": file_rows,
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
    header = f"{'area':<7}  {'attack':<56}  {'ordinary p50 ms':>15}  {'p99 ms':>6}  {'worst ms':>8}  "
    print(header + f"{'health max ms':>13}  {'answered':>8}  {'errors':>6}  {'tracebacks':>10}  note")
    for r in rows:
        p50 = f"{statistics.median(r.ordinary_ms):.0f}" if r.ordinary_ms else "-"
        p99 = f"{percentile(r.ordinary_ms, 99):.0f}" if r.ordinary_ms else "-"
        worst = f"{max(r.ordinary_ms):.0f}" if r.ordinary_ms else "-"
        health = f"{max(r.health_ms):.0f}" if r.health_ms else "-"
        answered = f"{len(r.ordinary_ms)}/{r.tried}"
        print(
            f"{r.area:<7}  {r.attack:<56}  {p50:>15}  {p99:>6}  {worst:>8}  {health:>13}  {answered:>8}  "
            f"{r.errors:>6}  {r.tracebacks:>10}  {r.note}"
        )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, nearest rank (p99 of 160 requests is the second worst)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


if __name__ == "__main__":
    sys.exit(main())
