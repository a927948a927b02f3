"""The fused kernels of gaussclip.nn.ops against the unfused autograd compositions they replace
(values and gradients, float64), by finite differences, across tile and block boundaries, for
any thread count, and the streaming attention's memory."""

import tracemalloc

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from autograd.test_util import check_grads
from hypothesis import given
from hypothesis import strategies as st

from gaussclip.errors import ShapeError
from gaussclip.nn import ops

#: Fused and unfused float64 results differ only by the order of roundings: ~1e-15 relative
#: per operation over at most a few hundred operations.
FUSED_RTOL = 1e-10
FUSED_ATOL = 1e-12


@pytest.fixture
def small_tiles(monkeypatch):
    """Tiles and blocks of a few rows, so small inputs cross every boundary."""
    monkeypatch.setattr(ops, "_Q_TILE", 3)
    monkeypatch.setattr(ops, "_K_TILE", 4)
    monkeypatch.setattr(ops, "_CACHE_ELEMS", 16)
    monkeypatch.setattr(ops, "_ATTENTION_ELEMS", 64)


def plain_attention(q, k, v, causal):
    """softmax(q k^T / sqrt(d) + M) v written with autograd's generic primitives."""
    s = anp.matmul(q, anp.swapaxes(k, -1, -2)) / np.sqrt(q.shape[-1])
    if causal:
        s = s + np.triu(np.full(s.shape[-2:], -np.inf), 1)
    s = s - anp.max(s, axis=-1, keepdims=True)
    w = anp.exp(s)
    return anp.matmul(w / anp.sum(w, axis=-1, keepdims=True), v)


