"""`digits adapt`: learning a person's handwriting from their corrections, and the apps using the result."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from digit_recognizer import unipen
from digit_recognizer.cli import main
from digit_recognizer.recognizer import Recognizer, shipped_model_path
from digit_recognizer.userdata import corrections_dir, personal_model_path, resolve_model


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def own_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty user data folder: no personal model unless it makes one."""
    home = tmp_path / "data-home"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv("DIGITS_CORRECTIONS_DIR", raising=False)
    return home


def save_corrections(root: Path, count: int, *, strokes: bool = True, first: int = 0) -> Path:
    """``count`` UNIPEN test-writer digits saved as the apps save a correction: canvas PNG (+ strokes)."""
    from digit_recognizer import synth

    samples = unipen.load(("test",)).samples[first : first + count]
    rng = np.random.default_rng(0)
    for n, sample in enumerate(samples):
        folder = root / str(sample.label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(synth.canvas(sample.strokes, rng)).save(folder / f"2026-{n:04d}.png")
        if strokes:
            (folder / f"2026-{n:04d}.ndjson").write_text(sample.to_json() + "\n")
    return root


# --------------------------------------------------------------------------- resolving the model (no torch)


def test_without_a_personal_model_the_apps_use_the_shipped_one() -> None:
    assert resolve_model(None) == (shipped_model_path(), "shipped model")


def test_a_personal_model_is_used_by_default_and_said_so(tmp_path: Path) -> None:
    personal = personal_model_path()
    personal.parent.mkdir(parents=True)
    personal.write_bytes(b"onnx")
    card = {"adapted": {"corrections": 120, "date": "2026-11-21T15:00:00+00:00"}}
    personal.with_suffix(".json").write_text(json.dumps(card))
    path, description = resolve_model(None)
    assert path == personal
    assert "personal model" in description and "120 corrections on 2026-11-21" in description


def test_model_shipped_skips_the_personal_model_and_a_path_is_taken_as_given(tmp_path: Path) -> None:
    personal_model_path().parent.mkdir(parents=True)
    personal_model_path().write_bytes(b"onnx")
    assert resolve_model("shipped")[0] == shipped_model_path()
    assert resolve_model(str(tmp_path / "m.onnx"))[0] == tmp_path / "m.onnx"


def test_corrections_and_personal_model_live_in_the_xdg_data_folder(own_data_home: Path) -> None:
    assert corrections_dir() == own_data_home / "digit-recognizer" / "corrections"
    assert personal_model_path() == own_data_home / "digit-recognizer" / "personal" / "model.onnx"
    assert corrections_dir({"DIGITS_CORRECTIONS_DIR": "/x/y"}) == Path("/x/y")


@pytest.mark.parametrize("verb", ["draw", "serve"])
def test_apps_are_given_the_personal_model_unless_asked_for_the_shipped_one(
    verb: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("fastapi")
    seen: list[Any] = []
    module = "digit_recognizer.desktop" if verb == "draw" else "digit_recognizer.web.server"
    monkeypatch.setattr(f"{module}.run", lambda model=None, **kw: seen.append(model) or 0)
    personal_model_path().parent.mkdir(parents=True)
    personal_model_path().write_bytes(b"onnx")

    code, _, err = run(capsys, verb)
    assert code == 0 and seen[-1] == str(personal_model_path())
    assert "using your personal model" in err
    code, _, err = run(capsys, verb, "--model", "shipped")
    assert code == 0 and seen[-1] is None and "personal" not in err  # None: the shipped model, as before


def test_predict_reads_with_the_personal_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A personal model that is not a usable model proves predict loaded it rather than the shipped one."""
    personal_model_path().parent.mkdir(parents=True)
    personal_model_path().write_bytes(b"not onnx")
    Image.new("L", (50, 50), 255).save(tmp_path / "a.png")
    code, _, err = run(capsys, "predict", str(tmp_path / "a.png"))
    assert code == 2 and str(personal_model_path()) in err
    code, _, _ = run(capsys, "predict", "--model", "shipped", str(tmp_path / "a.png"))
    assert code != 2


# --------------------------------------------------------------------------- refusals


def test_without_torch_adapt_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    code, _, err = run(capsys, "adapt")
    assert code == 2
    assert "-m pip install" in err and "[train]'" in err and len(err.strip().splitlines()) == 1


torch = pytest.importorskip("torch", reason="adapting needs the [train] extra")

from digit_recognizer.training import adapt as adapting  # noqa: E402
from digit_recognizer.training.config import MIN_CORRECTIONS, AdaptConfig, ModelConfig, TrainConfig  # noqa: E402
from digit_recognizer.training.loop import train  # noqa: E402


def test_too_few_corrections_are_refused_with_the_minimum(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = save_corrections(tmp_path / "c", MIN_CORRECTIONS - 1)
    code, _, err = run(capsys, "adapt", "--corrections", str(folder))
    assert code == 2
    assert f"holds {MIN_CORRECTIONS - 1} correction(s)" in err and f"at least {MIN_CORRECTIONS}" in err


def test_a_missing_folder_is_refused_with_the_expected_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "adapt", "--corrections", str(tmp_path / "nowhere"))
    assert code == 2 and "is not a folder" in err and "subfolders 0 to 9" in err


def test_a_folder_without_digit_subfolders_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "holiday").mkdir()
    (tmp_path / "holiday" / "a.png").write_bytes(b"")
    code, _, err = run(capsys, "adapt", "--corrections", str(tmp_path))
    assert code == 2 and "has no subfolders 0 to 9" in err


def test_a_model_without_its_weights_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = save_corrections(tmp_path / "c", MIN_CORRECTIONS)
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    code, _, err = run(capsys, "adapt", "--corrections", str(folder), "--model", str(tmp_path / "m.onnx"))
    assert code == 2 and f"{tmp_path / 'm.pt'} not found" in err and len(err.strip().splitlines()) == 1


def test_files_that_are_not_images_and_stray_folders_are_skipped_with_a_note(tmp_path: Path) -> None:
    folder = save_corrections(tmp_path / "c", 12)
    (folder / "3" / "notes.txt").write_text("hello")
    (folder / "misc").mkdir()
    (folder / "1" / "bad.png").write_bytes(b"x")
    (folder / "1" / "bad.ndjson").write_text("{not json\n")
    found = adapting.read_corrections(folder)
    assert len(found.items) == 13  # 12 saved + bad.png (an image by name; its picture is checked later)
    notes = " | ".join(found.notes)
    assert "notes.txt" in notes and "misc" in notes and "bad.png" in notes
    assert sum(c.strokes is not None for c in found.items) == 12


def test_a_fixed_fifth_of_each_digit_is_kept_aside(tmp_path: Path) -> None:
    items = [adapting.Correction(tmp_path / f"{d}-{n}.png", d) for d in (1, 7) for n in range(10)]
    items += [adapting.Correction(tmp_path / "4-0.png", 4), adapting.Correction(tmp_path / "4-1.png", 4)]
    learn, held = adapting.holdout_split(items)
    assert sorted(c.label for c in held) == [1, 1, 7, 7]  # a fifth of 10; none of a digit seen only twice
    assert {c.image for c in learn} | {c.image for c in held} == {c.image for c in items}
    assert adapting.holdout_split(list(reversed(items)))[1] == held  # the same, whatever the order found


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """A small 11-class model trained in seconds, with its model.pt."""
    cfg = TrainConfig(
        epochs=1,
        limit=1024,
        val_size=256,
        unipen=False,
        junk=200,
        threads=2,
        model=ModelConfig(c1=8, c2=16, c3=16, classes=11),
    )
    run_dir = train(cfg, data_dir=str(mnist_dir), out=tmp_path_factory.mktemp("tiny"), command="test")
    return run_dir / "model.onnx"


@pytest.fixture
def quick_adapt(monkeypatch: pytest.MonkeyPatch) -> None:
    """`digits adapt` with small replay and validation sets, so a test runs in seconds."""
    small = functools.partial(
        AdaptConfig, replay_mnist=1000, replay_unipen_limit=100, replay_junk=50, validation_limit=100, redraws=2
    )
    monkeypatch.setattr("digit_recognizer.training.config.AdaptConfig", small)


@pytest.mark.slow
@pytest.mark.usefixtures("quick_adapt")
def test_adapt_writes_a_personal_model_the_apps_then_use(
    tiny_model: Path, mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = save_corrections(tmp_path / "c", 30)
    (folder / "0" / "readme.txt").write_text("not an image")
    code, out, err = run(
        capsys, "adapt", "--corrections", str(folder), "--model", str(tiny_model),
        "--data-dir", str(mnist_dir), "--epochs", "1", "--threads", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "your kept-aside corrections" in out and "general validation" in out and "readme.txt" in out
    personal = personal_model_path()
    assert personal.is_file() and personal.with_suffix(".pt").is_file()
    card = json.loads(personal.with_suffix(".json").read_text())
    adapted = card["adapted"]
    assert adapted["base_model"]["path"] == str(tiny_model)
    assert adapted["corrections"] == 30 and sum(adapted["corrections_per_digit"].values()) == 30
    assert adapted["kept_aside"] >= 1 and adapted["date"].startswith("20")
    assert {"held_out", "general"} <= adapted["before"].keys() and adapted["after"]["general"] is not None
    assert card["output"]["temperature"] == card["calibration"]["temperature"] > 0
    assert not [p.name for p in personal.parent.iterdir() if "tmp" in p.name]

    recognizer = Recognizer.load(resolve_model(None)[0])
    assert recognizer.path == personal and recognizer.scores(np.zeros((2, 28, 28), np.float32)).shape == (2, 11)
    assert resolve_model(None)[1].startswith("your personal model (learned from 30 corrections")

    # and the personal model can itself be adapted further (its .pt is beside it)
    again = tmp_path / "again" / "model.onnx"
    code, _, err = run(
        capsys, "adapt", "--corrections", str(folder), "--model", str(personal), "--out", str(again),
        "--data-dir", str(mnist_dir), "--epochs", "1",
    )  # fmt: skip
    assert code == 0, err and again.is_file()


@pytest.mark.slow
def test_a_failed_write_keeps_the_previous_personal_model(tiny_model: Path, tmp_path: Path) -> None:
    from digit_recognizer.training.loop import load_weights

    out = tmp_path / "personal" / "model.onnx"
    out.parent.mkdir()
    for suffix, content in ((".onnx", b"old model"), (".json", b"{}"), (".pt", b"old weights")):
        out.with_suffix(suffix).write_bytes(content)
    model, cfg, _ = load_weights(tiny_model.with_suffix(".pt"))

    def broken_save(path: Path, *args: Any) -> None:
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(adapting, "save_weights", broken_save)
        with pytest.raises(OSError, match="disk full"):
            adapting.write_model(model, cfg, 1.2, out, np.zeros((4, 28, 28), np.uint8), {}, {}, tiny_model)
    assert out.read_bytes() == b"old model" and out.with_suffix(".pt").read_bytes() == b"old weights"
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.json", "model.onnx", "model.pt"]

    adapting.write_model(model, cfg, 1.2, out, np.zeros((4, 28, 28), np.uint8), {"n": 1}, {}, tiny_model)
    assert json.loads(out.with_suffix(".json").read_text())["adapted"] == {"n": 1}
    assert Recognizer.load(out).card["output"]["temperature"] == 1.2


def test_weights_that_are_not_from_digits_train_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = save_corrections(tmp_path / "c", MIN_CORRECTIONS)
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    (tmp_path / "m.pt").write_bytes(b"not torch")
    code, _, err = run(capsys, "adapt", "--corrections", str(folder), "--model", str(tmp_path / "m.onnx"))
    assert code == 2 and "is not usable weights" in err and len(err.strip().splitlines()) == 1
