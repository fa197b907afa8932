r"""The one sampling kernel: every sampler of the book is a step function run by :func:`run`.

.. rubric:: The contract of a generative model

Every model served by :mod:`wgf.zoo` satisfies :class:`GenerativeModel`:

* ``sample(n, steps, generator=None, *, x0=None, keep=None) -> Trajectory``: ``steps`` solver
  steps from the prior (book time :math:`t = 0`) to the data (:math:`t = 1`); ``x0`` of shape
  (n, d) replaces the prior draw (every model honours it); ``keep`` states are recorded;
  the trajectory's ``nfe`` counts the network evaluations;
* ``field(x, t)``: the velocity the model integrates, on the same clock, so that
  :math:`\dot x = \text{field}(x, t)` carries the prior at :math:`t = 0` towards the data at
  :math:`t = 1` (a probability-flow velocity for diffusion, the learned velocity for flow
  matching, :math:`-\nabla V` for Energy Matching);
* ``prior(n, generator=None)``: ``n`` draws of the model's prior (what ``x0`` replaces);
* ``dim``: the dimension of the samples.

Each model's docstring says how its own clock (a DDPM index, a noise level) maps to :math:`t`.

.. rubric:: The kernel

:func:`run` takes the starting points, the recorded clock ``times`` (shape (K+1,)) and a step
function ``step(k, x) -> x_next`` for :math:`k = 0, \dots, K-1`.  It owns what every sampler
shares: the recorded states (:func:`wgf.trajectory.keep_indices`), the finiteness check of
every state (naming the step, the time and the model), the count of network evaluations (over
the :class:`Field` adapters the step calls), the thread policy (:func:`wgf.threads.policy`)
and the :class:`~wgf.trajectory.Trajectory`.

:class:`Field` is the one adapter between a predictor and a sampler: any callable ``f(x, t)``
(a wrapped network, :func:`wgf.nets.numpy_predictor`, or an exact oracle such as a
:class:`~wgf.mixtures.GaussianMixture` score) is called through it, its output checked for shape
and finiteness, and its calls counted.  So the same sampler runs a network or an exact oracle.

.. rubric:: Samplers here

:func:`ode` (Euler or Heun on :math:`\dot x = v(x, t)`), :func:`langevin` (unadjusted Langevin,
with a constant or scheduled temperature) and :func:`annealed_langevin` (NCSN/SMLD
:cite:`song2019generative`).  DDPM ancestral and DDIM steps live in :mod:`wgf.diffusion`, the
Energy Matching sampler in :mod:`wgf.energy_matching`; all run on :func:`run`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from . import data, threads
from ._checks import as_float_array, as_points, nonnegative, positive, positive_int, unit_interval
from .rng import as_generator
from .trajectory import Trajectory, keep_indices

__all__ = [
    "Field",
    "GenerativeModel",
    "Model",
    "annealed_langevin",
    "heun_step",
    "langevin",
    "langevin_step",
    "ode",
    "run",
    "start",
    "unit_time",
]


@runtime_checkable
class GenerativeModel(Protocol):
    """What every generative model of the book provides (checked over ``zoo.names()``)."""

    dim: int

    def sample(self, n, steps, generator=None, *, x0=None, keep=None) -> Trajectory:
        """``steps`` solver steps from the prior (``t = 0``) to the data (``t = 1``)."""
        ...

    def field(self, x, t) -> np.ndarray:
        """The velocity :math:`\\dot x` at book time ``t`` for points ``x`` of shape (n, d)."""
        ...

    def prior(self, n, generator=None) -> np.ndarray:
        """``n`` draws of the prior at ``t = 0``, shape (n, d)."""
        ...


class Model:
    """Plumbing shared by the zoo models: the target, the prior and the start of a chain.

    Subclasses call ``_init_target(target, name)`` in their constructor; ``prior_scale`` is the standard
    deviation of the isotropic Gaussian prior (1 unless the model says otherwise).
    """

    prior_scale: float = 1.0

    def _init_target(self, target, name=None) -> None:
        self.target, self.target_name = data.resolve(target, name)
        self.dataset = self.target_name  # the name, as in earlier versions

    @property
    def dim(self) -> int:
        """Dimension of the samples."""
        return int(self.target.dim)

    def prior(self, n, generator=None) -> np.ndarray:
        r"""``n`` draws of the prior :math:`\mathcal N(0, s^2 I)`, ``s = prior_scale``."""
        return self._start(n, None, generator)[0]

    def _start(self, n, x0, generator):
        return start(n, x0, self.dim, generator, scale=self.prior_scale)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target_name!r}, seed={getattr(self, 'seed', None)})"


class Field:
    """A predictor called through one adapter: output checked, calls counted.

    Parameters
    ----------
    fn : callable
        ``fn(x, *args)`` returning an array of the shape of ``x`` (a velocity, score or noise
        prediction), e.g. ``fn(x, t)`` or ``fn(x, sigma)``.
    name : str
        What it is (``"eps"``, ``"score"``, ``"velocity"``, ``"grad_V"``), for messages.
    model : str
        The model or sampler it serves, for messages.
    """

    def __init__(self, fn, name: str = "field", *, model: str = "sampler"):
        if isinstance(fn, Field):
            fn = fn.fn
        if not callable(fn):
            raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        self.fn, self.name, self.model = fn, name, model
        self.calls = 0

    #: Batches of at least ``2 * CHUNK`` points are evaluated in chunks of ``CHUNK`` rows, on
    #: :func:`wgf.threads.workers` threads at once (torch and numpy release the interpreter lock
    #: inside their kernels).  The chunks do not depend on the number of threads, so the result
    #: is the same on any machine.
    CHUNK = 4096

    def _evaluate(self, x, args) -> np.ndarray:
        n = np.shape(x)[0] if np.ndim(x) else 0
        if n < 2 * self.CHUNK:
            return np.asarray(self.fn(x, *args), dtype=np.float64)
        bounds = [(i, min(i + self.CHUNK, n)) for i in range(0, n, self.CHUNK)]

        def per_point(a, lo, hi):  # a per-point argument (e.g. an array of n times) is split
            return a[lo:hi] if np.ndim(a) and np.shape(a)[0] == n else a

        def chunk(b):
            lo, hi = b
            part = self.fn(x[lo:hi], *(per_point(a, lo, hi) for a in args))
            return np.asarray(part, dtype=np.float64)

        k = min(threads.workers(), len(bounds))
        if k <= 1:
            parts = [chunk(b) for b in bounds]
        else:
            parts = list(_pool(k).map(chunk, bounds))
        if any(p.shape[0] != hi - lo for p, (lo, hi) in zip(parts, bounds, strict=True)):
            raise ValueError(f"{self.model}: {self.name} returned a wrong number of rows")
        return np.concatenate(parts, axis=0)

    def __call__(self, x, *args) -> np.ndarray:
        out = self._evaluate(x, args)
        self.calls += 1
        if out.shape != np.shape(x):
            raise ValueError(
                f"{self.model}: {self.name} returned shape {out.shape}, expected {np.shape(x)}"
            )
        if not np.all(np.isfinite(out)):
            at = f" at {', '.join(f'{a:.4g}' for a in map(_scalar, args))}" if args else ""
            raise ValueError(f"{self.model}: {self.name} returned NaN/Inf{at}")
        return out


_POOLS: dict = {}


def _pool(k: int):
    """A thread pool of ``k`` workers, created once per size and kept for the process."""
    if k not in _POOLS:
        from concurrent.futures import ThreadPoolExecutor

        _POOLS[k] = ThreadPoolExecutor(max_workers=k, thread_name_prefix="wgf-field")
    return _POOLS[k]


def unit_time(t, name: str = "t") -> float:
    """A book time: one real number in [0, 1] (a scalar, or an array of equal entries)."""
    if np.ndim(t):
        arr = np.asarray(t, dtype=float).reshape(-1)
        if arr.size == 0 or np.any(arr != arr[0]):
            raise ValueError(f"{name} must be a scalar or an array of equal entries")
        t = arr[0]
    return unit_interval(t, name)


def _scalar(a) -> float:
    arr = np.asarray(a, dtype=float).reshape(-1)
    return float(arr[0]) if arr.size else float("nan")


def start(n, x0, dim, generator=None, *, scale: float = 1.0):
    """Starting points and generator of a sampler: ``x0`` if given, else ``scale`` N(0, I) draws.

    Returns ``(x, rng)``; ``x`` is a fresh float64 array of shape (n, dim).  With ``x0`` given,
    ``n`` may be ``None`` or must equal its number of rows, and its dimension must be ``dim``
    (any dimension when ``dim`` is ``None``).
    The prior is drawn first from ``rng``, so a sampler's noise follows it in the same stream.
    """
    rng = as_generator(generator)
    if x0 is None:
        n = positive_int(n, "n")
        return scale * rng.standard_normal((n, positive_int(dim, "dim"))), rng
    x = as_points(x0, "x0", dim=dim).copy()
    if n is not None and positive_int(n, "n") != x.shape[0]:
        raise ValueError(f"n={n} does not match x0, which holds {x.shape[0]} points")
    return x, rng


def run(step, x, times, *, keep=None, fields=(), model: str = "sampler") -> Trajectory:
    """Run ``x <- step(k, x)`` for ``k = 0..K-1`` and record a :class:`~wgf.trajectory.Trajectory`.

    Parameters
    ----------
    step : callable
        ``step(k, x) -> x_next``, the move from ``times[k]`` to ``times[k + 1]``.
    x : array (n, d)
        The state at ``times[0]`` (not modified).
    times : array (K+1,)
        Book times of the states, non-decreasing in [0, 1] (prior at 0, data at 1).
    keep : int, optional
        Number of states recorded (evenly spread, endpoints included); default all.
    fields : sequence of Field
        The adapters ``step`` calls; ``nfe`` is the number of calls made during the run.
    model : str
        Named in the error raised when a state becomes NaN/Inf.

    Returns
    -------
    wgf.trajectory.Trajectory
        the recorded states, their times and the number of field evaluations.
    """
    times = np.asarray(times, dtype=float)
    K = times.size - 1
    record = keep_indices(K, keep)
    wanted = set(record.tolist())
    before = sum(f.calls for f in fields)
    states = [np.array(x, dtype=float)]
    with threads.policy():  # the book's networks are small: one intra-op thread
        for k in range(K):
            x = step(k, x)
            if not np.all(np.isfinite(x)):
                raise ValueError(
                    f"{model}: the state became NaN/Inf at step {k + 1} of {K} "
                    f"(t={times[k + 1]:.4g}); lower the step size or check the predictor"
                )
            if k + 1 in wanted:
                states.append(np.array(x, dtype=float))
    nfe = sum(f.calls for f in fields) - before
    return Trajectory(times[record], np.stack(states), nfe=nfe)


# --------------------------------------------------------------------------------------------
# ODE solvers on the book clock
# --------------------------------------------------------------------------------------------


def heun_step(v: Callable, x, t: float, h: float) -> np.ndarray:
    r"""Heun's (explicit trapezoidal) step :math:`x + \tfrac h2(v(x,t) + v(x + h v(x,t), t + h))`."""
    d1 = v(x, t)
    d2 = v(x + h * d1, t + h)
    return x + 0.5 * h * (d1 + d2)


