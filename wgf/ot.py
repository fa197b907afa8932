r"""Optimal transport and the quadratic Wasserstein distance.

Closed forms in one dimension (quantile functions), exact and entropic discrete optimal
transport through POT :cite:p:`flamary2021pot`, and the empirical *noise floor* that every
chapter of the book reports beside its W2 figures.  The Gaussian (Bures-Wasserstein) closed
forms live in :mod:`wgf.gaussian_ot`; this module re-exports them
(:func:`~wgf.gaussian_ot.w2_gaussian`, :func:`~wgf.gaussian_ot.gaussian_ot_map`,
:class:`~wgf.gaussian_ot.AffineMap`, :func:`~wgf.gaussian_ot.sqrtm_spd`,
:func:`~wgf.gaussian_ot.random_spd`, :func:`~wgf.gaussian_ot.ellipse`), so that
``wgf.ot.w2_gaussian`` and the other old names keep working.

.. rubric:: Conventions

Every function named ``w2*`` returns :math:`W_2`, **not** its square.  The cost is the squared
Euclidean distance :math:`c(x, y) = |x - y|^2`, so that

.. math::

    W_2^2(\mu, \nu) = \min_{\gamma \in \Pi(\mu, \nu)} \int |x - y|^2 \, d\gamma(x, y).

Point clouds have shape ``(n, d)`` (a 1-D array is read as ``n`` points on the line); weights
default to uniform and must be non-negative and sum to one.  Bad input raises ``ValueError`` or
``TypeError`` naming the argument.
"""

from __future__ import annotations

import warnings

import numpy as np
import ot as pot
from scipy import integrate
from scipy.spatial.distance import cdist

from ._checks import as_float_array, as_points, as_weights, positive, positive_int

# The Gaussian closed forms live in wgf.gaussian_ot; re-exported here, where they used to be
# (not in __all__: the API reference documents each function once, in its own module).
from .gaussian_ot import AffineMap as AffineMap
from .gaussian_ot import ellipse as ellipse
from .gaussian_ot import gaussian_ot_map as gaussian_ot_map
from .gaussian_ot import random_spd as random_spd
from .gaussian_ot import sqrtm_spd as sqrtm_spd
from .gaussian_ot import w2_gaussian as w2_gaussian
from .rng import as_generator

__all__ = [
    "entropic_plan",
    "noise_floor",
    "noise_floor_samples",
    "ot_plan",
    "sinkhorn_underflow_ratio",
    "w2",
    "w2_1d",
    "w2_1d_histograms",
    "w2_1d_quantiles",
    "w2_many",
    "w2_sinkhorn",
]

#: Upper bound on network-simplex iterations for exact OT (POT's default, 1e5, is too small
#: for a few thousand points).
EMD_MAX_ITER = 100_000_000


# --------------------------------------------------------------------------------------------
# One dimension: quantile functions
# --------------------------------------------------------------------------------------------


def _as_line(x, name):
    pts = as_points(x, name)
    if pts.shape[1] != 1:
        raise ValueError(f"{name} must be 1-D data of shape (n,) or (n, 1), got {pts.shape}")
    return pts[:, 0]


def w2_1d(x, y, a=None, b=None) -> float:
    r"""Exact W2 between two weighted point sets on the real line, by sorting.

    In one dimension the monotone rearrangement is optimal, so

    .. math::

        W_2^2(\mu, \nu) = \int_0^1 \bigl|F_\mu^{-1}(u) - F_\nu^{-1}(u)\bigr|^2 \, du,

    and for discrete measures both quantile functions are step functions: the integral is a
    finite sum over the merged breakpoints of the two cumulative weight sequences.
    Cost :math:`O((n + m)\log(n + m))`.

    Parameters
    ----------
    x : array_like, shape (n,) or (n, 1)
    y : array_like, shape (m,) or (m, 1)
    a, b : array_like, optional
        weights of ``x`` and ``y`` (uniform by default).

    Returns
    -------
    float
        :math:`W_2` (not squared).
    """
    x = _as_line(x, "x")
    y = _as_line(y, "y")
    a = _weights(a, x.shape[0], "a")
    b = _weights(b, y.shape[0], "b")
    c = _scale(x, y)
    x, y = x / c, y / c  # W2 is 1-homogeneous: work at unit scale (no overflow at 1e200)
    ix, iy = np.argsort(x, kind="stable"), np.argsort(y, kind="stable")
    x, a, y, b = x[ix], a[ix], y[iy], b[iy]
    ca, cb = np.cumsum(a), np.cumsum(b)
    ca[-1] = cb[-1] = 1.0  # the weights sum to one up to round-off; make the grids end together
    u = np.union1d(ca, cb)  # right ends of the intervals on which both quantiles are constant
    du = np.diff(u, prepend=0.0)
    mid = u - 0.5 * du
    qx = x[np.minimum(np.searchsorted(ca, mid), x.shape[0] - 1)]
    qy = y[np.minimum(np.searchsorted(cb, mid), y.shape[0] - 1)]
    return float(c * np.sqrt(np.sum(du * (qx - qy) ** 2)))


