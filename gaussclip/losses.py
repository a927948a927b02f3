r"""Empirical contrastive losses, differentiable with autograd and stable for any temperature.

Every loss takes a similarity matrix :math:`S_{ij} = s(u^i, v^j)` of a paired batch
:math:`\{(u^i, v^i)\}_{i=1}^N` (:mod:`gaussclip.similarity`; row i is u^i, column j is v^j).
The model conditionals of the batch are softmaxes of S (eqs. 5-6):

* :math:`p(u^j|v^i) = e^{S_{ji}}/\sum_l e^{S_{li}}`: softmax *down column* i, over the u's;
* :math:`p(v^j|u^i) = e^{S_{ij}}/\sum_l e^{S_{il}}`: softmax *along row* i, over the v's.

Weights follow DESIGN.md and Optimization Problems 3.4/3.13: :math:`\lambda_u` weights the
u|v term and :math:`\lambda_v` the v|u term; (1, 1) is CLIP, (2, 0) matches u|v only and (0, 2)
matches v|u only.

=========================  ==================================================================
:func:`clip_loss`          :math:`L^N_{clip}` (eqs. 7-8), via log-softmax
:func:`cond_loss`          :math:`L^N_{cond}(\lambda_u, \lambda_v)` (eq. 12, Opt. 3.13); with
                           weights (1, 1), :math:`L^N_{clip} = L^N_{cond} + \log N` (Thm 2.8)
:func:`joint_loss`         :math:`L^N_{joint}` (Opt. 3.7) from positive and negative scores
:func:`cond_mmd_loss`      conditional MMD objective (Opt. 3.4 with MMD, Appendix B)
:func:`joint_mmd_loss`     joint MMD objective (Opt. 3.11) with a product kernel
:func:`fine_tuning_loss`   :math:`L^K_{fine}` (eq. 34)
=========================  ==================================================================

Every log-sum-exp subtracts its maximum first, so temperatures from 1e-4 to 1e4 neither
overflow nor produce NaN, in float32 as in float64. The losses keep the dtype of ``S``.
:func:`cond_loss` and :func:`joint_loss_matrix` compute their value and gradient together
from one exponential (an autograd primitive with a precomputed gradient), so they support
first derivatives, which is all training needs, but not derivatives of derivatives.

**One-hot labels (MNIST, Section 6.2).** With :math:`g_v(v) = e_v` and logits
:math:`g_u(u)\in\mathbb R^K`, :math:`S_{ij} = g_u(u^i)_{y_j}`. The v|u term normalizes over the
labels present in the batch, counted with multiplicity :math:`n_k`, so

.. math:: -\log p(v^i|u^i) = -g_u(u^i)_{y_i} + \log\sum_k n_k e^{g_u(u^i)_k},

the cross-entropy of the logits shifted by the log label frequencies of the batch. Hence the
usual cross-entropy classifier is the v|u term, weights (0, 2) in this convention (the paper's
Section 6.2 calls it (2, 0)); :func:`one_hot` builds :math:`g_v` and the test
``test_one_hot_v_given_u_is_cross_entropy`` shows the identity.
"""

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive
from autograd.scipy.special import logsumexp
from autograd.tracer import getval, isbox

from . import similarity as sim
from ._checks import WeightsPair
from ._validation import (
    Callable,
    Choice,
    Integer,
    IntegerArray,
    Optional,
    Real,
    RealArray,
    fail,
    validate_params,
)
from .errors import DomainError, ShapeError
from .similarity import EMBEDDINGS, TEMPERATURE

LOSSES = ("clip", "cond", "joint", "cond_mmd", "joint_mmd")
NEGATIVES = ("off-diagonal", "rolled")


MATRIX = RealArray(ndim=2)
SCORES = RealArray(ndim=1)
WEIGHTS = WeightsPair()


