r"""Energy Matching: a gradient flow warm-started on the geodesic :cite:`balcerak2025energy`.

.. rubric:: The model

One time-independent scalar potential :math:`V_\theta:\mathbb R^d\to\mathbb R`
(:class:`wgf.nets.ScalarPotential`) serves as both a velocity field and an energy: particles
move along :math:`-\nabla V_\theta`, and the learned density is the Boltzmann law
:math:`p_\theta\propto e^{-V_\theta/\varepsilon_{\max}}`.

.. rubric:: The sampler

:func:`sample_energy` runs the Euler–Maruyama scheme

.. math::

    x_{k+1} = x_k - \Delta t\,\nabla V(x_k) + \sqrt{2\,\varepsilon(t_k)\,\Delta t}\;\xi_k,
    \qquad \xi_k\sim\mathcal N(0, I),

a particle discretisation of :math:`dX = -\nabla V(X)\,dt + \sqrt{2\varepsilon}\,dW`, whose
law solves the Fokker–Planck equation
:math:`\partial_t\rho = \nabla\cdot(\rho\nabla V) + \varepsilon\Delta\rho`, the Wasserstein
gradient flow of the free energy :math:`F(\rho) = \int V\rho + \varepsilon\int\rho\log\rho`
:cite:`jordan1998variational`.  At constant :math:`\varepsilon` its minimiser, the stationary
law, is :math:`\propto e^{-V/\varepsilon}`.  The temperature follows :func:`temperature`:
zero (a deterministic flow) before :math:`\tau^*`, then a linear ramp to
:math:`\varepsilon_{\max}` at :math:`t = 1`, and :math:`\varepsilon_{\max}` after.

.. rubric:: Training

*Phase 1* is optimal-transport flow matching :cite:`tong2024improving,lipman2023flow` with the
velocity :math:`-\nabla V_\theta` on the straight paths
:math:`x_t = (1-t)x_0 + t x_1` between minibatch-OT pairs (:func:`flow_matching_loss`):

.. math::

    \mathcal L_{\rm FM}(\theta) = \mathbb E_{t, (x_0, x_1)}\,
    \bigl|-\nabla V_\theta(x_t) - (x_1 - x_0)\bigr|^2 .

*Phase 2* adds contrastive divergence :cite:`hinton2002training,du2019implicit`,
:math:`\mathcal L_{\rm CD} = \mathbb E_{\rm data}V_\theta - \mathbb E_{\rm neg}V_\theta`
(:func:`contrastive_divergence_loss`), with negatives drawn by :func:`sample_energy` at
:math:`\varepsilon_{\max}` (half started at data points, half persistent chains
:cite:`tieleman2008training` restarted from noise by the full sampler), detached.  Its gradient
is :math:`\varepsilon_{\max}` times minus the log-likelihood gradient of :math:`p_\theta` when
the negatives follow :math:`p_\theta`.  The flow-matching term is kept, weighted by
:func:`flow_weight` (1 before :math:`\tau^*`, decaying linearly to 0 at :math:`t = 1`), so that
the flow still carries the noise to the data while the energy near the data becomes a density
model.
"""

from __future__ import annotations

import copy
import functools
from typing import ClassVar

import numpy as np
import torch

from . import nets, sampling, train
from ._checks import (
    as_float_array,
    as_points,
    nonnegative,
    positive,
    positive_int,
    unit_interval,
)
from .couplings import minibatch_ot
from .flow_matching import cfm_loss
from .trajectory import Trajectory

__all__ = [
    "COLD",
    "LONGER",
    "EnergyMatching",
    "contrastive_divergence_loss",
    "flow_matching_loss",
    "flow_weight",
    "sample_energy",
    "temperature",
]


#: Overrides of the Energy Matching defaults for a longer training (``zoo.get("energy_matching",
#: target, seed, **LONGER)``): three times the phase-2 (contrastive divergence) steps, the same
#: phase 1, batch, learning rate and network.  Phase 2 leaves the ring-shaped valley of the
#: phase-1 potential only after a plateau whose length depends on the seed; the seeds appendix
#: of the book measures on ``eight_gaussians`` that the default budget is not enough on every
#: seed for chapter 9's claims, and what the longer phase 2 buys.
LONGER: dict = {"phase2_steps": 4500}

