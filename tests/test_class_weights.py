import numpy as np
import pytest

from focalboost import BinaryFocalLoss, MulticlassFocalLoss, binary_alpha, class_alpha

# the four-class example of the first seed note: 100, 200, 50 and 10 rows
SEED_COUNTS = [100, 200, 50, 10]
SEED_Y = np.repeat(np.arange(4), SEED_COUNTS)


def test_inverse_frequency_is_the_seed_formula():
    total = sum(SEED_COUNTS)
    inv = np.array([total / c for c in SEED_COUNTS])
    np.testing.assert_allclose(class_alpha(SEED_Y, "inverse_frequency"), inv / inv.sum(), rtol=1e-14)
    assert class_alpha(SEED_Y, "inverse_frequency").sum() == pytest.approx(1.0)


def test_enet_is_one_over_log_c_plus_frequency():
    freq = np.array(SEED_COUNTS) / sum(SEED_COUNTS)
    np.testing.assert_allclose(class_alpha(SEED_Y, "enet"), 1 / np.log(1.02 + freq), rtol=1e-14)
    np.testing.assert_allclose(class_alpha(SEED_Y, "enet", c=1.10), 1 / np.log(1.10 + freq), rtol=1e-14)


def test_balanced_keeps_the_loss_scale():
    alpha = class_alpha(SEED_Y, "balanced")
    np.testing.assert_allclose(alpha, len(SEED_Y) / (4 * np.array(SEED_COUNTS)), rtol=1e-14)
    freq = np.array(SEED_COUNTS) / len(SEED_Y)
    assert np.sum(freq * alpha) == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["balanced", "inverse_frequency", "enet"])
def test_sample_weights_are_class_frequencies(method):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    w = rng.integers(1, 4, 200).astype(float)
    dup = np.repeat(np.arange(200), w.astype(int))
    np.testing.assert_allclose(
        class_alpha(y, method, sample_weight=w), class_alpha(y[dup], method), rtol=1e-12
    )
    assert binary_alpha(y % 2, method, sample_weight=w) == pytest.approx(binary_alpha((y % 2)[dup], method))


def test_binary_alpha_favours_the_minority_and_plugs_into_the_losses():
    y = np.r_[np.zeros(90), np.ones(10)]
    for method in ("balanced", "inverse_frequency"):
        assert binary_alpha(y, method) == pytest.approx(0.9)  # w1 / (w0 + w1) = f0
    assert 0.5 < binary_alpha(y, "enet") < 0.9
    BinaryFocalLoss(alpha=binary_alpha(y))
    MulticlassFocalLoss(4, alpha=class_alpha(SEED_Y, "enet"))


def test_bad_input():
    with pytest.raises(ValueError, match="method must be one of"):
        class_alpha(SEED_Y, "sqrt")
    with pytest.raises(ValueError, match=r"no \(positively weighted\) rows of class\(es\) \[1\]"):
        class_alpha([0, 0, 2], "balanced")
    with pytest.raises(ValueError, match="c must be a finite number > 1"):
        class_alpha(SEED_Y, "enet", c=1.0)
    with pytest.raises(ValueError, match="y contains NaN"):
        class_alpha([0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match=r"class indices in 0..1"):
        binary_alpha([0, 1, 2])
