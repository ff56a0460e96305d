"""HTTP API throughput and latency: `digits serve` on loopback under wrk, one row per --workers.

    python benchmarks/bench_web.py                  # workers 1 and 2, 16 connections, 10 s each
    python benchmarks/bench_web.py --workers 1,2,4 --duration 30

Starts the server itself (`python -m digit_recognizer serve`, no access log), checks
that it recognizes the test image, and for each row measures, on the same running
server one after the other, GET /api/health (the server's own ceiling: no work)
and POST /api/predict with one small PNG (a drawn 7, 280x280, grayscale; with --rgba
in RGBA as the page's canvas sends it) as a raw image/png body, each after a warm-up. It prints a fixed-column table
with the conditions (CPU, cores, load, versions): both throughputs, their ratio,
predict latency percentiles (wrk's own distribution) and errors (any socket error
or non-2xx answer).

Target (from the issue): one worker, 16 connections: predict throughput >= 0.5x the
same server's /api/health throughput in the same run, zero errors. A ratio, because
absolute figures differ between machines. Results are in docs/speed.md (The HTTP API).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from conditions import cpu_model, version
from PIL import Image, ImageDraw

TARGET_RATIO = 0.5  # predict req/s over health req/s, one worker

POST_PNG = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "image/png"
wrk.body = io.open("{png}", "rb"):read("*a")
"""

# wrk calls done() once at the end; it prints one JSON line the script parses.
DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # server CPU time (all its processes) per request
    other_pct: float  # CPU used by anything but the server and wrk during the run, % of one core


@dataclass
class Row:
    workers: int
    connections: int
    health: Load
    predict: Load

    @property
    def ratio(self) -> float:
        return self.predict.rps / self.health.rps if self.health.rps else 0.0


def main() -> int:
    args = parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("error: wrk not found; install it with `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "seven.png"
        png.write_bytes(seven_png(args.rgba))
        post = Path(tmp) / "post_png.lua"
        post.write_text(POST_PNG.format(png=png) + DONE.format())
        get = Path(tmp) / "get.lua"
        get.write_text(DONE.format())
        print_conditions(wrk, png, args)
        rows = [measure(wrk, (get, post), png, workers, args) for workers in args.workers]
    print_table(rows)
    return verdict(rows)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--workers",
        type=lambda s: [int(w) for w in s.split(",")],
        default=[1, 2],
        help="comma-separated server process counts, one table row each",
    )
    p.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    p.add_argument("--duration", type=int, default=10, help="seconds of measured load per row")
    p.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load before each row")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1 leaves the cores to the server)")
    p.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    p.add_argument("--rgba", action="store_true", help="send the 7 as an RGBA PNG, as the page's canvas does")
    return p.parse_args()


def seven_png(rgba: bool = False) -> bytes:
    """A drawn 7, 280x280: grayscale, or RGBA as the page's canvas sends it (Chromium's toBlob)."""
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(75, 60), (205, 60), (120, 235)], fill=0, width=18, joint="curve")
    buffer = io.BytesIO()
    (image.convert("RGBA") if rgba else image).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


# --------------------------------------------------------------------------- one row


def measure(wrk: str, scripts: tuple[Path, Path], png: Path, workers: int, args: argparse.Namespace) -> Row:
    """Health, then predict, on one server: the ratio compares them under the same conditions."""
    port = free_port()
    server = start_server(port, workers, args.model)
    try:
        base = f"http://127.0.0.1:{port}"
        check_answer(f"{base}/api/predict", png)
        health = load(wrk, scripts[0], f"{base}/api/health", server, args)
        predict = load(wrk, scripts[1], f"{base}/api/predict", server, args)
    finally:
        stop_server(server)
    return Row(workers, args.connections, health, predict)


def load(wrk: str, script: Path, url: str, server: subprocess.Popen[bytes], args: argparse.Namespace) -> Load:
    run_wrk(wrk, script, url, args.connections, args.warmup, args.wrk_threads)
    before = (tree_cpu_seconds(server.pid), machine_busy_seconds(), children_cpu_seconds())
    result = run_wrk(wrk, script, url, args.connections, args.duration, args.wrk_threads)
    cpu_used = tree_cpu_seconds(server.pid) - before[0]
    others = machine_busy_seconds() - before[1] - cpu_used - (children_cpu_seconds() - before[2])
    errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Load(
        rps=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        errors=errors,
        cpu_ms=1000 * cpu_used / max(1, result["requests"]),
        other_pct=max(0.0, 100 * others / (result["duration_us"] / 1e6)),
    )


