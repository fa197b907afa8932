r"""The 8×8 handwritten digits as a 64-D target, its exact Gaussian-mixture surrogate, and metrics.

The UCI optical-recognition digits :cite:p:`alpaydin1998optical` ship with scikit-learn
:cite:p:`pedregosa2011scikit` (1797 images of 8×8 pixels, 16 + 1 grey levels
:math:`v\in\{0, \dots, 16\}`, no download).

.. rubric:: Scaling and dequantisation

A density model needs a continuous law, so each pixel level is spread uniformly over its bin
(uniform dequantisation :cite:p:`theis2016note`) and mapped affinely onto :math:`(-1, 1)`:

.. math::

    x = \frac{2\,(v + u)}{17} - 1, \qquad u \sim \mathcal U[0, 1) \text{ independently per pixel},

so a pixel of level :math:`v` lies in :math:`[2v/17 - 1,\, 2(v+1)/17 - 1)`; blank pixels carry
noise of variance :math:`(2/17)^2/12 \approx 1.15\times10^{-3}`.  :func:`to_images` inverts the
map to grey values in :math:`[0, 1]`.

.. rubric:: The surrogate

:func:`fit_surrogate` fits a full-covariance Gaussian mixture to the training digits with
scikit-learn (per class, so each component carries a digit label) and returns it as a
:class:`~wgf.mixtures.GaussianMixture`: a 64-D target with exact density, score, and OU / heat
marginals, on which every exact measurement of the 2-D chapters can be repeated.

.. rubric:: Metrics

The classifier and the sample metrics of the digits live in :mod:`wgf.digit_metrics`; their
names are also served from here (``wgf.digits.frechet_distance`` is
:func:`wgf.digit_metrics.frechet_distance`).
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from . import controls
from ._checks import as_points, positive, positive_int
from .data import Points
from .mixtures import GaussianMixture
from .rng import as_generator

__all__ = [
    "DIM",
    "LEVELS",
    "Digits",
    "Surrogate",
    "blur",
    "clip_denoised",
    "dequantise",
    "digits",
    "fit_surrogate",
    "tile",
    "to_images",
]

#: Pixels per image (8×8).
DIM = 64
#: Number of grey levels of the raw images (0, ..., 16).
LEVELS = 17


@cache
def _raw():
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.asarray(d.data, dtype=np.int64), np.asarray(d.target, dtype=np.int64)


def dequantise(levels, generator=None) -> np.ndarray:
    r"""Map integer grey levels ``levels`` (n, 64) to :math:`x = 2(v + u)/17 - 1`, fresh :math:`u`."""
    v = np.asarray(levels)
    if v.ndim != 2 or v.shape[1] != DIM or v.min() < 0 or v.max() >= LEVELS:
        raise ValueError(f"levels must be an (n, {DIM}) array of integers in [0, {LEVELS - 1}]")
    u = as_generator(generator).random(v.shape)
    return 2.0 * (v + u) / LEVELS - 1.0


class Digits(Points):
    r"""The digits with a fixed train/test split: a :class:`~wgf.data.Points` target of the zoo.

    Its points are ``train`` (which, with the name, is what a zoo cache key hashes), but
    :meth:`sample` draws training images uniformly with replacement and dequantises them
    afresh.  So the law it samples, on which the zoo's models are trained, is the dequantised
    empirical law of the training set.

    Attributes
    ----------
    name
        ``"digits"`` (plus the split's seed and size when not the defaults).
    train
        one seeded dequantisation of the training images, a read-only float64 array (n, 64).
    test
        the same for the test images.
    train_labels
        the digit classes of the training images (int array).
    test_labels
        the digit classes of the test images (int array).
    train_levels
        the raw integer grey levels of the training images (n, 64).
    test_levels
        the raw integer grey levels of the test images (n, 64).
    dim
        64.
    """

    def __init__(self, levels, labels, test_idx, train_idx, seed: int, name: str):
        rng = np.random.default_rng([seed, 1])
        self.train_levels = levels[train_idx]
        self.test_levels = levels[test_idx]
        self.train_labels = labels[train_idx]
        self.test_labels = labels[test_idx]
        self.train = dequantise(self.train_levels, rng)
        self.test = dequantise(self.test_levels, rng)
        for a in (self.train, self.test, self.train_labels, self.test_labels):
            a.flags.writeable = False
        super().__init__(self.train, name)

    def __repr__(self) -> str:
        return f"Digits(name={self.name!r}, train={len(self.train)}, test={len(self.test)})"

    def sample(self, n, generator=None) -> np.ndarray:
        """``n`` training images drawn with replacement, freshly dequantised; shape (n, 64)."""
        n = positive_int(n, "n")
        rng = as_generator(generator)
        idx = rng.integers(0, len(self.train_levels), n)
        return dequantise(self.train_levels[idx], rng)


def digits(test_size: int = 500, seed: int = 0) -> Digits:
    """The 1797 scikit-learn digits, split at random (seeded) into train and ``test_size`` test.

    Parameters
    ----------
    test_size : int
        number of held-out images (default 500; the remaining 1297 train).
    seed : int
        seed of the split and of the stored dequantisation; the same seed gives the same arrays.

    Returns
    -------
    Digits
    """
    levels, labels = _raw()
    test_size = positive_int(test_size, "test_size")
    if test_size >= len(levels) - 1:
        raise ValueError(f"test_size must be below {len(levels) - 1}, got {test_size}")
    seed = positive_int(seed, "seed", minimum=0)
    perm = np.random.default_rng([seed, 0]).permutation(len(levels))
    name = "digits" if (test_size, seed) == (500, 0) else f"digits-t{test_size}-s{seed}"
    return Digits(levels, labels, perm[:test_size], perm[test_size:], seed, name)


# ------------------------------------------------------------------------------------ images


def _pixels(x, name="x") -> np.ndarray:
    return as_points(x, name, dim=DIM)


def to_images(x) -> np.ndarray:
    """Points (n, 64) on the scaled axis to grey images (n, 8, 8) in [0, 1] (clipped)."""
    x = _pixels(x)
    return np.clip((x + 1.0) / 2.0, 0.0, 1.0).reshape(-1, 8, 8)


def tile(x, ncols: int, pad: int = 1) -> np.ndarray:
    """A mosaic of the images of ``x`` (n, 64), ``ncols`` per row, ``pad`` blank pixels apart.

    Returns a 2-D array in [0, 1] (missing cells blank) ready for ``imshow``.
    """
    img = to_images(x)
    ncols = positive_int(ncols, "ncols")
    pad = positive_int(pad, "pad", minimum=0)
    nrows = -(-len(img) // ncols)
    s = 8 + pad
    out = np.zeros((nrows * s + pad, ncols * s + pad))
    for i, im in enumerate(img):
        r, c = divmod(i, ncols)
        out[pad + r * s : pad + r * s + 8, pad + c * s : pad + c * s + 8] = im
    return out


def blur(x, sigma) -> np.ndarray:
    """Gaussian blur of each 8×8 image of ``x`` (n, 64) with width ``sigma`` pixels (a control)."""
    x = _pixels(x)
    sigma = positive(sigma, "sigma")
    out = ndimage.gaussian_filter(x.reshape(-1, 8, 8), sigma=(0, sigma, sigma), mode="nearest")
    return out.reshape(-1, DIM)


# --------------------------------------------------------------------------------- surrogate


class Surrogate(NamedTuple):
    """A fitted mixture and the digit class of each of its components."""

    mixture: GaussianMixture
    classes: np.ndarray

    def without(self, digit: int) -> GaussianMixture:
        """The mixture with every component of class ``digit`` removed (weights renormalised).

        A negative control, :func:`wgf.controls.dropped` applied to that class's components.
        """
        drop = np.flatnonzero(self.classes == int(digit))
        if drop.size == 0 or drop.size == self.classes.size:
            raise ValueError(f"digit must be one of the classes {sorted(set(self.classes))}")
        return controls.dropped(self.mixture, drop)

    def inflated(self, factor) -> GaussianMixture:
        """Every covariance multiplied by ``factor`` (:func:`wgf.controls.widened` by its root)."""
        return controls.widened(self.mixture, np.sqrt(positive(factor, "factor")))


def fit_surrogate(
    x, labels, components: int = 1, reg_covar: float = 2e-3, seed: int = 0
) -> Surrogate:
    r"""Fit a full-covariance Gaussian mixture to ``x`` class by class; return it exactly.

    For each class :math:`c` with :math:`n_c` of the :math:`n` points, scikit-learn's EM
    fits ``components`` Gaussians :math:`\mathcal N(m_{ck}, \Sigma_{ck} + r I)` with weights
    :math:`w_{ck}` (:math:`r` = ``reg_covar``, added to every covariance); the surrogate is

    .. math::

        p(x) = \sum_c \frac{n_c}{n} \sum_k w_{ck}\, \mathcal N(x; m_{ck}, \Sigma_{ck}),

    a :class:`~wgf.mixtures.GaussianMixture` whose scores and OU / heat marginals are exact.

    Parameters
    ----------
    x : array_like, shape (n, d)
        training points.
    labels : array_like of int, shape (n,)
        class of each point; every class needs more than ``components`` points.
    components : int
        Gaussians per class.
    reg_covar : float
        ridge added to each covariance (positive: it keeps them invertible in 64-D).
    seed : int
        seed of the EM initialisation.

    Returns
    -------
    Surrogate
    """
    from sklearn.mixture import GaussianMixture as SkMixture

    x = as_points(x, "x", min_points=2)
    labels = np.asarray(labels)
    if labels.shape != (len(x),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an integer array of shape ({len(x)},)")
    components = positive_int(components, "components")
    reg_covar = positive(reg_covar, "reg_covar")
    seed = positive_int(seed, "seed", minimum=0)
    weights, means, covs, classes = [], [], [], []
    for c in np.unique(labels):
        xc = x[labels == c]
        if len(xc) <= components:
            raise ValueError(f"class {c} has {len(xc)} points, need more than {components}")
        sk = SkMixture(components, covariance_type="full", reg_covar=reg_covar, random_state=seed)
        sk.fit(xc)
        weights.append(sk.weights_ * len(xc) / len(x))
        means.append(sk.means_)
        covs.append(0.5 * (sk.covariances_ + np.swapaxes(sk.covariances_, 1, 2)))
        classes.append(np.full(components, c))
    w = np.concatenate(weights)
    mixture = GaussianMixture(w / w.sum(), np.concatenate(means), np.concatenate(covs))
    return Surrogate(mixture, np.concatenate(classes))


# ------------------------------------------------------------------------------ sampling aid


def clip_denoised(eps, betas, low: float = -1.0, high: float = 1.0):
    r"""A noise predictor whose implied clean image is clipped to the pixel range.

    From :math:`\hat\varepsilon(x, s)` at network time :math:`s` (OU time :math:`\tau(s)`,
    :math:`\bar\alpha = e^{-2\tau(s)}`, as in :func:`wgf.diffusion.ou_clock`), the predicted
    clean image :math:`\hat x_0 = (x - \sqrt{1-\bar\alpha}\,\hat\varepsilon)/\sqrt{\bar\alpha}`
    is clipped to :math:`[\ell, h]` and the noise prediction made consistent with it:

    .. math::

        \tilde\varepsilon(x, s) = \frac{x - \sqrt{\bar\alpha}\,
        \operatorname{clip}(\hat x_0, \ell, h)}{\sqrt{1 - \bar\alpha}} .

    This is the ``clip_denoised`` of image DDPM and DDIM implementations
    :cite:p:`ho2020denoising,song2021denoising`: a model of data that lie in a box cannot be
    right about an :math:`\hat x_0` outside it.  It changes nothing where
    :math:`\hat x_0` lies in the box.  Returns a callable ``eps(x, s)`` like ``eps``.
    """
    from .diffusion import ou_clock

    if not callable(eps):
        raise TypeError(f"eps must be callable as eps(x, s), got {type(eps).__name__}")
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"low < high must be finite numbers, got {low!r}, {high!r}")
    tau, _ = ou_clock(betas)

    def clipped(x, s):
        e = np.asarray(eps(x, s), dtype=float)
        abar = np.exp(-2.0 * tau(float(s)))
        x0 = np.clip((x - np.sqrt(1.0 - abar) * e) / np.sqrt(abar), low, high)
        return (x - np.sqrt(abar) * x0) / np.sqrt(1.0 - abar)

    return clipped


# the names of wgf.digit_metrics (its __all__) are still served from here


def __getattr__(name):
    from . import digit_metrics

    if name in digit_metrics.__all__:
        return getattr(digit_metrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    from . import digit_metrics

    return sorted({*globals(), *digit_metrics.__all__})
