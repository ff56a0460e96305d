"""The run folder on disk: each epoch committed as one file, checked on resume, guarded by a lock.

Why one file: the trainer used to replace last.pt, best.pt and metrics.json one after
another, and a kill between two of them left a newer card beside an older model. Now
``last.pt`` alone is the truth. It holds the weights, optimizer, schedule, history and
the best epoch's weights, and it is replaced atomically (temporary file, fsync,
os.replace). ``best.pt`` and ``metrics.json`` are derived from it after each commit and
derived again on resume, so after a kill at any point they agree with ``last.pt``.

Everything is plain tensors and JSON strings: loadable with ``weights_only=True``,
nothing is unpickled.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import filelock
import torch

from .config import TrainConfig, TrainingError
from .model import DigitNet

STATE_FORMAT = "digits-train-state/2"
BEST_FORMAT = "digits-best-weights/2"
LAST, BEST, METRICS, LOCK = "last.pt", "best.pt", "metrics.json", ".lock"


class DiskFull(TrainingError):
    """No space left where the run folder is; the file being written was removed."""


@dataclass
class EpochState:
    """Everything needed to continue a run after its last completed epoch."""

    config: TrainConfig
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    history: list[dict[str, Any]]  # one row per completed epoch
    best_model: dict[str, torch.Tensor]  # weights of the best epoch so far (the last one without validation)
    best_epoch: int  # 1-based
    best_val: float  # its validation accuracy; -1 without validation
    world_size: int = 1  # processes that trained it: the shard, and so the schedule, depend on it

    @property
    def epoch(self) -> int:
        return len(self.history)

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "model": self.model,
            "optimizer": self.optimizer,
            "scheduler": self.scheduler,
            "config": json.dumps(self.config.to_dict()),
            "history": json.dumps(self.history),
            "epoch": self.epoch,
            "best_model": self.best_model,
            "best_epoch": self.best_epoch,
            "best_val": self.best_val,
            "world_size": self.world_size,
        }


# --------------------------------------------------------------------------- writing


def commit_epoch(run_dir: Path, state: EpochState) -> None:
    """Make ``state`` the run's state in one atomic step, then refresh the files derived from it."""
    try:
        atomic_write(run_dir / LAST, _to_bytes(state.to_payload()))
    except DiskFull as exc:
        saved = f"the last good epoch is in {run_dir / LAST}" if (run_dir / LAST).exists() else "nothing is saved yet"
        raise DiskFull(f"{exc}: epoch {state.epoch} was not saved, {saved}; free some space, then resume") from None
    write_derived_files(run_dir, state)


