"""Sphinx configuration of the focalboost documentation.

Build (from the repository root, with ``pip install ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery's notebooks (docs/gallery/*.ipynb, links to notebooks/) are executed on every build in
their quick mode (FOCALBOOST_NOTEBOOK_QUICK=1: fewer rows, rounds and trials), so every figure in
the site is one the current code drew. The code blocks of the Markdown pages are run by
tests/test_readme.py, not by the build.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# the notebooks read these in the kernel the build starts (it inherits this environment)
os.environ["FOCALBOOST_NOTEBOOK_QUICK"] = "1"
# the inline backend renders every figure into the notebook (a user's MPLBACKEND=Agg would drop them)
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

import focalboost  # noqa: E402

project = "focalboost"
author = "the focalboost developers"
copyright = "2026, the focalboost developers"
release = version = focalboost.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinxarg.ext",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static: formulas render without a network
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# -- MyST and notebooks ------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"  # every build runs every notebook: no stored outputs, no cache
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_kernel_rgx_aliases = {".*": "python3"}  # the kernel of this interpreter (see tests/test_notebooks.py)

# -- API reference -----------------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": True}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False  # autodoc lists the members once
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- HTML --------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"focalboost {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False


def _skip_member(app, what, name, obj, skip, options):
    """Leave out of the API pages what is not focalboost's to document: scikit-learn's generated
    metadata-routing setters (``set_fit_request``, ...; their docstrings link into scikit-learn's
    own site) and the ``classes_`` property (described in each estimator's Attributes section)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    if name == "classes_":
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