def w2_1d_histograms(edges, a, b) -> float:
    r"""Exact W2 between two piecewise-uniform densities on the same cells of the line.

    Cell :math:`j = [e_j, e_{j+1})` carries mass :math:`a_j` (resp. :math:`b_j`), spread
    uniformly.  Both quantile functions are then piecewise linear in :math:`u`, with breakpoints
    at the cumulative masses; on each piece of the merged breakpoints the integrand of

    .. math::  W_2^2 = \int_0^1 |F_a^{-1}(u) - F_b^{-1}(u)|^2\,du

    is a quadratic, integrated exactly by two-point Gauss-Legendre.  Unlike :func:`w2_1d` on the
    cell centres (atoms), this is consistent for densities that differ by much less than a
    cell: it sees mass moving *within* cells.

    Parameters
    ----------
    edges : array_like, shape (k + 1,)
        strictly increasing cell edges.
    a, b : array_like, shape (k,)
        cell masses, non-negative, each summing to one.

    Returns
    -------
    float
        :math:`W_2` (not squared).
    """
    e = as_float_array(edges, "edges")
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError("edges must be a strictly increasing 1-D array of at least 2 values")
    a = _weights(a, e.size - 1, "a")
    b = _weights(b, e.size - 1, "b")
    c = max(abs(e[0]), abs(e[-1]))
    e = e / c
    A = np.concatenate([[0.0], np.cumsum(a)])
    B = np.concatenate([[0.0], np.cumsum(b)])
    A[-1] = B[-1] = 1.0
    u = np.union1d(A, B)
    lo, width = u[:-1], np.diff(u)
    total = 0.0
    for node in (0.5 - 0.5 / np.sqrt(3.0), 0.5 + 0.5 / np.sqrt(3.0)):
        v = lo + node * width
        total += 0.5 * np.sum(width * (np.interp(v, A, e) - np.interp(v, B, e)) ** 2)
    return float(c * np.sqrt(total))


