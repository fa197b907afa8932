"""Tests of wgf.ot against closed forms, POT and independent computations.

The Gaussian closed forms that wgf.ot re-exports are tested in test_gaussian_ot.py."""

import numpy as np
import ot as pot
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from strategies import point_clouds, weights

from wgf import ot as wot

RNG = np.random.default_rng(1234)


def test_gaussian_closed_forms_are_re_exported():
    from wgf import gaussian_ot

    for name in gaussian_ot.__all__:
        assert getattr(wot, name) is getattr(gaussian_ot, name)


# ------------------------------------------------------------------------------ one dimension


def test_w2_1d_matches_pot_and_emd_with_weights():
    x, y = RNG.normal(size=300), RNG.exponential(size=170)
    a = RNG.random(300)
    a /= a.sum()
    b = RNG.random(170)
    b /= b.sum()
    got = wot.w2_1d(x, y, a, b)
    assert got == pytest.approx(np.sqrt(pot.wasserstein_1d(x, y, a, b, p=2)), rel=1e-10)
    M = pot.dist(x[:, None], y[:, None])
    assert got == pytest.approx(np.sqrt(pot.emd2(a, b, M)), rel=1e-9)


def test_w2_1d_equal_sizes_is_sorted_matching():
    x, y = RNG.normal(size=50), RNG.normal(size=50)
    expected = np.sqrt(np.mean((np.sort(x) - np.sort(y)) ** 2))
    assert wot.w2_1d(x, y) == pytest.approx(expected, rel=1e-13)
    assert wot.w2_1d(x[:, None], y[:, None]) == pytest.approx(expected, rel=1e-13)


@given(point_clouds(d=1), st.data())
def test_w2_1d_agrees_with_network_simplex(x, data):
    y = data.draw(point_clouds(d=1))
    a, b = data.draw(weights(x.shape[0])), data.draw(weights(y.shape[0]))
    simplex = np.sqrt(max(pot.emd2(a, b, pot.dist(x, y)), 0.0))
    assert wot.w2_1d(x, y, a, b) == pytest.approx(simplex, rel=1e-7, abs=1e-7)


def test_w2_1d_quantiles_closed_forms():
    # Gaussians: W2^2 = (m0 - m1)^2 + (s0 - s1)^2
    got = wot.w2_1d_quantiles(stats.norm(0, 1).ppf, stats.norm(1, 2).ppf)
    assert got == pytest.approx(np.sqrt(2.0), rel=1e-9)
    # U(0, 1) to U(0, 2): the map is x -> 2x, W2^2 = E[X^2] = 1/3
    got = wot.w2_1d_quantiles(stats.uniform(0, 1).ppf, stats.uniform(0, 2).ppf)
    assert got == pytest.approx(np.sqrt(1 / 3), rel=1e-10)


def test_w2_1d_quantiles_rejects_infinite_second_moment():
    with pytest.raises(ValueError, match=r"did not converge|not finite"):
        wot.w2_1d_quantiles(stats.cauchy().ppf, stats.norm().ppf)


# ------------------------------------------------------------------------------ discrete OT


def test_w2_matches_pot_emd2_and_plan():
    x, y = RNG.normal(size=(40, 2)), RNG.normal(size=(30, 2)) + 1
    a = np.full(40, 1 / 40)
    b = np.full(30, 1 / 30)
    M = pot.dist(x, y)
    assert wot.w2(x, y) ** 2 == pytest.approx(pot.emd2(a, b, M), rel=1e-12)
    plan = wot.ot_plan(x, y)
    np.testing.assert_allclose(plan.sum(1), a, atol=1e-12)
    np.testing.assert_allclose(plan.sum(0), b, atol=1e-12)
    assert np.sum(plan * M) == pytest.approx(wot.w2(x, y) ** 2, rel=1e-12)


def test_w2_permutation_between_equal_size_clouds():
    # With equal sizes and uniform weights the optimal plan is a permutation (Birkhoff), which
    # brute force over all permutations confirms on a small case.
    from itertools import permutations

    x, y = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 2))
    best = min(np.mean(np.sum((x - y[list(p)]) ** 2, 1)) for p in permutations(range(6)))
    assert wot.w2(x, y) == pytest.approx(np.sqrt(best), rel=1e-12)


@given(point_clouds(), st.data())
def test_w2_metric_axioms(x, data):
    d = x.shape[1]
    y = data.draw(point_clouds(d=d))
    z = data.draw(point_clouds(d=d))
    a = data.draw(weights(x.shape[0]))
    b = data.draw(weights(y.shape[0]))
    dxy = wot.w2(x, y, a, b)
    assert dxy >= 0
    assert dxy == pytest.approx(wot.w2(y, x, b, a), rel=1e-9, abs=1e-9)
    assert wot.w2(x, x, a, a) == pytest.approx(0.0, abs=1e-7)
    assert dxy <= wot.w2(x, z, a) + wot.w2(z, y, None, b) + 1e-7