def split_heads(x, n_heads):
    B, T, d = x.shape
    return anp.transpose(anp.reshape(x, (B, T, n_heads, d // n_heads)), (0, 2, 1, 3))


def plain_multi_head(q, k, v, n_heads, causal):
    out = plain_attention(*(split_heads(a, n_heads) for a in (q, k, v)), causal)
    B, _, T, _ = out.shape
    return anp.reshape(anp.transpose(out, (0, 2, 1, 3)), (B, T, -1))


def same_values_and_gradients(fused, plain, args):
    weights = np.random.default_rng(99).standard_normal(np.shape(plain(*args)))

    def loss(f):
        return lambda *a: anp.sum(weights * f(*a))

    assert np.allclose(fused(*args), plain(*args), rtol=FUSED_RTOL, atol=FUSED_ATOL)
    for i in range(len(args)):
        g_fused = grad(loss(fused), i)(*args)
        g_plain = grad(loss(plain), i)(*args)
        assert np.allclose(g_fused, g_plain, rtol=FUSED_RTOL, atol=FUSED_ATOL), f"argument {i}"


#: The two attention paths: "streamed" recomputes the weights in the backward pass (the budget
#: for keeping them set to zero), "kept" keeps them (the key tile covers every test sequence).
ATTENTION_PATHS = ("streamed", "kept")


def _use_path(mp, path):
    if path == "streamed":
        mp.setattr(ops, "ATTENTION_WEIGHTS_BYTES", 0)
    else:
        mp.setattr(ops, "_K_TILE", 64)


@pytest.fixture(params=ATTENTION_PATHS)
def attention_path(request, monkeypatch, small_tiles):
    """Small tiles, and each of the two attention paths."""
    _use_path(monkeypatch, request.param)
    return request.param


@given(
    path=st.sampled_from(ATTENTION_PATHS),
    B=st.integers(1, 3),
    T=st.integers(1, 11),
    extra_keys=st.integers(0, 6),
    n_heads=st.integers(1, 3),
    dh=st.integers(1, 4),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_streaming_attention_matches_plain_softmax(
    path, B, T, extra_keys, n_heads, dh, causal, seed
):
    Tk = T if causal else T + extra_keys
    rng = np.random.default_rng(seed)
    q = 2 * rng.standard_normal((B, T, n_heads * dh))
    k, v = (2 * rng.standard_normal((B, Tk, n_heads * dh)) for _ in range(2))
    with pytest.MonkeyPatch.context() as mp:  # tiles of a few tokens: several per sequence
        mp.setattr(ops, "_Q_TILE", 3)
        mp.setattr(ops, "_K_TILE", 4)
        mp.setattr(ops, "_ATTENTION_ELEMS", 64)
        _use_path(mp, path)
        same_values_and_gradients(
            lambda q, k, v: ops.multi_head_attention(q, k, v, n_heads, causal),
            lambda q, k, v: plain_multi_head(q, k, v, n_heads, causal),
            (q, k, v),
        )


@pytest.mark.parametrize("causal", [False, True])
def test_packed_self_attention_is_attention_of_the_three_parts(attention_path, causal):
    rng = np.random.default_rng(1)
    qkv = rng.standard_normal((2, 9, 12))
    same_values_and_gradients(
        lambda x: ops.self_attention(x, 2, causal),
        lambda x: plain_multi_head(x[..., :4], x[..., 4:8], x[..., 8:], 2, causal),
        (qkv,),
    )
    check_grads(lambda x: ops.self_attention(x, 2, causal), modes=["rev"], order=1)(qkv)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_finite_differences_across_tiles(attention_path, causal):
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 3, 10, 2)) for _ in range(3))
    check_grads(lambda q, k, v: ops.attention(q, k, v, causal), modes=["rev"], order=1)(q, k, v)


def test_rows_beyond_the_fixed_shift_fall_back_to_the_exact_maximum(attention_path):
    # large, nearly orthogonal queries and keys: |q||k|/sqrt(d) is ~400 above every score, so
    # exp(S - U) underflows and those rows are recomputed with their exact maximum
    rng = np.random.default_rng(3)
    q = np.zeros((1, 6, 2))
    q[..., 0] = 300.0
    k = np.zeros((1, 6, 2))
    k[..., 1] = 300.0
    k[..., 0] = rng.standard_normal(6)
    v = rng.standard_normal((1, 6, 2))
    for causal in (False, True):
        same_values_and_gradients(
            lambda q, k, v, c=causal: ops.attention(q, k, v, c),
            lambda q, k, v, c=causal: plain_attention(q, k, v, c),
            (q, k, v),
        )


#: float32 results of the two attention paths differ by the order of roundings: a few ulps of
#: outputs and gradients of size ~1 (here within 3e-6 in practice; 2e-5 leaves headroom).
PATHS_F32_ATOL = 2e-5


def test_kept_and_streamed_attention_agree_at_the_default_tiles(monkeypatch):
    """The bench's shape (4 heads of 16, causal, float32) with the module's own tiles: the path
    that keeps the weights and the one that recomputes them give the same values and gradients
    to float32 rounding, and the path is chosen by the token count and the byte budget."""
    rng = np.random.default_rng(7)
    qkv = rng.standard_normal((3, 100, 192)).astype(np.float32)
    weights = rng.standard_normal((3, 100, 64)).astype(np.float32)
    loss = lambda x: anp.sum(weights * ops.self_attention(x, 4, causal=True))  # noqa: E731
    heads = qkv.reshape(3, 100, 3, 4, 16)[:, :, 0]
    assert ops._Plan(heads, heads, True).keep_weights
    kept = ops.self_attention(qkv, 4, causal=True), grad(loss)(qkv)
    monkeypatch.setattr(ops, "ATTENTION_WEIGHTS_BYTES", 0)
    assert not ops._Plan(heads, heads, True).keep_weights
    streamed = ops.self_attention(qkv, 4, causal=True), grad(loss)(qkv)
    for a, b in zip(kept, streamed, strict=True):
        assert a.dtype == np.float32
        assert np.allclose(a, b, rtol=0, atol=PATHS_F32_ATOL)
    # past one key tile the weights are never kept, whatever the budget
    long = rng.standard_normal((1, ops._K_TILE + 1, 4, 16)).astype(np.float32)
    monkeypatch.setattr(ops, "ATTENTION_WEIGHTS_BYTES", 1 << 40)
    assert not ops._Plan(long, long, True).keep_weights


def test_kept_weights_of_the_bench_transformer_fit_the_budget():
    """The 100-token bench row (batch 512, 4 heads of 16, causal) keeps its weights: 104 MB, within
    ATTENTION_WEIGHTS_BYTES (the number in the budget's comment)."""
    heads = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (512, 100, 4, 16), (0,) * 4)
    plan = ops._Plan(heads, heads, True)
    assert plan.keep_weights and round(plan.kept_bytes / 1e6) == 104
    # the numbers the docstrings give: 256 keys per key tile, a budget of 128 MiB
    assert (ops._K_TILE, ops.ATTENTION_WEIGHTS_BYTES) == (256, 128 * 2**20)


