"""The one contract of every generative model, checked over ``zoo.names()``.

``sample(n, steps, generator=None, *, x0=None, keep=None) -> Trajectory``: ``x0`` honoured,
the clock runs from the prior (t = 0) to the data (t = 1), ``steps`` solver steps, ``nfe``
network evaluations (counted here on the network itself), same seed -> same output, bad ``n``,
``steps`` and ``x0`` rejected; ``field(x, t)`` on the same clock.  Each model is trained once,
tiny, in a temporary cache.
"""

import numpy as np
import pytest
import torch

from wgf import nets, zoo
from wgf.sampling import GenerativeModel

_NET = {"hidden": 16, "depth": 2, "embed_dim": 8}
_FLOW = {**_NET, "steps": 30, "batch": 32}
FAST = {
    "ddpm": {**_NET, "steps": 30, "batch": 64, "T": 40},
    "ddim": {**_NET, "steps": 30, "batch": 64, "T": 40},
    "ncsn": {**_NET, "steps": 30, "batch": 64, "L": 4},
    "i_cfm": _FLOW,
    "ot_cfm": _FLOW,
    "rectified_flow": {"steps": 20, "batch": 32, "pairs": 64, "teacher_steps": 4, "teacher": _FLOW},
    "energy_matching": {
        "hidden": 16, "depth": 2, "phase1_steps": 20, "phase2_steps": 4, "batch": 32,
        "chains": 8, "neg_steps": 3, "refresh": 2,
    },
}  # fmt: skip
STEPS = 6  # valid for every model (NCSN: 4 levels + the Tweedie step)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("WGF_CACHE_DIR", str(tmp_path_factory.mktemp("zoo")))
    zoo.clear_memory()
    out = {name: zoo.get(name, "eight_gaussians", 0, progress=False, **FAST[name]) for name in FAST}
    yield out
    zoo.clear_memory()
    mp.undo()


def test_every_zoo_name_is_covered():
    assert set(zoo.names()) == set(FAST)


def _count_network_calls(model):
    nets_ = [
        m for m in model.module.modules() if isinstance(m, (nets.TimeMLP, nets.ScalarPotential))
    ]
    calls = [0]
    hooks = [m.register_forward_hook(lambda *a: calls.__setitem__(0, calls[0] + 1)) for m in nets_]
    return calls, hooks


@pytest.mark.parametrize("name", sorted(FAST))
def test_contract(models, name):
    model = models[name]
    assert isinstance(model, GenerativeModel) and model.dim == 2
    x0 = model.prior(7, generator=1)
    assert x0.shape == (7, 2)

    calls, hooks = _count_network_calls(model)
    try:
        tr = model.sample(7, STEPS, generator=2, x0=x0)
    finally:
        for h in hooks:
            h.remove()
    # x0 honoured: the chain starts exactly there
    np.testing.assert_array_equal(tr.x[0], x0)
    # steps solver steps, one recorded state each; the clock runs prior 0 -> data 1
    assert len(tr) == STEPS + 1 and tr.t[0] == 0.0 and tr.t[-1] == 1.0
    assert np.all(np.diff(tr.t) > 0)
    assert np.isfinite(tr.path_energy())
    # nfe counts network evaluations
    assert tr.nfe == calls[0] > 0
    # keep records that many states, the same endpoints
    kept = model.sample(7, STEPS, generator=2, x0=x0, keep=3)
    assert len(kept) == 3 and kept.nfe == tr.nfe
    np.testing.assert_array_equal(kept.samples, tr.samples)
    # same seed -> same output; another seed -> another prior draw
    a = model.sample(5, STEPS, generator=3)
    b = model.sample(5, STEPS, generator=3)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.prior, model.sample(5, STEPS, generator=4).prior)
    np.testing.assert_array_equal(a.prior, model.prior(5, generator=3))


@pytest.mark.parametrize("name", sorted(FAST))
def test_field_on_the_book_clock(models, name):
    model = models[name]
    x = model.prior(9, generator=0)
    for t in (0.0, 0.5, 1.0):
        v = model.field(x, t)
        assert v.shape == x.shape and v.dtype == np.float64 and np.all(np.isfinite(v))
    for bad in (-0.1, 1.5, np.nan):
        with pytest.raises(ValueError, match="t"):
            model.field(x, bad)


@pytest.mark.parametrize("name", sorted(FAST))
def test_bad_n_steps_and_x0_are_rejected(models, name):
    model = models[name]
    x0 = model.prior(4, generator=0)
    for n in (0, -3):
        with pytest.raises(ValueError, match="n"):
            model.sample(n, STEPS)
    for n in (2.5, True, "4"):
        with pytest.raises(TypeError, match="n"):
            model.sample(n, STEPS)
    for steps in (0, -1):
        with pytest.raises(ValueError, match="steps"):
            model.sample(4, steps)
    for steps in (2.5, True, "6"):
        with pytest.raises(TypeError, match="steps"):
            model.sample(4, steps)
    with pytest.raises(ValueError, match="n=5 does not match x0"):
        model.sample(5, STEPS, x0=x0)
    with pytest.raises(ValueError, match="x0 must have dimension"):
        model.sample(4, STEPS, x0=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="x0 contains NaN"):
        model.sample(4, STEPS, x0=np.full((4, 2), np.nan))
    with pytest.raises(TypeError, match="generator"):
        model.sample(4, STEPS, generator=1.5)


@pytest.mark.parametrize("name", sorted(FAST))
def test_models_are_deterministic_across_loads(models, name):
    model = models[name]
    again = zoo.get(name, "eight_gaussians", 0, progress=False, **FAST[name])
    assert again is not model and not again.trained
    a, b = model.module.state_dict(), again.module.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
