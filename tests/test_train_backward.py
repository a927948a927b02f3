"""The per-leaf backward pass (gaussclip.train.backward) against autograd.value_and_grad.

backward.py uses autograd internals (VJPNode, add_outgrads, the tracer); these tests pin its
results to autograd's public API so an autograd upgrade that changes them fails here."""

import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad
from hypothesis import given
from hypothesis import strategies as st

from gaussclip import losses
from gaussclip import similarity as sim
from gaussclip.nn import lenet, mlp
from gaussclip.train import leaf_value_and_grad, tree_leaves, tree_unflatten

#: Both routes run the same float64 VJPs; only the order of summing a leaf's gradient
#: contributions may differ, a few ulps.
GRAD_RTOL = 1e-12
GRAD_ATOL = 1e-14


def _compare(objective, params, *batch):
    value, grads = value_and_grad(objective)(params, *batch)
    leaves = [a for _, a in tree_leaves(params)]
    value2, grads2 = leaf_value_and_grad(objective, params)(leaves, *batch)
    assert value == value2
    for (_, a), b in zip(tree_leaves(grads), grads2, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=GRAD_RTOL, atol=GRAD_ATOL)
    return grads2


@given(seed=st.integers(0, 2**16), temperature=st.floats(0.05, 5.0))
def test_mlp_contrastive_gradients_equal_value_and_grad(seed, temperature):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 5))
    y = rng.standard_normal((6, 3))
    params = {
        "net": mlp.init(np.random.default_rng(seed), (5, 8, 3), dtype=np.float64),
        "unused": np.ones(2),
    }

    def objective(p, xb, yb):
        return losses.cond_loss(sim.inner(mlp.apply(p["net"], xb), yb, temperature), (1.0, 0.5))

    grads = _compare(objective, params, x, y)
    assert np.array_equal(tree_unflatten(params, grads)["unused"], np.zeros(2))


def test_lenet_gradients_equal_value_and_grad():
    rng = np.random.default_rng(0)
    images = rng.random((4, 28, 28))
    targets = np.eye(10)[[0, 3, 3, 7]]
    params = lenet.init(np.random.default_rng(1), dtype=np.float64)

    def objective(p, xb, yb):
        return losses.cond_loss(anp.dot(lenet.apply(p, xb), yb.T))

    _compare(objective, params, images, targets)


def test_constant_objective_gives_zero_gradients():
    params = {"w": np.ones(3)}
    value, grads = leaf_value_and_grad(lambda p, x: anp.sum(x), params)([np.ones(3)], np.ones(2))
    assert value == 2.0 and np.array_equal(grads[0], np.zeros(3))
