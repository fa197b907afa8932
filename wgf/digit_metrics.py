r"""Metrics of samples of the 8×8 digits (:mod:`wgf.digits`): a classifier and what it measures.

A small classifier (:func:`train_classifier`) gives predicted labels, confidences and a feature
map; :func:`frechet_distance` is the Fréchet distance between Gaussian fits of two feature
clouds :cite:p:`heusel2017gans`, i.e. the squared Bures–Wasserstein distance
:func:`wgf.ot.w2_gaussian` squared; :func:`class_chi2` compares class histograms;
:func:`nearest_neighbour_distances` measures copying; :func:`evaluate` collects them with the
calibrated two-sample test :func:`wgf.metrics.energy_test`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

from ._checks import as_points, positive_int
from .digits import Digits, _pixels
from .gaussian_ot import w2_gaussian

__all__ = [
    "Chi2",
    "DigitClassifier",
    "Scores",
    "class_chi2",
    "evaluate",
    "frechet_distance",
    "gaussian_fit",
    "nearest_neighbour_distances",
    "train_classifier",
]


# -------------------------------------------------------------------------------- classifier


class DigitClassifier:
    r"""A one-hidden-layer tanh network on the 64 pixels (scikit-learn's ``MLPClassifier``).

    :meth:`features` is the hidden layer, :math:`\phi(x) = \tanh(W_1 x + b_1)`, the space in
    which :func:`frechet_distance` compares samples (the role the Inception network plays for
    FID :cite:p:`heusel2017gans`).
    """

    def __init__(self, model):
        self.model = model

    def predict(self, x) -> np.ndarray:
        """Predicted class of each point of ``x`` (n, 64)."""
        return self.model.predict(_pixels(x))

    def proba(self, x) -> np.ndarray:
        """Class probabilities, shape (n, 10)."""
        return self.model.predict_proba(_pixels(x))

    def accuracy(self, x, labels) -> float:
        """Fraction of ``x`` classified as ``labels``."""
        return float(np.mean(self.predict(x) == np.asarray(labels)))

    def confidence(self, x) -> float:
        """Mean over ``x`` of the largest class probability."""
        return float(np.mean(self.proba(x).max(axis=1)))

    def features(self, x) -> np.ndarray:
        """Hidden-layer features :math:`\\tanh(W_1 x + b_1)`, shape (n, hidden)."""
        x = _pixels(x)
        return np.tanh(x @ self.model.coefs_[0] + self.model.intercepts_[0])


def train_classifier(x, labels, hidden: int = 64, seed: int = 0) -> DigitClassifier:
    """Train a :class:`DigitClassifier` (Adam, L2 penalty 1e-4, up to 2000 epochs), seeded."""
    from sklearn.neural_network import MLPClassifier

    x = _pixels(x)
    labels = np.asarray(labels)
    if labels.shape != (len(x),):
        raise ValueError(f"labels must have shape ({len(x)},), got {labels.shape}")
    hidden = positive_int(hidden, "hidden")
    model = MLPClassifier(
        (hidden,),
        activation="tanh",
        max_iter=2000,
        random_state=positive_int(seed, "seed", minimum=0),
    )
    return DigitClassifier(model.fit(x, labels))


# ----------------------------------------------------------------------------------- metrics


def gaussian_fit(f) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of the rows of ``f`` (n, k); needs n > k."""
    f = as_points(f, "f", min_points=2)
    if len(f) <= f.shape[1]:
        raise ValueError(f"f needs more points than dimensions, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(f1, f2) -> float:
    r"""Fréchet distance between Gaussian fits of two feature clouds (squared, like FID).

    .. math::

        \mathrm{FD} = |m_1 - m_2|^2 + \operatorname{tr}\bigl(\Sigma_1 + \Sigma_2
        - 2(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2}\bigr)
        = W_2^2\bigl(\mathcal N(m_1, \Sigma_1), \mathcal N(m_2, \Sigma_2)\bigr),

    the squared Bures–Wasserstein distance :cite:p:`dowson1982frechet`, computed with
    :func:`wgf.ot.w2_gaussian`.  Returns a squared distance (units of features squared).
    """
    m1, s1 = gaussian_fit(f1)
    m2, s2 = gaussian_fit(f2)
    if m1.shape != m2.shape:
        raise ValueError(f"f1 and f2 must have the same width, got {m1.shape} and {m2.shape}")
    return w2_gaussian(m1, s1, m2, s2) ** 2


class Chi2(NamedTuple):
    """Pearson's χ² of two class histograms, its p-value, and the two count vectors."""

    statistic: float
    pvalue: float
    counts: np.ndarray
    reference_counts: np.ndarray


def class_chi2(predicted, reference, classes: int = 10) -> Chi2:
    r"""χ² test that two label samples share one class law (a 2×C contingency table).

    With :math:`N_c` and :math:`M_c` the counts of class :math:`c` among the :math:`n`
    labels of ``predicted`` and the :math:`m` of ``reference``, and :math:`q_c = (N_c + M_c)/(n+m)`
    the pooled frequency,

    .. math::

        \chi^2 = \sum_c \frac{(N_c - n q_c)^2}{n q_c} + \frac{(M_c - m q_c)^2}{m q_c},
        \qquad \text{df} = C' - 1,

    over the :math:`C'` classes that occur in either sample.  Both samples are random, so the
    reference's frequencies are not treated as exact (which would make the test reject
    too often).
    """
    classes = positive_int(classes, "classes", minimum=2)
    p = np.asarray(predicted)
    r = np.asarray(reference)
    for a, name in ((p, "predicted"), (r, "reference")):
        if (
            a.ndim != 1
            or a.size == 0
            or not np.issubdtype(a.dtype, np.integer)
            or a.min() < 0
            or a.max() >= classes
        ):
            raise ValueError(f"{name} must be a non-empty 1-D array of labels in [0, {classes})")
    counts = np.bincount(p, minlength=classes)
    ref = np.bincount(r, minlength=classes)
    table = np.stack([counts, ref])[:, (counts + ref) > 0]
    if table.shape[1] < 2:
        raise ValueError("the two samples together must contain at least two classes")
    res = stats.chi2_contingency(table, correction=False)
    return Chi2(float(res.statistic), float(res.pvalue), counts, ref)


def _sqdist(x, y) -> np.ndarray:
    d = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return np.maximum(d, 0.0)


def nearest_neighbour_distances(x, reference) -> np.ndarray:
    """Euclidean distance from each row of ``x`` to its nearest row of ``reference``."""
    x = as_points(x, "x")
    reference = as_points(reference, "reference", dim=x.shape[1])
    out = np.empty(len(x))
    for s in range(0, len(x), 512):
        out[s : s + 512] = np.sqrt(_sqdist(x[s : s + 512], reference).min(axis=1))
    return out


class Scores(NamedTuple):
    """Every metric of :func:`evaluate` for one sample (see there)."""

    fd: float
    chi2: float
    chi2_p: float
    confidence: float
    w2: float
    energy: float
    energy_p: float
    nn: float


def evaluate(x, data: Digits, classifier: DigitClassifier, generator=None, permutations=200):
    r"""All metrics of a sample ``x`` (n, 64) against the held-out digits of ``data``.

    ``fd``: :func:`frechet_distance` of the classifier features to those of ``data.test``;
    ``chi2``, ``chi2_p``: :func:`class_chi2` of the predicted classes against the predicted
    classes of ``data.test``; ``confidence``: mean largest class probability; ``w2``: exact
    :math:`W_2` (not squared) to ``data.test`` (:func:`wgf.ot.w2`); ``energy``, ``energy_p``:
    :func:`wgf.metrics.energy_test` against ``data.test``; ``nn``: median distance of ``x`` to its
    nearest stored training digit.  Every number is a comparison with the *test* split, so the
    reference values are those of a sample of the training law (``data.sample``) at the same n.
    """
    from .metrics import energy_test
    from .ot import w2

    x = _pixels(x)
    if not isinstance(data, Digits) or not isinstance(classifier, DigitClassifier):
        raise TypeError("data must be Digits and classifier a DigitClassifier")
    chi = class_chi2(classifier.predict(x), classifier.predict(data.test))
    e = energy_test(x, data.test, permutations, generator)
    return Scores(
        fd=frechet_distance(classifier.features(x), classifier.features(data.test)),
        chi2=chi.statistic,
        chi2_p=chi.pvalue,
        confidence=classifier.confidence(x),
        w2=w2(x, data.test),
        energy=e.statistic,
        energy_p=e.p_value,
        nn=float(np.median(nearest_neighbour_distances(x, data.train))),
    )