def ode(
    velocity, x0, steps, *, method="euler", keep=None, model="ode", n=None, dim=None, generator=None
) -> Trajectory:
    r"""Integrate :math:`\dot x = v(x, t)` from :math:`t = 0` to 1 in ``steps`` equal steps.

    .. math::

        \text{Euler: } x_{k+1} = x_k + h\,v(x_k, t_k), \qquad
        \text{Heun: } x_{k+1} = x_k + \tfrac h2\bigl(v(x_k, t_k) + v(x_k + h v(x_k, t_k),
        t_{k+1})\bigr),

    :math:`t_k = kh`, :math:`h = 1/K`.  Euler spends one evaluation per step, Heun two.

    Parameters
    ----------
    velocity : callable
        ``velocity(x, t)`` (numpy points (n, d), float time) -> (n, d): a network or an oracle.
    x0 : array (n, d) or None
        Starting points; ``None`` draws ``n`` points of :math:`\mathcal N(0, I_{dim})`.
    steps : int
        Number of steps K.
    method : {"euler", "heun"}
    keep : int, optional
        Number of recorded states (endpoints included); default all.
    model : str
        Named in error messages.
    n, dim, generator
        Used only when ``x0`` is ``None``.

    Returns
    -------
    Trajectory
        ``t_k`` from 0 to 1, ``nfe`` = K (Euler) or 2K (Heun).
    """
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")
    v = Field(velocity, "velocity", model=model)
    steps = positive_int(steps, "steps")
    if x0 is None:
        if dim is None:
            raise ValueError("dim is required when x0 is None")
        x, _ = start(n, None, dim, generator)
    else:
        x = as_points(x0, "x0", dim=dim).copy()
    h = 1.0 / steps
    times = np.minimum(np.arange(steps + 1) * h, 1.0)

    def euler(k, x):
        return x + h * v(x, k * h)

    def heun(k, x):
        return heun_step(v, x, k * h, h)

    return run(euler if method == "euler" else heun, x, times, keep=keep, fields=[v], model=model)


