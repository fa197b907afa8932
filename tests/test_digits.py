"""Tests for wgf.digits: loader, surrogate, classifier, Fréchet distance, tests, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wgf import digits as dg
from wgf import ot as wot
from wgf.mixtures import GaussianMixture


@pytest.fixture(scope="module")
def D():
    return dg.digits()


@pytest.fixture(scope="module")
def clf(D):
    return dg.train_classifier(D.train, D.train_labels)


# ----------------------------------------------------------------------------------- loader


def test_split_sizes_disjoint_and_deterministic(D):
    assert D.train.shape == (1297, 64) and D.test.shape == (500, 64)
    assert D.train_labels.shape == (1297,) and D.test_labels.shape == (500,)
    again = dg.digits()
    np.testing.assert_array_equal(again.train, D.train)
    np.testing.assert_array_equal(again.test_labels, D.test_labels)
    other = dg.digits(seed=1)
    assert not np.array_equal(other.test_levels, D.test_levels)
    assert other.name != D.name
    # train and test together are the 1797 images exactly once (as multisets of rows)
    rows = np.concatenate([D.train_levels, D.test_levels])
    raw, _ = dg._raw()
    assert sorted(map(bytes, rows.astype(np.int8))) == sorted(map(bytes, raw.astype(np.int8)))
    assert set(np.unique(D.test_labels)) == set(range(10))


def test_dequantisation_stays_in_its_bin(D):
    for x, v in ((D.train, D.train_levels), (D.test, D.test_levels)):
        assert np.all(x > -1) and np.all(x < 1)
        np.testing.assert_array_equal(np.floor((x + 1.0) * dg.LEVELS / 2.0).astype(int), v)
    # blank pixels carry uniform noise of variance (2/17)^2 / 12
    blank = D.train[D.train_levels == 0]
    assert blank.var() == pytest.approx((2 / 17) ** 2 / 12, rel=0.05)


def test_sample_is_fresh_dequantisation_of_training_images(D):
    x = D.sample(300, 0)
    assert x.shape == (300, 64)
    np.testing.assert_array_equal(x, D.sample(300, 0))
    levels = np.floor((x + 1.0) * dg.LEVELS / 2.0).astype(int)
    train_rows = {bytes(r.astype(np.int8)) for r in D.train_levels}
    assert all(bytes(r.astype(np.int8)) in train_rows for r in levels)
    # nearest stored training point: same image, fresh noise (distance well below image gaps)
    nn = dg.nearest_neighbour_distances(x, D.train)
    assert np.median(nn) < 0.6


def test_loader_bad_input(D):
    with pytest.raises(ValueError, match="test_size"):
        dg.digits(test_size=1797)
    with pytest.raises(ValueError, match="seed"):
        dg.digits(seed=-1)
    with pytest.raises(ValueError, match="levels"):
        dg.dequantise(np.full((2, 64), 17))
    with pytest.raises(ValueError, match="levels"):
        dg.dequantise(np.zeros((2, 63), dtype=int))
    with pytest.raises(ValueError, match="n"):
        D.sample(0)


def test_images_tile_and_blur(D):
    img = dg.to_images(D.test[:5])
    assert img.shape == (5, 8, 8) and img.min() >= 0 and img.max() <= 1
    np.testing.assert_allclose(img.reshape(5, 64) * 2 - 1, D.test[:5])
    mosaic = dg.tile(D.test[:5], 3)
    assert mosaic.shape == (2 * 9 + 1, 3 * 9 + 1)
    flat = np.full((1, 64), 0.3)
    np.testing.assert_allclose(dg.blur(flat, 1.0), flat)
    assert dg.blur(D.test[:5], 1.0).std() < D.test[:5].std()
    with pytest.raises(ValueError, match="sigma"):
        dg.blur(D.test[:5], 0.0)
    with pytest.raises(ValueError, match="x"):
        dg.to_images(np.zeros((3, 10)))


# -------------------------------------------------------------------------------- surrogate


def test_surrogate_recovers_a_known_mixture():
    truth = GaussianMixture(
        [0.3, 0.7], [[-2.0, 0.0, 1.0], [2.0, 1.0, 0.0]], [np.eye(3) * 0.5, np.diag([1.0, 0.2, 0.3])]
    )
    rng = np.random.default_rng(0)
    labels = (rng.random(20000) < 0.7).astype(int)
    x = np.empty((20000, 3))
    for k in (0, 1):
        idx = labels == k
        comp = GaussianMixture([1.0], truth.means[k : k + 1], truth.covs[k : k + 1])
        x[idx] = comp.sample(idx.sum(), 10 + k)
    fit = dg.fit_surrogate(x, labels, reg_covar=1e-6)
    m = fit.mixture
    np.testing.assert_array_equal(fit.classes, [0, 1])
    np.testing.assert_allclose(m.weights, np.bincount(labels) / labels.size)
    np.testing.assert_allclose(m.means, truth.means, atol=0.05)
    np.testing.assert_allclose(m.covs, truth.covs, atol=0.05)


def test_surrogate_on_digits_is_exact_and_matches_sklearn(D):
    from sklearn.mixture import GaussianMixture as SkMixture

    fit = dg.fit_surrogate(D.train, D.train_labels, components=2)
    m = fit.mixture
    assert m.dim == 64 and m.n_components == 20
    np.testing.assert_array_equal(np.bincount(fit.classes), np.full(10, 2))
    # class weights are the training class frequencies
    per_class = np.bincount(fit.classes, weights=m.weights)
    np.testing.assert_allclose(per_class, np.bincount(D.train_labels) / len(D.train))
    # the same parameters in scikit-learn give the same log-likelihood
    sk = SkMixture(m.n_components, covariance_type="full")
    sk.weights_, sk.means_, sk.covariances_ = m.weights, m.means, m.covs
    sk.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(m.covs))
    np.testing.assert_allclose(m.log_prob(D.test[:50]), sk.score_samples(D.test[:50]), rtol=1e-8)
    # fitted to train: higher likelihood there than on the held-out split
    assert m.log_prob(D.train).mean() > m.log_prob(D.test).mean()
    # score is finite and of the right shape in 64-D
    assert np.all(np.isfinite(m.score(D.test[:10])))


def test_surrogate_controls(D):
    fit = dg.fit_surrogate(D.train, D.train_labels)
    drop = fit.without(3)
    assert drop.n_components == 9 and drop.weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(fit.inflated(2.0).covs, 2.0 * fit.mixture.covs)
    with pytest.raises(ValueError, match="digit"):
        fit.without(11)
    with pytest.raises(ValueError, match="factor"):
        fit.inflated(-1.0)


def test_surrogate_bad_input(D):
    with pytest.raises(ValueError, match="labels"):
        dg.fit_surrogate(D.train, D.train_labels[:-1])
    with pytest.raises(ValueError, match="labels"):
        dg.fit_surrogate(D.train, D.train_labels.astype(float))
    with pytest.raises(ValueError, match="reg_covar"):
        dg.fit_surrogate(D.train, D.train_labels, reg_covar=0.0)
    with pytest.raises(ValueError, match="class 0"):
        dg.fit_surrogate(D.train[:5], np.zeros(5, dtype=int), components=5)


# ------------------------------------------------------------------------------- classifier


def test_classifier_accuracy_and_features(D, clf):
    assert clf.accuracy(D.test, D.test_labels) >= 0.95
    f = clf.features(D.test[:7])
    assert f.shape == (7, 64) and np.all(np.abs(f) < 1)
    assert 0.1 < clf.confidence(D.test) <= 1.0
    with pytest.raises(ValueError, match="labels"):
        dg.train_classifier(D.train, D.train_labels[:10])


# --------------------------------------------------------------------------------- Fréchet


def _gaussian_cloud(m, S, n, seed):
    return GaussianMixture([1.0], [m], [S]).sample(n, seed)


def test_frechet_is_squared_w2_gaussian_of_the_fits():
    rng = np.random.default_rng(3)
    f1 = rng.standard_normal((400, 5))
    f2 = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5)) + 1.0
    m1, S1 = f1.mean(0), np.cov(f1, rowvar=False)
    m2, S2 = f2.mean(0), np.cov(f2, rowvar=False)
    assert dg.frechet_distance(f1, f2) == pytest.approx(wot.w2_gaussian(m1, S1, m2, S2) ** 2)
    assert dg.frechet_distance(f1, f1) == pytest.approx(0.0, abs=1e-9)
    assert dg.frechet_distance(f1, f2) == pytest.approx(dg.frechet_distance(f2, f1), rel=1e-8)


def test_frechet_converges_to_bures_between_known_gaussians():
    m1, S1 = np.zeros(3), np.diag([1.0, 2.0, 0.5])
    A = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.7]])
    m2, S2 = np.array([0.5, -0.2, 1.0]), A @ A.T
    exact = wot.w2_gaussian(m1, S1, m2, S2) ** 2
    fd = dg.frechet_distance(
        _gaussian_cloud(m1, S1, 200_000, 1), _gaussian_cloud(m2, S2, 200_000, 2)
    )
    assert fd == pytest.approx(exact, rel=0.02)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=4, max_size=4))
def test_frechet_of_a_translate_is_the_squared_shift(shift):
    f = np.random.default_rng(0).standard_normal((50, 4))
    c = np.asarray(shift)
    assert dg.frechet_distance(f, f + c) == pytest.approx(c @ c, abs=1e-7)


def test_frechet_bad_input():
    f = np.random.default_rng(0).standard_normal((10, 3))
    with pytest.raises(ValueError, match="more points than dimensions"):
        dg.frechet_distance(f[:3], f)
    with pytest.raises(ValueError, match="width"):
        dg.frechet_distance(f, np.random.default_rng(1).standard_normal((10, 2)))
    with pytest.raises(ValueError, match="S1"):  # a degenerate cloud has no SPD covariance
        dg.frechet_distance(f, np.ones((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        dg.frechet_distance(np.full((10, 3), np.nan), f)


# ---------------------------------------------------------------------- statistics and tests


def test_class_chi2():
    a = np.repeat(np.arange(10), 50)
    same = dg.class_chi2(a, a)
    assert same.statistic == pytest.approx(0.0) and same.pvalue == pytest.approx(1.0)
    dropped = np.where(a == 3, 4, a)
    assert dg.class_chi2(dropped, a).pvalue < 1e-10
    np.testing.assert_array_equal(dg.class_chi2(dropped, a).counts[3], 0)
    with pytest.raises(ValueError, match="predicted"):
        dg.class_chi2(np.array([11]), a)
    with pytest.raises(ValueError, match="reference"):
        dg.class_chi2(a, np.array([0.5]))


def test_nearest_neighbour_distances_brute_force():
    rng = np.random.default_rng(0)
    x, ref = rng.standard_normal((600, 4)), rng.standard_normal((50, 4))
    brute = np.sqrt(((x[:, None] - ref[None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(dg.nearest_neighbour_distances(x, ref), brute, atol=1e-6)
    np.testing.assert_allclose(dg.nearest_neighbour_distances(ref, ref), 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="reference"):
        dg.nearest_neighbour_distances(x, ref[:, :2])


# ------------------------------------------------------------------- zoo target and sampling


def test_digits_is_a_points_target_of_the_zoo(D):
    from wgf import data

    dist, name = data.resolve(D)
    assert dist is D and name == "digits" and D.dim == 64
    np.testing.assert_array_equal(D.points, D.train)
    assert data.digest(D) == data.digest(dg.digits())
    assert data.digest(D) != data.digest(dg.digits(seed=1))


def test_clip_denoised_projects_the_clean_image():
    from wgf import diffusion, schedules

    betas = schedules.linear_betas(1000, 1e-4, 0.02)
    tau, _ = diffusion.ou_clock(betas)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 64))
    for s in (0.01, 0.3, 0.97):
        a = np.exp(-2 * tau(s))
        inside = rng.uniform(-0.9, 0.9, x.shape)  # an eps whose clean image lies in the box

        def eps_in(y, s_, inside=inside, a=a):
            return (y - np.sqrt(a) * inside) / np.sqrt(1 - a)

        np.testing.assert_allclose(dg.clip_denoised(eps_in, betas)(x, s), eps_in(x, s))
        out = dg.clip_denoised(lambda y, s_: np.zeros_like(y), betas)(x, s)
        x0 = (x - np.sqrt(1 - a) * out) / np.sqrt(a)
        np.testing.assert_allclose(x0, np.clip(x / np.sqrt(a), -1, 1), atol=1e-9)
    with pytest.raises(ValueError, match="low < high"):
        dg.clip_denoised(lambda y, s_: y, betas, 1.0, -1.0)
    with pytest.raises(TypeError, match="eps"):
        dg.clip_denoised(3, betas)


def test_metrics_moved_to_digit_metrics_are_still_served_from_digits():
    from wgf import digit_metrics

    for name in digit_metrics.__all__:
        assert getattr(dg, name) is getattr(digit_metrics, name)
        assert name in dir(dg)
    with pytest.raises(AttributeError, match="no_such_name"):
        dg.no_such_name  # noqa: B018