def _check_square(S, name="S"):
    shape = anp.shape(S)
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 2:
        raise ShapeError(
            f"`{name}` must be a square similarity matrix of a paired batch (N, N) with N >= 2 "
            f"(row i is u^i, column j is v^j); got shape {shape}."
        )
    return shape[0]


def _lse(x, axis):
    """Stable log-sum-exp along ``axis`` for plain arrays (keeps dims)."""
    top = np.max(x, axis=axis, keepdims=True)
    return top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))


# --- L_cond: value and gradient from one exponential ----------------------------------------
@primitive
def _with_gradient(x, value, gradient):
    """``value``, recorded by autograd as a function of ``x`` whose gradient is ``gradient``
    (both computed beforehand from the unboxed ``x``)."""
    return value


def _with_gradient_vjp(ans, x, value, gradient):
    # the loss is usually the end of the graph (g = 1): skip a full pass over `gradient`
    return lambda g: gradient if np.ndim(g) == 0 and g == 1 else g * gradient


defvjp(_with_gradient, _with_gradient_vjp)


def _cond_value_and_gradient(S, lam_u, lam_v, need_gradient):
    r"""Value of :func:`cond_loss` and, optionally, :math:`\partial L/\partial S`.

    With column and row log-sum-exps :math:`c_i = \log\sum_j e^{S_{ji}}`,
    :math:`r_i = \log\sum_j e^{S_{ij}}`:

    .. math:: L = \tfrac{\lambda_u}{2}\mathrm{mean}_i(c_i - S_{ii}) +
              \tfrac{\lambda_v}{2}\mathrm{mean}_i(r_i - S_{ii}) - \tfrac{\lambda_u+\lambda_v}2
              \log N,\qquad
              \frac{\partial L}{\partial S} = \frac{\lambda_u}{2N}(P^{col} - I)
              + \frac{\lambda_v}{2N}(P^{row} - I).

    One exponential :math:`E = e^{S - \max S}` serves both softmaxes. It is exact unless some
    row or column lies so far below the global maximum that its largest term would leave the
    normal range of the dtype; then each axis gets its own shift (two exponentials).
    """
    n = S.shape[0]
    diag = np.diagonal(S)
    top = S.max()
    col_top, row_top = S.max(axis=0), S.max(axis=1)
    # ln of the smallest normal number, with a margin: below it exp(x - top) loses digits
    floor = 0.9 * float(np.log(np.finfo(S.dtype).tiny))
    if min(col_top.min(), row_top.min()) - top > floor:
        E = S - top
        np.exp(E, out=E)
        col_sum, row_sum = E.sum(axis=0), E.sum(axis=1)
        col_lse, row_lse = top + np.log(col_sum), top + np.log(row_sum)
    else:
        col_lse, row_lse = _lse(S, 0)[0], _lse(S, 1)[:, 0]
        E = col_sum = row_sum = None
    log_n = float(np.log(n))  # a Python float keeps float32 inputs in float32
    value = 0.0
    if lam_u:
        value += 0.5 * lam_u * float(np.mean(col_lse - diag) - log_n)
    if lam_v:
        value += 0.5 * lam_v * float(np.mean(row_lse - diag) - log_n)
    if not need_gradient:
        return np.asarray(value, dtype=S.dtype), None
    cu, cv = 0.5 * lam_u / n, 0.5 * lam_v / n
    if E is None:  # separate shifts: P_col = exp(S - c), P_row = exp(S - r)
        grad = cu * np.exp(S - col_lse) if lam_u else np.zeros_like(S)
        if lam_v:
            grad += cv * np.exp(S - row_lse[:, None])
    else:  # P_col = E / col_sum, P_row = E / row_sum
        grad = E * (cu / col_sum) if lam_u else np.zeros_like(S)
        if lam_v:
            E *= (cv / row_sum)[:, None]
            grad += E
    idx = np.arange(n)
    grad[idx, idx] -= 0.5 * (lam_u + lam_v) / n
    return np.asarray(value, dtype=S.dtype), grad


