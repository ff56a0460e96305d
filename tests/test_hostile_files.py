"""Hostile files through the library and the command line (issue 19): refused in one line, the others go on.

Every hostile input is made here by tests/hostile_files.py; the server's side is in
test_web_attacks.py and test_web_corrections.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from PIL import IcoImagePlugin, Image

import hostile_files as hostile
from digit_recognizer.cli import main
from digit_recognizer.imagefile import ALLOWED_FORMATS, ImageError, open_image, read_capped, read_file
from digit_recognizer.ink import InkFormatError, parse_sample, read_ndjson
from digit_recognizer.predict import predict_files, printable
from digit_recognizer.preprocess import open_image as open_for_preprocessing
from digit_recognizer.recognizer import Recognizer
from digit_recognizer.web.limits import check_pixels
from drawing import draw
from test_cli import digits_process


def png_of_seven() -> bytes:
    buffer = io.BytesIO()
    draw("7").save(buffer, "PNG")
    return buffer.getvalue()


def fake_ghostscript(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PATH whose `gs` leaves a mark when run: the proof that Ghostscript was (not) started."""
    bin_dir, mark = tmp_path / "bin", tmp_path / "gs-was-run"
    bin_dir.mkdir()
    for name in ("gs", "gswin64c", "gswin32c"):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\ntouch {mark}\nsleep 30\n")
        script.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, mark


# --------------------------------------------------------------------------- formats (item 1)


@pytest.mark.parametrize("make", [hostile.looping_eps, hostile.failing_eps], ids=["looping", "failing"])
def test_an_eps_file_is_refused_without_running_ghostscript(make: object, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_programs(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a program was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_programs)
    data = make()  # type: ignore[operator]
    with pytest.raises(ImageError, match="EPS format .*Ghostscript") as refused:
        open_image(data)
    assert "\n" not in str(refused.value)


def test_digits_predict_refuses_an_eps_named_png_without_starting_ghostscript(tmp_path: Path) -> None:
    env, mark = fake_ghostscript(tmp_path)
    (tmp_path / "loop.png").write_bytes(hostile.looping_eps())
    result = digits_process("predict", str(tmp_path / "loop.png"), env=env)
    assert result.returncode == 1 and b"EPS format" in result.stdout and b"Traceback" not in result.stderr
    assert not mark.exists()


def test_the_library_the_cli_and_the_server_read_through_one_allow_list() -> None:
    assert open_for_preprocessing is open_image
    assert set(ALLOWED_FORMATS) >= {"PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"}
    assert not set(ALLOWED_FORMATS) & {"EPS", "PDF", "ICO", "BLP", "AVIF"}
    with pytest.raises(ImageError, match="EPS format"):
        check_pixels(hostile.looping_eps())


def test_every_allowed_format_is_still_read(recognizer: Recognizer) -> None:
    for name in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM"):
        buffer = io.BytesIO()
        draw("7").convert("RGB").save(buffer, name)
        assert recognizer.predict(buffer.getvalue()).digit == 7, name


# --------------------------------------------------------------------------- decoder failures (items 2, 3)


@pytest.mark.parametrize("name", sorted(hostile.DECODER_FAILURES))
def test_a_file_no_decoder_can_read_is_one_image_error_or_an_answer(name: str, recognizer: Recognizer) -> None:
    data = hostile.DECODER_FAILURES[name]()
    try:
        found = recognizer.predict(data)
    except ImageError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert found.digit is None or 0 <= found.digit <= 9


def test_an_ico_is_refused_by_its_header_without_decoding_the_png_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*args: object) -> None:
        raise AssertionError("the icon's PNG was decoded")

    monkeypatch.setattr(IcoImagePlugin.IcoFile, "frame", no_decoding)
    with pytest.raises(ImageError, match="ICO format"):
        check_pixels(hostile.ico_wrapping_png(12000))


@pytest.mark.parametrize("multi", [False, True], ids=["digits", "multi"])
def test_predict_gives_each_unreadable_file_a_row_and_reads_the_others(tmp_path: Path, multi: bool) -> None:
    for i, make in enumerate(hostile.DECODER_FAILURES.values()):
        (tmp_path / f"{i}.png").write_bytes(make())
    (tmp_path / "z_seven.png").write_bytes(png_of_seven())
    out = io.StringIO()
    code = predict_files([tmp_path], as_json=True, multi=multi, jobs=1, progress=False, out=out)
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.getvalue().splitlines())}
    assert len(rows) == len(hostile.DECODER_FAILURES) + 1 and code == 1
    seven = rows["z_seven.png"]
    assert (seven["number"] == "7") if multi else (seven["digit"] == 7)
    assert all("error" in rows[f"{i}.png"] for i in range(1, len(hostile.DECODER_FAILURES)))


# --------------------------------------------------------------------------- evaluate --images (item 8)


