"""Tests of wgf.rng: explicit, reproducible randomness."""

import numpy as np
import pytest

from wgf.rng import DEFAULT_SEED, as_generator, spawn


def test_seeds_and_generators():
    assert as_generator(3).normal() == as_generator(3).normal()
    g = np.random.default_rng(0)
    assert as_generator(g) is g
    assert as_generator(None).normal() == np.random.default_rng(DEFAULT_SEED).normal()
    assert as_generator(np.int64(4)).normal() == as_generator(4).normal()


def test_no_global_state_is_touched():
    np.random.seed(0)  # noqa: NPY002 - the legacy global state is what we check is untouched
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    as_generator(None).normal(size=10)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_spawn_gives_independent_reproducible_children():
    a, b = spawn(1, 2)
    assert a.normal() != b.normal()
    a2, _ = spawn(1, 2)
    assert a2.normal() == spawn(1, 2)[0].normal()


@pytest.mark.parametrize("bad", [1.5, "seed", True, np.random.RandomState(0)])
def test_bad_generator(bad):
    with pytest.raises(TypeError, match="generator must be"):
        as_generator(bad)


def test_bad_seed_and_k():
    with pytest.raises(ValueError, match="non-negative"):
        as_generator(-1)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        spawn(0, 0)
