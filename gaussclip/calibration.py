r"""How well predicted class probabilities are calibrated (Figure 11, Section 6.2).

A classifier built by Algorithm 2 gives, for each input :math:`u^i`, label probabilities
:math:`p_{ik} = \mathrm{softmax}_k(s_{ik})` from the scores :math:`s_{ik} = \langle g_u(u^i),
g_v(v^k)\rangle / \tau` (eq. 31). The paper says the one-sided loss matching labels given an
image is "more accurate at predicting class probabilities"; these functions measure it on a
labelled test set.

* :func:`accuracy`: the fraction of inputs whose most probable label is the true one.
* :func:`negative_log_likelihood`: :math:`-\frac1n \sum_i \log p_{i y_i}`, from the scores
  (log-softmax, so a confident mistake costs a large finite number, never ``inf``).
* :func:`brier_score`: :math:`\frac1n \sum_i \sum_k (p_{ik} - [k = y_i])^2`, the multi-class
  Brier score, in [0, 2].
* :func:`reliability` and :func:`expected_calibration_error`: the inputs are grouped by their
  confidence :math:`c_i = \max_k p_{ik}` into ``n_bins`` equal-width bins of [0, 1]; bin b holds
  the :math:`c_i \in ((b-1)/B, b/B]` (the first bin also holds 0). The expected calibration
  error is :math:`\sum_b \frac{n_b}{n} |\mathrm{acc}_b - \mathrm{conf}_b|`, with
  :math:`\mathrm{acc}_b` the accuracy and :math:`\mathrm{conf}_b` the mean confidence of bin b.
  The default is :data:`N_BINS` = 15 bins.
* :func:`calibration_metrics`: all four at once, the numbers Figure 11's JSON reports.
* :func:`disagreement`: for each input, the largest total-variation distance between the label
  distributions that several models give it (how Figure 11 picks the images it shows).
"""

import numpy as np
from scipy.special import log_softmax, softmax

from ._validation import Array, Integer, validate_params
from .errors import ArgumentTypeError, DomainError, ShapeError

#: Equal-width confidence bins of the expected calibration error (a common choice).
N_BINS = 15
#: Row sums of a probability matrix may differ from 1 by float32 rounding of a softmax over a
#: handful of classes (~1e-7 per entry); anything further off is not a probability matrix.
_ROW_SUM_ATOL = 1e-5
#: (n, K) scores or probabilities.
_MATRIX = Array(ndim=2)
_BINS = Integer(low=1, high=10**6)


def _labels(labels, shape, name="labels"):
    """``labels`` as an int array of one class index in [0, K) per row of an (n, K) matrix (a
    check across two arguments, so it is not in a constraint table)."""
    if shape[1] < 2:
        raise ShapeError(f"the scores/probabilities must have at least 2 classes; got {shape}.")
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ArgumentTypeError(
            f"`{name}` must be an integer array (class indices); got dtype {labels.dtype}."
        )
    if labels.shape != (shape[0],):
        raise ShapeError(
            f"`{name}` must have shape ({shape[0]},) (one label per row); got {labels.shape}."
        )
    if labels.min() < 0 or labels.max() >= shape[1]:
        raise DomainError(
            f"`{name}` must lie in [0, {shape[1] - 1}] (one per class column); got values in "
            f"[{labels.min()}, {labels.max()}]."
        )
    return labels


def _probability_rows(p):
    # rows of a probability matrix are non-negative and sum to one up to rounding
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=_ROW_SUM_ATOL):
        raise DomainError(
            "`probabilities` must have non-negative rows summing to 1 (e.g. a softmax of "
            "scores); got row sums in "
            f"[{p.sum(axis=1).min():.6g}, {p.sum(axis=1).max():.6g}]."
        )
    return p


@validate_params(probabilities=_MATRIX)
def accuracy(probabilities, labels):
    """Fraction of rows whose largest probability is at the true label (ties: smallest index).

    >>> accuracy(np.array([[0.9, 0.1], [0.3, 0.7]]), np.array([0, 0]))
    0.5
    """
    labels = _labels(labels, probabilities.shape)
    p = _probability_rows(probabilities)
    return float(np.mean(np.argmax(p, axis=1) == labels))


@validate_params(scores=_MATRIX)
def negative_log_likelihood(scores, labels):
    r"""Mean :math:`-\log \mathrm{softmax}(s_i)_{y_i}` over the rows of ``scores`` (n, K).

    Takes the scores (logits), not the probabilities, so that a confident mistake whose
    probability underflows to 0 still gives its exact, finite cost.

    >>> round(negative_log_likelihood(np.array([[0.0, 0.0]]), np.array([1])), 6)  # log 2
    0.693147
    """
    labels = _labels(labels, scores.shape)
    return float(-np.mean(log_softmax(scores, axis=1)[np.arange(len(labels)), labels]))


