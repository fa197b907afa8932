"""Small torch networks for 2-D (and low-dimensional) generative models.

.. rubric:: What is here

* :class:`SinusoidalEmbedding`: the transformer / DDPM embedding of a scalar time
  :cite:`ho2020denoising`, :math:`\\gamma(t) = (\\sin(s t \\omega_j), \\cos(s t \\omega_j))_j`
  with :math:`\\omega_j = P^{-j/h}`, :math:`h` half the width and :math:`s` a scale (1000 by
  default, so a time in :math:`[0, 1]` spans the same frequencies as a DDPM index in
  ``0..1000``).
* :class:`TimeMLP`: :math:`f_\\theta(x, t)`, an MLP on the concatenation of :math:`x` and
  :math:`\\gamma(t)`, used for noise, score and velocity predictors.
* :class:`ScalarPotential`: a time-independent :math:`V_\\theta:\\mathbb R^d\\to\\mathbb R`
  with its gradient by automatic differentiation (Energy Matching).
* :func:`numpy_predictor`: wraps a network as a numpy callable ``f(x, t)`` so that the
  samplers, which work in numpy float64, run a network and an exact oracle the same way.
* :func:`seeded`: deterministic initialisation without touching torch's global RNG.

Networks run in torch float32 on the CPU unless a ``device`` is given.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from ._checks import positive, positive_int
from ._checks import seed as check_seed

__all__ = [
    "ScalarPotential",
    "SinusoidalEmbedding",
    "TimeMLP",
    "gradient",
    "mlp_input_gradient",
    "numpy_predictor",
    "seeded",
]

_ACTIVATIONS = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
    "tanh": nn.Tanh,
}


@contextlib.contextmanager
def seeded(seed):
    """Context in which torch's RNG is seeded with ``seed``; the global state is restored after.

    ``seed`` must be a non-negative integer (floats, bools and strings raise ``TypeError``).
    """
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _check_x(x, dim: int, module: nn.Module, name: str = "x") -> None:
    """TypeError/ValueError naming ``x`` unless it is a finite (n, dim) tensor of the net's dtype."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(x).__name__} (wrap the network with "
            "numpy_predictor to call it on numpy arrays)"
        )
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (n, {dim}), got {tuple(x.shape)}")
    dtype = next(module.parameters()).dtype
    if x.dtype != dtype:
        raise TypeError(f"{name} must have the network's dtype {dtype}, got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or Inf")


def gradient(fn, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """:math:`\\nabla_x \\sum_i f(x)_i` by automatic differentiation, shape of ``x``.

    ``fn`` maps (n, d) to (n,) (a scalar potential); ``create_graph=True`` keeps the graph so
    that the result can be differentiated again (to train through a gradient).
    """
    with torch.enable_grad():
        x = x if x.requires_grad else x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(fn(x).sum(), x, create_graph=create_graph)
    return g


# the backward kernel of each activation as autograd calls it: (module, grad_out, input z,
# output a = module(z))
_BACKWARD = {
    nn.SiLU: lambda m, g, z, a: torch.ops.aten.silu_backward(g, z),
    nn.ReLU: lambda m, g, z, a: torch.ops.aten.threshold_backward(g, a, 0),
    nn.GELU: lambda m, g, z, a: torch.ops.aten.gelu_backward(g, z, approximate=m.approximate),
    nn.Softplus: lambda m, g, z, a: torch.ops.aten.softplus_backward(g, z, m.beta, m.threshold),
    nn.Tanh: lambda m, g, z, a: torch.ops.aten.tanh_backward(g, a),
}


def mlp_input_gradient(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """:math:`\\nabla_x \\sum_i f(x)_i` of a scalar MLP built by this module, without autograd.

    ``net`` alternates ``torch.nn.Linear`` layers and activations of this module (the
    last layer has one output).  The forward pass keeps the pre-activations; the backward pass
    applies, layer by layer, the kernels autograd's backward functions call
    (``grad @ W`` for a linear layer, the activation's ATen ``*_backward``), so the value is
    identical to :func:`gradient` (tested bit for bit); no graph is built.
    """
    layers = list(net)
    linears = layers[0::2]
    acts = layers[1::2]
    if (
        len(linears) != len(acts) + 1
        or not all(isinstance(m, nn.Linear) for m in linears)
        or not all(type(m) in _BACKWARD for m in acts)
        or linears[-1].out_features != 1
    ):
        raise ValueError("net must alternate nn.Linear layers and activations, with one output")
    saved = []
    with torch.no_grad():
        h = x
        for lin, act in zip(linears[:-1], acts, strict=True):
            z = nn.functional.linear(h, lin.weight, lin.bias)
            a = act(z)
            saved.append((lin, act, h, z, a))
            h = a
        g = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device).mm(linears[-1].weight)
        for lin, act, h_in, z, a in reversed(saved):
            g = _BACKWARD[type(act)](act, g, z, a)
            g = _linear_input_grad(g, lin.weight, h_in)
    return g


def _linear_input_grad(g, weight, h_in):
    # autograd's mm_mat1_backward: the product is laid out like the layer's input, which for
    # an input with column-major strides (one row, or one feature) means a transposed product
    if h_in.stride(0) == 1 and h_in.stride(1) == h_in.shape[0]:
        return weight.t().mm(g.t()).t()
    return g.mm(weight)


def _mlp(d_in: int, d_out: int, hidden: int, depth: int, activation: str) -> nn.Sequential:
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    act = _ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    width = d_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), act()]
        width = hidden
    layers.append(nn.Linear(width, d_out))
    return nn.Sequential(*layers)


