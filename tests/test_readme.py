"""The README's code blocks marked ``<!-- README test: run -->`` run as written, each in a fresh
interpreter in an empty directory (so a missing import or a stale name fails here)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
MARK = "<!-- README test: run -->"


def _marked_blocks():
    text = README.read_text()
    pattern = re.compile(re.escape(MARK) + r"\s*```python\n(.*?)```", re.S)
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in pattern.finditer(text)]


BLOCKS = _marked_blocks()


def test_the_readme_has_marked_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.slow  # a fresh interpreter and a training each
@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_readme_block_runs(line, code, tmp_path):
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, f"README.md block at line {line} failed:\n{result.stderr[-3000:]}"