@validate_params(S=MATRIX, weights=WEIGHTS)
def cond_loss(S, weights=(1.0, 1.0)):
    r"""The conditional loss :math:`L^N_{cond}(\lambda_u, \lambda_v)` of a paired batch.

    .. math:: L^N_{cond} = \frac{\lambda_u}{2N}\sum_i\Bigl[-S_{ii}
              + \log\tfrac1N\sum_j e^{S_{ji}}\Bigr]
              + \frac{\lambda_v}{2N}\sum_i\Bigl[-S_{ii} + \log\tfrac1N\sum_j e^{S_{ij}}\Bigr],

    i.e. :math:`\tfrac{\lambda_u}2\,\mathrm{mean}_i[-\log N p(u^i|v^i)] +
    \tfrac{\lambda_v}2\,\mathrm{mean}_i[-\log N p(v^i|u^i)]` (eq. 12 for (1, 1); Opt. 3.13).
    The densities :math:`Np` are with respect to the empirical marginals (Remark 2.3), which
    is why this loss has a population limit and :func:`clip_loss` does not.

    Parameters
    ----------
    S : (N, N) array
        Similarities of a paired batch, :math:`S_{ij} = s(u^i, v^j)`.
    weights : (float, float)
        :math:`(\lambda_u, \lambda_v)`.

    Returns
    -------
    scalar array (dtype of S)

    Examples
    --------
    A batch whose similarities carry no information gives zero:

    >>> import numpy as np
    >>> float(cond_loss(np.zeros((4, 4))))
    0.0
    """
    _check_square(S)
    lam_u, lam_v = weights
    traced = isbox(S)
    value, gradient = _cond_value_and_gradient(getval(S), lam_u, lam_v, traced)
    return _with_gradient(S, value, gradient) if traced else value


@validate_params(S=MATRIX)
def clip_loss(S):
    r"""The CLIP cross-entropy :math:`L^N_{clip}` (eqs. 7-8):
    :math:`-\tfrac12\,\mathrm{mean}_i[\log p(u^i|v^i) + \log p(v^i|u^i)]`.

    Written with log-softmax (autograd's ``logsumexp``), independently of :func:`cond_loss`;
    Theorem 2.8 says ``clip_loss(S) == cond_loss(S) + log N``.

    Examples
    --------
    >>> import numpy as np
    >>> bool(np.isclose(clip_loss(np.zeros((4, 4))), np.log(4)))
    True
    """
    n = _check_square(S)
    idx = np.arange(n)
    log_p_u_given_v = S[idx, idx] - logsumexp(S, axis=0)  # softmax down column i
    log_p_v_given_u = S[idx, idx] - logsumexp(S, axis=1)  # softmax along row i
    return -0.5 * (anp.mean(log_p_u_given_v) + anp.mean(log_p_v_given_u))


@validate_params(s_pos=SCORES, s_neg=SCORES)
def joint_loss(s_pos, s_neg):
    r"""The joint loss :math:`L^N_{joint}` (Optimization Problem 3.7):

    .. math:: L^N_{joint} = -\mathrm{mean}_i\, s^+_i + \log \mathrm{mean}_k\, e^{s^-_k},

    with :math:`s^+` the similarities of paired samples (from :math:`\mu`) and :math:`s^-` those
    of pairs drawn from the product of marginals :math:`\mu_u\otimes\mu_v` (Remark 3.9).

    Parameters
    ----------
    s_pos : (N,) array
    s_neg : (M,) array

    Examples
    --------
    >>> import numpy as np
    >>> float(joint_loss(np.zeros(3), np.zeros(6)))
    0.0
    """
    if anp.ndim(s_pos) != 1 or anp.ndim(s_neg) != 1 or anp.size(s_neg) == 0:
        raise ShapeError(
            f"`s_pos` and `s_neg` must be non-empty 1-D arrays of scores; got shapes "
            f"{anp.shape(s_pos)} and {anp.shape(s_neg)}."
        )
    m = anp.shape(s_neg)[0]
    return -anp.mean(s_pos) + logsumexp(s_neg) - float(np.log(m))


