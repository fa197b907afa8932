r"""Noise-conditional score networks and annealed Langevin dynamics (NCSN / SMLD).

.. rubric:: Langevin dynamics is a particle gradient flow

For a target :math:`p` with score :math:`s = \nabla\log p`, the unadjusted Langevin algorithm
(ULA) :cite:`roberts1996exponential,welling2011bayesian` is

.. math::

    x_{k+1} = x_k + \alpha\, s(x_k) + \sqrt{2\alpha}\; z_k, \qquad z_k\sim\mathcal N(0, I),

the Euler–Maruyama scheme of :math:`dX = \nabla\log p(X)\,dt + \sqrt 2\,dW` with time step
:math:`\alpha`.  Its law follows the Fokker–Planck equation
:math:`\partial_t\rho = \nabla\cdot(\rho\nabla\log(\rho/p))`, the Wasserstein gradient flow of
:math:`\mathrm{KL}(\cdot\,\|\,p)` :cite:`jordan1998variational`, up to a bias of order
:math:`\alpha`: for :math:`p = \mathcal N(0, q)` in 1-D the chain is stationary at
:math:`\mathcal N(0, q/(1 - \alpha/(2q)))`.

**Step-size convention.**  Here :math:`\alpha` is the time step of the SDE above (the
convention of the reference code of :cite:t:`song2019generative`).  The NCSN paper writes the
same update as :math:`x + \tfrac{\alpha'}{2}s + \sqrt{\alpha'}\,z`, i.e. its
:math:`\alpha' = 2\alpha`.

.. rubric:: Annealed Langevin dynamics

Score matching sees no data where :math:`p` has no mass, and a single Langevin run mixes
between separated modes only over exponentially long times.  SMLD :cite:`song2019generative`
perturbs the data with noise levels :math:`\sigma_1 > \dots > \sigma_L` (VE noising, the heat
flow of chapter 5), learns all the scores :math:`s(x, \sigma_i) = \nabla\log p_{\sigma_i}` with
one network, and runs :math:`T` Langevin steps at each level in turn, with

.. math::

    \alpha_i = \epsilon\,\frac{\sigma_i^2}{\sigma_L^2},

so that every level makes the same relative progress :math:`\alpha_i/\sigma_i^2`.  Each level
is a gradient flow of :math:`\mathrm{KL}(\cdot\,\|\,p_{\sigma_i})` warm-started at the end of the
previous one.  An optional last step :math:`x + \sigma_L^2\, s(x, \sigma_L)` replaces the sample
by the posterior mean :math:`\mathbb E[x_0 \mid x_{\sigma_L} = x]` (Tweedie's formula
:cite:`efron2011tweedie`), as recommended by :cite:t:`song2020improved`.

.. rubric:: Training

Denoising score matching :cite:`vincent2011connection,hyvarinen2005estimation` with the weight
:math:`\lambda(\sigma) = \sigma^2` of :cite:t:`song2019generative`: with
:math:`\tilde x = x + \sigma z` and the network parametrised as
:math:`s_\theta(x, \sigma) = f_\theta(x, \sigma)/\sigma`,

.. math::

    \mathcal L(\theta) = \mathbb E_{\sigma}\,\sigma^2\,
    \mathbb E\,\bigl|s_\theta(\tilde x, \sigma) + z/\sigma\bigr|^2
    = \mathbb E\,\bigl|f_\theta(\tilde x, \sigma) + z\bigr|^2,

whose minimiser is the score of :math:`p_\sigma`.  Predictors are numpy callables
``score(x, sigma)``; :func:`mixture_score` gives the exact one for a Gaussian mixture.

The two samplers run on the package's one sampling kernel: :func:`wgf.sampling.langevin` (also
the particle scheme of the Fokker–Planck chapter and the Energy Matching sampler) and
:func:`wgf.sampling.annealed_langevin`; this module holds the exact scores, the loss and the
NCSN model.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from . import nets, sampling, train
from ._checks import as_points, positive, positive_int
from .mixtures import GaussianMixture
from .schedules import ve_sigmas
from .trajectory import Trajectory

__all__ = ["LONGER", "NCSN", "dsm_loss", "level_time", "mixture_score"]


def mixture_score(mixture: GaussianMixture):
    r"""The exact noise-conditional score :math:`(x, \sigma)\mapsto\nabla\log p_\sigma(x)`.

    :math:`p_\sigma = p * \mathcal N(0, \sigma^2 I)` is ``mixture.smoothed(sigma)``; the smoothed
    mixtures are cached per value of :math:`\sigma`.

    Parameters
    ----------
    mixture : GaussianMixture

    Returns
    -------
    callable
        ``score(x, sigma) -> ndarray (n, d)`` for ``x`` of shape (n, d) and ``sigma >= 0``
        either a float (one level for all points) or an array of shape (n,) (one level per
        point, as :meth:`NCSN.score_torch` accepts).

    Raises
    ------
    ValueError
        (from the returned callable) if ``sigma`` is neither a scalar nor of shape (n,).
    """
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(f"mixture must be a GaussianMixture, got {type(mixture).__name__}")
    cache: dict[float, GaussianMixture] = {}

    def smoothed(key: float) -> GaussianMixture:
        if key not in cache:
            if len(cache) > 256:
                cache.clear()
            cache[key] = mixture.smoothed(key)
        return cache[key]

    def score(x, sigma):
        sig = np.asarray(sigma, dtype=float)
        if sig.ndim == 0:
            return smoothed(float(sig)).score(x)
        pts = as_points(x, "x")
        if sig.shape != (pts.shape[0],):
            raise ValueError(
                f"sigma must be a scalar or have shape ({pts.shape[0]},) (one level per point), "
                f"got shape {sig.shape}"
            )
        out = np.empty(pts.shape, dtype=float)
        for key in np.unique(sig):
            rows = sig == key
            out[rows] = smoothed(float(key)).score(pts[rows])
        return out

    return score


def level_time(sigma, sigma_max, sigma_min):
    r"""Level time of a noise level: :math:`u = \log(\sigma_{\max}/\sigma)/\log(\sigma_{\max}/\sigma_{\min})`.

    0 at :math:`\sigma_{\max}` (the prior end), 1 at :math:`\sigma_{\min}` (the data end); the
    geometric levels of :func:`wgf.schedules.ve_sigmas` are evenly spaced in :math:`u`.  Works
    on numpy arrays and torch tensors; ``sigma`` must be finite and positive.
    """
    lo, hi = positive(sigma_min, "sigma_min"), positive(sigma_max, "sigma_max")
    if lo >= hi:
        raise ValueError(f"sigma_min must be < sigma_max, got {lo} >= {hi}")
    if isinstance(sigma, torch.Tensor):
        if not bool(torch.all(torch.isfinite(sigma) & (sigma > 0))):
            raise ValueError("sigma must be finite and > 0")
        return torch.log(hi / sigma) / np.log(hi / lo)
    sig = np.asarray(sigma, dtype=float) if not isinstance(sigma, str) else None
    if sig is None or not np.all(np.isfinite(sig) & (sig > 0)):
        raise ValueError(f"sigma must be finite and > 0, got {sigma!r}")
    return np.log(hi / sig) / np.log(hi / lo)


def dsm_loss(net, x, sigma, z) -> torch.Tensor:
    r""":math:`\sigma^2`-weighted denoising score matching, :math:`\mathbb E|f_\theta(x+\sigma z,\sigma)+z|^2`.

    Parameters
    ----------
    net : callable
        ``net(x_noisy, sigma) -> (n, d)``, the output :math:`f_\theta = \sigma s_\theta`.
    x, z : tensors (n, d)
        Clean data and standard Gaussian noise.
    sigma : tensor (n,)
        Noise level of each sample.

    Returns
    -------
    torch.Tensor
        Scalar: sum over coordinates, mean over the batch.
    """
    if x.ndim != 2 or z.shape != x.shape or sigma.shape != (x.shape[0],):
        raise ValueError("x, z must have one shape (n, d) and sigma shape (n,)")
    out = net(x + sigma[:, None] * z, sigma)
    return ((out + z) ** 2).sum(dim=1).mean()


#: Overrides of the NCSN defaults for a longer training (``zoo.get("ncsn", target, seed,
#: **LONGER)``): three times the optimiser steps at the same batch, learning rate, noise levels
#: and network.  The seeds appendix of the book measures what it buys on ``eight_gaussians``:
#: the modes narrow, and the annealed sampler still fails the component test on some seed.
LONGER: dict = {"steps": 18000}


class NCSN(sampling.Model):
    r"""Noise-conditional score network on a target (zoo name ``"ncsn"``).

    A :class:`wgf.nets.TimeMLP` :math:`f_\theta(x, u)` conditioned on the level time
    :math:`u = \log(\sigma_{\max}/\sigma)/\log(\sigma_{\max}/\sigma_{\min})\in[0, 1]`
    (:func:`level_time`), with the score :math:`s_\theta(x, \sigma) = f_\theta(x, u(\sigma))/\sigma`,
    trained by :func:`dsm_loss` on levels drawn uniformly from the ``L`` geometric levels of
    :func:`wgf.schedules.ve_sigmas` (largest first).

    ``defaults`` (training, part of the cache key): ``sigma_min``, ``sigma_max``, ``L``
    (levels); ``hidden``, ``depth``, ``embed_dim``, ``time_scale``, ``activation`` (network);
    ``batch``, ``lr``, ``lr_decay``, ``grad_clip``, ``steps``, ``ema`` (training).
    ``sampler_defaults`` (not in the key): ``eps`` and ``denoise``.

    .. rubric:: Clock

    The noise level at book time :math:`t` is :math:`\sigma(t) = \sigma_{\max}
    (\sigma_{\min}/\sigma_{\max})^t` (so :math:`t` is the level time :math:`u`); the prior is
    :math:`\mathcal N(0, \sigma_{\max}^2 I)`.  :meth:`field` is the probability-flow velocity
    of the VE process on that clock :cite:p:`song2021score`,

    .. math::

        \frac{dx}{dt} = -\tfrac12\frac{d\sigma^2}{dt}\nabla\log p_{\sigma(t)}(x)
        = \sigma(t)^2\log\frac{\sigma_{\max}}{\sigma_{\min}}\; s_\theta(x, \sigma(t)),

    which ``solver="euler"``/``"heun"`` integrate.  The default ``solver="langevin"`` is annealed
    Langevin dynamics (:func:`wgf.sampling.annealed_langevin`), recorded at step fractions
    :math:`k/K`: level :math:`i` of :math:`L` fills :math:`((i-1)/L, i/L]`, the level time
    to within the ladder's spacing.
    """

    sampling_only: ClassVar[tuple] = ("wgf.sampling", "wgf.trajectory")
    defaults: ClassVar[dict] = {
        "sigma_min": 0.05,
        "sigma_max": 5.0,
        "L": 10,
        "hidden": 128,
        "depth": 3,
        "embed_dim": 32,
        "time_scale": 30.0,
        "activation": "silu",
        "batch": 256,
        "lr": 2e-3,
        "lr_decay": True,
        "grad_clip": 1.0,
        "steps": 6000,
        "ema": 0.998,  # binds from step 4490 (wgf.train.ema_binds_from): the last ~500 steps
    }
    sampler_defaults: ClassVar[dict] = {"eps": 2.5e-4, "denoise": True}

    def __init__(self, target, config: dict, seed: int, *, name=None):
        self._init_target(target, name)
        self.config = c = {**self.sampler_defaults, **config}
        self.seed = int(seed)
        self.sigmas = ve_sigmas(c["sigma_min"], c["sigma_max"], c["L"])
        for key in ("steps", "batch", "hidden", "depth", "embed_dim"):
            positive_int(c[key], key)
        for key in ("lr", "eps", "time_scale"):
            positive(c[key], key)
        self.prior_scale = float(self.sigmas[0])
        with nets.seeded(self.seed):
            self.module = nets.TimeMLP.from_config(self.dim, c)

    def _out(self, x: torch.Tensor, sigma) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype)
        u = level_time(sigma, self.config["sigma_max"], self.config["sigma_min"])
        return self.module(x, u)

    def score_torch(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """:math:`s_\\theta(x, \\sigma)` in torch (``sigma`` a float or a tensor of n levels)."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype)
        if not bool(torch.all(torch.isfinite(sigma) & (sigma > 0))):
            raise ValueError(
                "sigma must be finite and > 0 (the score of p_sigma is 1/sigma-scaled)"
            )
        scale = sigma[:, None] if sigma.ndim == 1 else sigma
        return self._out(x, sigma) / scale

    @property
    def score(self):
        """:math:`s_\\theta` as a numpy callable ``score(x, sigma)`` (float64 out)."""
        return nets.numpy_predictor(self.score_torch)

    def sigma_of(self, t) -> float:
        """The noise level :math:`\\sigma(t)` at book time ``t``."""
        t = sampling.unit_time(t)
        c = self.config
        return float(c["sigma_max"] * (c["sigma_min"] / c["sigma_max"]) ** t)

    def field(self, x, t) -> np.ndarray:
        """VE probability-flow velocity at book time ``t`` (class docstring)."""
        c = self.config
        sigma = self.sigma_of(t)
        x = as_points(x, "x", dim=self.dim)
        return sigma**2 * np.log(c["sigma_max"] / c["sigma_min"]) * self.score(x, sigma)

    def fit(self, progress: bool = True) -> np.ndarray:
        """Train with :func:`dsm_loss` on uniformly drawn levels; returns the losses."""
        c = self.config
        b, levels = c["batch"], torch.as_tensor(self.sigmas, dtype=torch.float32)

        def loss(rng, step):
            x = torch.as_tensor(self.target.sample(b, rng), dtype=torch.float32)
            z = torch.as_tensor(rng.standard_normal(x.shape), dtype=torch.float32)
            sigma = levels[torch.as_tensor(rng.integers(0, levels.numel(), b))]
            return dsm_loss(self._out, x, sigma, z)

        return train.fit_config(
            self.module, loss, c, seed=self.seed, progress=progress, desc="NCSN (DSM)"
        ).losses

    def sample(
        self, n, steps=1001, generator=None, *, x0=None, keep=None, solver="langevin", eps=None,
        denoise=None,
    ) -> Trajectory:  # fmt: skip
        """From :math:`\\mathcal N(0, \\sigma_1^2 I)` (``t = 0``) to the data (``t = 1``).

        ``solver="langevin"``: annealed Langevin; ``steps`` counts every step, the Tweedie step
        (``denoise``, default from the config) included; the Langevin steps are split as evenly
        as possible over the ``L`` levels (the first ones get one more), so ``steps >= L`` (+1
        with ``denoise``).  ``solver="euler"``/``"heun"``: ``steps`` steps of the probability
        flow (:meth:`field`; Heun spends two evaluations a step).  ``x0`` replaces the prior
        draw; ``eps`` overrides the Langevin step constant.
        """
        c = self.config
        model = f"NCSN ({self.target_name})"
        x, rng = self._start(n, x0, generator)
        if solver in ("euler", "heun"):
            return sampling.ode(self.field, x, steps, method=solver, keep=keep, model=model)
        if solver != "langevin":
            raise ValueError(f"solver must be 'langevin', 'euler' or 'heun', got {solver!r}")
        denoise = c["denoise"] if denoise is None else bool(denoise)
        L = len(self.sigmas)
        steps = positive_int(steps, "steps", minimum=L + denoise)
        m = steps - denoise
        per = [m // L + (1 if i < m % L else 0) for i in range(L)]
        return sampling.annealed_langevin(
            self.score, self.sigmas, None, per, c["eps"] if eps is None else eps, rng, keep,
            x0=x, denoise=denoise, model=model,
        )  # fmt: skip