@given(point_clouds(), st.data())
def test_w2_translation_and_scaling(x, data):
    # Translating one measure by v adds |v|^2 + 2 v.(mean difference) to W2^2 (exact identity),
    # and scaling both by s scales W2 by |s|.
    y = data.draw(point_clouds(d=x.shape[1]))
    v = data.draw(st.lists(st.floats(-3, 3), min_size=x.shape[1], max_size=x.shape[1]))
    v = np.asarray(v)
    base = wot.w2(x, y) ** 2
    shifted = wot.w2(x + v, y) ** 2
    expected = base + v @ v + 2 * v @ (x.mean(0) - y.mean(0))
    assert shifted == pytest.approx(expected, rel=1e-7, abs=1e-7)
    assert wot.w2(2.5 * x, 2.5 * y) == pytest.approx(2.5 * np.sqrt(base), rel=1e-7, abs=1e-7)


def test_entropic_plan_converges_to_exact_cost_within_bound():
    # 0 <= <gamma_eps, C> - W2^2 <= eps * log(n): the entropic cost exceeds the exact one by at
    # most eps times the largest possible KL(gamma | a x b) = log(n).
    x, y = RNG.normal(size=(60, 2)), 0.5 * RNG.normal(size=(60, 2)) + 2
    exact = wot.w2(x, y) ** 2
    previous = np.inf
    for eps in [1.0, 0.3, 0.1, 0.03]:
        gap = wot.w2_sinkhorn(x, y, eps) ** 2 - exact
        assert -1e-9 <= gap <= eps * np.log(60)
        assert gap < previous
        previous = gap
    plan = wot.entropic_plan(x, y, 0.1)
    np.testing.assert_allclose(plan.sum(1), 1 / 60, atol=1e-6)
    np.testing.assert_allclose(plan.sum(0), 1 / 60, atol=1e-6)


def test_plain_sinkhorn_underflow_is_reported_not_silent():
    # its own generator: the log-domain iteration at this eps needs well-behaved data to
    # converge within max_iter, so the draw must not depend on which tests ran before
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 4  # max cost ~ 60
    assert wot.sinkhorn_underflow_ratio(x, y, 0.01) > 745  # a whole row of e^{-C/eps} is 0
    with pytest.raises(RuntimeError, match="Sinkhorn"):
        wot.entropic_plan(x, y, 0.01, log_domain=False)
    plan = wot.entropic_plan(x, y, 0.01, log_domain=True)
    assert np.all(np.isfinite(plan))


def test_noise_floor_is_reproducible_and_scales_like_theory():
    def sampler(n, g):
        return g.normal(size=(n, 1))

    f1 = wot.noise_floor(sampler, n=400, repeats=3, generator=5)
    assert f1 == wot.noise_floor(sampler, n=400, repeats=3, generator=5)
    # In 1-D, W2 between two n-samples of N(0, 1) behaves like n^{-1/2} up to log factors
    # (Bobkov & Ledoux): quadrupling n roughly halves it.
    f4 = wot.noise_floor(sampler, n=1600, repeats=3, generator=6)
    assert 0.35 < f4 / f1 < 0.75
    values = wot.noise_floor_samples(sampler, n=400, repeats=3, generator=5)
    assert values.shape == (3,) and np.all(values > 0)
    assert np.median(values) == f1


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("fn", [wot.w2, wot.ot_plan, wot.w2_1d])
def test_discrete_bad_input(fn):
    x, y = RNG.normal(size=(5, 1)), RNG.normal(size=(4, 1))
    with pytest.raises(ValueError, match="a must be non-negative"):
        fn(x, y, [0.5, 0.6, -0.1, 0.0, 0.0])
    with pytest.raises(ValueError, match="b must sum to 1"):
        fn(x, y, None, [0.3, 0.3, 0.3, 0.3])
    with pytest.raises(ValueError, match=r"a must have shape \(5,\)"):
        fn(x, y, [0.5, 0.5])
    with pytest.raises(ValueError, match="x contains NaN"):
        fn(np.array([np.nan, 0, 1, 2, 3]), y)
    with pytest.raises(ValueError, match="y contains NaN or Inf"):
        fn(x, np.array([np.inf, 0, 1, 2]))
    with pytest.raises(ValueError, match="at least 1 point"):
        fn(np.zeros((0, 1)), y)
    with pytest.raises(TypeError, match="x must be array-like"):
        fn("abc", y)


def test_dimension_mismatch_and_bad_parameters():
    x, y = RNG.normal(size=(5, 2)), RNG.normal(size=(4, 3))
    with pytest.raises(ValueError, match="y must have dimension d=2"):
        wot.w2(x, y)
    with pytest.raises(ValueError, match="x must be 1-D data"):
        wot.w2_1d(x, x)
    with pytest.raises(ValueError, match="x must have shape"):
        wot.w2(np.zeros((2, 2, 2)), x)
    with pytest.raises(ValueError, match="eps must be a finite positive"):
        wot.entropic_plan(x, x, 0.0)
    with pytest.raises(ValueError, match="eps must be a finite positive"):
        wot.w2_sinkhorn(x, x, -1.0)
    with pytest.raises(TypeError, match="ppf0 must be callable"):
        wot.w2_1d_quantiles(1.0, stats.norm().ppf)
    with pytest.raises(TypeError, match="sampler must be callable"):
        wot.noise_floor(None)
    with pytest.raises(ValueError, match="n must be >= 2"):
        wot.noise_floor(lambda n, g: g.normal(size=(n, 1)), n=1)
    with pytest.raises(ValueError, match="must return n=10 points"):
        wot.noise_floor(lambda n, g: g.normal(size=(3, 1)), n=10)


