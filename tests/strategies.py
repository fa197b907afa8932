"""Hypothesis strategies shared by the test modules."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

finite = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False, width=64)


SIZES = st.integers(1, 7)
DIMS = st.integers(1, 3)


@st.composite
def point_clouds(draw, n=SIZES, d=None, dims=DIMS):
    """A point cloud of shape (n, d) with moderate coordinates; d drawn unless given."""
    d = draw(dims) if d is None else d
    return draw(arrays(np.float64, (draw(n), d), elements=finite))


@st.composite
def weights(draw, n):
    """Probability weights of length n (strictly positive, summing to one)."""
    w = draw(arrays(np.float64, (n,), elements=st.floats(0.05, 1.0)))
    return w / w.sum()


@st.composite
def spd_matrices(draw, d):
    """A well-conditioned symmetric positive-definite d x d matrix."""
    B = draw(arrays(np.float64, (d, d), elements=st.floats(-2, 2)))
    return B @ B.T + draw(st.floats(0.1, 2.0)) * np.eye(d)


# Corrupted inputs for the property tests of bad input (tests/test_*_inputs.py).
CORRUPTIONS = ["nan", "inf", "empty", "wrong_shape", "float32", "noncontiguous"]


def corrupt(valid, kind, where):
    """A copy of the valid array ``valid`` spoiled in the way ``kind`` names (one of
    :data:`CORRUPTIONS`); ``where`` picks the entry that becomes NaN/Inf."""
    a = np.array(valid, dtype=np.float64)
    if kind in ("nan", "inf"):
        flat = a.reshape(-1).copy()
        flat[where % flat.size] = np.nan if kind == "nan" else -np.inf
        return flat.reshape(a.shape)
    if kind == "empty":
        return np.empty((0, *a.shape[1:]))
    if kind == "wrong_shape":
        return np.stack([a, a, a], axis=-1)
    if kind == "float32":
        return a.astype(np.float32)
    big = np.repeat(a[..., None], 2, axis=-1)  # a non-contiguous view of the same values
    return big[..., 0]


def all_finite(out):
    """Whether every array in ``out`` (one array or a tuple/list of them) is finite."""
    values = out if isinstance(out, (list, tuple)) else [out]
    return all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in values)
