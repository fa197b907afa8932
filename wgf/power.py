r"""A sampler and its negative controls, judged by the same tests.

A chapter that calls a model "at the data" applies a test to its samples.  The claim means
something only if the same test, at the same sample size, *rejects* samplers that are wrong by a
known, small amount (:mod:`wgf.controls`).  :func:`judge` applies the book's two tests to a set
of named samplers, model, exact oracle and controls alike:

* the component test (:func:`wgf.components.component_test`): per-cell weights, off-mode mass,
  means and covariances against an exact reference, one Bonferroni p-value; it has power
  against every standard control at :math:`n = 4000`;
* optionally :math:`W_2` over its noise floor (:func:`wgf.metrics.w2_to_floor`), the book's
  common currency, which cannot see a bias below the floor: modes 10 % too wide pass it.

:func:`control_samples` draws the standard controls of a mixture target (for a diffusion
chapter, the stopped chain is the exact reversed Ornstein-Uhlenbeck law, otherwise the straight
flow-matching path), and :func:`verdict_table` prints the verdicts one row per sampler.

:func:`curve_test` asks whether a sample lies *anywhere* on an exact curve of laws
:math:`(\rho_s)_s` (no clock is matched): the component test against every law of a grid of
the curve, the largest p-value and where it is reached.  A marginal of a sampler that follows
the curve passes at its own point; a marginal of another curve between the same ends fails at
every point.

:func:`steps_to_law` is the step count of a *stochastic* sampler: the fewest steps from which its
samples are indistinguishable, by the two-sample component test, from its own limit (the same
sampler at many steps, independent draws), where a paired comparison has no meaning.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import controls
from ._checks import as_points, positive, positive_int
from .components import ComponentTest, MixtureCells, component_test
from .metrics import FloorComparison, w2_to_floor
from .mixtures import as_mixture
from .rng import as_generator

__all__ = [
    "CONTROL_ARGS",
    "CurveTest",
    "LawSearch",
    "Verdict",
    "control_samples",
    "curve_test",
    "judge",
    "steps_to_law",
    "verdict_table",
]


#: Which components the weights and dropped-mode controls act on, per dataset of
#: :mod:`wgf.data`: on the eight Gaussians modes 0 and 1 (weights 0.6/0.4) and mode 0; on the
#: moons the two moons (components 0-19 and 20-39, weights 0.6/0.4) and one cell of the component
#: test (components 8 and 9), since neighbouring components of a moon share a cell.
CONTROL_ARGS = {
    "eight_gaussians": {"pair": (0, 1), "drop": 0},
    "two_moons": {"pair": (list(range(20)), list(range(20, 40))), "drop": [8, 9]},
}


class Verdict(NamedTuple):
    """The tests of one sampler: :func:`judge` returns one per name.

    ``component`` is the component test of the first ``n_component`` samples; ``w2`` the
    :math:`W_2`-over-floor comparison of the samples (``None`` when not asked for).
    """

    component: ComponentTest
    w2: FloorComparison | None

    @property
    def p_value(self) -> float:
        """The component test's overall p-value."""
        return float(self.component.p_value)

    @property
    def width(self) -> float:
        """The worst per-cell width ratio (farthest from 1 in the log)."""
        return float(self.component.worst_width)

    @property
    def ratio(self) -> float:
        """:math:`W_2` over its noise floor (NaN when it was not computed)."""
        return float("nan") if self.w2 is None else float(self.w2.ratio)


def control_samples(
    mixture, n: int, generator=None, *, betas=None, pair=(0, 1), drop=0, stop: float = 0.9
) -> dict:
    """Exact samples of the standard negative controls of a mixture target.

    Parameters
    ----------
    mixture : GaussianMixture
        The target.
    n : int
        Samples per control.
    generator : None, int or numpy.random.Generator
    betas : array_like, optional
        A diffusion chapter's noise schedule: the stopped control is then the law of the
        exact DDPM/DDIM chain after ``stop`` of its steps (:func:`wgf.controls.stopped_ou`);
        without it, the straight flow-matching path at time ``stop``
        (:func:`wgf.controls.stopped_flow`).
    pair, drop : see :func:`wgf.controls.negative_controls`; for the book's datasets use
        ``**CONTROL_ARGS[name]`` (the defaults act on components 0 and 1, which on the moons
        share a cell, so that weights control would pass).
    stop : float
        In (0, 1).

    Returns
    -------
    dict
        name -> array of shape (n, d), in the order of :func:`wgf.controls.negative_controls`.
    """
    mix = as_mixture(mixture)
    n = positive_int(n, "n")
    stop = positive(stop, "stop")
    if stop >= 1:
        raise ValueError(f"stop must lie in (0, 1), got {stop!r}")
    rng = as_generator(generator)
    laws = controls.negative_controls(mix, pair=pair, drop=drop, stop=stop)
    if betas is not None:
        key = next(k for k in laws if k.startswith("stopped"))
        laws[key] = controls.stopped_ou(mix, betas, stop)
    return {name: law.sample(n, rng) for name, law in laws.items()}


