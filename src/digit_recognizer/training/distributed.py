"""Training on several processes or machines with PyTorch's own engine: torchrun and DDP.

``torchrun`` starts one process per GPU (or per share of the CPU cores) and tells each
its RANK, WORLD_SIZE and LOCAL_RANK. Every process holds the data in memory and trains
on its own shard; DistributedDataParallel averages the gradients, so all processes
hold the same weights after every step. Rank 0 alone prints, checkpoints and exports.
Started without torchrun, this is a world of one and nothing here costs anything.

The backend follows the device: gloo on CPU, nccl on GPUs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from .config import TrainingError

T = TypeVar("T")
S = TypeVar("S")


@dataclass(frozen=True)
class World:
    """Where this process stands among those training together."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0  # rank on this machine: which GPU to use
    backend: str | None = None  # "gloo" | "nccl"; None for a single process

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def describe(self) -> str:
        """The start-up block's line, e.g. 'distributed: 2 processes (world size 2), gloo'."""
        if not self.distributed:
            return "single process (start with torchrun --nproc-per-node N to train on several)"
        return f"distributed: {self.size} processes (world size {self.size}), {self.backend}"

    def place(self, device: torch.device) -> torch.device:
        """Each process on a machine gets its own GPU: cuda:LOCAL_RANK."""
        if device.type == "cuda" and self.distributed:
            return torch.device("cuda", self.local_rank)
        return device

    # ----------------------------------------------------------------------- work split between ranks

    def shard(self, split: S) -> S:
        """This rank's share of a split (a dataclass of tensors, one row per image).

        Shards are interleaved and of equal length (up to world size - 1 images are left
        out), so every rank runs the same number of steps: DDP needs that, or it hangs.
        """
        if not self.distributed:
            return split
        n = len(split)  # type: ignore[arg-type]
        idx = torch.arange(self.rank, n - n % self.size, self.size)
        parts = {
            f.name: getattr(split, f.name)[idx]
            for f in dataclasses.fields(split)  # type: ignore[arg-type]
            if isinstance(getattr(split, f.name), torch.Tensor)
        }
        return dataclasses.replace(split, **parts)  # type: ignore[type-var]

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """DDP around the model when training on several processes (gradients averaged across ranks)."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    def on_main(self, work: Callable[[], T]) -> T:
        """Run ``work`` on rank 0 only and give its result (or its one-line error) to every rank.

        So a refusal on rank 0 (the run folder is locked, the disk is full) stops every
        rank with that message printed once, instead of leaving the others waiting.
        """
        result: Any = None
        error: str | None = None
        if self.is_main:
            try:
                result = work()
            except TrainingError as exc:
                error = str(exc)
        if self.distributed:
            box = [result, error]
            dist.broadcast_object_list(box, src=0)
            result, error = box
        if error is not None:
            if self.is_main:
                raise TrainingError(error)
            raise SystemExit(2)  # rank 0 has said why
        return result

    def combine(self, row: dict[str, Any], device: torch.device) -> dict[str, Any]:
        """One epoch's figures for the whole world: mean loss and accuracy, summed throughput."""
        if not self.distributed:
            return row
        on = device if self.backend == "nccl" else torch.device("cpu")
        sums = torch.tensor([row["train_loss"], row["train_acc"], row["images_per_s"]], dtype=torch.float64, device=on)
        slowest = torch.tensor([row["seconds"]], dtype=torch.float64, device=on)
        dist.all_reduce(sums)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        loss, acc, rate = (float(v) for v in sums.cpu())
        return row | {
            "train_loss": loss / self.size,
            "train_acc": acc / self.size,
            "seconds": float(slowest.item()),
            "images_per_s": rate,
            "images_per_s_per_process": rate / self.size,
            "processes": self.size,
        }

    @contextlib.contextmanager
    def quiet_unless_main(self) -> Iterator[None]:
        """Progress bars and prints of ranks other than 0 go nowhere: one process speaks for all."""
        if self.is_main:
            yield
            return
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield


def wants_cuda(device: str) -> bool:
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


@contextlib.contextmanager
def world(device: str) -> Iterator[World]:
    """Join the process group torchrun describes in the environment (or none), and leave it at the end.

    Ctrl+C reaches every process of a terminal's foreground group, and torchrun forwards
    the signal it gets (SIGINT or SIGTERM). The first becomes KeyboardInterrupt here, and a rank whose peer has already
    stopped reports that in one line instead of a traceback from the backend.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        yield World()
        return
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if wants_cuda(device) else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend)
    stopping = _StopFlag()
    here = World(rank, size, local_rank, backend)
    with stopping.installed():  # until the group is left: torchrun may forward a second signal meanwhile
        try:
            yield here
        except TrainingError:
            if here.is_main:
                raise
            raise SystemExit(2) from None  # every rank found the same problem; rank 0 says it once
        except RuntimeError as exc:  # torch.distributed.DistError is a RuntimeError too
            if not _peer_went_away(exc):
                raise
            if stopping.requested:
                raise SystemExit(130) from None
            raise TrainingError(
                f"process {rank} of {size} stopped: another training process stopped first (see its message above)"
            ) from None
        finally:
            with contextlib.suppress(Exception):
                dist.destroy_process_group()


class _StopFlag:
    """Remembers that Ctrl+C or SIGTERM arrived, so a failed collective afterwards reads as a stop."""

    def __init__(self) -> None:
        self.requested = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            return  # already stopping (Ctrl+C reaches us directly and again through torchrun)
        self.requested = True
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self._handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _peer_went_away(exc: RuntimeError) -> bool:
    text = str(exc).lower()
    return isinstance(exc, dist.DistError) or any(
        s in text for s in ("connection closed", "connection reset", "broken pipe")
    )
