"""wgf.power: the same tests for a model and its controls; the controls fail, the exact target passes."""

import numpy as np
import pytest

from wgf import controls, data, power, schedules
from wgf.components import MixtureCells

EIGHT = data.eight_gaussians()


@pytest.fixture(scope="module")
def cells():
    return MixtureCells(EIGHT, n_reference=100_000, generator=0)


def test_every_standard_control_fails_and_the_exact_target_passes(cells):
    rng = np.random.default_rng(1)
    samples = {"exact": EIGHT.sample(4000, rng), **power.control_samples(EIGHT, 4000, rng)}
    v = power.judge(samples, cells)
    assert list(v) == ["exact", "wide 1.5", "wide 1.1", "weights 0.6/0.4", "mode dropped",
                       "stopped at 90%"]  # fmt: skip
    assert v["exact"].p_value > 1e-3
    for name in list(v)[1:]:
        assert v[name].p_value < 1e-3, name
    assert v["wide 1.5"].width == pytest.approx(1.5, rel=0.05)
    assert np.isnan(v["exact"].ratio)


def test_diffusion_stop_is_the_reversed_ou_law(cells):
    betas = schedules.linear_betas(1000, 1e-4, 0.02)
    x = power.control_samples(EIGHT, 20_000, 0, betas=betas)["stopped at 90%"]
    # after 900 of 1000 reverse steps the chain is at diffusion step 100, whose law is the OU
    # marginal at t_100 (e^{-2 t} = abar_100): second moment abar |m|^2 + abar s^2 + (1 - abar) d
    abar = np.prod(1 - betas[:100])
    m2_data = np.sum(
        EIGHT.weights * (np.sum(EIGHT.means**2, 1) + np.trace(EIGHT.covs, axis1=1, axis2=2))
    )
    expected = abar * m2_data + (1 - abar) * 2
    np.testing.assert_allclose(np.mean(np.sum(x**2, 1)), expected, rtol=0.02)
    # a 5 % change of the second moment, which the component test resolves
    assert power.judge({"stop": x}, cells)["stop"].p_value < 1e-3


def test_w2_column_uses_one_floor_for_all(cells):
    rng = np.random.default_rng(2)
    samples = {"exact": EIGHT.sample(4000, rng), "wide": 1.5 * EIGHT.sample(4000, rng)}
    v = power.judge(samples, cells, w2_sampler=EIGHT.sample, n_w2=1000, repeats=3, generator=3)
    np.testing.assert_array_equal(v["exact"].w2.floor, v["wide"].w2.floor)
    assert v["wide"].ratio > v["exact"].ratio
    table = power.verdict_table(v, w2_threshold=1.25)
    assert "W2/floor" in table and "reject" in table and len(table.splitlines()) == 4


def test_bad_input_names_the_argument(cells):
    with pytest.raises(TypeError, match="samples"):
        power.judge([], cells)
    with pytest.raises(TypeError, match="cells"):
        power.judge({"a": np.zeros((10, 2))}, "cells")
    with pytest.raises(ValueError, match="n_component"):
        power.judge({"a": np.zeros((10, 2))}, cells)
    with pytest.raises(TypeError, match="w2_sampler"):
        power.judge({"a": np.zeros((4000, 2))}, cells, w2_sampler=3)
    with pytest.raises(ValueError, match="stop"):
        power.control_samples(EIGHT, 10, stop=1.0)
    with pytest.raises(TypeError, match="mixture"):
        power.control_samples("eight", 10)
    with pytest.raises(TypeError, match="verdicts"):
        power.verdict_table({})


def test_curve_test_finds_the_point_on_the_curve_and_rejects_another_curve():
    from wgf import controls

    laws = {t: EIGHT.ou(t) for t in (0.1, 0.3, 0.6, 1.0)}
    on = EIGHT.ou(0.3).sample(4000, 5)
    r = power.curve_test(on, laws, n_reference=50_000, generator=1)
    assert r.t_best == 0.3 and r.p_max > 1e-3
    assert r.p_values[[0, 2, 3]].max() < 1e-3  # the clock is resolved
    prebuilt = {0.3: MixtureCells(EIGHT.ou(0.3), n_reference=50_000, generator=3)}
    assert power.curve_test(on, prebuilt).p_max > 1e-3
    # the straight-line (I-CFM) marginal half-way meets the OU curve at no time
    off = controls.stopped_flow(EIGHT, 0.5).sample(4000, 6)
    dense = {t: EIGHT.ou(t) for t in np.linspace(0.05, 2.0, 14)}
    assert power.curve_test(off, dense, n_reference=50_000, generator=2).p_max < 1e-3


def test_curve_test_bad_input():
    with pytest.raises(TypeError, match="laws"):
        power.curve_test(np.zeros((10, 2)), {})
    with pytest.raises(TypeError, match="laws"):
        power.curve_test(np.zeros((10, 2)), {0.5: "law"})
    with pytest.raises(ValueError, match="3-D"):
        power.curve_test(np.zeros((10, 3)), {0.5: EIGHT})


def test_moons_controls_fail_with_their_dataset_arguments():
    from wgf.components import dataset_cells

    moons = data.two_moons()
    ctrl = power.control_samples(moons, 4000, 7, **power.CONTROL_ARGS["two_moons"])
    v = power.judge(ctrl, dataset_cells("two_moons", n_reference=100_000))
    assert max(r.p_value for r in v.values()) < 1e-3


def _noisy_sampler(mix, sd, seed):
    """Exact samples plus noise of standard deviation sd / K: converges to the target in K."""

    def run(k):
        rng = np.random.default_rng([seed, k])
        return mix.sample(2000, rng) + (sd / k) * rng.standard_normal((2000, 2)), 3 * k

    return run


def test_steps_to_law_finds_where_the_sampler_meets_its_limit():
    mix = data.eight_gaussians()
    ref = mix.sample(4000, np.random.default_rng(1))
    r = power.steps_to_law(_noisy_sampler(mix, 2.0, 0), [1, 2, 4, 64, 128], ref, mix)
    # noise 2, 1, 0.5 widens the modes (sd 0.2) hugely; noise 1/32 of a mode's sd widens it
    # by 1.2 %, which 250 samples a mode cannot resolve
    assert r.p_values[0] < 1e-6 and r.index == 3 and r.nfe_needed == 192
    assert r.width[0] > 2
    # a sampler that never converges (a fixed 1.5x widening) is never accepted
    wide = controls.widened(mix, 1.5)
    never = power.steps_to_law(lambda k: (wide.sample(2000, k), k), [1, 2], ref, mix)
    assert never.index is None and never.nfe_needed == np.inf


def test_steps_to_law_bad_input():
    mix = data.eight_gaussians()
    ref = mix.sample(4000, 0)
    run = _noisy_sampler(mix, 1.0, 0)
    with pytest.raises(TypeError, match="run"):
        power.steps_to_law(None, [1], ref, mix)
    with pytest.raises(ValueError, match="steps"):
        power.steps_to_law(run, [2, 1], ref, mix)
    with pytest.raises(ValueError, match="alpha"):
        power.steps_to_law(run, [1], ref, mix, alpha=1.5)
    with pytest.raises(ValueError, match="reference"):
        power.steps_to_law(run, [1], ref[:10], mix)
