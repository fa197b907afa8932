r"""DDPM and DDIM: noise prediction, ancestral and deterministic samplers, and the zoo models.

.. rubric:: Conventions

Inside this module DDPM's own index is used :cite:p:`ho2020denoising`: :math:`k = 0` is the
data and :math:`k = T` the (almost) pure noise; ``betas[k - 1]`` is :math:`\beta_k` and
:math:`\bar\alpha_k = \prod_{j \le k}(1 - \beta_j) = e^{-2 t_k}`, where :math:`t_k` is the
Ornstein-Uhlenbeck (OU) time of step :math:`k` (:func:`wgf.schedules.ou_times`), so that

.. math::

    x_k = \sqrt{\bar\alpha_k}\, x_0 + \sqrt{1 - \bar\alpha_k}\, \varepsilon,
    \qquad \varepsilon \sim \mathcal N(0, I).

A noise predictor is a numpy callable ``eps(x, t)`` with ``x`` of shape (n, d) and the
*network time* :math:`t = k / T \in (0, 1]`.  By Tweedie's formula :cite:p:`efron2011tweedie`
the optimal predictor is :math:`\varepsilon^*(x, k) = \mathbb E[\varepsilon \mid x_k = x]
= -\sqrt{1 - \bar\alpha_k}\, \nabla \log \rho_k(x)`, with :math:`\rho_k` the law of
:math:`x_k` (:func:`mixture_eps` gives it exactly for a Gaussian mixture).  The samplers return
a :class:`~wgf.trajectory.Trajectory` in the **book's** time :math:`s = 1 - k / T`: the prior at
:math:`s = 0`, the data at :math:`s = 1`.

.. rubric:: Samplers

Both samplers run on an evenly spaced subsequence :math:`0 = k_0 < k_1 < \dots < k_S = T`,
:math:`k_i = \operatorname{round}(iT/S)` (all steps when :math:`S = T`).  From :math:`k = k_i` to
:math:`p = k_{i-1}`, with :math:`\hat x_0 = (x - \sqrt{1 - \bar\alpha_k}\,\hat\varepsilon) /
\sqrt{\bar\alpha_k}`:

* DDIM :cite:p:`song2021denoising` (:func:`ddim_step`):
  :math:`x_p = \sqrt{\bar\alpha_p}\, \hat x_0 + c_1 z + c_2 \hat\varepsilon` with
  :math:`c_1 = \eta \sqrt{(1 - \bar\alpha_k / \bar\alpha_p)(1 - \bar\alpha_p)/(1 - \bar\alpha_k)}`,
  :math:`c_2 = \sqrt{1 - \bar\alpha_p - c_1^2}`; :math:`\eta = 0` is deterministic (a
  discretisation of the probability-flow ODE :cite:p:`song2021score`).
* DDPM ancestral sampling :cite:p:`ho2020denoising` with :math:`\sigma_k^2 = \beta_k`, on the
  subsequence with the respaced :math:`\beta'_i = 1 - \bar\alpha_{k_i} / \bar\alpha_{k_{i-1}}`
  :cite:p:`nichol2021improved` (for :math:`S = T` this is Ho et al.'s Algorithm 2):
  :math:`x_p = (x - \beta'/\sqrt{1 - \bar\alpha_k}\,\hat\varepsilon)/\sqrt{1 - \beta'} +
  \sqrt{\beta'}\, z`, without noise in the last step.

:func:`split_sample` runs the DDPM step split into its two halves, a probability-flow (inverse
JKO) transport and one Langevin step, with a score oracle (chapter 6).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from . import nets, sampling, schedules, train
from ._checks import as_float_array, positive, positive_int, unit_interval
from .mixtures import GaussianMixture, as_mixture
from .trajectory import Trajectory

__all__ = [
    "DDIM",
    "DDPM",
    "LONGER",
    "ddim_sample",
    "ddim_step",
    "ddpm_sample",
    "mixture_eps",
    "mixture_score",
    "ou_clock",
    "split_sample",
    "timesteps",
    "vp_velocity",
]

_VARIANCES = ("large", "fixed_small")


def _betas(betas) -> np.ndarray:
    b = as_float_array(betas, "betas")
    if b.ndim != 1 or b.size < 1 or np.any(b <= 0) or np.any(b >= 1):
        raise ValueError("betas must be a non-empty 1-D array with entries in (0, 1)")
    return b


def ou_clock(betas):
    r"""The OU time :math:`\tau(s)` of the continuous network time :math:`s = k/T \in [0, 1]`.

    :math:`\tau(k/T) = t_k = -\tfrac12\log\bar\alpha_k` exactly on the grid
    (:func:`wgf.schedules.ou_times`, :math:`t_0 = 0`), linear in between.  Returns
    ``(tau, dtau)``: callables giving :math:`\tau(s)` and its (piecewise constant) derivative
    :math:`\tau'(s) = T\,\Delta t_k` on :math:`((k-1)/T, k/T]`.
    """
    betas = _betas(betas)
    T = betas.size
    nodes = np.concatenate([[0.0], schedules.ou_times(betas)])
    slopes = T * np.diff(nodes)

    def tau(s):
        return float(np.interp(s, np.arange(T + 1) / T, nodes))

    def dtau(s):
        return float(slopes[min(max(int(np.ceil(s * T - 1e-9)), 1), T) - 1])

    return tau, dtau


def timesteps(T: int, steps: int) -> np.ndarray:
    r"""The evenly spaced subsequence :math:`0 = k_0 < k_1 < \dots < k_S = T`, ``S = steps``.

    :math:`k_i = \operatorname{round}(iT/S)`; ``steps == T`` gives every step.  Returns an int
    array of shape (steps + 1,).  ``steps`` must lie in [1, T].
    """
    T = positive_int(T, "T")
    steps = positive_int(steps, "steps")
    if steps > T:
        raise ValueError(f"steps must be at most T={T}, got {steps}")
    return np.round(np.arange(steps + 1) * (T / steps)).astype(int)


def mixture_score(mixture, betas):
    r"""Exact score oracle ``score(x, s)`` of the DDPM marginals of a Gaussian mixture.

    :math:`\nabla\log\rho(s)` with :math:`\rho(s)` = ``mixture.ou(tau(s))`` and :math:`\tau`
    the OU clock of :func:`ou_clock`: exactly :math:`\rho_k` at :math:`s = k/T` (:math:`k = 0`,
    the data itself, allowed), the exact OU marginal in between.  Marginals are cached.
    """
    as_mixture(mixture)
    betas = _betas(betas)
    T = betas.size
    times = np.concatenate([[0.0], schedules.ou_times(betas)])  # times[k] = t_k
    tau, _ = ou_clock(betas)
    laws: dict[float, GaussianMixture] = {}

    def law_at(s):
        k = round(s * T)
        t = times[k] if abs(s * T - k) <= 1e-6 * max(1, T) else tau(s)
        if t not in laws:
            if len(laws) > 2048:
                laws.clear()
            laws[t] = mixture.ou(t)
        return laws[t], t

    def score(x, t):
        return law_at(sampling.unit_time(t))[0].score(x)

    score.law_at = law_at
    return score


def mixture_eps(mixture, betas):
    r"""Exact noise predictor (Tweedie) for a Gaussian mixture: ``eps(x, s)``, :math:`s = k/T`.

    .. math::

        \varepsilon^*(x, s) = \mathbb E[\varepsilon \mid x_s = x]
        = -\sqrt{1 - \bar\alpha(s)}\; \nabla\log\rho(s)(x), \qquad
        \bar\alpha(s) = e^{-2\tau(s)},

    with :math:`\tau` the OU clock of :func:`ou_clock` (on the grid :math:`s = k/T`,
    :math:`\bar\alpha_k` of :func:`wgf.schedules.alphas_cumprod`); :math:`s \in (0, 1]`.
    """
    betas = _betas(betas)
    T = betas.size
    sd = np.sqrt(1.0 - schedules.alphas_cumprod(betas))
    score = mixture_score(mixture, betas)

    def eps(x, t):
        s = sampling.unit_time(t)
        if s <= 0:
            raise ValueError("t must lie in (0, 1] (t = 0 is the data, where eps is undefined)")
        law, tau = score.law_at(s)
        k = round(s * T)
        on_grid = abs(s * T - k) <= 1e-6 * max(1, T)
        return -(sd[k - 1] if on_grid else np.sqrt(-np.expm1(-2.0 * tau))) * law.score(x)

    return eps


def vp_velocity(eps, betas, *, s_min=None):
    r"""The probability-flow velocity on the book clock :math:`t = 1 - s` of a noise predictor.

    With :math:`\tau(s)` the OU clock (:func:`ou_clock`) and the score
    :math:`\nabla\log\rho(s) = -\hat\varepsilon(x, s)/\sqrt{1 - \bar\alpha(s)}`, the reverse of
    the probability-flow ODE :math:`dx/d\tau = -x - \nabla\log\rho_\tau(x)`
    :cite:p:`song2021score` is, in book time,

    .. math::

        \frac{dx}{dt} = \tau'(s)\,\Bigl(x - \frac{\hat\varepsilon(x, s)}{\sqrt{1-\bar\alpha(s)}}
        \Bigr), \qquad s = 1 - t,

    which carries :math:`\rho_T \approx \mathcal N(0, I)` at :math:`t = 0` to the data at
    :math:`t = 1`.  ``eps`` is any callable ``eps(x, s)`` (a network or :func:`mixture_eps`);
    below ``s_min`` (default :math:`1/T`, the smallest noise level of the chain) it is
    evaluated at ``s_min``, where the score is still defined.
    """
    betas = _betas(betas)
    T = betas.size
    tau, dtau = ou_clock(betas)
    s_min = 1.0 / T if s_min is None else positive(s_min, "s_min")
    f = sampling.Field(eps, "eps", model="probability flow")

    def velocity(x, t):
        s = max(1.0 - unit_interval(t, "t"), s_min)
        sd = np.sqrt(-np.expm1(-2.0 * tau(s)))
        return dtau(s) * (x - f(x, s) / sd)

    return velocity


def ddim_step(x, eps_hat, abar, abar_prev, eta=0.0, z=None) -> np.ndarray:
    r"""One DDIM update from :math:`\bar\alpha` (``abar``) to :math:`\bar\alpha_p` (``abar_prev``).

    .. math::

        \hat x_0 = \frac{x - \sqrt{1-\bar\alpha}\,\hat\varepsilon}{\sqrt{\bar\alpha}}, \qquad
        x_p = \sqrt{\bar\alpha_p}\,\hat x_0 + c_1 z + c_2\hat\varepsilon,

    :math:`c_1 = \eta\sqrt{(1 - \bar\alpha/\bar\alpha_p)(1 - \bar\alpha_p)/(1 - \bar\alpha)}`,
    :math:`c_2 = \sqrt{1 - \bar\alpha_p - c_1^2}` :cite:p:`song2021denoising`; ``z`` (standard
    normal, shape of ``x``) is needed only when :math:`c_1 > 0`.
    """
    eta = unit_interval(eta, "eta")
    abar, abar_prev = positive(abar, "abar"), positive(abar_prev, "abar_prev")
    if not (abar < abar_prev <= 1.0):
        raise ValueError(f"need 0 < abar < abar_prev <= 1, got abar={abar}, abar_prev={abar_prev}")
    x = as_float_array(x, "x")
    eps_hat = as_float_array(eps_hat, "eps_hat")
    if eps_hat.shape != x.shape:
        raise ValueError(f"eps_hat must have the shape of x, {x.shape}, got {eps_hat.shape}")
    x0 = (x - np.sqrt(1.0 - abar) * eps_hat) / np.sqrt(abar)
    c1 = eta * np.sqrt((1.0 - abar / abar_prev) * (1.0 - abar_prev) / (1.0 - abar))
    c2 = np.sqrt(max(1.0 - abar_prev - c1 * c1, 0.0))
    out = np.sqrt(abar_prev) * x0 + c2 * eps_hat
    if c1 > 0:
        if z is None:
            raise ValueError("z (standard normal noise) is required when eta > 0")
        z = as_float_array(z, "z")
        if z.shape != x.shape:
            raise ValueError(f"z must have the shape of x, {x.shape}, got {z.shape}")
        out = out + c1 * z
    return out


def _setup(eps, betas, n, steps, generator, x0, dim, model, name="eps"):
    f = sampling.Field(eps, name, model=model)
    betas = _betas(betas)
    T = betas.size
    ks = timesteps(T, T if steps is None else steps)
    x, rng = sampling.start(n, x0, dim if x0 is None else None, generator)
    abar = np.concatenate([[1.0], schedules.alphas_cumprod(betas)])  # abar[k], k = 0..T
    times = 1.0 - ks[::-1] / T  # book time of the states, prior first
    return f, T, ks, rng, x, abar, times


def ddpm_sample(
    eps, betas, n=None, steps=None, generator=None, *, keep=None, x0=None, dim=2,
    variance="large", model="DDPM",
):  # fmt: skip
    r"""DDPM ancestral sampling :cite:p:`ho2020denoising`.

    .. math::

        x_{p} = \frac{1}{\sqrt{1-\beta'}}\Bigl(x_k - \frac{\beta'}{\sqrt{1-\bar\alpha_k}}
        \,\hat\varepsilon(x_k, k/T)\Bigr) + \sigma\, z, \qquad
        \beta' = 1 - \bar\alpha_k / \bar\alpha_p,

    over the subsequence of :func:`timesteps` (``steps=None``: all ``T`` steps, where
    :math:`\beta' = \beta_k`); no noise is added in the last step.  ``variance="large"`` is
    :math:`\sigma^2 = \beta'`, ``"fixed_small"`` the posterior variance
    :math:`\sigma^2 = \tilde\beta = \beta'(1-\bar\alpha_p)/(1-\bar\alpha_k)` (Ho et al.'s two
    choices).

    Parameters
    ----------
    eps : callable
        ``eps(x, s)``, :math:`s = k/T`.
    betas : array_like, shape (T,)
    n : int
        number of samples (``None`` or ``len(x0)`` when ``x0`` is given).
    steps : int, optional
        number of steps S in [1, T] (network evaluations).
    generator : None, int or numpy.random.Generator
    keep : int, optional
        states recorded (evenly spread, endpoints included); default all.
    x0 : array (n, d), optional
        starting noise :math:`x_T` (default standard normal of dimension ``dim``).
    variance : {"large", "fixed_small"}
    model : str
        named in error messages.

    Returns
    -------
    Trajectory
        in book time :math:`t = 1 - k/T` (prior at 0, data at 1), ``nfe = S``.
    """
    if variance not in _VARIANCES:
        raise ValueError(f"variance must be one of {_VARIANCES}, got {variance!r}")
    f, T, ks, rng, x, abar, times = _setup(eps, betas, n, steps, generator, x0, dim, model)
    S = ks.size - 1

    def step(j, x):
        i = S - j
        k, p = ks[i], ks[i - 1]
        b = 1.0 - abar[k] / abar[p]
        e = f(x, k / T)
        mean = (x - b / np.sqrt(1.0 - abar[k]) * e) / np.sqrt(1.0 - b)
        if i == 1:
            return mean
        var = b if variance == "large" else b * (1.0 - abar[p]) / (1.0 - abar[k])
        return mean + np.sqrt(var) * rng.standard_normal(x.shape)

    return sampling.run(step, x, times, keep=keep, fields=[f], model=model)


def ddim_sample(
    eps, betas, steps, eta=0.0, n=None, generator=None, *, keep=None, x0=None, dim=2, model="DDIM"
):
    r"""DDIM sampling :cite:p:`song2021denoising` on ``steps`` evenly spaced timesteps.

    Each step is :func:`ddim_step` from :math:`\bar\alpha_{k_i}` to :math:`\bar\alpha_{k_{i-1}}`
    (:func:`timesteps`); :math:`\eta = 0` is deterministic, :math:`\eta = 1` has the DDPM
    posterior variance :math:`\tilde\beta`.  Arguments as in :func:`ddpm_sample`; ``eta`` in
    [0, 1].  Returns a Trajectory in book time (prior at 0, data at 1), ``nfe = steps``.
    """
    eta = unit_interval(eta, "eta")
    if steps is None:
        raise ValueError("steps must be an integer in [1, T], got None")
    f, T, ks, rng, x, abar, times = _setup(eps, betas, n, steps, generator, x0, dim, model)
    S = ks.size - 1

    def step(j, x):
        i = S - j
        k, p = ks[i], ks[i - 1]
        e = f(x, k / T)
        z = rng.standard_normal(x.shape) if eta > 0 and p > 0 else None
        return ddim_step(x, e, abar[k], abar[p], eta if p > 0 else 0.0, z)

    return sampling.run(step, x, times, keep=keep, fields=[f], model=model)


def split_sample(score, betas, n=None, generator=None, *, keep=None, x0=None, dim=2):
    r"""The DDPM step split into a transport (inverse-JKO) step and a Langevin step.

    With :math:`\Delta t_k = -\tfrac12\log(1-\beta_k)` (the OU time of step k), each step is

    .. math::

        y = x + \Delta t_k\,\bigl(x + \nabla\log\rho_k(x)\bigr), \qquad
        x_{k-1} = y + \Delta t_k \nabla\log\rho_{k-1}(y) + \sqrt{2\Delta t_k}\, z,

    the probability-flow Euler step (the inverse JKO map of chapter 4) from :math:`\rho_k`
    towards :math:`\rho_{k-1}`, then one unadjusted Langevin step
    (:func:`wgf.sampling.langevin_step`) that leaves :math:`\rho_{k-1}` invariant to first
    order.  ``score(x, s)`` with :math:`s = k/T`, :math:`k = 0, \dots, T` (e.g.
    :func:`mixture_score`).  ``nfe = 2T``; book time as above.
    """
    f, T, _, rng, x, _, times = _setup(
        score, betas, n, None, generator, x0, dim, "split sampler", "score"
    )
    dts = -0.5 * np.log1p(-_betas(betas))

    def step(j, x):
        i = T - j
        dt = dts[i - 1]
        y = x + dt * (x + f(x, i / T))
        return sampling.langevin_step(y, f(y, (i - 1) / T), dt, rng)

    return sampling.run(step, x, times, keep=keep, fields=[f], model=f.model)


# --------------------------------------------------------------------------------------------
# zoo models
# --------------------------------------------------------------------------------------------


#: Overrides of the DDPM defaults for a longer training (``zoo.get("ddpm", target, seed,
#: **LONGER)``; ``"ddim"`` samples the same network): three times the optimiser steps at the same
#: batch, learning rate and network.  The seeds appendix of the book measures what it buys on
#: ``eight_gaussians``: with ancestral (1000 steps) or DDIM (200 steps) sampling the network
#: still fails the component test on some seed, kept out by the mass it leaves between the modes.
LONGER: dict = {"steps": 15000}


class DDPM(sampling.Model):
    r"""A DDPM :cite:p:`ho2020denoising` on a target (zoo name ``"ddpm"``).

    ``target``: a dataset name, a :class:`~wgf.mixtures.GaussianMixture` or data points (see
    :func:`wgf.data.resolve`).  ``defaults``: the schedule (``T``, ``beta_start``, ``beta_end``:
    linear), the :class:`~wgf.nets.TimeMLP` (``hidden``, ``depth``, ``embed_dim``), and training
    (``steps``, ``batch``, ``lr``, ``lr_decay``, ``grad_clip``, ``ema``, ``log_k_fraction``).
    Training minimises the simple loss

    .. math::

        \mathcal L(\theta) = \mathbb E_{k\sim\pi, x_0, \varepsilon}\,
        \bigl|\varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_k}\,x_0
        + \sqrt{1-\bar\alpha_k}\,\varepsilon,\; k/T)\bigr|^2,
        \qquad \pi = (1 - f)\,\mathcal U\{1, \dots, T\} + f\,\pi_{\log},

    where a fraction :math:`f` = ``log_k_fraction`` of each batch draws
    :math:`k = \lceil T^{u}\rceil`, :math:`u \sim \mathcal U[0, 1]` (log-uniform: as many
    draws in :math:`k \in [1, 10]` as in :math:`[100, 1000]`).  ``f = 0`` is Ho et al.'s
    uniform :math:`k`.  Any law :math:`\pi` of :math:`k` with full support only reweights the
    noise levels, so the minimiser is still :math:`\varepsilon^*`; the log-uniform part puts
    more of the batch at small noise, where the target :math:`\varepsilon^*` is a small
    signal under unit-variance noise and uniform :math:`k` leaves its gradient too noisy.

    .. rubric:: Clock

    The network's time input is :math:`s = k/T` (:math:`k = 0` data, :math:`k = T` noise); the
    book's clock is :math:`t = 1 - s`.  :meth:`field` is the probability-flow velocity
    (:func:`vp_velocity`) on that clock; :meth:`sample` is ancestral sampling
    (:func:`ddpm_sample`; with ``steps < T`` the respaced chain) from ``x0`` (:math:`x_T`).
    """

    sampling_only: ClassVar[tuple] = ("wgf.sampling", "wgf.trajectory")
    defaults: ClassVar[dict] = {
        "T": 1000,
        "beta_start": 1e-4,
        "beta_end": 0.02,
        "hidden": 128,
        "depth": 3,
        "embed_dim": 32,
        "steps": 5000,
        "batch": 1024,
        "lr": 3e-3,
        "lr_decay": True,
        "grad_clip": 1.0,
        "ema": 0.998,  # binds from step 4490 (wgf.train.ema_binds_from): the last ~500 steps
        "log_k_fraction": 0.5,
    }

    def __init__(self, target, config: dict, seed: int, *, name=None):
        self._init_target(target, name)
        self.config = c = dict(config)
        self.seed = int(seed)
        self.betas = schedules.linear_betas(c["T"], c["beta_start"], c["beta_end"])
        self.alphas_cumprod = schedules.alphas_cumprod(self.betas)
        for key in ("steps", "batch", "hidden", "depth", "embed_dim"):
            positive_int(c[key], key)
        unit_interval(c.get("log_k_fraction", 0.0), "log_k_fraction")
        with nets.seeded(self.seed):
            self.module = nets.TimeMLP.from_config(self.dim, c)

    @property
    def T(self) -> int:
        return int(self.betas.size)

    @property
    def eps(self):
        """The trained noise predictor as a numpy callable ``eps(x, s)``, :math:`s = k/T`."""
        return nets.numpy_predictor(self.module)

    def field(self, x, t) -> np.ndarray:
        """Probability-flow velocity at book time ``t`` (:func:`vp_velocity` of ``eps``)."""
        return vp_velocity(self.eps, self.betas)(x, t)

    def fit(self, progress: bool = True) -> np.ndarray:
        """Train on the simple DSM loss (:math:`k` drawn as in the class docstring); return losses."""
        c, T = self.config, self.T
        sab = torch.as_tensor(np.sqrt(self.alphas_cumprod), dtype=torch.float32)
        sdv = torch.as_tensor(np.sqrt(1.0 - self.alphas_cumprod), dtype=torch.float32)
        frac = float(c.get("log_k_fraction", 0.0))

        def loss(rng, step):
            b = c["batch"]
            x0 = torch.as_tensor(self.target.sample(b, rng), dtype=torch.float32)
            e = torch.as_tensor(rng.standard_normal(x0.shape), dtype=torch.float32)
            k = rng.integers(1, T + 1, size=b)
            use_log = rng.random(b) < frac
            k = np.where(use_log, np.ceil(T ** rng.random(b)).astype(int), k)
            k = torch.as_tensor(np.clip(k, 1, T))
            xk = sab[k - 1, None] * x0 + sdv[k - 1, None] * e
            return ((self.module(xk, k.float() / T) - e) ** 2).sum(dim=1).mean()

        desc = f"DDPM on {self.target_name}"
        return train.fit_config(
            self.module, loss, c, seed=self.seed, progress=progress, desc=desc
        ).losses

    def sample(
        self, n, steps=None, generator=None, *, x0=None, keep=None, variance="large"
    ) -> Trajectory:
        """Ancestral sampling with ``steps`` network evaluations (default ``T``; strided when < T).

        ``x0`` (shape (n, d)) is :math:`x_T`; ``variance`` as in :func:`ddpm_sample`.
        """
        x, rng = self._start(n, x0, generator)
        return ddpm_sample(
            self.eps, self.betas, None, steps, rng, keep=keep, x0=x, variance=variance,
            model=f"DDPM ({self.target_name})",
        )  # fmt: skip


class DDIM(DDPM):
    """DDIM :cite:p:`song2021denoising` sampling of the network trained for ``"ddpm"``.

    Same ``defaults``, training, clock and :meth:`DDPM.field` as :class:`DDPM`; :meth:`sample` runs
    :func:`ddim_sample` (deterministic for ``eta = 0``: a discretisation of the probability
    flow) on ``steps`` evenly spaced timesteps.
    """

    def sample(
        self, n, steps=50, generator=None, *, x0=None, keep=None, eta=0.0, solver="ddim"
    ) -> Trajectory:
        """DDIM sampling with ``steps`` network evaluations and stochasticity ``eta``.

        ``solver="euler"`` or ``"heun"`` integrates the probability flow (:meth:`DDPM.field`)
        instead, in ``steps`` equal steps of book time (Heun: two evaluations a step).
        """
        x, rng = self._start(n, x0, generator)
        if solver in ("euler", "heun"):
            model = f"probability flow ({self.target_name})"
            return sampling.ode(self.field, x, steps, method=solver, keep=keep, model=model)
        if solver != "ddim":
            raise ValueError(f"solver must be 'ddim', 'euler' or 'heun', got {solver!r}")
        return ddim_sample(
            self.eps, self.betas, steps, eta, None, rng, keep=keep, x0=x,
            model=f"DDIM ({self.target_name})",
        )  # fmt: skip