def write_derived_files(run_dir: Path, state: EpochState) -> None:
    """best.pt (the best epoch's weights, what gets exported) and metrics.json, both from ``state``."""
    best = {
        "format": BEST_FORMAT,
        "model": state.best_model,
        "epoch": state.best_epoch,
        "best_val": state.best_val,
        "config": json.dumps(state.config.to_dict()),
    }
    atomic_write(run_dir / BEST, _to_bytes(best))
    write_json(run_dir / METRICS, {"config": state.config.to_dict(), "history": state.history})


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2).encode())


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a reader (or a resume after a kill) sees the old or the new file.

    A full disk is reported as ``DiskFull`` naming the folder; the partial temporary
    file is removed either way, so a failed write leaves nothing behind.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            _write_all(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(f"no space left on device in {path.parent}") from None
        raise
    _fsync_dir(path.parent)


def _write_all(fh: IO[bytes], data: bytes) -> None:
    fh.write(data)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _to_bytes(payload: dict[str, Any]) -> bytes:
    # Serialized in memory so that a full disk shows up as OSError(ENOSPC) from a plain write,
    # not as an opaque error from inside torch's zip writer.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- reading


def refused_load(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, as one line.

    PyTorch's own message for a file holding Python objects advises retrying with
    ``weights_only=False``, which would run whatever code the file carries: that advice
    is never passed on.
    """
    if isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc):
        return "it holds Python objects, not only tensors, and was not loaded: loading it could run code"
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def load_state(path: Path) -> EpochState:
    """Read and check a run's ``last.pt``: format, config, history and weight shapes, before any data is read."""
    if not path.is_file():
        raise TrainingError(f"checkpoint {path} not found; resume from a run's last.pt, e.g. runs/train/exp/last.pt")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a zip, a pickle with objects, ...
        raise TrainingError(f"{path} is not a readable digits training checkpoint ({refused_load(exc)})") from None
    if not isinstance(raw, dict):
        raise TrainingError(f"{path} is not a digits training checkpoint")
    state = _state_from_payload(raw, path)
    check_weights(state, path)
    return state


def _state_from_payload(raw: dict[str, Any], path: Path) -> EpochState:
    kind = raw.get("format")
    if kind == BEST_FORMAT:
        raise TrainingError(f"{path} holds only the best epoch's weights; resume from {path.with_name(LAST)}")
    if kind != STATE_FORMAT:
        which = f"format {kind!r}" if kind else "an older format, without the best epoch's weights"
        raise TrainingError(
            f"{path} was written by another version of digit-recognizer ({which}; this version reads "
            f"{STATE_FORMAT!r}); start a new run, or resume it with the version that wrote it"
        )
    try:
        config = TrainConfig.from_dict(json.loads(raw["config"]))
        history = json.loads(raw["history"])
        state = EpochState(
            config=config,
            model=raw["model"],
            optimizer=raw["optimizer"],
            scheduler=raw["scheduler"],
            history=history,
            best_model=raw["best_model"],
            best_epoch=int(raw["best_epoch"]),
            best_val=float(raw["best_val"]),
            world_size=int(raw["world_size"]),
        )
    except TrainingError as exc:
        raise TrainingError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainingError(f"{path} is damaged or incomplete ({type(exc).__name__}: {exc})") from None
    epochs = [row.get("epoch") if isinstance(row, dict) else None for row in history]
    if epochs != list(range(1, len(history) + 1)) or raw.get("epoch") != len(history):
        raise TrainingError(f"{path} is damaged: its history does not match its epoch count")
    if not 1 <= len(history) <= config.epochs or not 1 <= state.best_epoch <= len(history):
        raise TrainingError(f"{path} is damaged: epoch {len(history)} of {config.epochs}, best {state.best_epoch}")
    return state


def check_weights(state: EpochState, path: Path) -> None:
    """Both sets of weights must fit the network the checkpoint's own config describes."""
    net = DigitNet(state.config.model)
    for name, weights in (("weights", state.model), ("best weights", state.best_model)):
        try:
            net.load_state_dict(weights)
        except Exception as exc:  # RuntimeError: size mismatch / missing keys; TypeError: not a mapping
            first = str(exc).strip().splitlines()
            detail = (first[1] if len(first) > 1 else first[0]).strip() if first else type(exc).__name__
            raise TrainingError(f"{path}: the {name} do not fit the model in its config ({detail[:200]})") from None


# --------------------------------------------------------------------------- the folder


@contextmanager
def claim_run_dir(run_dir: Path) -> Iterator[Path]:
    """Hold the run folder for this process: a second `digits train` on it refuses instead of racing.

    The lock is an OS file lock (flock), so it is released when the process ends, even
    when killed. Temporary files a killed run left behind are removed once it is held.
    """
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrainingError(f"cannot create the run folder {run_dir} ({exc.strerror}); choose another --out") from None
    lock = filelock.FileLock(run_dir / LOCK, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise TrainingError(
            f"{run_dir} is in use by another digits train; wait for it to finish, or choose another --out"
        ) from None
    except OSError as exc:
        raise TrainingError(f"cannot lock the run folder {run_dir} ({exc.strerror})") from None
    try:
        for leftover in run_dir.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        yield run_dir
    finally:
        lock.release()


def next_run_dir(root: Path) -> Path:
    """runs/train/exp, exp2, exp3, ... : the first name not taken, created here so two runs never pick the same."""
    for n in range(1, 10_000):
        candidate = root / ("exp" if n == 1 else f"exp{n}")
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as exc:
            raise TrainingError(f"cannot create {candidate} ({exc.strerror}); choose a folder with --out") from None
        return candidate
    raise TrainingError(f"{root} has 10,000 runs; clean it up or choose a folder with --out")
