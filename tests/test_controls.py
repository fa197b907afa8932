"""Negative controls: each is the exact law with one known defect."""

import numpy as np
import pytest

from wgf import controls, data, schedules
from wgf.diffusion import ddim_sample, mixture_eps
from wgf.mixtures import GaussianMixture
from wgf.trajectory import Trajectory

EIGHT = data.eight_gaussians()


def test_widened_scales_every_covariance():
    w = controls.widened(EIGHT, 1.5)
    np.testing.assert_allclose(w.covs, 2.25 * EIGHT.covs)
    np.testing.assert_array_equal(w.means, EIGHT.means)
    np.testing.assert_array_equal(w.weights, EIGHT.weights)


def test_reweighted_splits_the_pair_and_keeps_the_rest():
    r = controls.reweighted(EIGHT, 0, 1, 0.6)
    np.testing.assert_allclose(r.weights[:2], [0.15, 0.1])
    np.testing.assert_allclose(r.weights[2:], 1 / 8)
    halves = controls.reweighted(EIGHT, [0, 1, 2, 3], [4, 5, 6, 7], 0.6)
    np.testing.assert_allclose(halves.weights, [0.15] * 4 + [0.1] * 4)


def test_dropped_renormalises():
    d = controls.dropped(EIGHT, [2, 5])
    assert d.n_components == 6
    np.testing.assert_allclose(d.weights, 1 / 6)
    np.testing.assert_array_equal(d.means, np.delete(EIGHT.means, [2, 5], axis=0))


def test_stopped_flow_is_the_linear_interpolation_law():
    s = controls.stopped_flow(EIGHT, 0.9)
    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal((200_000, 2)) + 0.9 * EIGHT.sample(200_000, rng)
    np.testing.assert_allclose(x.mean(0), s.mean(), atol=0.01)
    np.testing.assert_allclose(np.cov(x.T), s.cov(), atol=0.02)
    assert controls.stopped_flow(EIGHT, 1.0).covs == pytest.approx(EIGHT.covs)


def test_stopped_ou_is_the_law_of_an_exact_chain_stopped_early():
    betas = schedules.linear_betas(1000, 1e-4, 0.02)
    law = controls.stopped_ou(EIGHT, betas, 0.9)
    np.testing.assert_allclose(law.covs, EIGHT.ou(schedules.ou_times(betas)[99]).covs)
    # an exact DDIM chain of 100 steps, after 90 of them, sits at k = 100 of T = 1000
    tr = ddim_sample(mixture_eps(EIGHT, betas), betas, 100, n=4000, generator=1)
    r2 = np.sum(controls.stopped_chain(tr, 0.9) ** 2, axis=1)
    second = np.trace(law.cov()) + law.mean() @ law.mean()  # E|x|^2 of the stopped law
    ref = np.sum(law.sample(100_000, 2) ** 2, axis=1)
    assert r2.mean() == pytest.approx(second, abs=4 * ref.std() / np.sqrt(4000) + 0.01)
    full = np.sum(EIGHT.sample(100_000, 3) ** 2, axis=1).mean()
    assert abs(second - full) > 5 * ref.std() / np.sqrt(4000)  # the control is far from the data


def test_stopped_chain_needs_a_recorded_state():
    tr = Trajectory(np.linspace(0, 1, 11), np.zeros((11, 3, 2)) + np.arange(11)[:, None, None], 10)
    assert controls.stopped_chain(tr, 0.9)[0, 0] == 9
    with pytest.raises(ValueError, match="recorded state"):
        controls.stopped_chain(tr.subsample(4), 0.9)


def test_negative_controls_dict():
    c = controls.negative_controls(EIGHT)
    assert set(c) == {"wide 1.5", "wide 1.1", "weights 0.6/0.4", "mode dropped", "stopped at 90%"}
    assert all(isinstance(m, GaussianMixture) for m in c.values())


def test_bad_input():
    with pytest.raises(TypeError, match="mixture"):
        controls.widened("x", 1.5)
    with pytest.raises(ValueError, match="factor"):
        controls.widened(EIGHT, -1)
    with pytest.raises(ValueError, match="disjoint"):
        controls.reweighted(EIGHT, [0, 1], [1, 2])
    with pytest.raises(ValueError, match="share"):
        controls.reweighted(EIGHT, 0, 1, 1.5)
    with pytest.raises(ValueError, match="components"):
        controls.dropped(EIGHT, range(8))
    with pytest.raises(ValueError, match="components"):
        controls.dropped(EIGHT, 9)
    with pytest.raises(ValueError, match="t must"):
        controls.stopped_flow(EIGHT, 1.5)
    with pytest.raises(ValueError, match="betas"):
        controls.stopped_ou(EIGHT, [0.5, 1.5])
    with pytest.raises(TypeError, match="trajectory"):
        controls.stopped_chain(np.zeros((3, 2)))
