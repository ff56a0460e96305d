"""In-memory images reach the worker processes through shared memory, and no block outlives its batch."""

from __future__ import annotations

from multiprocessing import shared_memory
from pathlib import Path

import numpy as np
import pytest

from digit_recognizer import handoff
from digit_recognizer.handoff import Handoff, SharedArrays, read_shared
from digit_recognizer.recognizer import Recognizer
from drawing import draw


def canvases(n: int) -> list[np.ndarray]:
    return [np.asarray(draw(str(i % 10))) for i in range(n)]


def block_exists(name: str) -> bool:
    try:
        shared_memory.SharedMemory(name=name).close()
    except FileNotFoundError:
        return False
    return True


def test_arrays_of_any_shape_and_type_come_out_as_they_went_in() -> None:
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 256, (300, 300), dtype=np.uint8),
        rng.random((17, 5, 3)).astype(np.float32),
        rng.random((3, 7)),
        rng.integers(0, 65535, (9, 9), dtype=np.uint16),
        np.ones((4, 4), dtype=bool),
    ]
    with Handoff(images) as batch:
        assert batch.shared
        part = batch.part(1, 4)
        assert isinstance(part, SharedArrays) and len(part.layout) == 3
        for got, expected in zip(read_shared(batch.part(0, 5)), images, strict=True):
            assert got.dtype == expected.dtype and np.array_equal(got, expected)
        name = part.block
    assert not block_exists(name)  # closed means unlinked


def test_paths_and_pictures_are_handed_over_as_they_are(tmp_path: Path) -> None:
    mixed = [np.zeros((5, 5), dtype=np.uint8), tmp_path / "a.png", draw("3")]
    with Handoff(mixed) as batch:
        assert not batch.shared and batch.part(1, 3) == mixed[1:3]


def test_without_room_in_shared_memory_the_arrays_are_pickled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Docker's 64 MB /dev/shm: writing past it would kill the process, so nothing is written there."""
    monkeypatch.setattr(handoff, "SHARE_OF_FREE_ROOM", 0.0)
    images = canvases(3)
    with Handoff(images) as batch:
        assert not batch.shared and batch.part(0, 2) == images[:2]


def test_predict_batch_of_arrays_on_two_cores_answers_as_one_core_does(recognizer: Recognizer) -> None:
    images = canvases(100)
    assert [p.digit for p in recognizer.predict_batch(images, jobs=2)] == [i % 10 for i in range(100)]
    assert recognizer.predict_batch(images, jobs=2) == recognizer.predict_batch(images, jobs=1)


def test_a_stream_stopped_early_leaves_no_block_behind(recognizer: Recognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    share = Handoff._share

    def recording(self: Handoff, images: list[np.ndarray]) -> None:
        share(self, images)
        if self._block is not None:
            made.append(self._block.name)

    monkeypatch.setattr(Handoff, "_share", recording)
    stream = recognizer.predict_stream(iter([canvases(80) for _ in range(5)]), jobs=2)
    assert [p.digit for p in next(stream)] == [i % 10 for i in range(80)]
    stream.close()  # the caller stops: the batches already handed out are dropped
    assert len(made) >= 2 and not any(block_exists(name) for name in made)
