"""Trajectory: validation, endpoints, path energy and straightness against hand computations."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wgf.trajectory import Trajectory, keep_indices


def straight(n=5, d=2, K=4, seed=0):
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    t = np.linspace(0, 1, K + 1)
    x = (1 - t)[:, None, None] * x0 + t[:, None, None] * x1
    return Trajectory(t, x, nfe=K), x0, x1


def test_endpoints_and_repr():
    tr, x0, x1 = straight()
    np.testing.assert_allclose(tr.prior, x0)
    np.testing.assert_allclose(tr.samples, x1)
    assert (len(tr), tr.n, tr.dim, tr.nfe) == (5, 5, 2, 4)
    assert "nfe=4" in repr(tr)
    with pytest.raises(ValueError):
        tr.x[0, 0, 0] = 1.0  # read-only


@given(st.integers(1, 20), st.integers(0, 10_000))
def test_straight_path_energy_is_chord_length(K, seed):
    tr, x0, x1 = straight(K=K, seed=seed)
    chord = np.mean(np.sum((x1 - x0) ** 2, axis=1))
    assert tr.path_energy() == pytest.approx(chord, rel=1e-12)
    assert tr.straightness() == pytest.approx(0.0, abs=1e-12)


def test_bent_path_energy_and_straightness():
    # one particle: (0,0) -> (1,1) -> (2,0) at t = 0, 1/2, 1: speed^2 = 8 on both halves
    t = np.array([0.0, 0.5, 1.0])
    x = np.array([[[0.0, 0.0]], [[1.0, 1.0]], [[2.0, 0.0]]])
    tr = Trajectory(t, x, nfe=2)
    assert tr.path_energy() == pytest.approx(8.0)
    # energy - |x1 - x0|^2 = 8 - 4
    assert tr.straightness() == pytest.approx(4.0)


def test_subsample_keeps_endpoints_and_nfe():
    tr, _, _ = straight(K=100)
    sub = tr.subsample(5)
    assert len(sub) == 5 and sub.nfe == 100
    np.testing.assert_allclose(sub.samples, tr.samples)
    np.testing.assert_allclose(sub.t[[0, -1]], [0, 1])


def test_keep_indices():
    np.testing.assert_array_equal(keep_indices(4), np.arange(5))
    idx = keep_indices(1000, 11)
    assert idx[0] == 0 and idx[-1] == 1000 and idx.size == 11
    assert keep_indices(3, 50).size == 4
    with pytest.raises(ValueError, match="keep"):
        keep_indices(10, 1)
    with pytest.raises(ValueError, match="steps"):
        keep_indices(0)


@pytest.mark.parametrize(
    "t, x, nfe, match",
    [
        (np.linspace(0, 1, 3), np.zeros((2, 4, 2)), 1, "shape"),
        (np.linspace(0, 1, 3), np.zeros((3, 4)), 1, "shape"),
        (np.array([0, 0.7, 0.5]), np.zeros((3, 4, 2)), 1, "non-decreasing"),
        (np.array([0, 0.5, 1.5]), np.zeros((3, 4, 2)), 1, "within"),
        (np.linspace(0, 1, 3), np.full((3, 4, 2), np.nan), 1, "finite"),
        (np.linspace(0, 1, 3), np.zeros((3, 4, 2)), -1, "nfe"),
        (np.linspace(0, 1, 3), np.zeros((3, 4, 2)), 1.5, "nfe"),
    ],
)
def test_bad_input(t, x, nfe, match):
    with pytest.raises(ValueError, match=match):
        Trajectory(t, x, nfe)


def test_energy_needs_increasing_times():
    tr = Trajectory(np.array([0.0, 0.0, 1.0]), np.zeros((3, 2, 2)), 0)
    with pytest.raises(ValueError, match="increasing"):
        tr.path_energy()
    with pytest.raises(ValueError, match="two states"):
        Trajectory(np.array([1.0]), np.zeros((1, 2, 2)), 0).path_energy()


def test_empty_trajectory_rejected():
    """No particles would give a NaN path energy: rejected at construction, naming x."""
    x = np.empty((2, 0, 2))
    with pytest.raises(ValueError, match="x must hold at least one particle"):
        Trajectory(np.array([0.0, 1.0]), x, nfe=1)
