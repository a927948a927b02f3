r"""Using trained encoders: retrieval, classification, fine-tuning and sampling (Section 4).

* :func:`retrieve`: Algorithm 1, the K candidates most similar to each query (Theorem 4.2:
  K = 1 is the mode of :math:`\nu^N_{u|v}`);
* :func:`recall_at_k`: R@K, mean and median rank of the true partner, in both directions;
* :func:`classify`: Algorithm 2, the most similar label and the softmax probabilities (eq. 31,
  eq. 33 with a label prior F);
* :func:`fine_tune`: the label embeddings G and prior F by :math:`L^K_{fine}` (eq. 34) with the
  u-encoder frozen (Section 4.2);
* :func:`conditional_weights`, :func:`sample_conditional`: the weighted empirical conditional
  :math:`\nu^N_{u|v} = \sum_i w_i(v)\delta_{u^i}` (eq. 28) and draws from it.

Every function takes embeddings (rows), so it serves either direction: pass the u-embeddings as
candidates and a v-embedding as query for u|v, or the other way round. Similarities are those
of :mod:`gaussclip.similarity` (cosine by default, as in Algorithms 1 and 2).

**Ties.** Candidates are ordered by decreasing score and, among equal scores, by increasing
index (a stable sort). So the rank of the true partner i is 1 + the number of candidates that
score strictly higher plus the number of candidates j < i that score exactly the same: an equal
score at a smaller index counts against the true partner, one at a larger index does not.
"""

import numpy as np

from . import losses
from . import similarity as sim
from ._validation import (
    Array,
    Choice,
    InstanceOf,
    Integer,
    IntegerArray,
    IntegerTuple,
    Optional,
    validate_params,
)
from .errors import DomainError, ShapeError
from .similarity import TEMPERATURE
from .train import TrainConfig, fit

#: Query rows scored at once in :func:`ranks`, so an N x N score matrix is never formed for
#: large N (this many rows x N candidates in memory at a time).
CHUNK_ROWS = 1024


#: Embeddings (rows), real, finite and non-empty: an empty set of queries or candidates has no
#: ranks or recalls (the metrics would be NaN).
EMBEDDINGS = Array(ndim=2)
SIMILARITY = Choice(sim.KINDS)
_SCORE_TABLE = {
    "z_query": EMBEDDINGS,
    "z_candidates": EMBEDDINGS,
    "similarity": SIMILARITY,
    "temperature": TEMPERATURE,
}
_PAIRED_TABLE = {"z_u": EMBEDDINGS, "z_v": EMBEDDINGS, "similarity": SIMILARITY}


@validate_params(_SCORE_TABLE)
def scores(z_query, z_candidates, similarity="cosine", temperature=1.0):
    """Similarity of every query to every candidate, shape (n_query, n_candidates)."""
    return sim.matrix(z_query, z_candidates, similarity, temperature)


@validate_params(
    {k: _SCORE_TABLE[k] for k in ("z_query", "z_candidates", "similarity")}, k=Integer(1)
)
def retrieve(z_query, z_candidates, k, similarity="cosine"):
    r"""Algorithm 1: indices of the ``k`` candidates most similar to each query.

    Parameters
    ----------
    z_query : (m, n_e) array
        Embeddings of the queries (e.g. :math:`g_v(v)` for u|v retrieval).
    z_candidates : (N, n_e) array
        Embeddings of the candidate set (e.g. :math:`g_u(u^i)`, precomputed once).
    k : int
        Number of items to return, 1 <= k <= N.
    similarity : {"cosine", "inner", "neg_half_sq_distance"}

    Returns
    -------
    (m, k) int array
        Best first; ties in score are ordered by index.

    Examples
    --------
    >>> import numpy as np
    >>> items = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> retrieve(np.array([[1.0, 0.2]]), items, 2)
    array([[0, 2]])
    """
    s = scores(z_query, z_candidates, similarity)
    if k > s.shape[1]:
        raise DomainError(f"`k` must be at most the number of candidates ({s.shape[1]}); got {k}.")
    if k < s.shape[1]:
        # candidates scoring at least the k-th best; a stable sort of those orders ties by index
        kth = -np.partition(-s, k - 1, axis=1)[:, k - 1 : k]
        masked = np.where(s >= kth, s, -np.inf)
    else:
        masked = s
    return np.argsort(-masked, axis=1, kind="stable")[:, :k]


