"""Hypothesis strategies for the engine's tests.

Matrices are *built* from a chosen spectrum, never filtered: an SPD matrix is
``Q diag(lam) Q^T`` with ``Q`` a random orthogonal matrix and ``lam`` log-spaced between 1 and a
chosen condition number (scikit-learn's ``make_spd_matrix`` pattern). Joint covariances come
either from a whole chosen spectrum (generic) or from chosen blocks and canonical correlations
(when a test needs control over sigma, e.g. a gap for rank truncation).
"""

import numpy as np
from hypothesis import strategies as st

#: Condition numbers reach this, as the engine issue asks.
MAX_CONDITION = 1e6


def orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def spd_from_spectrum(rng, n, condition):
    """``Q diag(lam) Q^T`` with eigenvalues log-spaced in [1, condition], randomly scaled."""
    lam = np.geomspace(1.0, condition, n) * rng.uniform(0.2, 5.0)
    q = orthogonal(rng, n)
    m = (q * rng.permutation(lam)) @ q.T
    return 0.5 * (m + m.T)


def joint_from_canonical(rng, n_u, n_v, sigma, condition_u, condition_v):
    """Joint covariance with blocks of given conditioning and canonical correlations ``sigma``.

    With square roots ``Ruu``, ``Rvv`` of the diagonal blocks and orthogonal ``U``, ``V``:
    ``C_uv = Ruu U diag(sigma) V^T Rvv``.
    """
    k = min(n_u, n_v)
    cuu = spd_from_spectrum(rng, n_u, condition_u)
    cvv = spd_from_spectrum(rng, n_v, condition_v)
    lu, qu = np.linalg.eigh(cuu)
    lv, qv = np.linalg.eigh(cvv)
    ruu = (qu * np.sqrt(lu)) @ qu.T
    rvv = (qv * np.sqrt(lv)) @ qv.T
    u = orthogonal(rng, n_u)[:, :k]
    v = orthogonal(rng, n_v)[:, :k]
    cuv = ruu @ (u * np.asarray(sigma)) @ v.T @ rvv
    cov = np.block([[cuu, cuv], [cuv.T, cvv]])
    return 0.5 * (cov + cov.T)


@st.composite
def joint_covariances(draw, max_dim=4, max_condition=MAX_CONDITION):
    """``(cov, n_u)`` from a chosen full spectrum with condition number up to ``max_condition``."""
    n_u = draw(st.integers(1, max_dim))
    n_v = draw(st.integers(1, max_dim))
    log_cond = draw(st.floats(0.0, np.log10(max_condition)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return spd_from_spectrum(rng, n_u + n_v, 10.0**log_cond), n_u


@st.composite
def canonical_joints(draw, max_dim=4, max_sigma=0.95, min_gap=0.05, max_condition=MAX_CONDITION):
    """``(cov, n_u, sigma)`` with distinct canonical correlations (gaps >= ``min_gap``) in
    ``(0, max_sigma]`` and diagonal blocks conditioned up to ``max_condition``."""
    n_u = draw(st.integers(1, max_dim))
    n_v = draw(st.integers(1, max_dim))
    k = min(n_u, n_v)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    top = draw(st.floats(min_gap * k, max_sigma))
    # equally spaced from `top` down, each gap >= min_gap, all positive
    sigma = top - np.arange(k) * (top - min_gap * 0.5) / max(k, 1)
    sigma = np.clip(sigma, min_gap * 0.5, max_sigma)
    log_cu = draw(st.floats(0.0, np.log10(max_condition)))
    log_cv = draw(st.floats(0.0, np.log10(max_condition)))
    cov = joint_from_canonical(rng, n_u, n_v, sigma, 10.0**log_cu, 10.0**log_cv)
    return cov, n_u, np.sort(sigma)[::-1]
