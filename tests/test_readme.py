"""Every Python code block of README.md, CONTRIBUTING.md and the documentation pages (docs/**/*.md)
runs as written: each is saved as a script and run in a fresh interpreter in an empty directory
(so a missing import, a stale name or a Dask example without its ``__main__`` guard fails here).

A block is marked on the line before it: ``<!-- README test: run -->``, or, for a block that
cannot run on a test machine, ``<!-- README test: skip (REASON) -->``. A Python block with neither
mark fails :func:`test_every_python_block_is_marked`, so no example in the docs goes unchecked.
"""

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARK = "<!-- README test: run -->"
SKIP = re.compile(r"<!-- README test: skip \((?P<reason>[^)]+)\) -->")
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
SHELL = re.compile(r"^```bash[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
PAGES = [README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
PAGES = [p for p in PAGES if "_build" not in p.parts and p.exists()]


def _python_blocks(path):
    """(line, mark, code) of every ```python block: mark is "run", "skip" or None."""
    text = path.read_text()
    blocks = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        mark = "run" if before == MARK else "skip" if SKIP.fullmatch(before) else None
        blocks.append((text[: m.start()].count("\n") + 1, mark, m.group(1)))
    return blocks


def _name(path):
    return str(path.relative_to(ROOT))


BLOCKS = [(_name(p), line, code) for p in PAGES for line, mark, code in _python_blocks(p) if mark == "run"]


def test_the_readme_has_marked_blocks():
    assert len([b for b in BLOCKS if b[0] == "README.md"]) >= 3
    assert len(BLOCKS) >= 20  # the user guide's examples


def test_every_python_block_is_marked():
    unmarked = [f"{_name(p)}:{line}" for p in PAGES for line, mark, _ in _python_blocks(p) if mark is None]
    assert not unmarked, f"Python blocks without a '{MARK}' line before them: {unmarked}"


def test_the_block_finder_sees_marks_and_fences(tmp_path):
    """The parser itself: a marked block is found, an unmarked one is reported, a skip needs a reason."""
    text = f"{MARK}\n```python\nx = 1\n```\n\n```python\ny = 2\n```\n<!-- README test: skip () -->\n```python\nz\n```\n"
    path = tmp_path / "probe.md"
    path.write_text(text)
    assert [(mark, code) for _, mark, code in _python_blocks(path)] == [
        ("run", "x = 1\n"),
        (None, "y = 2\n"),
        (None, "z\n"),
    ]


@pytest.mark.slow  # a fresh interpreter and a training each
@pytest.mark.parametrize("page, line, code", BLOCKS, ids=[f"{p}:{line}" for p, line, _ in BLOCKS])
def test_readme_block_runs(page, line, code, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{page} block at line {line} failed:\n{result.stderr[-3000:]}"


def _shell_commands():
    """(page, command) of every command line in the ```bash blocks (comments and && split off)."""
    out = []
    for path in PAGES:
        for block in SHELL.findall(path.read_text()):
            for line in block.splitlines():
                line = line.split(" #")[0].strip()
                out += [(_name(path), part.strip()) for part in line.split("&&") if part.strip()]
    return out


def test_shell_commands_name_real_extras_and_options():
    """The shell lines cannot run here (a whole comparison, your own files), so their words are
    checked: each ``pip install ".[extra]"`` names extras of pyproject.toml, and each
    ``focalboost ...`` line parses with the command's own argument parser."""
    from focalboost.compare.cli import build_parser

    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    commands = _shell_commands()
    focal = [(page, c) for page, c in commands if c.startswith("focalboost ")]
    assert len(focal) >= 5
    for page, command in commands:
        for wanted in re.findall(r"\.\[([\w,-]+)\]", command):
            assert set(wanted.split(",")) <= extras, f"{page}: {command}"
    for page, command in focal:
        try:
            build_parser().parse_args(shlex.split(command)[1:])
        except SystemExit as exc:  # argparse's way of refusing
            raise AssertionError(f"{page}: {command!r} does not parse") from exc