@validate_params(probabilities=_MATRIX)
def brier_score(probabilities, labels):
    r"""Multi-class Brier score :math:`\frac1n\sum_i\sum_k (p_{ik} - [k = y_i])^2`, in [0, 2].

    >>> round(brier_score(np.array([[0.75, 0.25]]), np.array([0])), 6)  # 0.25^2 + 0.25^2
    0.125
    """
    labels = _labels(labels, probabilities.shape)
    p = _probability_rows(probabilities)
    target = np.zeros_like(p)
    target[np.arange(len(labels)), labels] = 1.0
    return float(np.mean(np.sum((p - target) ** 2, axis=1)))


@validate_params(probabilities=_MATRIX, n_bins=_BINS)
def reliability(probabilities, labels, n_bins=N_BINS):
    """Per-bin counts, mean confidence and accuracy of the equal-width confidence bins.

    Returns
    -------
    dict
        ``edges`` (n_bins + 1,), ``count`` (n_bins,) int, ``confidence`` and ``accuracy``
        (n_bins,) float (NaN for empty bins).
    """
    labels = _labels(labels, probabilities.shape)
    p = _probability_rows(probabilities)
    confidence = p.max(axis=1)
    correct = np.argmax(p, axis=1) == labels
    # bin b holds confidences in ((b - 1)/B, b/B]; confidence 0 (impossible for a max of a
    # probability row, kept for completeness) goes to the first bin
    index = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, confidence, minlength=n_bins) / count
        mean_acc = np.bincount(index, correct.astype(float), minlength=n_bins) / count
    return {
        "edges": np.linspace(0.0, 1.0, n_bins + 1),
        "count": count,
        "confidence": mean_conf,
        "accuracy": mean_acc,
    }


def expected_calibration_error(probabilities, labels, n_bins=N_BINS):
    r""":math:`\sum_b \frac{n_b}{n} |\mathrm{acc}_b - \mathrm{conf}_b|` over ``n_bins``
    equal-width confidence bins (module docstring).

    >>> p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    >>> round(expected_calibration_error(p, np.array([0, 1, 0, 0]), n_bins=10), 6)
    0.4
    """
    bins = reliability(probabilities, labels, n_bins)
    filled = bins["count"] > 0
    weight = bins["count"][filled] / bins["count"].sum()
    gap = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(np.sum(weight * gap))


@validate_params(scores=_MATRIX, n_bins=_BINS)
def calibration_metrics(scores, labels, n_bins=N_BINS):
    """``{"accuracy", "nll", "ece", "brier"}`` of the softmax of ``scores`` (n, K) against
    ``labels`` (n,), with the ECE over ``n_bins`` equal-width bins.

    >>> m = calibration_metrics(np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([0, 0]))
    >>> sorted(m), m["accuracy"]
    (['accuracy', 'brier', 'ece', 'nll'], 0.5)
    """
    labels = _labels(labels, scores.shape)
    p = softmax(scores, axis=1)
    return {
        "accuracy": accuracy(p, labels),
        "nll": negative_log_likelihood(scores, labels),
        "ece": expected_calibration_error(p, labels, n_bins),
        "brier": brier_score(p, labels),
    }


def disagreement(*probabilities):
    r"""Largest pairwise total-variation distance between models' label distributions.

    Parameters
    ----------
    *probabilities : (n, K) arrays
        One probability matrix per model (at least two), rows on the same inputs.

    Returns
    -------
    (n,) array
        :math:`\max_{a < b} \frac12 \sum_k |p^a_{ik} - p^b_{ik}|`, in [0, 1].

    >>> disagreement(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]), np.array([[0.0, 1.0]]))
    array([1.])
    """
    if len(probabilities) < 2:
        raise ShapeError(f"`disagreement` needs at least two models; got {len(probabilities)}.")
    mats = [_MATRIX(p, f"probabilities[{i}]") for i, p in enumerate(probabilities)]
    if any(m.shape != mats[0].shape for m in mats):
        raise ShapeError(
            f"every probability matrix must have the same shape; got {[m.shape for m in mats]}."
        )
    out = np.zeros(mats[0].shape[0])
    for a in range(len(mats)):
        for b in range(a + 1, len(mats)):
            out = np.maximum(out, 0.5 * np.abs(mats[a] - mats[b]).sum(axis=1))
    return out