# --------------------------------------------------------------------------------------------
# Langevin dynamics
# --------------------------------------------------------------------------------------------


def langevin_step(x, drift, h: float, rng, temperature: float = 1.0) -> np.ndarray:
    r"""One unadjusted Langevin step :math:`x + h\,b + \sqrt{2 T h}\,z`, :math:`z\sim\mathcal N(0,I)`.

    ``drift`` is the already evaluated :math:`b(x)` (a score :math:`\nabla\log p`, or
    :math:`-\nabla V`); ``temperature`` :math:`T \ge 0` (no noise is drawn when it is 0).
    """
    out = x + h * drift
    if temperature > 0:
        out = out + np.sqrt(2.0 * temperature * h) * rng.standard_normal(x.shape)
    return out


def _temperature(value, name="temperature"):
    if callable(value):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a real number or callable, got {type(value).__name__}"
        ) from exc
    if not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return lambda t: v


def langevin(
    score,
    x0,
    step,
    n_steps,
    generator=None,
    keep=None,
    *,
    sigma=None,
    temperature=1.0,
    model="langevin",
    name="score",
) -> Trajectory:
    r"""Unadjusted Langevin dynamics :math:`x \leftarrow x + \alpha\,s(x) + \sqrt{2T\alpha}\,z`.

    With :math:`T = 1` and :math:`s = \nabla\log p` it is the Euler–Maruyama scheme of
    :math:`dX = \nabla\log p(X)\,dt + \sqrt2\,dW`, whose stationary law is :math:`p` (up to an
    :math:`O(\alpha)` bias); with :math:`s = -\nabla V` it is the Fokker–Planck particle scheme of
    :math:`\partial_t\rho = \nabla\cdot(\rho\nabla V) + T\Delta\rho`.  ``step`` is the SDE time
    step :math:`\alpha` (the NCSN paper's step is :math:`2\alpha`).

    Parameters
    ----------
    score : callable
        The drift: ``score(x) -> (n, d)``, or ``score(x, sigma)`` when ``sigma`` is given.
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
    temperature : float or callable
        :math:`T \ge 0`, or a schedule ``T(t)`` of the chain's clock :math:`t_k = k/K` (step
        :math:`k \to k+1` uses :math:`T(t_k)`); 0 gives the deterministic gradient flow.
    model, name : str
        Named in error messages.

    Returns
    -------
    Trajectory
        Step k recorded at ``t = k / K`` (the start at 0, the end at 1); ``nfe = K``.
    """
    f = Field(score, name, model=model)
    x = as_points(x0, "x0").copy()
    step = positive(step, "step")
    n_steps = positive_int(n_steps, "n_steps")
    args = () if sigma is None else (nonnegative(sigma, "sigma"),)
    temp = _temperature(temperature)
    rng = as_generator(generator)
    times = np.arange(n_steps + 1) / n_steps

    def move(k, x):
        T = float(temp(times[k]))
        if not (np.isfinite(T) and T >= 0):
            raise ValueError(f"temperature must give finite values >= 0, got {T} at t={times[k]}")
        return langevin_step(x, f(x, *args), step, rng, T)

    return run(move, x, times, keep=keep, fields=[f], model=model)


