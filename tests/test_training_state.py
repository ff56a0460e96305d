"""Training state under faults: kills at every replacement point, a full disk, bad checkpoints and values.

Each failure must leave a resumable run and end in one `error:` line, never a traceback.
"""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import IO, Any

import pytest

torch = pytest.importorskip("torch", reason="training tests need the [train] extra")

from conftest import REPO, write_tiny_mnist  # noqa: E402
from digit_recognizer import cli  # noqa: E402
from digit_recognizer.training import checkpoint, loop  # noqa: E402
from digit_recognizer.training.config import ModelConfig, TrainConfig, TrainingError  # noqa: E402
from digit_recognizer.training.precision import Autocast, autocast_dtype, with_precision  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from reliability_training import kill_at_every_replacement_point  # noqa: E402

pytestmark = pytest.mark.slow

TINY = ["--epochs", "2", "--batch-size", "32", "--val-size", "64", "--limit", "256", "--threads", "1"]


@pytest.fixture
def fake_mnist(tmp_path: Path) -> Path:
    write_tiny_mnist(tmp_path / "mnist", n_train=400, n_test=64)
    return tmp_path / "mnist"


@pytest.fixture
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's plots take most of a tiny run's time and are not training state."""
    monkeypatch.setattr("digit_recognizer.evaluation.write_report", lambda *a, **k: [])


def digits_train(*args: str | Path) -> int:
    """`digits train` on MNIST alone (UNIPEN and junk rendering would dwarf a tiny run)."""
    return cli.main(["train", "--no-unipen", "--junk", "0", *map(str, args)])


def one_error_line(captured: Any) -> str:
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert "Traceback" not in captured.err
    return lines[-1]


def small_state(tmp_path: Path, fake_mnist: Path) -> Path:
    """A real one-epoch run's last.pt, to be tampered with."""
    args = ["--epochs", "1", "--batch-size", "32", "--val-size", "64", "--limit", "256", "--threads", "1"]
    assert digits_train("--data-dir", fake_mnist, "--out", tmp_path / "run", *args) == 0
    return tmp_path / "run" / "last.pt"


def rewrite(path: Path, **changes: Any) -> None:
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)


# --------------------------------------------------------------------------- kills


def test_a_kill_at_any_file_replacement_resumes_to_the_uninterrupted_model(tmp_path: Path) -> None:
    rows = kill_at_every_replacement_point(tmp_path)
    files = {row.file for row in rows}
    assert files == {"config.json", "last.pt", "best.pt", "metrics.json", "model.pt", "model.json"}
    assert len(rows) == 2 * 9  # config, 3 files per epoch x 2 epochs, the weights, the card: before and after each
    failed = [f"{r.point} {r.side} {r.file}: {r.detail}" for r in rows if not r.ok]
    assert not failed


def test_epoch_state_is_one_file_and_the_others_are_derived_from_it(
    tmp_path: Path, fake_mnist: Path, no_plots: None
) -> None:
    assert digits_train("--data-dir", fake_mnist, "--out", tmp_path / "run", *TINY) == 0
    state = checkpoint.load_state(tmp_path / "run" / "last.pt")
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["history"] == state.history
    assert best["epoch"] == state.best_epoch
    assert all(torch.equal(best["model"][k], state.best_model[k]) for k in state.best_model)
    assert not list((tmp_path / "run").glob("*.tmp")) and not list((tmp_path / "run").glob(".*.tmp"))


# --------------------------------------------------------------------------- a full disk


