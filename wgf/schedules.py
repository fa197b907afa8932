r"""Noise schedules of diffusion models, and their exact link to the Ornstein-Uhlenbeck flow.

Discrete DDPM schedules (linear :cite:p:`ho2020denoising`, cosine :cite:p:`nichol2021improved`),
the continuous variance-preserving (VP) schedule of the score SDE :cite:p:`song2021score`, the
geometric variance-exploding (VE) noise levels of SMLD/NCSN :cite:p:`song2019generative`, and the
exact correspondence between a DDPM step and a step of the Ornstein-Uhlenbeck (OU) process

.. math::

    dX_t = -X_t \, dt + \sqrt 2 \, dW_t ,

the Wasserstein gradient flow of :math:`\mathrm{KL}(\cdot \,\|\, \mathcal N(0, I))`.

.. rubric:: Conventions

Inside this module the papers' own index conventions are used.  **DDPM**: :math:`k = 0` is the
data and :math:`k = T` is (almost) pure noise; a schedule is an array ``betas`` of shape
``(T,)`` whose entry ``betas[k - 1]`` is :math:`\beta_k`, :math:`k = 1, \dots, T`, and likewise
``alphas_cumprod(betas)[k - 1]`` is :math:`\bar\alpha_k` and ``ou_times(betas)[k - 1]`` is
:math:`t_k`; the values :math:`\bar\alpha_0 = 1` and :math:`t_0 = 0` at the data are *not*
included.  **VP SDE**: time :math:`t \in [0, 1]` runs from the data (:math:`t = 0`) to the
noise (:math:`t = 1`).  **VE**: ``ve_sigmas`` are in *decreasing* order, from
:math:`\sigma_{\max}` (first level of annealed Langevin sampling) to :math:`\sigma_{\min}`.
Samplers convert all of these to the book's :math:`t`: prior at 0, data at 1.  Everything is
numpy float64; bad input raises ``ValueError`` or ``TypeError`` naming the argument.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, positive, positive_int

__all__ = [
    "alphas_cumprod",
    "betas_from_ou_times",
    "cosine_alpha_bar",
    "cosine_betas",
    "linear_betas",
    "ou_times",
    "ve_heat_time",
    "ve_sigmas",
    "vp_beta",
    "vp_integral",
    "vp_marginal",
]


# --------------------------------------------------------------------------------------------
# validation helpers (private)
# --------------------------------------------------------------------------------------------


def _unit_open(value, name: str) -> float:
    """A real number strictly inside (0, 1)."""
    v = positive(value, name)
    if v >= 1.0:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")
    return v


def _as_betas(betas, name: str = "betas") -> np.ndarray:
    """A non-empty 1-D array of betas, each strictly inside (0, 1)."""
    b = as_float_array(betas, name)
    if b.ndim != 1 or b.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of shape (T,), got shape {b.shape}")
    if np.any(b <= 0.0) or np.any(b >= 1.0):
        raise ValueError(
            f"{name} must lie in the open interval (0, 1) (range [{b.min():.6g}, {b.max():.6g}])"
        )
    return b


def _as_unit_times(t, name: str = "t") -> np.ndarray:
    """Times in [0, 1] (any shape)."""
    arr = as_float_array(t, name)
    if np.any(arr < 0.0) or np.any(arr > 1.0):
        raise ValueError(f"{name} must lie in [0, 1] (range [{arr.min():.6g}, {arr.max():.6g}])")
    return arr


def _vp_params(beta_min, beta_max) -> tuple[float, float]:
    lo = positive(beta_min, "beta_min")
    hi = positive(beta_max, "beta_max")
    if hi < lo:
        raise ValueError(f"beta_max must be >= beta_min, got beta_max={hi!r} < beta_min={lo!r}")
    return lo, hi


def _like(arr: np.ndarray):
    """A 0-d result as a Python float, anything else as an array."""
    return float(arr) if np.ndim(arr) == 0 else arr


# --------------------------------------------------------------------------------------------
# discrete DDPM schedules
# --------------------------------------------------------------------------------------------


def linear_betas(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    r"""The linear DDPM schedule :cite:p:`ho2020denoising`.

    .. math::

        \beta_k = \beta_{\mathrm{start}}
                + \frac{k - 1}{T - 1}\,(\beta_{\mathrm{end}} - \beta_{\mathrm{start}}),
        \qquad k = 1, \dots, T,

    so that :math:`\beta_1 = \beta_{\mathrm{start}}` and :math:`\beta_T = \beta_{\mathrm{end}}`
    (``numpy.linspace``, as in the reference implementation).  With the defaults,
    :math:`\bar\alpha_T \approx 4.04 \times 10^{-5}`.

    Parameters
    ----------
    T : int
        number of steps, at least 2.
    beta_start, beta_end : float
        first and last :math:`\beta`, each in the open interval (0, 1).

    Returns
    -------
    numpy.ndarray, shape (T,)
        ``betas[k - 1]`` is :math:`\beta_k` (:math:`k = 0` is the data, :math:`k = T` the noise).
    """
    T = positive_int(T, "T", minimum=2)
    b0 = _unit_open(beta_start, "beta_start")
    b1 = _unit_open(beta_end, "beta_end")
    return np.linspace(b0, b1, T, dtype=np.float64)


def cosine_alpha_bar(t, s: float = 0.008):
    r"""The continuous cosine :math:`\bar\alpha(t)` :cite:p:`nichol2021improved`.

    .. math::

        \bar\alpha(t) = \frac{f(t)}{f(0)}, \qquad
        f(t) = \cos^2\Bigl(\frac{t + s}{1 + s} \cdot \frac{\pi}{2}\Bigr),
        \qquad t \in [0, 1],

    where :math:`t = k / T` for step :math:`k` of a :math:`T`-step schedule; hence
    :math:`\bar\alpha(0) = 1` (the data) and :math:`\bar\alpha(1) = 0` (up to round-off).

    Parameters
    ----------
    t : float or array_like
        fractional times :math:`k / T` in [0, 1].
    s : float
        the small offset (non-negative) that keeps :math:`\beta` from being tiny near
        :math:`t = 0`.

    Returns
    -------
    float or numpy.ndarray
        :math:`\bar\alpha(t)`, of the shape of ``t``.
    """
    t = _as_unit_times(t, "t")
    s_arr = as_float_array(s, "s")
    if s_arr.ndim != 0:
        raise ValueError(f"s must be a scalar offset, got shape {s_arr.shape}")
    s = float(s_arr)
    if s < 0:
        raise ValueError(f"s must be non-negative, got {s!r}")
    f = np.cos((t + s) / (1.0 + s) * (np.pi / 2)) ** 2
    f0 = np.cos(s / (1.0 + s) * (np.pi / 2)) ** 2
    return _like(f / f0)


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    r"""The cosine DDPM schedule :cite:p:`nichol2021improved`.

    .. math::

        \beta_k = \min\Bigl(1 - \frac{\bar\alpha(k / T)}{\bar\alpha((k - 1) / T)},\;
                  \beta_{\max}\Bigr), \qquad k = 1, \dots, T,

    with :math:`\bar\alpha` from :func:`cosine_alpha_bar`.  The cap only binds at the very end
    (for :math:`T = 1000` and :math:`s = 0.008`, only at :math:`k = T`, where the unclipped value
    is 1 because :math:`\bar\alpha(1) = 0`); before the cap binds, ``alphas_cumprod`` of these
    betas reproduces :math:`\bar\alpha(k / T)` to round-off.

    Parameters
    ----------
    T : int
        number of steps, at least 1.
    s : float
        offset of the cosine (non-negative).
    max_beta : float
        cap on :math:`\beta_k`, in the open interval (0, 1).

    Returns
    -------
    numpy.ndarray, shape (T,)
        ``betas[k - 1]`` is :math:`\beta_k` (:math:`k = 0` is the data, :math:`k = T` the noise).
    """
    T = positive_int(T, "T")
    cap = _unit_open(max_beta, "max_beta")
    abar = np.asarray(cosine_alpha_bar(np.arange(T + 1) / T, s=s))
    return np.minimum(1.0 - abar[1:] / abar[:-1], cap)


def alphas_cumprod(betas) -> np.ndarray:
    r"""Cumulative products :math:`\bar\alpha_k = \prod_{j \le k} (1 - \beta_j)`.

    In DDPM :cite:p:`ho2020denoising`,
    :math:`x_k \mid x_0 \sim \mathcal N(\sqrt{\bar\alpha_k}\, x_0, (1 - \bar\alpha_k) I)`.

    Parameters
    ----------
    betas : array_like, shape (T,)
        :math:`\beta_1, \dots, \beta_T`, each in the open interval (0, 1).

    Returns
    -------
    numpy.ndarray, shape (T,)
        ``alphas_cumprod(betas)[k - 1]`` is :math:`\bar\alpha_k`, :math:`k = 1, \dots, T`;
        :math:`\bar\alpha_0 = 1` is not included.
    """
    return np.cumprod(1.0 - _as_betas(betas))


# --------------------------------------------------------------------------------------------
# the exact DDPM <-> Ornstein-Uhlenbeck correspondence
# --------------------------------------------------------------------------------------------


def ou_times(betas) -> np.ndarray:
    r"""The Ornstein-Uhlenbeck times at which a DDPM chain samples the OU flow exactly.

    One DDPM step :math:`x_k = \sqrt{1 - \beta_k}\, x_{k-1} + \sqrt{\beta_k}\, \varepsilon`,
    :math:`\varepsilon \sim \mathcal N(0, I)` :cite:p:`ho2020denoising`, *is* the exact transition
    of :math:`dX = -X\,dt + \sqrt 2\, dW`,
    :math:`X_{t + \Delta t} = e^{-\Delta t} X_t + \sqrt{1 - e^{-2\Delta t}}\, \varepsilon`,
    over the interval

    .. math::

        \Delta t_k = -\tfrac12 \log(1 - \beta_k),
        \qquad\text{since}\qquad e^{-\Delta t_k} = \sqrt{1 - \beta_k},\quad
        1 - e^{-2\Delta t_k} = \beta_k .

    The chain therefore visits the OU flow at the cumulative times
    :math:`t_k = \sum_{j \le k} \Delta t_j`, and

    .. math::

        \bar\alpha_k = \prod_{j \le k}(1 - \beta_j) = e^{-2 t_k}.

    Parameters
    ----------
    betas : array_like, shape (T,)
        :math:`\beta_1, \dots, \beta_T`, each in the open interval (0, 1).

    Returns
    -------
    numpy.ndarray, shape (T,)
        ``ou_times(betas)[k - 1]`` is :math:`t_k`, :math:`k = 1, \dots, T`, strictly increasing;
        :math:`t_0 = 0` (the data) is **not** prepended.  Inverse: :func:`betas_from_ou_times`.
    """
    return np.cumsum(-0.5 * np.log1p(-_as_betas(betas)))


def betas_from_ou_times(times) -> np.ndarray:
    r"""The DDPM betas whose steps are the OU transitions between the given times.

    Inverse of :func:`ou_times`: with :math:`t_0 = 0` and
    :math:`\Delta t_k = t_k - t_{k-1}`,

    .. math::

        \beta_k = 1 - e^{-2 \Delta t_k}.

    Parameters
    ----------
    times : array_like, shape (T,)
        :math:`t_1 < t_2 < \dots < t_T`, finite and strictly positive; :math:`t_0 = 0` is
        implicit and must **not** be included.

    Returns
    -------
    numpy.ndarray, shape (T,)
        ``betas[k - 1]`` is :math:`\beta_k`, each in the open interval (0, 1).
    """
    t = as_float_array(times, "times")
    if t.ndim != 1 or t.shape[0] == 0:
        raise ValueError(f"times must be a non-empty 1-D array of shape (T,), got shape {t.shape}")
    if t[0] <= 0.0:
        raise ValueError(
            f"times must be strictly positive (t_0 = 0 is implicit; do not prepend it), got "
            f"times[0] = {t[0]!r}"
        )
    dt = np.diff(t, prepend=0.0)
    if np.any(dt <= 0.0):
        k = int(np.argmin(dt))
        raise ValueError(f"times must be strictly increasing, but times[{k}] <= times[{k - 1}]")
    betas = -np.expm1(-2.0 * dt)
    if np.any(betas >= 1.0):
        raise ValueError("times has a gap so large that 1 - exp(-2 dt) rounds to 1")
    return betas


# --------------------------------------------------------------------------------------------
# continuous VP schedule (score SDE)
# --------------------------------------------------------------------------------------------


def vp_beta(t, beta_min: float = 0.1, beta_max: float = 20.0):
    r"""The linear :math:`\beta(t)` of the VP SDE :cite:p:`song2021score`.

    The VP SDE :math:`dx = -\tfrac12 \beta(t)\, x\, dt + \sqrt{\beta(t)}\, dW`, :math:`t \in [0, 1]`
    (data at 0, noise at 1), has

    .. math::

        \beta(t) = \beta_{\min} + t\,(\beta_{\max} - \beta_{\min}).

    The defaults :math:`\beta_{\min} = 0.1 = T\beta_{\mathrm{start}}`,
    :math:`\beta_{\max} = 20 = T\beta_{\mathrm{end}}` are the :math:`T \to \infty` limit of the
    linear DDPM schedule with :math:`T = 1000` (:func:`linear_betas`).  It is the OU process
    :math:`dX = -X\, ds + \sqrt 2\, dW` run in the clock :math:`s(t) = \tfrac12 \int_0^t \beta`.

    Parameters
    ----------
    t : float or array_like
        times in [0, 1].
    beta_min, beta_max : float
        positive, with ``beta_max >= beta_min``.

    Returns
    -------
    float or numpy.ndarray
        :math:`\beta(t)`, of the shape of ``t``.
    """
    t = _as_unit_times(t)
    lo, hi = _vp_params(beta_min, beta_max)
    return _like(lo + t * (hi - lo))


def vp_integral(t, beta_min: float = 0.1, beta_max: float = 20.0):
    r"""The integral of the VP :math:`\beta` :cite:p:`song2021score`.

    .. math::

        B(t) = \int_0^t \beta(u)\, du
             = \beta_{\min}\, t + \tfrac12 t^2 (\beta_{\max} - \beta_{\min}).

    :math:`B(t) / 2` is the elapsed Ornstein-Uhlenbeck time (see :func:`ou_times`).

    Parameters
    ----------
    t : float or array_like
        times in [0, 1].
    beta_min, beta_max : float
        as in :func:`vp_beta`.

    Returns
    -------
    float or numpy.ndarray
        :math:`B(t)`, of the shape of ``t``.
    """
    t = _as_unit_times(t)
    lo, hi = _vp_params(beta_min, beta_max)
    return _like(lo * t + 0.5 * t * t * (hi - lo))


def vp_marginal(t, beta_min: float = 0.1, beta_max: float = 20.0):
    r"""Coefficients of the VP perturbation kernel :cite:p:`song2021score`.

    :math:`x_t \mid x_0 \sim \mathcal N(m(t)\, x_0, \sigma(t)^2 I)` with

    .. math::

        m(t) = e^{-\frac12 B(t)}, \qquad \sigma(t) = \sqrt{1 - e^{-B(t)}},

    :math:`B` from :func:`vp_integral`; so :math:`m^2 + \sigma^2 = 1`, and :math:`m(t)^2` plays
    the role of DDPM's :math:`\bar\alpha_k` at :math:`t = k / T`.

    Parameters
    ----------
    t : float or array_like
        times in [0, 1].
    beta_min, beta_max : float
        as in :func:`vp_beta`.

    Returns
    -------
    tuple
        ``(mean_coeff, std)``: :math:`m(t)` and :math:`\sigma(t)`, each of the shape of ``t``
        (floats for a scalar ``t``).
    """
    B = np.asarray(vp_integral(t, beta_min, beta_max))
    return _like(np.exp(-0.5 * B)), _like(np.sqrt(-np.expm1(-B)))


# --------------------------------------------------------------------------------------------
# VE noise levels (SMLD / NCSN)
# --------------------------------------------------------------------------------------------


def ve_sigmas(sigma_min: float, sigma_max: float, L: int) -> np.ndarray:
    r"""Geometric VE noise levels of SMLD/NCSN :cite:p:`song2019generative`, largest first.

    .. math::

        \sigma_i = \sigma_{\max} \Bigl(\frac{\sigma_{\min}}{\sigma_{\max}}\Bigr)^{(i-1)/(L-1)},
        \qquad i = 1, \dots, L,

    so :math:`\sigma_1 = \sigma_{\max} > \sigma_2 > \dots > \sigma_L = \sigma_{\min}` with the
    constant ratio :math:`\sigma_{i+1} / \sigma_i = (\sigma_{\min}/\sigma_{\max})^{1/(L-1)}`.
    The VE perturbation is :math:`x + \sigma z`, :math:`z \sim \mathcal N(0, I)`: the heat flow
    :math:`\partial_t \rho = \Delta \rho` (the Wasserstein gradient flow of the entropy) run
    for the time :math:`\sigma^2 / 2` (:func:`ve_heat_time`).

    Parameters
    ----------
    sigma_min, sigma_max : float
        smallest and largest noise level, ``0 < sigma_min < sigma_max``.
    L : int
        number of levels, at least 2.

    Returns
    -------
    numpy.ndarray, shape (L,)
        the levels in **decreasing** order (the order of annealed Langevin sampling).
    """
    lo = positive(sigma_min, "sigma_min")
    hi = positive(sigma_max, "sigma_max")
    if lo >= hi:
        raise ValueError(f"sigma_min must be < sigma_max, got sigma_min={lo!r} >= sigma_max={hi!r}")
    L = positive_int(L, "L", minimum=2)
    return np.geomspace(hi, lo, L, dtype=np.float64)


def ve_heat_time(sigma):
    r"""The heat-flow time :math:`t = \sigma^2 / 2` of the VE noise level :math:`\sigma`.

    :math:`x + \sigma z` has the law of the heat flow :math:`\partial_t \rho = \Delta \rho`
    (Brownian motion :math:`\sqrt 2\, W_t`, variance :math:`2t`) at :math:`t = \sigma^2/2`
    :cite:p:`song2019generative`.

    Parameters
    ----------
    sigma : float or array_like
        non-negative noise levels.

    Returns
    -------
    float or numpy.ndarray
        :math:`\sigma^2 / 2`, of the shape of ``sigma``.
    """
    s = as_float_array(sigma, "sigma")
    if np.any(s < 0):
        raise ValueError(f"sigma must be non-negative (smallest entry {s.min():.6g})")
    if np.any(s > np.sqrt(np.finfo(np.float64).max)):
        raise ValueError(
            f"sigma must be at most {np.sqrt(np.finfo(np.float64).max):.3g} (sigma^2 / 2 overflows), "
            f"got {s.max():.3g}"
        )
    return _like(0.5 * s * s)
