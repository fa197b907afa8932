r"""Sampled curves in Wasserstein space: flow maps, transport costs and comparisons of paths.

Where :mod:`wgf.manifold` computes exact curves of a Gaussian mixture, this module works with
the particles a sampler produces:

* :func:`integrate` -- Euler or Heun (explicit trapezoidal) integration of an ODE
  :math:`\dot x = v(x, t)` on a given time grid, forwards or backwards; the flow map of an exact
  or learned velocity field;
* :func:`l2_length` -- the length of a particle path in :math:`L^2`, an upper bound on the
  length of the curve of its marginals that needs no clock;
* :func:`straightness_defect` -- per particle, the kinetic energy of a sampled path on a time
  window minus that of the straight segment between its ends (0 iff the path is straight and
  run at constant speed);
* :func:`transport_cost` and :func:`cost_ratio` -- the cost :math:`\mathbb E|X_1 - X_0|^2` of the
  pairing a deterministic map produces, and its ratio to the optimal cost between the same two
  point clouds (at least 1, with equality exactly when the pairing is optimal);
* :func:`pairwise_w2`, :func:`nearest_distances`, :func:`classical_mds` -- a matrix of exact
  :math:`W_2` between marginals, the parametrisation-free distance from each marginal of one
  curve to the other curve, and a 2-D picture of the whole matrix;
* :func:`swirled` -- a deliberately curved field with the same flow map as a given one (a
  negative control for straightness);
* :func:`steps_to_tolerance` -- the fewest solver steps at which a sampler comes within a
  paired RMS tolerance of its own converged samples (the step-count claim).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, as_points, positive, positive_int
from .metrics import paired_displacement
from .ot import w2, w2_many

__all__ = [
    "classical_mds",
    "cost_ratio",
    "integrate",
    "l2_length",
    "nearest_distances",
    "pairwise_w2",
    "steps_to_tolerance",
    "straightness_defect",
    "swirled",
    "transport_cost",
]


def integrate(velocity, x0, times, *, method: str = "heun", keep: bool = False):
    r"""Integrate :math:`\dot x = v(x, t)` from ``times[0]`` to ``times[-1]`` through ``times``.

    Euler: :math:`x_{k+1} = x_k + h_k v(x_k, t_k)`.  Heun (second order, two evaluations per
    step): :math:`\tilde x = x_k + h_k v(x_k, t_k)`,
    :math:`x_{k+1} = x_k + \tfrac{h_k}2\bigl(v(x_k, t_k) + v(\tilde x, t_{k+1})\bigr)`, with
    :math:`h_k = t_{k+1} - t_k` of either sign (the grid must be strictly monotone).

    Parameters
    ----------
    velocity : callable
        ``v(x, t)`` for ``x`` of shape (n, d) and a float ``t``, returning shape (n, d).
    x0 : array_like, shape (n, d)
        initial points at ``times[0]``.
    times : array_like, shape (K + 1,)
        strictly increasing or strictly decreasing times.
    method : str
        ``"euler"`` or ``"heun"``.
    keep : bool
        also return every state.

    Returns
    -------
    ndarray
        the points at ``times[-1]``, shape (n, d); with ``keep`` the states at every time,
        shape (K + 1, n, d).

    Raises
    ------
    ValueError
        for a non-monotone grid, an unknown method, or a field returning non-finite values
        or the wrong shape (the message names the step).
    """
    if not callable(velocity):
        raise TypeError(f"velocity must be callable, got {type(velocity).__name__}")
    x = as_points(x0, "x0").copy()
    t = as_float_array(times, "times")
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"times must be a 1-D array of at least two times, got shape {t.shape}")
    h = np.diff(t)
    if not (np.all(h > 0) or np.all(h < 0)):
        raise ValueError("times must be strictly monotone")
    if method not in ("euler", "heun"):
        raise ValueError(f"method must be 'euler' or 'heun', got {method!r}")

    def v(y, s, k):
        out = np.asarray(velocity(y, float(s)), dtype=np.float64)
        if out.shape != y.shape or not np.all(np.isfinite(out)):
            raise ValueError(
                f"velocity returned non-finite values or shape {out.shape} at step {k} (t = {s:g})"
            )
        return out

    states = [x.copy()] if keep else None
    for k in range(h.size):
        a = v(x, t[k], k)
        if method == "euler":
            x = x + h[k] * a
        else:
            b = v(x + h[k] * a, t[k + 1], k)
            x = x + 0.5 * h[k] * (a + b)
        if keep:
            states.append(x.copy())
    return np.stack(states) if keep else x


def l2_length(states, *, return_se: bool = False):
    r"""Length of a sampled particle path in :math:`L^2(\Omega)`: :math:`\sum_k \|x_{k+1} - x_k\|`.

    .. math::

        \ell = \sum_k \Bigl(\frac1n \sum_i |x^{(i)}_{k+1} - x^{(i)}_k|^2\Bigr)^{1/2}

    Since :math:`W_2(\rho_{k+1}, \rho_k)` is at most the :math:`L^2` displacement of any coupling,
    :math:`\ell` bounds from above the length of the curve of marginals (as sampled by these
    states); for particles moved by the tangent (gradient) velocity field and a fine grid the two
    agree.  It does not depend on the times at which the states were taken, so paths on
    different clocks can be compared.

    Parameters
    ----------
    states : array_like, shape (K + 1, n, d)
        the particle positions, e.g. ``Trajectory.x`` or ``integrate(..., keep=True)``.
    return_se : bool
        also return the delta-method standard error over the particles (as in
        :func:`wgf.manifold.curve_length`), treating them as independent.

    Returns
    -------
    float, or (float, float) with ``return_se``
    """
    x = as_float_array(states, "states")
    if x.ndim != 3 or x.shape[0] < 2:
        raise ValueError(f"states must have shape (K + 1, n, d) with K >= 1, got {x.shape}")
    sq = np.sum(np.diff(x, axis=0) ** 2, axis=2)  # (K, n)
    mean = sq.mean(axis=1)
    root = np.sqrt(mean)
    length = float(root.sum())
    if not return_se:
        return length
    if x.shape[1] < 2:
        raise ValueError("a standard error needs at least two particles")
    safe = np.where(root > 0, root, 1.0)
    g = ((sq - mean[:, None]) / (2 * safe[:, None])).sum(axis=0)
    return length, float(g.std(ddof=1) / np.sqrt(x.shape[1]))


def straightness_defect(states, duration: float) -> np.ndarray:
    r"""Per particle, the energy of a sampled path minus that of its chord.

    For states :math:`x_0, \dots, x_K` taken every :math:`\Delta t = D/K` over a window of
    length :math:`D`, the piecewise-linear path has kinetic energy
    :math:`\sum_k |x_{k+1} - x_k|^2/\Delta t`; the straight segment between its ends, run at
    constant speed over the same window, has :math:`|x_K - x_0|^2/D`.  Their difference

    .. math::

        \delta = \frac{1}{\Delta t}\sum_{k<K} |x_{k+1} - x_k|^2 - \frac{|x_K - x_0|^2}{D}
              = \int_0^D \Bigl|\dot x_t - \frac{x_K - x_0}{D}\Bigr|^2 dt \;\ge\; 0

    is the straightness defect of :meth:`wgf.trajectory.Trajectory.straightness` on a window
    (0 iff the path is a straight line run at constant speed).

    Parameters
    ----------
    states : array_like, shape (K + 1, n, d)
        positions at equally spaced times, ``K >= 1``.
    duration : float
        the length :math:`D > 0` of the time window the states span.

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    x = as_float_array(states, "states")
    if x.ndim != 3 or x.shape[0] < 2:
        raise ValueError(f"states must have shape (K + 1, n, d) with K >= 1, got {x.shape}")
    duration = positive(duration, "duration")
    dt = duration / (x.shape[0] - 1)
    energy = np.sum(np.diff(x, axis=0) ** 2, axis=(0, 2)) / dt
    return energy - np.sum((x[-1] - x[0]) ** 2, axis=1) / duration