#: Overrides for a colder, longer variant (``zoo.get("energy_matching", "two_moons", seed,
#: **COLD)``): a lower temperature :math:`\varepsilon_{\max}` (shallower wells, for a thin target
#: such as ``two_moons``, whose ridges of width 0.1 need wells of curvature
#: :math:`\varepsilon_{\max}/0.1^2`, and a smaller unadjusted-Langevin bias at the same step)
#: and twice the phase-2 steps; chapter 9 compares it with the defaults on the two moons, the
#: seeds appendix on three seeds.
COLD: dict = {"eps_max": 0.1, "phase2_steps": 3000}


def temperature(t, tau_star: float = 0.8, eps_max: float = 0.15):
    r"""The temperature schedule :math:`\varepsilon(t)` of the Energy Matching sampler.

    .. math::

        \varepsilon(t) = \begin{cases} 0, & t < \tau^*,\\
        \varepsilon_{\max}\,\dfrac{t - \tau^*}{1 - \tau^*}, & \tau^* \le t < 1,\\
        \varepsilon_{\max}, & t \ge 1. \end{cases}

    Parameters
    ----------
    t : float or array
        Times :math:`\ge 0` (values beyond 1 continue at :math:`\varepsilon_{\max}`).
    tau_star : float
        Start of the ramp, in [0, 1).
    eps_max : float
        Final temperature, :math:`\ge 0`.

    Returns
    -------
    float or ndarray
        :math:`\varepsilon(t)`, of the shape of ``t``.
    """
    tau_star = unit_interval(tau_star, "tau_star", closed_right=False)
    eps_max = nonnegative(eps_max, "eps_max")
    tt = as_float_array(t, "t")
    if np.any(tt < 0):
        raise ValueError("t must be non-negative")
    eps = eps_max * np.clip((tt - tau_star) / (1.0 - tau_star), 0.0, 1.0)
    return float(eps) if eps.ndim == 0 else eps


def flow_weight(t, tau_star: float = 0.8):
    r"""Weight of the flow-matching term in phase 2: 1 for :math:`t<\tau^*`, then
    :math:`(1-t)/(1-\tau^*)`, reaching 0 at :math:`t = 1` (numpy or torch input)."""
    tau_star = unit_interval(tau_star, "tau_star", closed_right=False)
    if isinstance(t, torch.Tensor):
        if not bool(torch.isfinite(t).all()):
            raise ValueError("t contains NaN or Inf")
        return ((1.0 - t) / (1.0 - tau_star)).clamp(0.0, 1.0)
    return np.clip((1.0 - as_float_array(t, "t")) / (1.0 - tau_star), 0.0, 1.0)


