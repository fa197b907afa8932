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

import functools
from typing import ClassVar

import numpy as np
import torch

from . import data, nets, schedules, train
from ._checks import as_float_array, as_points, positive_int
from .rng import as_generator
from .trajectory import Trajectory, keep_indices

__all__ = [
    "DDIM",
    "DDPM",
    "ddim_sample",
    "ddim_step",
    "ddpm_sample",
    "mixture_eps",
    "mixture_score",
    "split_sample",
    "timesteps",
]


def _betas(betas) -> np.ndarray:
    b = as_float_array(betas, "betas")
    if b.ndim != 1 or b.size < 1 or np.any(b <= 0) or np.any(b >= 1):
        raise ValueError("betas must be a non-empty 1-D array with entries in (0, 1)")
    return b


def _index(t, T: int, *, allow_zero: bool = False) -> int:
    """The DDPM index k of the network time t = k / T (must be on the grid).

    ``t`` is a scalar, or an array whose entries are all equal (one noise level per call).
    """
    if np.ndim(t):
        arr = np.asarray(t, dtype=float).reshape(-1)
        if arr.size == 0 or np.any(arr != arr[0]):
            raise ValueError("t must be a scalar or an array of equal entries (one noise level)")
        t = arr[0]
    t = float(t)
    k = round(t * T)
    lo = 0 if allow_zero else 1
    if not (lo <= k <= T) or abs(t * T - k) > 1e-6 * max(1, T):
        raise ValueError(f"t must be k/T for an integer k in [{lo}, {T}], got t={t!r}")
    return k


def _check_eta(eta) -> float:
    try:
        eta = float(eta)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"eta must be a real number, got {type(eta).__name__}") from exc
    if not (np.isfinite(eta) and 0.0 <= eta <= 1.0):
        raise ValueError(f"eta must lie in [0, 1], got {eta!r}")
    return eta


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
    r"""Exact score oracle ``score(x, t)`` of the DDPM marginals of a Gaussian mixture.

    :math:`\nabla\log\rho_k` with :math:`\rho_k` = ``mixture.ou(t_k)``, :math:`t = k/T`, and
    :math:`k = 0` (the data itself) allowed.  Marginals are cached per k.
    """
    betas = _betas(betas)
    T = betas.size
    times = np.concatenate([[0.0], schedules.ou_times(betas)])  # times[k] = t_k

    @functools.cache
    def law(k):
        return mixture.ou(times[k])

    def score(x, t):
        return law(_index(t, T, allow_zero=True)).score(x)

    return score


def mixture_eps(mixture, betas):
    r"""Exact noise predictor (Tweedie) for a Gaussian mixture: ``eps(x, t)``, :math:`t = k/T`.

    .. math::

        \varepsilon^*(x, k) = \mathbb E[\varepsilon \mid x_k = x]
        = -\sqrt{1 - \bar\alpha_k}\; \nabla\log\rho_k(x), \qquad
        \rho_k = \texttt{mixture.ou}(t_k), \quad \bar\alpha_k = e^{-2 t_k},

    with :math:`t_k` = ``schedules.ou_times(betas)[k - 1]``; :math:`t` must be :math:`k/T`,
    :math:`k = 1, \dots, T`.
    """
    betas = _betas(betas)
    T = betas.size
    sd = np.sqrt(1.0 - schedules.alphas_cumprod(betas))
    score = mixture_score(mixture, betas)

    def eps(x, t):
        return -sd[_index(t, T) - 1] * score(x, t)

    return eps