class SinusoidalEmbedding(nn.Module):
    """Sinusoidal embedding of a scalar time, of even width ``dim``.

    Parameters
    ----------
    dim : int
        Output width (even, at least 2).
    scale : float
        Multiplies ``t`` before the frequencies are applied (default 1000).
    max_period : float
        Longest period :math:`P` (default 10 000).
    """

    def __init__(self, dim: int = 32, scale: float = 1000.0, max_period: float = 10_000.0):
        super().__init__()
        dim = positive_int(dim, "dim", minimum=2)
        if dim % 2:
            raise ValueError(f"dim must be even, got {dim}")
        half = dim // 2
        freqs = torch.exp(-math.log(positive(max_period, "max_period")) * torch.arange(half) / half)
        self.register_buffer("freqs", positive(scale, "scale") * freqs, persistent=False)
        self.dim = dim

    def forward(self, t: torch.Tensor, n: int | None = None) -> torch.Tensor:
        """Embed times ``t`` (a scalar, broadcast to ``n`` rows, or n values): shape (n, dim)."""
        t = torch.as_tensor(t, dtype=self.freqs.dtype, device=self.freqs.device)
        if t.ndim == 0:
            t = t.expand(1 if n is None else n)
        t = t.reshape(-1)
        if n is not None and t.numel() == 1:
            t = t.expand(n)
        arg = t[:, None] * self.freqs[None, :]
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class TimeMLP(nn.Module):
    """Time-conditioned MLP :math:`f_\\theta(x, t)\\in\\mathbb R^{d_{out}}`.

    Parameters
    ----------
    dim : int
        Dimension of ``x``.
    out_dim : int, optional
        Output dimension (default ``dim``: a vector field).
    hidden, depth : int
        Width and number of hidden layers (default 128 and 3).
    embed_dim : int
        Width of the sinusoidal time embedding (default 32).
    time_scale : float
        Scale of the embedding (see :class:`SinusoidalEmbedding`).
    activation : str
        ``"silu"`` (default), ``"relu"``, ``"gelu"``, ``"softplus"`` or ``"tanh"``.

    ``forward(x, t)`` takes ``x`` of shape (n, dim) and ``t`` a scalar or a tensor of n times.
    """

    def __init__(
        self,
        dim: int = 2,
        out_dim: int | None = None,
        hidden: int = 128,
        depth: int = 3,
        embed_dim: int = 32,
        time_scale: float = 1000.0,
        activation: str = "silu",
    ):
        super().__init__()
        self.dim = positive_int(dim, "dim")
        self.out_dim = self.dim if out_dim is None else positive_int(out_dim, "out_dim")
        self.embed = SinusoidalEmbedding(embed_dim, scale=time_scale)
        self.net = _mlp(
            self.dim + embed_dim,
            self.out_dim,
            positive_int(hidden, "hidden"),
            positive_int(depth, "depth"),
            activation,
        )

    @classmethod
    def from_config(cls, dim: int, config: dict) -> TimeMLP:
        """Build from a model configuration (a zoo model's ``config``).

        Reads ``hidden``, ``depth`` and ``embed_dim``, and ``time_scale`` and ``activation`` when
        present (the constructor's defaults otherwise); other keys are ignored.
        """
        keys = ("hidden", "depth", "embed_dim", "time_scale", "activation")
        return cls(dim, **{k: config[k] for k in keys if k in config})

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        """:math:`f_\\theta(x, t)`, shape (n, out_dim), for ``x`` (n, dim) and times ``t``.

        ``x`` is a finite tensor of the network's dtype; ``t`` a finite scalar or n times.
        """
        _check_x(x, self.dim, self)
        tt = torch.as_tensor(t)
        if tt.numel() not in (1, x.shape[0]):
            raise ValueError(f"t must be a scalar or hold n={x.shape[0]} times, got {tt.numel()}")
        if not bool(torch.isfinite(tt).all()):
            raise ValueError("t contains NaN or Inf")
        return self.net(torch.cat([x, self.embed(t, n=x.shape[0])], dim=1))