@pytest.mark.parametrize("dh", [1, 3, 16])
def test_row_copies_equal_plain_assignment(dh):
    """The heads' copies move whole rows as opaque elements; the numbers are those of a plain
    assignment, into a wider buffer, from a strided view, and when the rows are not contiguous."""
    rng = np.random.default_rng(8)
    packed = rng.standard_normal((2, 5, 3, 4, dh)).astype(np.float32)
    src = ops._heads(packed[:, :, 1])
    for dst in (np.zeros((2, 4, 5, dh + 1), np.float32)[..., :dh], np.zeros(src.shape, np.float32)):
        ops._copy_rows(dst, src)
        assert np.array_equal(dst, src)
    strided = np.zeros((2, 4, 5, 2 * dh), np.float32)[..., ::2]
    ops._copy_rows(strided, src)
    assert np.array_equal(strided, src)


def test_layer_norm_and_gelu_match_plain_formulas(small_tiles):
    rng = np.random.default_rng(4)
    x = 3 * rng.standard_normal((4, 5, 7))
    gamma, beta = rng.standard_normal(7), rng.standard_normal(7)

    def plain_layer_norm(x, gamma, beta):
        c = x - anp.mean(x, axis=-1, keepdims=True)
        var = anp.mean(c * c, axis=-1, keepdims=True)
        return gamma * c / anp.sqrt(var + ops.LAYER_NORM_EPS) + beta

    def plain_gelu(x):
        return 0.5 * x * (1 + anp.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))

    same_values_and_gradients(ops.layer_norm, plain_layer_norm, (x, gamma, beta))
    same_values_and_gradients(ops.gelu, plain_gelu, (x,))
    # a scalar scale and shift get scalar gradients
    same_values_and_gradients(ops.layer_norm, plain_layer_norm, (x, 1.5, -0.5))
    W, b = 0.2 * rng.standard_normal((7, 6)), rng.standard_normal(6)  # |xW + b| of a few units
    # layer norm + dense (+ GELU) in one primitive, with the scale and shift folded into W
    for act in (False, True):
        same_values_and_gradients(
            lambda x, g, be, W, b, a=act: ops.layer_norm_dense(x, g, be, W, b, gelu=a),
            lambda x, g, be, W, b, a=act: (plain_gelu if a else lambda y: y)(
                anp.dot(plain_layer_norm(x, g, be), W) + b
            ),
            (x, gamma, beta, W, b),
        )
    same_values_and_gradients(  # scalar scale and shift, with scalar gradients
        ops.layer_norm_dense,
        lambda x, g, be, W, b: anp.dot(plain_layer_norm(x, g, be), W) + b,
        (x, 1.5, -0.5, W, b),
    )


def _with_threads(monkeypatch, n, fn, *args):
    monkeypatch.setenv("GAUSSCLIP_NUM_THREADS", str(n))
    return fn(*args)