def transport_cost(x0, x1) -> float:
    r"""The cost :math:`\frac1n\sum_i|x_1^{(i)} - x_0^{(i)}|^2` of the pairing ``x0[i] -> x1[i]``."""
    x0 = as_points(x0, "x0")
    x1 = as_points(x1, "x1", dim=x0.shape[1])
    if x1.shape[0] != x0.shape[0]:
        raise ValueError(
            f"x0 and x1 must hold the same number of points, got {x0.shape[0]} and {x1.shape[0]}"
        )
    return float(np.mean(np.sum((x1 - x0) ** 2, axis=1)))


def cost_ratio(x0, x1) -> float:
    r"""The pairing's cost over the optimal cost between the same two clouds.

    .. math::

        r = \frac{\frac1n\sum_i |x_1^{(i)} - x_0^{(i)}|^2}{W_2^2(\hat\mu_0, \hat\mu_1)} \;\ge\; 1,

    where :math:`\hat\mu_0, \hat\mu_1` are the empirical measures of the two clouds (the identity
    pairing is one of their couplings, so :math:`r \ge 1`; :math:`r = 1` iff it is optimal).
    """
    cost = transport_cost(x0, x1)
    opt = w2(x0, x1) ** 2
    if opt <= 0:
        raise ValueError("x0 and x1 are the same cloud (optimal cost 0): the ratio is undefined")
    return cost / opt


