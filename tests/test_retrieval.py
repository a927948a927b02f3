"""Retrieval (Algorithm 1), recall/ranks with ties, classification (Algorithm 2), fine-tuning
(eq. 34) and sampling from the weighted empirical conditional (eq. 28)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaussclip import retrieval
from gaussclip.errors import ArgumentTypeError, DomainError
from gaussclip.train import TrainConfig


def stable_ranks(scores):
    """1-based position of the true partner in a stable descending sort (reference)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.array([1 + int(np.where(order[i] == i)[0][0]) for i in range(len(scores))])


@given(
    n=st.integers(2, 15),
    levels=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_ranks_equal_position_in_stable_sort_including_ties(n, levels, seed):
    rng = np.random.default_rng(seed)
    # few distinct values make ties frequent
    z_u = rng.integers(-levels, levels + 1, (n, 2)).astype(float)
    z_v = rng.integers(-levels, levels + 1, (n, 2)).astype(float)
    r = retrieval.ranks(z_u, z_v, similarity="inner")
    s = z_u @ z_v.T
    assert np.array_equal(r["u_to_v"], stable_ranks(s))
    assert np.array_equal(r["v_to_u"], stable_ranks(s.T))


def test_recall_metrics_follow_open_clip_convention():
    rng = np.random.default_rng(0)
    z_u = rng.standard_normal((50, 4))
    z_v = z_u + 0.8 * rng.standard_normal((50, 4))
    out = retrieval.recall_at_k(z_u, z_v, ks=(1, 5, 10))
    s = retrieval.scores(z_u, z_v)
    for name, mat in (("u_to_v", s), ("v_to_u", s.T)):
        preds = stable_ranks(mat) - 1  # 0-based positions, as open_clip computes them
        assert out[name]["mean_rank"] == pytest.approx(preds.mean() + 1)
        assert out[name]["median_rank"] == np.floor(np.median(preds)) + 1
        for k in (1, 5, 10):
            assert out[name][f"R@{k}"] == pytest.approx(np.mean(preds < k))
    assert out["u_to_v"]["R@1"] <= out["u_to_v"]["R@5"] <= out["u_to_v"]["R@10"]


def test_ranks_chunking_matches_single_block(monkeypatch):
    rng = np.random.default_rng(1)
    z_u, z_v = rng.standard_normal((23, 3)), rng.standard_normal((23, 3))
    whole = retrieval.ranks(z_u, z_v)
    monkeypatch.setattr(retrieval, "CHUNK_ROWS", 5)
    chunked = retrieval.ranks(z_u, z_v)
    assert all(np.array_equal(whole[k], chunked[k]) for k in whole)


def test_retrieve_top_k_and_theorem_4_2_mode():
    rng = np.random.default_rng(2)
    items = rng.standard_normal((30, 3))
    queries = rng.standard_normal((4, 3))
    top = retrieval.retrieve(queries, items, 5)
    s = retrieval.scores(queries, items)
    assert np.array_equal(top, np.argsort(-s, axis=1, kind="stable")[:, :5])
    # K = 1 is the mode of nu^N_{u|v} (Theorem 4.2), at any temperature
    w = retrieval.conditional_weights(queries, items, temperature=0.3)
    assert np.array_equal(top[:, 0], np.argmax(w, axis=1))
    # ties keep index order, also across the partition threshold
    tied = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert retrieval.retrieve([[1.0, 0.0]], tied, 2).tolist() == [[0, 1]]
    with pytest.raises(DomainError, match="number of candidates"):
        retrieval.retrieve(queries, items, 31)


def test_classify_probabilities_and_prior():
    z = np.array([[1.0, 0.0], [0.0, 2.0]])
    labels = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    pred, p = retrieval.classify(z, labels, temperature=0.5, similarity="inner")
    assert np.allclose(p.sum(axis=1), 1.0)
    s = z @ labels.T / 0.5
    assert np.allclose(p, np.exp(s) / np.exp(s).sum(axis=1, keepdims=True))
    assert pred.tolist() == [0, 1]  # row 0 ties labels 0 and 2: the smaller index wins
    F = np.array([0.0, 0.0, 5.0])
    pred, p = retrieval.classify(z, labels, 0.5, "inner", prior=F)
    assert pred.tolist() == [2, 2]


def test_fine_tuning_improves_accuracy_with_frozen_encoder():
    # frozen embeddings of 3 classes; pretrained label embeddings that confuse classes 1 and 2
    rng = np.random.default_rng(3)
    centres = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0]])
    y = rng.integers(0, 3, 300)
    z = centres[y] + 0.5 * rng.standard_normal((300, 2))
    G0 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])  # columns: label embeddings
    before = np.mean(retrieval.classify(z, G0.T, similarity="inner")[0] == y)
    cfg = TrainConfig(epochs=60, batch_size=100, lr=5e-2, progress=False)
    G, F, history = retrieval.fine_tune(z, y, G0, config=cfg)
    after = np.mean(retrieval.classify(z, G.T, similarity="inner", prior=F)[0] == y)
    assert history[-1]["loss"] < history[0]["loss"]
    assert before < 0.75 and after > 0.95


def test_sampling_frequencies_match_weights():
    rng = np.random.default_rng(4)
    items = rng.standard_normal((5, 2))
    query = rng.standard_normal(2)
    w = retrieval.conditional_weights(query[None], items, temperature=0.7)[0]
    draws = retrieval.sample_conditional(query, items, 20000, rng, temperature=0.7)
    freq = np.bincount(draws, minlength=5) / 20000
    # multinomial standard error sqrt(w(1-w)/n) <= 0.0036; 5 of them is far in the tail
    assert np.allclose(freq, w, atol=5 * 0.0036)
    first = retrieval.sample_conditional(query, items, 7, np.random.default_rng(9))
    second = retrieval.sample_conditional(query, items, 7, np.random.default_rng(9))
    assert np.array_equal(first, second)
    no_repeat = retrieval.sample_conditional(query, items, 5, rng, replace=False)
    assert sorted(no_repeat.tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ArgumentTypeError, match="Generator"):
        retrieval.sample_conditional(query, items, 3, 0)
    with pytest.raises(DomainError, match="without replacement"):
        retrieval.sample_conditional(query, items, 6, rng, replace=False)
