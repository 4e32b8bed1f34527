"""The documentation site builds with warnings as errors, and its pages show what they promise:
rendered formulas, figures the current code drew, the API and CLI references.

The site is built once for this module (``python -m sphinx -W --keep-going -b html docs OUT``,
about two minutes: the gallery's notebooks run in their quick mode). ``.ci/run`` builds it in a step
of its own and sets ``FOCALBOOST_DOCS_HTML`` to that build, which these tests then read instead of
building again. With headless Chromium installed (Debian package ``chromium``; ``.ci/run`` installs
it when it runs as root), a page is also loaded in a browser: MathJax must have typeset its formulas
and its screenshot must not be blank.
"""

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # builds the site: minutes

ROOT = Path(__file__).resolve().parent.parent
GALLERY_PAGE = "gallery/02_focal_loss_math.html"


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    given = os.environ.get("FOCALBOOST_DOCS_HTML")
    if given:
        out = Path(given)
        assert (out / "index.html").is_file(), f"FOCALBOOST_DOCS_HTML={given} holds no built site"
        return out
    out = tmp_path_factory.mktemp("docs") / "html"
    doctrees = out.parent / "doctrees"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-d", str(doctrees), str(ROOT / "docs"), str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"the docs build failed:\n{result.stderr[-5000:]}"
    return out


class _Page(HTMLParser):
    """The parts of a built page the checks need: math blocks, images, scripts."""

    def __init__(self):
        super().__init__()
        self.math, self.images, self.scripts = [], [], []
        self._in_math = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if "math" in classes:
            self._in_math += 1
            self.math.append("")
        elif self._in_math:
            self._in_math += 1
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"].split("?")[0])  # without Sphinx's "?v=<digest>"

    def handle_endtag(self, tag):
        if self._in_math:
            self._in_math -= 1

    def handle_data(self, data):
        if self._in_math:
            self.math[-1] += data


def _parse(path):
    page = _Page()
    page.feed(path.read_text())
    return page


@pytest.mark.parametrize("name", ["index.html", GALLERY_PAGE])
def test_page_has_formula_and_figure(html, name):
    path = html / name
    page = _parse(path)
    # a display formula with TeX in it, and the MathJax that typesets it, shipped inside the site
    assert any("\\gamma" in m for m in page.math), f"{name}: no formula with \\gamma"
    mathjax = [s for s in page.scripts if s.endswith("mathjax/tex-chtml.js")]
    assert mathjax, f"{name}: MathJax is not loaded ({page.scripts})"
    assert not mathjax[0].startswith("http"), "MathJax must come from the site, not a CDN"
    assert (path.parent / mathjax[0]).is_file()
    # a figure: an image drawn during the build (PNG of a notebook output), present in the site
    figures = [src for src in page.images if src.endswith(".png")]
    assert figures, f"{name}: no figure"
    for src in figures:
        assert (path.parent / src).stat().st_size > 5000, src


def test_gallery_has_every_notebook_with_its_figures(html):
    """Every notebook is a gallery page, with at least as many figures as it calls plt.show()."""
    import nbformat

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 4
    for notebook in notebooks:
        nb = nbformat.read(notebook, as_version=4)
        shows = sum(c.source.count("plt.show()") for c in nb.cells if c.cell_type == "code")
        page = html / "gallery" / f"{notebook.stem}.html"
        assert page.is_file(), page
        figures = [s for s in _parse(page).images if s.endswith(".png")]
        assert len(figures) >= shows, f"{page.name}: {len(figures)} figures for {shows} plt.show()"


def test_api_and_cli_reference(html):
    api = (html / "api.html").read_text()
    for name in ["FocalXGBClassifier", "BinaryFocalLoss", "focalboost.xgboost.train", "to_onnx"]:
        assert name in api, name
    estimator = (html / "generated" / "focalboost.FocalXGBClassifier.html").read_text()
    assert "min_split_loss" in estimator  # the documented name clash
    cli = (html / "cli.html").read_text()
    for option in ["--gamma", "--alpha", "--target", "--quick"]:
        assert option in cli, option


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no headless Chromium (Debian package 'chromium'; .ci/run installs it as root)")


def _browser(*args, timeout=120):
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--allow-file-access-from-files", "--virtual-time-budget=15000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name", ["index.html", GALLERY_PAGE])
def test_browser_typesets_formulas(html, name):
    result = _browser("--dump-dom", (html / name).as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    # MathJax replaces each formula by an <mjx-container> once it has typeset it
    assert len(re.findall(r"<mjx-container", result.stdout)) >= 1, "MathJax typeset nothing"


def test_browser_screenshot_is_not_blank(html, tmp_path):
    shot = tmp_path / "index.png"
    result = _browser(f"--screenshot={shot}", "--window-size=1200,900", (html / "index.html").as_uri())
    assert shot.is_file(), result.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    gray = pixels.mean(axis=2)
    # text, the figure and the navigation: a real page darkens a few percent of its pixels
    assert gray.std() > 0.05
    assert np.mean(gray < 0.6) > 0.01
