"""Flow matching: conditional paths, the loss, the Euler sampler, tiny zoo models."""

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from wgf import ot as wot
from wgf import zoo
from wgf.couplings import minibatch_ot
from wgf.flow_matching import (
    ICFM,
    LONGER,
    OTCFM,
    RectifiedFlow,
    cfm_loss,
    conditional_path,
    conditional_velocity,
    euler_sample,
)
from wgf.gaussian_flows import gaussian_ot_velocity

M0, S0 = np.zeros(2), np.eye(2)
M1, S1 = np.array([0.5, -0.5]), np.array([[1.0, 0.8], [0.8, 1.0]])


def test_conditional_path_and_target():
    rng = np.random.default_rng(0)
    x0, x1 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    np.testing.assert_allclose(conditional_path(x0, x1, 0.0), x0)
    np.testing.assert_allclose(conditional_path(x0, x1, 1.0), x1)
    t = rng.random(5)
    xt = conditional_path(x0, x1, t)
    np.testing.assert_allclose(xt, x0 + t[:, None] * (x1 - x0))
    np.testing.assert_allclose(conditional_velocity(x0, x1), x1 - x0)
    # the target is the time derivative of the path
    h = 1e-6
    fd = (conditional_path(x0, x1, t + h) - conditional_path(x0, x1, t - h)) / (2 * h)
    np.testing.assert_allclose(fd, conditional_velocity(x0, x1), atol=1e-6)


def test_cfm_loss_is_zero_for_the_exact_target():
    x0, x1 = torch.randn(8, 2), torch.randn(8, 2)
    t = torch.rand(8)
    assert float(cfm_loss(lambda x, s: x1 - x0, x0, x1, t)) == 0.0
    assert float(cfm_loss(lambda x, s: torch.zeros_like(x), x0, x1, t)) == pytest.approx(
        float(((x1 - x0) ** 2).sum(1).mean())
    )