def judge(
    samples: dict,
    cells: MixtureCells,
    *,
    n_component: int = 4000,
    w2_sampler=None,
    n_w2: int = 2000,
    repeats: int = 3,
    floor=None,
    generator=None,
) -> dict:
    """Apply the same tests to every sampler of ``samples``.

    Parameters
    ----------
    samples : dict
        name -> array of shape (m, d): the model, the exact oracle and the controls.
    cells : MixtureCells
        The target's cells (:func:`wgf.components.dataset_cells` for the book's targets).
    n_component : int
        The component test uses the first ``n_component`` samples of each sampler.
    w2_sampler : callable, optional
        ``w2_sampler(n, generator)`` draws data; if given, each sampler is also compared by
        :func:`wgf.metrics.w2_to_floor` (``n_w2`` points per block, ``repeats`` blocks, the
        same ``floor`` draws for all, computed once if not given).
    n_w2, repeats, floor :
        As in :func:`wgf.metrics.w2_to_floor`.
    generator : None, int or numpy.random.Generator
        Randomness of the data samples of the :math:`W_2` comparison.

    Returns
    -------
    dict
        name -> :class:`Verdict`, in the order of ``samples``.

    Raises
    ------
    ValueError
        if a sampler has fewer than ``n_component`` (or ``n_w2 * repeats``) samples.
    """
    if not isinstance(samples, dict) or not samples:
        raise TypeError("samples must be a non-empty dict: name -> array of samples")
    if not isinstance(cells, MixtureCells):
        raise TypeError(f"cells must be a MixtureCells, got {type(cells).__name__}")
    n_component = positive_int(n_component, "n_component")
    if w2_sampler is not None and not callable(w2_sampler):
        raise TypeError("w2_sampler must be callable as w2_sampler(n, generator)")
    rng = as_generator(generator)
    out = {}
    for name, x in samples.items():
        x = as_points(x, f"samples[{name!r}]")
        if x.shape[0] < n_component:
            raise ValueError(
                f"samples[{name!r}] holds {x.shape[0]} points; the component test uses "
                f"n_component = {n_component}"
            )
        comp = component_test(x[:n_component], cells)
        w2 = None
        if w2_sampler is not None:
            w2 = w2_to_floor(x, w2_sampler, n_w2, repeats, rng, floor=floor)
            floor = w2.floor
        out[name] = Verdict(comp, w2)
    return out


def verdict_table(verdicts: dict, *, alpha: float = 1e-3, w2_threshold=None) -> str:
    """The verdicts as a text table: component p, worst width, off fraction, (W2/floor).

    ``alpha`` marks the component test's rejections (``reject``); ``w2_threshold``, if given,
    marks the :math:`W_2` ratios above it.
    """
    if not isinstance(verdicts, dict) or not verdicts:
        raise TypeError("verdicts must be a non-empty dict: name -> Verdict")
    alpha = positive(alpha, "alpha")
    w2_col = any(v.w2 is not None for v in verdicts.values())
    width = max(12, *(len(str(k)) for k in verdicts)) + 2
    head = f"{'sampler':{width}s}{'comp. p':>10s}{'':8s}{'width':>7s}{'off':>8s}"
    if w2_col:
        head += f"{'W2/floor':>10s}"
    lines = [head]
    for name, v in verdicts.items():
        mark = "reject" if v.p_value < alpha else "pass"
        row = (
            f"{name!s:{width}s}{v.p_value:10.2g}  {mark:6s}{v.width:7.3f}"
            f"{100 * v.component.off_fraction:7.2f}%"
        )
        if w2_col:
            r = v.ratio
            flag = (
                ""
                if w2_threshold is None or not np.isfinite(r)
                else ("*" if r > w2_threshold else " ")
            )
            row += f"{r:9.2f}{flag}"
        lines.append(row)
    if w2_col and w2_threshold is not None:
        lines.append(f"(* : W2/floor above {w2_threshold:g})")
    return "\n".join(lines)


class CurveTest(NamedTuple):
    """Result of :func:`curve_test`: the p-value at each point of the curve, the best one."""

    times: np.ndarray
    p_values: np.ndarray

    @property
    def p_max(self) -> float:
        """The largest p-value over the curve's grid."""
        return float(self.p_values.max())

    @property
    def t_best(self) -> float:
        """The point of the grid where the p-value is largest."""
        return float(self.times[int(np.argmax(self.p_values))])


