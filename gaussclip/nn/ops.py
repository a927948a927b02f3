r"""The heavy layers as autograd primitives with hand-written VJPs.

autograd records one node per NumPy call and, for the generic rules, keeps intermediates that a
fused rule does not need. The layers below are single primitives whose backward passes reuse
what the forward computed. The pattern is "plain state as a constant argument": a thin wrapper
computes the state (im2col columns, softmax weights, normalized activations) from the unboxed
inputs with plain NumPy and hands it to the primitive as an extra argument, which autograd
treats as a constant, so the VJP can use it without recomputing it. Every rule is checked
against finite differences in ``tests/test_nn.py``.

Images are stored channels first and batch last, (channels, height, width, batch), the
layout that makes im2col rows long contiguous copies (see :func:`conv2d`); sequences are
(batch, tokens, features). All functions keep the dtype of their inputs.
"""

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from autograd.extend import defvjp, defvjp_argnums, primitive
from autograd.tracer import getval

from ..errors import ShapeError

# --- block-parallel kernels -----------------------------------------------------------------
# NumPy's element-wise loops run on one core and, on (batch, tokens, width) activations, stream
# tens of megabytes per pass. The kernels below split the batch axis into blocks and run each
# block's whole chain of operations in a thread (NumPy releases the GIL inside its loops and
# matrix products). No value is reduced across blocks, so results do not depend on the number
# of threads or their scheduling: runs stay bit-for-bit reproducible.
_POOL = {"threads": None, "executor": None}