def pairwise_w2(clouds) -> np.ndarray:
    r"""The symmetric matrix :math:`D_{ij} = W_2(\hat\mu_i, \hat\mu_j)` of exact sample :math:`W_2`.

    Parameters
    ----------
    clouds : sequence of array_like, each (n_i, d)

    Returns
    -------
    ndarray, shape (m, m)
        zero diagonal, :math:`W_2` (not squared).
    """
    pts = [as_points(c, f"clouds[{i}]") for i, c in enumerate(clouds)]
    if len(pts) < 2:
        raise ValueError("clouds must hold at least two point clouds")
    d = pts[0].shape[1]
    for i, p in enumerate(pts):
        if p.shape[1] != d:
            raise ValueError(f"clouds[{i}] has dimension {p.shape[1]}, expected {d}")
    m = len(pts)
    iu = np.triu_indices(m, k=1)
    D = np.zeros((m, m))
    D[iu] = w2_many([(pts[i], pts[j]) for i, j in zip(*iu, strict=True)])
    return D + D.T


def nearest_distances(D) -> np.ndarray:
    r"""Row-wise minima of a distance matrix: :math:`d_i = \min_j D_{ij}`.

    With :math:`D_{ij} = W_2(\rho_{t_i}, \eta_{s_j})` between the marginals of two curves,
    :math:`d_i` is the distance from :math:`\rho_{t_i}` to the (sampled) curve :math:`\eta`, with
    no matching of clocks; :math:`\max_i d_i` is the directed Hausdorff distance.
    """
    D = as_float_array(D, "D")
    if D.ndim != 2 or D.size == 0 or np.any(D < 0):
        raise ValueError(f"D must be a non-empty 2-D array of distances >= 0, got shape {D.shape}")
    return D.min(axis=1)


def classical_mds(D, dim: int = 2):
    r"""Classical multidimensional scaling of a distance matrix.

    With :math:`J = I - \frac1m\mathbf 1\mathbf 1^\top` and :math:`B = -\frac12 J D^{\circ2} J`,
    the coordinates are :math:`U_k\sqrt{\lambda_k}` for the ``dim`` largest eigenpairs of
    :math:`B`; they reproduce :math:`D` exactly when :math:`D` is Euclidean in ``dim``
    dimensions.  :math:`W_2` is not Euclidean in general (:math:`\mathcal P_2` is positively
    curved), so the returned eigenvalues say how much of :math:`B` the picture holds.

    Returns
    -------
    (ndarray, ndarray)
        coordinates of shape (m, dim) and all eigenvalues of :math:`B`, largest first.
    """
    D = as_float_array(D, "D")
    if D.ndim != 2 or D.shape[0] != D.shape[1] or D.shape[0] < 2:
        raise ValueError(f"D must be a square matrix of at least 2 x 2, got shape {D.shape}")
    if np.abs(D - D.T).max() > 1e-9 * max(1.0, np.abs(D).max()) or np.any(D < 0):
        raise ValueError("D must be symmetric with non-negative entries")
    dim = positive_int(dim, "dim")
    if dim > D.shape[0]:
        raise ValueError(f"dim must be <= the number of points {D.shape[0]}, got {dim}")
    m = D.shape[0]
    J = np.eye(m) - 1.0 / m
    B = -0.5 * J @ (D**2) @ J
    lam, U = np.linalg.eigh(0.5 * (B + B.T))
    order = np.argsort(lam)[::-1]
    lam, U = lam[order], U[:, order]
    coords = U[:, :dim] * np.sqrt(np.maximum(lam[:dim], 0.0))
    return coords, lam


