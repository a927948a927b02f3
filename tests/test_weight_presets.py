"""Named weightings (issue 14, item 6) and the balanced-batch statement of ERRATA #14."""

import numpy as np
import pytest
import scipy.special

import gaussclip as gc
from gaussclip.losses import cond_loss

MU = gc.JointGaussian([[2.0, 0.3, 0.8], [0.3, 1.0, 0.2], [0.8, 0.2, 1.5]], 1)


@pytest.mark.parametrize(("preset", "pair"), [("u|v", (2, 0)), ("v|u", (0, 2)), ("both", (1, 1))])
def test_presets_equal_their_tuples(preset, pair):
    for tilting in ("inner", "quadratic"):
        named = gc.minimize(MU, "cond", tilting, weights=preset)
        tupled = gc.minimize(MU, "cond", tilting, weights=pair)
        assert named.weights == tupled.weights == tuple(float(x) for x in pair)
        assert named.objective == tupled.objective
        J = gc.population_loss(MU, "cond", tilting, A=named.A, B=named.B, C=named.C, weights=preset)
        assert np.isclose(J, named.objective, rtol=1e-12, atol=1e-15)


def test_balanced_batch_v_given_u_loss_is_cross_entropy_minus_log_k():
    """ERRATA #14: with one-hot label embeddings and N/K images of each of K labels, the (0, 2)
    batch loss equals the cross-entropy of the logits minus log K."""
    rng = np.random.default_rng(0)
    k, per = 4, 3
    labels = np.repeat(np.arange(k), per)
    logits = rng.standard_normal((k * per, k))
    S = logits[:, labels]  # S_ij = <g_u(image_i), e_{label_j}>
    ce = -np.mean(logits[np.arange(k * per), labels] - scipy.special.logsumexp(logits, axis=1))
    assert np.isclose(float(cond_loss(S, weights=(0.0, 2.0))), ce - np.log(k), rtol=1e-6)
    unbalanced = np.array([0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3, 2])  # the shift is no constant
    S = logits[:, unbalanced]
    ce = -np.mean(logits[np.arange(k * per), unbalanced] - scipy.special.logsumexp(logits, axis=1))
    assert not np.isclose(float(cond_loss(S, weights=(0.0, 2.0))), ce - np.log(k), rtol=1e-3)
