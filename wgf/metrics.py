r"""How close are generated samples to the data?  :math:`W_2` against the noise floor, robustly.

A sample-based :math:`W_2` between ``n`` generated points and ``n`` data points cannot go below
the *noise floor*, the :math:`W_2` between two independent ``n``-samples of the data
(:func:`wgf.ot.noise_floor`).  Both numbers are random, and for multimodal targets their spread
is large: with eight well-separated modes, the number of points that fall in each mode
fluctuates like a multinomial count, and carrying the excess mass from one mode to another
dominates :math:`W_2`.  At ``n = 2000`` single floor draws of the eight Gaussians range over
roughly :math:`\pm 40\%` of their median, so one model draw compared with one floor draw decides
little.

:func:`w2_to_floor` therefore compares *medians over repeats*: the model's samples are split into
``repeats`` blocks of ``n``, each block is compared with its own fresh data sample, and the median
of these :math:`W_2` values is divided by the median of ``repeats`` floor pairs.  For a perfect
model both medians estimate the same quantity, so the ratio concentrates around 1 with a spread
that shrinks like :math:`1/\sqrt{\text{repeats}}`; a thresholded ratio (the book uses 1.25 or
1.5) then tests the model rather than the luck of one draw.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_points, positive_int
from .ot import noise_floor_samples, w2
from .rng import as_generator

__all__ = ["FloorComparison", "w2_to_floor"]


class FloorComparison(NamedTuple):
    """Result of :func:`w2_to_floor`.

    ``ratio`` is ``median(w2) / median(floor)``; ``w2`` holds the :math:`W_2` (not squared) of
    each block of samples to its own data sample, one value per repeat; ``floor`` holds the
    :math:`W_2` between independent pairs of data samples (the noise-floor draws).
    """

    ratio: float
    w2: np.ndarray
    floor: np.ndarray

    @property
    def floor_median(self) -> float:
        """The noise floor, i.e. the median of the floor draws."""
        return float(np.median(self.floor))

    @property
    def w2_median(self) -> float:
        """The median of the block W2 values."""
        return float(np.median(self.w2))


def w2_to_floor(
    samples, sampler, n: int = 2000, repeats: int = 7, generator=None, *, floor=None
) -> FloorComparison:
    """Median :math:`W_2` of model samples to the data, over the median noise floor.

    Parameters
    ----------
    samples : array of shape (m, d), m >= ``n * repeats``
        Generated points; block ``i`` is ``samples[i*n:(i+1)*n]`` (surplus points are unused).
    sampler : callable
        ``sampler(n, generator) -> (n, d)`` draws data, e.g. ``GaussianMixture.sample``.
    n : int
        Points per comparison (the book's convention is 2000).
    repeats : int
        Number of blocks, and of floor pairs (odd numbers give a plain median).
    generator : None, int or numpy.random.Generator
        Randomness of the data samples.
    floor : array of shape (k,), optional
        Floor draws computed before (e.g. shared by several models of the same target, as
        :func:`wgf.ot.noise_floor_samples` returns them, at the same ``n``); drawn here if
        omitted.

    Returns
    -------
    FloorComparison

    Raises
    ------
    ValueError
        if there are fewer than ``n * repeats`` samples, or on bad arguments.
    """
    n = positive_int(n, "n", minimum=2)
    repeats = positive_int(repeats, "repeats")
    x = as_points(samples, "samples")
    if x.shape[0] < n * repeats:
        raise ValueError(
            f"samples must hold at least n * repeats = {n * repeats} points, got {x.shape[0]}"
        )
    if not callable(sampler):
        raise TypeError(
            f"sampler must be callable as sampler(n, generator), got {type(sampler).__name__}"
        )
    rng = as_generator(generator)
    if floor is None:
        floor = noise_floor_samples(sampler, n, repeats, rng)
    floor = np.asarray(floor, dtype=float)
    if floor.ndim != 1 or floor.size == 0 or not np.all(np.isfinite(floor)) or np.any(floor <= 0):
        raise ValueError("floor must be a non-empty 1-D array of positive W2 values")
    values = np.empty(repeats)
    for i in range(repeats):
        y = as_points(sampler(n, rng), "sampler output", dim=x.shape[1])
        if y.shape[0] != n:
            raise ValueError(f"sampler(n, generator) must return n={n} points, got {y.shape[0]}")
        values[i] = w2(x[i * n : (i + 1) * n], y)
    return FloorComparison(float(np.median(values) / np.median(floor)), values, floor)