def ddim_step(x, eps_hat, abar, abar_prev, eta=0.0, z=None) -> np.ndarray:
    r"""One DDIM update from :math:`\bar\alpha` (``abar``) to :math:`\bar\alpha_p` (``abar_prev``).

    .. math::

        \hat x_0 = \frac{x - \sqrt{1-\bar\alpha}\,\hat\varepsilon}{\sqrt{\bar\alpha}}, \qquad
        x_p = \sqrt{\bar\alpha_p}\,\hat x_0 + c_1 z + c_2\hat\varepsilon,

    :math:`c_1 = \eta\sqrt{(1 - \bar\alpha/\bar\alpha_p)(1 - \bar\alpha_p)/(1 - \bar\alpha)}`,
    :math:`c_2 = \sqrt{1 - \bar\alpha_p - c_1^2}` :cite:p:`song2021denoising`; ``z`` (standard
    normal, shape of ``x``) is needed only when :math:`c_1 > 0`.
    """
    eta = _check_eta(eta)
    if not (0.0 < abar < abar_prev <= 1.0):
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


def _setup(eps, betas, n, steps, generator, x_T, dim):
    if not callable(eps):
        raise TypeError(f"eps must be callable as eps(x, t), got {type(eps).__name__}")
    betas = _betas(betas)
    T = betas.size
    ks = timesteps(T, T if steps is None else steps)
    rng = as_generator(generator)
    if x_T is None:
        x = rng.standard_normal((positive_int(n, "n"), positive_int(dim, "dim")))
    else:
        x = as_points(x_T, "x_T").copy()
    abar = np.concatenate([[1.0], schedules.alphas_cumprod(betas)])  # abar[k], k = 0..T
    return betas, T, ks, rng, x, abar


def _call(eps, x, t):
    e = np.asarray(eps(x, t), dtype=float)
    if e.shape != x.shape:
        raise ValueError(f"eps must return an array of shape {x.shape}, got {e.shape}")
    if not np.all(np.isfinite(e)):
        raise ValueError(f"eps returned NaN/Inf at t={t}")
    return e


def _run(step, ks, T, x, keep):
    """Run ``x <- step(i, x)`` for i = S..1, record in book time s = 1 - k/T."""
    S = ks.size - 1
    record = set(keep_indices(S, keep).tolist())
    times, states = [0.0], [x.copy()]
    for j, i in enumerate(range(S, 0, -1), start=1):
        x = step(i, x)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"the sampler diverged at step k={ks[i]}")
        if j in record:
            times.append(1.0 - ks[i - 1] / T)
            states.append(x.copy())
    return np.array(times), np.stack(states)


def ddpm_sample(eps, betas, n=None, steps=None, generator=None, *, keep=None, x_T=None, dim=2):
    r"""DDPM ancestral sampling :cite:p:`ho2020denoising` (:math:`\sigma_k^2 = \beta_k`).

    .. math::

        x_{p} = \frac{1}{\sqrt{1-\beta'}}\Bigl(x_k - \frac{\beta'}{\sqrt{1-\bar\alpha_k}}
        \,\hat\varepsilon(x_k, k/T)\Bigr) + \sqrt{\beta'}\, z, \qquad
        \beta' = 1 - \bar\alpha_k / \bar\alpha_p,

    over the subsequence of :func:`timesteps` (``steps=None``: all ``T`` steps, where
    :math:`\beta' = \beta_k`); no noise is added in the last step.

    Parameters
    ----------
    eps : callable
        ``eps(x, t)``, :math:`t = k/T`.
    betas : array_like, shape (T,)
    n : int
        number of samples (ignored when ``x_T`` is given).
    steps : int, optional
        number of steps S in [1, T] (network evaluations).
    generator : None, int or numpy.random.Generator
    keep : int, optional
        states recorded (evenly spread, endpoints included); default all.
    x_T : array (n, d), optional
        starting noise (default standard normal of dimension ``dim``).

    Returns
    -------
    Trajectory
        in book time :math:`s = 1 - k/T` (prior at 0, data at 1), ``nfe = S``.
    """
    betas, T, ks, rng, x, abar = _setup(eps, betas, n, steps, generator, x_T, dim)

    def step(i, x):
        k, p = ks[i], ks[i - 1]
        b = 1.0 - abar[k] / abar[p]
        e = _call(eps, x, k / T)
        mean = (x - b / np.sqrt(1.0 - abar[k]) * e) / np.sqrt(1.0 - b)
        return mean + np.sqrt(b) * rng.standard_normal(x.shape) if i > 1 else mean

    t, xs = _run(step, ks, T, x, keep)
    return Trajectory(t, xs, nfe=ks.size - 1)


