"""focalboost.compare.figures: what the comparison's PNG figures draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from focalboost.compare.datasets import MultiLabelDataset, from_dataframe  # noqa: E402
from focalboost.compare.engine import Comparison  # noqa: E402
from focalboost.compare.figures import make_figures  # noqa: E402
from focalboost.compare.settings import Settings  # noqa: E402


def _comparison(multilabel):
    """A hand-made result whose reliability panels have bins without a positive at a mean
    prediction of 1e-7 (left of the log axis floor, 1e-4) and at 0.999 (the right edge)."""
    rng = np.random.default_rng(0)
    n = 300
    y = (rng.random(n) < 0.08).astype(int)
    p = np.clip(0.02 + 0.5 * y * rng.random(n), 1e-3, 0.9)
    order = np.argsort(p)
    p[order[:20]] = 1e-7  # the lowest bin: no positive there (y = 0 in most of it)
    y[order[:20]] = 0
    high = rng.choice(np.flatnonzero(y == 0), 20, replace=False)  # the highest bin: negatives
    p[high] = 0.999
    X = pd.DataFrame({"x": rng.normal(size=n)})
    if multilabel:
        Y = np.column_stack([y, y[::-1]])
        P = np.column_stack([p, p[::-1]])
        ds = MultiLabelDataset("m", X, Y, ["a", "b"], [1, 1], [0, 0])
        probas = {"xgboost logloss": P}
        y_test = Y
    else:
        frame = X.assign(label=y)
        ds = from_dataframe(frame, "label", name="b")
        probas = {"xgboost logloss": np.column_stack([1 - p, p])}
        y_test = y
    rows = [{"name": "xgboost logloss", "backend": "xgboost", "kind": "logloss", "output": "raw"}]
    return Comparison(dataset=ds, settings=Settings(), rows=rows, probas=probas, y_test=y_test)


@pytest.mark.parametrize("multilabel", [True, False], ids=["multilabel", "binary"])
def test_calibration_draws_nothing_outside_its_panels(multilabel):
    """The "bin with no positive" triangles were drawn with clip_on=False: the one at 1e-7 sat
    left of the axes, over the tick labels."""
    fig = make_figures(_comparison(multilabel))["calibration"]
    fig.set_dpi(110)  # as written (savefig dpi=110)
    fig.canvas.draw()
    markers = 0
    for ax in fig.axes:
        box = ax.get_window_extent()
        for line in ax.lines:
            assert line.get_clip_on(), (ax.get_title(), line.get_label())
            if line.get_marker() != "v" or not len(line.get_xdata()):
                continue
            half = line.get_markersize() / 2 * fig.dpi / 72
            xy = line.get_transform().transform(
                np.column_stack([line.get_xdata(), line.get_ydata()])
            )
            xlo, xhi = ax.get_xlim()
            shown = (line.get_xdata() >= xlo) & (line.get_xdata() <= xhi)
            markers += int(shown.sum())
            assert np.all(xy[shown, 1] - half >= box.y0 - 0.5), ax.get_title()  # whole triangle
            assert np.all(xy[shown, 1] + half <= box.y1)
    assert markers > 0  # the panels do have bins without a positive
    plt.close("all")