def test_euler_sample_draws_the_prior_and_keeps_states():
    tr = euler_sample(lambda x, t: np.ones_like(x), 10, steps=8, generator=3, dim=3, keep=3)
    assert tr.x.shape == (3, 10, 3) and tr.nfe == 8
    np.testing.assert_allclose(tr.t, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(tr.samples - tr.prior, 1.0)
    again = euler_sample(lambda x, t: np.ones_like(x), 10, steps=8, generator=3, dim=3, keep=3)
    np.testing.assert_array_equal(tr.x, again.x)


def test_minibatch_ot_pairs_are_the_pot_plan():
    rng = np.random.default_rng(4)
    x0, x1 = rng.normal(size=(64, 2)), 2.0 + rng.normal(size=(64, 2))
    a, b = minibatch_ot(x0, x1, rng)
    plan = wot.ot_plan(x0, x1)
    idx = np.argmax(plan, axis=1)
    np.testing.assert_allclose(plan.max(axis=1), 1 / 64)  # a permutation
    np.testing.assert_array_equal(b, x1[idx])
    cost = ((x0[:, None] - x1[None]) ** 2).sum(-1)
    r, c = linear_sum_assignment(cost)
    assert np.sum((a - b) ** 2) == pytest.approx(cost[r, c].sum())


def test_bad_input():
    v = gaussian_ot_velocity(M0, S0, M1, S1)
    with pytest.raises(ValueError, match="x0"):
        conditional_path(np.zeros((3, 2)), np.zeros((4, 2)), 0.5)
    with pytest.raises(ValueError, match="t"):
        conditional_path(np.zeros((3, 2)), np.zeros((3, 2)), 1.5)
    with pytest.raises(ValueError, match="t must"):
        conditional_path(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(TypeError, match="velocity"):
        euler_sample(None, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="steps"):
        euler_sample(v, np.zeros((3, 2)), steps=0)
    with pytest.raises(ValueError, match="dim"):
        euler_sample(v, 5)
    with pytest.raises(ValueError, match="shape"):
        euler_sample(lambda x, t: x[:, :1], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="x0"):
        euler_sample(v, np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="flow matching: velocity returned NaN"):
        euler_sample(lambda x, t: x * np.nan, np.ones((3, 2)))
    with pytest.raises(ValueError, match="batch"):
        ICFM("gaussian", {**ICFM.defaults, "batch": 1}, 0)
    for key, bad in (("hidden", 0), ("depth", 0), ("time_scale", -1.0), ("lr", 0.0), ("ema", 1.0)):
        with pytest.raises(ValueError, match=key):
            ICFM("gaussian", {**ICFM.defaults, key: bad}, 0)
    with pytest.raises(ValueError, match="lacks"):
        ICFM("gaussian", {"steps": 10}, 0)
    x0, x1 = torch.zeros(4, 2), torch.zeros(4, 2)
    with pytest.raises(ValueError, match="x0 and x1"):
        cfm_loss(lambda x, s: x, x0, torch.zeros(3, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="t must"):
        cfm_loss(lambda x, s: x, x0, x1, torch.zeros(4, 1))


TINY = {"hidden": 32, "depth": 2, "steps": 200, "batch": 64}


@pytest.mark.parametrize("cls", [ICFM, OTCFM])
def test_tiny_models_train_and_sample(cls):
    model = cls("gaussian", {**cls.defaults, **TINY}, seed=0)
    losses = model.fit(progress=False)
    assert losses.shape == (200,) and np.all(np.isfinite(losses))
    assert losses[-50:].mean() < losses[:20].mean()
    tr = model.sample(30, steps=5, generator=1, keep=3)
    assert tr.x.shape == (3, 30, 2) and tr.nfe == 5
    x0 = np.zeros((4, 2))
    np.testing.assert_allclose(model.sample(4, steps=2, x0=x0).prior, x0)
    with pytest.raises(ValueError, match="x0"):
        model.sample(3, x0=x0)


TEACHER = {"hidden": 32, "depth": 2, "steps": 200, "batch": 64}
STUDENT = {"steps": 100, "batch": 64, "pairs": 256, "teacher_steps": 4, "teacher": TEACHER}


def test_tiny_rectified_flow_uses_the_zoo_teacher(tmp_path, monkeypatch):
    monkeypatch.setenv("WGF_CACHE_DIR", str(tmp_path))
    zoo.clear_memory()
    model = zoo.get("rectified_flow", "gaussian", 0, progress=False, **STUDENT)
    assert model.trained and model.losses.shape == (100,) and np.all(np.isfinite(model.losses))
    teacher = zoo.get("i_cfm", "gaussian", 0, progress=False, **TEACHER)
    assert not teacher.trained  # trained by the zoo for the student (declared in requires)
    assert teacher.cache_path.exists() and teacher.cache_path.parent == tmp_path
    # constructed by hand, the student needs its teacher
    with pytest.raises(ValueError, match="teacher"):
        RectifiedFlow("gaussian", {**RectifiedFlow.defaults, **STUDENT}, seed=0).fit(False)
    assert model.sample(16, steps=3, generator=0).samples.shape == (16, 2)
    # the student copies the teacher's architecture (and starts from its weights)
    shapes = {k: v.shape for k, v in teacher.module.state_dict().items()}
    assert shapes == {k: v.shape for k, v in model.module.state_dict().items()}


def test_rectified_flow_cache_key_covers_the_teacher():
    other = {**TEACHER, "steps": 300}
    a = zoo.cache_path("rectified_flow", "gaussian", 0, **STUDENT)
    b = zoo.cache_path("rectified_flow", "gaussian", 0, **{**STUDENT, "teacher": other})
    c = zoo.cache_path("rectified_flow", "gaussian", 0, **STUDENT)
    assert a == c and a != b
    assert zoo.cache_path("rectified_flow", "gaussian", 0) != a


def test_rectified_flow_architecture_must_match_the_teacher():
    base = {**RectifiedFlow.defaults, **STUDENT}
    RectifiedFlow("gaussian", {**base, "hidden": 32}, 0)  # same as the teacher: accepted
    with pytest.raises(ValueError, match="hidden"):
        RectifiedFlow("gaussian", {**base, "hidden": 64}, 0)
    with pytest.raises(ValueError, match="time_scale"):
        RectifiedFlow("gaussian", {**RectifiedFlow.defaults, "time_scale": 1000.0}, 0)
    with pytest.raises(ValueError, match="unknown option"):
        zoo.cache_path("rectified_flow", "gaussian", 0, depth=2)  # not an option of the student
    with pytest.raises(ValueError, match="teacher option"):
        RectifiedFlow("gaussian", {**base, "teacher": {"pairs": 3}}, 0)
    with pytest.raises(TypeError, match="teacher"):
        RectifiedFlow("gaussian", {**base, "teacher": 3}, 0)
    with pytest.raises(ValueError, match="teacher_steps"):
        RectifiedFlow("gaussian", {**base, "teacher_steps": 0}, 0)
    with pytest.raises(ValueError, match="pairs"):
        RectifiedFlow("gaussian", {**base, "pairs": 1}, 0)


def test_prior_scale_sets_the_prior_of_training_and_sampling():
    base = {**OTCFM.defaults, **TINY}
    unit, half = OTCFM("gaussian", base, 0), OTCFM("gaussian", {**base, "prior_scale": 0.5}, 0)
    assert OTCFM.defaults["prior_scale"] == 1.0 and unit.prior_scale == 1.0
    # the default path draws exactly rng.standard_normal (cached models are unchanged)
    x0_unit, _ = unit._pairs(np.random.default_rng(3), 64)
    x0_half, _ = half._pairs(np.random.default_rng(3), 64)
    z = np.random.default_rng(3).standard_normal((64, 2))
    assert np.array_equal(np.sort(x0_unit, axis=0), np.sort(z, axis=0))
    np.testing.assert_allclose(np.sort(x0_half, axis=0), np.sort(0.5 * z, axis=0))
    # prior() and sample() start from N(0, s^2 I): the sample sd of 20000 draws is within 2 %
    assert np.std(half.prior(20_000, generator=1)) == pytest.approx(0.5, rel=0.02)
    tr = half.sample(20_000, steps=1, generator=1)
    np.testing.assert_array_equal(tr.prior, half.prior(20_000, generator=1))
    with pytest.raises(ValueError, match="prior_scale"):
        OTCFM("gaussian", {**base, "prior_scale": 0.0}, 0)
    with pytest.raises(ValueError, match="prior_scale"):
        ICFM("gaussian", {**ICFM.defaults, "prior_scale": -1.0}, 0)
    # the zoo keys it (a changed prior is a new model) and accepts it as an override
    assert zoo.key("ot_cfm", "gaussian", 0, prior_scale=0.5) != zoo.key("ot_cfm", "gaussian", 0)


def test_rectified_flow_takes_the_teachers_prior():
    base = {**RectifiedFlow.defaults, **STUDENT}
    student = RectifiedFlow("gaussian", {**base, "teacher": {**TEACHER, "prior_scale": 0.5}}, 0)
    assert student.prior_scale == 0.5 and student.config["prior_scale"] == 0.5
    assert RectifiedFlow("gaussian", base, 0).prior_scale == 1.0
    with pytest.raises(ValueError, match="prior_scale"):
        RectifiedFlow("gaussian", {**base, "prior_scale": 0.5}, 0)


def test_longer_is_a_valid_override_set_that_trains_longer_and_keys_new_models():
    assert set(LONGER) <= set(ICFM.defaults) and set(LONGER) <= set(OTCFM.defaults)
    assert LONGER["steps"] > ICFM.defaults["steps"]
    for name in ("i_cfm", "ot_cfm"):
        assert zoo.key(name, "eight_gaussians", 0, **LONGER) != zoo.key(name, "eight_gaussians", 0)
    # a rectified flow takes it through its teacher (the student copies the teacher's network)
    k = zoo.key("rectified_flow", "eight_gaussians", 0, teacher=LONGER)
    assert k != zoo.key("rectified_flow", "eight_gaussians", 0)
    with pytest.raises(ValueError, match="time_scale"):
        zoo.key("rectified_flow", "eight_gaussians", 0, time_scale=LONGER["time_scale"])
