"""Input validation shared by the public functions of wgf (private module).

Every check raises ``ValueError`` (or ``TypeError``) whose message names the offending
argument and says what was expected, as DESIGN.md section 3 requires.  Each helper returns a
float64 copy-or-view of its input so that callers can use the result directly.
"""

from __future__ import annotations

import numpy as np


def as_float_array(x, name: str) -> np.ndarray:
    """``x`` as a float64 array with only finite entries."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be array-like of real numbers, got {type(x).__name__}"
        ) from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or Inf")
    return arr


def as_points(x, name: str, *, dim: int | None = None, min_points: int = 1) -> np.ndarray:
    """A point cloud of shape (n, d); a 1-D array is read as n points on the line."""
    arr = as_float_array(x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d) or (n,), got shape {arr.shape}")
    if arr.shape[0] < min_points:
        raise ValueError(f"{name} must contain at least {min_points} point(s), got {arr.shape[0]}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} must have dimension d={dim}, got shape {arr.shape}")
    return arr


def as_weights(a, n: int, name: str, *, atol: float = 1e-9) -> np.ndarray:
    """Probability weights of length n: non-negative, summing to one.  ``None`` -> uniform."""
    if a is None:
        return np.full(n, 1.0 / n)
    w = as_float_array(a, name)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match its points, got {w.shape}")
    if np.any(w < 0):
        raise ValueError(f"{name} must be non-negative (smallest entry {w.min():.3g})")
    total = w.sum()
    if abs(total - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1, sums to {total:.12g}")
    return w


def as_vector(m, name: str, *, dim: int | None = None) -> np.ndarray:
    """A mean vector of shape (d,); a scalar is read as d = 1."""
    arr = np.atleast_1d(as_float_array(m, name))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a vector of shape (d,), got shape {arr.shape}")
    if dim is not None and arr.shape[0] != dim:
        raise ValueError(f"{name} must have shape ({dim},), got {arr.shape}")
    return arr


def as_spd(S, name: str, *, dim: int | None = None, rtol: float = 1e-10) -> np.ndarray:
    """A symmetric positive-definite matrix of shape (d, d); a scalar is read as 1 x 1."""
    arr = as_float_array(S, name)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square matrix of shape (d, d), got shape {arr.shape}")
    if dim is not None and arr.shape[0] != dim:
        raise ValueError(f"{name} must have shape ({dim}, {dim}), got {arr.shape}")
    scale = max(np.abs(arr).max(), np.finfo(float).tiny)
    if np.abs(arr - arr.T).max() > rtol * scale:
        raise ValueError(
            f"{name} must be symmetric (max |S - S^T| = {np.abs(arr - arr.T).max():.3g})"
        )
    arr = 0.5 * (arr + arr.T)
    smallest = np.linalg.eigvalsh(arr)[0]
    if smallest <= 0:
        raise ValueError(
            f"{name} must be positive definite (smallest eigenvalue {smallest:.3g} <= 0)"
        )
    return arr


def as_gaussian_pair(m0, S0, m1, S1):
    """Two Gaussians' parameters ``(m0, S0, m1, S1)`` checked for matching dimensions."""
    m0 = as_vector(m0, "m0")
    d = m0.shape[0]
    S0 = as_spd(S0, "S0", dim=d)
    m1 = as_vector(m1, "m1", dim=d)
    S1 = as_spd(S1, "S1", dim=d)
    return m0, S0, m1, S1


def positive(value, name: str) -> float:
    """A finite, strictly positive real number."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from exc
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return v


def positive_int(value, name: str, *, minimum: int = 1) -> int:
    """An integer >= minimum (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def nonnegative(value, name: str) -> float:
    """A finite real number >= 0 (bools are rejected)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got bool")
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from exc
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def unit_interval(value, name: str, *, closed_right: bool = True) -> float:
    """A real number in [0, 1] (or [0, 1) with ``closed_right=False``)."""
    v = nonnegative(value, name)
    if v > 1 or (not closed_right and v == 1):
        bound = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must lie in {bound}, got {value!r}")
    return v


def check_callable(fn, name: str, signature: str = "") -> None:
    """TypeError naming ``name`` unless ``fn`` is callable."""
    if not callable(fn):
        how = f" as {signature}" if signature else ""
        raise TypeError(f"{name} must be callable{how}, got {type(fn).__name__}")


def seed(value, name: str = "seed") -> int:
    """A non-negative integer seed (bools, floats and strings are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative integer, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)
