"""Per-component tests: calibrated under the null (exact samples), powerful against the controls."""

import numpy as np
import pytest

from wgf import controls, data
from wgf.components import MixtureCells, component_test, contiguous_groups, dataset_cells
from wgf.mixtures import GaussianMixture

EIGHT = data.eight_gaussians()
MOONS = data.two_moons()


@pytest.fixture(scope="module")
def eight_cells():
    return MixtureCells(EIGHT, generator=0, n_reference=100_000)


@pytest.fixture(scope="module")
def moon_cells():
    return dataset_cells("two_moons", n_reference=100_000)


def test_reference_cells_of_separated_modes_are_the_components(eight_cells):
    # 7.7 sd apart: the nearest-mode cell is the component up to truncation and sampling error
    np.testing.assert_allclose(eight_cells.probs, 1 / 8, atol=0.004)
    assert eight_cells.off_reference == pytest.approx(1e-3, abs=5e-4)
    np.testing.assert_allclose(eight_cells.means, EIGHT.means, atol=0.01)
    np.testing.assert_allclose(eight_cells.covs, EIGHT.covs, atol=0.003)


def test_assignment_is_the_most_responsible_component(eight_cells):
    x = EIGHT.means + 0.05
    np.testing.assert_array_equal(eight_cells.assign(x), np.arange(8))
    far = np.array([[0.0, 0.0], [10.0, 10.0]])
    np.testing.assert_array_equal(eight_cells.assign(far), [8, 8])  # off every mode
    assert eight_cells.assign(far, off=False)[1] == 1  # nearest mean is (sqrt2, sqrt2)


def _null_pvalues(mix, cells, n, repeats, seed):
    ps = [component_test(mix.sample(n, seed + r), cells) for r in range(repeats)]
    return np.array([[r.p_weights, r.p_means, r.p_covs, r.p_off, r.p_value] for r in ps])


def test_calibrated_under_the_null_eight_gaussians(eight_cells):
    p = _null_pvalues(EIGHT, eight_cells, 2000, 100, 100)
    rate = (p < 0.05).mean(axis=0)
    # Bin(100, 0.05) exceeds 12 with probability 0.002; a dead test would never reject
    assert np.all(rate <= 0.12), rate
    assert p[:, :3].mean() == pytest.approx(0.5, abs=0.06)  # p-values roughly uniform


@pytest.mark.slow
def test_calibrated_under_the_null_two_moons(moon_cells):
    p = _null_pvalues(MOONS, moon_cells, 4000, 100, 300)
    rate = (p < 0.05).mean(axis=0)
    assert np.all(rate <= 0.13), rate
    assert np.all((p < 0.01).mean(axis=0) <= 0.05)
    assert p[:, :3].mean() == pytest.approx(0.5, abs=0.07)


def test_exact_width_ratios_scatter_like_their_sampling_sd(eight_cells):
    res = component_test(EIGHT.sample(4000, 7), eight_cells)
    # 500 points per 2-D mode: the width ratio has sd about 1/(2 sqrt(500)) = 0.022
    assert np.all(np.abs(res.width - 1) < 0.08)
    assert res.off_fraction < 0.004
    assert res.n == 4000


@pytest.mark.parametrize(
    "control",
    [
        controls.widened(EIGHT, 1.5),
        controls.widened(EIGHT, 1.1),
        controls.reweighted(EIGHT, 0, 1, 0.6),
        controls.dropped(EIGHT, 3),
        controls.stopped_flow(EIGHT, 0.9),
    ],
    ids=["wide1.5", "wide1.1", "weights0.6/0.4", "dropped", "stopped0.9"],
)
def test_every_control_fails_at_n4000(eight_cells, control):
    res = component_test(control.sample(4000, 11), eight_cells)
    assert res.p_value < 1e-3


def test_the_failing_family_names_the_defect(eight_cells):
    wide = component_test(controls.widened(EIGHT, 1.1).sample(4000, 12), eight_cells)
    assert wide.p_covs < 1e-6 and wide.max_width > 1.07
    drop = component_test(controls.dropped(EIGHT, 5).sample(4000, 13), eight_cells)
    assert drop.p_weights < 1e-10 and drop.counts[5] == 0
    stop = component_test(controls.stopped_flow(EIGHT, 0.9).sample(4000, 14), eight_cells)
    assert stop.p_means < 1e-10


