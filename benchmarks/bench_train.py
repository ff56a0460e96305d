"""Training speed: how long the default recipe needs to reach 99.0% and 99.5% MNIST test accuracy.

Each budget is a separate run of the default recipe (`digits train` settings, all 60,000
training images, one-cycle schedule sized to the budget), as airbench measures
time-to-accuracy: a schedule that ends at the budget, not an early snapshot of a
longer one. Training time excludes data loading and evaluation. Test accuracy is
measured once per run, after training.

Goal (issue #2): 99.0% within 30 s of training, 99.5% within 3 minutes, on a 2-core CPU.

With ``--processes 1,2`` it measures instead how training throughput scales with
torchrun (DDP, gloo on CPU): one epoch on ``--limit`` images per world size, the
cores shared equally between the processes, images/s for all processes and per
process, and the effective batch (per-process batch x processes).

Usage:  python benchmarks/bench_train.py [--budgets 0.5,1,2,4] [--data-dir DIR] [--seed 0]
        python benchmarks/bench_train.py --processes 1,2 [--limit 20000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from digit_recognizer.training.config import TrainConfig
from digit_recognizer.training.loop import accuracy, load_data, train


def run_budget(epochs: float, data_dir: str | None, seed: int) -> tuple[float, float, float]:
    """Train for ``epochs`` passes over 60,000 images; returns (seconds, images/s, test accuracy)."""
    whole = max(1, math.ceil(epochs))
    limit = None if epochs >= 1 else int(60_000 * epochs)
    cfg = TrainConfig(epochs=whole, val_size=0, limit=limit, seed=seed)
    result: dict[str, float] = {}

    def measure(epoch: int, model: torch.nn.Module, row: dict[str, float]) -> None:
        result["seconds"] = row["elapsed_train_seconds"]
        result["rate"] = row["images_per_s"]
        if epoch == whole - 1:
            result["acc"] = accuracy(model, test, torch.device("cpu"))

    _, _, test, _ = load_data(cfg, data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, data_dir=data_dir, out=Path(tmp), export=False, on_epoch_end=measure)
    return result["seconds"], result["rate"], result["acc"]


def scaling_worker(limit: int, data_dir: str | None) -> None:
    """One process of a torchrun world: one epoch, no export; rank 0 prints the epoch's row as JSON."""
    cfg = TrainConfig(epochs=1, val_size=0, limit=limit)
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, data_dir=data_dir, out=Path(tmp) / "run", export=False, on_epoch_end=lambda e, m, r: rows.append(r))
    if rows:  # rank 0 only
        print("ROW " + json.dumps(rows[-1]))


def run_scaling(worlds: list[int], limit: int, data_dir: str | None) -> None:
    cores = os.cpu_count() or 1
    print(
        f"\ntraining throughput with torchrun (DDP, gloo): CPU {platform.processor() or platform.machine()}, "
        f"{cores} cores shared equally, torch {torch.__version__}, one epoch on {limit:,} images, batch 128 per process"
    )
    print(f"{'processes':>9}{'threads each':>14}{'images/s':>10}{'per process':>13}{'effective batch':>17}{'ratio':>7}")
    base = None
    for n in worlds:
        threads = max(1, cores // n)
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}"]
        cmd = [*launcher, __file__, "--worker", "--limit", str(limit)] + (["--data-dir", data_dir] if data_dir else [])
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        row = json.loads(next(line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")))
        rate = row["images_per_s"]
        base = base or rate
        per = row.get("images_per_s_per_process", rate)
        print(f"{n:>9}{threads:>14}{rate:>10.0f}{per:>13.0f}{128 * n:>17}{rate / base:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", default="0.5,1,2,4", help="epochs per run, comma-separated (default 0.5,1,2,4)")
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: $DIGITS_DATA_DIR or the cache)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", default=None, help="measure DDP scaling for these world sizes, e.g. 1,2")
    parser.add_argument("--limit", type=int, default=20_000, help="images per scaling run (default 20,000)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        scaling_worker(args.limit, args.data_dir)
        return
    if args.processes:
        run_scaling([int(n) for n in args.processes.split(",")], args.limit, args.data_dir)
        return

    rows = []
    for budget in (float(b) for b in args.budgets.split(",")):
        seconds, rate, acc = run_budget(budget, args.data_dir, args.seed)
        rows.append((budget, seconds, rate, acc))

    print(
        f"\ntraining speed, default recipe: CPU {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), seed {args.seed}"
    )
    print(f"{'epochs':>7}{'train s':>10}{'images/s':>10}{'test acc':>10}")
    for budget, seconds, rate, acc in rows:
        print(f"{budget:>7g}{seconds:>10.1f}{rate:>10.0f}{acc:>10.2%}")
    for target in (0.99, 0.995):
        reached = [seconds for _, seconds, _, acc in rows if acc >= target]
        verdict = f"{min(reached):.1f} s" if reached else "not reached within the budgets run"
        print(f"time to {target:.1%} test accuracy: {verdict}")


if __name__ == "__main__":
    main()
