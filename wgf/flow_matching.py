r"""Flow matching: regress a velocity field onto straight conditional paths.

.. rubric:: Convention

The prior :math:`\mu_0 = \mathcal N(0, I)` sits at :math:`t = 0`, the data :math:`\mu_1` at
:math:`t = 1` (the book's :class:`~wgf.trajectory.Trajectory` clock, so no conversion is
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
(:func:`gaussian_ot_velocity`, :func:`gaussian_icfm_velocity`); :func:`gaussian_flow` integrates
the mean and covariance of :math:`\rho_t` under any affine field, with its kinetic action.
:func:`euler_sample` integrates any numpy velocity ``v(x, t)``, a network or an oracle.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import numpy as np
import torch

from . import nets, sampling, train
from ._checks import as_float_array, as_gaussian_pair, as_points, positive, positive_int
from .couplings import _pair, independent, minibatch_ot
from .ot import gaussian_ot_map
from .trajectory import Trajectory

__all__ = [
    "ICFM",
    "OTCFM",
    "GaussianFlow",
    "GaussianVelocity",
    "RectifiedFlow",
    "cfm_loss",
    "conditional_path",
    "conditional_velocity",
    "euler_sample",
    "gaussian_flow",
    "gaussian_icfm_velocity",
    "gaussian_ot_velocity",
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


def cfm_loss(net, x0, x1, t) -> torch.Tensor:
    r"""Conditional flow-matching loss :math:`\operatorname{mean}_i|v_\theta(x_t^i,t_i)-(x_1^i-x_0^i)|^2`.

    ``net(x, t)`` is a torch module; ``x0``, ``x1`` (n, d) and ``t`` (n,) are float32 tensors.
    """
    if x0.ndim != 2 or x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape (n, d), got {x0.shape}, {x1.shape}")
    if t.shape != (x0.shape[0],):
        raise ValueError(f"t must have shape ({x0.shape[0]},), got {tuple(t.shape)}")
    xt = (1.0 - t[:, None]) * x0 + t[:, None] * x1
    return ((net(xt, t) - (x1 - x0)) ** 2).sum(dim=1).mean()


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
# Gaussian closed forms
# --------------------------------------------------------------------------------------------


class GaussianVelocity:
    r"""Affine velocity :math:`v_t(x) = B_t (x - m_t) + (m_1 - m_0)`, :math:`m_t = (1-t)m_0 + t m_1`.

    ``matrix(t)`` returns :math:`B_t`; the instance is callable as ``v(x, t)``.
    """

    def __init__(self, m0, m1, matrix, name: str = "affine"):
        self.m0, self.m1 = np.asarray(m0, float), np.asarray(m1, float)
        self._matrix = matrix
        self.name = name

    def mean(self, t) -> np.ndarray:
        return (1.0 - t) * self.m0 + t * self.m1

    def matrix(self, t) -> np.ndarray:
        t = float(t)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"t must lie in [0, 1], got {t}")
        return self._matrix(t)

    def __call__(self, x, t) -> np.ndarray:
        x = as_points(x, "x", dim=self.m0.shape[0])
        return (x - self.mean(t)) @ self.matrix(t).T + (self.m1 - self.m0)

    def __repr__(self) -> str:
        return f"GaussianVelocity({self.name}, d={self.m0.shape[0]})"


def gaussian_ot_velocity(m0, S0, m1, S1) -> GaussianVelocity:
    r"""Marginal velocity of flow matching with the exact OT coupling, between two Gaussians.

    The OT coupling pairs :math:`x_1 = T(x_0) = m_1 + A(x_0 - m_0)` (:func:`wgf.ot.gaussian_ot_map`),
    so :math:`x_t = m_t + M_t (x_0 - m_0)` with :math:`M_t = (1-t)I + tA`: McCann's interpolation
    (:func:`wgf.geodesics.mccann_gaussian`).  Every path is straight, and :math:`M_t` is invertible
    (:math:`A` is SPD), so the conditional target is a function of :math:`x_t`:

    .. math::

        v_t(x) = x_1 - x_0 = (m_1 - m_0) + (A - I)(x_0 - m_0)
               = (A - I) M_t^{-1} (x - m_t) + (m_1 - m_0).

    Its action :math:`\int_0^1\mathbb E|v_t(x_t)|^2dt = \mathbb E|T(x_0) - x_0|^2 = W_2^2`.
    """
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)
    A = gaussian_ot_map(m0, S0, m1, S1).matrix
    eye = np.eye(m0.shape[0])

    def matrix(t):
        M = (1.0 - t) * eye + t * A
        return np.linalg.solve(M.T, (A - eye).T).T

    return GaussianVelocity(m0, m1, matrix, "ot")


def gaussian_icfm_velocity(m0, S0, m1, S1) -> GaussianVelocity:
    r"""Marginal velocity of flow matching with the independent coupling, between two Gaussians.

    With :math:`x_0 \sim \mathcal N(m_0, \Sigma_0)` and :math:`x_1\sim\mathcal N(m_1,\Sigma_1)`
    independent, :math:`(x_t, x_1 - x_0)` is jointly Gaussian: :math:`x_t` has mean :math:`m_t`
    and covariance :math:`\Sigma_t = (1-t)^2\Sigma_0 + t^2\Sigma_1`, and

    .. math::

        C_t = \operatorname{Cov}(x_1 - x_0,\, x_t)
            = \operatorname{Cov}(x_1 - x_0,\, (1-t)x_0 + t x_1) = t\Sigma_1 - (1-t)\Sigma_0 .

    The conditional mean of a Gaussian vector is affine (linear regression is exact), hence

    .. math::

        v_t(x) = \mathbb E[x_1 - x_0 \mid x_t = x] = (m_1 - m_0) + C_t \Sigma_t^{-1}(x - m_t).

    :math:`\Sigma_t` is SPD for every :math:`t` since :math:`\Sigma_0, \Sigma_1` are.  The path
    :math:`\rho_t = \mathcal N(m_t, \Sigma_t)` is *not* McCann's (whose covariance is
    :math:`M_t\Sigma_0M_t`), so the action exceeds :math:`W_2^2` unless the two coincide.
    """
    m0, S0, m1, S1 = as_gaussian_pair(m0, S0, m1, S1)

    def matrix(t):
        cov = (1.0 - t) ** 2 * S0 + t**2 * S1
        C = t * S1 - (1.0 - t) * S0
        return np.linalg.solve(cov.T, C.T).T  # C cov^{-1} (cov symmetric)

    return GaussianVelocity(m0, m1, matrix, "icfm")


class GaussianFlow(NamedTuple):
    """Law :math:`\\mathcal N(m_t, \\Sigma_t)` of a Gaussian pushed by an affine field.

    Fields: ``t`` (K+1,), ``mean`` (K+1, d), ``cov`` (K+1, d, d), ``speed2`` (K+1,) the mean
    squared speed :math:`\\mathbb E|v_t(X_t)|^2`, and ``action`` its integral over [0, 1]
    (Simpson's rule).
    """

    t: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    speed2: np.ndarray
    action: float


def _affine_parts(velocity, t, d):
    """(B, c) with velocity(x, t) = B x + c, read off from d + 1 evaluations (exact if affine)."""
    pts = np.vstack([np.zeros(d), np.eye(d)])
    out = np.asarray(velocity(pts, t), dtype=float)
    c = out[0]
    return (out[1:] - c).T, c


def gaussian_flow(velocity, m0, S0, steps: int = 200) -> GaussianFlow:
    r"""Push :math:`\mathcal N(m_0, \Sigma_0)` along an affine field, exactly up to RK4 error.

    If :math:`v_t(x) = B_t x + c_t` then :math:`X_t` stays Gaussian, with

    .. math::

        \dot m_t = B_t m_t + c_t, \qquad \dot\Sigma_t = B_t\Sigma_t + \Sigma_t B_t^\top,
        \qquad \mathbb E|v_t(X_t)|^2 = |B_t m_t + c_t|^2 + \operatorname{tr}(B_t\Sigma_t B_t^\top).

    ``velocity(x, t)`` may be any callable that is affine in ``x`` (the parts :math:`B_t, c_t`
    are read off from :math:`d + 1` evaluations).  ``steps`` (even) RK4 steps on :math:`[0, 1]`.
    """
    steps = positive_int(steps, "steps", minimum=2)
    if steps % 2:
        raise ValueError(f"steps must be even (Simpson's rule), got {steps}")
    m0 = as_float_array(np.atleast_1d(m0), "m0")
    d = m0.shape[0]
    S0 = as_gaussian_pair(m0, S0, m0, np.eye(d))[1]

    def rhs(t, m, S):
        B, c = _affine_parts(velocity, t, d)
        return B @ m + c, B @ S + S @ B.T

    def speed2(t, m, S):
        B, c = _affine_parts(velocity, t, d)
        u = B @ m + c
        return float(u @ u + np.trace(B @ S @ B.T))

    h = 1.0 / steps
    ts = np.linspace(0.0, 1.0, steps + 1)
    means, covs = [m0], [S0]
    m, S = m0, S0
    for t in ts[:-1]:
        k1 = rhs(t, m, S)
        k2 = rhs(t + h / 2, m + h / 2 * k1[0], S + h / 2 * k1[1])
        k3 = rhs(t + h / 2, m + h / 2 * k2[0], S + h / 2 * k2[1])
        k4 = rhs(t + h, m + h * k3[0], S + h * k3[1])
        m = m + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        S = S + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        S = 0.5 * (S + S.T)
        means.append(m)
        covs.append(S)
    e = np.array([speed2(t, m, S) for t, m, S in zip(ts, means, covs, strict=True)])
    w = np.ones(steps + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return GaussianFlow(ts, np.array(means), np.array(covs), e, float(h / 3 * w @ e))


# --------------------------------------------------------------------------------------------
# Zoo models
# --------------------------------------------------------------------------------------------


_ARCHITECTURE = ("hidden", "depth", "embed_dim", "time_scale")


def _check_config(c):
    """ValueError/TypeError naming the first bad entry of a flow-matching configuration."""
    missing = {"batch", "steps", "lr", "ema", "grad_clip", *_ARCHITECTURE} - set(c)
    if missing:
        raise ValueError(f"config lacks {sorted(missing)}")
    for name in ("hidden", "depth", "embed_dim", "steps"):
        positive_int(c[name], name)
    positive_int(c["batch"], "batch", minimum=2)
    positive(c["time_scale"], "time_scale")
    positive(c["lr"], "lr")
    if c["grad_clip"] is not None:
        positive(c["grad_clip"], "grad_clip")
    if c["ema"] is not None and not 0.0 <= float(c["ema"]) < 1.0:
        raise ValueError(f"ema must be None or lie in [0, 1), got {c['ema']!r}")


class _FlowMatching(sampling.Model):
    """Shared machinery: a :class:`~wgf.nets.TimeMLP` velocity trained on coupled pairs.

    The clock is the book's (prior :math:`\\mathcal N(0, I)` at ``t = 0``, data at ``t = 1``):
    :meth:`field` is the learned velocity :math:`v_\\theta(x, t)` itself.
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
        "ema": 0.999,
        "grad_clip": 1.0,
    }

    def __init__(self, target, config: dict, seed: int, *, name=None):
        self._init_target(target, name)
        self.config = c = dict(config)
        self.seed = int(seed)
        _check_config(c)
        with nets.seeded(self.seed):
            self.module = nets.TimeMLP.from_config(self.dim, c)

    def _pairs(self, rng, b):
        x0 = rng.standard_normal((b, self.dim))
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

        result = train.fit(
            self.module,
            loss_fn,
            steps=c["steps"],
            lr=c["lr"],
            lr_decay=c["lr_decay"],
            ema=c["ema"],
            grad_clip=c["grad_clip"],
            seed=self.seed + seed_offset,
            progress=progress,
            desc=f"{self.desc} ({self.target_name})",
        )
        return result.losses

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
        """Integrate the learned field from :math:`\\mathcal N(0, I)` (``t=0``) to data (``t=1``).

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
    (default ``{}``: the teacher's cached default training) and passes it to :meth:`fit`.  Being part of the configuration, it is part of this model's cache key, so a
    student is never served for another teacher.  A pool of ``pairs`` couples
    :math:`(x_0, \hat x_1)`, :math:`\hat x_1` the teacher's Euler solution (``teacher_steps``
    steps) from :math:`x_0\sim\mathcal N(0,I)`, is drawn once; the student, initialised with the
    teacher's weights, is trained ``steps`` steps on minibatches of that pool.  The teacher's
    ODE map is a deterministic coupling whose paths do not cross, so the reflowed paths are
    straighter.

    The student's network has the teacher's architecture (``hidden``, ``depth``, ``embed_dim``,
    ``time_scale`` of the teacher's configuration), so these are not options of this model;
    a ``config`` that names them with other values raises ``ValueError``.
    """

    desc = "rectified flow"
    requires: ClassVar[dict] = {"teacher": "i_cfm"}
    sampling_only: ClassVar[tuple] = ()  # the reflow pool is drawn by the sampler
    defaults: ClassVar[dict] = {
        **{k: v for k, v in _FlowMatching.defaults.items() if k not in _ARCHITECTURE},
        "steps": 1000,
        "lr": 1e-3,
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
        for key in _ARCHITECTURE:
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
        x0 = rng.standard_normal((c["pairs"], self.dim))
        x1 = teacher.sample(None, c["teacher_steps"], x0=x0, keep=2).samples
        self.module.load_state_dict(teacher.module.state_dict())

        def pairs(rng, b):
            idx = rng.integers(0, x0.shape[0], b)
            return x0[idx], x1[idx]

        return self._train(pairs, progress, seed_offset=1)
