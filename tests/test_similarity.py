"""Similarities: definitions (eqs. 2, 25, 26), invariances (Remark 2.5), dtype and errors."""

import numpy as np
import pytest
from autograd.test_util import check_grads

from gaussclip import similarity as sim
from gaussclip.errors import OptionError, ShapeError


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 3)), rng.standard_normal((4, 3))


def test_definitions_entrywise(batch):
    z_u, z_v = batch
    tau = 0.7
    for i in range(5):
        for j in range(4):
            a, b = z_u[i], z_v[j]
            cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b) / tau
            assert np.isclose(sim.cosine(z_u, z_v, tau)[i, j], cos)
            assert np.isclose(sim.inner(z_u, z_v, tau)[i, j], a @ b / tau)
            dist = -np.sum((a - b) ** 2) / (2 * tau)
            assert np.isclose(sim.neg_half_sq_distance(z_u, z_v, tau)[i, j], dist)


def test_cosine_invariant_to_scaling_and_joint_rotation(batch):
    z_u, z_v = batch
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((3, 3)))
    base = sim.cosine(z_u, z_v)
    assert np.allclose(sim.cosine(3.0 * z_u, 0.5 * z_v), base)
    assert np.allclose(sim.cosine(z_u @ q.T, z_v @ q.T), base)


@pytest.mark.parametrize("kind", sim.KINDS)
def test_paired_is_the_diagonal(kind):
    rng = np.random.default_rng(2)
    z_u, z_v = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    full = sim.matrix(z_u, z_v, kind, 0.3)
    assert np.allclose(sim.paired(z_u, z_v, kind, 0.3), np.diag(full))


@pytest.mark.parametrize("kind", sim.KINDS)
def test_gradients_and_float32(kind, batch):
    z_u, z_v = batch
    check_grads(lambda a, b: sim.matrix(a, b, kind, 0.5), modes=["rev"], order=1)(z_u, z_v)
    out = sim.matrix(z_u.astype(np.float32), z_v.astype(np.float32), kind)
    assert out.dtype == np.float32


def test_zero_embedding_gives_zero_cosine_not_nan():
    out = sim.cosine(np.zeros((1, 2)), np.ones((2, 2)))
    assert np.array_equal(out, np.zeros((1, 2)))


def test_bad_input_errors():
    with pytest.raises(ShapeError, match="same embedding dimension"):
        sim.inner(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(OptionError, match="`kind` must be one of 'cosine'"):
        sim.matrix(np.ones((2, 3)), np.ones((2, 3)), "dot")
