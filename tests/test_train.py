"""The training loop: it minimises a convex problem to its closed-form solution, reproducibly."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from wgf.train import TrainResult, ema_binds_from, fit


def regression_problem():
    # least squares y = A x + b with noise drawn from the loop's generator; optimum known
    lin = torch.nn.Linear(2, 1)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    A, b = np.array([1.5, -2.0]), 0.5

    def loss(rng, step):
        x = rng.normal(size=(256, 2))
        y = x @ A + b + 0.01 * rng.normal(size=256)
        xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
        return ((lin(xt).squeeze(1) - yt) ** 2).mean()

    return lin, loss, A, b


@pytest.mark.parametrize("ema", [None, 0.99])
def test_fit_recovers_least_squares(ema):
    lin, loss, A, b = regression_problem()
    res = fit(lin, loss, steps=800, lr=0.05, seed=1, ema=ema, progress=False)
    assert isinstance(res, TrainResult) and res.losses.shape == (800,)
    np.testing.assert_allclose(lin.weight.detach().numpy()[0], A, atol=0.02)
    assert float(lin.bias.detach()) == pytest.approx(b, abs=0.02)
    assert res.losses[-50:].mean() < 1e-3 < res.losses[0]
    assert res.smoothed(100).size == 701


def test_fit_is_reproducible():
    runs = []
    for _ in range(2):
        lin, loss, _, _ = regression_problem()
        runs.append(fit(lin, loss, steps=50, seed=7, progress=False).losses)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_fit_bad_input_and_nan():
    lin, loss, _, _ = regression_problem()
    with pytest.raises(ValueError, match="steps"):
        fit(lin, loss, steps=0)
    with pytest.raises(ValueError, match="lr"):
        fit(lin, loss, steps=1, lr=-1.0)
    with pytest.raises(ValueError, match="ema"):
        fit(lin, loss, steps=1, ema=1.5)
    with pytest.raises(TypeError, match="module"):
        fit("net", loss, steps=1)
    with pytest.raises(ValueError, match=r"nan"):
        fit(lin, lambda rng, k: lin.weight.sum() * float("nan"), steps=3, progress=False)


def test_seed_and_settings_are_checked():
    net = torch.nn.Linear(1, 1)

    def loss(rng, step):
        return (net.weight**2).sum()

    for bad in (1.5, "0", True):
        with pytest.raises(TypeError, match="seed"):
            fit(net, loss, steps=2, seed=bad, progress=False)
    with pytest.raises(ValueError, match="seed"):
        fit(net, loss, steps=2, seed=-1, progress=False)
    with pytest.raises(TypeError, match="lr_decay"):
        fit(net, loss, steps=2, lr_decay="yes", progress=False)
    with pytest.raises(ValueError, match="weight_decay"):
        fit(net, loss, steps=2, weight_decay=-1.0, progress=False)


def test_ema_binds_from_is_where_the_warm_up_reaches_ema():
    for ema in (0.99, 0.995, 0.997, 0.998, 0.999):
        k = ema_binds_from(ema)
        assert (1 + k) / (10 + k) >= ema > (1 + k - 1) / (10 + k - 1)
    with pytest.raises(ValueError, match="ema"):
        ema_binds_from(1.0)


def test_every_zoo_default_ema_binds_within_its_default_run():
    # an ema the warm-up never reaches would be inert; the zoo's defaults all average
    from wgf import zoo

    for name in zoo.names():
        cls = zoo._resolve(zoo._REGISTRY[name].target)
        c = cls.defaults
        runs = (
            [(c["ema"], c["phase1_steps"]), (c["ema_phase2"], c["phase2_steps"])]
            if "phase1_steps" in c
            else [(c["ema"], c["steps"])]
        )
        for ema, steps in runs:
            assert ema_binds_from(ema) < 0.95 * steps, (name, ema, steps)


@pytest.mark.parametrize("env, shown", [("", True), ("1", False)])
def test_progress_bar_obeys_tqdm_disable(env, shown):
    # The book build sets TQDM_DISABLE=1 (no progress widgets in static pages); progress=True
    # must not override it, and without it the bar is drawn (on stderr outside a notebook).
    # tqdm reads the variable when it is imported, hence a fresh interpreter.
    code = (
        "import torch; from wgf.train import fit; lin = torch.nn.Linear(1, 1); "
        "fit(lin, lambda rng, k: lin.weight.sum() ** 2, steps=3, progress=True, desc='bar-check')"
    )
    env_vars = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    if env:
        env_vars["TQDM_DISABLE"] = env
    out = subprocess.run([sys.executable, "-c", code], env=env_vars, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert ("bar-check" in out.stderr) is shown