def num_threads():
    """Threads used by the block-parallel kernels: ``GAUSSCLIP_NUM_THREADS``, else
    ``OMP_NUM_THREADS``, else the number of CPUs."""
    for var in ("GAUSSCLIP_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def _blocks(fn, n, min_rows=8):
    """Call ``fn(slice)`` on slices covering ``range(n)``, in parallel threads."""
    threads = num_threads()
    if threads == 1 or n < 2 * min_rows:
        fn(slice(0, n))
        return
    if _POOL["threads"] != threads:
        _POOL["executor"] = ThreadPoolExecutor(max_workers=threads)
        _POOL["threads"] = threads
    n_blocks = min(4 * threads, n // min_rows)
    edges = np.linspace(0, n, n_blocks + 1).astype(int)
    slices = [slice(a, b) for a, b in itertools.pairwise(edges)]
    for future in [_POOL["executor"].submit(fn, sl) for sl in slices]:
        future.result()


def _flat2(x):
    return x.reshape(-1, x.shape[-1])


# --- dense ----------------------------------------------------------------------------------
@primitive
def _dense(x, W, b, relu):
    y = _flat2(x) @ W
    y += b
    if relu:
        np.maximum(y, 0, out=y)
    return y.reshape((*x.shape[:-1], W.shape[1]))


def _dense_vjps(argnums, ans, args, kwargs):
    x, W, _b, relu = args

    def vjp(g):
        g2 = _flat2(g)
        if relu:
            g2 = g2 * (_flat2(ans) > 0)
        out = []
        for argnum in argnums:
            if argnum == 0:
                out.append((g2 @ W.T).reshape(x.shape))
            elif argnum == 1:
                out.append(_flat2(x).T @ g2)
            else:
                out.append(g2.sum(axis=0))
        return out

    return vjp


defvjp_argnums(_dense, _dense_vjps)


def dense(x, W, b, relu=False):
    r"""Affine map :math:`xW + b` on the last axis, optionally followed by ReLU.

    Parameters
    ----------
    x : (..., n_in) array
    W : (n_in, n_out) array
    b : (n_out,) array
    relu : bool
        Apply :math:`\max(\cdot, 0)`; its VJP passes the gradient where the output is positive.

    Returns
    -------
    (..., n_out) array
    """
    return _dense(x, W, b, relu)


@primitive
def relu(x):
    r""":math:`\max(x, 0)`, with VJP :math:`g\,[x > 0]` (the subgradient 0 at 0)."""
    return np.maximum(x, 0)


defvjp(relu, lambda ans, x: lambda g: g * (ans > 0))


# --- convolution via im2col -----------------------------------------------------------------
# Images are stored channels first and batch last, (C, H, W, B): then each row of the im2col
# matrix, one (channel, kernel offset) pair, is a copy of a shifted (Ho, Wo, B) block made of
# contiguous runs of Wo * B numbers, the convolution is one long product
# (O, C kh kw) @ (C kh kw, Ho Wo B) whose result is already the next layer's (O, Ho, Wo, B)
# input, and the scatter-add of the backward pass runs over the same long runs.
def _im2col(x, kh, kw, pad):
    """Rows (C*kh*kw, Ho*Wo*B) of a (C, H, W, B) batch, one row per channel and offset."""
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    C, H, W, B = x.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    cols = np.empty((C, kh, kw, Ho, Wo, B), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = x[:, i : i + Ho, j : j + Wo, :]
    return cols.reshape(C * kh * kw, Ho * Wo * B), (Ho, Wo, B)


@primitive
def _conv(x, W, b, cols, out_shape, pad, relu):
    y = W.reshape(W.shape[0], -1) @ cols
    y += b[:, None]
    if relu:
        np.maximum(y, 0, out=y)
    return y.reshape((W.shape[0], *out_shape))


def _conv_vjps(argnums, ans, args, kwargs):
    x, W, _b, cols, out_shape, pad, relu = args
    n_out, C, kh, kw = W.shape
    Ho, Wo, B = out_shape

    def vjp(g):
        g2 = g.reshape(n_out, -1)
        if relu:
            g2 = g2 * (ans.reshape(n_out, -1) > 0)
        out = []
        for argnum in argnums:
            if argnum == 0:
                # col2im: scatter-add each (channel, offset) row back onto the padded input
                dcols = (W.reshape(n_out, -1).T @ g2).reshape(C, kh, kw, Ho, Wo, B)
                H, Wd = x.shape[1] + 2 * pad, x.shape[2] + 2 * pad
                dx = np.zeros((C, H, Wd, B), dtype=x.dtype)
                for i in range(kh):
                    for j in range(kw):
                        dx[:, i : i + Ho, j : j + Wo, :] += dcols[:, i, j]
                out.append(dx[:, pad : H - pad, pad : Wd - pad, :] if pad else dx)
            elif argnum == 1:
                out.append((g2 @ cols.T).reshape(W.shape))
            else:
                out.append(g2.sum(axis=1))
        return out

    return vjp


defvjp_argnums(_conv, _conv_vjps)


def conv2d(x, W, b, pad=0, relu=False):
    r"""2-D convolution (cross-correlation, stride 1) of a channels-first, batch-last batch.

    .. math:: y_{o,h,w,n} = b_o + \sum_{c,i,j} W_{o,c,i,j}\,x_{c,h+i,w+j,n}

    computed as one matrix product of the kernel with the im2col rows.

    Parameters
    ----------
    x : (C, H, W, B) array
        Channels first, batch last (see the note above :func:`_im2col`).
    W : (O, C, kh, kw) array
        The PyTorch layout of a convolution kernel.
    b : (O,) array
    pad : int
        Zero padding on each side of both spatial axes.
    relu : bool
        Apply ReLU to the output.

    Returns
    -------
    (O, H + 2 pad - kh + 1, W + 2 pad - kw + 1, B) array
    """
    if np.ndim(x) != 4 or np.shape(x)[0] != np.shape(W)[1]:
        raise ShapeError(
            f"`x` must be (C, H, W, B) with C = {np.shape(W)[1]} input channels; got shape "
            f"{np.shape(x)}."
        )
    _, _, kh, kw = np.shape(W)
    cols, out_shape = _im2col(getval(x), kh, kw, pad)
    return _conv(x, W, b, cols, out_shape, pad, relu)


# --- max pooling ----------------------------------------------------------------------------
def _offsets(x, k):
    """The k*k strided views x[:, a::k, b::k] of axes 1 and 2, row-major."""
    return [x[:, a::k, b::k] for a in range(k) for b in range(k)]


@primitive
def _max_pool(x, k):
    views = _offsets(x, k)
    out = views[0].copy()
    for view in views[1:]:
        np.maximum(out, view, out=out)
    return out


def _max_pool_vjp(ans, x, k):
    def vjp(g):
        dx = np.zeros_like(x)
        taken = np.zeros(ans.shape, dtype=bool)
        for (a, b), view in zip(
            [(a, b) for a in range(k) for b in range(k)], _offsets(x, k), strict=True
        ):
            first = (view == ans) & ~taken  # the first maximum in row-major order
            taken |= first
            dx[:, a::k, b::k] = g * first
        return dx

    return vjp


defvjp(_max_pool, _max_pool_vjp)


def max_pool(x, k=2):
    r"""Non-overlapping k x k max pooling over axes 1 and 2 (H, W of a (C, H, W, B) batch).

    The VJP sends each output's gradient to one input: the first maximum of its window in
    row-major order (a valid subgradient when there are ties).

    Parameters
    ----------
    x : (C, H, W, ...) array with H and W divisible by k

    Returns
    -------
    (C, H/k, W/k, ...) array
    """
    H, W = np.shape(x)[1:3]
    if H % k or W % k:
        raise ShapeError(f"max_pool needs H and W divisible by k={k}; got shape {np.shape(x)}.")
    return _max_pool(x, k)


# --- layer norm -----------------------------------------------------------------------------
#: Added to the variance in layer norm (the PyTorch default), so constant rows stay finite.
LAYER_NORM_EPS = 1e-5


@primitive
def _layer_norm(x, gamma, beta, xhat, rstd):
    return xhat * gamma + beta


def _layer_norm_vjps(argnums, ans, args, kwargs):
    _x, gamma, _beta, xhat, rstd = args

    def vjp(g):
        out = []
        for argnum in argnums:
            if argnum == 0:
                dxhat = g * gamma
                mean_d = dxhat.mean(axis=-1, keepdims=True)
                mean_dx = (dxhat * xhat).mean(axis=-1, keepdims=True)
                out.append(rstd * (dxhat - mean_d - xhat * mean_dx))
            elif argnum == 1:
                out.append(_flat2(g * xhat).sum(axis=0))
            else:
                out.append(_flat2(g).sum(axis=0))
        return out

    return vjp


defvjp_argnums(_layer_norm, _layer_norm_vjps)


def layer_norm(x, gamma, beta):
    r"""Layer normalization over the last axis:
    :math:`\gamma\odot(x - \bar x)/\sqrt{\mathrm{var}(x) + \epsilon} + \beta`."""
    xv = getval(x)
    centred = xv - xv.mean(axis=-1, keepdims=True)
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + LAYER_NORM_EPS)
    return _layer_norm(x, gamma, beta, centred * rstd, rstd)


# --- GELU -----------------------------------------------------------------------------------
_GELU_C = float(np.sqrt(2.0 / np.pi))
_GELU_A = 0.044715


def _rows(x):
    return x.reshape(x.shape[0], -1)


@primitive
def _gelu(x, s):
    return x * s


def _gelu_vjp(ans, x, s):
    def vjp(g):
        # with s = sigmoid(2z), z = c(x + a x^3):  d/dx = s + 2 x s (1 - s) c (1 + 3 a x^2)
        out = np.empty_like(x)
        x2, s2, g2, o2 = _rows(x), _rows(s), _rows(g), _rows(out)

        def block(sl):
            xb, sb = x2[sl], s2[sl]
            d = xb * xb
            d *= 3.0 * _GELU_A
            d += 1.0
            d *= 2.0 * _GELU_C
            d *= xb
            d *= sb
            d *= 1.0 - sb
            d += sb
            np.multiply(d, g2[sl], out=o2[sl])

        _blocks(block, x2.shape[0])
        return out

    return vjp


defvjp(_gelu, _gelu_vjp)


def gelu(x):
    r"""GELU, tanh form: :math:`\tfrac12 x(1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))`,
    evaluated as :math:`x\,\mathrm{sigmoid}(2z)` (the same function; ``exp`` is faster than
    ``tanh`` in NumPy)."""
    xv = getval(x)
    s = np.empty_like(xv)
    x2, s2 = _rows(xv), _rows(s)

    def block(sl):
        xb = x2[sl]
        z = xb * xb
        z *= _GELU_A
        z += 1.0
        z *= xb
        z *= -2.0 * _GELU_C
        with np.errstate(over="ignore"):  # exp(+large) = inf gives sigmoid 0, as it should
            np.exp(z, out=z)
        z += 1.0
        np.reciprocal(z, out=s2[sl])

    _blocks(block, x2.shape[0])
    return _gelu(x, s)


# --- attention ------------------------------------------------------------------------------
@primitive
def _attend(q, k, v, weights, out, scale):
    return out


def _attend_vjps(argnums, ans, args, kwargs):
    q, k, v, A, _out, scale = args

    def vjp(g):
        grads = {a: np.empty_like(x) for a, x in zip((0, 1, 2), (q, k, v), strict=True)}

        def block(sl):
            gb, Ab = g[sl], A[sl]
            if 0 in argnums or 1 in argnums:
                # softmax VJP: dS = A * (dA - rowsum(dA * A)) with dA = g v^T, and
                # rowsum(dA * A) = <g, A v> = <g, out> per query (no pass over the T x T weights)
                dS = gb @ v[sl].swapaxes(-1, -2)
                dS -= np.sum(gb * ans[sl], axis=-1, keepdims=True)
                dS *= Ab
                dS *= scale
                if 0 in argnums:
                    np.matmul(dS, k[sl], out=grads[0][sl])
                if 1 in argnums:
                    np.matmul(dS.swapaxes(-1, -2), q[sl], out=grads[1][sl])
            if 2 in argnums:
                np.matmul(Ab.swapaxes(-1, -2), gb, out=grads[2][sl])

        _blocks(block, g.shape[0], min_rows=2)
        return [grads[a] for a in argnums]

    return vjp


defvjp_argnums(_attend, _attend_vjps)


def _causal_bias(T, dtype):
    bias = np.zeros((T, T), dtype=dtype)
    bias[np.triu_indices(T, 1)] = -np.inf
    return bias


def attention(q, k, v, causal=False):
    r"""Scaled dot-product attention :math:`\mathrm{softmax}(QK^\top/\sqrt{d} + M)V`.

    Parameters
    ----------
    q, k, v : (B, ..., T, d) or (T, d) arrays
    causal : bool
        Mask :math:`M` with :math:`-\infty` above the diagonal: token t attends to tokens
        :math:`\le t` only.

    Returns
    -------
    array of the shape of ``q``
    """
    if np.ndim(q) == 2:  # a single sequence: give it a batch axis to split over
        return attention(q[None], k[None], v[None], causal)[0]
    qv, kv, vv = getval(q), getval(k), getval(v)
    scale = float(1.0 / np.sqrt(qv.shape[-1]))
    T = qv.shape[-2]
    weights = np.empty((*qv.shape[:-1], kv.shape[-2]), dtype=qv.dtype)
    out = np.empty(qv.shape, dtype=qv.dtype)
    bias = _causal_bias(T, qv.dtype) if causal else None

    def block(sl):
        scores = weights[sl]
        np.matmul(qv[sl] * scale, kv[sl].swapaxes(-1, -2), out=scores)
        if bias is not None:
            scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores *= 1.0 / scores.sum(axis=-1, keepdims=True)
        np.matmul(scores, vv[sl], out=out[sl])

    _blocks(block, qv.shape[0], min_rows=2)
    return _attend(q, k, v, weights, out, scale)