def test_w2_1d_histograms_closed_forms_and_consistency():
    from scipy import stats as st_

    edges = np.linspace(-8, 8, 3201)
    a = np.diff(st_.norm(0, 1).cdf(edges))
    b = np.diff(st_.norm(0.3, 1.2).cdf(edges))
    w = wot.w2_1d_histograms(edges, a / a.sum(), b / b.sum())
    assert w == pytest.approx(np.hypot(0.3, 0.2), rel=1e-5)
    # a uniform cell moved by one cell: distance exactly one cell width
    a, b = np.zeros(4), np.zeros(4)
    a[1], b[2] = 1.0, 1.0
    assert wot.w2_1d_histograms([0.0, 1, 2, 3, 4], a, b) == pytest.approx(1.0, rel=1e-14)
    # a small shift of mass inside cells is seen (atoms at the centres would not be consistent)
    e = np.linspace(0, 1, 101)
    p = np.diff(e**2)
    q = np.diff(e**2.01)
    assert wot.w2_1d_histograms(e, p, q) > 0
    with pytest.raises(ValueError, match="edges"):
        wot.w2_1d_histograms([0.0, 0.0, 1.0], [0.5, 0.5], [0.5, 0.5])


def test_sinkhorn_underflow_ratio_is_the_row_rule():
    x = np.array([[0.0, 0.0], [1.0, 0.0]])
    y = np.array([[0.0, 0.1], [5.0, 0.0]])
    C = ((x[:, None] - y[None]) ** 2).sum(-1)
    expected = max(C.min(1).max(), C.min(0).max()) / 0.01
    assert wot.sinkhorn_underflow_ratio(x, y, 0.01) == pytest.approx(expected)
    with pytest.raises(TypeError, match="eps"):
        wot.sinkhorn_underflow_ratio(x, y, True)


def test_huge_and_special_inputs_are_handled():
    x = np.random.default_rng(0).normal(size=(6, 2))
    # 1-homogeneity at 1e200: no overflow, no "problem unbounded"
    assert wot.w2(1e200 * x, 1e200 * (x + 1.0)) == pytest.approx(1e200 * np.sqrt(2), rel=1e-9)
    assert wot.w2_1d([1e200, 2e200], [0.0, 1e200]) == pytest.approx(1e200)
    # float32 weights that sum to one in float32, and non-contiguous weights
    w32 = np.full(6, 1 / 6, dtype=np.float32)
    assert np.isfinite(wot.w2(x, x[::-1], a=w32))
    w = np.repeat(np.arange(1.0, 7.0) / 21.0, 2)[::2]
    assert not w.flags.c_contiguous
    assert np.isfinite(wot.w2(x, x, a=w, b=w)) and wot.ot_plan(x, x, a=w, b=w).shape == (6, 6)
    with pytest.raises(TypeError, match="eps"):
        wot.entropic_plan(x, x, True)
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="requires grad"):
        wot.w2(torch.zeros(3, 2, requires_grad=True), x[:3])


# --------------------------------------------------------------- many problems side by side


def test_w2_many_equals_the_loop_bit_for_bit():
    rng = np.random.default_rng(7)
    pairs = [
        (rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + 1)
        for n, m in [(30, 30), (40, 25), (1, 5), (50, 50), (20, 20)]
    ]
    loop = np.array([wot.w2(x, y) for x, y in pairs])
    for workers in (1, 2, 3):
        assert np.array_equal(wot.w2_many(pairs, workers=workers), loop)
    assert wot.w2_many([]).shape == (0,)


def test_noise_floor_samples_same_values_however_solved():
    from wgf import data, threads

    mix = data.eight_gaussians()
    threads.configure_workers(1)
    try:
        serial = wot.noise_floor_samples(mix.sample, 200, 4, generator=3)
    finally:
        threads.configure_workers(None)
    threads.configure_workers(2)
    try:
        parallel = wot.noise_floor_samples(mix.sample, 200, 4, generator=3)
    finally:
        threads.configure_workers(None)
    assert np.array_equal(serial, parallel)
    # and they are W2 between fresh draws in the order x, y, x, y, ...
    g = np.random.default_rng(3)
    first = wot.w2(mix.sample(200, g), mix.sample(200, g))
    assert serial[0] == first


def test_w2_many_bad_input():
    x = np.zeros((3, 2))
    with pytest.raises(TypeError, match="pairs"):
        wot.w2_many(5)
    with pytest.raises(ValueError, match="pairs"):
        wot.w2_many([(x,)])
    with pytest.raises(ValueError, match="workers"):
        wot.w2_many([(x, x)], workers=0)
    with pytest.raises(ValueError):
        wot.w2_many([(x, np.zeros((3, 3)))], workers=2)  # dimensions differ: raised from w2
