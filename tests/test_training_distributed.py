"""`torchrun -m digit_recognizer train`: two CPU processes (gloo) train one model; rank 0 alone speaks and writes.

These start real processes with torchrun on a tiny fake MNIST, so they stay in CI:
an uninterrupted run, a run stopped with Ctrl+C, and its resume, which must end on
the uninterrupted run's weights.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="training tests need the [train] extra")

from conftest import write_tiny_mnist  # noqa: E402
from digit_recognizer.training.distributed import World  # noqa: E402
from digit_recognizer.training.loop import Split  # noqa: E402

pytestmark = pytest.mark.slow

ARGS = ["--epochs", "3", "--batch-size", "16", "--val-size", "100", "--threads", "1", "--no-unipen", "--junk", "0"]


def torchrun(*args: str | Path) -> list[str]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    return [*launcher, "-m", "digit_recognizer", "train", *map(str, args)]


def readable(output: str) -> str:
    """The output without progress bars (tqdm redraws with carriage returns)."""
    return "\n".join(line for line in output.replace("\r", "\n").splitlines() if not line.startswith("epoch "))


def our_traceback(output: str) -> bool:
    """A traceback through digit_recognizer's code (torchrun's own report of a signal is not ours)."""
    return bool(re.search(r'File ".*digit_recognizer[/\\]', output))


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "last.pt", weights_only=True)["model"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mnist")
    write_tiny_mnist(folder, n_train=600, n_test=64)
    return folder


@pytest.fixture(scope="module")
def straight_run(fake_mnist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("ddp") / "straight"
    done = subprocess.run(
        torchrun("--data-dir", fake_mnist, "--out", out, *ARGS), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out, readable(done.stdout + done.stderr)


def test_two_processes_train_one_model_and_rank_0_alone_logs_and_writes(straight_run: tuple[Path, str]) -> None:
    run, output = straight_run
    assert output.count("distributed: 2 processes (world size 2), gloo") == 1
    assert output.count("digits train: training") == 1 and output.count("test accuracy") == 1
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3] and all(h["processes"] == 2 for h in history)
    assert history[0]["images_per_s"] == pytest.approx(2 * history[0]["images_per_s_per_process"])
    card = json.loads((run / "model.json").read_text())
    assert card["training"]["train_images"] == 500  # every image, split between the two ranks
    assert (run / "model.onnx").is_file() and not our_traceback(output)


def test_ctrl_c_stops_every_rank_and_resume_under_torchrun_ends_on_the_same_model(
    straight_run: tuple[Path, str], fake_mnist: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cut"
    started = subprocess.Popen(
        torchrun("--data-dir", fake_mnist, "--out", out, *ARGS),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    deadline = time.monotonic() + 240
    while not (out / "last.pt").exists() and started.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(started.pid, signal.SIGINT)  # what Ctrl+C does: every process of the job gets SIGINT
    output = readable(started.communicate(timeout=120)[0])
    assert started.returncode != 0
    assert output.count("Interrupted.") == 1 and "--resume" in output
    assert not our_traceback(output), output

    resumed = subprocess.run(
        torchrun("--resume", out / "last.pt", "--data-dir", fake_mnist), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    straight, _ = straight_run
    want, got = weights(straight), weights(out)
    assert all(torch.equal(got[name], want[name]) for name in want)
    assert (out / "model.onnx").is_file()


def test_each_rank_trains_on_its_own_equal_shard() -> None:
    split = Split(torch.arange(11).view(11, 1, 1, 1).to(torch.uint8), torch.arange(11))
    shards = [World(rank=r, size=3, backend="gloo").shard(split) for r in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]  # equal steps on every rank, or DDP would hang
    seen = torch.cat([s.y for s in shards])
    assert len(set(seen.tolist())) == 9
    assert all(torch.equal(s.x.view(-1).long(), s.y) for s in shards)  # images stay with their labels