@validate_params(S=MATRIX, negatives=Choice(NEGATIVES))
def joint_loss_matrix(S, negatives="off-diagonal"):
    r""":func:`joint_loss` of a paired batch from its similarity matrix.

    Positives are the diagonal :math:`S_{ii}`. Negatives (each distributed as
    :math:`\mu_u\otimes\mu_v` because the pairs of a batch are independent, Remark 3.9):

    * ``"off-diagonal"``: all :math:`N(N-1)` entries :math:`S_{ij}`, :math:`i \ne j`;
    * ``"rolled"``: the N entries :math:`S_{i,i+1 \bmod N}` (a shifted batch).
    """
    n = _check_square(S)
    idx = np.arange(n)
    if negatives == "rolled":
        return joint_loss(S[idx, idx], S[idx, (idx + 1) % n])
    traced = isbox(S)
    value, gradient = _joint_value_and_gradient(getval(S), traced)
    return _with_gradient(S, value, gradient) if traced else value


def _joint_value_and_gradient(S, need_gradient):
    r"""Value of the off-diagonal joint loss and :math:`\partial L/\partial S`.

    .. math:: L = -\mathrm{mean}_i S_{ii} + \log\frac{1}{N(N-1)}\sum_{i\ne j}e^{S_{ij}},
              \qquad \frac{\partial L}{\partial S_{ij}} = \frac{e^{S_{ij}}}
              {\sum_{k\ne l}e^{S_{kl}}}[i\ne j] - \frac{[i=j]}{N}.
    """
    n = S.shape[0]
    idx = np.arange(n)
    off = S.copy()
    off[idx, idx] = -np.inf
    top = off.max()
    off -= top
    np.exp(off, out=off)  # the diagonal becomes exactly 0
    total = off.sum()
    value = float(-np.mean(S[idx, idx]) + top + np.log(total) - np.log(n * (n - 1)))
    if not need_gradient:
        return np.asarray(value, dtype=S.dtype), None
    off *= 1.0 / float(total)
    off[idx, idx] = -1.0 / n
    return np.asarray(value, dtype=S.dtype), off


# --- MMD ------------------------------------------------------------------------------------
@validate_params(bandwidth=Real(low=0.0, low_open=True))
def gaussian_kernel(bandwidth):
    r"""The Gaussian kernel :math:`k(x, y) = \exp(-|x - y|^2/(2h^2))` as a Gram-matrix function
    ``k(x, y) -> (n, m)`` for rows of ``x`` (n, d) and ``y`` (m, d) (trailing axes flattened).

    Examples
    --------
    >>> import numpy as np
    >>> gaussian_kernel(1.0)(np.zeros((1, 2)), np.ones((1, 2)))
    array([[0.36787944]])
    """

    def kernel(x, y):
        x = np.reshape(x, (np.shape(x)[0], -1))
        y = np.reshape(y, (np.shape(y)[0], -1))
        sq = np.sum(x * x, 1)[:, None] + np.sum(y * y, 1)[None, :] - 2.0 * x @ y.T
        return np.exp(-np.maximum(sq, 0.0) / (2.0 * bandwidth**2))

    return kernel


def _softmax(S, axis):
    return anp.exp(S - logsumexp(S, axis=axis, keepdims=True))


