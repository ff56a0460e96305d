"""Every command output shown in the README and on the docs pages is what that command prints.

An output is shown in a ```text block whose first line is the command after ``$ ``; every
line after it, up to the next ``$ `` line, is what the command printed. Figures change when
a retrained model ships, so outputs are compared by structure and by what was read: the
same rows, paths, digits and numbers, JSON with the same keys, benchmark tables with the
same columns. A command kind without a rule here fails, so a new kind of example comes
with its check. `python samples/make_samples.py` regenerates the images the examples use.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


@dataclass(frozen=True)
class Block:
    """A fenced block: its info string (``text``, ``sh``...), where it starts, its lines."""

    page: Path
    line: int
    info: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Example:
    """A ``$ command`` in a text block and the lines shown under it."""

    page: Path
    line: int
    command: str
    shown: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    """The page's fenced blocks, with indentation (blocks inside list items) removed."""
    lines = page.read_text("utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, info, start, body = len(opening.group(1)), opening.group(2), i + 1, []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        yield Block(page, start, info, tuple(body))
        i += 1


def examples(block: Block) -> list[Example]:
    """The ``$`` commands of a text block with their outputs (trailing blank lines dropped)."""
    found: list[tuple[int, str, list[str]]] = []
    for offset, line in enumerate(block.lines):
        if line.startswith("$ "):
            command = re.sub(r"\s+#\s.*$", "", line[2:]).strip()  # a trailing "# comment" is not the command
            found.append((block.line + offset + 1, command, []))
        elif found:
            found[-1][2].append(line)
    return [Example(block.page, n, command, tuple("\n".join(out).rstrip().splitlines())) for n, command, out in found]


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in blocks(page)]


def all_examples() -> list[Example]:
    return [example for block in all_blocks() if block.info == "text" for example in examples(block)]


EXAMPLES = all_examples()


# --------------------------------------------------------------------------- the rules, one per command kind


