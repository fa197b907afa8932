"""The :class:`Trajectory` every sampler returns.

One convention for the whole book (the book's Design page): time runs from the **prior** at
:math:`t = 0` to the **data** at :math:`t = 1`, whatever the model's own clock.  A DDPM chain
(whose paper index runs :math:`k = T` noise :math:`\\to 0` data), an annealed Langevin run and a
flow-matching ODE are all stored the same way, so chapter 10 can put them side by side.

A trajectory holds ``t`` of shape ``(K+1,)``, the particle positions ``x`` of shape
``(K+1, n, d)`` and ``nfe``, the number of network (or oracle) evaluations spent.  A long
chain may keep only a subsample of its steps (:func:`keep_indices`); ``nfe`` still counts all
of them.

For a piecewise-linear path the kinetic energy of the recorded particles is

.. math::

    \\mathcal E = \\mathbb E \\int_0^1 |\\dot x_t|^2\\, dt
    = \\mathbb E \\sum_{k} \\frac{|x_{k+1} - x_k|^2}{t_{k+1} - t_k},

and, since :math:`\\int_0^1 \\dot x_t\\, dt = x_1 - x_0`, the straightness defect of
:cite:`liu2023flow`, :math:`S = \\mathbb E \\int_0^1 |(x_1 - x_0) - \\dot x_t|^2 dt`, equals
:math:`\\mathcal E - \\mathbb E|x_1 - x_0|^2 \\ge 0`, with equality exactly for straight paths
traversed at constant speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import positive_int

__all__ = ["Trajectory", "keep_indices"]


def keep_indices(steps, keep=None) -> np.ndarray:
    """Indices ``0 = i_0 < ... < i_m = steps`` of the states a sampler records.

    Parameters
    ----------
    steps : int
        Number of sampler steps K (states ``0..K``).
    keep : int or None
        Number of states to record (at least 2: the prior and the data); ``None`` keeps all
        ``K + 1``.  The kept indices are spread evenly and always include both endpoints.
    """
    steps = positive_int(steps, "steps")
    if keep is None:
        return np.arange(steps + 1)
    keep = positive_int(keep, "keep", minimum=2)
    return np.unique(np.round(np.linspace(0, steps, min(keep, steps + 1))).astype(int))


@dataclass(frozen=True)
class Trajectory:
    """Particle path of a sampler, from the prior (``t=0``) to the data (``t=1``).

    Parameters
    ----------
    t : array of shape (K+1,)
        Non-decreasing times in :math:`[0, 1]`; ``t[0]`` is the prior end, ``t[-1]`` the data end.
    x : array of shape (K+1, n, d)
        Particle positions at those times (finite).
    nfe : int
        Number of function (network or oracle) evaluations spent to produce the path.

    Raises
    ------
    ValueError
        on inconsistent shapes, no particles, non-finite values, times outside [0, 1] or
        decreasing, or a negative ``nfe``.
    """

    t: np.ndarray
    x: np.ndarray
    nfe: int

    def __post_init__(self):
        t = np.asarray(self.t, dtype=float)
        x = np.asarray(self.x, dtype=float)
        if t.ndim != 1 or t.size < 1:
            raise ValueError(f"t must be a non-empty 1-D array, got shape {t.shape}")
        if x.ndim != 3 or x.shape[0] != t.size:
            raise ValueError(f"x must have shape (len(t)={t.size}, n, d), got {x.shape}")
        if x.shape[1] == 0 or x.shape[2] == 0:
            raise ValueError(f"x must hold at least one particle in d >= 1, got shape {x.shape}")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(x))):
            raise ValueError("t and x must be finite (a sampler diverged?)")
        if t.min() < 0 or t.max() > 1 or np.any(np.diff(t) < 0):
            raise ValueError("t must be non-decreasing within [0, 1]")
        if (
            isinstance(self.nfe, bool)
            or not isinstance(self.nfe, (int, np.integer))
            or self.nfe < 0
        ):
            raise ValueError(f"nfe must be a non-negative integer, got {self.nfe!r}")
        t.setflags(write=False)
        x.setflags(write=False)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "nfe", int(self.nfe))

    @property
    def samples(self) -> np.ndarray:
        """The generated samples, ``x[-1]`` (shape (n, d))."""
        return self.x[-1]

    @property
    def prior(self) -> np.ndarray:
        """The starting points, ``x[0]`` (shape (n, d))."""
        return self.x[0]

    @property
    def n(self) -> int:
        return self.x.shape[1]

    @property
    def dim(self) -> int:
        return self.x.shape[2]

    def __len__(self) -> int:
        return self.t.size

    def __repr__(self) -> str:
        return f"Trajectory(states={len(self)}, n={self.n}, dim={self.dim}, nfe={self.nfe})"

    def subsample(self, keep) -> Trajectory:
        """A trajectory keeping ``keep`` evenly spread states (endpoints included); same ``nfe``."""
        idx = keep_indices(len(self) - 1, keep) if len(self) > 1 else np.arange(1)
        return Trajectory(self.t[idx], self.x[idx], self.nfe)

    def _increments(self):
        if len(self) < 2:
            raise ValueError("a path needs at least two states")
        dt = np.diff(self.t)
        if np.any(dt <= 0):
            raise ValueError("path energy needs strictly increasing times")
        return np.diff(self.x, axis=0), dt

    def path_energy(self) -> float:
        """Kinetic energy :math:`\\mathbb E\\int_0^1|\\dot x_t|^2 dt` of the piecewise-linear path.

        Computed from the recorded states only, so for a subsampled chain it is a lower bound
        (by Jensen) on the energy of the full chain.
        """
        dx, dt = self._increments()
        return float(np.sum(np.mean(np.sum(dx**2, axis=2), axis=1) / dt))

    def straightness(self) -> float:
        """Straightness defect :math:`\\mathbb E\\int_0^1|(x_1-x_0)-\\dot x_t|^2dt` (0 iff straight).

        See :cite:`liu2023flow`; computed exactly for the piecewise-linear path.
        """
        dx, dt = self._increments()
        chord = self.x[-1] - self.x[0]
        v = dx / dt[:, None, None]
        return float(np.sum(dt * np.mean(np.sum((v - chord) ** 2, axis=2), axis=1)))
