"""Couplings of a prior batch and a data batch, for flow matching and energy matching.

Conditional flow matching draws pairs :math:`(x_0, x_1)` from a coupling :math:`\\pi` of the
prior and the data and regresses onto the velocity of the straight path between them
:cite:`lipman2023flow,tong2024improving`.  Two couplings are served here:

* :func:`independent`: :math:`\\pi = \\mu_0\\otimes\\mu_1`, the pairs as drawn (I-CFM);
* :func:`minibatch_ot`: the exact optimal plan between the two empirical batches (POT's
  network simplex, :func:`wgf.ot.ot_plan`), from which the pairs are re-drawn
  :cite:`tong2024improving,pooladian2023multisample`.  For equal batch sizes the optimal plan
  of uniform weights is a permutation (Birkhoff), so the pairing is a matching that minimises
  :math:`\\sum_i |x_0^i - x_1^{\\sigma(i)}|^2`; as the batch grows it tends to the global OT
  coupling, whose displacement interpolation is McCann's geodesic (chapter 02).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_points
from .ot import ot_plan
from .rng import as_generator

__all__ = ["independent", "minibatch_ot"]


def _pair(x0, x1):
    x0 = as_points(x0, "x0")
    x1 = as_points(x1, "x1", dim=x0.shape[1])
    if x0.shape[0] != x1.shape[0]:
        raise ValueError(f"x0 and x1 must hold as many points, got {x0.shape[0]} and {x1.shape[0]}")
    return x0, x1


def independent(x0, x1, generator=None) -> tuple[np.ndarray, np.ndarray]:
    """The independent coupling: returns the pairs ``(x0[i], x1[i])`` unchanged (validated)."""
    return _pair(x0, x1)


def minibatch_ot(x0, x1, generator=None) -> tuple[np.ndarray, np.ndarray]:
    """Re-pair two batches along their exact quadratic-cost optimal plan.

    Parameters
    ----------
    x0, x1 : arrays of shape (n, d)
        Prior and data batches, of equal size.
    generator : None, int or numpy.random.Generator
        Used to draw the pairs from the plan (an optimal plan between uniform batches is a
        permutation, so the draw is deterministic whenever the optimum is unique).

    Returns
    -------
    (x0, x1_paired) : the prior batch and the data batch reordered so that ``x1_paired[i]`` is
        the partner of ``x0[i]`` under the optimal plan.
    """
    x0, x1 = _pair(x0, x1)
    rng = as_generator(generator)
    plan = ot_plan(x0, x1)
    n = x0.shape[0]
    # row i of n * plan is a probability vector over the partners of x0[i]
    rows = plan * n
    rows /= rows.sum(axis=1, keepdims=True)
    cdf = np.cumsum(rows, axis=1)
    u = rng.random((n, 1))
    partner = np.minimum((cdf < u).sum(axis=1), n - 1)
    return x0, x1[partner]
