"""One training loop for every model of the book.

:func:`fit` runs Adam :cite:`kingma2015adam` on a loss supplied as a closure, with a cosine
learning-rate decay, optional gradient clipping and an optional exponential moving average
(EMA) of the weights, and shows a ``tqdm`` progress bar.  All randomness of a step (data
batches, noise, times) is drawn by the closure from the ``numpy.random.Generator`` that
:func:`fit` passes it, seeded from ``seed``: a run is reproducible and touches no global RNG.
It runs under the package's thread policy (:func:`wgf.threads.policy`: one intra-op thread
for the book's small networks).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from . import threads
from ._checks import nonnegative, positive, positive_int
from ._checks import seed as check_seed

__all__ = ["TRAINING_KEYS", "TrainResult", "ema_binds_from", "fit", "fit_config"]

#: The settings of :func:`fit` that every zoo model states in its configuration.
TRAINING_KEYS = ("steps", "lr", "lr_decay", "grad_clip", "ema")


def ema_binds_from(ema: float) -> int:
    r"""The first step :math:`k` at which the EMA decay reaches ``ema`` (the warm-up ends).

    The decay at step :math:`k` is :math:`\min(\text{ema}, (1+k)/(10+k))`, so ``ema`` binds from
    :math:`k^* = \lceil (10\,\text{ema} - 1)/(1 - \text{ema}) \rceil`.  Before :math:`k^*` the
    average covers roughly the last :math:`k/9` steps; from :math:`k^*` on, the last
    :math:`1/(1-\text{ema})` steps.  A run shorter than :math:`k^*` never feels ``ema``.
    """
    ema = positive(ema, "ema")
    if ema >= 1:
        raise ValueError(f"ema must be in (0, 1), got {ema}")
    return max(0, int(np.ceil((10.0 * ema - 1.0) / (1.0 - ema) - 1e-9)))


@dataclass(frozen=True)
class TrainResult:
    """Loss history (one float per step) and wall-clock seconds of a :func:`fit` run."""

    losses: np.ndarray
    seconds: float

    def smoothed(self, window: int = 100) -> np.ndarray:
        """Moving average of the losses over ``window`` steps (for plots)."""
        window = positive_int(window, "window")
        window = min(window, self.losses.size)
        kernel = np.ones(window) / window
        return np.convolve(self.losses, kernel, mode="valid")


@threads.applied
def fit(
    module: torch.nn.Module,
    loss_fn: Callable[[np.random.Generator, int], torch.Tensor],
    *,
    steps: int,
    lr: float = 1e-3,
    seed: int = 0,
    lr_decay: bool = True,
    grad_clip: float | None = 1.0,
    ema: float | None = None,
    weight_decay: float = 0.0,
    progress: bool = True,
    desc: str = "training",
) -> TrainResult:
    """Minimise ``loss_fn`` over the parameters of ``module`` with Adam.

    Parameters
    ----------
    module : torch.nn.Module
        Holds every trainable parameter; trained in place.
    loss_fn : callable
        ``loss_fn(rng, step) -> scalar tensor``; draws all its randomness from ``rng``.
    steps : int
        Number of optimiser steps.
    lr : float
        Initial learning rate; with ``lr_decay`` it follows a cosine to ``lr / 20``.
    seed : int
        Seeds the generator passed to ``loss_fn``.
    grad_clip : float or None
        Clip the global gradient norm to this value.
    lr_decay : bool
        Cosine decay of the learning rate (a visible setting of every zoo model).
    ema : float or None
        If given, keep an exponential moving average of the weights, with the usual warm-up
        ``min(ema, (1 + k) / (10 + k))`` at step k so the initial weights are forgotten, and
        load it into ``module`` at the end.  The warm-up binds until step
        :func:`ema_binds_from` (about :math:`9/(1-\text{ema})`: 4490 for 0.998): before, the
        average covers roughly the last :math:`k/9` steps; after, the last
        :math:`1/(1-\text{ema})`.  The zoo models choose ``ema`` so that it binds within their
        default number of steps.
    weight_decay : float
        Adam weight decay.
    progress : bool
        Show a ``tqdm`` progress bar (with the running loss), unless the environment sets
        ``TQDM_DISABLE=1``.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        on bad arguments, or if the loss becomes NaN/Inf (the step is reported).
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not callable(loss_fn):
        raise TypeError("loss_fn must be callable as loss_fn(rng, step)")
    steps = positive_int(steps, "steps")
    lr = positive(lr, "lr")
    seed = check_seed(seed)
    if not isinstance(lr_decay, (bool, np.bool_)):
        raise TypeError(f"lr_decay must be a bool, got {type(lr_decay).__name__}")
    if grad_clip is not None:
        grad_clip = positive(grad_clip, "grad_clip")
    if ema is not None:
        ema_binds_from(ema)  # checks 0 < ema < 1
    weight_decay = nonnegative(weight_decay, "weight_decay")
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError("module has no trainable parameters")

    rng = np.random.default_rng(int(seed))
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 20)
        if lr_decay
        else None
    )
    shadow = copy.deepcopy(module).requires_grad_(False) if ema is not None else None
    losses = np.empty(steps)
    start = time.perf_counter()
    module.train()
    # progress=True leaves ``disable`` unset, so tqdm's own TQDM_DISABLE=1 still turns it off
    # (the book build does, see book/_ext/readers.py).
    off = {} if progress else {"disable": True}
    bar = tqdm(range(steps), desc=desc, leave=False, mininterval=0.5, **off)
    for step in bar:
        loss = loss_fn(rng, step)
        value = float(loss.detach())
        if not np.isfinite(value):
            raise ValueError(f"loss is {value} at step {step}; lower lr or check the data")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()
        if sched is not None:
            sched.step()
        if shadow is not None:
            with torch.no_grad():
                decay = min(float(ema), (1.0 + step) / (10.0 + step))  # warm-up: forget the init
                for ps, p in zip(shadow.parameters(), module.parameters(), strict=True):
                    ps.lerp_(p, 1.0 - decay)
        losses[step] = value
        if progress and step % 200 == 0:
            bar.set_postfix(loss=f"{value:.4f}")
    bar.close()
    if shadow is not None:
        module.load_state_dict(shadow.state_dict())
    module.eval()
    return TrainResult(losses=losses, seconds=time.perf_counter() - start)


def fit_config(module, loss_fn, config: dict, *, seed: int, progress: bool, desc: str, **override):
    """:func:`fit` with the settings :data:`TRAINING_KEYS` read from a model's ``config``.

    ``override`` replaces single settings (e.g. the step count of one training phase).
    """
    missing = [k for k in TRAINING_KEYS if k not in config and k not in override]
    if missing:
        raise ValueError(f"config lacks the training setting(s) {missing}")
    settings = {**{k: config[k] for k in TRAINING_KEYS if k in config}, **override}
    return fit(module, loss_fn, seed=seed, progress=progress, desc=desc, **settings)