def curve_test(samples, laws: dict, *, groups=None, n_reference: int = 100_000,
               generator=0) -> CurveTest:  # fmt: skip
    """The component test of one sample against every law of a curve.

    Parameters
    ----------
    samples : array of shape (n, d)
    laws : dict
        time -> GaussianMixture: the curve on a grid of times (e.g. ``mix.ou(t)``); a value
        may also be a :class:`~wgf.components.MixtureCells` built before (to test several
        samples against one curve without rebuilding its cells).
    groups : array_like of int, optional
        Cells of the components, as in :class:`wgf.components.MixtureCells` (the same for every
        law of the curve).
    n_reference : int
        Size of each law's exact reference sample.
    generator : None, int or numpy.random.Generator
        Randomness of the reference samples.

    Returns
    -------
    CurveTest
        ``p_max`` small means: the sample lies on no point of the grid.  It is not
        Bonferroni-corrected over the grid (a sample on the curve passes at least at its own
        point, so the maximum errs towards passing).
    """
    x = as_points(samples, "samples")
    if not isinstance(laws, dict) or not laws:
        raise TypeError("laws must be a non-empty dict: time -> GaussianMixture")
    rng = as_generator(generator)
    times = np.array([float(t) for t in laws], dtype=float)
    p = np.empty(times.size)
    for i, law in enumerate(laws.values()):
        if isinstance(law, MixtureCells):
            cells = law
        else:
            law = as_mixture(law, f"laws[{times[i]:g}]", dim=x.shape[1])
            cells = MixtureCells(law, groups, n_reference=n_reference, generator=rng)
        p[i] = component_test(x, cells).p_value
    return CurveTest(times, p)


class LawSearch(NamedTuple):
    """Result of :func:`steps_to_law`: one entry per step count tried.

    ``index`` is the first entry from which every p-value exceeds ``alpha`` (``None`` if there
    is none); ``width`` is the worst width ratio of the cells at each entry (against the limit).
    """

    steps: np.ndarray
    nfe: np.ndarray
    p_values: np.ndarray
    width: np.ndarray
    alpha: float
    index: int | None

    @property
    def nfe_needed(self) -> float:
        """Evaluations at ``index``; ``inf`` when no step count passes from there on."""
        return float(self.nfe[self.index]) if self.index is not None else float("inf")


def steps_to_law(run, steps, reference, mixture, *, groups=None, alpha: float = 0.01) -> LawSearch:
    r"""The fewest steps from which a sampler is indistinguishable from its own limit.

    For every step count :math:`K` in ``steps``, ``run(K)`` gives samples :math:`x^{(K)}`; the
    two-sample component test (:class:`~wgf.components.MixtureCells` with ``reference``: the
    cells of ``mixture``, the statistics of the limit's samples) compares them with
    ``reference``, an *independent* sample of the same sampler at many steps.  Under the
    hypothesis :math:`\mathrm{law}(x^{(K)}) = \mathrm{law}(x^{\mathrm{ref}})` its p-value is
    calibrated (both sample sizes enter, :math:`1/N_c + 1/M_c`); the answer is the first
    :math:`K` from which every p-value exceeds ``alpha``.  This is the criterion for samplers
    whose samples at two step counts cannot be paired (stochastic chains).

    Parameters
    ----------
    run : callable
        ``run(K) -> (samples, nfe)``.
    steps : sequence of int
        strictly increasing step counts.
    reference : array_like, shape (M, d)
        independent samples of the sampler's limit, :math:`M \ge 100(G + 1)` for G cells.
    mixture : GaussianMixture
        the target, which defines the cells.
    groups : array_like of int, optional
        cells of the components, as in :class:`~wgf.components.MixtureCells`.
    alpha : float
        level in (0, 1).

    Returns
    -------
    LawSearch
    """
    if not callable(run):
        raise TypeError(f"run must be callable, got {type(run).__name__}")
    ks = [positive_int(k, "steps") for k in steps]
    if not ks or np.any(np.diff(ks) <= 0):
        raise ValueError(f"steps must be a non-empty strictly increasing sequence, got {steps!r}")
    alpha = positive(alpha, "alpha")
    if not alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    mixture = as_mixture(mixture, "mixture")
    cells = MixtureCells(mixture, groups, reference=reference)
    nfe, p, width = [], [], []
    for k in ks:
        x, cost = run(k)
        res = component_test(as_points(x, "samples", dim=cells.dim), cells)
        nfe.append(int(cost))
        p.append(res.p_value)
        width.append(res.worst_width)
    p_a = np.asarray(p)
    index = None
    for i in range(len(ks) - 1, -1, -1):
        if not p_a[i] > alpha:
            break
        index = i
    return LawSearch(np.asarray(ks), np.asarray(nfe), p_a, np.asarray(width), alpha, index)