@validate_params(_PAIRED_TABLE)
def ranks(z_u, z_v, similarity="cosine"):
    r"""1-based rank of each true partner, in both directions.

    ``ranks(...)["u_to_v"][i]`` is the position of :math:`v^i` among all v's ordered by
    similarity to :math:`u^i` (see the module note on ties); ``"v_to_u"`` the reverse.

    Returns
    -------
    dict of (N,) int arrays
    """
    if z_u.shape != z_v.shape:
        raise ShapeError(
            f"`z_u` and `z_v` must be paired embeddings of the same shape; got {z_u.shape} "
            f"and {z_v.shape}."
        )
    n = len(z_u)
    out = {"u_to_v": np.empty(n, dtype=np.int64), "v_to_u": np.empty(n, dtype=np.int64)}
    for name, (q, c) in {"u_to_v": (z_u, z_v), "v_to_u": (z_v, z_u)}.items():
        for start in range(0, n, CHUNK_ROWS):
            rows = np.arange(start, min(start + CHUNK_ROWS, n))
            s = sim.matrix(q[rows], c, similarity)  # every similarity here is symmetric
            true = s[np.arange(len(rows)), rows][:, None]
            higher = np.sum(s > true, axis=1)
            earlier_ties = np.sum((s == true) & (np.arange(n)[None, :] < rows[:, None]), axis=1)
            out[name][rows] = 1 + higher + earlier_ties
    return out


@validate_params(_PAIRED_TABLE, ks=IntegerTuple(low=1))
def recall_at_k(z_u, z_v, ks=(1, 5, 10), similarity="cosine"):
    r"""Retrieval metrics of paired embeddings in both directions (open_clip's definitions).

    For each direction: ``"R@k"`` is the fraction of queries whose true partner has rank
    <= k; ``"mean_rank"`` is the mean of the 1-based ranks; ``"median_rank"`` is
    :math:`\lfloor\mathrm{median}(r - 1)\rfloor + 1` of the ranks r (equal to the median for
    an odd number of queries). Ranks follow the tie rule in the module docstring.

    **When this equals open_clip.** open_clip's ``get_clip_metrics`` ranks by
    ``torch.argsort(logits, descending=True)`` with ``logits = scale * image @ text.T`` of
    unit-norm features, and defines R@k, mean rank and median rank exactly as above
    (``image_to_text`` is ``"u_to_v"`` when ``z_u`` are the images). So with
    ``similarity="cosine"`` and the same features the two agree **whenever no query has a
    candidate scoring exactly the same as its true partner** (ties among other candidates do
    not matter), up to the float32 rounding of open_clip's product, which can only reorder
    candidates whose scores agree to about 1e-7. Under an exact tie they may differ: gaussclip
    is deterministic (a stable order: a tied candidate with a smaller index ranks first),
    while ``torch.argsort`` is not stable, so open_clip may place the true partner anywhere in
    its tied block. Ties are common for binary or one-hot features and for duplicated items.

    Parameters
    ----------
    z_u, z_v : (N, n_e) arrays
        Row i of each is the embedding of the pair :math:`(u^i, v^i)`.
    ks : sequence of int
    similarity : {"cosine", "inner", "neg_half_sq_distance"}

    Returns
    -------
    dict
        ``{"u_to_v": {"R@1": ..., "mean_rank": ..., "median_rank": ...}, "v_to_u": {...}}``.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.eye(3)
    >>> recall_at_k(z, z[[0, 2, 1]], ks=(1,))["u_to_v"]  # pairs 1, 2 swapped: tied at 0 with v^0
    {'R@1': 0.3333333333333333, 'mean_rank': 2.3333333333333335, 'median_rank': 3.0}
    """
    all_ranks = ranks(z_u, z_v, similarity)
    out = {}
    for name, r in all_ranks.items():
        metrics = {f"R@{int(k)}": float(np.mean(r <= k)) for k in ks}
        metrics["mean_rank"] = float(np.mean(r))
        metrics["median_rank"] = float(np.floor(np.median(r - 1)) + 1)
        out[name] = metrics
    return out


def _softmax_rows(s):
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


@validate_params(
    z_u=EMBEDDINGS,
    z_labels=EMBEDDINGS,
    temperature=TEMPERATURE,
    similarity=SIMILARITY,
    prior=Optional(Array(ndim=1)),
)
def classify(z_u, z_labels, temperature=1.0, similarity="cosine", prior=None):
    r"""Algorithm 2: most likely label and label probabilities for each input.

    The probabilities are the weights of :math:`\hat\nu^K_{v|u}` (eq. 31), or of
    :math:`\tilde\nu^K_{v|u}` (eq. 33) when a log-prior ``prior`` = F is given:
    :math:`w_k(u) \propto \exp(s(g_u(u), g_v(v^k))/\tau + F_k)`.

    Parameters
    ----------
    z_u : (M, n_e) array
        Embeddings of the inputs.
    z_labels : (K, n_e) array
        Embeddings of the K labels (row k = :math:`g_v(v^k)`, i.e. column k of G in eq. 34).
    temperature : float
    similarity : {"cosine", "inner", "neg_half_sq_distance"}
    prior : (K,) array, optional
        F of eq. (32).

    Returns
    -------
    labels : (M,) int array
        Most likely label (ties: the smallest index).
    probabilities : (M, K) array
        Rows sum to one.

    Examples
    --------
    >>> import numpy as np
    >>> labels, p = classify(np.array([[2.0, 0.1]]), np.eye(2), similarity="inner")
    >>> labels, np.round(p, 3)
    (array([0]), array([[0.87, 0.13]]))
    """
    s = scores(z_u, z_labels, similarity, temperature)
    if prior is not None:
        if prior.shape != (s.shape[1],):
            raise ShapeError(
                f"`prior` must have one entry per label ({s.shape[1]}); got shape {prior.shape}."
            )
        s = s + prior
    return np.argmax(s, axis=1), _softmax_rows(s)


