"""Encoders: every layer and model gradient-checked; convolution and pooling against direct
loops; model shapes, dtype and configuration."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd.test_util import check_grads

from gaussclip.errors import OptionError, ShapeError
from gaussclip.nn import lenet, linear, mlp, ops, transformer


def rev(f):
    return check_grads(f, modes=["rev"], order=1)


@pytest.mark.parametrize("pad", [0, 2])
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("block", [None, 1])
def test_conv2d_matches_direct_sum_and_gradient(pad, relu, block, monkeypatch):
    """Default blocks (one per output row here) and blocks of one output pixel."""
    if block is not None:
        monkeypatch.setattr(ops, "CONV_BLOCK_ELEMS", block)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 7, 6, 2))  # (C, H, W, B)
    W = rng.standard_normal((4, 3, 3, 2))  # (O, C, kh, kw)
    b = rng.standard_normal(4)
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    Ho, Wo = 7 + 2 * pad - 2, 6 + 2 * pad - 1
    direct = np.zeros((4, Ho, Wo, 2)) + b[:, None, None, None]
    for h in range(Ho):
        for w in range(Wo):
            window = xp[:, h : h + 3, w : w + 2, :]  # (C, kh, kw, B)
            direct[:, h, w, :] += np.einsum("cijn,ocij->on", window, W)
    if relu:
        direct = np.maximum(direct, 0)
    assert np.allclose(ops.conv2d(x, W, b, pad=pad, relu=relu), direct, atol=1e-12)
    rev(lambda x, W, b: anp.sum(anp.sin(ops.conv2d(x, W, b, pad=pad, relu=relu))))(x, W, b)


def test_max_pool_values_and_first_maximum_subgradient():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 6, 2))  # (C, H, W, B)
    out = ops.max_pool(x)
    for h in range(2):
        for w in range(3):
            window = x[:, 2 * h : 2 * h + 2, 2 * w : 2 * w + 2, :]
            assert np.array_equal(out[:, h, w], window.max(axis=(1, 2)))
    rev(lambda x: anp.sum(anp.sin(ops.max_pool(x))))(x)
    # a window of ties sends its gradient to the first maximum only
    from autograd import grad

    g = grad(lambda x: anp.sum(ops.max_pool(x)))(np.zeros((1, 2, 2, 1)))
    assert np.array_equal(g[0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]])
    g = grad(lambda x: anp.sum(ops.max_pool(x)))(np.array([[[[0.0], [1.0]], [[1.0], [0.0]]]]))
    assert np.array_equal(g[0, :, :, 0], [[0.0, 1.0], [0.0, 0.0]])


def test_dense_layer_norm_gelu_attention_gradients():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5))
    W, b = rng.standard_normal((5, 4)), rng.standard_normal(4)
    rev(lambda x, W, b: anp.sum(anp.sin(ops.dense(x, W, b, relu=True))))(x, W, b)
    g, beta = rng.standard_normal(5), rng.standard_normal(5)
    rev(lambda x, g, beta: anp.sum(anp.sin(ops.layer_norm(x, g, beta))))(x, g, beta)
    rev(lambda x: anp.sum(anp.sin(ops.gelu(x))))(x)
    rev(lambda x: anp.sum(anp.sin(ops.relu(x))))(x)
    for act in (False, True):
        rev(
            lambda x, g, beta, W, b, a=act: anp.sum(
                anp.sin(ops.layer_norm_dense(x, g, beta, W, b, gelu=a))
            )
        )(x, g, beta, W, b)
    q, k, v = (rng.standard_normal((2, 2, 5, 3)) for _ in range(3))
    for causal in (False, True):
        rev(lambda q, k, v, c=causal: anp.sum(anp.sin(ops.attention(q, k, v, c))))(q, k, v)


def test_ops_match_plain_formulas():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6))
    ln = ops.layer_norm(x, np.ones(6), np.zeros(6))
    ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + ops.LAYER_NORM_EPS)
    assert np.allclose(ln, ref)
    q, k, v = (rng.standard_normal((5, 3)) for _ in range(3))
    scores = q @ k.T / np.sqrt(3)
    scores[np.triu_indices(5, 1)] = -np.inf
    A = np.exp(scores - scores.max(1, keepdims=True))
    A /= A.sum(1, keepdims=True)
    assert np.allclose(ops.attention(q, k, v, causal=True), A @ v)
    assert np.allclose(ops.attention(q, k, v, causal=True)[0], v[0])  # token 0 sees itself


def test_linear_and_mlp_gradients():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 6))
    p = linear.init(rng, 6, 3, bias=True, dtype=np.float64)
    assert np.allclose(linear.apply(p, x), x @ p["W"].T + p["b"])
    rev(lambda p: anp.sum(anp.sin(linear.apply(p, x))))(p)
    p = mlp.init(rng, (6, 5, 4, 3), dtype=np.float64)
    rev(lambda p: anp.sum(anp.sin(mlp.apply(p, x))))(p)


def test_lenet_gradient_shapes_and_dtype():
    rng = np.random.default_rng(5)
    p = lenet.init(rng, dtype=np.float64)
    x = rng.standard_normal((2, 28, 28))
    rev(lambda p: anp.sum(anp.sin(lenet.apply(p, x))))(p)
    p32 = lenet.init(rng)
    out = lenet.apply(p32, x.astype(np.float32)[:, None])
    assert out.shape == (2, 10) and out.dtype == np.float32
    n_params = sum(a.size for layer in p.values() for a in layer.values())
    assert n_params == 61706  # LeNet-5 with 28x28 input (pad 2), 10 outputs
    with pytest.raises(ShapeError, match="28, 28"):
        lenet.apply(p, np.zeros((2, 32, 32)))


def small_transformer(rng, **shape):
    """A float64 transformer small enough for finite differences."""
    cfg = transformer.TransformerConfig(d_model=8, n_heads=2, **shape)
    return cfg, transformer.init(rng, cfg, dtype=np.float64)


def test_transformer_gradient_patches_and_configs():
    rng = np.random.default_rng(6)
    cfg, p = small_transformer(rng, seq_len=12, patch=3, n_blocks=2, d_mlp=16, n_out=5)
    x = rng.standard_normal((3, 12, 2))
    rev(lambda p: anp.sum(anp.sin(10 * transformer.apply(p, x, cfg))))(p)
    assert p["pos"].shape == (4, 8)  # 12 points in patches of 3
    # the pooled last token attends to the first patch, so changing it changes the output
    y = x.copy()
    y[:, 0] += 1.0
    assert not np.allclose(transformer.apply(p, x, cfg), transformer.apply(p, y, cfg))
    paper = transformer.TransformerConfig.paper()
    assert (paper.patch, paper.n_blocks, paper.n_tokens) == (1, 12, 1000)
    with pytest.raises(ShapeError, match="divide"):
        transformer.TransformerConfig(seq_len=10, patch=3)
    with pytest.raises(ShapeError, match="shape"):
        transformer.apply(p, np.zeros((3, 11, 2)), cfg)


def test_transformer_causal_prefix_property():
    # causal attention: token t's output depends on tokens <= t only, so a block applied to a
    # prefix reproduces the first rows of the block applied to the whole sequence
    rng = np.random.default_rng(7)
    _, p = small_transformer(rng, seq_len=6, patch=1, n_blocks=1, d_mlp=8, n_out=3)
    h = rng.standard_normal((2, 6, 8))
    full = transformer.block(p["blocks"][0], h, 2, True)
    prefix = transformer.block(p["blocks"][0], h[:, :4], 2, True)
    assert np.allclose(full[:, :4], prefix)


def test_transformer_mean_pooling_is_permutation_invariant_without_positions():
    # non-causal attention is permutation-equivariant over tokens, so with the position
    # embedding zeroed the mean of the tokens, hence the output, ignores their order; and the
    # gradient of the mean-pooled encoder checks
    rng = np.random.default_rng(8)
    cfg, p = small_transformer(
        rng, seq_len=5, patch=1, n_blocks=2, d_mlp=8, n_out=3, causal=False, pooling="mean"
    )
    x = rng.standard_normal((2, 5, 2))
    rev(lambda p: anp.sum(anp.sin(10 * transformer.apply(p, x, cfg))))(p)
    p["pos"] = np.zeros_like(p["pos"])
    order = rng.permutation(5)
    np.testing.assert_allclose(
        transformer.apply(p, x[:, order], cfg), transformer.apply(p, x, cfg), rtol=1e-12
    )
    last = transformer.TransformerConfig(**(cfg.to_dict() | {"pooling": "last"}))
    assert not np.allclose(transformer.apply(p, x[:, order], last), transformer.apply(p, x, last))
    with pytest.raises(OptionError, match="pooling"):
        transformer.TransformerConfig(pooling="max")