def sample_energy(
    grad_V, x0, steps, dt=None, eps_schedule=0.0, generator=None, keep=None
) -> Trajectory:
    r"""Run :math:`x \leftarrow x - \Delta t\,\nabla V(x) + \sqrt{2\varepsilon(t)\Delta t}\,\xi`.

    The schedule's clock runs over :math:`t_k = k/\text{steps}`, :math:`k = 0,\dots,\text{steps}`
    (step :math:`k\to k+1` uses :math:`\varepsilon(t_k)`).  With a constant temperature
    :math:`\varepsilon` the chain is the unadjusted Langevin algorithm for
    :math:`\propto e^{-V/\varepsilon}`; an exact oracle :math:`V = -\varepsilon\log p`
    (``grad_V = lambda x: -eps * p.score(x)``) targets :math:`p` itself, up to an
    :math:`O(\Delta t)` bias.  It is :func:`wgf.sampling.langevin` with the drift
    :math:`-\nabla V` and the temperature :math:`\varepsilon(t)`.

    Parameters
    ----------
    grad_V : callable
        ``grad_V(x) -> array (n, d)``, the gradient of a time-independent potential (a trained
        :class:`wgf.nets.ScalarPotential` wrapped with :func:`wgf.nets.numpy_predictor`, or an
        exact oracle).
    x0 : array (n, d)
        Starting points (prior samples at :math:`t = 0`).
    steps : int
        Number of steps over the schedule :math:`t\in[0, 1]`.
    dt : float, optional
        Physical step :math:`\Delta t` (default ``1 / steps``, so that the deterministic part
        integrates the flow over unit time, as phase 1 trained it).
    eps_schedule : float or callable
        A constant temperature :math:`\ge 0`, or ``eps(t)`` (e.g. ``functools.partial(
        temperature, tau_star=0.8, eps_max=0.15)``).
    generator : None, int or numpy.random.Generator
        Source of the Gaussian noise.
    keep : int, optional
        Number of states recorded (evenly spread, endpoints included); default all.

    Returns
    -------
    Trajectory
        From ``x0`` (``t = 0``) to the final samples (``t = 1``); ``nfe = steps``.

    Raises
    ------
    ValueError
        on bad arguments, or if ``grad_V`` returns a wrong shape or non-finite values.
    """
    if not callable(grad_V):
        raise TypeError(f"grad_V must be callable as grad_V(x), got {type(grad_V).__name__}")
    steps = positive_int(steps, "steps")
    dt = 1.0 / steps if dt is None else positive(dt, "dt")
    if callable(eps_schedule):
        schedule = eps_schedule
        eps_schedule = lambda t: nonnegative(schedule(t), "eps_schedule")  # noqa: E731
    else:
        eps_schedule = nonnegative(eps_schedule, "eps_schedule")
    grad = sampling.Field(grad_V, "grad_V", model="energy sampler")
    return sampling.langevin(
        lambda x: -grad(x), x0, dt, steps, generator, keep, temperature=eps_schedule,
        model="energy sampler", name="-grad_V",
    )  # fmt: skip


def flow_matching_loss(potential, x0, x1, t, weight=None) -> torch.Tensor:
    r"""Phase-1 loss :math:`\mathbb E\,w(t)\,|-\nabla V_\theta(x_t) - (x_1 - x_0)|^2`.

    :func:`wgf.flow_matching.cfm_loss` with the velocity :math:`-\nabla V_\theta`
    (:meth:`wgf.nets.ScalarPotential.grad`, with the graph kept so that the loss is
    differentiable in :math:`\theta`, a second derivative).

    Parameters
    ----------
    potential : wgf.nets.ScalarPotential
        The potential :math:`V_\theta`.
    x0, x1 : tensors (n, d)
        Coupled pairs (e.g. re-paired by :func:`wgf.couplings.minibatch_ot`).
    t : tensor (n,)
        Times in [0, 1]; :math:`x_t = (1 - t)x_0 + t x_1`.
    weight : tensor (n,), optional
        Per-sample weights :math:`w(t)` (default 1).

    Returns
    -------
    torch.Tensor
        Scalar; the sum over coordinates, the mean over the batch.
    """
    if not callable(potential):
        raise TypeError(f"potential must be callable as V(x), got {type(potential).__name__}")
    return cfm_loss(lambda x, s: -nets.gradient(potential, x, create_graph=True), x0, x1, t, weight)


def contrastive_divergence_loss(potential, x_data, x_neg) -> torch.Tensor:
    r""":math:`\mathbb E_{\rm data}V_\theta - \mathbb E_{\rm neg}V_\theta` (negatives detached)."""
    for name, v in (("x_data", x_data), ("x_neg", x_neg)):
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
    if x_data.ndim != 2 or x_neg.ndim != 2 or x_data.shape[1] != x_neg.shape[1]:
        raise ValueError("x_data and x_neg must have shapes (n, d) and (m, d)")
    return potential(x_data).mean() - potential(x_neg.detach()).mean()


class _Pair(torch.nn.Module):
    """The trained potential and a frozen copy of it at the end of phase 1 (for comparison)."""

    def __init__(self, potential: nets.ScalarPotential):
        super().__init__()
        self.potential = potential
        self.warm = copy.deepcopy(potential).requires_grad_(False)


def _tensor(x) -> torch.Tensor:
    return torch.tensor(np.asarray(x), dtype=torch.float32)