def run_digits(example: Example) -> None:
    """Run the CLI as written; same line count, same leading words, a percentage where one is shown."""
    args = shlex.split(example.command)[1:]
    if args[:1] == ["draw"]:
        check_verbose_lines(example)
        return
    done = subprocess.run(
        [sys.executable, "-m", "digit_recognizer", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    printed = done.stdout.splitlines()
    assert done.returncode == 0, f"{example.where}: {example.command} failed: {done.stderr}"
    assert len(printed) == len(example.shown), f"{example.where}: {example.command} printed {printed}"
    for real, documented in zip(printed, example.shown, strict=True):
        assert real.split()[:2] == documented.split()[:2], f"{example.where}: shows {documented!r}, got {real!r}"
        assert bool(re.search(r"\d%", real)) == bool(re.search(r"\d%", documented)), f"{example.where}: {real!r}"


def check_verbose_lines(example: Example) -> None:
    """`digits draw --verbose` needs a display: its lines are checked against the function that writes them."""
    from digit_recognizer import Recognizer
    from digit_recognizer.desktop.logic import Recognition, log_line

    recognizer = Recognizer.load()
    written = [
        log_line(Recognition(recognizer.predict(REPO / "samples" / "seven.png"), [], 2.1)),
        log_line(Recognition(recognizer.predict_number(REPO / "samples" / "2025.png"), [], 3.8)),
    ]
    assert "--verbose" in example.command, f"{example.where}: only `digits draw --verbose` output can be shown"
    assert [skeleton(line) for line in example.shown] == [skeleton(line) for line in written], example.where


def skeleton(line: str) -> str:
    """A line with every number replaced by N: the words a figure sits between."""
    return re.sub(r"\d+(\.\d+)?", "N", line)


def run_curl(example: Example) -> None:
    """Send the request to the app in-process; the answer must have the shown JSON's shape and readings."""
    testclient = pytest.importorskip("fastapi.testclient", reason="the web extra is not installed")
    from digit_recognizer.web.server import create_app

    method, path, kwargs = curl_request(example.command)
    with testclient.TestClient(create_app()) as client:
        answer = client.request(method, path, **kwargs)
    assert answer.status_code == 200, f"{example.where}: {answer.text}"
    shown = json.loads("\n".join(example.shown))
    problems = shape_differences(answer.json(), shown, "")
    assert not problems, f"{example.where}: {example.command}: {problems}"


def curl_request(command: str) -> tuple[str, str, dict[str, Any]]:
    """The method, path and body of the curl options the docs use (-s, --data-binary @F, -H, -F file=@F)."""
    args, kwargs, headers, method = shlex.split(command)[1:], {}, {}, "GET"
    url = next(a for a in args if a.startswith("http://127.0.0.1:8000/"))
    for option, value in zip(args, [*args[1:], ""], strict=True):
        if option == "--data-binary":
            method, kwargs["content"] = "POST", (REPO / value.removeprefix("@")).read_bytes()
        elif option == "-H":
            name, _, content = value.partition(":")
            headers[name.strip()] = content.strip()
        elif option == "-F":
            field, _, file = value.partition("=@")
            method, kwargs["files"] = "POST", {field: (Path(file).name, (REPO / file).read_bytes())}
    return method, url.removeprefix("http://127.0.0.1:8000"), {**kwargs, "headers": headers}


def shape_differences(real: Any, shown: Any, where: str, in_list: bool = False) -> list[str]:
    """Where the real JSON differs from the shown one in keys, lengths, or readings (strings, digits, flags).

    Floats are figures and only have to be numbers; so do integers inside lists (boxes),
    which move with a retrained model's segmentation.
    """
    if isinstance(shown, dict):
        if not isinstance(real, dict) or real.keys() != shown.keys():
            return [f"{where or 'top'}: keys {list(real) if isinstance(real, dict) else real!r} != {list(shown)}"]
        return [d for key in shown for d in shape_differences(real[key], shown[key], f"{where}.{key}")]
    if isinstance(shown, list):
        if not isinstance(real, list) or len(real) != len(shown):
            return [f"{where}: {real!r} is not a list of {len(shown)}"]
        pairs = enumerate(zip(real, shown, strict=True))
        return [d for i, (r, s) in pairs for d in shape_differences(r, s, f"{where}[{i}]", in_list=True)]
    if isinstance(shown, float) or (isinstance(shown, int) and not isinstance(shown, bool) and in_list):
        ok = isinstance(real, int | float) and not isinstance(real, bool)
        return [] if ok else [f"{where}: {real!r} is not a number"]
    return [] if real == shown else [f"{where}: {real!r} != {shown!r}"]


def check_benchmark(example: Example) -> None:
    """Too slow to run here: the script exists, takes every option shown, and prints the columns shown."""
    args = shlex.split(example.command)[1:]
    script = REPO / args[0]
    assert script.is_file(), f"{example.where}: {args[0]} does not exist"
    source = script.read_text("utf-8") + (REPO / "benchmarks" / "conditions.py").read_text("utf-8")
    for option in (a.split("=")[0] for a in args[1:] if a.startswith("--")):
        assert f'"{option}"' in source, f"{example.where}: {args[0]} has no option {option}"
    missing = [word for word in re.findall(r"[A-Za-z][\w/→.'-]*", header(example.shown)) if word not in source]
    assert not missing, f"{example.where}: {args[0]} does not print {missing} (a renamed column?)"


def header(shown: tuple[str, ...]) -> str:
    """The table's header row: the first line of 3+ columns with no number in it (else the first line)."""
    for line in shown:
        columns = re.split(r"\s{2,}", line.strip())
        if len(columns) >= 3 and not any(re.fullmatch(r"(?=.*\d)[\d.,:%x×()+-]+", t) for t in line.split()):
            return line
    return shown[0] if shown else ""


RULES = {"digits": run_digits, "curl": run_curl, "python": check_benchmark}


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{e.where} {e.command[:50]}" for e in EXAMPLES])
def test_a_shown_output_is_what_its_command_prints(example: Example) -> None:
    program = example.command.split()[0]
    assert program in RULES, f"{example.where}: no rule checks the output of {example.command!r}: add one here"
    if program == "python":
        assert example.command.split()[1].startswith("benchmarks/"), f"{example.where}: only benchmarks/ scripts"
    RULES[program](example)


def test_every_output_block_starts_with_its_command() -> None:
    text = [b for b in all_blocks() if b.info == "text"]
    unchecked = [f"{b.page.relative_to(REPO)}:{b.line}" for b in text if b.lines and not b.lines[0].startswith("$ ")]
    assert not unchecked, f"text blocks that show an output without its `$ command` line: {unchecked}"


def test_commands_with_outputs_are_only_in_text_blocks() -> None:
    other = [b for b in all_blocks() if b.info != "text"]
    misplaced = [f"{b.page.relative_to(REPO)}:{b.line}" for b in other if any(s.startswith("$ ") for s in b.lines)]
    assert not misplaced, f"`$ ` lines outside ```text blocks are not checked: {misplaced}"


def test_the_docs_show_the_examples_a_new_user_needs() -> None:
    commands = {example.command for example in EXAMPLES}
    assert {"digits predict samples/", "digits predict --multi samples/2025.png"} <= commands
    assert any(c.startswith("curl") and "/api/predict" in c for c in commands)
    readme = {e.command for e in EXAMPLES if e.page == README}
    assert "digits predict samples/" in readme, "the README shows reading a folder"


def test_the_rules_catch_a_stale_output() -> None:
    """The comparisons fail on what goes stale: a changed reading, a missing key, a renamed column."""
    assert shape_differences({"digit": 7, "confidence": 0.9}, {"digit": 1, "confidence": 0.5}, "")
    assert shape_differences({"digit": 7}, {"digit": 7, "reason": "x"}, "")
    assert not shape_differences({"box": [1, 2], "p": 0.1}, {"box": [3, 4], "p": 0.9}, "")
    stale = Example(README, 1, "python benchmarks/bench_numbers.py", ("spacing  style  numbers  hits",))
    with pytest.raises(AssertionError, match="hits"):
        check_benchmark(stale)
    with pytest.raises(AssertionError, match="no option"):
        check_benchmark(Example(README, 1, "python benchmarks/bench_numbers.py --fast", ()))


def test_every_page_is_in_the_nav_and_every_entry_exists() -> None:
    yaml = pytest.importorskip("yaml", reason="the docs extra is not installed")
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text("utf-8"))

    def pages(entries: list[Any]) -> Iterator[str]:
        for entry in entries:
            for value in entry.values():
                yield from pages(value) if isinstance(value, list) else [value]

    listed = set(pages(config["nav"]))
    assert listed == {p.name for p in DOCS.glob("*.md")}, "mkdocs.yml's nav and docs/*.md differ"


def test_the_readme_is_short_and_its_links_resolve() -> None:
    text = README.read_text("utf-8")
    assert len(text.splitlines()) <= 200, "the README is the front page: details belong in docs/"
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    broken = [t for t in targets if not t.startswith(("http://", "https://")) and not (REPO / t).exists()]
    assert not broken, f"README links to missing files: {broken}"
    assert any(t.startswith("docs/") and t.endswith(".md") for t in targets), "the README links into the docs"


def test_the_readmes_python_gives_the_values_its_comments_show(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each README line ending in ``# <a Python literal>`` evaluates to that value (other lines just run)."""
    import ast

    monkeypatch.chdir(REPO)
    code = [b for b in blocks(README) if b.info == "python"]
    assert code, "the README shows the library"
    namespace: dict[str, Any] = {}
    checked = 0
    for line in (line for block in code for line in block.lines):
        statement, _, comment = line.partition("  # ")
        try:
            expected = ast.literal_eval(comment.strip())
        except (ValueError, SyntaxError):
            exec(statement, namespace)
            continue
        assert eval(statement, namespace) == expected, f"README: {statement.strip()} is not {expected!r}"
        checked += 1
    assert checked >= 2


def test_the_samples_are_what_make_samples_writes(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "samples"
    shutil.copytree(REPO / "samples", copy)
    done = subprocess.run(
        [sys.executable, str(copy / "make_samples.py")], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in ("seven.png", "2025.png", "three-photo.jpg", "blank.png"):
        assert (copy / name).read_bytes() == (REPO / "samples" / name).read_bytes(), f"{name} is out of date"