def ddim_sample(eps, betas, steps, eta=0.0, n=None, generator=None, *, keep=None, x_T=None, dim=2):
    r"""DDIM sampling :cite:p:`song2021denoising` on ``steps`` evenly spaced timesteps.

    Each step is :func:`ddim_step` from :math:`\bar\alpha_{k_i}` to :math:`\bar\alpha_{k_{i-1}}`
    (:func:`timesteps`); :math:`\eta = 0` is deterministic, :math:`\eta = 1` has the DDPM
    posterior variance :math:`\tilde\beta`.  Arguments as in :func:`ddpm_sample`; ``eta`` in
    [0, 1].  Returns a Trajectory in book time (prior at 0, data at 1), ``nfe = steps``.
    """
    eta = _check_eta(eta)
    if steps is None:
        raise ValueError("steps must be an integer in [1, T], got None")
    betas, T, ks, rng, x, abar = _setup(eps, betas, n, steps, generator, x_T, dim)

    def step(i, x):
        k, p = ks[i], ks[i - 1]
        e = _call(eps, x, k / T)
        z = rng.standard_normal(x.shape) if eta > 0 and p > 0 else None
        return ddim_step(x, e, abar[k], abar[p], eta if p > 0 else 0.0, z)

    t, xs = _run(step, ks, T, x, keep)
    return Trajectory(t, xs, nfe=ks.size - 1)


def split_sample(score, betas, n=None, generator=None, *, keep=None, x_T=None, dim=2):
    r"""The DDPM step split into a transport (inverse-JKO) step and a Langevin step.

    With :math:`\Delta t_k = -\tfrac12\log(1-\beta_k)` (the OU time of step k), each step is

    .. math::

        y = x + \Delta t_k\,\bigl(x + \nabla\log\rho_k(x)\bigr), \qquad
        x_{k-1} = y + \Delta t_k \nabla\log\rho_{k-1}(y) + \sqrt{2\Delta t_k}\, z,

    the probability-flow Euler step (the inverse JKO map of chapter 4) from :math:`\rho_k`
    towards :math:`\rho_{k-1}`, then one unadjusted Langevin step that leaves
    :math:`\rho_{k-1}` invariant to first order.  ``score(x, t)`` with :math:`t = k/T`,
    :math:`k = 0, \dots, T` (e.g. :func:`mixture_score`).  ``nfe = 2T``; book time as above.
    """
    if not callable(score):
        raise TypeError(f"score must be callable as score(x, t), got {type(score).__name__}")
    betas, T, ks, rng, x, _ = _setup(lambda x, t: x, betas, n, None, generator, x_T, dim)
    dts = -0.5 * np.log1p(-betas)

    def step(i, x):
        dt = dts[i - 1]
        y = x + dt * (x + _call(score, x, i / T))
        return (
            y + dt * _call(score, y, (i - 1) / T) + np.sqrt(2 * dt) * rng.standard_normal(x.shape)
        )

    t, xs = _run(step, ks, T, x, keep)
    return Trajectory(t, xs, nfe=2 * T)


# --------------------------------------------------------------------------------------------
# zoo models
# --------------------------------------------------------------------------------------------