def w2_1d_quantiles(ppf0, ppf1, *, epsabs: float = 1e-12, epsrel: float = 1e-10) -> float:
    r"""W2 between two distributions on the line from their quantile functions, by quadrature.

    .. math::  W_2^2(\mu, \nu) = \int_0^1 |F_\mu^{-1}(u) - F_\nu^{-1}(u)|^2 \, du

    Parameters
    ----------
    ppf0, ppf1 : callable
        quantile functions :math:`u \mapsto F^{-1}(u)` on (0, 1), e.g. ``scipy.stats.norm(0, 1).ppf``.

    Returns
    -------
    float
        :math:`W_2` (not squared).

    Raises
    ------
    ValueError
        if the quantile functions return non-finite values inside (0, 1) or the integral does
        not converge (infinite second moment).
    """
    for name, f in (("ppf0", ppf0), ("ppf1", ppf1)):
        if not callable(f):
            raise TypeError(
                f"{name} must be callable (a quantile function), got {type(f).__name__}"
            )

    def integrand(u):
        v = float(ppf0(u)) - float(ppf1(u))
        if not np.isfinite(v):
            raise ValueError(f"quantile functions are not finite at u={u:.3g}")
        return v * v

    # The integrand may blow up (integrably) at 0 and 1: split at 1/2 so that quad's adaptive
    # rule refines both ends.
    val = 0.0
    for lo, hi in ((0.0, 0.5), (0.5, 1.0)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", integrate.IntegrationWarning)
            try:
                part, err = integrate.quad(
                    integrand, lo, hi, epsabs=epsabs, epsrel=epsrel, limit=500
                )
            except integrate.IntegrationWarning as exc:
                part, err = np.inf, np.inf
                reason = str(exc)
        if not np.isfinite(part) or err > 1e-6 * max(1.0, part):
            raise ValueError(
                "the quantile integral did not converge (is the second moment finite?)"
                + (f": {reason}" if not np.isfinite(part) else "")
            )
        val += part
    return float(np.sqrt(val))


# --------------------------------------------------------------------------------------------
# Discrete optimal transport (POT)
# --------------------------------------------------------------------------------------------


def _cost(x, y) -> np.ndarray:
    r"""The cost matrix :math:`C_{ij} = |x_i - y_j|^2`, computed from the differences.

    (POT's ``dist`` expands :math:`|x|^2 + |y|^2 - 2x\cdot y`, which loses all digits of a cost
    much smaller than :math:`|x|^2` and does not vanish exactly on equal points.)
    """
    return cdist(x, y, "sqeuclidean")


def _scale(x, y) -> float:
    """A positive scale of two point sets (1 for all-zero data)."""
    c = max(float(np.abs(x).max()), float(np.abs(y).max()))
    return c if c > 0 else 1.0


def _array(x, name):
    """Reject objects numpy cannot convert safely (e.g. a torch tensor that requires grad)."""
    if hasattr(x, "requires_grad") and getattr(x, "requires_grad", False):
        raise TypeError(
            f"{name} must be an array of numbers, got a tensor that requires grad "
            f"(call .detach() first)"
        )
    return x


def _weights(w, n, name):
    """``as_weights`` with a tolerance on the total that follows the input's precision: float32
    weights that sum to one in float32 are accepted (and renormalised in float64)."""
    if w is None:
        return as_weights(None, n, name)
    w = _array(w, name)
    dtype = getattr(w, "dtype", None)
    arr = np.ascontiguousarray(as_float_array(w, name))
    if arr.ndim == 1 and arr.shape[0] == n and np.all(arr >= 0) and dtype is not None:
        eps = np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else 0.0
        total = arr.sum()
        if eps > np.finfo(np.float64).eps and abs(total - 1.0) <= 4 * n * eps:
            arr = arr / total
    return np.ascontiguousarray(as_weights(arr, n, name))


def _discrete_args(x, y, a, b):
    x = as_points(_array(x, "x"), "x")
    y = as_points(_array(y, "y"), "y", dim=x.shape[1])
    a = _weights(a, x.shape[0], "a")
    b = _weights(b, y.shape[0], "b")
    return x, y, a, b


def _emd(a, b, M, *, plan: bool):
    fn = pot.emd if plan else pot.emd2
    result, log = fn(a, b, M, numItermax=EMD_MAX_ITER, log=True)
    if log.get("warning"):
        raise RuntimeError(f"exact OT did not converge: {log['warning']}")
    return result


def ot_plan(x, y, a=None, b=None) -> np.ndarray:
    r"""The exact optimal coupling between two discrete measures (network simplex, POT).

    Parameters
    ----------
    x : array_like, shape (n, d)
    y : array_like, shape (m, d)
    a, b : array_like, optional
        weights (uniform by default).

    Returns
    -------
    ndarray, shape (n, m)
        :math:`\gamma` with marginals ``a`` and ``b`` minimising :math:`\sum_{ij}\gamma_{ij}|x_i-y_j|^2`.
    """
    x, y, a, b = _discrete_args(x, y, a, b)
    c = _scale(x, y)  # the plan is invariant under a common rescaling; avoid overflow
    return _emd(a, b, _cost(x / c, y / c), plan=True)


def w2(x, y, a=None, b=None) -> float:
    r"""Exact W2 between two discrete measures (network simplex on the squared-distance cost).

    .. math::

        W_2(\mu, \nu) = \Bigl(\min_{\gamma \in \Pi(a, b)} \sum_{ij}\gamma_{ij}\,|x_i - y_j|^2\Bigr)^{1/2},
        \quad \mu = \sum_i a_i\delta_{x_i},\ \nu = \sum_j b_j \delta_{y_j}.

    In one dimension the value is computed by sorting (:func:`w2_1d`, exact as well, in
    :math:`O(n \log n)`); otherwise by POT's network simplex, about 0.6 s for 2000 + 2000
    points on one core.

    Parameters
    ----------
    x : array_like, shape (n, d)
    y : array_like, shape (m, d)
    a, b : array_like, optional
        weights (uniform by default).

    Returns
    -------
    float
        :math:`W_2` (POT's ``emd2`` returns the square; this is its square root).
    """
    x, y, a, b = _discrete_args(x, y, a, b)
    if x.shape[1] == 1:
        return w2_1d(x, y, a, b)
    c = _scale(x, y)  # W2 is 1-homogeneous: solve at unit scale (no overflow at 1e200)
    return float(c * np.sqrt(max(_emd(a, b, _cost(x / c, y / c), plan=False), 0.0)))


def w2_many(pairs, *, workers=None) -> np.ndarray:
    r"""Exact :math:`W_2` of many independent pairs of point clouds, computed side by side.

    Each pair is solved by :func:`w2` (uniform weights); the network simplex runs without the
    interpreter lock, so the problems run on :func:`wgf.threads.workers` threads at once.  On
    an idle 2-core machine a batch takes about half the time of a loop over :func:`w2`; the
    values are the same to the last bit (each problem is solved exactly as alone).

    Parameters
    ----------
    pairs : iterable of (x, y)
        Point clouds of shapes (n, d) and (m, d).
    workers : int, optional
        Threads to use (default :func:`wgf.threads.workers`: the usable cores).

    Returns
    -------
    ndarray, shape (len(pairs),)
        :math:`W_2` of each pair (not squared), in order.

    Examples
    --------
    >>> import numpy as np
    >>> from wgf.ot import w2_many
    >>> x = np.zeros((3, 2))
    >>> w2_many([(x, x + 1.0), (x, x)]).round(6).tolist()
    [1.414214, 0.0]
    """
    from . import threads  # imported here: it imports torch, which ``wgf.ot`` does not need

    try:
        pairs = [tuple(p) for p in pairs]
    except TypeError:
        raise TypeError("pairs must be an iterable of (x, y) pairs of point clouds") from None
    if any(len(p) != 2 for p in pairs):
        raise ValueError("pairs must hold (x, y) pairs: each item needs exactly two clouds")
    k = min(threads.workers(workers), max(len(pairs), 1))
    if k <= 1:
        return np.array([w2(x, y) for x, y in pairs], dtype=float)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=k) as pool:
        return np.array(list(pool.map(lambda p: w2(*p), pairs)), dtype=float)