def test_block_kernels_do_not_depend_on_the_thread_count(monkeypatch, attention_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 9, 12)).astype(np.float32)

    def run(x):
        loss = lambda x: anp.sum(ops.gelu(ops.layer_norm(ops.self_attention(x, 2, True), 1.0, 0.0)))  # noqa: E731
        return loss(x), grad(loss)(x)

    one, two = (_with_threads(monkeypatch, n, run, x) for n in (1, 2))
    assert one[0] == two[0] and np.array_equal(one[1], two[1])


def test_pool_runs_every_slice_once(monkeypatch):
    """The calling thread and the pool's helpers take the slices one at a time; every slice is
    run exactly once, whatever the thread count."""
    for threads in (1, 2, 3):
        monkeypatch.setenv("GAUSSCLIP_NUM_THREADS", str(threads))
        for n in (1, 5, 100):
            seen = []
            ops._run(seen.append, range(n))
            assert sorted(seen) == list(range(n))


def test_pool_runs_nested_calls_in_the_calling_thread(monkeypatch):
    """A kernel called from a slice running in a helper runs its own slices there (no wait on
    the busy pool), and an error in a slice reaches the caller."""
    monkeypatch.setenv("GAUSSCLIP_NUM_THREADS", "2")
    seen = []
    ops._run(lambda i: ops._run(lambda j: seen.append((i, j)), range(3)), range(4))
    assert sorted(seen) == [(i, j) for i in range(4) for j in range(3)]

    def fail(i):
        if i == 2:
            raise ValueError("slice 2")

    with pytest.raises(ValueError, match="slice 2"):
        ops._run(fail, range(4))


def test_dense_does_not_depend_on_the_thread_count(monkeypatch, small_tiles):
    """The dense products (and layer norm + dense + GELU, by blocks of rows) are cut by the shape
    alone, so one and two threads give the same numbers bit for bit (forward and the gradients),
    on a cut and an uncut size."""
    rng = np.random.default_rng(6)
    b = rng.standard_normal(24).astype(np.float32)

    def run(x, W):
        loss = lambda x, W: anp.sum(anp.sin(ops.dense(x, W, b, relu=True)))  # noqa: E731
        gamma, beta = x[0] + 1, x[1]
        loss_ln = lambda x, g, be, W: anp.sum(  # noqa: E731
            anp.sin(ops.layer_norm_dense(x, g, be, W, b, gelu=True))
        )
        return [
            ops.dense(x, W, b),
            *grad(loss, (0, 1))(x, W),
            ops.layer_norm_dense(x, gamma, beta, W, b),
            *grad(loss_ln, (0, 1, 2, 3))(x, gamma, beta, W),
        ]

    for rows in (40, 300):
        x = rng.standard_normal((rows, 40)).astype(np.float32)
        W = rng.standard_normal((40, 24)).astype(np.float32)
        one, two = (_with_threads(monkeypatch, n, run, x, W) for n in (1, 2))
        for a, c in zip(one, two, strict=True):
            assert np.array_equal(a, c)


def test_conv_and_pool_do_not_depend_on_the_thread_count(monkeypatch):
    """Convolution (blocks of one pixel, rows in the pool, kernel gradients summed per row) and
    max pooling give the same numbers bit for bit with one and two threads."""
    monkeypatch.setattr(ops, "CONV_BLOCK_ELEMS", 1)
    monkeypatch.setattr(ops, "_CACHE_ELEMS", 16)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 10, 10, 5)).astype(np.float32)
    W = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)

    def run(x, W):
        loss = lambda x, W: anp.sum(anp.sin(ops.max_pool(ops.conv2d(x, W, b, pad=1, relu=True))))  # noqa: E731
        return [ops.conv2d(x, W, b, pad=1), *grad(loss, (0, 1))(x, W)]

    one, two = (_with_threads(monkeypatch, n, run, x, W) for n in (1, 2))
    for a, c in zip(one, two, strict=True):
        assert np.array_equal(a, c)


