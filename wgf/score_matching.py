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
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from . import data, nets, train
from ._checks import as_float_array, as_points, positive, positive_int
from .mixtures import GaussianMixture
from .rng import as_generator
from .schedules import ve_sigmas
from .trajectory import Trajectory, keep_indices

__all__ = ["NCSN", "annealed_langevin", "dsm_loss", "langevin", "level_time", "mixture_score"]


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


def _check_score(score) -> None:
    if not callable(score):
        raise TypeError(f"score must be callable as score(x, sigma), got {type(score).__name__}")


def _evaluate(score, x, sigma, k):
    g = score(x) if sigma is None else score(x, sigma)
    g = np.asarray(g, dtype=np.float64)
    if g.shape != x.shape:
        raise ValueError(f"score must return shape {x.shape}, got {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"score returned NaN/Inf at step {k}")
    return g


def langevin(score, x0, step, n_steps, generator=None, keep=None, *, sigma=None) -> Trajectory:
    r"""Unadjusted Langevin :math:`x \leftarrow x + \alpha\, s(x) + \sqrt{2\alpha}\, z` for one target.

    The convention is that of the module docstring: ``step`` is the SDE time step
    :math:`\alpha` (the NCSN paper's step is :math:`2\alpha`).

    Parameters
    ----------
    score : callable
        ``score(x) -> (n, d)``, or ``score(x, sigma)`` when ``sigma`` is given.
    x0 : array (n, d)
        Starting points.
    step : float
        :math:`\alpha > 0`.
    n_steps : int
        Number of steps K.
    generator : None, int or numpy.random.Generator
    keep : int, optional
        Number of recorded states (evenly spread, endpoints included); default all.
    sigma : float, optional
        Noise level passed to a noise-conditional ``score``.

    Returns
    -------
    Trajectory
        Step k recorded at book time ``k / K`` (``t = 0`` the start, ``t = 1`` the end);
        ``nfe = K``.
    """
    _check_score(score)
    x = as_points(x0, "x0").copy()
    step = positive(step, "step")
    n_steps = positive_int(n_steps, "n_steps")
    if sigma is not None and not (np.isfinite(float(sigma)) and float(sigma) >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    rng = as_generator(generator)
    record = set(keep_indices(n_steps, keep).tolist())
    times, states = [0.0], [x.copy()]
    noise = np.sqrt(2.0 * step)
    for k in range(n_steps):
        x = x + step * _evaluate(score, x, sigma, k) + noise * rng.standard_normal(x.shape)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"the chain diverged at step {k}; lower step")
        if k + 1 in record:
            times.append((k + 1) / n_steps)
            states.append(x.copy())
    return Trajectory(np.array(times), np.stack(states), nfe=n_steps)


def _check_sigmas(sigmas) -> np.ndarray:
    s = as_float_array(sigmas, "sigmas")
    if s.ndim != 1 or s.size < 1:
        raise ValueError(f"sigmas must be a non-empty 1-D array, got shape {s.shape}")
    if np.any(s <= 0):
        raise ValueError("sigmas must be positive")
    if s.size > 1 and np.any(np.diff(s) >= 0):
        raise ValueError("sigmas must be strictly decreasing (largest noise level first)")
    return s


def level_time(sigma, sigma_max, sigma_min):
    r"""Book time of a noise level: :math:`u = \log(\sigma_{\max}/\sigma)/\log(\sigma_{\max}/\sigma_{\min})`.

    0 at :math:`\sigma_{\max}` (the prior end), 1 at :math:`\sigma_{\min}` (the data end); the
    geometric levels of :func:`wgf.schedules.ve_sigmas` are evenly spaced in :math:`u`.  Works
    on numpy arrays and torch tensors.
    """
    lo, hi = positive(sigma_min, "sigma_min"), positive(sigma_max, "sigma_max")
    if lo >= hi:
        raise ValueError(f"sigma_min must be < sigma_max, got {lo} >= {hi}")
    log = torch.log if isinstance(sigma, torch.Tensor) else np.log
    return log(hi / sigma) / np.log(hi / lo)


def annealed_langevin(
    score,
    sigmas,
    n,
    steps_per_level=100,
    eps=2e-5,
    generator=None,
    keep=None,
    *,
    dim=2,
    x0=None,
    init="gaussian",
    denoise=False,
) -> Trajectory:
    r"""Annealed Langevin dynamics :cite:`song2019generative` from the prior to the data.

    For :math:`i = 1, \dots, L` (largest :math:`\sigma` first) run ``steps_per_level`` steps of
    :func:`langevin` on ``score(., sigma_i)`` with :math:`\alpha_i = \epsilon\sigma_i^2/\sigma_L^2`
    (SDE-time convention: the paper's step is :math:`2\alpha_i`), then optionally the Tweedie
    step :math:`x + \sigma_L^2 s(x, \sigma_L)`.

    Parameters
    ----------
    score : callable
        ``score(x, sigma) -> (n, d)``: a network or :func:`mixture_score`.
    sigmas : array (L,)
        Strictly decreasing noise levels (e.g. :func:`wgf.schedules.ve_sigmas`).
    n : int
        Number of particles.
    steps_per_level : int or sequence of L ints
        Langevin steps T at each level (a sequence allows uneven splits; each >= 1).
    eps : float
        :math:`\epsilon > 0`, the step at the smallest level.
    generator : None, int or numpy.random.Generator
    keep : int, optional
        Number of recorded states (endpoints included); default all.
    dim : int
        Dimension d of the particles (ignored when ``x0`` is given).
    x0 : array (n, d), optional
        Starting points; replaces the prior draw.
    init : {"gaussian", "uniform"}
        Prior: :math:`\mathcal N(0, \sigma_1^2 I)` (the VE prior), or uniform on the cube
        :math:`[-\sigma_1, \sigma_1]^d`.
    denoise : bool
        Append the Tweedie denoising step (one more evaluation).

    Returns
    -------
    Trajectory
        With :math:`K = \sum_i T_i` (+1 with ``denoise``) steps, step k at book time ``k / K``:
        ``t = 0`` is the prior (largest :math:`\sigma`), ``t = 1`` the data (smallest);
        ``nfe = K``.
    """
    _check_score(score)
    s = _check_sigmas(sigmas)
    eps = positive(eps, "eps")
    L = s.size
    if isinstance(steps_per_level, (int, np.integer)) and not isinstance(steps_per_level, bool):
        per = [positive_int(steps_per_level, "steps_per_level")] * L
    else:
        per = [positive_int(int(v), "steps_per_level") for v in np.asarray(steps_per_level)]
        if len(per) != L:
            raise ValueError(f"steps_per_level must have {L} entries, got {len(per)}")
    rng = as_generator(generator)
    if x0 is None:
        n = positive_int(n, "n")
        dim = positive_int(dim, "dim")
        if init == "gaussian":
            x = s[0] * rng.standard_normal((n, dim))
        elif init == "uniform":
            x = rng.uniform(-s[0], s[0], size=(n, dim))
        else:
            raise ValueError(f"init must be 'gaussian' or 'uniform', got {init!r}")
    else:
        x = as_points(x0, "x0").copy()
        if n is not None and positive_int(n, "n") != x.shape[0]:
            raise ValueError(f"n={n} does not match x0 with {x.shape[0]} points")
    total = sum(per) + bool(denoise)
    record = set(keep_indices(total, keep).tolist())
    times, states = [0.0], [x.copy()]
    k = 0
    for sigma, T in zip(s, per, strict=True):
        alpha = eps * (sigma / s[-1]) ** 2
        noise = np.sqrt(2.0 * alpha)
        for _ in range(T):
            g = _evaluate(score, x, float(sigma), k)
            x = x + alpha * g + noise * rng.standard_normal(x.shape)
            if not np.all(np.isfinite(x)):
                raise ValueError(f"the chain diverged at step {k} (sigma={sigma:.3g}); lower eps")
            k += 1
            if k in record:
                times.append(k / total)
                states.append(x.copy())
    if denoise:
        x = x + s[-1] ** 2 * _evaluate(score, x, float(s[-1]), k)
        times.append(1.0)
        states.append(x.copy())
    return Trajectory(np.array(times), np.stack(states), nfe=total)


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


class NCSN:
    r"""Noise-conditional score network on a 2-D toy target (zoo name ``"ncsn"``).

    A :class:`wgf.nets.TimeMLP` :math:`f_\theta(x, u)` conditioned on the book time of the level,
    :math:`u = \log(\sigma_{\max}/\sigma)/\log(\sigma_{\max}/\sigma_{\min})\in[0, 1]`
    (:func:`level_time`), with the score :math:`s_\theta(x, \sigma) = f_\theta(x, u(\sigma))/\sigma`,
    trained by :func:`dsm_loss` on levels drawn uniformly from the ``L`` geometric levels of
    :func:`wgf.schedules.ve_sigmas` (largest first).

    ``defaults``: ``sigma_min``, ``sigma_max``, ``L`` (levels); ``hidden``, ``depth``,
    ``embed_dim``, ``time_scale``, ``activation`` (network); ``batch``, ``lr``, ``steps``,
    ``ema`` (training); ``eps`` and ``denoise`` (sampler).
    """

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
        "steps": 6000,
        "ema": 0.999,
        "eps": 2.5e-4,
        "denoise": True,
    }

    def __init__(self, dataset: str, config: dict, seed: int):
        self.dataset = dataset
        self.target = data.get(dataset)
        self.config = c = dict(config)
        self.seed = int(seed)
        self.sigmas = ve_sigmas(c["sigma_min"], c["sigma_max"], c["L"])
        for key in ("steps", "batch", "hidden", "depth", "embed_dim"):
            positive_int(c[key], key)
        for key in ("lr", "eps", "time_scale"):
            positive(c[key], key)
        with nets.seeded(self.seed):
            self.module = nets.TimeMLP.from_config(self.target.dim, c)

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

    def fit(self, progress: bool = True) -> np.ndarray:
        """Train with :func:`dsm_loss` on uniformly drawn levels; returns the losses."""
        c = self.config
        b, levels = c["batch"], torch.as_tensor(self.sigmas, dtype=torch.float32)

        def loss(rng, step):
            x = torch.as_tensor(self.target.sample(b, rng), dtype=torch.float32)
            z = torch.as_tensor(rng.standard_normal(x.shape), dtype=torch.float32)
            sigma = levels[torch.as_tensor(rng.integers(0, levels.numel(), b))]
            return dsm_loss(self._out, x, sigma, z)

        result = train.fit(
            self.module,
            loss,
            steps=c["steps"],
            lr=c["lr"],
            ema=c["ema"],
            seed=self.seed,
            progress=progress,
            desc="NCSN (DSM)",
        )
        return result.losses

    def sample(self, n, steps=1000, generator=None, *, eps=None, denoise=None, keep=None, **kw):
        """Annealed Langevin sampling from :math:`\\mathcal N(0, \\sigma_1^2 I)` (``t = 0``) to data.

        ``steps`` is the total number of Langevin steps, split as evenly as possible over the
        ``L`` levels (the first ``steps mod L`` levels get one more); ``steps >= L``.  The Tweedie
        step (``denoise``, default from the config) adds one evaluation to ``nfe``.  Further
        keywords go to :func:`annealed_langevin`.
        """
        c = self.config
        steps = positive_int(steps, "steps", minimum=len(self.sigmas))
        L = len(self.sigmas)
        per = [steps // L + (1 if i < steps % L else 0) for i in range(L)]
        return annealed_langevin(
            self.score,
            self.sigmas,
            n,
            per,
            c["eps"] if eps is None else eps,
            generator,
            keep,
            dim=self.target.dim,
            denoise=c["denoise"] if denoise is None else denoise,
            **kw,
        )