@validate_params(S=MATRIX, gram_u=MATRIX, gram_v=MATRIX, weights=WEIGHTS)
def cond_mmd_loss(S, gram_u, gram_v, weights=(1.0, 1.0)):
    r"""The conditional MMD objective of a batch (Opt. 3.4 with :math:`D = D_{mmd}`).

    **Derivation.** For a kernel k, :math:`D_{mmd}(\pi,\pi') = E_{\pi\otimes\pi}k -
    2E_{\pi\otimes\pi'}k + E_{\pi'\otimes\pi'}k` (eq. 60). Take the u|v term,
    :math:`\tfrac{\lambda_u}2 E_{v\sim\mu_v} D_{mmd}(\mu_{u|v}, \nu_{u|v})` with
    :math:`\nu_{u|v}(du|v) = \rho(u|v)\mu_u(du)`. Expanding,

    .. math:: E_v D_{mmd} = \underbrace{E_v E_{\mu_{u|v}^{\otimes 2}} k}_{\text{no }\theta}
        - 2\,E_{(u,v)\sim\mu}E_{u'\sim\mu_u}[k(u,u')\rho(u'|v)]
        + E_{v\sim\mu_v}E_{(u,u')\sim\mu_u^{\otimes2}}[k(u,u')\rho(u|v)\rho(u'|v)],

    so the cross term enters with a minus sign and the model-model term with a plus sign
    (Appendix B prints them the other way round). Replacing :math:`\mu` by the batch
    :math:`\mu^N`: the data conditional given :math:`v^i` is :math:`\delta_{u^i}` and the model
    conditional is :math:`\nu^N_{u|v^i} = \sum_j W_{ji}\delta_{u^j}` with :math:`W` the softmax
    of S down the columns (eq. 28). The empirical objective is therefore the exact MMD between
    these measures,

    .. math:: \frac1N\sum_i D_{mmd}(\delta_{u^i}, \nu^N_{u|v^i})
        = \frac1N\sum_i\Bigl[K_{ii} - 2(KW)_{ii} + (W^\top K W)_{ii}\Bigr],

    with :math:`K = K_u` the Gram matrix of the u's; the v|u term is the same with the row
    softmax and :math:`K_v`. The result is :math:`\ge 0` for a positive-definite kernel; its
    first term does not depend on the encoders. When several pairs share the same v (labels),
    the data conditional is the uniform measure on their u's; this changes only the constant
    first term, so the gradients are the same.

    Parameters
    ----------
    S : (N, N) array
    gram_u : (N, N) array
        :math:`k_u(u^i, u^j)`, symmetric (a constant: it does not depend on the encoders).
    gram_v : (N, N) array
        :math:`k_v(v^i, v^j)`.
    weights : (float, float)
        :math:`(\lambda_u, \lambda_v)`.

    Returns
    -------
    scalar array
        :math:`\tfrac{\lambda_u}2\,\mathrm{mean}_i D(\delta_{u^i},\nu^N_{u|v^i}) +
        \tfrac{\lambda_v}2\,\mathrm{mean}_i D(\delta_{v^i},\nu^N_{v|u^i})`.
    """
    n = _check_square(S)
    lam_u, lam_v = weights
    for name, gram in (("gram_u", gram_u), ("gram_v", gram_v)):
        if np.shape(gram) != (n, n):
            raise ShapeError(f"`{name}` must have shape ({n}, {n}); got {np.shape(gram)}.")
    value = 0.0
    if lam_u:
        W = _softmax(S, 0)  # W[j, i] = weight of u^j in nu^N_{u|v^i}
        KW = anp.dot(gram_u, W)
        mmd = np.mean(np.diagonal(gram_u)) - 2.0 * anp.sum(gram_u * W) / n  # (KW)_ii, K symmetric
        value = value + 0.5 * lam_u * (mmd + anp.sum(W * KW) / n)
    if lam_v:
        V = _softmax(S, 1)  # V[i, j] = weight of v^j in nu^N_{v|u^i}
        VK = anp.dot(V, gram_v)
        mmd = np.mean(np.diagonal(gram_v)) - 2.0 * anp.sum(V * gram_v) / n
        value = value + 0.5 * lam_v * (mmd + anp.sum(V * VK) / n)
    return value


