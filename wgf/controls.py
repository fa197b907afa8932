r"""Negative controls: deliberately wrong samplers that a test with power must reject.

A threshold on a sample statistic means little until we know what it lets through.  Each
function here builds, from an exact Gaussian-mixture target, a *wrong* target with a known,
small defect; its exact samples play the role of a model with exactly that defect, and a test
that passes them is too weak to support a claim about a trained model.  The book's controls:

* :func:`widened`: every component :math:`\mathcal N(m_k, \Sigma_k)` replaced by
  :math:`\mathcal N(m_k, f^2\Sigma_k)` (modes 1.5 or 1.1 times too wide);
* :func:`reweighted`: the mass of two sets of components split 0.6 / 0.4 instead of in their
  true ratio (an unbalanced pair of modes, or moons);
* :func:`dropped`: components removed and the remaining weights renormalised (a lost mode);
* :func:`stopped_flow` and :func:`stopped_ou`: a chain stopped at 90 % of its way, i.e. the
  exact marginal of the straight-line (flow-matching) path or of the reversed Ornstein-Uhlenbeck
  (diffusion) path at that point, and :func:`stopped_chain` for a recorded :class:`~wgf.trajectory.Trajectory`.

:func:`negative_controls` collects the standard set for one target.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, positive
from .mixtures import GaussianMixture, as_mixture
from .trajectory import Trajectory

__all__ = [
    "dropped",
    "negative_controls",
    "reweighted",
    "stopped_chain",
    "stopped_flow",
    "stopped_ou",
    "widened",
]


def _indices(idx, K: int, name: str) -> np.ndarray:
    a = np.atleast_1d(as_float_array(idx, name))
    if a.ndim != 1 or a.size == 0 or np.any(a != np.round(a)) or np.any((a < 0) | (a >= K)):
        raise ValueError(f"{name} must be a non-empty list of component indices in [0, {K})")
    a = a.astype(int)
    if np.unique(a).size != a.size:
        raise ValueError(f"{name} must not repeat a component")
    return a


def widened(mixture, factor) -> GaussianMixture:
    r"""Every component ``factor`` times too wide: :math:`\Sigma_k \mapsto f^2 \Sigma_k`.

    Parameters
    ----------
    mixture : GaussianMixture
    factor : float
        :math:`f > 0` (1.5 and 1.1 in the book; below 1, too narrow).

    Returns
    -------
    GaussianMixture
    """
    m = as_mixture(mixture)
    f = positive(factor, "factor")
    return GaussianMixture(m.weights, m.means, f * f * m.covs)


def reweighted(mixture, first, second, share: float = 0.6) -> GaussianMixture:
    r"""The joint mass of two sets of components split ``share`` : ``1 - share``.

    With :math:`W = \sum_{k \in A\cup B} w_k`, the components of ``first`` (:math:`A`) get total
    mass :math:`sW`, those of ``second`` (:math:`B`) :math:`(1-s)W`, each set keeping its internal
    proportions; all other weights are unchanged.  For two equal modes of the eight Gaussians,
    ``share = 0.6`` gives weights 0.15 and 0.1 instead of 0.125 each.

    Parameters
    ----------
    mixture : GaussianMixture
    first, second : int or sequence of int
        Disjoint sets of component indices, each of positive total weight.
    share : float
        :math:`s \in (0, 1)`.

    Returns
    -------
    GaussianMixture
    """
    m = as_mixture(mixture)
    K = m.n_components
    a, b = _indices(first, K, "first"), _indices(second, K, "second")
    if np.intersect1d(a, b).size:
        raise ValueError("first and second must be disjoint sets of components")
    s = positive(share, "share")
    if s >= 1:
        raise ValueError(f"share must lie in (0, 1), got {share!r}")
    w = m.weights.copy()
    wa, wb = w[a].sum(), w[b].sum()
    if wa <= 0 or wb <= 0:
        raise ValueError("first and second must each carry positive weight")
    total = wa + wb
    w[a] *= s * total / wa
    w[b] *= (1 - s) * total / wb
    return GaussianMixture(w / w.sum(), m.means, m.covs)


def dropped(mixture, components) -> GaussianMixture:
    """The mixture without ``components``, the remaining weights renormalised.

    Parameters
    ----------
    mixture : GaussianMixture
    components : int or sequence of int
        Indices to remove (at least one component must remain).

    Returns
    -------
    GaussianMixture
    """
    m = as_mixture(mixture)
    drop = _indices(components, m.n_components, "components")
    keep = np.setdiff1d(np.arange(m.n_components), drop)
    if keep.size == 0 or m.weights[keep].sum() <= 0:
        raise ValueError("components must leave at least one component of positive weight")
    w = m.weights[keep]
    return GaussianMixture(w / w.sum(), m.means[keep], m.covs[keep])


def stopped_flow(mixture, t: float = 0.9) -> GaussianMixture:
    r"""The law of :math:`x_t = (1-t)\,x_0 + t\,x_1`, :math:`x_0\sim\mathcal N(0, I)` independent of :math:`x_1`.

    This is where the exact flow-matching ODE of the independent coupling (whose marginals are
    these laws) stands at time ``t``: a flow stopped at that fraction of its way.  Each component
    maps exactly:

    .. math::

        \mathcal N(m_k, \Sigma_k) \mapsto \mathcal N\bigl(t\, m_k,\; t^2 \Sigma_k + (1-t)^2 I\bigr).

    Parameters
    ----------
    mixture : GaussianMixture
    t : float
        In (0, 1]; ``t = 1`` returns the target itself.

    Returns
    -------
    GaussianMixture
    """
    m = as_mixture(mixture)
    t = positive(t, "t")
    if t > 1:
        raise ValueError(f"t must lie in (0, 1], got {t!r}")
    covs = t * t * m.covs + (1 - t) ** 2 * np.eye(m.dim)
    return GaussianMixture(m.weights, t * m.means, covs)


def stopped_ou(mixture, betas, fraction: float = 0.9) -> GaussianMixture:
    r"""The exact law of a DDPM / DDIM chain with exact scores, stopped after ``fraction`` of its steps.

    A chain of :math:`T` steps stopped after :math:`\lceil fT\rceil` of them is still at diffusion
    step :math:`k = T - \lceil fT\rceil`, whose exact law is the Ornstein-Uhlenbeck marginal
    ``mixture.ou(t_k)`` with :math:`e^{-2t_k} = \bar\alpha_k = \prod_{j\le k}(1 - \beta_j)`.

    Parameters
    ----------
    mixture : GaussianMixture
    betas : array_like, shape (T,)
        The noise schedule (values in (0, 1)).
    fraction : float
        In (0, 1].

    Returns
    -------
    GaussianMixture
    """
    m = as_mixture(mixture)
    b = as_float_array(betas, "betas")
    if b.ndim != 1 or b.size == 0 or np.any((b <= 0) | (b >= 1)):
        raise ValueError("betas must be a non-empty 1-D array of values in (0, 1)")
    f = positive(fraction, "fraction")
    if f > 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    k = b.size - int(np.ceil(f * b.size - 1e-9))
    t = -0.5 * float(np.sum(np.log1p(-b[:k])))
    return m.ou(t)


def stopped_chain(trajectory, fraction: float = 0.9) -> np.ndarray:
    """The particles of a recorded chain after ``fraction`` of its recorded states.

    Parameters
    ----------
    trajectory : Trajectory
        A chain recorded at every step (``keep=None``) or at evenly spread steps whose grid
        contains the requested fraction.
    fraction : float
        In (0, 1].

    Returns
    -------
    ndarray, shape (n, d)

    Raises
    ------
    ValueError
        if no recorded state lies at ``fraction`` of the chain (to half a recorded step).
    """
    if not isinstance(trajectory, Trajectory):
        raise TypeError(f"trajectory must be a Trajectory, got {type(trajectory).__name__}")
    f = positive(fraction, "fraction")
    if f > 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    K = len(trajectory) - 1
    if K < 1:
        raise ValueError("trajectory must record at least two states")
    i = f * K
    if abs(i - round(i)) > 1e-6:
        raise ValueError(
            f"no recorded state at fraction {f} of {K} recorded steps; record more states"
        )
    return np.array(trajectory.x[round(i)])


def negative_controls(mixture, *, pair=(0, 1), drop=0, stop: float = 0.9) -> dict:
    """The book's standard negative controls for a mixture target.

    Parameters
    ----------
    mixture : GaussianMixture
    pair : (first, second)
        Component sets for :func:`reweighted` (share 0.6); default components 0 and 1.
    drop : int or sequence of int
        Components for :func:`dropped`.
    stop : float
        Time of :func:`stopped_flow`.

    Returns
    -------
    dict
        ``{"wide 1.5": ..., "wide 1.1": ..., "weights 0.6/0.4": ..., "mode dropped": ...,
        "stopped at 90%": ...}``, each a :class:`~wgf.mixtures.GaussianMixture` (draw with ``.sample``).
    """
    m = as_mixture(mixture)
    return {
        "wide 1.5": widened(m, 1.5),
        "wide 1.1": widened(m, 1.1),
        "weights 0.6/0.4": reweighted(m, pair[0], pair[1], 0.6),
        "mode dropped": dropped(m, drop),
        f"stopped at {round(100 * stop)}%": stopped_flow(m, stop),
    }