def test_full_disk_says_where_removes_the_partial_file_and_keeps_the_last_good_epoch(
    tmp_path: Path, fake_mnist: Path, no_plots: None, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    real_write, last_writes = checkpoint._write_all, []

    def fills_up_on_second_epoch(fh: IO[bytes], data: bytes) -> None:
        if fh.name.endswith(".last.pt.tmp"):
            last_writes.append(fh.name)
            if len(last_writes) == 2:
                fh.write(data[: len(data) // 2])  # a partial file on the full disk
                raise OSError(errno.ENOSPC, "No space left on device")
        real_write(fh, data)

    monkeypatch.setattr(checkpoint, "_write_all", fills_up_on_second_epoch)
    run = tmp_path / "run"
    assert digits_train("--data-dir", fake_mnist, "--out", run, *TINY) == 2
    line = one_error_line(capsys.readouterr())
    assert line.startswith(f"error: no space left on device in {run}")
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    assert checkpoint.load_state(run / "last.pt").epoch == 1

    monkeypatch.setattr(checkpoint, "_write_all", real_write)  # space freed
    assert digits_train("--resume", run / "last.pt", "--data-dir", fake_mnist) == 0
    assert checkpoint.load_state(run / "last.pt").epoch == 2
    assert (run / "model.onnx").is_file()


# --------------------------------------------------------------------------- bad checkpoints, before data


def test_resume_of_a_checkpoint_from_another_version_is_one_line(
    tmp_path: Path, fake_mnist: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = small_state(tmp_path, fake_mnist)
    config = json.loads(torch.load(last, weights_only=True)["config"])
    rewrite(last, config=json.dumps({**config, "warmup_epochs": 2}))
    monkeypatch.setattr(loop, "load_data", lambda *a: pytest.fail("data read before the checkpoint was checked"))
    capsys.readouterr()
    assert digits_train("--resume", last) == 2
    assert "unknown config key 'warmup_epochs'" in one_error_line(capsys.readouterr())


def test_resume_with_weights_of_the_wrong_shape_fails_before_loading_data(
    tmp_path: Path, fake_mnist: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = small_state(tmp_path, fake_mnist)
    config = json.loads(torch.load(last, weights_only=True)["config"])
    config["model"]["c1"] = 48  # the saved weights have 32 channels
    rewrite(last, config=json.dumps(config))
    monkeypatch.setattr(loop, "load_data", lambda *a: pytest.fail("data read before the checkpoint was checked"))
    capsys.readouterr()
    assert digits_train("--resume", last) == 2
    line = one_error_line(capsys.readouterr())
    assert "do not fit the model in its config" in line and "size mismatch" in line


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("batch_size", 0, "batch size must be"), ("lr", float("nan"), "lr must be"), ("epochs", 0, "epochs must be")],
)
def test_resume_of_a_checkpoint_with_nonsense_values_is_one_line(
    tmp_path: Path, fake_mnist: Path, capsys: Any, key: str, value: Any, message: str
) -> None:
    last = small_state(tmp_path, fake_mnist)
    config = json.loads(torch.load(last, weights_only=True)["config"])
    rewrite(last, config=json.dumps({**config, key: value}))
    capsys.readouterr()
    assert digits_train("--resume", last) == 2
    assert message in one_error_line(capsys.readouterr())


def test_resume_from_best_pt_or_a_damaged_file_says_what_to_do(tmp_path: Path, fake_mnist: Path, capsys: Any) -> None:
    last = small_state(tmp_path, fake_mnist)
    capsys.readouterr()
    assert digits_train("--resume", last.with_name("best.pt")) == 2
    assert "resume from" in one_error_line(capsys.readouterr())
    last.write_bytes(last.read_bytes()[:5000])  # truncated
    assert digits_train("--resume", last) == 2
    assert "not a readable digits training checkpoint" in one_error_line(capsys.readouterr())


# --------------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    "args",
    [
        ["--batch-size", "0"],
        ["--epochs", "0"],
        ["--lr", "nan"],
        ["--lr", "inf"],
        ["--lr", "-0.1"],
        ["--weight-decay", "-1"],
        ["--label-smoothing", "1"],
        ["--label-smoothing", "-0.1"],
        ["--val-size", "60000"],
        ["--limit", "0"],
    ],
)
def test_nonsense_values_are_refused_with_one_line_naming_the_flag(args: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as refused:
        digits_train(*args)
    assert refused.value.code == 2
    assert one_error_line(capsys.readouterr()).startswith(f"digits train: error: argument {args[0]}")


def test_limit_smaller_than_one_batch_is_one_line(capsys: Any) -> None:
    assert digits_train("--limit", "100", "--batch-size", "128") == 2
    assert "limit must be at least one batch" in one_error_line(capsys.readouterr())


@pytest.mark.parametrize(
    "bad",
    [
        {"batch_size": 0},
        {"epochs": 0},
        {"lr": float("nan")},
        {"lr": float("inf")},
        {"lr": -1e-3},
        {"weight_decay": -1.0},
        {"label_smoothing": 1.0},
        {"val_size": 60_000},
        {"limit": 10},
        {"device": "tpu"},
        {"precision": "fp8"},
        {"threads": 0},
    ],
)
def test_train_config_refuses_nonsense_in_one_place(bad: dict[str, Any]) -> None:
    with pytest.raises(TrainingError):
        TrainConfig(**bad)


def test_nested_config_values_are_checked_too() -> None:
    with pytest.raises(TrainingError, match=r"model\.c1"):
        TrainConfig.from_dict({**TrainConfig().to_dict(), "model": {**ModelConfig().__dict__, "c1": 0}})
    with pytest.raises(TrainingError, match=r"augmentation\.p_stroke"):
        TrainConfig.from_dict({**TrainConfig().to_dict(), "augmentation": {"p_stroke": 2.0}})


def test_too_few_images_for_one_batch_after_holding_out_validation(
    tmp_path: Path, fake_mnist: Path, capsys: Any
) -> None:
    # 400 images, 380 held out: 20 remain, less than one batch of 32
    assert (
        digits_train("--data-dir", fake_mnist, "--out", tmp_path / "r", "--val-size", "380", "--batch-size", "32") == 2
    )
    assert "less than one batch" in one_error_line(capsys.readouterr())


# --------------------------------------------------------------------------- the run folder


def test_a_second_run_on_the_same_folder_refuses_instead_of_racing(
    tmp_path: Path, fake_mnist: Path, capsys: Any
) -> None:
    run = tmp_path / "run"
    with checkpoint.claim_run_dir(run):  # the first run, still training
        assert digits_train("--data-dir", fake_mnist, "--out", run, *TINY) == 2
        assert "is in use by another digits train" in one_error_line(capsys.readouterr())
    with checkpoint.claim_run_dir(run):  # released when the first run ends
        pass


def test_new_runs_never_share_a_folder(tmp_path: Path) -> None:
    first, second = checkpoint.next_run_dir(tmp_path), checkpoint.next_run_dir(tmp_path)
    assert (first.name, second.name) == ("exp", "exp2") and first.is_dir() and second.is_dir()


# --------------------------------------------------------------------------- mixed precision


def test_auto_precision_is_float32_on_cpu_and_bf16_when_asked() -> None:
    net = torch.nn.Linear(4, 2)
    assert with_precision(net, "auto", torch.device("cpu")) is net
    assert autocast_dtype("fp32", torch.device("cuda")) is None
    assert autocast_dtype("bf16", torch.device("cpu")) == torch.bfloat16


def test_autocast_runs_the_network_in_bf16_and_hands_back_float32_logits() -> None:
    seen: list[torch.dtype] = []
    net = torch.nn.Linear(4, 2)
    net.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    logits = Autocast(net, torch.bfloat16)(torch.randn(3, 4))
    assert seen == [torch.bfloat16] and logits.dtype == torch.float32
    assert net.weight.dtype == torch.float32  # what is saved and exported stays float32


def test_training_with_bf16_autocast_saves_and_exports_float32_weights(
    tmp_path: Path, fake_mnist: Path, no_plots: None
) -> None:
    cfg = TrainConfig(epochs=1, batch_size=32, limit=128, val_size=0, threads=1, precision="bf16", unipen=False, junk=0)
    run = loop.train(cfg, data_dir=str(fake_mnist), out=tmp_path / "run", command="test")
    state = checkpoint.load_state(run / "last.pt")
    assert state.config.precision == "bf16"
    assert all(t.dtype in (torch.float32, torch.int64) for t in state.model.values())
    card = json.loads((run / "model.json").read_text())
    assert card["export"]["parity_max_abs_diff"] < 1e-5