@validate_params(S=MATRIX, gram_u=MATRIX, gram_v=MATRIX)
def joint_mmd_loss(S, gram_u, gram_v):
    r"""The joint MMD objective :math:`D_{mmd}(\mu^N, \nu^N)` (Opt. 3.11) with the product
    kernel :math:`k((u,v),(u',v')) = k_u(u,u')\,k_v(v,v')`.

    **Derivation.** The model is the tilted product of the batch marginals,
    :math:`\nu^N = \sum_{j,l} P_{jl}\,\delta_{(u^j, v^l)}` with :math:`P = \mathrm{softmax}(S)`
    over all :math:`N^2` entries (eq. 13 with :math:`\mu_u^N\otimes\mu_v^N`), and the data is
    :math:`\mu^N = \tfrac1N\sum_i\delta_{(u^i,v^i)}`. Eq. (60) with the product kernel gives

    .. math:: D = \frac1{N^2}\sum_{i,i'}K^u_{ii'}K^v_{ii'}
        - \frac2N\sum_{j,l}P_{jl}(K^uK^v)_{jl} + \operatorname{Tr}(P^\top K^u P K^v),

    since :math:`\sum_i K^u_{ij}K^v_{il} = (K^uK^v)_{jl}` and
    :math:`\sum P_{jl}P_{j'l'}K^u_{jj'}K^v_{ll'} = \operatorname{Tr}(P^\top K^u P K^v)`. This is
    the exact MMD between the two measures (:math:`\ge 0`), at cost :math:`O(N^3)`; the product
    form is what makes it affordable (a general kernel on pairs needs :math:`O(N^4)`). The
    sign of the cross term is minus, as in the definition (Opt. 3.11 prints it so).

    Parameters
    ----------
    S, gram_u, gram_v : (N, N) arrays
    """
    n = _check_square(S)
    for name, gram in (("gram_u", gram_u), ("gram_v", gram_v)):
        if np.shape(gram) != (n, n):
            raise ShapeError(f"`{name}` must have shape ({n}, {n}); got {np.shape(gram)}.")
    P = anp.exp(S - logsumexp(S))
    data_term = np.sum(gram_u * gram_v) / n**2
    cross = anp.sum(P * np.dot(gram_u, gram_v)) / n
    model = anp.sum(anp.dot(anp.dot(gram_u, P), gram_v) * P)
    return data_term - 2.0 * cross + model


# --- fine-tuning ----------------------------------------------------------------------------
def _check_labels(labels, n_classes, fix):
    """Labels (already a 1-D int64 array >= 0) must also be < ``n_classes``."""
    if labels.size and labels.max() >= n_classes:
        fail(DomainError, "labels", f"class indices in [0, {n_classes - 1}]", labels,
             f"Its largest entry is {labels.max()}. {fix}")  # fmt: skip


@validate_params(labels=IntegerArray(ndim=1, low=0, nonempty=False), n_classes=Integer(1, 10**7))
def one_hot(labels, n_classes, dtype=np.float32):
    """Rows :math:`e_{y_i}` of the identity, shape (n, n_classes): the label encoder
    :math:`g_v(v) = e_v` of Section 6.2 and Section 4.2."""
    _check_labels(labels, n_classes, "Increase `n_classes`.")
    return np.eye(n_classes, dtype=dtype)[labels]