def test_lenet_step_does_not_depend_on_the_thread_count(monkeypatch):
    """A LeNet-5 loss and its gradients at the default blocks, bit for bit with 1 and 2 threads."""
    from gaussclip.nn import lenet

    rng = np.random.default_rng(8)
    params = lenet.init(rng)
    x = rng.random((24, 28, 28), dtype=np.float32)

    def run(params):
        loss = lambda p: anp.sum(anp.sin(lenet.apply(p, x)))  # noqa: E731
        return [loss(params), *(g for layer in grad(loss)(params).values() for g in layer.values())]

    one, two = (_with_threads(monkeypatch, n, run, params) for n in (1, 2))
    for a, c in zip(one, two, strict=True):
        assert np.array_equal(a, c)


def test_attention_shape_errors_name_the_argument():
    with pytest.raises(ShapeError, match="qkv"):
        ops.self_attention(np.zeros((2, 5, 7)), 2)
    with pytest.raises(ShapeError, match="n_heads"):
        ops.multi_head_attention(*(np.zeros((2, 5, 6)) for _ in range(3)), 4)
    with pytest.raises(ShapeError, match="q"):
        ops.multi_head_attention(*(np.zeros((5, 6)) for _ in range(3)), 2)
    with pytest.raises(ShapeError, match="same leading"):
        ops.attention(np.zeros((2, 5, 4)), np.zeros((3, 5, 4)), np.zeros((3, 5, 4)))


#: Full attention weights of the test below: batch x heads x 1000 x 1000 float32 = 16 MB.
FULL_WEIGHTS_BYTES = 2 * 2 * 1000 * 1000 * 4


def test_streaming_attention_memory_does_not_grow_with_tokens_squared():
    rng = np.random.default_rng(6)
    qkv = rng.standard_normal((2, 1000, 3 * 2 * 8)).astype(np.float32)  # 2 heads of width 8
    loss = lambda x: anp.sum(ops.self_attention(x, 2, causal=True))  # noqa: E731
    loss(qkv)
    tracemalloc.start()
    try:
        grad(loss)(qkv)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # inputs, outputs and gradients are 2 x 1000 x 48 floats (~0.4 MB each); the tiles of
    # scores are at most _ATTENTION_ELEMS numbers
    assert peak < FULL_WEIGHTS_BYTES / 4, f"peak {peak / 1e6:.1f} MB"


def test_float32_transformer_step_stays_float32(monkeypatch):
    """No float64 scalar or array upcasts the float32 graph: every primitive the transformer calls
    gets and returns float32 arrays, and every gradient is float32 (benchmarks/README.md)."""
    from autograd.tracer import getval

    from gaussclip.nn import transformer

    seen = set()
    for name in ("dense", "layer_norm_dense", "layer_norm", "self_attention"):
        inner = getattr(transformer, name)

        def spy(*args, _inner=inner, _name=name, **kwargs):
            out = _inner(*args, **kwargs)
            arrays = [getval(a) for a in (out, *args) if hasattr(getval(a), "dtype")]
            seen.update((_name, str(a.dtype)) for a in arrays)
            return out

        monkeypatch.setattr(transformer, name, spy)
    config = transformer.TransformerConfig(
        n_in=2, seq_len=12, patch=1, d_model=16, n_heads=2, n_blocks=2, d_mlp=32, n_out=3
    )
    rng = np.random.default_rng(0)
    params = transformer.init(rng, config)
    x = rng.standard_normal((4, 12, 2)).astype(np.float32)
    grads = grad(lambda p: anp.sum(transformer.apply(p, x, config) ** 2))(params)

    def leaves(tree):
        if isinstance(tree, dict):
            return [leaf for value in tree.values() for leaf in leaves(value)]
        if isinstance(tree, (list, tuple)):
            return [leaf for value in tree for leaf in leaves(value)]
        return [tree]

    assert {dtype for _, dtype in seen} == {"float32"}
    assert {name for name, _ in seen} == {
        "dense",
        "layer_norm_dense",
        "layer_norm",
        "self_attention",
    }
    assert {leaf.dtype for leaf in leaves(grads)} == {np.dtype(np.float32)}
