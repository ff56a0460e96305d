"""The `digits` command: help, exit codes, and messages a person can act on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from digit_recognizer._extras import MissingExtra, require
from digit_recognizer.cli import main
from drawing import draw

VERBS = ["data", "train", "evaluate", "predict", "draw", "serve"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert all(verb in out for verb in VERBS)


@pytest.mark.parametrize("verb", VERBS)
def test_each_verb_explains_its_options_and_defaults(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([verb, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "usage: digits " + verb in out and "--help" in out
    if verb in ("train", "serve"):
        assert "(default:" in out


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run([sys.executable, "-m", "digit_recognizer", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "digit-recognizer" in result.stdout


def test_data_without_files_or_network_names_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "data", "--data-dir", str(tmp_path), "--no-download")
    assert code == 2
    assert err.startswith("error: MNIST files not found") and "--data-dir" in err and "Traceback" not in err


def test_data_verifies_real_mnist(mnist_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "data", "--data-dir", str(mnist_dir))
    assert code == 0 and "sha256 verified" in out and "10000 images" in out


def test_evaluate_with_a_missing_model_says_what_to_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evaluate", "--model", str(tmp_path / "nope.onnx"), "--images", str(tmp_path))
    assert code == 2 and "nope.onnx not found" in err


@pytest.mark.slow
def test_evaluate_json_reports_the_shipped_model_on_mnist(mnist_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evaluate", "--data-dir", str(mnist_dir), "--json")
    report = json.loads(out)
    assert code == 0 and report["n"] == 10_000 and report["accuracy"] >= 0.996
    assert len(report["precision"]) == 10 and len(report["confusion"]) == 10 and 0 <= report["ece"] < 0.05


def test_evaluate_reads_a_folder_of_labelled_drawings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for digit in range(10):
        (tmp_path / "mine" / str(digit)).mkdir(parents=True)
        draw(str(digit)).save(tmp_path / "mine" / str(digit) / "a.png")
    Image.new("L", (50, 50), 255).save(tmp_path / "mine" / "3" / "blank.png")
    code, out, _ = run(
        capsys, "evaluate", "--images", str(tmp_path / "mine"), "--json", "--report", str(tmp_path / "report")
    )
    report = json.loads(out)
    assert code == 0 and report["n"] == 11 and report["no_digit"] == 1
    assert report["accuracy"] == pytest.approx(10 / 11)
    assert (tmp_path / "report" / "confusion.png").is_file() and (tmp_path / "report" / "report.json").is_file()


def test_evaluate_on_an_empty_folder_explains_the_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evaluate", "--images", str(tmp_path))
    assert code == 2 and "subfolder named after its digit" in err


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    draw("7").save(folder / "b_seven.png")
    draw("3", dark_on_light=False).save(folder / "a_three.jpg")
    Image.new("L", (200, 200), 255).save(folder / "c_blank.png")
    (folder / "notes.txt").write_text("not an image, and not picked up from a folder")
    return folder


def test_predict_folder_prints_a_table_sorted_by_name(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "predict", str(images))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split()[:3] == ["path", "digit", "confidence"]
    assert [Path(line.split()[0]).name for line in lines[1:]] == ["a_three.jpg", "b_seven.png", "c_blank.png"]
    assert lines[1].split()[1] == "3" and lines[2].split()[1] == "7" and "no digit" in lines[3]


def test_predict_json_reports_each_file_and_exit_1_when_one_fails(
    images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "predict", "--json", str(images / "b_seven.png"), str(images / "notes.txt"), str(images / "c_blank.png")
    )
    seven, notes, blank = (json.loads(line) for line in out.splitlines())
    assert code == 1
    assert seven["digit"] == 7 and len(seven["probabilities"]) == 10 and set(seven) >= {"path", "confidence"}
    assert notes["path"].endswith("notes.txt") and "not an image" in notes["error"]
    assert blank["digit"] is None and "blank" in blank["reason"]


def test_predict_multi_reads_a_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draw("1984", size=(800, 300), box=(40, 40, 760, 260)).save(tmp_path / "year.png")
    code, out, _ = run(capsys, "predict", "--multi", "--json", str(tmp_path / "year.png"))
    result = json.loads(out)
    assert code == 0 and result["number"] == "1984"
    assert [d["digit"] for d in result["digits"]] == [1, 9, 8, 4] and len(result["digits"][0]["box"]) == 4


def test_predict_with_no_images_found_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "predict", str(tmp_path))
    assert code == 1 and "no image files found" in err


@pytest.mark.parametrize("argv", [["train", "--epochs", "0"], ["predict", "x.png", "--top-k", "11"]])
def test_out_of_range_options_are_refused_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert "must be" in str(exited.value.code) + capsys.readouterr().err  # argparse's error, or ours


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from digit_recognizer import _extras

    monkeypatch.setitem(_extras.EXTRAS, "a_module_that_does_not_exist", "web")
    with pytest.raises(MissingExtra, match=r"digits serve needs .* -m pip install .*\[web\]"):
        require("a_module_that_does_not_exist", "digits serve")


WITHOUT_FASTAPI = "import sys; sys.modules['fastapi'] = None; from digit_recognizer.cli import main; sys.exit(main())"


def test_a_missing_extra_leads_with_the_install_that_works_from_this_checkout() -> None:
    """This copy is an editable install of the checkout: the hint installs the extra from it, into this Python."""
    done = subprocess.run([sys.executable, "-c", WITHOUT_FASTAPI, "serve"], capture_output=True, text=True)
    checkout = Path(__file__).resolve().parents[1]
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert f"{sys.executable} -m pip install -e '{checkout}[web]'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (None, ["'digit-recognizer[web]'"]),  # from PyPI or another index
        ({"url": "file:///home/me/dist/digit_recognizer-0.1.0-py3-none-any.whl", "archive_info": {}},
         ["'/home/me/dist/digit_recognizer-0.1.0-py3-none-any.whl[web]'"]),
        ({"url": "https://github.com/me/digits.git", "vcs_info": {"vcs": "git", "commit_id": "abc"}},
         ["'digit-recognizer[web] @ git+https://github.com/me/digits.git'"]),
        ({"url": "file:///home/me/my%20digits", "dir_info": {}}, ["'/home/me/my digits[web]'"]),
        ({"url": "file:///home/me/digits", "dir_info": {"editable": True}}, ["-e", "'/home/me/digits[web]'"]),
    ],
)  # fmt: skip
def test_the_install_hint_follows_where_the_package_came_from(
    record: dict[str, object] | None, expected: list[str]
) -> None:
    from digit_recognizer._extras import install_target

    assert install_target("web", record) == expected


@pytest.mark.parametrize("verb", [*VERBS, "adapt"])
def test_help_names_each_option_default_once_and_never_a_raw_none(verb: str) -> None:
    done = digits_process(verb, "--help", env={"COLUMNS": "400"})  # one line per option
    assert done.returncode == 0
    options = [line for line in done.stdout.decode().splitlines() if line.lstrip().startswith("--")]
    assert options
    for line in options:
        assert line.count("default") <= 1, line
        for raw in ("(default: None)", "(default: [])", "(default: ())", "(default: True)", "(default: False)"):
            assert raw not in line, line


def test_json_multi_leaves_out_the_one_digit_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draw("2025", size=(800, 300), box=(40, 40, 760, 260)).save(tmp_path / "year.png")
    draw("7").save(tmp_path / "seven.png")
    for name in ("year.png", "seven.png"):  # a one-digit number too: it is still a number's answer
        code, out, _ = run(capsys, "predict", "--multi", "--json", str(tmp_path / name))
        result = json.loads(out)
        assert code == 0 and set(result) == {"path", "number", "confidence", "unsure", "digits", "ignored"}
        assert all(set(d) == {"digit", "confidence", "probabilities", "box"} for d in result["digits"])


def test_every_json_multi_field_is_documented_on_the_cli_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    Image.new("L", (300, 200), 255).save(tmp_path / "blank.png")
    draw("2025", size=(800, 300), box=(40, 40, 760, 260)).save(tmp_path / "year.png")
    _, out, _ = run(capsys, "predict", "--multi", "--json", str(tmp_path / "year.png"), str(tmp_path / "blank.png"))
    fields = {key for line in out.splitlines() for key in json.loads(line)}
    assert {"reason", "number", "digits"} <= fields
    for field in fields | {"digit", "probabilities", "box"}:
        assert f'`"{field}"`' in page, field


@pytest.mark.slow
def test_mnist_test_set_as_png_files_scores_within_0_1_point(
    mnist_test, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    from digit_recognizer import Recognizer

    for i, image in enumerate(mnist_test.images):
        Image.fromarray(image).save(tmp_path / f"{i:05d}.png")
    code, out, _ = run(capsys, "predict", "--json", str(tmp_path))
    read = [json.loads(line)["digit"] for line in out.splitlines()]
    through_files = sum(r == label for r, label in zip(read, mnist_test.labels, strict=True)) / len(read)
    direct = Recognizer.load().probabilities(mnist_test.images / 255.0).argmax(1)
    direct_accuracy = float((direct == mnist_test.labels).mean())
    assert code == 0 and len(read) == 10_000
    assert through_files >= direct_accuracy - 0.001, f"{through_files:.4f} vs {direct_accuracy:.4f} on the arrays"


@pytest.mark.parametrize("verb", ["data", "evaluate"])
def test_a_data_folder_that_is_a_file_is_one_error_line(
    verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mnist").write_text("a file where the folder should be")
    code, _, err = run(capsys, verb, "--data-dir", str(tmp_path / "mnist"))
    assert code == 2 and err.startswith("error: The MNIST data folder") and "is a file, not a folder" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("verb", ["data", "evaluate"])
def test_a_default_cache_that_cannot_be_created_is_one_error_line(
    verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "home").write_text("")  # a home whose .cache cannot be made: like a read-only home
    monkeypatch.delenv("DIGITS_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    code, _, err = run(capsys, verb)
    assert code == 2 and "Cannot write the MNIST data folder" in err and "--data-dir" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# --------------------------------------------------------------------------- predict: hostile paths


def digits_process(
    *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`python -m digit_recognizer ...` as a separate process (a real terminal's encoding, a real hang)."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "digit_recognizer", *argv],
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_predict_reports_an_unreadable_folder_and_goes_on(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]  # root ignores chmod: refuse as the kernel would
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = run(capsys, "predict", "--json", str(locked), str(images))
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and "Traceback" not in err
    assert results[0] == {"path": str(locked), "error": "cannot read this folder (Permission denied)"}
    assert [r.get("digit") for r in results[1:]] == [3, 7, None]


def test_predict_a_file_name_that_is_not_utf8_on_a_strict_terminal(images: Path) -> None:
    import os

    folder = os.fsencode(images)
    (Path(os.fsdecode(folder + b"/bad-\xff-name.png"))).write_bytes((images / "b_seven.png").read_bytes())
    for env in ({"PYTHONIOENCODING": "utf-8:strict"}, {"PYTHONIOENCODING": "ascii:strict"}):
        result = digits_process("predict", str(images), env=env)
        out = result.stdout.decode()
        assert result.returncode == 1 and b"Traceback" not in result.stderr, result.stderr
        bad = next(line for line in out.splitlines() if "bad-" in line)
        assert "bad-\\xff-name.png" in bad and "not valid UTF-8" in bad
        assert len(out.splitlines()) == 5  # header, a_three, b_seven, bad name, c_blank: nothing lost


def test_predict_refuses_a_fifo_instead_of_hanging(images: Path) -> None:
    import os

    os.mkfifo(images / "pipe.png")
    result = digits_process("predict", "--json", str(images / "pipe.png"), str(images / "b_seven.png"))
    pipe, seven = (json.loads(line) for line in result.stdout.decode().splitlines())
    assert result.returncode == 1 and "not a regular file" in pipe["error"] and seven["digit"] == 7
    listed = digits_process("predict", "--json", str(images))  # in a folder too: a row, not a hang
    rows = {Path(r["path"]).name: r for r in map(json.loads, listed.stdout.decode().splitlines())}
    assert "not a regular file" in rows["pipe.png"]["error"] and rows["b_seven.png"]["digit"] == 7
    assert listed.returncode == 1


def test_predict_ignores_nan_pixels_in_a_float_tiff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    seven = np.asarray(draw("7"), dtype=np.float32) / 255
    seven[3, 3] = np.nan
    Image.fromarray(seven, mode="F").save(tmp_path / "seven.tif")
    code, out, _ = run(capsys, "predict", "--json", str(tmp_path / "seven.tif"))
    assert code == 0 and json.loads(out)["digit"] == 7


def test_predict_with_jobs_gives_the_same_table(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, one, _ = run(capsys, "predict", "--jobs", "1", str(images))
    _, two, _ = run(capsys, "predict", "--jobs", "2", str(images))
    assert one == two and len(one.splitlines()) == 4


def test_predict_shows_no_progress_bar_when_piped(images: Path) -> None:
    result = digits_process("predict", str(images))
    assert result.returncode == 0 and result.stderr == b""


def test_predict_with_a_five_class_model_is_one_error_line(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_recognizer import tiny_model

    code, out, err = run(capsys, "predict", "--model", str(tiny_model(tmp_path / "five.onnx", classes=5)), str(images))
    assert code == 2 and out == "" and err.count("\n") == 1 and "gives 5 scores per image" in err


def test_predict_shows_a_progress_bar_on_a_terminal(images: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()  # stderr is a terminal of 100 columns; stdout stays a pipe
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "digit_recognizer", "predict", "--json", str(images)],
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=120,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal is closed once everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3  # results untouched by the bar
    assert b" images [" in shown and b"images/s]" in shown
