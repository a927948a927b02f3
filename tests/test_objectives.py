"""Exact population objectives J (gaussclip.objectives)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.testing import as_test
from gaussclip.testing.strategies import encoders, joint_gaussians

#: J >= 0 up to rounding of its O(1)-O(10) trace and log-determinant terms.
NONNEGATIVE_ATOL = 1e-12
#: J = 0 where the compared distributions coincide: the same rounding, relative to the O(10)
#: terms that cancel (block conditions up to 1e6 cost ~cond * eps in the one-sided case).
ZERO_ATOL = 1e-10
ZERO_ONE_SIDED_ATOL = 1e-8

# Monte Carlo agreement of every objective (loss x tilting x weights), the KL chain rule and
# Theorem 3.10 are public properties of gaussclip.testing.
test_objectives_agree_with_monte_carlo = as_test("objective-monte-carlo")
test_kl_chain_rule = as_test("kl-chain-rule")
test_theorem_3_10 = as_test("thm-3.10")


@given(joint_gaussians(), st.data())
def test_objectives_are_divergences(mu, data):
    """J >= 0, and J = 0 exactly when the compared distributions match: A = 0 for independent
    data; the one-sided quadratic optimum matches mu_{u|v} (Corollary 5.4)."""
    G, H = data.draw(encoders(mu, max_norm=0.9))
    for loss in ("cond", "joint"):
        for tilting in ("inner", "quadratic"):
            assert gc.population_loss(mu, loss, tilting, G=G, H=H) >= -NONNEGATIVE_ATOL
    blocks = np.zeros_like(mu.cov)
    n_u = mu.n_u
    blocks[:n_u, :n_u], blocks[n_u:, n_u:] = mu.Cuu, mu.Cvv
    independent = gc.JointGaussian(blocks, n_u)
    zero = np.zeros((n_u, mu.n_v))
    assert abs(gc.population_loss(independent, "joint", "inner", A=zero)) < ZERO_ATOL
    sol = gc.minimize(mu, "cond", "quadratic", weights=(2.0, 0.0))
    one_sided = gc.population_loss(mu, "cond", "quadratic", A=sol.A, B=sol.B, weights=(2, 0))
    assert abs(one_sided) < ZERO_ONE_SIDED_ATOL


#: Scalar formulas on the 2-D example: rounding only.
EXAMPLE_RTOL = 1e-12


def test_losses_differ_from_objectives_by_the_mutual_information():
    """Theorems 3.2 / 3.8 on the 2-D example: with B = C = 0 the paper's L_cond(A) of eq. (42)
    is -Tr(A C_vu) + 1/2 Tr(A^T C_uu A C_vv) and J_cond = L_cond + I(u; v)."""
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    for a in (-0.3, 0.0, 0.2, 0.5):
        A = np.array([[a]])
        loss = -np.trace(A @ mu.Cvu) + 0.5 * np.trace(A.T @ mu.Cuu @ A @ mu.Cvv)
        assert np.isclose(
            gc.population_loss(mu, "cond", "inner", A=A),
            loss + mu.mutual_information(),
            rtol=EXAMPLE_RTOL,
            atol=0.0,
        )


def test_population_loss_value_metadata():
    mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], 1)
    value = gc.population_loss(mu, "cond", "inner", A=[[0.1]])
    assert isinstance(value, float) and value.stderr == 0.0 and value.method == "exact"
    with pytest.raises(gc.OptionError, match="encoders `G` and `H`"):
        gc.population_loss(mu, "cond", "cosine", A=[[0.1]])