def entropic_plan(
    x,
    y,
    eps,
    a=None,
    b=None,
    *,
    log_domain: bool = True,
    max_iter: int = 100_000,
    tol: float = 1e-6,
) -> np.ndarray:
    r"""The entropic optimal coupling (Sinkhorn), through POT.

    Solves :math:`\min_{\gamma\in\Pi(a,b)} \langle\gamma, C\rangle + \varepsilon\,
    \mathrm{KL}(\gamma \,\|\, a\otimes b)` with :math:`C_{ij} = |x_i - y_j|^2`
    :cite:p:`cuturi2013sinkhorn,peyre2019computational`.  The plain Sinkhorn iteration works with
    :math:`e^{-C/\varepsilon}` and breaks down once a whole row or column of it underflows
    (:func:`sinkhorn_underflow_ratio` :math:`\gtrsim 745`); the log-domain
    variant (default) iterates on the dual potentials with log-sum-exp and is stable for any
    :math:`\varepsilon`.

    Parameters
    ----------
    x, y : array_like, shapes (n, d) and (m, d)
    eps : float
        regularisation :math:`\varepsilon > 0`, in the units of the cost (squared distance).
    a, b : array_like, optional
        weights (uniform by default).
    log_domain : bool
        use POT's ``sinkhorn_log`` (default) instead of the plain ``sinkhorn``.
    max_iter, tol : int, float
        iteration cap and marginal-violation tolerance.

    Returns
    -------
    ndarray, shape (n, m)

    Raises
    ------
    RuntimeError
        if the iteration produced NaN/Inf (plain Sinkhorn underflow) or did not reach ``tol``.
    """
    x, y, a, b = _discrete_args(x, y, a, b)
    if isinstance(eps, (bool, np.bool_)):
        raise TypeError("eps must be a real number, got bool")
    eps = positive(eps, "eps")
    max_iter = positive_int(max_iter, "max_iter")
    tol = positive(tol, "tol")
    method = "sinkhorn_log" if log_domain else "sinkhorn"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # POT signals underflow and non-convergence with warnings: make them errors here.
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            plan = pot.sinkhorn(
                a, b, _cost(x, y), eps, method=method, numItermax=max_iter, stopThr=tol
            )
        except (UserWarning, RuntimeWarning) as exc:
            raise RuntimeError(f"Sinkhorn ({method}) failed at eps={eps:g}: {exc}") from exc
    if not np.all(np.isfinite(plan)):
        raise RuntimeError(
            f"Sinkhorn ({method}) produced NaN/Inf at eps={eps:g}: use log_domain=True"
        )
    # POT stops on the Euclidean norm of the violation of one marginal; check both.
    err = max(np.linalg.norm(plan.sum(1) - a), np.linalg.norm(plan.sum(0) - b))
    if err > 10 * tol:
        raise RuntimeError(
            f"Sinkhorn ({method}) did not converge at eps={eps:g}: marginal error {err:.2e} "
            f"after {max_iter} iterations"
        )
    return plan