class EnergyMatching(sampling.Model):
    """Energy Matching on a target (zoo name ``"energy_matching"``).

    ``defaults``: ``hidden``, ``depth``, ``activation`` (the potential); ``batch``, ``lr``,
    ``lr_decay``, ``grad_clip``, ``ema`` and ``ema_phase2`` (the weight averages of the two
    phases), ``phase1_steps``, ``phase2_steps`` (training); ``eps_max``,
    ``tau_star`` (the temperature schedule); ``cd_weight`` and ``flow_weight`` (phase-2 loss
    weights; the CD term is divided by :math:`\\varepsilon_{\\max}`, the scale of the
    log-likelihood gradient of :math:`p_\\theta`); ``neg_steps`` and ``neg_dt`` (Langevin steps
    per negative batch), ``chains`` (persistent noise-started chains among the ``batch``
    negatives) and ``refresh`` (steps between their restarts from noise).

    ``module.potential`` is :math:`V_\\theta`; ``module.warm`` its copy after phase 1.

    .. rubric:: Clock

    :meth:`sample` runs ``steps`` steps of :func:`sample_energy` with :math:`\\Delta t` =
    ``1/steps`` by default, so book time is the sampler's own clock :math:`t_k = k/\\text{steps}`
    (prior :math:`\\mathcal N(0, I)` at 0, data at 1); :meth:`field` is the time-independent
    :math:`-\\nabla V_\\theta`, the drift it integrates.  Langevin steps beyond :math:`t = 1`
    at :math:`\\varepsilon_{\\max}` are a separate chain (:meth:`equilibrate`) with its own clock.
    """

    defaults: ClassVar[dict] = {
        "hidden": 128,
        "depth": 3,
        "activation": "silu",
        "batch": 128,
        "lr": 3e-3,
        "lr_decay": True,
        "grad_clip": None,
        "ema": 0.995,  # phase 1: binds from step 1790 (wgf.train.ema_binds_from)
        "ema_phase2": 0.99,  # phase 2 restarts the average: binds from step 890
        "phase1_steps": 3000,
        "phase2_steps": 1500,
        "eps_max": 0.15,
        "tau_star": 0.8,
        "cd_weight": 1.0,
        "flow_weight": 1.0,
        "neg_steps": 20,
        "neg_dt": 0.02,
        "chains": 64,
        "refresh": 200,
    }

    def __init__(self, target, config: dict, seed: int, *, name=None):
        self._init_target(target, name)
        self.config = c = dict(config)
        self.seed = int(seed)
        for key in ("phase1_steps", "phase2_steps", "neg_steps", "chains", "refresh"):
            positive_int(c[key], key)
        batch = positive_int(c["batch"], "batch", minimum=2)
        if c["chains"] >= batch:
            raise ValueError(f"chains must be smaller than batch={batch}, got {c['chains']}")
        for key in ("eps_max", "neg_dt", "lr"):
            positive(c[key], key)
        unit_interval(c["tau_star"], "tau_star", closed_right=False)
        for key in ("cd_weight", "flow_weight"):
            nonnegative(c[key], key)
        with nets.seeded(self.seed):
            pot = nets.ScalarPotential(self.dim, c["hidden"], c["depth"], c["activation"])
        self.module = _Pair(pot)

    @property
    def potential(self) -> nets.ScalarPotential:
        return self.module.potential

    def schedule(self):
        """The sampler's temperature schedule ``eps(t)``."""
        c = self.config
        return functools.partial(temperature, tau_star=c["tau_star"], eps_max=c["eps_max"])

    def grad(self, warm: bool = False):
        """:math:`\\nabla V_\\theta` as a numpy callable (``warm=True``: the phase-1 potential)."""
        pot = self.module.warm if warm else self.module.potential
        f = nets.numpy_predictor(lambda x, t: pot.grad(x))
        return lambda x: f(x, 0.0)

    def energy(self, x, warm: bool = False) -> np.ndarray:
        """:math:`V_\\theta(x)` in float64, for points of shape (n, d)."""
        pot = self.module.warm if warm else self.module.potential
        x = as_points(x, "x", dim=self.dim)
        with torch.no_grad():
            return pot(_tensor(x)).double().numpy()

    def log_density(self, x, warm: bool = False) -> np.ndarray:
        """Unnormalised log Boltzmann density :math:`-V_\\theta(x)/\\varepsilon_{\\max}`."""
        return -self.energy(x, warm) / self.config["eps_max"]

    def _pairs(self, rng, b):
        z = rng.standard_normal((b, self.dim))
        x0, x1 = minibatch_ot(z, self.target.sample(b, rng), rng)
        return _tensor(x0), _tensor(x1), _tensor(rng.random(b))

    def _train(self, loss, steps, seed, desc, progress, ema):
        c = self.config
        return train.fit_config(
            self.module.potential, loss, c, seed=seed, progress=progress, desc=desc, steps=steps,
            ema=ema,
        )  # fmt: skip

    def fit(self, progress: bool = True) -> np.ndarray:
        """Phase 1 (OT flow matching), then phase 2 (+ contrastive divergence); all losses."""
        c, pot, b = self.config, self.module.potential, self.config["batch"]
        r1 = self._train(
            lambda rng, step: flow_matching_loss(pot, *self._pairs(rng, b)),
            c["phase1_steps"], self.seed, "energy matching, phase 1", progress, c["ema"],
        )  # fmt: skip
        self.module.warm.load_state_dict(pot.state_dict())
        grad, sched = self.grad(), self.schedule()
        n_refresh = max(1, round(1.0 / c["neg_dt"]))
        chains = {}

        def phase2(rng, step):
            if step % c["refresh"] == 0:  # restart the persistent chains: the full sampler
                z = rng.standard_normal((c["chains"], self.dim))
                chains["x"] = sample_energy(grad, z, n_refresh, c["neg_dt"], sched, rng, 2).samples
            x_data = self.target.sample(b, rng)
            start = np.concatenate([chains["x"], x_data[: b - c["chains"]]])
            neg = sample_energy(grad, start, c["neg_steps"], c["neg_dt"], c["eps_max"], rng, 2)
            chains["x"] = neg.samples[: c["chains"]]
            x0, x1, t = self._pairs(rng, b)
            fm = flow_matching_loss(pot, x0, x1, t, flow_weight(t, c["tau_star"]))
            cd = contrastive_divergence_loss(pot, _tensor(x_data), _tensor(neg.samples))
            return c["flow_weight"] * fm + (c["cd_weight"] / c["eps_max"]) * cd

        r2 = self._train(
            phase2, c["phase2_steps"], self.seed + 1, "energy matching, phase 2", progress,
            c["ema_phase2"],
        )  # fmt: skip
        return np.concatenate([r1.losses, r2.losses])

    def field(self, x, t=None) -> np.ndarray:
        """The drift :math:`-\\nabla V_\\theta(x)` (time-independent; ``t`` is accepted and checked)."""
        if t is not None:
            sampling.unit_time(t)
        return -self.grad()(as_points(x, "x", dim=self.dim))

    def sample(
        self, n, steps=100, generator=None, *, x0=None, keep=None, dt=None, warm=False
    ) -> Trajectory:
        """Noise :math:`\\mathcal N(0, I)` (``t = 0``) to data (``t = 1``) by :func:`sample_energy`.

        ``steps`` steps of size ``dt`` (default ``1/steps``) under the temperature schedule;
        ``warm=True`` uses the phase-1 potential; ``x0`` replaces the noise draw; ``nfe = steps``.
        """
        x, rng = self._start(n, x0, generator)
        return sample_energy(self.grad(warm), x, steps, dt, self.schedule(), rng, keep)

    def equilibrate(self, x, steps, dt, generator=None, *, keep=None, warm=False) -> Trajectory:
        """Continue ``steps`` Langevin steps of size ``dt`` at :math:`\\varepsilon_{\\max}` from ``x``.

        The chain beyond the end of :meth:`sample` (the law it targets is the Boltzmann density
        :math:`\\propto e^{-V_\\theta/\\varepsilon_{\\max}}`); its own clock runs ``k/steps``.
        Passing the generator that :meth:`sample` used continues its noise stream.
        """
        x = as_points(x, "x", dim=self.dim)
        eps_max = self.config["eps_max"]
        return sample_energy(self.grad(warm), x, steps, dt, eps_max, generator, keep)
