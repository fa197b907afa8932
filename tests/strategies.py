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
