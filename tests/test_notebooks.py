"""Every notebook in notebooks/ runs top to bottom without error (small settings).

The notebooks read FOCALBOOST_NOTEBOOK_QUICK=1 and then use fewer rows, rounds and trials. They
run in a Jupyter kernel ("python3") started with this interpreter: jupyter_client replaces a kernel
spec's "python" by ``sys.executable``, and the test checks that it does.
"""

import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # minutes, not seconds: `pytest -m "not slow"` skips them

NOTEBOOK_DIR = Path(__file__).parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_focal_loss_math.ipynb",
        "03_imbalanced_data.ipynb",
        "04_probabilities.ipynb",
    ]


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


def test_kernel_runs_this_interpreter():
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] in (
        "python",
        "python3",
        f"python{sys.version_info[0]}.{sys.version_info[1]}",
        sys.executable,
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, monkeypatch):
    monkeypatch.setenv("FOCALBOOST_NOTEBOOK_QUICK", "1")
    # the inline backend renders every figure to a PNG output (Agg would skip plt.show entirely)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError (with the cell and traceback) on any error
    assert nb.cells[0].outputs[0]["text"].strip() == sys.executable
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    shows = sum("plt.show()" in c.source for c in nb.cells if c.cell_type == "code")
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(images) >= shows  # every figure was drawn