@validate_params(
    z_u=EMBEDDINGS,
    labels=IntegerArray(ndim=1, low=0),
    G=EMBEDDINGS,
    F=Optional(Array(ndim=1)),
    temperature=TEMPERATURE,
    config=Optional(InstanceOf((TrainConfig,))),
)
def fine_tune(z_u, labels, G, F=None, *, temperature=1.0, config=None):
    r"""Fine-tune the label embeddings G and log-prior F by :math:`L^K_{fine}` (eq. 34).

    The u-encoder is frozen (Section 4.2), so only its outputs ``z_u`` are needed. Column k of
    ``G`` starts as the pretrained embedding of label k; ``F`` starts at zero (uniform prior).
    Classify with ``classify(z, G.T, temperature, "inner", prior=F)`` afterwards.

    Parameters
    ----------
    z_u : (M, n_e) array
        Embeddings :math:`\bar g_u(\hat u^i)` of the fine-tuning inputs.
    labels : (M,) int array in [0, K)
    G : (n_e, K) array
    F : (K,) array, optional
    temperature : float
    config : TrainConfig, optional
        Default: 100 epochs, batch of min(M, 512), lr 1e-2.

    Returns
    -------
    G : (n_e, K) array, F : (K,) array, history : list of dict
    """
    K = G.shape[1]
    losses.one_hot(labels, K)  # labels < K
    if len(labels) != len(z_u):
        raise ShapeError(f"`labels` must have {len(z_u)} entries; got {len(labels)}.")
    if F is None:
        F = np.zeros(K)
    elif F.shape != (K,):
        raise ShapeError(f"`F` must have shape ({K},), one entry per column of `G`; got {F.shape}.")
    if len(z_u) < 2:
        raise ShapeError(f"`z_u` must have at least 2 rows to fine-tune on; got {len(z_u)}.")
    if config is None:
        config = TrainConfig(epochs=100, batch_size=min(len(z_u), 512), lr=1e-2, progress=False)

    def objective(params, z, y):
        return losses.fine_tuning_loss(z, y, params["G"], params["F"], temperature)

    result = fit(objective, {"G": G, "F": F}, (z_u, labels), config)
    return result.params["G"], result.params["F"], result.history


@validate_params(_SCORE_TABLE)
def conditional_weights(z_query, z_candidates, temperature=1.0, similarity="cosine"):
    r"""Weights :math:`w_i` of :math:`\nu^N_{u|v} = \sum_i w_i(v)\delta_{u^i}` (eq. 28).

    :math:`w_i(v) \propto \exp(s(g_u(u^i), g_v(v))/\tau)`, one row per query.

    Returns
    -------
    (m, N) array; rows sum to one.
    """
    return _softmax_rows(scores(z_query, z_candidates, similarity, temperature))


@validate_params(
    z_query=Array(),
    z_candidates=EMBEDDINGS,
    k=Integer(1, 10**9),
    rng=InstanceOf((np.random.Generator,), hint="Pass e.g. np.random.default_rng(0)."),
    temperature=TEMPERATURE,
    similarity=SIMILARITY,
    replace=InstanceOf((bool, np.bool_)),
)
def sample_conditional(
    z_query, z_candidates, k, rng, *, temperature=1.0, similarity="cosine", replace=True
):
    r"""Draw ``k`` candidate indices from :math:`\nu^N_{u|v}` (eq. 28) for one query.

    Parameters
    ----------
    z_query : (n_e,) or (1, n_e) array
        Embedding of the conditioning item (e.g. :math:`g_v(v)`).
    z_candidates : (N, n_e) array
        Embeddings of the support :math:`u^1, \dots, u^N`.
    k : int
    rng : numpy.random.Generator
    replace : bool
        With replacement (i.i.d. draws from the weighted empirical measure; Figure 12) or
        without.

    Returns
    -------
    (k,) int array

    Examples
    --------
    >>> import numpy as np
    >>> items = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> sample_conditional([1.0, 0.0], items, 5, np.random.default_rng(0), temperature=0.01)
    array([0, 0, 0, 0, 0])
    """
    if z_query.ndim > 2 or (z_query.ndim == 2 and len(z_query) != 1) or z_query.ndim == 0:
        raise ShapeError(
            f"`z_query` must be one embedding of shape (n_e,) or (1, n_e); got {z_query.shape}."
        )
    w = conditional_weights(z_query.reshape(1, -1), z_candidates, temperature, similarity)[0]
    if not replace and k > len(w):
        raise DomainError(
            f"`k` must be at most the number of candidates ({len(w)}) without replacement; got {k}."
        )
    return rng.choice(len(w), size=k, replace=replace, p=w)