def _check_sigmas(sigmas) -> np.ndarray:
    s = as_float_array(sigmas, "sigmas")
    if s.ndim != 1 or s.size < 1:
        raise ValueError(f"sigmas must be a non-empty 1-D array, got shape {s.shape}")
    if np.any(s <= 0):
        raise ValueError("sigmas must be positive")
    if s.size > 1 and np.any(np.diff(s) >= 0):
        raise ValueError("sigmas must be strictly decreasing (largest noise level first)")
    return s


def _per_level(steps_per_level, L: int) -> list[int]:
    if isinstance(steps_per_level, (int, np.integer)) and not isinstance(steps_per_level, bool):
        return [positive_int(steps_per_level, "steps_per_level")] * L
    try:
        per = [positive_int(v, "steps_per_level") for v in list(steps_per_level)]
    except TypeError as exc:
        raise TypeError(
            f"steps_per_level must be an integer or a sequence of {L} integers: {exc}"
        ) from exc
    if len(per) != L:
        raise ValueError(f"steps_per_level must have {L} entries, got {len(per)}")
    return per


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
    model="annealed Langevin",
) -> Trajectory:
    r"""Annealed Langevin dynamics :cite:`song2019generative` from the prior to the data.

    For :math:`i = 1, \dots, L` (largest :math:`\sigma` first) run ``steps_per_level`` steps of
    :func:`langevin` on ``score(., sigma_i)`` with :math:`\alpha_i = \epsilon\sigma_i^2/\sigma_L^2`
    (SDE-time convention: the paper's step is :math:`2\alpha_i`), then optionally the Tweedie
    step :math:`x + \sigma_L^2 s(x, \sigma_L)`.

    Parameters
    ----------
    score : callable
        ``score(x, sigma) -> (n, d)``: a network or :func:`wgf.score_matching.mixture_score`.
    sigmas : array (L,)
        Strictly decreasing noise levels (e.g. :func:`wgf.schedules.ve_sigmas`).
    n : int or None
        Number of particles (``None`` or ``len(x0)`` when ``x0`` is given).
    steps_per_level : int or sequence of L ints
        Langevin steps :math:`T_i \ge 1` at each level.
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
        Append the Tweedie denoising step (one more step and evaluation).
    model : str
        Named in error messages.

    Returns
    -------
    Trajectory
        With :math:`K = \sum_i T_i` (+1 with ``denoise``) steps, step k at ``t = k / K``: ``t = 0``
        is the prior (largest :math:`\sigma`), ``t = 1`` the data (smallest); ``nfe = K``.
    """
    f = Field(score, "score", model=model)
    s = _check_sigmas(sigmas)
    eps = positive(eps, "eps")
    per = _per_level(steps_per_level, s.size)
    if init not in ("gaussian", "uniform"):
        raise ValueError(f"init must be 'gaussian' or 'uniform', got {init!r}")
    if x0 is None and init == "uniform":
        rng = as_generator(generator)
        x = rng.uniform(-s[0], s[0], size=(positive_int(n, "n"), positive_int(dim, "dim")))
    else:
        x, rng = start(n, x0, dim if x0 is None else None, generator, scale=s[0])
    level = np.repeat(np.arange(s.size), per)
    total = level.size + bool(denoise)
    times = np.arange(total + 1) / total

    def move(k, x):
        if k == level.size:  # the Tweedie step
            return x + s[-1] ** 2 * f(x, float(s[-1]))
        sigma = s[level[k]]
        alpha = eps * (sigma / s[-1]) ** 2
        return langevin_step(x, f(x, float(sigma)), alpha, rng)

    return run(move, x, times, keep=keep, fields=[f], model=model)
