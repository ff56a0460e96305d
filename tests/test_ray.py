"""`digits predict --ray`: the same answers as `digits predict`, read on a local Ray cluster.

One local cluster (2 CPUs, loopback) serves the whole module; `digits predict --ray` run
in this process uses it, as any process already connected to Ray does. What must fail
fast (a missing extra, an address nobody answers) runs in a fresh process.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from digit_recognizer import bulk
from digit_recognizer.cli import main
from drawing import draw

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    """A local Ray cluster of 2 CPUs for this module, stopped after it."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Digits in both polarities and pens, a blank page, a damaged file, a note and a subfolder."""
    folder = tmp_path_factory.mktemp("images")
    for i, (digit, pen) in enumerate([("3", 18), ("7", 10), ("0", 28), ("4", 18), ("9", 14), ("1", 22)]):
        draw(digit, pen=pen, dark_on_light=i % 2 == 0).save(folder / f"{i}_{digit}.png")
    Image.new("L", (200, 200), 255).save(folder / "blank.png")
    (folder / "damaged.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not the rest of a PNG")
    (folder / "notes.txt").write_text("not an image: left out of a folder")
    (folder / "inner").mkdir()
    return folder


@pytest.fixture(scope="module")
def numbers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("numbers")
    for number in ("1984", "2025", "307"):
        draw(number, size=(800, 300), box=(40, 40, 760, 260)).save(folder / f"{number}.png")
    return folder