class DDPM:
    """A DDPM :cite:p:`ho2020denoising` on a 2-D toy target (zoo name ``"ddpm"``).

    ``defaults``: the schedule (``T``, ``beta_start``, ``beta_end``: linear), the
    :class:`~wgf.nets.TimeMLP` (``hidden``, ``depth``, ``embed_dim``), and training
    (``steps``, ``batch``, ``lr``, ``ema``, ``log_k_fraction``).  Training minimises the
    simple loss

    .. math::

        \\mathcal L(\\theta) = \\mathbb E_{k\\sim\\pi, x_0, \\varepsilon}\\,
        \\bigl|\\varepsilon - \\varepsilon_\\theta(\\sqrt{\\bar\\alpha_k}\\,x_0
        + \\sqrt{1-\\bar\\alpha_k}\\,\\varepsilon,\\; k/T)\\bigr|^2,
        \\qquad \\pi = (1 - f)\\,\\mathcal U\\{1, \\dots, T\\} + f\\,\\pi_{\\log},

    where a fraction :math:`f` = ``log_k_fraction`` of each batch draws
    :math:`k = \\lceil T^{u}\\rceil`, :math:`u \\sim \\mathcal U[0, 1]` (log-uniform: as many
    draws in :math:`k \\in [1, 10]` as in :math:`[100, 1000]`).  ``f = 0`` is Ho et al.'s
    uniform :math:`k`.  Any law :math:`\\pi` of :math:`k` with full support only reweights the
    noise levels, so the minimiser is still :math:`\\varepsilon^*`; the log-uniform part puts
    more of the batch at small noise, where the target :math:`\\varepsilon^*` is a small
    signal under unit-variance noise and uniform :math:`k` leaves its gradient too noisy.

    :meth:`sample` is ancestral sampling (:func:`ddpm_sample`); with ``steps < T`` it runs the
    respaced (strided) chain.  The network's time input is :math:`k/T`.
    """

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
        "ema": 0.999,
        "log_k_fraction": 0.5,
    }

    def __init__(self, dataset: str, config: dict, seed: int):
        self.dataset = dataset
        self.target = data.get(dataset)
        self.config = c = dict(config)
        self.seed = int(seed)
        self.betas = schedules.linear_betas(c["T"], c["beta_start"], c["beta_end"])
        self.alphas_cumprod = schedules.alphas_cumprod(self.betas)
        for key in ("steps", "batch", "hidden", "depth", "embed_dim"):
            positive_int(c[key], key)
        f = c.get("log_k_fraction", 0.0)
        if not (isinstance(f, int | float) and 0.0 <= f <= 1.0):
            raise ValueError(f"log_k_fraction must lie in [0, 1], got {f!r}")
        with nets.seeded(self.seed):
            self.module = nets.TimeMLP.from_config(self.target.dim, c)

    @property
    def T(self) -> int:
        return int(self.betas.size)

    @property
    def eps(self):
        """The trained noise predictor as a numpy callable ``eps(x, t)``, :math:`t = k/T`."""
        return nets.numpy_predictor(self.module)

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

        res = train.fit(
            self.module,
            loss,
            steps=c["steps"],
            lr=c["lr"],
            ema=c["ema"],
            seed=self.seed,
            progress=progress,
            desc=f"DDPM on {self.dataset}",
        )
        return res.losses

    def sample(self, n, steps=None, generator=None, *, keep=None) -> Trajectory:
        """Ancestral sampling with ``steps`` network evaluations (default ``T``; strided when < T)."""
        return ddpm_sample(
            self.eps, self.betas, n, steps, generator, keep=keep, dim=self.target.dim
        )


class DDIM(DDPM):
    """DDIM :cite:p:`song2021denoising` sampling of the network trained for ``"ddpm"``.

    Same ``defaults`` and training as :class:`DDPM`; :meth:`sample` runs :func:`ddim_sample`
    (deterministic for ``eta = 0``) on ``steps`` evenly spaced timesteps.
    """

    def sample(self, n, steps=50, generator=None, *, eta=0.0, keep=None) -> Trajectory:
        """DDIM sampling with ``steps`` network evaluations and stochasticity ``eta``."""
        return ddim_sample(
            self.eps, self.betas, steps, eta, n, generator, keep=keep, dim=self.target.dim
        )
