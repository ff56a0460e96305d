"""In-memory images handed to worker processes through shared memory instead of pickles.

``predict_batch`` of canvases used to pickle every 300x300 array through a pipe to a
worker process and unpickle it there (180 MB for 2,000 canvases, copied several times
on the way). Here the parent copies the arrays once into one shared-memory block, and a
worker gets only the block's name and where each of its arrays lies, and copies its
share out. Measured on 2 cores with 2,000 distinct canvases and jobs=2 (issue 21):
1,466-1,568 images/s against 1,318-1,450 pickled, one core reading 966-1,035.

Anything that is not a plain numeric array (paths, bytes, PIL images) is handed over as
it is, and so is everything when shared memory is short: Docker gives a container 64 MB
of ``/dev/shm`` by default, and writing past it kills the process (SIGBUS), so a block
is made only when it takes at most a quarter of the room left.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from multiprocessing import shared_memory  # imported when first used: 10-25 ms of every start-up

ALIGN = 64  # each array starts on a cache line
SHARE_OF_FREE_ROOM = 0.25  # a block takes at most this share of the free shared memory


@dataclass(frozen=True)
class SharedArrays:
    """Where a worker finds its arrays: the block's name and each array's (offset, shape, dtype)."""

    block: str
    layout: tuple[tuple[int, tuple[int, ...], str], ...]


class Handoff:
    """A batch of images as worker processes should receive them; ``close`` frees the shared block.

    ``part(start, stop)`` is what to send for images[start:stop]: a SharedArrays when
    the batch went into shared memory, else the images themselves.
    """

    def __init__(self, images: Sequence[Any]) -> None:
        self.images = images
        self._block: shared_memory.SharedMemory | None = None
        self._layout: list[tuple[int, tuple[int, ...], str]] = []
        if images and all(_plain_array(image) for image in images):
            self._share(images)

    def part(self, start: int, stop: int) -> Sequence[Any] | SharedArrays:
        if self._block is None:
            return self.images[start:stop]
        return SharedArrays(self._block.name, tuple(self._layout[start:stop]))

    @property
    def shared(self) -> bool:
        return self._block is not None

    def close(self) -> None:
        if self._block is not None:
            self._block.close()
            self._block.unlink()
            self._block = None

    def __enter__(self) -> Handoff:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _share(self, images: Sequence[np.ndarray]) -> None:
        offset = 0
        for image in images:
            self._layout.append((offset, image.shape, image.dtype.str))
            offset += -(-image.nbytes // ALIGN) * ALIGN
        if not offset or not _room_for(offset):
            self._layout = []
            return
        from multiprocessing import shared_memory

        self._block = shared_memory.SharedMemory(create=True, size=offset)
        for image, (start, shape, dtype) in zip(images, self._layout, strict=True):
            np.ndarray(shape, dtype, buffer=self._block.buf, offset=start)[...] = image


def read_shared(part: SharedArrays) -> list[np.ndarray]:
    """In a worker: copies of its arrays (copies, so that the block can be closed at once)."""
    from multiprocessing import shared_memory

    block = shared_memory.SharedMemory(name=part.block)
    try:
        return [np.ndarray(shape, dtype, buffer=block.buf, offset=start).copy() for start, shape, dtype in part.layout]
    finally:
        block.close()


def _plain_array(image: Any) -> bool:
    return isinstance(image, np.ndarray) and image.dtype.kind in "biuf" and image.size > 0


def _room_for(size: int) -> bool:
    """True when a block of ``size`` bytes fits comfortably in the free shared memory (Linux's /dev/shm)."""
    if not sys.platform.startswith("linux"):
        return False  # elsewhere the limit cannot be read: pickling is slower but always safe
    try:
        info = os.statvfs("/dev/shm")
    except OSError:
        return False
    return size <= SHARE_OF_FREE_ROOM * info.f_bavail * info.f_frsize
