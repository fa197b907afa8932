r"""Flow matching: regress a velocity field onto straight conditional paths.

.. rubric:: Convention

The prior :math:`\mu_0 = \mathcal N(0, s^2 I)` (``prior_scale`` :math:`s`, default 1) sits at
:math:`t = 0`, the data :math:`\mu_1` at :math:`t = 1` (the book's :class:`~wgf.trajectory.Trajectory` clock, so no conversion is
needed).  Given a coupling :math:`\pi` of :math:`\mu_0` and :math:`\mu_1`, a pair
:math:`(x_0, x_1) \sim \pi` is joined by the straight conditional path and its velocity

.. math::

    x_t = (1 - t)\, x_0 + t\, x_1, \qquad u_t(x_t \mid x_0, x_1) = x_1 - x_0
    :cite:`lipman2023flow,liu2023flow,albergo2023building,tong2024improving`.

The *marginal* velocity :math:`v_t(x) = \mathbb E[x_1 - x_0 \mid x_t = x]` transports
:math:`\rho_0 = \mu_0` to :math:`\rho_1 = \mu_1` through the law :math:`\rho_t` of :math:`x_t`
(it satisfies the continuity equation), and it is the minimiser of the conditional loss

.. math::

    \mathcal L(\theta) = \mathbb E_{t \sim U[0,1],\,(x_0,x_1)\sim\pi}
    \bigl|v_\theta(x_t, t) - (x_1 - x_0)\bigr|^2,

which differs from :math:`\mathbb E|v_\theta(x_t, t) - v_t(x_t)|^2` by a constant (the conditional
variance), so both have the same gradient.  The coupling decides which path is learned:
independent pairs (:class:`ICFM`), exact OT pairs within each minibatch (:class:`OTCFM`,
:cite:`tong2024improving,pooladian2023multisample`), or the pairs ``(x0, ODE(x0))`` of an already
trained flow (:class:`RectifiedFlow`, "reflow", :cite:`liu2023flow`).  With the exact OT
coupling, :math:`\rho_t` is McCann's interpolation and :math:`v` minimises the Benamou–Brenier
action (chapter 02).

Between Gaussians both marginal velocities are affine and known in closed form
(:mod:`wgf.gaussian_flows`).  :func:`euler_sample` integrates any numpy velocity ``v(x, t)``,
a network or an oracle (through :func:`wgf.sampling.ode`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from . import nets, sampling, train
from ._checks import as_float_array, as_points, positive, positive_int
from .couplings import _pair, independent, minibatch_ot
from .gaussian_flows import (  # noqa: F401  (moved to wgf.gaussian_flows; old imports keep working)
    GaussianFlow,
    GaussianVelocity,
    gaussian_flow,
    gaussian_icfm_velocity,
    gaussian_ot_velocity,
)
from .trajectory import Trajectory

__all__ = [
    "ICFM",
    "LONGER",
    "OTCFM",
    "RectifiedFlow",
    "cfm_loss",
    "conditional_path",
    "conditional_velocity",
    "euler_sample",
]


# --------------------------------------------------------------------------------------------
# Conditional paths and the loss
# --------------------------------------------------------------------------------------------


def _times(t, n):
    t = as_float_array(t, "t")
    if t.ndim == 0:
        t = np.full(n, float(t))
    if t.shape != (n,):
        raise ValueError(f"t must be a scalar or have shape ({n},), got {t.shape}")
    if np.any(t < 0) or np.any(t > 1):
        raise ValueError("t must lie in [0, 1]")
    return t


def conditional_path(x0, x1, t) -> np.ndarray:
    """The point :math:`x_t = (1 - t)x_0 + t x_1` of each straight path (``t`` scalar or (n,))."""
    x0, x1 = _pair(x0, x1)
    t = _times(t, x0.shape[0])[:, None]
    return (1.0 - t) * x0 + t * x1


def conditional_velocity(x0, x1) -> np.ndarray:
    """The constant velocity :math:`x_1 - x_0` of each straight path (the regression target)."""
    x0, x1 = _pair(x0, x1)
    return x1 - x0


def cfm_loss(net, x0, x1, t, weight=None) -> torch.Tensor:
    r"""Conditional flow-matching loss :math:`\operatorname{mean}_i w_i|v_\theta(x_t^i,t_i)-(x_1^i-x_0^i)|^2`.

    ``net(x, t)`` is a torch callable (a module, or e.g. :math:`-\nabla V_\theta`); ``x0``,
    ``x1`` (n, d) and ``t`` (n,) are float32 tensors; ``weight`` (n,) optional per-sample
    weights :math:`w_i` (default 1).
    """
    for name, v in (("x0", x0), ("x1", x1), ("t", t)):
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
    if x0.ndim != 2 or x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape (n, d), got {x0.shape}, {x1.shape}")
    if t.shape != (x0.shape[0],):
        raise ValueError(f"t must have shape ({x0.shape[0]},), got {tuple(t.shape)}")
    if weight is not None and tuple(weight.shape) != (x0.shape[0],):
        raise ValueError(f"weight must have shape ({x0.shape[0]},), got {tuple(weight.shape)}")
    xt = (1.0 - t[:, None]) * x0 + t[:, None] * x1
    err = ((net(xt, t) - (x1 - x0)) ** 2).sum(dim=1)
    return err.mean() if weight is None else (weight * err).mean()


# --------------------------------------------------------------------------------------------
# Euler sampler
# --------------------------------------------------------------------------------------------


def euler_sample(
    velocity, x0, steps=100, generator=None, *, dim=None, keep=None, method="euler"
) -> Trajectory:
    r"""Integrate :math:`\dot x = v(x, t)` from :math:`t = 0` to 1 with ``steps`` Euler steps.

    .. math::  x_{k+1} = x_k + h\, v(x_k, t_k), \qquad t_k = k h, \quad h = 1/K.

    A convenience front end of :func:`wgf.sampling.ode` (``method="heun"`` for Heun's method).

    Parameters
    ----------
    velocity : callable
        ``velocity(x, t)``: numpy points (n, d) and a float time -> (n, d) array.
    x0 : array of shape (n, d), or int
        Starting points; an integer ``n`` draws ``n`` points of :math:`\mathcal N(0, I_{dim})`
        from ``generator`` (then ``dim`` is required).
    steps : int
        Number of steps K (Euler: ``nfe = K``; Heun: ``2K``).
    keep : int or None
        Number of states to record (default all ``steps + 1``), see
        :func:`wgf.trajectory.keep_indices`.

    Returns
    -------
    Trajectory
        Time runs from the prior (``t = 0``) to the data (``t = 1``), as in the book.
    """
    n = None
    if isinstance(x0, (int, np.integer)) and not isinstance(x0, bool):
        n, x0 = positive_int(x0, "x0"), None
    return sampling.ode(
        velocity, x0, steps, method=method, keep=keep, model="flow matching", n=n, dim=dim,
        generator=generator,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Zoo models
# --------------------------------------------------------------------------------------------

#: Overrides of the flow-matching defaults for a longer training (``zoo.get("i_cfm", target,
#: seed, **LONGER)``; for a rectified flow, ``teacher=LONGER``): three times the optimiser
#: steps, 2.5 times the learning rate (still decayed to zero) and a three times larger scale of
#: the time embedding (higher frequencies in t), for about three times the training time at the
#: same batch and network.  The seeds appendix of the book measures what it buys on
#: ``eight_gaussians``: it narrows the modes of the curved I-CFM flow (100 Euler steps) to a few
#: per cent of the exact width, and those of the straight flows at 4 steps much less.
LONGER: dict = {"steps": 12000, "lr": 5e-3, "time_scale": 30.0}

_ARCHITECTURE = ("hidden", "depth", "embed_dim", "time_scale")
_FROM_TEACHER = (*_ARCHITECTURE, "prior_scale")  # what a reflow student must share


def _check_config(c):
    """ValueError/TypeError naming the first bad entry of a flow-matching configuration."""
    missing = {"batch", "steps", "lr", "ema", "grad_clip", "prior_scale", *_ARCHITECTURE} - set(c)
    if missing:
        raise ValueError(f"config lacks {sorted(missing)}")
    for name in ("hidden", "depth", "embed_dim", "steps"):
        positive_int(c[name], name)
    positive_int(c["batch"], "batch", minimum=2)
    positive(c["time_scale"], "time_scale")
    positive(c["prior_scale"], "prior_scale")
    positive(c["lr"], "lr")
    if c["grad_clip"] is not None:
        positive(c["grad_clip"], "grad_clip")
    if c["ema"] is not None and not 0.0 < float(c["ema"]) < 1.0:
        raise ValueError(f"ema must be None or lie in (0, 1), got {c['ema']!r}")


class _FlowMatching(sampling.Model):
    """Shared machinery: a :class:`~wgf.nets.TimeMLP` velocity trained on coupled pairs.

    The clock is the book's (prior :math:`\\mathcal N(0, s^2 I)` at ``t = 0``, data at ``t = 1``):
    :meth:`field` is the learned velocity :math:`v_\\theta(x, t)` itself.  ``prior_scale``
    :math:`s` (default 1) is the prior's standard deviation: training pairs start at
    :math:`x_0 = s z`, :math:`z \\sim \\mathcal N(0, I)`, and so do :meth:`prior` and :meth:`sample`.
    """

    coupling = staticmethod(independent)
    desc = "flow matching"
    sampling_only: ClassVar[tuple] = ("wgf.sampling", "wgf.trajectory")
    defaults: ClassVar[dict] = {
        "hidden": 128,
        "depth": 3,
        "embed_dim": 32,
        "time_scale": 10.0,
        "batch": 128,
        "steps": 4000,
        "lr": 2e-3,
        "lr_decay": True,
        "ema": 0.997,  # binds from step 2990 (wgf.train.ema_binds_from): the last ~330 steps
        "grad_clip": 1.0,
        "prior_scale": 1.0,  # the prior N(0, s^2 I) at t = 0
    }

    def __init__(self, target, config: dict, seed: int, *, name=None):
        self._init_target(target, name)
        self.config = c = dict(config)
        self.seed = int(seed)
        _check_config(c)
        self.prior_scale = float(c["prior_scale"])
        with nets.seeded(self.seed):
            self.module = nets.TimeMLP.from_config(self.dim, c)

    def _pairs(self, rng, b):
        x0 = self.prior_scale * rng.standard_normal((b, self.dim))  # bitwise x0 for s = 1
        return self.coupling(x0, self.target.sample(b, rng), rng)

    def _train(self, pairs, progress, seed_offset=0):
        c = self.config
        f32 = torch.float32

        def loss_fn(rng, step):
            x0, x1 = pairs(rng, c["batch"])
            t = torch.as_tensor(rng.random(c["batch"]), dtype=f32)
            return cfm_loss(
                self.module, torch.as_tensor(x0, dtype=f32), torch.as_tensor(x1, dtype=f32), t
            )

        desc = f"{self.desc} ({self.target_name})"
        seed = self.seed + seed_offset
        return train.fit_config(
            self.module, loss_fn, c, seed=seed, progress=progress, desc=desc
        ).losses

    def fit(self, progress: bool = True) -> np.ndarray:
        """Train on fresh coupled pairs every step; returns the loss history."""
        return self._train(self._pairs, progress)

    @property
    def velocity(self):
        """The learned field as a numpy callable ``v(x, t)`` (float64)."""
        return nets.numpy_predictor(self.module)

    def field(self, x, t) -> np.ndarray:
        """The learned velocity :math:`v_\\theta(x, t)` at book time ``t``."""
        return self.velocity(as_points(x, "x", dim=self.dim), sampling.unit_time(t))

    def sample(
        self, n, steps=100, generator=None, *, x0=None, keep=None, method="euler"
    ) -> Trajectory:
        """Integrate the learned field from :math:`\\mathcal N(0, s^2 I)` (``t=0``) to data (``t=1``).

        ``x0`` replaces the prior draw (then ``n`` is ``None`` or its length); ``method`` is
        ``"euler"`` (``nfe = steps``) or ``"heun"`` (``nfe = 2 steps``).
        """
        x, _ = self._start(n, x0, generator)
        model = f"{self.desc} ({self.target_name})"
        return sampling.ode(self.velocity, x, steps, method=method, keep=keep, model=model)


class ICFM(_FlowMatching):
    """Flow matching with the independent coupling (zoo name ``"i_cfm"``) :cite:`lipman2023flow`.

    ``defaults``: network (``hidden``, ``depth``, ``embed_dim``, ``time_scale``) and training
    (``batch``, ``steps``, ``lr``, ``ema``, ``grad_clip``).
    """

    coupling = staticmethod(independent)
    desc = "I-CFM"
    defaults: ClassVar[dict] = dict(_FlowMatching.defaults)


class OTCFM(_FlowMatching):
    """Flow matching with exact minibatch OT pairs (zoo name ``"ot_cfm"``) :cite:`tong2024improving`.

    Each batch of prior and data points is re-paired along its exact optimal plan
    (:func:`wgf.couplings.minibatch_ot`); same ``defaults`` as :class:`ICFM`.
    """

    coupling = staticmethod(minibatch_ot)
    desc = "OT-CFM"
    defaults: ClassVar[dict] = dict(_FlowMatching.defaults)


class RectifiedFlow(_FlowMatching):
    r"""One reflow of an I-CFM flow (zoo name ``"rectified_flow"``) :cite:`liu2023flow`.

    The teacher is declared in ``requires = {"teacher": "i_cfm"}``: :mod:`wgf.zoo` trains or
    loads ``i_cfm`` on the same target and seed with the overrides ``config["teacher"]``
    (default ``{}``: the teacher's cached default training) and passes it to :meth:`fit`.
    The teacher's key is part of this model's cache key, so a student is never served for
    another teacher.  A pool of ``pairs`` couples
    :math:`(x_0, \hat x_1)`, :math:`\hat x_1` the teacher's Euler solution (``teacher_steps``
    steps) from :math:`x_0\sim\mathcal N(0,I)`, is drawn once; the student, initialised with the
    teacher's weights, is trained ``steps`` steps on minibatches of that pool.  The teacher's
    ODE map is a deterministic coupling whose paths do not cross, so the reflowed paths are
    straighter.

    The student's network has the teacher's architecture (``hidden``, ``depth``, ``embed_dim``,
    ``time_scale`` of the teacher's configuration) and its prior (``prior_scale``), so these
    are not options of this model;
    a ``config`` that names them with other values raises ``ValueError``.
    """

    desc = "rectified flow"
    requires: ClassVar[dict] = {"teacher": "i_cfm"}
    sampling_only: ClassVar[tuple] = ()  # the reflow pool is drawn by the sampler
    defaults: ClassVar[dict] = {
        **{k: v for k, v in _FlowMatching.defaults.items() if k not in _FROM_TEACHER},
        "steps": 1000,
        "lr": 1e-3,
        "ema": 0.99,  # binds from step 890 (wgf.train.ema_binds_from): the last ~100 steps
        "pairs": 20000,
        "teacher_steps": 100,
        "teacher": {},
    }

    def __init__(self, target, config: dict, seed: int, *, name=None):
        c = dict(config)
        teacher = c.get("teacher", {})
        if not isinstance(teacher, dict):
            raise TypeError(f"teacher must be a dict of i_cfm overrides, got {type(teacher)}")
        unknown = set(teacher) - set(ICFM.defaults)
        if unknown:
            raise ValueError(f"unknown teacher option(s) {sorted(unknown)} for 'i_cfm'")
        teacher_config = {**ICFM.defaults, **teacher}
        for key in _FROM_TEACHER:
            if key in c and c[key] != teacher_config[key]:
                raise ValueError(
                    f"{key}={c[key]!r} differs from the teacher's {teacher_config[key]!r}: the "
                    "student copies the teacher's network (set it through 'teacher' instead)"
                )
            c[key] = teacher_config[key]
        positive_int(c["pairs"], "pairs", minimum=2)
        positive_int(c["teacher_steps"], "teacher_steps")
        super().__init__(target, c, seed, name=name)
        self.teacher_config = teacher_config

    def fit(self, progress: bool = True, *, teacher=None) -> np.ndarray:
        """Draw the reflow pool from the trained I-CFM ``teacher``, then train on it.

        ``teacher`` is supplied by :func:`wgf.zoo.get` (declared in ``requires``); it must
        have been trained on this target with ``config["teacher"]``.
        """
        if teacher is None:
            raise ValueError(
                "teacher is required: a trained I-CFM model (wgf.zoo.get('rectified_flow', ...) "
                "supplies it)"
            )
        c = self.config
        rng = np.random.default_rng([self.seed, 7])
        x0 = self.prior_scale * rng.standard_normal((c["pairs"], self.dim))
        x1 = teacher.sample(None, c["teacher_steps"], x0=x0, keep=2).samples
        self.module.load_state_dict(teacher.module.state_dict())

        def pairs(rng, b):
            idx = rng.integers(0, x0.shape[0], b)
            return x0[idx], x1[idx]

        return self._train(pairs, progress, seed_offset=1)
