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

import numpy as np
from autograd.extend import defvjp, defvjp_argnums, primitive
from autograd.tracer import getval

from ..errors import ShapeError


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


@primitive
def _gelu(x, t):
    return 0.5 * x * (1.0 + t)


def _gelu_vjp(ans, x, t):
    def vjp(g):
        dinner = _GELU_C * (1.0 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner)

    return vjp


defvjp(_gelu, _gelu_vjp)


def gelu(x):
    r"""GELU, tanh form: :math:`\tfrac12 x(1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))`."""
    xv = getval(x)
    t = np.tanh(_GELU_C * (xv + 0.044715 * xv * xv * xv))
    return _gelu(x, t)


# --- attention ------------------------------------------------------------------------------
@primitive
def _attend(q, k, v, weights, scale):
    return weights @ v


def _attend_vjps(argnums, ans, args, kwargs):
    q, k, v, A, scale = args

    def vjp(g):
        out = [None] * len(argnums)
        need_scores = any(a in (0, 1) for a in argnums)
        if need_scores:
            dA = g @ v.swapaxes(-1, -2)
            dS = A * (dA - np.sum(dA * A, axis=-1, keepdims=True))
            dS *= scale
        for i, argnum in enumerate(argnums):
            if argnum == 0:
                out[i] = dS @ k
            elif argnum == 1:
                out[i] = dS.swapaxes(-1, -2) @ q
            else:
                out[i] = A.swapaxes(-1, -2) @ g
        return out

    return vjp


defvjp_argnums(_attend, _attend_vjps)


def attention(q, k, v, causal=False):
    r"""Scaled dot-product attention :math:`\mathrm{softmax}(QK^\top/\sqrt{d} + M)V`.

    Parameters
    ----------
    q, k, v : (..., T, d) arrays
    causal : bool
        Mask :math:`M` with :math:`-\infty` above the diagonal: token t attends to tokens
        :math:`\le t` only.

    Returns
    -------
    (..., T, d) array
    """
    qv, kv = getval(q), getval(k)
    scale = float(1.0 / np.sqrt(qv.shape[-1]))
    scores = qv @ kv.swapaxes(-1, -2)
    scores *= scale
    if causal:
        T = scores.shape[-1]
        scores[..., np.triu(np.ones((T, T), dtype=bool), 1)] = -np.inf
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return _attend(q, k, v, scores, scale)
