"""Kills during training, at every file replacement point, found systematically rather than at random.

An uninterrupted run is recorded first: every ``os.replace`` the trainer makes (each
one is the moment a file on disk changes) is a point. Then, for each point k and for
both sides of it (just before the rename and just after), a run is "killed" there:
``os.replace`` raises an exception nothing in the trainer catches, so no code of the
run executes afterwards, like SIGKILL (except that Python unwinds: the lock is let go
and temporary files are tidied, which a real kill leaves to the next run, which does both).
The user's recovery follows: ``--resume last.pt`` when it exists, else the same
command again. The row says whether that recovery worked, whether the final model
equals the uninterrupted run's bit for bit, and whether metrics.json and the model
card agree with the exported weights.

Usage:  python benchmarks/reliability_training.py [--plots]   (a tiny fake MNIST, 15-90 s)
As a library:  kill_at_every_replacement_point(workdir) -> list[KillRow]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import write_tiny_mnist
from digit_recognizer.training import loop
from digit_recognizer.training.config import ModelConfig, TrainConfig

TIMING_FIELDS = {"seconds", "images_per_s", "images_per_s_per_process", "elapsed_train_seconds"}


class Killed(BaseException):
    """Raised at the chosen replacement point; a BaseException so no `except Exception` in the trainer stops it."""


@dataclass
class KillRow:
    point: int  # 1-based index of the os.replace call
    side: str  # "before" the rename happened, or "after" it
    file: str  # the file being replaced
    resumed_ok: bool  # the recovery command finished without an error
    model_matches: bool  # last.pt, best.pt weights and model.onnx equal the uninterrupted run's
    files_agree: bool  # metrics.json equals the uninterrupted history; the card describes the model beside it
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.resumed_ok and self.model_matches and self.files_agree


def tiny_config() -> TrainConfig:
    """Two epochs of a small net on a few hundred images: seconds per run, every file written."""
    small = ModelConfig(c1=4, c2=8, c3=8, classes=10)
    return TrainConfig(epochs=2, batch_size=32, limit=256, val_size=64, threads=1, unipen=False, junk=0, model=small)


def kill_at_every_replacement_point(
    workdir: Path, cfg: TrainConfig | None = None, plots: bool = False
) -> list[KillRow]:
    """Run the experiment in ``workdir`` (fake MNIST is written there); one row per (point, side).

    ``plots=False`` skips the report plots (90% of a tiny run's time); they are drawn
    after the model card and are not part of the training state.
    """
    cfg = cfg or tiny_config()
    write_tiny_mnist(workdir / "mnist", n_train=400, n_test=64)
    data_dir = str(workdir / "mnist")
    reference = workdir / "reference"
    with contextlib.ExitStack() as stack:
        if not plots:
            stack.enter_context(mock.patch("digit_recognizer.evaluation.write_report", lambda *a, **k: []))
        points = _record_replacements(lambda: _quiet_train(cfg, data_dir, out=reference))
        rows = []
        for k, target in enumerate(points, start=1):
            for side in ("before", "after"):
                run_dir = workdir / f"kill{k}-{side}"
                rows.append(_kill_and_recover(cfg, data_dir, run_dir, k, side, target.name, reference))
    return rows


def _kill_and_recover(
    cfg: TrainConfig, data_dir: str, run_dir: Path, k: int, side: str, name: str, reference: Path
) -> KillRow:
    row = KillRow(k, side, name, resumed_ok=False, model_matches=False, files_agree=False)
    try:
        _with_kill_at(k, side, lambda: _quiet_train(cfg, data_dir, out=run_dir))
        row.detail = "the run was not killed: fewer replacements than recorded"
        return row
    except Killed:
        pass
    try:
        last = run_dir / "last.pt"
        _quiet_train(cfg, data_dir, out=run_dir, resume=last if last.exists() else None)
        row.resumed_ok = True
    except (Exception, SystemExit) as exc:
        row.detail = f"recovery failed: {type(exc).__name__}: {exc}"
        return row
    row.model_matches, why_model = _same_model(run_dir, reference)
    row.files_agree, why_files = _files_agree(run_dir, reference)
    row.detail = "; ".join(w for w in (why_model, why_files) if w)
    return row


def _quiet_train(cfg: TrainConfig, data_dir: str, out: Path, resume: Path | None = None) -> None:
    with open(os.devnull, "w") as sink, mock.patch("sys.stdout", sink), mock.patch("sys.stderr", sink):
        loop.train(cfg, data_dir=data_dir, out=out, resume=resume, command="reliability")


def _record_replacements(run: Callable[[], None]) -> list[Path]:
    real, seen = os.replace, []

    def recording(src: Any, dst: Any) -> None:
        seen.append(Path(dst))
        real(src, dst)

    with mock.patch("os.replace", recording):
        run()
    return seen


def _with_kill_at(k: int, side: str, run: Callable[[], None]) -> None:
    real, calls = os.replace, [0]

    def killing(src: Any, dst: Any) -> None:
        calls[0] += 1
        if calls[0] == k and side == "before":
            raise Killed
        real(src, dst)
        if calls[0] == k:
            raise Killed

    with mock.patch("os.replace", killing):
        run()


def _same_model(run_dir: Path, reference: Path) -> tuple[bool, str]:
    for name in ("last.pt", "best.pt"):
        got = torch.load(run_dir / name, weights_only=True)["model"]
        want = torch.load(reference / name, weights_only=True)["model"]
        if got.keys() != want.keys() or not all(torch.equal(got[key], want[key]) for key in want):
            return False, f"{name} weights differ from the uninterrupted run's"
    if _sha256(run_dir / "model.onnx") != _sha256(reference / "model.onnx"):
        return False, "model.onnx differs from the uninterrupted run's"
    return True, ""


def _files_agree(run_dir: Path, reference: Path) -> tuple[bool, str]:
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    want = json.loads((reference / "metrics.json").read_text())["history"]
    untimed = lambda rows: [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows]
    if untimed(history) != untimed(want):
        return False, "metrics.json differs from the uninterrupted run's history"
    card = json.loads((run_dir / "model.json").read_text())
    if card["file"]["sha256"] != _sha256(run_dir / "model.onnx"):
        return False, "the card describes another model.onnx"
    best = torch.load(run_dir / "best.pt", weights_only=True)
    if card["training"]["best_epoch"] != best["epoch"] or card["training"]["epochs_trained"] != len(history):
        return False, "the card's epochs disagree with best.pt / metrics.json"
    ref_card = json.loads((reference / "model.json").read_text())
    if card["metrics"] != ref_card["metrics"]:
        return False, "the card's metrics differ from the uninterrupted run's"
    return True, ""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    plots = "--plots" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        rows = kill_at_every_replacement_point(Path(tmp), plots=plots)
    print(
        f"kills during training at every file replacement point: CPU {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, tiny fake MNIST, 2 epochs"
    )
    print(f"{'point':>5}  {'side':<6}  {'file':<13}{'resumed':>8}{'model ==':>9}{'files ok':>9}  detail")
    for r in rows:
        print(
            f"{r.point:>5}  {r.side:<6}  {r.file:<13}{r.resumed_ok!s:>8}{r.model_matches!s:>9}{r.files_agree!s:>9}  "
            f"{r.detail}"
        )
    print(f"survived {sum(r.ok for r in rows)} of {len(rows)} kills ({len(rows) // 2} replacement points x 2 sides)")


if __name__ == "__main__":
    main()