def test_off_mode_samples_are_counted_and_widen_their_cell(eight_cells):
    x = EIGHT.sample(4000, 15)
    x[:80] = 0.5 * EIGHT.means[np.arange(80) % 8]  # 2 % of the samples halfway to the origin
    res = component_test(x, eight_cells)
    assert res.off_fraction == pytest.approx(0.02, abs=0.003)
    # 2 % of a cell's mass at distance 1 adds 0.02 to tr(S) = 0.08: width sqrt(1.25) = 1.12
    assert res.p_off < 1e-10 and res.max_width > 1.08


def test_moons_controls_fail(moon_cells):
    half = np.arange(20)
    for control in (
        controls.widened(MOONS, 1.1),
        controls.reweighted(MOONS, half, half + 20, 0.6),
        controls.dropped(MOONS, [8, 9]),
        controls.stopped_flow(MOONS, 0.9),
    ):
        assert component_test(control.sample(4000, 16), moon_cells).p_value < 1e-3


def test_contiguous_groups():
    np.testing.assert_array_equal(contiguous_groups(6, 2), [0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="size"):
        contiguous_groups(3, 4)


def test_bad_input(eight_cells):
    with pytest.raises(TypeError, match="mixture"):
        MixtureCells("eight_gaussians")
    with pytest.raises(ValueError, match="groups"):
        MixtureCells(EIGHT, groups=[0, 1])
    with pytest.raises(ValueError, match="label"):
        MixtureCells(EIGHT, groups=[0, 0, 0, 0, 2, 2, 2, 2])
    with pytest.raises(ValueError, match="off_level"):
        MixtureCells(EIGHT, off_level=1.5)
    with pytest.raises(TypeError, match="cells"):
        component_test(np.zeros((10, 2)), EIGHT)
    with pytest.raises(ValueError, match="dimension"):
        component_test(np.zeros((10, 3)), eight_cells)
    with pytest.raises(ValueError, match="NaN"):
        component_test(np.full((10, 2), np.nan), eight_cells)
    with pytest.raises(ValueError, match="n_reference"):
        MixtureCells(EIGHT, n_reference=100)


def test_tiny_cells_enter_only_the_weights_test():
    tiny = GaussianMixture([0.999, 0.001], [[0.0, 0.0], [5.0, 5.0]], np.stack([np.eye(2)] * 2))
    cells = MixtureCells(tiny, n_reference=10_000, generator=1)
    np.testing.assert_array_equal(cells.usable, [True, False])
    res = component_test(tiny.sample(2000, 2), cells)
    assert np.isnan(res.mean_chi2[1]) and np.isfinite(res.mean_chi2[0])
    assert res.p_value > 1e-3


def test_given_reference_makes_a_two_sample_test():
    mix = data.eight_gaussians()
    rng = np.random.default_rng(5)
    ref = mix.sample(4000, rng)
    cells = MixtureCells(mix, reference=ref)
    assert cells.n_reference == 4000
    np.testing.assert_allclose(cells.means[0], ref[cells.assign(ref, off=False) == 0].mean(0))
    # calibrated under the null (both samples from the target): p-values are not small
    ps = [component_test(mix.sample(2000, rng), cells).p_value for _ in range(20)]
    assert np.mean(np.array(ps) < 0.01) <= 0.1
    # against a wide reference, exact samples fail: the test compares with the reference's law
    wide = MixtureCells(mix, reference=controls.widened(mix, 1.2).sample(4000, rng))
    assert component_test(mix.sample(2000, rng), wide).p_value < 1e-6


def test_given_reference_bad_input():
    mix = data.eight_gaussians()
    with pytest.raises(ValueError, match="reference"):
        MixtureCells(mix, reference=np.zeros((100, 2)))  # fewer than 100 (G + 1) points
    with pytest.raises(ValueError, match="reference"):
        MixtureCells(mix, reference=np.zeros((2000, 3)))
    bad = mix.sample(2000, 0)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="reference"):
        MixtureCells(mix, reference=bad)