class ScalarPotential(nn.Module):
    """Time-independent scalar potential :math:`V_\\theta(x)` (shape (n,)) with :meth:`grad`.

    Smooth activations (``"silu"`` by default, or ``"softplus"``/``"gelu"``/``"tanh"``) keep
    :math:`\\nabla V_\\theta` continuous, which a gradient-flow sampler needs.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, activation: str = "silu"):
        super().__init__()
        self.dim = positive_int(dim, "dim")
        self.net = _mlp(
            self.dim, 1, positive_int(hidden, "hidden"), positive_int(depth, "depth"), activation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`V_\\theta(x)`, shape (n,), for a finite tensor ``x`` of shape (n, dim)."""
        _check_x(x, self.dim, self)
        return self.net(x).squeeze(1)

    def grad(self, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """:math:`\\nabla V_\\theta(x)`, shape (n, dim); ``create_graph=True`` to train through it.

        Without ``create_graph`` (sampling, Langevin negatives) the backward pass is written
        out (:func:`mlp_input_gradient`): the same ATen kernels that autograd calls, in the
        same order, so the result is identical to the last bit, without building a graph:
        measured by ``make bench``, about 1.4 times faster at a batch of 128 points (the
        Langevin negatives of Energy Matching's phase 2, which it makes about a quarter
        faster) and 1.0–1.2 times at 4000.  With forward hooks registered on the potential,
        on any layer inside it or globally, autograd is used, so that the hooks see every
        evaluation.
        """
        _check_x(x, self.dim, self)
        if create_graph or (x.requires_grad and torch.is_grad_enabled()) or self._hooked():
            return gradient(self, x, create_graph)
        return mlp_input_gradient(self.net, x)

    def _hooked(self) -> bool:
        # forward hooks (e.g. counting network evaluations) must see every evaluation, and the
        # written-out pass does not call forward: with hooks registered, autograd is used
        from torch.nn.modules import module as _m

        if _m._global_forward_hooks or _m._global_forward_pre_hooks:
            return True
        # on the potential or on any layer inside it (a hook on one nn.Linear must fire too)
        return any(m._forward_hooks or m._forward_pre_hooks for m in self.modules())


def numpy_predictor(fn, *, device=None):
    """Wrap a torch callable ``fn(x, t)`` as a numpy callable for the samplers.

    The returned ``f(x, t)`` takes ``x`` as a float array of shape (n, d) and ``t`` a float (or
    an array of n floats), evaluates ``fn`` in float32 without gradients (with them if ``fn``
    needs autograd internally, e.g. :meth:`ScalarPotential.grad`), and returns float64.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")

    def predictor(x, t):
        xt = torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)
        tt = torch.as_tensor(np.asarray(t, dtype=np.float32), device=device)
        with torch.no_grad():
            out = fn(xt, tt)
        return out.detach().cpu().double().numpy()

    return predictor
