"""Property test: the public functions of the model layer (sampling, diffusion, score_matching,
flow_matching, gaussian_flows, energy_matching, mixtures, data, couplings, trajectory) on
corrupted inputs.

Every call either raises ``ValueError``/``TypeError`` (a clear error) or returns a finite
result; a valid input in float32 or as a non-contiguous view must give a finite result (no valid
input is rejected).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CORRUPTIONS, all_finite, corrupt

from wgf import couplings, data, diffusion, sampling, schedules
from wgf import energy_matching as em
from wgf import flow_matching as fm
from wgf import gaussian_flows as gf
from wgf import score_matching as sm
from wgf.trajectory import Trajectory

MIX = data.eight_gaussians()
PTS = np.random.default_rng(0).normal(size=(12, 2))
BETAS = schedules.linear_betas(20, 1e-3, 0.2)
EPS = diffusion.mixture_eps(MIX, BETAS)
SIG = schedules.ve_sigmas(0.1, 3.0, 3)
SCORE = sm.mixture_score(MIX)
VEL = gf.gaussian_ot_velocity(np.zeros(2), np.eye(2), np.ones(2), 0.5 * np.eye(2))


def _traj(a):
    return Trajectory(np.linspace(0, 1, 3), np.stack([a, a + 1, a + 2]), 3).path_energy()


# name -> (function of one array argument, a valid value of that argument)
CALLS = {
    "sampling.ode": (lambda a: sampling.ode(VEL, a, 3).samples, PTS),
    "sampling.ode(heun)": (lambda a: sampling.ode(VEL, a, 2, method="heun").samples, PTS),
    "sampling.langevin": (lambda a: sampling.langevin(MIX.score, a, 0.01, 3, 0).samples, PTS),
    "sampling.annealed_langevin(x0)": (
        lambda a: sampling.annealed_langevin(SCORE, SIG, None, 1, 0.01, 0, x0=a).samples,
        PTS,
    ),
    "sampling.annealed_langevin(sigmas)": (
        lambda a: sampling.annealed_langevin(SCORE, a, 4, 1, 0.01, 0).samples,
        SIG,
    ),
    "sampling.start": (lambda a: sampling.start(None, a, 2)[0], PTS),
    "diffusion.ddpm_sample": (lambda a: diffusion.ddpm_sample(EPS, BETAS, x0=a).samples, PTS),
    "diffusion.ddim_sample": (
        lambda a: diffusion.ddim_sample(EPS, BETAS, 4, 0.5, x0=a, generator=0).samples,
        PTS,
    ),
    "diffusion.ddpm_sample(betas)": (lambda a: diffusion.ddpm_sample(EPS, a, 3).samples, BETAS),
    "diffusion.split_sample": (
        lambda a: diffusion.split_sample(diffusion.mixture_score(MIX, BETAS), BETAS, x0=a).samples,
        PTS,
    ),
    "diffusion.ddim_step": (lambda a: diffusion.ddim_step(a, a, 0.4, 0.5), PTS),
    "diffusion.mixture_eps": (lambda a: EPS(a, 0.5), PTS),
    "diffusion.vp_velocity": (lambda a: diffusion.vp_velocity(EPS, BETAS)(a, 0.3), PTS),
    "score_matching.mixture_score": (lambda a: SCORE(a, 0.3), PTS),
    "score_matching.level_time": (lambda a: sm.level_time(a, 5.0, 0.05), np.array([0.1, 1.0])),
    "flow_matching.conditional_path": (lambda a: fm.conditional_path(a, PTS, 0.3), PTS),
    "flow_matching.euler_sample": (lambda a: fm.euler_sample(VEL, a, 2).samples, PTS),
    "gaussian_flows.gaussian_ot_velocity": (
        lambda a: gf.gaussian_ot_velocity(np.zeros(2), a, np.ones(2), np.eye(2))(PTS, 0.5),
        2 * np.eye(2),
    ),
    "gaussian_flows.gaussian_flow": (
        lambda a: gf.gaussian_flow(VEL, a, np.eye(2), steps=4).action,
        np.zeros(2),
    ),
    "energy_matching.sample_energy": (
        lambda a: em.sample_energy(lambda x: x, a, 3, 0.1, 0.1, 0).samples,
        PTS,
    ),
    "energy_matching.temperature": (lambda a: em.temperature(a), np.array([0.1, 0.9])),
    "energy_matching.flow_weight": (lambda a: em.flow_weight(a), np.array([0.1, 0.9])),
    "mixtures.GaussianMixture.score": (lambda a: MIX.score(a), PTS),
    "mixtures.GaussianMixture.log_prob": (lambda a: MIX.log_prob(a), PTS),
    "mixtures.GaussianMixture(weights)": (
        lambda a: data.GaussianMixture(a, PTS[:4], np.broadcast_to(np.eye(2), (4, 2, 2))).mean(),
        np.full(4, 0.25),
    ),
    "data.Points": (lambda a: data.Points(a).sample(5, 0), PTS),
    "couplings.minibatch_ot": (lambda a: couplings.minibatch_ot(a, PTS, 0)[1], PTS),
    "trajectory.Trajectory": (_traj, PTS),
}


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(sorted(CALLS)), st.sampled_from(CORRUPTIONS), st.integers(0, 10_000))
def test_corrupted_inputs_give_a_clear_error_or_a_finite_result(name, kind, where):
    fn_, valid = CALLS[name]
    arg = corrupt(valid, kind, where)
    if kind in ("float32", "noncontiguous"):
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
