"""Tests of wgf.mixtures: densities, scores and the exact VP (OU) and VE (heat) marginals."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from strategies import spd_matrices

from wgf import mixtures
from wgf import ot as wot
from wgf.mixtures import GaussianMixture

RNG = np.random.default_rng(4321)


def random_spd(d, rng=RNG, scale=1.0):
    B = rng.normal(size=(d, d))
    return scale * (B @ B.T / d + 0.2 * np.eye(d))


def random_mixture(K, d, rng=RNG, spread=2.0, scale=0.5):
    w = rng.random(K) + 0.1
    return GaussianMixture(
        w / w.sum(),
        spread * rng.normal(size=(K, d)),
        np.stack([random_spd(d, rng, scale) for _ in range(K)]),
    )


def torch_log_prob(gm, x):
    """An independent torch implementation of log p (for autograd scores)."""
    comps = torch.distributions.MultivariateNormal(
        torch.from_numpy(np.array(gm.means)), covariance_matrix=torch.from_numpy(np.array(gm.covs))
    )
    lp = comps.log_prob(x[:, None, :]) + torch.log(torch.from_numpy(np.array(gm.weights)))
    return torch.logsumexp(lp, dim=1)


def autograd_score(gm, x):
    xt = torch.from_numpy(np.array(x)).requires_grad_(True)
    torch_log_prob(gm, xt).sum().backward()
    return xt.grad.numpy()


# ------------------------------------------------------------------------------ densities


@pytest.mark.parametrize("d", [1, 2, 3])
def test_single_gaussian_log_prob_matches_scipy(d):
    m, S = RNG.normal(size=d), random_spd(d)
    gm = GaussianMixture([1.0], m[None], S[None])
    x = RNG.normal(size=(50, d)) * 2
    expected = stats.multivariate_normal(m, S).logpdf(x).reshape(-1)
    np.testing.assert_allclose(gm.log_prob(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gm.prob(x), np.exp(expected), rtol=1e-12)


@pytest.mark.parametrize(("K", "d"), [(2, 1), (3, 2), (5, 3)])
def test_mixture_log_prob_matches_brute_force_sum(K, d):
    gm = random_mixture(K, d)
    x = RNG.normal(size=(40, d)) * 3
    brute = sum(
        w * stats.multivariate_normal(m, S).pdf(x).reshape(-1)
        for w, m, S in zip(gm.weights, gm.means, gm.covs, strict=True)
    )
    np.testing.assert_allclose(gm.prob(x), brute, rtol=1e-12)
    np.testing.assert_allclose(gm.log_prob(x), np.log(brute), rtol=1e-12, atol=1e-12)


def test_log_prob_is_stable_far_from_the_data():
    # p underflows to 0 at distance 60, but log p and the score stay finite and exact.
    gm = GaussianMixture([0.5, 0.5], [[0.0, 0.0], [1.0, 0.0]], np.stack([np.eye(2)] * 2))
    x = np.array([[60.0, 0.0], [-60.0, 5.0]])
    lp = gm.log_prob(x)
    assert np.all(np.isfinite(lp)) and np.all(gm.prob(x) == 0.0)
    # at x = (60, 0) the nearer component dominates: log p ~ log(1/2) - 59^2/2 - log(2π) + log1p(e^{-59.5})
    assert lp[0] == pytest.approx(np.log(0.5) - 59**2 / 2 - np.log(2 * np.pi), rel=1e-14)
    s = gm.score(x)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s[0], [-59.0, 0.0], atol=1e-12)


def test_density_integrates_to_one_on_a_grid():
    gm = GaussianMixture(
        [0.2, 0.5, 0.3],
        [[-1.0, 0.5], [1.0, -0.5], [0.0, 1.5]],
        np.stack([random_spd(2, scale=0.3) for _ in range(3)]),
    )
    g = np.linspace(-8, 8, 401)
    X, Y = np.meshgrid(g, g)
    p = gm.prob(np.stack([X.ravel(), Y.ravel()], 1))
    total = p.sum() * (g[1] - g[0]) ** 2
    assert total == pytest.approx(1.0, abs=1e-9)


def test_zero_weight_components_are_ignored():
    full = GaussianMixture([1.0, 0.0], [[0.0, 0.0], [5.0, 5.0]], np.stack([np.eye(2)] * 2))
    single = GaussianMixture([1.0], [[0.0, 0.0]], [np.eye(2)])
    x = RNG.normal(size=(20, 2)) * 3
    np.testing.assert_allclose(full.log_prob(x), single.log_prob(x), rtol=1e-14)
    np.testing.assert_allclose(full.score(x), single.score(x), rtol=1e-14, atol=1e-14)
    assert np.abs(full.sample(2000, generator=0)).max() < 6  # never from the (5, 5) component


def test_block_evaluation_matches_rowwise(monkeypatch):
    gm = random_mixture(4, 2)
    x = RNG.normal(size=(37, 2))
    lp, sc = gm.log_prob(x), gm.score(x)
    monkeypatch.setattr(mixtures, "_BLOCK_ENTRIES", 16)  # blocks of 2 points
    # equal up to round-off: the BLAS path of einsum may sum in a different order per block
    np.testing.assert_allclose(gm.log_prob(x), lp, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(gm.score(x), sc, rtol=1e-13, atol=1e-14)


def general_path(gm):
    """The same mixture, made to take the per-component path (as if its covariances differed)."""
    twin = GaussianMixture(gm.weights, gm.means, gm.covs)
    twin._shared = False
    return twin


@given(
    K=st.integers(1, 12),
    d=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    reach=st.sampled_from([1.0, 10.0, 60.0]),
)
def test_shared_covariance_path_matches_the_per_component_path(K, d, seed, reach):
    # one covariance for every component: the whitened fast path must give the same log-density
    # and score as the general one, near the modes and far from them
    rng = np.random.default_rng(seed)
    S = random_spd(d, rng, scale=rng.uniform(0.01, 2.0))
    w = rng.random(K) + 0.05
    gm = GaussianMixture(w / w.sum(), 3 * rng.normal(size=(K, d)), np.stack([S] * K))
    assert gm._shared
    x = reach * rng.normal(size=(50, d))
    ref = general_path(gm)
    lp, lp_ref = gm.log_prob(x), ref.log_prob(x)
    np.testing.assert_allclose(lp, lp_ref, rtol=1e-12, atol=1e-10)
    sc, sc_ref = gm.score(x), ref.score(x)
    np.testing.assert_allclose(sc, sc_ref, rtol=1e-9, atol=1e-9 * (1 + np.abs(sc_ref).max()))


def test_the_book_marginals_take_the_shared_path_and_distinct_covariances_do_not():
    from wgf import data

    for name in ("eight_gaussians", "two_moons"):
        mix = data.get(name)
        assert mix._shared and mix.ou(0.3)._shared and mix.smoothed(0.5)._shared
    assert not random_mixture(3, 2)._shared
    S = np.eye(2)
    assert not GaussianMixture([0.5, 0.5], [[0, 0], [1, 1]], [S, S * (1 + 1e-12)])._shared


@pytest.mark.parametrize("shared", [True, False])
def test_both_paths_raise_when_the_distance_overflows(shared):
    mix = GaussianMixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [np.eye(2), np.eye(2)])
    if not shared:
        mix = general_path(mix)
    with pytest.raises(ValueError, match="x is too far"):
        mix.score(np.array([[1e200, 0.0]]))
    assert np.all(np.isfinite(mix.score(np.array([[1e100, 0.0]]))))


# ------------------------------------------------------------------------------ scores


@pytest.mark.parametrize(("K", "d"), [(1, 1), (1, 3), (4, 2), (6, 3)])
def test_score_matches_torch_autograd_of_log_prob(K, d):
    gm = random_mixture(K, d)
    x = RNG.normal(size=(100, d)) * 2.5
    # the torch log-density is an independent implementation; check it first
    np.testing.assert_allclose(
        torch_log_prob(gm, torch.from_numpy(x)).numpy(), gm.log_prob(x), rtol=1e-11, atol=1e-11
    )
    np.testing.assert_allclose(gm.score(x), autograd_score(gm, x), rtol=1e-9, atol=1e-10)


def test_score_matches_finite_differences_of_log_prob():
    gm = random_mixture(5, 2)
    x = RNG.normal(size=(30, 2)) * 2
    h = 1e-5
    fd = np.stack(
        [(gm.log_prob(x + h * e) - gm.log_prob(x - h * e)) / (2 * h) for e in np.eye(2)], 1
    )
    np.testing.assert_allclose(gm.score(x), fd, rtol=1e-6, atol=1e-6)


@given(st.integers(1, 3).flatmap(lambda d: st.tuples(spd_matrices(d), st.just(d))), st.data())
def test_one_component_mixture_is_the_gaussian(Sd, data):
    S, d = Sd
    m = data.draw(arrays(np.float64, (d,), elements=st.floats(-3, 3)))
    x = data.draw(arrays(np.float64, (4, d), elements=st.floats(-5, 5)))
    gm = GaussianMixture([1.0], m[None], S[None])
    np.testing.assert_allclose(gm.score(x), -np.linalg.solve(S, (x - m).T).T, rtol=1e-8, atol=1e-8)
    expected = stats.multivariate_normal(m, S).logpdf(x).reshape(-1)
    np.testing.assert_allclose(gm.log_prob(x), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gm.mean(), m, atol=1e-12)
    np.testing.assert_allclose(gm.cov(), S, rtol=1e-12, atol=1e-12)


@given(st.integers(1, 3).flatmap(lambda d: spd_matrices(d)), st.floats(0, 3), st.floats(0, 2))
def test_forward_maps_of_a_gaussian_are_closed_form(S, t, sigma):
    d = S.shape[0]
    m = np.arange(1.0, d + 1)
    gm = GaussianMixture([1.0], m[None], S[None])
    ou = gm.ou(t)
    np.testing.assert_allclose(ou.means[0], np.exp(-t) * m, rtol=1e-13)
    np.testing.assert_allclose(
        ou.covs[0], np.exp(-2 * t) * S + (1 - np.exp(-2 * t)) * np.eye(d), rtol=1e-12, atol=1e-13
    )
    ve = gm.smoothed(sigma)
    np.testing.assert_allclose(ve.covs[0], S + sigma**2 * np.eye(d), rtol=1e-13)
    np.testing.assert_allclose(ve.means[0], m)


@given(st.floats(0, 2), st.floats(0, 2), st.floats(0, 1.5), st.floats(0, 1.5))
def test_forward_maps_are_semigroups(s, t, a, b):
    gm = random_mixture(3, 2, rng=np.random.default_rng(0))
    lhs, rhs = gm.ou(s).ou(t), gm.ou(s + t)
    np.testing.assert_allclose(lhs.means, rhs.means, atol=1e-13)
    np.testing.assert_allclose(lhs.covs, rhs.covs, atol=1e-12)
    lhs, rhs = gm.smoothed(a).smoothed(b), gm.smoothed(np.hypot(a, b))
    np.testing.assert_allclose(lhs.covs, rhs.covs, atol=1e-12)


# ------------------------------------------------------------------------------ moments, sampling


def test_total_moments_match_samples():
    gm = random_mixture(4, 3)
    n = 200_000
    x = gm.sample(n, generator=1)
    assert x.shape == (n, 3)
    # standard errors: sqrt(C_ii / n) for the mean; the covariance entries a few times that
    se = np.sqrt(np.diag(gm.cov()) / n)
    assert np.all(np.abs(x.mean(0) - gm.mean()) < 5 * se)
    scale = np.sqrt(np.outer(np.diag(gm.cov()), np.diag(gm.cov())))
    assert np.all(np.abs(np.cov(x.T) - gm.cov()) < 0.02 * scale)
    # component frequencies
    w = np.array([0.7, 0.3])
    two = GaussianMixture(w, [[-10.0], [10.0]], [[[1.0]], [[1.0]]])
    frac = np.mean(two.sample(100_000, generator=2)[:, 0] > 0)
    assert abs(frac - 0.3) < 5 * np.sqrt(0.21 / 100_000)


def test_sampling_is_reproducible():
    gm = random_mixture(3, 2)
    np.testing.assert_array_equal(gm.sample(100, generator=7), gm.sample(100, generator=7))
    np.testing.assert_array_equal(gm.sample(100), gm.sample(100))  # None: the book's seed
    g = np.random.default_rng(3)
    first, second = gm.sample(100, g), gm.sample(100, g)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, gm.sample(100, np.random.default_rng(3)))
    assert not np.array_equal(gm.sample(100, generator=7), gm.sample(100, generator=8))


# ------------------------------------------------------------------------------ marginals vs simulation

# A bimodal, anisotropic target for the simulation checks.
TARGET = GaussianMixture(
    [0.3, 0.7],
    [[-2.0, 1.0], [1.5, -0.5]],
    [[[0.3, 0.1], [0.1, 0.2]], [[0.1, -0.05], [-0.05, 0.4]]],
)
N_W2 = 1000  # sample size for the W2 checks (exact OT, ~0.15 s per pair)


def _w2_check(simulated, exact, seed):
    """W2 between a simulation and samples of the exact law, and the noise floor of the latter."""
    dist = wot.w2(simulated, exact.sample(N_W2, generator=seed))
    floor = wot.noise_floor(exact.sample, n=N_W2, repeats=3, generator=seed + 1)
    return dist, floor


# Null distribution of dist / floor at N_W2 = 1000 for TARGET.smoothed(0.2) over 40 seeds:
# median 1.03, 95 % quantile 2.07, maximum 2.25 (the two modes' sampled weights dominate the
# fluctuation).  The W2 check is therefore coarse; the cross-entropy z-score below is sharp.
W2_TOL = 2.5


def _cross_entropy_z(simulated, exact, rng):
    """z-score of E_sim[-log q] - E_q[-log q], both Monte Carlo means (0 in law when sim ~ q).

    With 1e5 samples it flags sigma off by 10 % (z ~ 8) and OU time 0.1 vs 0.11 (z ~ 7).
    """
    n = simulated.shape[0]
    ce = -exact.log_prob(simulated)
    ent = -exact.log_prob(exact.sample(n, generator=rng))
    return (ce.mean() - ent.mean()) / np.sqrt((ce.var() + ent.var()) / n)


@pytest.mark.parametrize("t", [0.1, 0.5, 1.5])
def test_ou_marginal_matches_exact_ou_transition(t):
    rng = np.random.default_rng(int(10 * t))
    exact = TARGET.ou(t)
    # exact moments: E X_t = e^{-t} E X_0, Cov X_t = e^{-2t} Cov X_0 + (1 - e^{-2t}) I
    np.testing.assert_allclose(exact.mean(), np.exp(-t) * TARGET.mean(), rtol=1e-13)
    np.testing.assert_allclose(
        exact.cov(), np.exp(-2 * t) * TARGET.cov() + (1 - np.exp(-2 * t)) * np.eye(2), atol=1e-13
    )
    # simulate X_t = e^{-t} X_0 + sqrt(1 - e^{-2t}) Z from samples of X_0
    x0 = TARGET.sample(N_W2, generator=rng)
    xt = np.exp(-t) * x0 + np.sqrt(1 - np.exp(-2 * t)) * rng.standard_normal(x0.shape)
    dist, floor = _w2_check(xt, exact, seed=int(100 * t))
    assert dist < W2_TOL * floor, (dist, floor)
    # a sharper statistic on many samples
    x0 = TARGET.sample(100_000, generator=rng)
    xt = np.exp(-t) * x0 + np.sqrt(1 - np.exp(-2 * t)) * rng.standard_normal(x0.shape)
    assert abs(_cross_entropy_z(xt, exact, rng)) < 4


def test_ou_marginal_matches_euler_maruyama():
    t, steps = 0.8, 200
    rng = np.random.default_rng(11)
    x = TARGET.sample(N_W2, generator=rng)
    dt = t / steps
    for _ in range(steps):
        x = x - x * dt + np.sqrt(2 * dt) * rng.standard_normal(x.shape)
    # Euler-Maruyama has an O(dt) bias (stationary variance 2 / (2 - dt)), so only W2 here
    dist, floor = _w2_check(x, TARGET.ou(t), seed=12)
    assert dist < W2_TOL * floor, (dist, floor)


@pytest.mark.parametrize("sigma", [0.2, 1.0])
def test_smoothed_matches_added_noise(sigma):
    rng = np.random.default_rng(int(10 * sigma) + 50)
    exact = TARGET.smoothed(sigma)
    np.testing.assert_allclose(exact.mean(), TARGET.mean(), atol=1e-14)
    np.testing.assert_allclose(exact.cov(), TARGET.cov() + sigma**2 * np.eye(2), atol=1e-13)
    x = TARGET.sample(N_W2, generator=rng)
    x = x + sigma * rng.standard_normal(x.shape)
    dist, floor = _w2_check(x, exact, seed=int(10 * sigma) + 60)
    assert dist < W2_TOL * floor, (dist, floor)
    x = TARGET.sample(100_000, generator=rng)
    x = x + sigma * rng.standard_normal(x.shape)
    assert abs(_cross_entropy_z(x, exact, rng)) < 4


def test_time_conventions_solve_the_pdes():
    # OU: d/dt p = div(x p) + Δp ; VE: d/dt p = Δp at heat time t = σ²/2.  Finite differences
    # in time and space of the closed-form marginals.
    x = RNG.normal(size=(25, 2)) * 1.5
    h, k = 1e-3, 1e-4

    def laplacian(p):
        return sum((p(x + h * e) - 2 * p(x) + p(x - h * e)) / h**2 for e in np.eye(2))

    t = 0.4
    dpdt = (TARGET.ou(t + k).prob(x) - TARGET.ou(t - k).prob(x)) / (2 * k)
    p = TARGET.ou(t)
    grad_p = p.prob(x)[:, None] * p.score(x)
    rhs = 2 * p.prob(x) + np.sum(x * grad_p, 1) + laplacian(p.prob)
    np.testing.assert_allclose(dpdt, rhs, atol=1e-5 * np.abs(dpdt).max())

    sigma = 0.7
    t = sigma**2 / 2
    dpdt = (
        TARGET.smoothed(np.sqrt(2 * (t + k))).prob(x)
        - TARGET.smoothed(np.sqrt(2 * (t - k))).prob(x)
    ) / (2 * k)
    np.testing.assert_allclose(
        dpdt, laplacian(TARGET.smoothed(sigma).prob), atol=1e-5 * np.abs(dpdt).max()
    )


def test_ou_tends_to_standard_normal_and_starts_at_identity():
    far = TARGET.ou(25.0)
    x = RNG.normal(size=(50, 2)) * 2
    np.testing.assert_allclose(
        far.log_prob(x), stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(x), atol=1e-9
    )
    np.testing.assert_allclose(far.score(x), -x, atol=1e-9)
    same = TARGET.ou(0.0)
    assert same is not TARGET
    for attr in ("weights", "means", "covs"):
        np.testing.assert_array_equal(getattr(same, attr), getattr(TARGET, attr))
        np.testing.assert_array_equal(getattr(TARGET.smoothed(0), attr), getattr(TARGET, attr))


def test_attributes_and_repr():
    assert TARGET.dim == 2 and TARGET.n_components == 2
    assert repr(TARGET) == "GaussianMixture(n_components=2, dim=2)"
    assert TARGET.means.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        TARGET.means[0, 0] = 1.0


# ------------------------------------------------------------------------------ bad input

EYE2 = np.stack([np.eye(2)] * 2)
MEANS = np.zeros((2, 2))


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        (([0.5, 0.6], MEANS, EYE2), ValueError, "weights must sum to 1"),
        (([1.5, -0.5], MEANS, EYE2), ValueError, "weights must be non-negative"),
        (([1.0], MEANS, EYE2), ValueError, r"weights must have shape \(2,\)"),
        (([np.nan, 0.5], MEANS, EYE2), ValueError, "weights contains NaN"),
        (([0.5, 0.5], np.zeros(2), EYE2), ValueError, r"means must have shape \(K, d\)"),
        (([0.5, 0.5], np.zeros((2, 0)), EYE2), ValueError, r"means must have shape \(K, d\)"),
        (([0.5, 0.5], [[0, np.inf], [0, 0]], EYE2), ValueError, "means contains NaN or Inf"),
        (([0.5, 0.5], MEANS, np.eye(2)), ValueError, r"covs must have shape \(K, d, d\)"),
        (([0.5, 0.5], MEANS, np.stack([np.eye(3)] * 2)), ValueError, "covs must have shape"),
        (
            ([0.5, 0.5], MEANS, [np.eye(2), [[1, 2], [0, 1]]]),
            ValueError,
            r"covs\[1\] must be symmetric",
        ),
        (
            ([0.5, 0.5], MEANS, [[[1, 0], [0, -1]], np.eye(2)]),
            ValueError,
            r"covs\[0\] must be positive definite",
        ),
        (
            ([0.5, 0.5], MEANS, [np.zeros((2, 2)), np.eye(2)]),
            ValueError,
            r"covs\[0\] must be positive definite",
        ),
        (([0.5, 0.5], MEANS, np.full((2, 2, 2), np.nan)), ValueError, "covs contains NaN"),
        (("ab", MEANS, EYE2), TypeError, "weights must be array-like"),
        (([0.5, 0.5], MEANS, "x"), TypeError, "covs must be array-like"),
    ],
)
def test_constructor_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        GaussianMixture(*args)


def test_method_bad_input():
    gm = TARGET
    for method in (gm.log_prob, gm.prob, gm.score):
        with pytest.raises(ValueError, match="x must have dimension d=2"):
            method(np.zeros((3, 3)))
        with pytest.raises(ValueError, match="x contains NaN"):
            method([[np.nan, 0.0]])
        with pytest.raises(ValueError, match="x must have shape"):
            method(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="t must be a finite non-negative"):
        gm.ou(-0.1)
    with pytest.raises(ValueError, match="t must be a finite non-negative"):
        gm.ou(np.inf)
    with pytest.raises(TypeError, match="t must be a real number"):
        gm.ou("soon")
    with pytest.raises(ValueError, match="sigma must be a finite non-negative"):
        gm.smoothed(-1.0)
    with pytest.raises(ValueError, match="sigma must be a finite non-negative"):
        gm.smoothed(np.nan)
    with pytest.raises(TypeError, match="sigma must be a real number"):
        gm.smoothed(True)
    with pytest.raises(ValueError, match="n must be >= 1"):
        gm.sample(0)
    with pytest.raises(TypeError, match="n must be an integer"):
        gm.sample(2.5)
    with pytest.raises(TypeError, match="generator must be"):
        gm.sample(3, generator=1.5)


# ------------------------------------------------------------------------------ 1-D cdf / ppf


def test_cdf_and_ppf_of_a_1d_mixture():
    g = GaussianMixture([0.3, 0.7], [[-2.0], [1.5]], [[[0.3]], [[0.5]]])
    x = np.linspace(-6, 6, 41)
    expected = 0.3 * stats.norm(-2, np.sqrt(0.3)).cdf(x) + 0.7 * stats.norm(1.5, np.sqrt(0.5)).cdf(
        x
    )
    np.testing.assert_allclose(g.cdf(x), expected, rtol=1e-13, atol=1e-300)
    u = np.array([1e-12, 1e-3, 0.2, 0.5, 0.8, 1 - 1e-3, 1 - 1e-10])
    q = g.ppf(u)
    assert np.all(np.diff(q) > 0)
    tail = np.minimum(u, 1 - u)
    np.testing.assert_array_less(np.abs(g.cdf(q) - u) / tail, 1e-9)
    one = GaussianMixture([1.0], [[1.0]], [[[4.0]]])
    np.testing.assert_allclose(one.ppf(u), stats.norm(1, 2).ppf(u), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="u must lie"):
        g.ppf([0.0, 0.5])
    with pytest.raises(ValueError, match="1-D mixtures"):
        GaussianMixture([1.0], [[0.0, 0.0]], [np.eye(2)]).cdf([[0.0, 0.0]])


def test_score_far_away_raises_instead_of_nan():
    mix = GaussianMixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [np.eye(2), np.eye(2)])
    with pytest.raises(ValueError, match="x is too far"):
        mix.score(np.array([[1e200, 0.0]]))
    assert np.all(np.isfinite(mix.score(np.array([[1e100, 0.0]]))))


def test_float32_and_noncontiguous_weights_are_accepted():
    w32 = np.full(10, 0.1, dtype=np.float32)  # sums to 1 only within float32 rounding
    mix = GaussianMixture(w32, np.zeros((10, 2)), np.broadcast_to(np.eye(2), (10, 2, 2)))
    assert mix.weights.dtype == np.float64 and abs(mix.weights.sum() - 1) < 1e-15
    w = np.array([0.1, 0.2, 0.3, 0.4])[::-1]
    mix = GaussianMixture(w, np.zeros((4, 1)), np.ones((4, 1, 1)))
    np.testing.assert_array_equal(mix.weights, w)
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture(np.full(10, 0.1001), np.zeros((10, 1)), np.ones((10, 1, 1)))


def test_smoothed_with_an_overflowing_sigma_is_a_value_error():
    with pytest.raises(ValueError, match="sigma must be at most"):
        GaussianMixture([1.0], [[0.0]], [[[1.0]]]).smoothed(1e200)