@validate_params(
    z_u=EMBEDDINGS, labels=IntegerArray(ndim=1, low=0), G=MATRIX, F=SCORES, temperature=TEMPERATURE
)
def fine_tuning_loss(z_u, labels, G, F, temperature=1.0):
    r"""The fine-tuning loss :math:`L^K_{fine}(G, F)` (eq. 34) with a frozen u-encoder.

    .. math:: L^K_{fine} = \mathrm{mean}_i\Bigl[-\ell_{i,y_i}
              + \log\tfrac1K\textstyle\sum_k e^{\ell_{ik}}\Bigr],\qquad
              \ell = z_u G/\tau + F,

    the one-sided (v|u) conditional loss against the uniform label marginal
    :math:`\hat\mu^K_v`; column k of G is the embedding of label k and F re-weights the label
    prior (eq. 32).

    Parameters
    ----------
    z_u : (M, n_e) array
        Embeddings :math:`\bar g_u(\hat u^i)` of the fine-tuning inputs (frozen).
    labels : (M,) int array
        Label index :math:`y_i \in [0, K)` of each input.
    G : (n_e, K) array
    F : (K,) array
    temperature : float
    """
    K = anp.shape(G)[1]
    if anp.shape(z_u)[1] != anp.shape(G)[0] or anp.shape(F) != (K,):
        raise ShapeError(
            f"`z_u` (M, n_e), `G` (n_e, K) and `F` (K,) must agree; got {anp.shape(z_u)}, "
            f"{anp.shape(G)} and {anp.shape(F)}."
        )
    _check_labels(labels, K, "Give G one column per class.")
    if len(labels) != anp.shape(z_u)[0]:
        raise ShapeError(
            f"`labels` must have one entry per row of `z_u` ({anp.shape(z_u)[0]}); got "
            f"{len(labels)}."
        )
    logits = anp.dot(z_u, G) / temperature + F
    idx = np.arange(anp.shape(z_u)[0])
    return anp.mean(logsumexp(logits, axis=1) - logits[idx, labels]) - float(np.log(K))


# --- objectives over encoder parameters -----------------------------------------------------
@validate_params(
    encode_u=Callable(),
    encode_v=Optional(Callable(hint="Or None to use `v` itself as its embedding.")),
    loss=Choice(LOSSES),
    similarity=Choice(sim.KINDS),
    weights=WEIGHTS,
    temperature=TEMPERATURE,
    negatives=Choice(NEGATIVES),
    kernel_u=Optional(Callable()),
    kernel_v=Optional(Callable()),
)
def contrastive_objective(
    encode_u,
    encode_v=None,
    *,
    loss="cond",
    similarity="cosine",
    weights=(1.0, 1.0),
    temperature=1.0,
    negatives="off-diagonal",
    kernel_u=None,
    kernel_v=None,
):
    r"""An objective ``f(params, u, v) -> scalar`` for :func:`gaussclip.train.fit`.

    ``params`` is a dict ``{"u": params_u, "v": params_v}``; the encoders are called as
    ``encode_u(params["u"], u)``. ``encode_v=None`` uses ``v`` itself as its embedding (e.g.
    :func:`one_hot` labels) and ignores ``params["v"]``.

    Parameters
    ----------
    encode_u, encode_v : callables ``(params, x) -> (N, n_e)``
    loss : {"clip", "cond", "joint", "cond_mmd", "joint_mmd"}
    similarity : {"cosine", "inner", "neg_half_sq_distance"}
    weights : (float, float)
        For ``"cond"`` and ``"cond_mmd"``.
    temperature : float
    negatives : {"off-diagonal", "rolled"}
        Product-of-marginals pairs of the joint loss.
    kernel_u, kernel_v : callables ``k(x, y) -> Gram matrix``
        For the MMD losses (e.g. :func:`gaussian_kernel`), applied to the raw batch.
    """
    kind, lam = similarity, weights
    if loss in ("cond_mmd", "joint_mmd") and (kernel_u is None or kernel_v is None):
        raise ShapeError(
            f"loss={loss!r} needs `kernel_u` and `kernel_v` (e.g. gaussian_kernel(1.0))."
        )

    def objective(params, u, v):
        z_u = encode_u(params["u"], u)
        z_v = v if encode_v is None else encode_v(params["v"], v)
        S = sim.matrix(z_u, z_v, kind, temperature)
        if loss == "clip":
            return clip_loss(S)
        if loss == "cond":
            return cond_loss(S, lam)
        if loss == "joint":
            return joint_loss_matrix(S, negatives)
        gram_u, gram_v = kernel_u(u, u), kernel_v(v, v)
        if loss == "cond_mmd":
            return cond_mmd_loss(S, gram_u, gram_v, lam)
        return joint_mmd_loss(S, gram_u, gram_v)

    return objective