def swirled(velocity, angle: float):
    r"""A curved field on :math:`[0, 1]` whose flow map is that of ``velocity`` (2-D).

    With :math:`\theta(t) = a \sin(\pi t)` and :math:`R_\theta` the rotation by
    :math:`\theta`, if :math:`y_t` solves :math:`\dot y = v(y, t)` then
    :math:`x_t = R_{\theta(t)} y_t` solves

    .. math::

        \dot x = w(x, t) = \theta'(t)\, J x + R_{\theta(t)}\, v\bigl(R_{\theta(t)}^{\top} x, t\bigr),
        \qquad J = \begin{pmatrix} 0 & -1 \\ 1 & 0 \end{pmatrix},

    and :math:`x_0 = y_0`, :math:`x_1 = y_1` since :math:`\theta(0) = \theta(1) = 0`: the same
    pairing of prior and data, hence the same endpoints, along paths bent by up to
    :math:`|a|` radians.  For a rotation-invariant prior every marginal is the rotated marginal
    of :math:`v`'s curve.

    Parameters
    ----------
    velocity : callable
        ``v(x, t)``, points (n, 2) and a time in [0, 1] -> (n, 2).
    angle : float
        the amplitude :math:`a` (radians).

    Returns
    -------
    callable
        ``w(x, t)``, the swirled field.
    """
    if not callable(velocity):
        raise TypeError(f"velocity must be callable, got {type(velocity).__name__}")
    try:
        a = float(angle)
    except (TypeError, ValueError) as exc:
        raise TypeError("angle must be a real number") from exc
    if not np.isfinite(a):
        raise ValueError(f"angle must be finite, got {angle!r}")

    def field(x, t):
        x = as_points(x, "x", dim=2)
        t = float(t)
        th, dth = a * np.sin(np.pi * t), a * np.pi * np.cos(np.pi * t)
        c, s = np.cos(th), np.sin(th)
        R = np.array([[c, -s], [s, c]])
        v = np.asarray(velocity(x @ R, t), dtype=np.float64)  # rows: R^T x
        return dth * np.stack([-x[:, 1], x[:, 0]], axis=1) + v @ R.T

    return field


class StepSearch(NamedTuple):
    """Result of :func:`steps_to_tolerance`.

    ``steps``, ``nfe``, ``rms`` and ``upper`` have one entry per step count tried (``upper`` is
    the one-sided 95 % upper confidence bound of the paired RMS displacement); ``index`` is the
    first entry from which every ``upper`` is at most ``tol`` (``None`` if there is none) and
    ``samples`` the samples at that entry (``None`` likewise).
    """

    steps: np.ndarray
    nfe: np.ndarray
    rms: np.ndarray
    upper: np.ndarray
    tol: float
    index: int | None
    samples: np.ndarray | None

    @property
    def nfe_needed(self) -> float:
        """Evaluations at ``index``; ``inf`` when the tolerance is never reached."""
        return float(self.nfe[self.index]) if self.index is not None else float("inf")


def steps_to_tolerance(run, steps, reference, tol: float) -> StepSearch:
    r"""The fewest steps at which a sampler's samples stay within ``tol`` of its own limit.

    For every step count :math:`K` in ``steps`` the sampler, started from the same prior draws
    as ``reference`` (its output at many steps), gives samples :math:`x^{(K)}_i`; the paired
    RMS displacement bounds the :math:`W_2` distance to the converged law from above,

    .. math::

        W_2\bigl(\mathrm{law}(x^{(K)}), \mathrm{law}(x^{\mathrm{ref}})\bigr)^2
        \le \frac1n \sum_i |x^{(K)}_i - x^{\mathrm{ref}}_i|^2 ,

    and the answer is the first :math:`K` from which its upper 95 % confidence bound stays at
    most ``tol`` for every larger :math:`K` tried.

    Parameters
    ----------
    run : callable
        ``run(K) -> (samples, nfe)``: samples of shape (n, d) from the fixed prior draws and
        the number of field evaluations spent.
    steps : sequence of int
        strictly increasing step counts.
    reference : array_like, shape (n, d)
        the same sampler's samples at a large step count, from the same draws.
    tol : float
        the tolerance, positive.

    Returns
    -------
    StepSearch
    """
    if not callable(run):
        raise TypeError(f"run must be callable, got {type(run).__name__}")
    ks = [positive_int(k, "steps") for k in steps]
    if not ks or np.any(np.diff(ks) <= 0):
        raise ValueError(f"steps must be a non-empty strictly increasing sequence, got {steps!r}")
    ref = as_points(reference, "reference", min_points=2)
    tol = positive(tol, "tol")
    nfe, rms, upper, samples = [], [], [], []
    for k in ks:
        x, cost = run(k)
        x = as_points(x, "samples", dim=ref.shape[1])
        if x.shape[0] != ref.shape[0] or not np.all(np.isfinite(x)):
            raise ValueError(f"run({k}) must return {ref.shape[0]} finite points")
        pc = paired_displacement(x, ref)
        nfe.append(int(cost))
        rms.append(pc.rms)
        upper.append(pc.upper)
        samples.append(x)
    upper_a = np.asarray(upper)
    ok = upper_a <= tol
    index = None
    for i in range(len(ks) - 1, -1, -1):
        if not ok[i]:
            break
        index = i
    return StepSearch(
        np.asarray(ks), np.asarray(nfe), np.asarray(rms), upper_a, tol, index,
        samples[index] if index is not None else None,
    )  # fmt: skip