def test_evaluate_lists_unreadable_files_and_does_not_count_them_as_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "3").mkdir()
    (tmp_path / "7").mkdir()
    (tmp_path / "3" / "empty.png").write_bytes(b"")
    (tmp_path / "3" / "text.png").write_bytes(hostile.text_named_png())
    (tmp_path / "7" / "seven.png").write_bytes(png_of_seven())
    code = main(["evaluate", "--images", str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 1 and report["n"] == 1 and report["accuracy"] == 1.0 and report["no_digit"] == 0
    assert [u["path"].rsplit("/", 1)[1] for u in report["unreadable"]] == ["empty.png", "text.png"]
    assert err.count("error: ") == 2 and "Traceback" not in err


# --------------------------------------------------------------------------- adapt's strokes (item 7)


def test_strokes_nested_too_deeply_are_one_format_error_not_a_recursion_error(tmp_path: Path) -> None:
    with pytest.raises(InkFormatError, match="nested too deeply"):
        parse_sample(hostile.deeply_nested_json())
    path = tmp_path / "strokes.ndjson"
    path.write_text(hostile.deeply_nested_json() + "\n")
    with pytest.raises(InkFormatError, match=r"strokes.ndjson:1: the JSON is nested too deeply"):
        list(read_ndjson(path))


# --------------------------------------------------------------------------- folders and names (item 10)


def test_entries_of_a_folder_that_are_not_image_files_each_get_a_row(tmp_path: Path) -> None:
    (tmp_path / "a_seven.png").write_bytes(png_of_seven())
    os.mkfifo(tmp_path / "fifo.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    (tmp_path / "device.png").symlink_to("/dev/null")
    (tmp_path / "sub").mkdir()
    (tmp_path / "notes.txt").write_text("left out silently")
    out = io.StringIO()
    code = predict_files([tmp_path], as_json=True, jobs=1, progress=False, out=out)
    rows = {Path(r["path"]).name: r.get("error", r.get("digit")) for r in map(json.loads, out.getvalue().splitlines())}
    assert code == 1 and rows.pop("a_seven.png") == 7 and "notes.txt" not in rows
    assert "broken symbolic link" in rows["dangling.png"] and "loops" in rows["loop.png"]
    assert "not a regular file" in rows["fifo.png"] and "not a regular file" in rows["device.png"]
    assert "folder inside the folder" in rows["sub"]


def test_a_file_is_read_whole_and_a_path_with_a_nul_byte_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "seven.png").write_bytes(png_of_seven())
    assert read_file(tmp_path / "seven.png") == png_of_seven()
    with pytest.raises(ImageError, match="cannot read"):
        read_file(str(tmp_path / "seven\0.png"))
    with pytest.raises(ImageError, match="is a directory"):
        read_file(tmp_path)


class Endless(io.RawIOBase):
    """A stream that never ends (a server that keeps sending), counting what it was asked for."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        return b"x" * size


def test_a_stream_is_read_up_to_one_byte_past_the_limit_in_bounded_reads() -> None:
    stream = Endless()
    data = read_capped(stream, limit=3_000_000)
    assert len(data) == 3_000_001  # one more than the limit: the caller says "too large"
    assert max(stream.asked) <= 1 << 20  # never one read (and one allocation) the size of the limit
    assert read_capped(io.BytesIO(b"small"), limit=3_000_000) == b"small"


def test_file_names_cannot_forge_rows_or_drive_the_terminal(tmp_path: Path) -> None:
    name = "a\nforged row\r\x1b[31mred\u202e.png"
    (tmp_path / name).write_bytes(png_of_seven())
    out = io.StringIO()
    predict_files([tmp_path], jobs=1, progress=False, out=out)
    _header, row = out.getvalue().splitlines()
    assert "\x1b" not in row and "\r" not in row and "\u202e" not in row
    assert re.search(r"a\\nforged row\\r\\x1b\[31mred\\u202e\.png +7 ", row), row
    assert printable("plain-name.png") == "plain-name.png"


def test_a_caller_s_own_pil_image_is_still_read(recognizer: Recognizer) -> None:
    assert recognizer.predict(Image.open(io.BytesIO(png_of_seven()))).digit == 7


class _RunsCode:
    """Unpickling this calls print: what a malicious checkpoint would do with os.system."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("this ran while loading",))


def test_a_pt_holding_python_objects_is_refused_without_advice_to_unpickle_it(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from digit_recognizer.training.checkpoint import load_state
    from digit_recognizer.training.config import TrainingError

    path = tmp_path / "last.pt"
    torch.save({"format": _RunsCode()}, path)
    with pytest.raises(TrainingError) as refused:
        load_state(path)
    message = str(refused.value)
    assert "holds Python objects" in message and "weights_only" not in message and "\n" not in message
