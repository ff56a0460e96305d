"""`digits train`: it learns, it resumes exactly, its ONNX export matches PyTorch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training tests need the [train] extra")

from digit_recognizer.training.augment import augment  # noqa: E402
from digit_recognizer.training.config import AugmentConfig, ModelConfig, TrainConfig  # noqa: E402
from digit_recognizer.training.export import PARITY_TOLERANCE, export_onnx  # noqa: E402
from digit_recognizer.training.loop import train  # noqa: E402
from digit_recognizer.training.model import DigitNet  # noqa: E402

pytestmark = pytest.mark.slow


def quick_config(**overrides: Any) -> TrainConfig:
    small = ModelConfig(c1=16, c2=32, c3=64)
    return TrainConfig(**{"epochs": 2, "limit": 3000, "val_size": 1000, "threads": 2, "model": small, **overrides})


def test_short_run_on_real_images_learns_far_above_chance(mnist_dir: Path, tmp_path: Path) -> None:
    run = train(quick_config(), data_dir=str(mnist_dir), out=tmp_path / "run", command="test")
    card = json.loads((run / "model.json").read_text())
    assert card["metrics"]["test_accuracy"] > 0.85  # chance is 0.10
    assert card["export"]["parity_max_abs_diff"] < PARITY_TOLERANCE
    assert card["training"]["data_sha256"]["t10k-images-idx3-ubyte"].startswith("0fa7898d")
    for name in ("best.pt", "last.pt", "metrics.json", "model.onnx", "curves.png", "confusion.png", "mistakes.png"):
        assert (run / name).is_file(), name
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2] and all("val_acc" in h for h in history)


def test_interrupted_run_resumes_to_the_same_result(mnist_dir: Path, tmp_path: Path) -> None:
    cfg = quick_config(limit=1024, val_size=512)
    straight = train(cfg, data_dir=str(mnist_dir), out=tmp_path / "straight", export=False)

    def interrupt_after_first_epoch(epoch: int, model: Any, row: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stopped:
        train(
            cfg, data_dir=str(mnist_dir), out=tmp_path / "cut", export=False, on_epoch_end=interrupt_after_first_epoch
        )
    assert stopped.value.code == 130
    assert json.loads((tmp_path / "cut" / "metrics.json").read_text())["history"][-1]["epoch"] == 1

    resumed = train(cfg, data_dir=str(mnist_dir), resume=tmp_path / "cut" / "last.pt", export=False)
    assert resumed == tmp_path / "cut"
    expected = json.loads((straight / "metrics.json").read_text())["history"]
    got = json.loads((resumed / "metrics.json").read_text())["history"]
    assert [h["train_loss"] for h in got] == pytest.approx([h["train_loss"] for h in expected], rel=1e-5)
    assert [h["val_acc"] for h in got] == [h["val_acc"] for h in expected]


def test_checkpoints_load_without_unpickling_objects(mnist_dir: Path, tmp_path: Path) -> None:
    run = train(quick_config(epochs=1, limit=512, val_size=256), data_dir=str(mnist_dir), out=tmp_path, export=False)
    state = torch.load(run / "last.pt", weights_only=True)
    assert TrainConfig.from_dict(json.loads(state["config"])).limit == 512


def test_onnx_export_matches_pytorch_within_tolerance(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = DigitNet(ModelConfig(c1=8, c2=16, c3=16))
    for module in model.modules():  # non-trivial batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    sample = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    card = export_onnx(model, tmp_path / "m.onnx", sample)
    assert card["export"]["parity_max_abs_diff"] < PARITY_TOLERANCE
    assert card["parameters"] == sum(p.numel() for p in model.parameters())
    assert len(card["file"]["sha256"]) == 64


def test_augmentation_keeps_shape_and_range_and_is_seeded() -> None:
    x = torch.zeros(32, 1, 28, 28)
    x[:, :, 6:22, 12:16] = 1.0  # a bar: a "1"
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a, b = augment(x, AugmentConfig(), g1), augment(x, AugmentConfig(), g2)
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a[0], a[1])  # every image gets its own distortion
    ink = a.sum((1, 2, 3)).numpy()
    assert np.all(ink > 0.2 * float(x[0].sum()))  # distorted, never erased


def test_train_into_a_log_file_writes_a_line_per_epoch_and_no_progress_bars(mnist_dir: Path, tmp_path: Path) -> None:
    """`digits train > log 2>&1`: what a person reads later, not a bar redrawn hundreds of times."""
    import os
    import subprocess
    import sys

    log = tmp_path / "train.log"
    command = [sys.executable, "-m", "digit_recognizer", "train", "--dry-run", "--no-unipen", "--junk", "0"]
    command += ["--data-dir", str(mnist_dir), "--out", str(tmp_path / "run"), "--threads", "2"]
    with log.open("wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=600, env=dict(os.environ))
    text = log.read_text()
    assert done.returncode == 0, text
    assert "\r" not in text and "batch/s" not in text and "it/s" not in text  # tqdm's redraws and rates
    [epoch_line] = [line for line in text.splitlines() if line.startswith("epoch ")]
    assert epoch_line.startswith("epoch 1/1  loss ") and "images/s" in epoch_line
