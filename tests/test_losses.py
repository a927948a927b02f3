"""Empirical losses: Theorem 2.8, gradients, stability, one-hot cross-entropy, MMD, fine-tuning."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from autograd.scipy.special import logsumexp
from autograd.test_util import check_grads
from hypothesis import given
from hypothesis import strategies as st

from gaussclip import losses
from gaussclip import similarity as sim
from gaussclip.errors import DomainError, OptionError, ShapeError

#: Theorem 2.8 is an identity; its two sides are computed by different routes (log-softmax vs
#: log-mean-exp with one shared exponential), so they agree to rounding of O(|S|) terms.
IDENTITY_RTOL = 1e-12

WEIGHTS = [(1.0, 1.0), (2.0, 0.0), (0.0, 2.0), (0.3, 1.7)]


def direct_cond(S, weights):
    """eq. (12) / Opt. 3.13 written with explicit softmaxes (float64 reference)."""
    n = len(S)
    p_u_given_v = np.exp(S) / np.exp(S).sum(axis=0, keepdims=True)  # column i: p(u^j | v^i)
    p_v_given_u = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)  # row i: p(v^j | u^i)
    lam_u, lam_v = weights
    return lam_u / 2 * np.mean(-np.log(n * np.diag(p_u_given_v))) + lam_v / 2 * np.mean(
        -np.log(n * np.diag(p_v_given_u))
    )


@given(
    n=st.integers(2, 12),
    scale=st.floats(1e-3, 30.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_theorem_2_8_clip_equals_cond_plus_log_n(n, scale, seed):
    S = scale * np.random.default_rng(seed).standard_normal((n, n))
    lhs = losses.clip_loss(S)
    rhs = losses.cond_loss(S) + np.log(n)
    assert np.isclose(lhs, rhs, rtol=IDENTITY_RTOL, atol=IDENTITY_RTOL * (1 + scale))


@pytest.mark.parametrize("weights", WEIGHTS)
def test_cond_loss_matches_direct_softmax_formula(weights):
    S = np.random.default_rng(3).standard_normal((7, 7))
    assert np.isclose(losses.cond_loss(S, weights), direct_cond(S, weights), rtol=1e-12)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_cond_loss_gradient(weights):
    rng = np.random.default_rng(4)
    S = rng.standard_normal((6, 6))
    check_grads(lambda s: losses.cond_loss(s, weights), modes=["rev"], order=1)(S)
    # far-apart rows force the per-axis shifts of the stable fallback
    S[0] -= 2000.0
    check_grads(lambda s: losses.cond_loss(s, weights), modes=["rev"], order=1)(S)


def test_other_loss_gradients():
    rng = np.random.default_rng(5)
    S = rng.standard_normal((6, 6))
    gram_u = losses.gaussian_kernel(1.0)(rng.standard_normal((6, 2)), rng.standard_normal((6, 2)))
    gram_u = gram_u @ gram_u.T  # symmetric PSD
    gram_v = np.exp(-(np.subtract.outer(np.arange(6.0), np.arange(6.0)) ** 2))
    for f in (
        losses.clip_loss,
        losses.joint_loss_matrix,
        lambda s: losses.joint_loss_matrix(s, "rolled"),
        lambda s: losses.cond_mmd_loss(s, gram_u, gram_v, (0.4, 1.3)),
        lambda s: losses.joint_mmd_loss(s, gram_u, gram_v),
    ):
        check_grads(f, modes=["rev"], order=1)(S)
    z, G, F = rng.standard_normal((8, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    y = rng.integers(0, 4, 8)
    check_grads(lambda G, F: losses.fine_tuning_loss(z, y, G, F, 0.5), modes=["rev"], order=1)(G, F)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tau", [1e-4, 1e-2, 1.0, 1e4])
def test_extreme_temperatures_stay_finite(dtype, tau):
    rng = np.random.default_rng(6)
    z_u = rng.standard_normal((16, 4)).astype(dtype)
    z_v = (z_u + 0.3 * rng.standard_normal((16, 4))).astype(dtype)
    params = (z_u, z_v)
    for kind in sim.KINDS:

        def total(p, kind=kind):
            S = sim.matrix(p[0], p[1], kind, tau)
            return (
                losses.cond_loss(S)
                + losses.clip_loss(S)
                + losses.joint_loss_matrix(S)
                + losses.cond_loss(S, (2.0, 0.0))
            )

        # no overflow, division by zero or invalid operation (underflow to 0 is harmless)
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            value = total(params)
            g = grad(total)(params)
        assert np.isfinite(value)
        assert all(np.all(np.isfinite(x)) for x in g)


def test_perfect_alignment_at_low_temperature_gives_zero_cond_loss_minus_log_n():
    # distinct unit embeddings, tau -> 0: p(u^i|v^i) -> 1, so L_cond -> -log N
    z = np.eye(5)
    S = sim.cosine(z, z, temperature=1e-3)
    assert np.isclose(losses.cond_loss(S), -np.log(5))
    assert np.isclose(losses.clip_loss(S), 0.0)


def test_one_hot_v_given_u_is_cross_entropy():
    # g_v = one-hot labels, S_ij = logit_i[y_j]; weights (0, 2) = cross-entropy with the batch's
    # log label frequencies added to the logits (Section 6.2, Prop. 6.1, up to the name swap).
    rng = np.random.default_rng(7)
    K, N = 4, 40
    logits = rng.standard_normal((N, K))
    y = rng.integers(0, K, N)
    S = sim.inner(logits, losses.one_hot(y, K, dtype=np.float64))
    counts = np.bincount(y, minlength=K)
    # -log p(v^i|u^i) = -logit_{i, y_i} + log sum_k n_k exp(logit_ik)   (n_k: batch label counts)
    present = counts > 0
    prior_shifted = logits[:, present] + np.log(counts[present])
    neg_log_p = logsumexp(prior_shifted, axis=1) - logits[np.arange(N), y]
    assert np.isclose(losses.cond_loss(S, (0.0, 2.0)), np.mean(neg_log_p) - np.log(N))
    # with a class-balanced batch this is the plain cross-entropy up to a constant
    y_bal = np.repeat(np.arange(K), N // K)
    S_bal = sim.inner(logits, losses.one_hot(y_bal, K, dtype=np.float64))
    plain = np.mean(logsumexp(logits, axis=1) - logits[np.arange(N), y_bal])
    assert np.isclose(losses.cond_loss(S_bal, (0.0, 2.0)), plain - np.log(K))


def test_joint_loss_off_diagonal_and_rolled():
    S = np.random.default_rng(8).standard_normal((5, 5))
    off = S[~np.eye(5, dtype=bool)]
    expected = -np.mean(np.diag(S)) + np.log(np.mean(np.exp(off)))
    assert np.isclose(losses.joint_loss_matrix(S), expected)
    rolled = S[np.arange(5), (np.arange(5) + 1) % 5]
    assert np.isclose(
        losses.joint_loss_matrix(S, "rolled"),
        -np.mean(np.diag(S)) + np.log(np.mean(np.exp(rolled))),
    )


def mmd_direct(atoms_x, w_x, atoms_y, w_y, kernel):
    """MMD^2 between two weighted empirical measures, by summing over every pair of atoms."""
    total = 0.0
    for a, wa in zip(atoms_x, w_x, strict=True):
        for b, wb in zip(atoms_x, w_x, strict=True):
            total += wa * wb * kernel(a, b)
    for a, wa in zip(atoms_x, w_x, strict=True):
        for b, wb in zip(atoms_y, w_y, strict=True):
            total -= 2 * wa * wb * kernel(a, b)
    for a, wa in zip(atoms_y, w_y, strict=True):
        for b, wb in zip(atoms_y, w_y, strict=True):
            total += wa * wb * kernel(a, b)
    return total


def test_cond_mmd_equals_mmd_of_weighted_empirical_conditionals():
    rng = np.random.default_rng(9)
    n = 5
    u, v = rng.standard_normal((n, 2)), rng.standard_normal((n, 3))
    S = rng.standard_normal((n, n))
    k_u = lambda a, b: np.exp(-np.sum((a - b) ** 2) / 2)  # noqa: E731
    k_v = lambda a, b: (1 + a @ b) ** 2  # noqa: E731 (polynomial kernel)
    gram_u = np.array([[k_u(a, b) for b in u] for a in u])
    gram_v = np.array([[k_v(a, b) for b in v] for a in v])
    lam = (0.7, 1.9)
    expected = 0.0
    for i in range(n):
        w_col = np.exp(S[:, i]) / np.exp(S[:, i]).sum()  # nu^N_{u|v^i}, eq. (28)
        expected += lam[0] / 2 * mmd_direct([u[i]], [1.0], u, w_col, k_u) / n
        w_row = np.exp(S[i]) / np.exp(S[i]).sum()  # nu^N_{v|u^i}
        expected += lam[1] / 2 * mmd_direct([v[i]], [1.0], v, w_row, k_v) / n
    assert np.isclose(losses.cond_mmd_loss(S, gram_u, gram_v, lam), expected, rtol=1e-12)
    assert losses.cond_mmd_loss(S, gram_u, gram_v, lam) >= 0


def test_joint_mmd_equals_mmd_of_tilted_product_measure():
    rng = np.random.default_rng(10)
    n = 4
    u, v = rng.standard_normal((n, 2)), rng.standard_normal((n, 1))
    S = rng.standard_normal((n, n))
    kernel = losses.gaussian_kernel(0.8)
    gram_u, gram_v = kernel(u, u), kernel(v, v)

    def k_pair(a, b):  # product kernel on (u, v) pairs
        return kernel(a[0][None], b[0][None])[0, 0] * kernel(a[1][None], b[1][None])[0, 0]

    data_atoms = [(u[i], v[i]) for i in range(n)]
    model_atoms = [(u[j], v[l]) for j in range(n) for l in range(n)]  # noqa: E741
    P = np.exp(S) / np.exp(S).sum()
    direct = mmd_direct(data_atoms, [1 / n] * n, model_atoms, P.ravel(), k_pair)
    assert np.isclose(losses.joint_mmd_loss(S, gram_u, gram_v), direct, rtol=1e-12)


def test_mmd_gradient_pulls_model_towards_data():
    # with S = c * I the model conditional concentrates on the true partner as c grows, so the
    # conditional MMD decreases along c
    rng = np.random.default_rng(11)
    u = rng.standard_normal((6, 2))
    gram = losses.gaussian_kernel(1.0)(u, u)
    values = [float(losses.cond_mmd_loss(c * np.eye(6), gram, gram)) for c in (0.0, 2.0, 8.0)]
    assert values[0] > values[1] > values[2] >= 0
    assert values[2] < 1e-4


def test_fine_tuning_loss_definition():
    rng = np.random.default_rng(12)
    z, G, F = rng.standard_normal((10, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    y = rng.integers(0, 5, 10)
    ell = z @ G / 0.5 + F
    expected = -np.mean(ell[np.arange(10), y]) + np.mean(np.log(np.mean(np.exp(ell), axis=1)))
    assert np.isclose(losses.fine_tuning_loss(z, y, G, F, 0.5), expected)


def test_contrastive_objective_with_fixed_one_hot_targets():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((12, 5))
    y = losses.one_hot(rng.integers(0, 3, 12), 3, dtype=np.float64)

    def encode(p, x):
        return anp.dot(x, p)

    objective = losses.contrastive_objective(encode, None, similarity="inner", weights=(0.0, 2.0))
    W = rng.standard_normal((5, 3))
    assert np.isclose(objective({"u": W}, x, y), losses.cond_loss(x @ W @ y.T, (0.0, 2.0)))


def test_bad_inputs():
    with pytest.raises(ShapeError, match="square"):
        losses.cond_loss(np.ones((3, 4)))
    with pytest.raises(OptionError, match="weights"):
        losses.cond_loss(np.ones((3, 3)), (-1.0, 1.0))
    with pytest.raises(ShapeError, match="gram_u"):
        losses.cond_mmd_loss(np.ones((3, 3)), np.ones((2, 2)), np.ones((3, 3)))
    with pytest.raises(DomainError, match="labels"):
        losses.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ShapeError, match="kernel_u"):
        losses.contrastive_objective(lambda p, x: x, loss="cond_mmd")
