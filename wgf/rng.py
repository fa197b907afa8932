"""Seeded random generators: every public function of wgf takes a ``generator``.

There is no hidden global random state in wgf.  A ``generator`` argument accepts either an
integer seed or a ``numpy.random.Generator``; :func:`as_generator` turns both into a
generator, so that a chapter executed twice prints the same numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_SEED", "as_generator", "spawn"]

#: Seed used by the book when a chapter does not choose its own.
DEFAULT_SEED = 20260623


def as_generator(generator=None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``generator``.

    Parameters
    ----------
    generator : None, int or numpy.random.Generator
        ``None`` gives a generator seeded with :data:`DEFAULT_SEED` (reproducible, never the
        global state); an integer is used as the seed; a generator is returned unchanged.

    Raises
    ------
    TypeError
        for anything else (floats, legacy ``RandomState`` objects, ...).
    """
    if generator is None:
        return np.random.default_rng(DEFAULT_SEED)
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        if generator < 0:
            raise ValueError(f"generator seed must be non-negative, got {generator}")
        return np.random.default_rng(int(generator))
    raise TypeError(
        "generator must be None, a non-negative int seed or a numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )


def spawn(generator, k: int) -> list[np.random.Generator]:
    """Split ``generator`` into ``k`` statistically independent child generators."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return list(as_generator(generator).spawn(int(k)))