def start_server(port: int, workers: int, model: str | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "digit_recognizer", "serve", "--port", str(port), "--workers", str(workers)]
    if model:
        command += ["--model", model]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"error: the server exited: {server.stderr.read().decode() if server.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                time.sleep(0.5 * workers)  # let every worker finish loading the model
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    stop_server(server)
    raise SystemExit("error: the server did not answer /api/health within 60 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def check_answer(url: str, png: Path) -> None:
    answer = httpx.post(url, content=png.read_bytes(), headers={"Content-Type": "image/png"}).json()
    if answer.get("digit") is None:
        raise SystemExit(f"error: the server did not recognize the test image: {answer}")


def run_wrk(wrk: str, script: Path, url: str, connections: int, seconds: int, threads: int) -> dict[str, int]:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"error: wrk printed no RESULT line:\n{done.stdout}\n{done.stderr}")
    return dict(json.loads(line[len("RESULT ") :]))


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process and all its descendants (Linux /proc)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))  # ppid, utime + stime
    tree: set[int] = {root}
    while grown := {pid for pid, (ppid, _) in stats.items() if ppid in tree} - tree:
        tree |= grown
    return sum(stats[pid][1] for pid in tree if pid in stats) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds spent busy on all cores since boot (/proc/stat: all but idle and iowait)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds of this script's finished children (here: the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- report


def print_conditions(wrk: str, png: Path, args: argparse.Namespace) -> None:
    versions = ", ".join(
        f"{name} {version(name)}" for name in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "onnxruntime")
    )
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split("\n")[0].split(" [")[0]
    training = subprocess.run(["pgrep", "-f", "digits train"], capture_output=True, text=True).stdout.split()
    print(f"CPU        {cpu_model()}, {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.2f}")
    print(f"software   Python {platform.python_version()}, {versions}, {wrk_version}")
    load = f"{wrk} -t{args.wrk_threads} -c{args.connections} -d{args.duration}s (after {args.warmup} s warm-up)"
    kind = "RGBA, as the page's canvas sends it" if args.rgba else "grayscale"
    body = f"image/png body of {png.stat().st_size} bytes (a drawn 7, 280x280, {kind})"
    print(f"load       {load}, GET /api/health, then POST /api/predict with an {body}")
    print(f"machine    server and wrk share it; other work running: {'digits train' if training else 'none seen'}")
    print()


def print_table(rows: list[Row]) -> None:
    print(
        f"{'workers':>7}  {'conns':>5}  {'health req/s':>12}  {'predict req/s':>13}  {'ratio':>5}  "
        f"{'p50 ms':>6}  {'p99 ms':>6}  {'errors':>6}  {'CPU ms/predict':>14}  {'other CPU %':>11}"
    )
    for r in rows:
        p = r.predict
        print(
            f"{r.workers:>7}  {r.connections:>5}  {r.health.rps:>12.0f}  {p.rps:>13.0f}  {r.ratio:>5.2f}  "
            f"{p.p50_ms:>6.2f}  {p.p99_ms:>6.2f}  {p.errors + r.health.errors:>6}  {p.cpu_ms:>14.2f}  "
            f"{max(p.other_pct, r.health.other_pct):>11.0f}"
        )
    print("(ratio: predict over health throughput of the same server; p50/p99: predict latency; errors: both loads;")
    print(" other CPU %: use by anything but the server and wrk; over ~10% means a disturbed row)")


def verdict(rows: list[Row]) -> int:
    one = next((r for r in rows if r.workers == 1), None)
    if one is None:
        return 0
    met = one.ratio >= TARGET_RATIO and one.predict.errors == 0 and one.health.errors == 0
    print(
        f"\ntarget (1 worker): predict >= {TARGET_RATIO:g}x health throughput, 0 errors: {'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
