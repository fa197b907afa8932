"""Property test: the public functions of the Part I modules (ot, geodesics, benamou_brenier,
functionals, fokker_planck, jko, entropic_jko, rates, schedules) on corrupted inputs.

Every call either raises ``ValueError``/``TypeError`` (a clear error) or returns a finite result;
a valid input in float32 or as a non-contiguous view must give a finite result (no valid input is
rejected).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CORRUPTIONS, all_finite, corrupt

from wgf import benamou_brenier as bb
from wgf import entropic_jko as ejko
from wgf import fokker_planck as fp
from wgf import functionals as fn
from wgf import geodesics as geo
from wgf import jko, rates
from wgf import ot as wot
from wgf import schedules as sch

G1 = fn.Grid((-5.0, 5.0), 40)
RHO1 = G1.normalise(np.exp(-0.5 * G1.points[..., 0] ** 2))
PTS = np.random.default_rng(0).normal(size=(12, 2))
LINE = np.sort(np.random.default_rng(1).normal(size=12))
EGRID = np.linspace(-3, 3, 25)
EP = np.exp(-(EGRID**2) / 2)
EP = EP / EP.sum()
POT = jko.quadratic_potential()
BB_RHO = np.ones(8)


def quad(x):
    return 0.5 * np.sum(x**2, axis=-1)


# name -> (function of one array argument, a valid value of that argument)
CALLS = {
    "ot.w2": (lambda a: wot.w2(a, PTS[::-1]), PTS),
    "ot.w2_1d": (lambda a: wot.w2_1d(a, LINE), LINE),
    "ot.ot_plan": (lambda a: wot.ot_plan(a, PTS), PTS),
    "ot.w2_gaussian": (lambda a: wot.w2_gaussian(a, np.eye(2), [0.0, 0.0], np.eye(2)), np.ones(2)),
    "ot.gaussian_ot_map": (
        lambda a: wot.gaussian_ot_map([0.0, 0.0], a, [1.0, 0.0], np.eye(2)),
        2 * np.eye(2),
    ),
    "ot.sqrtm_spd": (lambda a: wot.sqrtm_spd(a), np.diag([1.0, 4.0])),
    "ot.w2_sinkhorn": (lambda a: wot.w2_sinkhorn(a, PTS, 1.0), PTS),
    "ot.sinkhorn_underflow_ratio": (lambda a: wot.sinkhorn_underflow_ratio(a, PTS, 0.1), PTS),
    "ot.w2_1d_histograms": (
        lambda a: wot.w2_1d_histograms(np.linspace(0, 1, 13), a, np.full(12, 1 / 12)),
        np.full(12, 1 / 12),
    ),
    "geodesics.mccann_samples": (lambda a: geo.mccann_samples(a, PTS, 0.5).points, PTS),
    "geodesics.mccann_gaussian": (
        lambda a: geo.mccann_gaussian(a, np.eye(2), [1.0, 1.0], np.eye(2), 0.3).cov,
        np.zeros(2),
    ),
    "benamou_brenier.kinetic_action": (
        lambda a: bb.kinetic_action(a, np.zeros((1, 4, 8))),
        np.ones((5, 8)),
    ),
    "benamou_brenier.solve": (lambda a: bb.solve(a, BB_RHO, max_iter=5).action, BB_RHO),
    "functionals.entropy": (lambda a: fn.entropy(a, G1), RHO1),
    "functionals.kl": (lambda a: fn.kl(a, RHO1, G1), RHO1),
    "functionals.wasserstein_gradient": (
        lambda a: fn.wasserstein_gradient(RHO1, a, G1),
        np.log(RHO1),
    ),
    "functionals.kl_gaussian": (
        lambda a: fn.kl_gaussian(a, np.eye(2), [0.0, 0.0], np.eye(2)),
        np.ones(2),
    ),
    "functionals.fisher_gaussian": (
        lambda a: fn.fisher_gaussian([0.0, 0.0], a, [0.0, 0.0], np.eye(2)),
        2 * np.eye(2),
    ),
    "fokker_planck.solve_fokker_planck": (
        lambda a: fp.solve_fokker_planck(a, G1, quad, [0.1], 0.05),
        RHO1,
    ),
    "fokker_planck.ou_gaussian": (lambda a: fp.ou_gaussian(a, np.eye(2), 0.5)[1], np.ones(2)),
    "fokker_planck.kl_face_density": (lambda a: fp.kl_face_density(a, G1, quad)[0], RHO1),
    "jko.gaussian_jko_step": (lambda a: jko.gaussian_jko_step(a, np.eye(2), 0.1)[1], np.ones(2)),
    "jko.lagrangian_jko_step": (lambda a: jko.lagrangian_jko_step(a, 0.1, POT), LINE),
    "jko.lagrangian_energy": (lambda a: jko.lagrangian_energy(a, POT), LINE),
    "jko.lagrangian_fisher_information": (
        lambda a: jko.lagrangian_fisher_information(a, POT),
        LINE,
    ),
    "jko.particle_score": (lambda a: jko.particle_score(a), LINE),
    "entropic_jko.entropic_jko_step": (
        lambda a: ejko.entropic_jko_step(a, EGRID, 0.1, 0.5, EP),
        EP,
    ),
    "entropic_jko.grid_kl": (lambda a: ejko.grid_kl(a, EP), EP),
    "schedules.alphas_cumprod": (lambda a: sch.alphas_cumprod(a), np.linspace(1e-4, 0.02, 10)),
    "schedules.ou_times": (lambda a: sch.ou_times(a), np.linspace(1e-4, 0.02, 10)),
    "schedules.betas_from_ou_times": (
        lambda a: sch.betas_from_ou_times(a),
        np.linspace(0.01, 1.0, 10),
    ),
    "schedules.cosine_alpha_bar": (lambda a: sch.cosine_alpha_bar(a), np.linspace(0.0, 1.0, 10)),
    "schedules.vp_marginal": (lambda a: sch.vp_marginal(a), np.linspace(0.0, 1.0, 10)),
    "schedules.ve_heat_time": (lambda a: sch.ve_heat_time(a), np.linspace(0.0, 5.0, 10)),
    "rates.fit_power_law": (
        lambda a: rates.fit_power_law(a, np.arange(1.0, a.size + 1) if np.ndim(a) == 1 else a),
        np.array([1.0, 2.0, 4.0, 8.0]),
    ),
}


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(sorted(CALLS)), st.sampled_from(CORRUPTIONS), st.integers(0, 10_000))
def test_corrupted_inputs_give_a_clear_error_or_a_finite_result(name, kind, where):
    fn_, valid = CALLS[name]
    arg = corrupt(valid, kind, where)
    if kind in ("float32", "noncontiguous"):
        if kind == "noncontiguous" and np.ndim(valid) >= 1:
            assert not arg.flags.c_contiguous or arg.size <= 1
        assert all_finite(fn_(arg)), f"{name} on a valid {kind} input"
        return
    try:
        out = fn_(arg)
    except (ValueError, TypeError) as exc:
        assert str(exc), f"{name}: empty error message"
        return
    assert all_finite(out), f"{name} returned a non-finite result on {kind} input"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_valid_inputs_give_finite_results(name):
    fn_, valid = CALLS[name]
    assert all_finite(fn_(np.array(valid)))