def sinkhorn_underflow_ratio(x, y, eps) -> float:
    r"""The quantity that decides whether plain (not log-domain) Sinkhorn can run.

    .. math::

        r = \max_i \min_j \frac{C_{ij}}{\varepsilon}, \qquad C_{ij} = |x_i - y_j|^2 .

    Plain Sinkhorn scales the Gibbs kernel :math:`K = e^{-C/\varepsilon}`; it breaks down when a
    whole row (or column) of :math:`K` underflows to zero, because the row's scaling then
    divides by zero.  In float64, :math:`e^{-s} = 0` for :math:`s \gtrsim 745`, so the rule is
    :math:`r \gtrsim 745` (the column version is the same with :math:`x, y` swapped; the larger
    of the two is returned).  It is *not* :math:`\max C/\varepsilon`: a row with one small
    entry survives however large the others are.

    Returns
    -------
    float
        :math:`\max(\max_i\min_j C_{ij}, \max_j\min_i C_{ij}) / \varepsilon`.
    """
    x, y, _, _ = _discrete_args(x, y, None, None)
    if isinstance(eps, (bool, np.bool_)):
        raise TypeError("eps must be a real number, got bool")
    eps = positive(eps, "eps")
    C = _cost(x, y)
    return float(max(C.min(axis=1).max(), C.min(axis=0).max()) / eps)


def w2_sinkhorn(x, y, eps, a=None, b=None, **kwargs) -> float:
    r"""Transport cost of the entropic plan, square-rooted: :math:`\langle\gamma_\varepsilon, C\rangle^{1/2}`.

    The entropy term is *not* included, so the value is at least the exact :math:`W_2` and
    converges to it as :math:`\varepsilon \to 0`.  Keyword arguments go to :func:`entropic_plan`.

    Returns
    -------
    float
        :math:`\langle\gamma_\varepsilon, C\rangle^{1/2}` (a W2-like value, not squared).
    """
    x, y, a, b = _discrete_args(x, y, a, b)
    plan = entropic_plan(x, y, eps, a, b, **kwargs)
    return float(np.sqrt(np.sum(plan * _cost(x, y))))


# --------------------------------------------------------------------------------------------
# The noise floor
# --------------------------------------------------------------------------------------------


def noise_floor_samples(sampler, n: int = 2000, repeats: int = 5, generator=None) -> np.ndarray:
    r"""W2 between ``repeats`` independent pairs of n-samples of the same distribution.

    The spread of these values is the sampling variability of any sample-based W2 at this n;
    their median is :func:`noise_floor`.  Arguments as in :func:`noise_floor`.

    Returns
    -------
    ndarray, shape (repeats,)
        :math:`W_2` values (not squared).
    """
    if not callable(sampler):
        raise TypeError(
            f"sampler must be callable as sampler(n, generator), got {type(sampler).__name__}"
        )
    n = positive_int(n, "n", minimum=2)
    repeats = positive_int(repeats, "repeats")
    rng = as_generator(generator)
    pairs = []
    for _ in range(repeats):  # draw in the order x, y, x, y, ... (the values do not depend on
        x = as_points(sampler(n, rng), "sampler output")  # how the problems are then solved)
        y = as_points(sampler(n, rng), "sampler output", dim=x.shape[1])
        if x.shape[0] != n or y.shape[0] != n:
            raise ValueError(f"sampler(n, generator) must return n={n} points, got {x.shape[0]}")
        pairs.append((x, y))
    return w2_many(pairs)


def noise_floor(sampler, n: int = 2000, repeats: int = 5, generator=None) -> float:
    r"""The W2 noise floor of a distribution: the median W2 between two independent n-samples.

    A sample-based W2 between a model and its target cannot be expected to go below this value
    even for a perfect model, so every W2 in the book is reported beside it (a convention of
    the book's Design page).

    Parameters
    ----------
    sampler : callable
        ``sampler(n, generator) -> array of shape (n, d)``; e.g. a ``GaussianMixture.sample``.
    n : int
        sample size (the book uses n = 2000 unless a chapter says otherwise).
    repeats : int
        number of independent pairs; the median is returned.
    generator : None, int or numpy.random.Generator
        randomness (see :func:`wgf.rng.as_generator`).

    Returns
    -------
    float
        the median :math:`W_2` (not squared) over ``repeats`` pairs.
    """
    return float(np.median(noise_floor_samples(sampler, n, repeats, generator)))
