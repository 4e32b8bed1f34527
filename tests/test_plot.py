"""focalboost.plot: the curves drawn are the closed forms, and every figure renders to a PNG."""

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import average_precision_score  # noqa: E402

from focalboost import BinaryFocalLoss, MulticlassFocalLoss, plot  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _save(fig, path):
    fig.savefig(path, dpi=40)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000
    return data


# --- derivatives ----------------------------------------------------------------------------------
def test_focal_derivatives_are_the_loss_objects():
    x = np.linspace(-6, 6, 13)
    grad, hess = plot.focal_derivatives(x, 2.0, alpha=0.25, hessian="positive")
    g, h = BinaryFocalLoss(2.0, alpha=0.25).gradient_hessian(np.ones(13), x)
    assert np.array_equal(grad, g) and np.array_equal(hess, h)
    z = np.zeros((13, 3))
    z[:, 1] = x
    g, h = MulticlassFocalLoss(3, 1.0, hessian="exact").gradient_hessian(np.ones(13), z)
    grad, hess = plot.focal_derivatives(x, 1.0, n_classes=3, label=1)
    assert np.array_equal(grad, g[:, 1]) and np.array_equal(hess, h[:, 1])


def test_label_zero_mirrors_label_one():
    x = np.linspace(-5, 5, 11)
    g1, h1 = plot.focal_derivatives(x, 2.0)
    g0, h0 = plot.focal_derivatives(-x, 2.0, label=0)
    np.testing.assert_allclose(g0, -g1, rtol=1e-14)
    np.testing.assert_allclose(h0, h1, rtol=1e-14)


@pytest.mark.parametrize(
    "gamma, root", [(0.5, -4.018), (1.0, -3.098), (2.0, -2.790), (5.0, -2.939)]
)
def test_negative_hessian_margin(gamma, root):
    x0 = plot.negative_hessian_margin(gamma)
    assert x0 == pytest.approx(root, abs=1e-3)  # the roots in docs/user_guide/hessian_policy.md
    _, h = plot.focal_derivatives(np.array([x0 - 0.01, x0 + 0.01]), gamma)
    assert h[0] < 0 < h[1]


def test_negative_hessian_margin_multiclass_and_log_loss():
    assert plot.negative_hessian_margin(0.0) is None  # log loss is convex
    # with the other K-1 margins at 0, the true class's log-odds is z_y - log(K - 1)
    binary = plot.negative_hessian_margin(2.0)
    assert plot.negative_hessian_margin(2.0, n_classes=4, label=0) == pytest.approx(
        binary + np.log(3), abs=1e-9
    )
    assert plot.negative_hessian_margin(2.0, label=0) == pytest.approx(-binary, abs=1e-9)


def test_plot_focal_derivatives(tmp_path):
    gammas = (0, 0.5, 2)
    fig = plot.plot_focal_derivatives(gammas, margin_range=(-6, 6), num=241)
    ax_g, ax_h, ax_r = fig.axes
    grads = [line for line in ax_g.get_lines() if len(line.get_xdata()) == 241]
    assert [line.get_label() for line in grads] == ["γ = 0", "γ = 0.5", "γ = 2"]
    x = grads[2].get_xdata()
    np.testing.assert_allclose(grads[2].get_ydata(), plot.focal_derivatives(x, 2.0)[0])
    # one marker on the zero line per gamma whose exact hessian turns negative
    markers = [line for line in ax_h.get_lines() if len(line.get_xdata()) == 1]
    assert sorted(m.get_xdata()[0] for m in markers) == pytest.approx([-4.018, -2.790], abs=1e-3)
    assert all(m.get_ydata()[0] == 0 for m in markers)
    # gamma = 0: the ratio to log loss is exactly 1 everywhere
    ratio0 = [line for line in ax_r.get_lines() if len(line.get_xdata()) == 241][0]
    np.testing.assert_allclose(ratio0.get_ydata(), 1.0)
    _save(fig, tmp_path / "derivatives.png")


def test_plot_focal_derivatives_multiclass_and_errors(tmp_path):
    fig = plot.plot_focal_derivatives((1, 2), n_classes=5, label=2, alpha=[1, 1, 2, 1, 1])
    assert "K = 5" in fig._suptitle.get_text()
    _save(fig, tmp_path / "derivatives_mc.png")
    with pytest.raises(ValueError, match="margin_range"):
        plot.plot_focal_derivatives(margin_range=(2, -2))
    with pytest.raises(ValueError, match="gammas"):
        plot.plot_focal_derivatives(())
    with pytest.raises(ValueError, match="gamma"):
        plot.plot_focal_derivatives((-1,))


