"""The training loop: it minimises a convex problem to its closed-form solution, reproducibly."""

import numpy as np
import pytest
import torch

from wgf.train import TrainResult, fit


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