def digits(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["predict", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_the_answers_are_those_of_digits_predict(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(images), str(images / "1_7.png"), str(images / "missing.png")]
    expected_code, expected, _ = digits(capsys, "--json", *paths)
    code, out, err = digits(capsys, "--ray", "--json", *paths)
    assert json_lines(out) == json_lines(expected)
    assert code == expected_code == 1  # the damaged file, the subfolder and the missing file
    assert {r["digit"] for r in json_lines(out) if r.get("digit") is not None} == {0, 1, 3, 4, 7, 9}
    assert "ray: using this process's Ray connection (2 CPUs)" in err and "images/s" in err


def test_an_unreadable_file_gets_its_error_row_and_the_others_go_on(
    images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = digits(capsys, "--ray", "--json", str(images / "damaged.png"), str(images / "0_3.png"))
    damaged, three = json_lines(out)
    assert code == 1
    assert damaged["path"].endswith("damaged.png") and "damaged" in damaged["error"]
    assert three["digit"] == 3 and "error" not in three


@pytest.mark.parametrize("mode", [["--multi"], ["--digits", "4"]])
def test_numbers_are_those_of_digits_predict(
    numbers: Path, mode: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, expected, _ = digits(capsys, "--json", *mode, str(numbers))
    code, out, _ = digits(capsys, "--ray", "--json", *mode, str(numbers))
    assert code == 0 and json_lines(out) == json_lines(expected)
    if mode == ["--multi"]:
        assert [r["number"] for r in json_lines(out)] == ["1984", "2025", "307"]


def test_the_table_is_what_digits_predict_prints(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, expected, _ = digits(capsys, "--top-k", "4", str(images))
    _, out, _ = digits(capsys, "--ray", "--workers", "1", "--top-k", "4", str(images))
    assert out == expected and out.splitlines()[0].split()[:2] == ["path", "digit"]


def image_table(path: Path, images: Path, *, names: bool, row_group_size: int) -> list[Path]:
    """A Parquet table of the folder's digit images (bytes as in the files); returns the files, in row order."""
    files = sorted(images.glob("[0-9]_*.png"))
    columns = {"image": [f.read_bytes() for f in files]}
    if names:
        columns["path"] = [f"scan-{f.stem}" for f in files]
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return files


def test_a_parquet_table_in_gives_a_parquet_table_out(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "SLICE", 2)  # 6 rows in row groups of 4: slices cross no group, one is short
    files = image_table(tmp_path / "scans.parquet", images, names=True, row_group_size=4)
    _, expected, _ = digits(capsys, "--json", *map(str, files))
    code, out, err = digits(capsys, "--ray", str(tmp_path / "scans.parquet"), "--output", str(tmp_path / "out.parquet"))
    written = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert code == 0 and out == "" and f"results written to {tmp_path / 'out.parquet'}" in err
    assert [r["path"] for r in written] == [f"scan-{f.stem}" for f in files]
    answers = [{**json.loads(r["json"]), "path": None} for r in written]
    assert answers == [{**r, "path": None} for r in json_lines(expected)]
    assert [r["digit"] for r in written] == [json.loads(r["json"])["digit"] for r in written] == [3, 7, 0, 4, 9, 1]
    assert all(r["error"] is None and 0.5 < r["confidence"] <= 1 for r in written)


def test_rows_of_a_table_without_paths_are_named_by_position(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "SLICE", 4)
    image_table(tmp_path / "t.parquet", images, names=False, row_group_size=5)
    code, out, _ = digits(capsys, "--ray", "--json", str(tmp_path / "t.parquet"))
    rows = json_lines(out)
    assert code == 0 and [r["path"] for r in rows] == [f"{tmp_path / 't.parquet'}#{i}" for i in range(6)]
    assert [r["digit"] for r in rows] == [3, 7, 0, 4, 9, 1]


def test_a_table_without_an_image_column_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pq.write_table(pa.table({"png": [b"x"], "path": ["a"]}), tmp_path / "t.parquet")
    code, out, err = digits(capsys, "--ray", str(tmp_path / "t.parquet"))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "t.parquet has no 'image' column (its columns: png, path)" in err


def test_json_lines_output_is_what_json_prints_with_the_model_sent_to_the_workers(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --model file is sent with the task (a cluster's machines need not have it); here, a copy of the shipped one."""
    from digit_recognizer.recognizer import shipped_model_path

    shutil.copy(shipped_model_path(), tmp_path / "mine.onnx")
    _, expected, _ = digits(capsys, "--json", str(images))
    output = tmp_path / "r.jsonl"
    code, out, _ = digits(capsys, "--ray", "--model", str(tmp_path / "mine.onnx"), "--output", str(output), str(images))
    assert code == 1 and out == ""
    assert output.read_text("utf-8") == expected
    assert not (tmp_path / "r.jsonl.partial").exists()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(images: Path) -> Iterator[str]:
    """The images folder over HTTP on 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(images)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_are_fetched_by_the_workers(images: Path, served: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, expected, _ = digits(capsys, "--json", str(images / "3_4.png"))
    code, out, _ = digits(capsys, "--ray", "--json", f"{served}/3_4.png", f"{served}/nothing-here.png")
    four, missing = json_lines(out)
    assert code == 1
    assert four == {**json_lines(expected)[0], "path": f"{served}/3_4.png"}
    assert missing == {"path": f"{served}/nothing-here.png", "error": "could not fetch it (HTTP 404 File not found)"}


def test_a_folder_on_a_pyarrow_filesystem_is_read_like_a_folder(
    images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """file:// stands in for s3:// and gs://: the same code lists the folder and reads its files."""
    _, expected, _ = digits(capsys, "--json", str(images))
    code, out, _ = digits(capsys, "--ray", "--json", images.as_uri())
    assert code == 1
    assert [r["path"] for r in json_lines(out)] == ["file://" + r["path"] for r in json_lines(expected)]
    assert [{**r, "path": ""} for r in json_lines(out)] == [{**r, "path": ""} for r in json_lines(expected)]


def test_the_python_recipe_reads_rays_own_datasets(images: Path) -> None:
    """The docs' recipe: ray.data's reader, Recognize in map_batches (one CPU left for the reads)."""
    from digit_recognizer import Recognizer

    files = ray.data.read_binary_files(str(images / "2_0.png"), include_paths=True)
    results = files.map_batches(
        bulk.Recognize, compute=ray.data.ActorPoolStrategy(size=1), batch_size=16, batch_format="pyarrow"
    ).take_all()
    assert [r["digit"] for r in results] == [Recognizer.load().predict(images / "2_0.png").digit] == [0]
    ours = bulk.recognize(bulk.read_images([str(images / "5_1.png")]), multi=True, workers=1).take_all()
    assert [r["number"] for r in ours] == ["1"] and json.loads(ours[0]["json"])["digits"][0]["digit"] == 1


def test_an_unknown_output_suffix_is_one_line(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = digits(capsys, "--ray", str(images), "--output", "results.csv")
    assert code == 2
    assert err == "error: --output results.csv: say the format by the suffix, .parquet or .jsonl (e.g. r.parquet)\n"


def test_more_workers_than_cpus_is_one_line(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = digits(capsys, "--ray", "--workers", "3", str(images))
    assert code == 2 and err.splitlines()[-1].startswith("error: --workers 3, but the cluster has 2 CPUs")


@pytest.mark.parametrize("argv", [["--workers", "2"], ["--output", "r.jsonl"], ["--ray-address", "h:6379"]])
def test_ray_options_without_ray_say_to_add_it(argv: list[str]) -> None:
    with pytest.raises(SystemExit, match=f"error: {argv[0]} is for --ray: add --ray"):
        main(["predict", "samples/seven.png", *argv])


def python(code: str, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code, *argv]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, env=env)


def test_without_ray_the_message_names_the_extra() -> None:
    done = python("import sys; sys.modules['ray'] = None; from digit_recognizer.cli import main; sys.exit(main())",
                  "predict", "--ray", "samples/seven.png")  # fmt: skip
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("error: digits predict --ray needs ray, which is not installed. Install it with:")
    assert "-m pip install" in done.stderr and "[ray]" in done.stderr


@pytest.mark.parametrize("how", ["--ray-address", "RAY_ADDRESS"])
def test_an_address_nobody_answers_is_one_line_within_seconds(how: str) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again when the block ends: nothing listens there
    where = ["--ray-address", f"127.0.0.1:{port}"] if how == "--ray-address" else []
    env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}"} if how == "RAY_ADDRESS" else None
    done = python("from digit_recognizer.cli import main; raise SystemExit(main())",
                  "predict", "--ray", *where, "samples/seven.png", env=env)  # fmt: skip
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr == (
        f"error: no Ray cluster answers at 127.0.0.1:{port} (Connection refused); start one there with "
        "`ray start --head`, or fix --ray-address / $RAY_ADDRESS\n"
    )


def test_reading_without_ray_imports_neither_ray_nor_torch() -> None:
    done = python(
        "import sys, contextlib, io; from digit_recognizer.cli import main; import digit_recognizer.bulk\n"
        "with contextlib.redirect_stdout(io.StringIO()): code = main(['predict', 'samples/seven.png'])\n"
        "print(code, sorted({'ray', 'pyarrow', 'torch', 'pandas'} & set(sys.modules)))"
    )
    assert done.stdout.strip() == "0 []", done.stderr
