"""Physics-informed tokens of the Section 6.3 encoder (gaussclip.experiments.lagrangian_features),
checked against the simulator and against the physics reference's own routes."""

import numpy as np
import pytest

from gaussclip.data import lagrangian as lag
from gaussclip.errors import ShapeError
from gaussclip.experiments import lagrangian_features as lf
from gaussclip.experiments import lagrangian_reference as ref

#: float32 storage of the tokens: 1e-7 relative to entries of order one, summed over a few
#: hundred terms.
FLOAT32_ATOL = 1e-5
#: Midpoint differences of RK4 (dt = 1e-4) trajectories over a spacing of 1e-3 carry a
#: second-order error ~ (1e-3)^2 |w'''| / 24 relative to speeds of ~6: measured below 1e-3 of the
#: token's size over these flows.
MIDPOINT_RTOL = 2e-2
#: The coefficient-space (98 x 98) and observation-space (2n x 2n) forms of a posterior mean
#: agree to the conditioning of the two solves (float32 tokens on top).
FORMS_RTOL = 1e-4


@pytest.fixture(scope="module")
def flows():
    kv = lag.wavevectors()
    freqs = lag.frequencies(kv)
    c = lag.sample_coefficients(6, np.random.default_rng(3), kv)
    paths = lag.trajectories(c, freqs, kv, dt=1e-4, record_every=1, progress=False)
    return lag.to_real(c), paths, lag.record_times(1e-4, lag.T, 1), freqs, kv


def _designs(paths, times, freqs, kv):
    mid, mid_t, y = ref.observations(paths, times, every=10)
    A = np.stack([ref.velocity_matrix(m, mid_t, freqs, kv) for m in mid])  # (n, M, 2, 2K)
    return A, y


def test_matched_filter_is_the_velocity_matrix_transpose_times_the_simulated_velocity(flows):
    """Token p is sum_m (A_m S)^T y_m / (6 n) with A from velocity_matrix; and since the
    simulated path moves with the flow, y_m ~ A_m c with the true coefficients."""
    c, paths, times, freqs, kv = flows
    tokens = lf.matched_filter_tokens(paths, times, freqs, kv, per_token=20)
    assert tokens.shape == (6, 5, 98) and tokens.dtype == np.float32
    A, y = _designs(paths, times, freqs, kv)
    B = A * ref.prior_std(kv)
    by_hand = np.einsum("nmik,nmi->nmk", B, y).reshape(6, 5, 20, 98).sum(2) / (6.0 * 20)
    np.testing.assert_allclose(tokens, by_hand, rtol=0, atol=FLOAT32_ATOL)
    # the same with the simulator's velocities A_m c in place of the finite differences
    exact = np.einsum("nmik,nmil,nl->nmk", B, A, c).reshape(6, 5, 20, 98).sum(2) / (6.0 * 20)
    scale = np.linalg.norm(exact, axis=-1, keepdims=True)
    assert np.all(np.abs(tokens - exact) <= MIDPOINT_RTOL * scale)


def test_local_posterior_is_the_posterior_mean_of_each_piece(flows):
    """Each token equals the coefficient-space posterior mean given its own observations; one
    token over the whole path is the physics reference (divided by the prior scales)."""
    _, paths, times, freqs, kv = flows
    s = ref.prior_std(kv)
    tokens = lf.local_posterior_tokens(paths, times, freqs, kv, per_token=25, noise=0.05)
    assert tokens.shape == (6, 4, 98)
    A, y = _designs(paths, times, freqs, kv)
    for p in range(4):
        design = A[:, 25 * p : 25 * (p + 1)].reshape(6, 50, 98) * s
        gram = np.einsum("nmi,nmj->nij", design, design) + 0.05**2 * np.eye(98)
        rhs = np.einsum("nmi,nm->ni", design, y[:, 25 * p : 25 * (p + 1)].reshape(6, 50))
        primal = np.linalg.solve(gram, rhs[..., None])[..., 0]  # S^{-1} c_hat_p
        scale = np.abs(primal).max()
        np.testing.assert_allclose(tokens[:, p], primal, rtol=0, atol=FORMS_RTOL * scale)
    whole = lf.local_posterior_tokens(paths, times, freqs, kv, per_token=100)[:, 0]
    reference = ref.posterior_mean_embedding(paths, times, freqs, kv)
    np.testing.assert_allclose(whole * s, reference, rtol=0, atol=FORMS_RTOL)
    assert np.all(tokens[..., lag.ZERO_MODE] == 0) and np.all(tokens[..., 49 + lag.ZERO_MODE] == 0)


def test_tokens_do_not_depend_on_chunking(flows, monkeypatch):
    _, paths, times, freqs, kv = flows
    whole = lf.local_posterior_tokens(paths, times, freqs, kv)
    monkeypatch.setattr(lf, "CHUNK", 4)
    np.testing.assert_array_equal(lf.local_posterior_tokens(paths, times, freqs, kv), whole)


def test_bad_arguments_are_named(flows):
    _, paths, times, freqs, kv = flows
    with pytest.raises(ShapeError, match="per_token"):
        lf.matched_filter_tokens(paths, times, freqs, kv, per_token=30)
    with pytest.raises(ShapeError, match="freqs"):
        lf.local_posterior_tokens(paths, times, freqs[:-1], kv)