# --- comparison figures ---------------------------------------------------------------------------
@pytest.fixture
def binary_scores():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.05).astype(int)
    signal = rng.normal(size=2000) + 2.0 * y
    good = 1 / (1 + np.exp(-(signal - 4)))
    noisy = 1 / (1 + np.exp(-(rng.normal(size=2000) + 0.5 * y - 3)))
    return y, {"good": good, "noisy": np.column_stack([1 - noisy, noisy])}


def test_plot_precision_recall_binary(binary_scores, tmp_path):
    y, probas = binary_scores
    fig = plot.plot_precision_recall(
        y, probas, classes=["no", "yes"], styles={"good": {"ls": "--"}}
    )
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    ap = average_precision_score(y, probas["good"])
    assert labels[0] == f"good  (AP {ap:.3f})"
    assert labels[2].startswith("random (positive rate")
    assert ax.get_lines()[0].get_linestyle() == "--"
    assert "'yes'" in ax.get_title()
    _save(fig, tmp_path / "pr.png")


def test_plot_precision_recall_multiclass(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 400)
    P = rng.dirichlet(np.ones(4), 400)
    fig = plot.plot_precision_recall(y, {"m": P}, classes=list("abcd"))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [
        "class 'a'",
        "class 'b'",
        "class 'c'",
        "class 'd'",
    ]
    _save(fig, tmp_path / "pr_mc.png")
    with pytest.raises(ValueError, match="only accepted for binary"):
        plot.plot_precision_recall(y, {"m": P}, ax=visible[0])
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        plot.plot_precision_recall(y, {"m": P, "bad": P[:, :3]})
    with pytest.raises(ValueError, match="rows"):
        plot.plot_precision_recall(y[:10], {"m": P})


def test_reliability_bins():
    conf = np.repeat([0.15, 0.25, 0.35, 0.45], 100)
    hit = np.concatenate([np.arange(100) < k for k in (15, 25, 35, 45)]).astype(float)
    mean_pred, frac = plot._reliability(conf, hit, 10, "uniform")  # 4 non-empty bins
    np.testing.assert_allclose(mean_pred, [0.15, 0.25, 0.35, 0.45])
    np.testing.assert_allclose(frac, [0.15, 0.25, 0.35, 0.45])
    mean_pred, frac = plot._reliability(conf, hit, 4, "quantile")
    np.testing.assert_allclose(frac, mean_pred)


def test_plot_calibration(binary_scores, tmp_path):
    y, probas = binary_scores
    fig = plot.plot_calibration(y, probas, n_bins=8)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"  # rare positives: log axes
    curve = ax.get_lines()[0]
    assert len(curve.get_xdata()) == 8
    _save(fig, tmp_path / "calibration.png")

    rng = np.random.default_rng(2)
    P = rng.dirichlet(np.ones(3) * 0.5, 600)
    yy = np.array([rng.choice(3, p=p) for p in P])  # calibrated by construction
    fig = plot.plot_calibration(yy, {"calibrated": P}, strategy="uniform", n_bins=5)
    (ax,) = fig.axes
    assert ax.get_xscale() == "linear" and "top-label" in ax.get_title()
    x, frac = ax.get_lines()[0].get_data()
    assert np.max(np.abs(np.asarray(frac) - np.asarray(x))) < 0.12
    with pytest.raises(ValueError, match="strategy"):
        plot.plot_calibration(yy, {"calibrated": P}, strategy="kmeans")


def test_calibration_legend_shows_the_ece_of_the_drawn_bins(binary_scores):
    from focalboost.metrics import expected_calibration_error, reliability_bins

    y, probas = binary_scores
    styles = {"noisy": {"color": "tab:green", "ls": "--", "marker": "s", "mfc": "white"}}
    fig = plot.plot_calibration(y, probas, n_bins=12, styles=styles)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for name, p in probas.items():
        p1 = np.asarray(p)[:, 1] if np.ndim(p) == 2 else p
        ece = expected_calibration_error(y, p1, n_bins=12)
        assert f"{name}  (ECE {ece:.4f})" in labels
    # the drawn points are the bins of the ECE, and the style reaches the line
    good = ax.get_lines()[0]
    mean_pred, frac, _ = reliability_bins(probas["good"], y, 12)
    np.testing.assert_allclose(good.get_xdata(), mean_pred)
    noisy = next(line for line in ax.get_lines() if line.get_label().startswith("noisy"))
    assert noisy.get_marker() == "s" and noisy.get_linestyle() == "--"
    fig = plot.plot_calibration(y, probas, show_ece=False)
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "good"
