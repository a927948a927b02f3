"""Calibration metrics of Figure 11: hand-computed values, an independent per-row route, and
bad input."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaussclip import calibration as cal
from gaussclip.errors import ArgumentTypeError, DomainError, ShapeError

#: Sums of a few float64 terms agree with their hand value to rounding.
EXACT = 1e-12

# Three inputs, three classes. Probabilities chosen away from the 15-bin edges (multiples of 1/15).
P = np.array(
    [
        [0.70, 0.20, 0.10],  # label 0: right, confidence 0.70 -> bin (0.667, 0.733]
        [0.50, 0.30, 0.20],  # label 1: wrong, confidence 0.50 -> bin (0.467, 0.533]
        [0.10, 0.05, 0.85],  # label 2: right, confidence 0.85 -> bin (0.8, 0.867]
    ]
)
Y = np.array([0, 1, 2])


def test_hand_computed_values():
    assert cal.accuracy(P, Y) == pytest.approx(2 / 3, abs=EXACT)
    # Brier: row 1: 0.3^2 + 0.2^2 + 0.1^2 = 0.14; row 2: 0.5^2 + 0.7^2 + 0.2^2 = 0.78;
    # row 3: 0.1^2 + 0.05^2 + 0.15^2 = 0.035
    assert cal.brier_score(P, Y) == pytest.approx((0.14 + 0.78 + 0.035) / 3, abs=EXACT)
    # three singleton bins: |1 - 0.7|, |0 - 0.5|, |1 - 0.85|, each of weight 1/3
    assert cal.expected_calibration_error(P, Y) == pytest.approx((0.3 + 0.5 + 0.15) / 3, abs=EXACT)
    # log-probabilities as scores: the softmax gives P back
    nll = cal.negative_log_likelihood(np.log(P), Y)
    assert nll == pytest.approx(-(math.log(0.7) + math.log(0.3) + math.log(0.85)) / 3, abs=EXACT)
    metrics = cal.calibration_metrics(np.log(P), Y)
    assert metrics == pytest.approx(
        {
            "accuracy": 2 / 3,
            "nll": nll,
            "ece": (0.3 + 0.5 + 0.15) / 3,
            "brier": (0.14 + 0.78 + 0.035) / 3,
        },
        abs=EXACT,
    )


def test_shared_bin_and_reliability_table():
    # two inputs at confidence 0.9 (one right), two at 0.6 (both right), 10 bins
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = np.array([0, 1, 0, 0])
    bins = cal.reliability(p, y, n_bins=10)
    assert bins["count"].tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 2, 0]
    assert bins["accuracy"][5] == 1.0 and bins["accuracy"][8] == 0.5
    assert bins["confidence"][5] == pytest.approx(0.6, abs=EXACT)
    assert np.isnan(bins["accuracy"][0])
    # 0.5 |0.5 - 0.9| + 0.5 |1 - 0.6|
    assert cal.expected_calibration_error(p, y, n_bins=10) == pytest.approx(0.4, abs=EXACT)


def test_confident_mistake_has_finite_nll():
    scores = np.array([[1000.0, 0.0]])
    assert cal.negative_log_likelihood(scores, np.array([1])) == pytest.approx(1000.0)


@given(
    n=st.integers(1, 40),
    k=st.integers(2, 6),
    scale=st.floats(0.1, 10.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_metrics_match_a_per_row_loop(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    scores = scale * rng.standard_normal((n, k))
    labels = rng.integers(0, k, n)
    m = cal.calibration_metrics(scores, labels)
    nll = brier = ece_sum = 0.0
    rows = []
    for s, y in zip(scores, labels, strict=True):
        e = np.exp(s - s.max())
        p = e / e.sum()
        nll -= math.log(p[y])
        brier += 1.0 - 2.0 * p[y] + float(np.dot(p, p))  # expanded square
        rows.append((p.max(), float(np.argmax(p) == y)))
    for b in range(cal.N_BINS):
        lo, hi = b / cal.N_BINS, (b + 1) / cal.N_BINS
        members = [(c, a) for c, a in rows if lo < c <= hi]
        if members:
            conf = np.mean([c for c, _ in members])
            acc = np.mean([a for _, a in members])
            ece_sum += len(members) * abs(acc - conf)
    assert m["nll"] == pytest.approx(nll / n, rel=1e-10)
    assert m["brier"] == pytest.approx(brier / n, rel=1e-10, abs=1e-12)
    assert m["ece"] == pytest.approx(ece_sum / n, rel=1e-10, abs=1e-12)
    assert 0.0 <= m["ece"] <= 1.0 and 0.0 <= m["brier"] <= 2.0
    assert m["accuracy"] == np.mean(np.argmax(scores, axis=1) == labels)


def test_perfect_one_hot_predictions_score_zero():
    p = np.eye(4)
    y = np.arange(4)
    assert cal.expected_calibration_error(p, y) == 0.0
    assert cal.brier_score(p, y) == 0.0
    assert cal.accuracy(p, y) == 1.0


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: cal.accuracy(P, Y[:2]), ShapeError, "labels"),
        (lambda: cal.accuracy(P, np.array([0, 1, 3])), DomainError, r"\[0, 2\]"),
        (lambda: cal.accuracy(P, Y.astype(float)), ArgumentTypeError, "integer"),
        (lambda: cal.brier_score(2 * P, Y), DomainError, "sum"),
        (lambda: cal.negative_log_likelihood(np.ones(3), Y), ShapeError, "scores"),
        (lambda: cal.negative_log_likelihood(np.ones((3, 1)), np.zeros(3, int)), ShapeError,
         "2 classes"),
        (lambda: cal.negative_log_likelihood(np.full((3, 2), np.nan), Y), DomainError, "finite"),
        (lambda: cal.reliability(P, Y, n_bins=0), DomainError, "n_bins"),
        (lambda: cal.calibration_metrics("scores", Y), ArgumentTypeError, "scores"),
    ],
)  # fmt: skip
def test_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_disagreement_is_the_largest_total_variation():
    a = np.array([[0.7, 0.3], [0.5, 0.5]])
    b = np.array([[0.4, 0.6], [0.5, 0.5]])
    c = np.array([[0.6, 0.4], [0.9, 0.1]])
    # image 0: TV(a, b) = 0.3, TV(a, c) = 0.1, TV(b, c) = 0.2; image 1: 0, 0.4, 0.4
    np.testing.assert_allclose(cal.disagreement(a, b, c), [0.3, 0.4], atol=EXACT)
    with pytest.raises(ShapeError, match="two models"):
        cal.disagreement(a)
    with pytest.raises(ShapeError, match="same shape"):
        cal.disagreement(a, b[:1])
