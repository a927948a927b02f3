r"""The heavy layers as autograd primitives with hand-written VJPs.

autograd records one node per NumPy call and, for the generic rules, keeps intermediates that a
fused rule does not need. The layers below are single primitives whose backward passes reuse
what the forward computed. The pattern is "plain state as a constant argument": a thin wrapper
computes the state (im2col columns, attention log-sum-exps, normalized activations) from the unboxed
inputs with plain NumPy and hands it to the primitive as an extra argument, which autograd
treats as a constant, so the VJP can use it without recomputing it. Every rule is checked
against finite differences in ``tests/test_nn.py`` and against the unfused autograd
composition it replaces in ``tests/test_nn_kernels.py``.

Images are stored channels first and batch last, (channels, height, width, batch), the
layout that makes im2col rows long contiguous copies (see :func:`conv2d`); sequences are
(batch, tokens, features). All functions keep the dtype of their inputs.
"""

import functools
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, defvjp_argnums, primitive
from autograd.tracer import getval

from ..errors import ShapeError

# --- block-parallel kernels -----------------------------------------------------------------
# NumPy's element-wise loops stream a whole array through memory once per operation; on
# (batch, tokens, width) activations of tens of megabytes a chain of eight operations is eight
# trips to main memory. The kernels below cut the leading axis into blocks of about
# ``_CACHE_ELEMS`` numbers and run each block's whole chain while it sits in the core's cache,
# in parallel threads when there are several (NumPy releases the GIL inside its loops and matrix
# products). The blocks depend on the shapes only, and no value is reduced across blocks, so
# these kernels' results do not depend on the number of threads or their scheduling.
_POOL = {"threads": None, "executor": None}

#: Numbers per block of a cache-blocked kernel: 131072 float32 (512 KB), so a block and the two
#: or three temporaries of its chain stay within the 32 MB L3 cache, and each NumPy call of the
#: chain lasts long enough (tens to hundreds of microseconds) that two threads handing Python's
#: GIL to each other around the calls do not spend more than the second core gives. (Blocks of
#: 128 KB, within the L2 cache, made the transformer's step 10% slower on one thread and on two.)
_CACHE_ELEMS = 1 << 17


def num_threads():
    """Threads used by the block-parallel kernels: ``GAUSSCLIP_NUM_THREADS``, else
    ``OMP_NUM_THREADS``, else the number of CPUs."""
    for var in ("GAUSSCLIP_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def _blocks(fn, n, row_elems=1, min_rows=8):
    """Call ``fn(slice)`` on slices covering ``range(n)``: blocks of about ``_CACHE_ELEMS``
    numbers for rows of ``row_elems`` numbers (at least ``min_rows`` rows each), run in
    parallel threads when :func:`num_threads` is above one. The cut depends on the shape only."""
    _run(fn, _block_slices(n, row_elems, min_rows))


def _block_slices(n, row_elems=1, min_rows=8):
    """The slices of :func:`_blocks`."""
    rows = max(min_rows, _CACHE_ELEMS // max(row_elems, 1))
    return _cut(n, max(1, -(-n // rows)))


def _cut(n, parts):
    edges = np.linspace(0, n, parts + 1).astype(int)
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


_IN_POOL = threading.local()  # set in the pool's helper threads while they run slices
_DONE = object()


def _run(fn, slices):
    """Call ``fn`` on every slice, once each: in the calling thread alone with one thread (or
    one slice), else in the calling thread together with ``num_threads() - 1`` helpers of the
    pool, each taking the next slice not yet taken until none is left.

    The calling thread works instead of waiting, so a call costs one hand-over to a helper (a
    wake-up, tens of microseconds on a virtual machine) instead of one per task and a second
    for the result. Which thread runs a slice does not change what the slice computes."""
    threads = num_threads()
    slices = list(slices)
    if threads == 1 or len(slices) == 1 or getattr(_IN_POOL, "active", False):
        for sl in slices:
            fn(sl)
        return
    if _POOL["threads"] != threads:
        _POOL["executor"] = ThreadPoolExecutor(max_workers=threads - 1)
        _POOL["threads"] = threads
    queue, lock = iter(slices), threading.Lock()

    def work():
        while True:
            with lock:
                sl = next(queue, _DONE)
            if sl is _DONE:
                return
            fn(sl)

    def helper():
        _IN_POOL.active = True
        try:
            work()
        finally:
            _IN_POOL.active = False

    helpers = [_POOL["executor"].submit(helper) for _ in range(min(threads, len(slices)) - 1)]
    try:
        work()
    finally:
        for future in helpers:
            future.result()


def _flat2(x):
    return x.reshape(-1, x.shape[-1])


# --- dense ----------------------------------------------------------------------------------
# The matrix products are cut into slices (rows of the output and of the input gradient; rows of
# the reduction for the weight gradient, whose partial products are then added in a fixed order)
# that depend on the shape only, and the slices run in the pool of the kernels above, so
# gaussclip's threads are one pool: BLAS itself is best left single-threaded
# (OPENBLAS_NUM_THREADS=1), as benchmarks/bench_trainer.py does. The cut does not depend on the
# thread count, so a training run gives the same numbers bit for bit with any number of threads
# (a run trained in a one-thread worker process equals the same run trained in a two-thread one).

#: A product with at least ``2 * DENSE_SLICE`` rows (of the output, or of the reduction) is cut into
#: slices of about DENSE_SLICE, at most DENSE_MAX_SLICES of them: enough slices to keep a few
#: threads busy, few enough that the extra BLAS calls cost nothing measurable at one thread.
DENSE_SLICE = 32
DENSE_MAX_SLICES = 4


def _dense_slices(n):
    """Slices of ``range(n)`` of about DENSE_SLICE rows, at most DENSE_MAX_SLICES (shape alone)."""
    return _cut(n, min(DENSE_MAX_SLICES, max(1, n // DENSE_SLICE)))


def _split(fn, n):
    """Call ``fn(slice)`` on :func:`_dense_slices` of ``range(n)``, in the pool."""
    _run(fn, _dense_slices(n))


def _weight_gradient(x2, g2, dW):
    """``dW = x2^T g2`` for (n, n_in) and (n, n_out) arrays, as partial products over slices of
    the n rows (cut by the shape alone, run in the pool) added in a fixed order.

    Slicing the reduction axis keeps every partial product a long, well-shaped BLAS call; slicing
    the columns of ``dW`` instead made narrow products that ran up to twice as slow."""
    parts = _dense_slices(x2.shape[0])
    if len(parts) == 1:
        np.matmul(x2.T, g2, out=dW)
        return
    partial = np.empty((len(parts), *dW.shape), dtype=dW.dtype)

    def part(i):
        np.matmul(x2[parts[i]].T, g2[parts[i]], out=partial[i])

    _run(part, range(len(parts)))
    np.copyto(dW, partial[0])
    for p in partial[1:]:
        dW += p


@primitive
def _dense(x, W, b, relu):
    x2 = _flat2(x)
    n, m = x2.shape[0], W.shape[1]
    y = np.empty((n, m), dtype=np.result_type(x2, W, b))
    # blocks of output rows of about _CACHE_ELEMS numbers: the bias (and ReLU) are applied while
    # the block is in the cache, instead of in a second trip over the whole output
    slices = _block_slices(n, m)
    bias_rows = _tiled(b, max(sl.stop - sl.start for sl in slices), m, y.dtype)

    def rows(sl):
        yb = y[sl]
        np.matmul(x2[sl], W, out=yb)
        yb += bias_rows[: sl.stop - sl.start]
        if relu:
            np.maximum(yb, 0, out=yb)

    _run(rows, slices)
    return y.reshape((*x.shape[:-1], m))


def _dense_grads(argnums, x, W, g2):
    """The gradients of :math:`xW + b` with respect to the arguments ``argnums`` (0: x, 1: W,
    2: b) for the gradient ``g2`` (n, n_out) of the output, cut by the shape into the pool."""
    x2 = _flat2(x)
    out = []
    for argnum in argnums:
        if argnum == 0:
            dx = np.empty(x2.shape, dtype=np.result_type(g2, W))

            def dx_rows(sl, dx=dx):
                np.matmul(g2[sl], W.T, out=dx[sl])

            _split(dx_rows, x2.shape[0])
            out.append(dx.reshape(x.shape))
        elif argnum == 1:
            dW = np.empty(W.shape, dtype=np.result_type(g2, x2))
            _weight_gradient(x2, g2, dW)
            out.append(dW)
        else:
            out.append(g2.sum(axis=0))
    return out


def _dense_vjps(argnums, ans, args, kwargs):
    x, W, _b, relu = args

    def vjp(g):
        g2 = _flat2(g)
        if relu:
            g2 = g2 * (_flat2(ans) > 0)
        return _dense_grads(argnums, x, W, g2)

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
# Images are stored channels first and batch last, (C, H, W, B): then the im2col column of
# output pixel (h, w) and batch item n holds x[c, h + i, w + j, n] for every channel and kernel
# offset, the convolution is the product (O, C kh kw) @ (C kh kw, Ho Wo B) whose result is
# already the next layer's (O, Ho, Wo, B) input, and a block of columns (one output row h, a run
# of pixels w0:w1, the whole batch) is one strided view of x, copied by one call.
#
# The columns are never stored whole (for LeNet-5 at batch 512 they are 30-40 MB per layer, which
# would be written and read back from memory three times a step): both passes run by such
# blocks, sized to stay in the cache (:data:`CONV_BLOCK_ELEMS`), whose columns are built, used,
# and rebuilt by the backward pass for the kernel gradient. The output rows are the pool's
# slices (cut by the shape alone); the kernel and bias gradients are summed per output row and
# the rows' sums added in a fixed order, so the numbers do not depend on the thread count. The
# input gradient runs by input channels: a channel's columns' gradient (one product) gathered
# back onto it, the offsets added in the order of a scatter-add over the whole input.

#: Numbers of im2col columns per block, at most: 2^20 float32 (4 MB, within the 32 MB L3 cache), so
#: a block is a whole output row for LeNet-5 at batch 512 (1.4 and 3 MB). Blocks this long make
#: each NumPy call last hundreds of microseconds: with two threads, every call hands Python's GIL
#: over (a context switch, tens of microseconds on a virtual machine), so blocks of the L2
#: cache's size (256 KB) ran slower on two threads than on one.
CONV_BLOCK_ELEMS = 1 << 20


def _conv_blocks(K, Wo, B):
    """The runs (w0, w1) of output pixels of one row that make the blocks of a convolution with
    K = C kh kw numbers per column: about :data:`CONV_BLOCK_ELEMS` numbers each, by the shape
    alone."""
    per_block = max(1, CONV_BLOCK_ELEMS // max(K * B, 1))
    return _tiles(Wo, per_block)


def _windows(xp, kh, kw):
    """The (C, kh, kw, Ho, Wo, B) view ``x[c, h + i, w + j, n]`` of a padded (C, H, W, B) batch
    (no copy): the im2col columns of output pixel (h, w) and item n are its [:, :, :, h, w, n]."""
    C, H, W, B = xp.shape
    s = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp,
        shape=(C, kh, kw, H - kh + 1, W - kw + 1, B),
        strides=(s[0], s[1], s[2], s[1], s[2], s[3]),
    )


def _block_columns(windows, h, w0, w1):
    """The im2col columns (C kh kw, (w1 - w0) B) of output row ``h``, pixels ``w0:w1``: one copy
    of a strided view."""
    C, kh, kw, _, _, B = windows.shape
    cols = np.empty((C, kh, kw, w1 - w0, B), dtype=windows.dtype)
    np.copyto(cols, windows[:, :, :, h, w0:w1])
    return cols.reshape(C * kh * kw, -1)


def _padded(x, pad):
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0))) if pad else x


@primitive
def _conv(x, W, b, out, pad, relu):
    return out


def _conv_forward(x, W, b, pad, relu):
    """The convolution (O, Ho, Wo, B) of a (C, H, W, B) batch, by blocks of im2col columns, the
    output rows in the pool."""
    n_out, C, kh, kw = W.shape
    xp = _padded(x, pad)
    Ho, Wo, B = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1, xp.shape[3]
    dtype = np.result_type(x, W, b)
    y = np.empty((n_out, Ho, Wo, B), dtype=dtype)
    W2 = W.reshape(n_out, -1)
    y3 = y.reshape(n_out, Ho, Wo * B)
    bias = np.asarray(b, dtype=dtype)[:, None]
    blocks = _conv_blocks(C * kh * kw, Wo, B)
    windows = _windows(xp, kh, kw)

    def row(h):
        for w0, w1 in blocks:
            yb = y3[:, h, w0 * B : w1 * B]
            np.matmul(W2, _block_columns(windows, h, w0, w1), out=yb)
            yb += bias
            if relu:
                np.maximum(yb, 0, out=yb)

    _run(row, range(Ho))
    return y


def _conv_input_grad(W, g2, x_shape, pad, out_shape):
    """The input gradient (C, H, W, B) of a convolution from its output gradient ``g2``
    (O, Ho Wo B), one input channel per slice of the pool: the channel's im2col gradient
    :math:`W_c^\top g` (kh kw, Ho Wo B) by one product, then gathered back (col2im): each
    input pixel adds the gradients of the columns that copied it, offsets in row-major order
    (the sums, in the order, of one scatter-add per offset over the whole padded input)."""
    n_out, C, kh, kw = W.shape
    Ho, Wo, B = out_shape
    _, H, Wd, _ = x_shape
    dtype = np.result_type(W, g2)
    dx = np.empty(x_shape, dtype=dtype)
    Wt = W.reshape(n_out, C, kh * kw).transpose(1, 2, 0)  # (C, kh kw, O)

    def channel(c):
        dcols = (Wt[c] @ g2).reshape(kh, kw, Ho, Wo, B)
        dx[c] = 0
        for i in range(kh):
            # output rows h read padded input row h + i, i.e. input row h + i - pad
            h0, h1 = max(0, pad - i), min(Ho, H + pad - i)
            for j in range(kw):
                w0, w1 = max(0, pad - j), min(Wo, Wd + pad - j)
                if h0 < h1 and w0 < w1:
                    dx[c, h0 + i - pad : h1 + i - pad, w0 + j - pad : w1 + j - pad] += dcols[
                        i, j, h0:h1, w0:w1
                    ]

    _run(channel, range(C))
    return dx


def _conv_vjps(argnums, ans, args, kwargs):
    x, W, _b, _out, pad, relu = args
    n_out, C, kh, kw = W.shape
    Ho, Wo, B = ans.shape[1:]
    K = C * kh * kw

    def vjp(g):
        dtype = np.result_type(g, W, x)
        windows = _windows(_padded(x, pad), kh, kw)
        g3, a3 = g.reshape(n_out, Ho, Wo * B), ans.reshape(n_out, Ho, Wo * B)
        want_x, want_w, want_b = (a in argnums for a in range(3))
        dW = np.zeros((Ho, n_out, K), dtype=dtype)  # per output row, summed in order below
        db = np.zeros((Ho, n_out), dtype=dtype)
        blocks = _conv_blocks(K, Wo, B)

        def row(h):
            for w0, w1 in blocks:
                gb = g3[:, h, w0 * B : w1 * B]
                if relu:
                    gb = gb * (a3[:, h, w0 * B : w1 * B] > 0)
                if want_w:
                    # np.dot, not matmul: NumPy's matmul of these (O, n) @ (n, C kh kw)
                    # products with a long reduction held the GIL, so two threads ran them one
                    # after the other (measured: the LeNet-5 step 10-15% faster on two threads)
                    dW[h] += np.dot(gb, _block_columns(windows, h, w0, w1).T)
                if want_b:
                    db[h] += gb.sum(axis=1)

        _run(row, range(Ho))
        grads = {}
        for a, parts in ((1, dW), (2, db)):
            total = parts[0].copy()
            for p in parts[1:]:
                total += p
            grads[a] = total.reshape(W.shape) if a == 1 else total
        if want_x:
            g2 = g.reshape(n_out, -1)
            if relu:
                g2 = g2 * (ans.reshape(n_out, -1) > 0)
            grads[0] = _conv_input_grad(W, g2, x.shape, pad, (Ho, Wo, B))
        return [grads[a] for a in argnums]

    return vjp


defvjp_argnums(_conv, _conv_vjps)


def conv2d(x, W, b, pad=0, relu=False):
    r"""2-D convolution (cross-correlation, stride 1) of a channels-first, batch-last batch.

    .. math:: y_{o,h,w,n} = b_o + \sum_{c,i,j} W_{o,c,i,j}\,x_{c,h+i,w+j,n}

    computed as matrix products of the kernel with blocks of im2col columns built in the cache
    (see the note above :data:`CONV_BLOCK_ELEMS`), the output rows run in the kernels' pool.

    Parameters
    ----------
    x : (C, H, W, B) array
        Channels first, batch last.
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
    out = _conv_forward(getval(x), getval(W), getval(b), pad, relu)
    return _conv(x, W, b, out, pad, relu)


# --- max pooling ----------------------------------------------------------------------------
# Slices of output rows (axis 1), cut by the shape alone, run in the pool: a slice of output
# rows reads and writes its own k rows per output row, in both passes.
def _offsets(x, k):
    """The k*k strided views x[:, a::k, b::k] of axes 1 and 2, row-major."""
    return [x[:, a::k, b::k] for a in range(k) for b in range(k)]


def _pool_slices(x, k):
    """Slices of output rows of at least about :data:`CONV_BLOCK_ELEMS` / 2 input numbers, by the
    shape alone (long NumPy calls, as for the convolution's blocks)."""
    rows = x.shape[1] // k
    per_slice = max(1, (CONV_BLOCK_ELEMS // 2) // max(x[:, :k].size, 1))
    return _cut(rows, max(1, rows // per_slice))


def _max_pool_forward(x, k):
    """The pooled (C, H/k, W/k, ...) array and, per output, the row-major index (uint8) of the
    first maximum of its window, by slices of output rows in the pool."""
    out = np.empty((x.shape[0], x.shape[1] // k, x.shape[2] // k, *x.shape[3:]), dtype=x.dtype)
    first = np.empty(out.shape, dtype=np.uint8)

    def rows(sl):
        views = _offsets(x[:, k * sl.start : k * sl.stop], k)
        o, f = out[:, sl], first[:, sl]
        np.copyto(o, views[0])
        f[...] = 0
        for n, view in enumerate(views[1:], 1):
            # n where strictly above the maximum so far (an earlier equal maximum keeps its
            # index), else 0: the indices grow with n, so the larger one is the one to keep
            above = np.greater(view, o).view(np.uint8)
            above *= np.uint8(n)
            np.maximum(f, above, out=f)
            np.maximum(o, view, out=o)

    _run(rows, _pool_slices(x, k))
    return out, first


@primitive
def _max_pool(x, k, first, out):
    return out


def _max_pool_vjp(ans, x, k, first, out):
    def vjp(g):
        dx = np.empty(x.shape, dtype=np.result_type(x, g))
        offsets = [(p, q) for p in range(k) for q in range(k)]

        def rows(sl):
            f, gs, d = first[:, sl], g[:, sl], dx[:, k * sl.start : k * sl.stop]
            for n, (p, q) in enumerate(offsets):
                np.multiply(gs, f == n, out=d[:, p::k, q::k])

        _run(rows, _pool_slices(x, k))
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
    out, first = _max_pool_forward(getval(x), k)
    return _max_pool(x, k, first, out)


# --- layer norm -----------------------------------------------------------------------------
#: Added to the variance in layer norm (the PyTorch default), so constant rows stay finite.
LAYER_NORM_EPS = 1e-5


@primitive
def _layer_norm(x, gamma, beta, xhat, rstd, out):
    return out


def _row_mean_vector(x2):
    """The vector (1/d, ..., 1/d): row means of (n, d) blocks as one matrix-vector product, which
    is faster than NumPy's reductions along a short last axis."""
    return np.full(x2.shape[1], 1.0 / x2.shape[1], dtype=x2.dtype)


def _normalize_block(xb, mean_of, xhat, rstd):
    r"""The normalized rows of a block ``xb`` (n, d) into ``xhat`` and their
    :math:`1/\sqrt{\mathrm{var} + \epsilon}` into ``rstd`` (n, 1)."""
    centred = xb - (xb @ mean_of)[:, None]
    var = np.square(centred) @ mean_of
    var += LAYER_NORM_EPS
    np.sqrt(var, out=rstd[:, 0])
    np.reciprocal(rstd, out=rstd)
    np.multiply(centred, rstd, out=xhat)


def _normalized_grad_block(dxhat, xhat, rstd, mean_of, out):
    r"""The input gradient of layer norm for a block, from the gradient ``dxhat`` of its
    normalized rows (overwritten): :math:`r\,(d - \overline{d} - \hat x\,\overline{d\hat x})`."""
    mean_dx = (dxhat * xhat) @ mean_of
    mean_d = dxhat @ mean_of
    dxhat -= mean_d[:, None]
    tmp = np.multiply(xhat, mean_dx[:, None])
    dxhat -= tmp
    np.multiply(rstd, dxhat, out=out)


def _tiled(vector, rows, d, dtype):
    """A (rows, d) array of copies of a (d,) vector (or a scalar): multiplying a block by it is a
    contiguous pass, about twice as fast as NumPy's broadcast of a short row."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(vector, dtype=dtype), (rows, d)))


def _layer_norm_grads(g, gamma, xhat, rstd):
    r"""The three gradients of :func:`layer_norm`, by cache-sized blocks of rows:
    :math:`\partial x = r\,(d - \overline{d} - \hat x\,\overline{d\hat x})` with
    :math:`d = g\odot\gamma`, and the column sums of :math:`g\odot\hat x` and of :math:`g`.

    Per block, :math:`g\odot\hat x` serves both :math:`\overline{d\hat x}` (its product with
    :math:`\gamma/d`) and the scale's gradient (its product with a vector of ones), and
    :math:`\overline{d} = g\,\gamma/d`: row and column sums are matrix-vector products. The
    blocks' column sums are added in a fixed order after the blocks."""
    g2, xh, r = _flat2(g), _flat2(xhat), _flat2(rstd)
    n, d = xh.shape
    dtype = np.result_type(g2, gamma, xh)
    dx = np.empty(xh.shape, dtype=dtype)
    slices = _block_slices(n, d)
    rows = max(sl.stop - sl.start for sl in slices)
    gamma_rows = _tiled(gamma, rows, d, dtype)
    gamma_mean = gamma_rows[0] / d  # d -> row mean of d * gamma
    ones = np.ones(rows, dtype=dtype)
    col_sums = np.empty((len(slices), 2, d), dtype=dtype)  # per block: sum g * xhat, sum g

    def block(i):
        sl = slices[i]
        m = sl.stop - sl.start
        gb, xb = g2[sl], xh[sl]
        gx = gb * xb
        np.matmul(ones[:m], gx, out=col_sums[i, 0])
        np.matmul(ones[:m], gb, out=col_sums[i, 1])
        mean_dx = gx @ gamma_mean
        mean_d = gb @ gamma_mean
        dxhat = gb * gamma_rows[:m]
        dxhat -= mean_d[:, None]
        np.multiply(xb, mean_dx[:, None], out=gx)
        dxhat -= gx
        np.multiply(r[sl], dxhat, out=dx[sl])

    _run(block, range(len(slices)))
    total = col_sums[0].copy()
    for part in col_sums[1:]:
        total += part
    return dx.reshape(xhat.shape), total[0], total[1]


def _as_parameter(gradient, parameter):
    """A (d,) gradient summed to the shape of a scalar parameter, if the parameter is one."""
    return gradient if np.ndim(parameter) else gradient.sum()


def _layer_norm_vjps(argnums, ans, args, kwargs):
    _x, gamma, beta, xhat, rstd, _out = args

    def vjp(g):
        dx, dgamma, dbeta = _layer_norm_grads(g, gamma, xhat, rstd)
        grads = (dx, _as_parameter(dgamma, gamma), _as_parameter(dbeta, beta))
        return [grads[a] for a in argnums]

    return vjp


defvjp_argnums(_layer_norm, _layer_norm_vjps)


def layer_norm(x, gamma, beta):
    r"""Layer normalization over the last axis:
    :math:`\gamma\odot(x - \bar x)/\sqrt{\mathrm{var}(x) + \epsilon} + \beta`.

    One pass over cache-sized blocks of rows computes the output together with the normalized
    rows :math:`\hat x` and :math:`1/\sqrt{\mathrm{var}+\epsilon}` that the VJP reuses:
    :math:`\partial x = r\,(d - \overline{d} - \hat x\,\overline{d\hat x})` with
    :math:`d = g\odot\gamma`. Row means are matrix-vector products, and the scale and shift
    are applied with (rows, d) copies of :math:`\gamma` and :math:`\beta` (contiguous passes).
    """
    xv, gv, bv = getval(x), getval(gamma), getval(beta)
    x2 = _flat2(xv)
    n, d = x2.shape
    xhat = np.empty_like(x2)
    rstd = np.empty((n, 1), dtype=x2.dtype)
    dtype = np.result_type(x2, gv, bv)
    out = np.empty(x2.shape, dtype=dtype)
    slices = _block_slices(n, d)
    rows = max(sl.stop - sl.start for sl in slices)
    gamma_rows, beta_rows = (_tiled(a, rows, d, dtype) for a in (gv, bv))
    mean_of = _row_mean_vector(x2)

    def block(sl):
        m = sl.stop - sl.start
        _normalize_block(x2[sl], mean_of, xhat[sl], rstd[sl])
        np.multiply(xhat[sl], gamma_rows[:m], out=out[sl])
        out[sl] += beta_rows[:m]

    _run(block, slices)
    shape = np.shape(xv)
    return _layer_norm(
        x,
        gamma,
        beta,
        xhat.reshape(shape),
        rstd.reshape((*shape[:-1], 1)),
        out.reshape(shape),
    )


# --- GELU -----------------------------------------------------------------------------------
_GELU_C = float(np.sqrt(2.0 / np.pi))
_GELU_A = 0.044715


@primitive
def _gelu(x, slope, out):
    return out


def _gelu_block(xb, out, slope):
    """GELU of a block ``xb`` into ``out`` and its derivative into ``slope`` (see :func:`gelu`)."""
    sq = xb * xb
    z = sq * (-2.0 * _GELU_C * _GELU_A)
    z -= 2.0 * _GELU_C
    z *= xb  # -2z
    with np.errstate(over="ignore"):  # exp(+large) = inf gives sigmoid 0, as it should
        np.exp(z, out=z)
    z += 1.0
    np.reciprocal(z, out=z)  # s
    np.multiply(xb, z, out=out)
    np.multiply(sq, 6.0 * _GELU_A * _GELU_C, out=slope)
    slope += 2.0 * _GELU_C
    slope *= xb
    slope *= z
    sq = np.subtract(1.0, z, out=sq)
    slope *= sq
    slope += z


def _gelu_vjp(ans, x, slope, out):
    def vjp(g):
        dx = np.empty(x.shape, dtype=np.result_type(slope, g))
        s2, g2, d2 = _flat2(slope), _flat2(g), _flat2(dx)
        _blocks(lambda sl: np.multiply(s2[sl], g2[sl], out=d2[sl]), s2.shape[0], s2.shape[1])
        return dx

    return vjp


defvjp(_gelu, _gelu_vjp)


def gelu(x):
    r"""GELU, tanh form: :math:`\tfrac12 x(1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))`,
    evaluated as :math:`x\,\mathrm{sigmoid}(2z)` (the same function; ``exp`` is faster than
    ``tanh`` in NumPy), by cache-sized blocks. The derivative
    :math:`s + 2 x s (1 - s) c (1 + 3 a x^2)` (:math:`s = \mathrm{sigmoid}(2z)`,
    :math:`z = c(x + a x^3)`) is computed in the same pass, while the block is in the cache, and
    kept for the VJP."""
    xv = getval(x)
    slope = np.empty_like(xv)
    out = np.empty_like(xv)
    x2, d2, o2 = _flat2(xv), _flat2(slope), _flat2(out)

    def block(sl):
        _gelu_block(x2[sl], o2[sl], d2[sl])

    _blocks(block, x2.shape[0], x2.shape[1])
    return _gelu(x, slope, out)


# --- layer norm + dense (+ GELU) ------------------------------------------------------------
@primitive
def _layer_norm_dense(x, gamma, beta, W, b, xhat, rstd, slope, out):
    return out


def _layer_norm_dense_vjps(argnums, ans, args, kwargs):
    x, gamma, beta, W, _b, xhat, rstd, slope, _out = args

    def vjp(g):
        g2, xh, r = _flat2(g), _flat2(xhat), _flat2(rstd)
        s2 = None if slope is None else _flat2(slope)
        n, m = g2.shape
        d = xh.shape[1]
        dtype = np.result_type(g2, xh, W, gamma)
        gamma_d, beta_d = (np.broadcast_to(np.asarray(a, dtype=dtype), (d,)) for a in (gamma, beta))
        W_scaled = (gamma_d[:, None] * W).astype(dtype, copy=False)
        mean_of = np.full(d, 1.0 / d, dtype=dtype)
        dx = np.empty((n, d), dtype=dtype)
        # the rows cut as the weight gradient's reduction, each part by cache-sized blocks: the
        # pre-activation's gradient and the normalized rows' gradient stay in the cache
        parts = _dense_slices(n)
        dWs = np.zeros((len(parts), d, m), dtype=dtype)  # gradients of xhat @ W_scaled
        db = np.zeros((len(parts), m), dtype=dtype)

        def part(i):
            sl = parts[i]
            for blk in _block_slices(sl.stop - sl.start, max(m, d)):
                rows = slice(sl.start + blk.start, sl.start + blk.stop)
                gy = g2[rows] if s2 is None else s2[rows] * g2[rows]
                dWs[i] += xh[rows].T @ gy
                db[i] += gy.sum(axis=0)
                dxhat = gy @ W_scaled.T
                _normalized_grad_block(dxhat, xh[rows], r[rows], mean_of, dx[rows])

        _run(part, range(len(parts)))
        for i in range(1, len(parts)):
            dWs[0] += dWs[i]
            db[0] += db[i]
        dWs, db = dWs[0], db[0]
        # y = xhat (gamma W) + (beta W + b): back to the parameters
        grads = {
            0: lambda: dx.reshape(x.shape),
            1: lambda: _as_parameter(np.einsum("kj,kj->k", W, dWs), gamma),
            2: lambda: _as_parameter(W @ db, beta),
            3: lambda: gamma_d[:, None] * dWs + beta_d[:, None] * db,
            4: lambda: db,
        }
        return [grads[a]() for a in argnums]

    return vjp


defvjp_argnums(_layer_norm_dense, _layer_norm_dense_vjps)


def layer_norm_dense(x, gamma, beta, W, b, gelu=False):
    r""":func:`dense` of :func:`layer_norm`, optionally followed by GELU:
    :math:`\mathrm{LN}(x)W + b = \hat x(\gamma\odot W) + (\beta W + b)` (row k of
    :math:`\gamma\odot W` is :math:`\gamma_k W_{k\cdot}`), by cache-sized blocks of rows.

    Each block is normalized, multiplied and (with ``gelu=True``) activated while it is in the
    cache, with the scale and shift folded into the product as above, so the normalized
    activations :math:`\mathrm{LN}(x)` are never written to memory (the VJP keeps
    :math:`\hat x` and :math:`1/\sqrt{\mathrm{var}+\epsilon}`, as :func:`layer_norm` does). The VJP
    runs the same blocks backward: :math:`\partial\hat x = g(\gamma\odot W)^\top`, then the
    layer norm's rule; :math:`\partial W = \gamma\odot(\hat x^\top g) + \beta\,(1^\top g)`,
    :math:`\partial\gamma = \sum_j W\odot(\hat x^\top g)`, :math:`\partial\beta = W(g^\top 1)`.

    Parameters
    ----------
    x : (..., d) array
    gamma, beta : (d,) arrays (or scalars)
    W : (d, n_out) array
    b : (n_out,) array
    gelu : bool
        Apply :func:`gelu` to the output (its derivative kept for the VJP).

    Returns
    -------
    (..., n_out) array
    """
    xv, gv, bev, Wv, bv = (getval(a) for a in (x, gamma, beta, W, b))
    x2 = _flat2(xv)
    n, d = x2.shape
    m = np.shape(Wv)[1]
    dtype = np.result_type(x2, gv, bev, Wv, bv)
    gv, bev = np.asarray(gv, dtype=dtype), np.asarray(bev, dtype=dtype)
    W_scaled = (np.broadcast_to(gv, (d,))[:, None] * Wv).astype(dtype, copy=False)
    bias = (np.broadcast_to(bev, (d,)) @ Wv + bv).astype(dtype, copy=False)
    xhat = np.empty((n, d), dtype=dtype)
    rstd = np.empty((n, 1), dtype=dtype)
    out = np.empty((n, m), dtype=dtype)
    slope = np.empty((n, m), dtype=dtype) if gelu else None
    slices = _block_slices(n, max(m, d))
    bias_rows = _tiled(bias, max(sl.stop - sl.start for sl in slices), m, dtype)
    mean_of = np.full(d, 1.0 / d, dtype=dtype)

    def block(sl):
        k = sl.stop - sl.start
        _normalize_block(x2[sl], mean_of, xhat[sl], rstd[sl])
        if gelu:
            y = xhat[sl] @ W_scaled
            y += bias_rows[:k]
            _gelu_block(y, out[sl], slope[sl])
        else:
            np.matmul(xhat[sl], W_scaled, out=out[sl])
            out[sl] += bias_rows[:k]

    _run(block, slices)
    lead = np.shape(xv)[:-1]
    return _layer_norm_dense(
        x,
        gamma,
        beta,
        W,
        b,
        xhat.reshape((*lead, d)),
        rstd.reshape((*lead, 1)),
        None if slope is None else slope.reshape((*lead, m)),
        out.reshape((*lead, m)),
    )


# --- attention ------------------------------------------------------------------------------
# Streaming ("flash") attention. Queries are cut into tiles of about _Q_TILE tokens and keys
# into tiles of at most _K_TILE tokens, and only the output and the row log-sum-exp L of the
# scaled scores are kept: the backward pass recomputes each tile's weights P = exp(S - L)
# instead of storing them, using rowsum(dP * P) = <dO, O> per query. Memory is
# O(batch x heads x tokens x head width) whatever the sequence length, and with a causal mask the
# key tiles beyond a query tile's last token are skipped, not computed and masked. Batch items
# are processed in groups sized so that one tile of scores fits in the cache.
#
# The softmax is shifted by a fixed bound instead of a running maximum: by Cauchy-Schwarz every
# scaled score of query i is at most U_i = |q_i| max_j |k_j| / sqrt(d_h), so exp(S - U) never
# overflows and the same shift serves every key tile (no rescaling of partial sums, no pass to
# find a maximum). A row whose sum l = sum_j exp(S_ij - U_i) falls below _SHIFT_FLOOR (its
# largest weight below e^-40 before normalization, where float32 terms far below the largest
# could underflow) is recomputed with its exact maximum. Each group of batch items is copied
# once into contiguous (batch, head, token, d_h + 1) arrays whose extra column carries the shift
# (U, L, or <dO, O>) into the matrix products (see _contiguous_heads); the output and the
# gradients are written back into the (batch, token, head, d_h) layout once per group.
#
# Short sequences (keys in one key tile, at most _K_TILE tokens) whose weights fit in
# ATTENTION_WEIGHTS_BYTES take a second path: the forward pass keeps each tile's exp(S - U), the
# inverse row sums and the head copies (see _Kept), and the backward pass uses them instead of
# recomputing the scores and their exp. Longer sequences are always streamed.
#: Query tokens per tile (tiles are of equal size, at most this).
_Q_TILE = 64
#: Key tokens per tile: sequences up to this length are attended in one key tile.
_K_TILE = 256


@functools.lru_cache(maxsize=256)
def _tiles(n, size):
    """Equal consecutive ranges covering ``range(n)``, each at most ``size`` long."""
    edges = np.linspace(0, n, -(-n // size) + 1).astype(int).tolist()
    return tuple(itertools.pairwise(edges))


def _causal_bias(i0, i1, j0, j1, dtype):
    """The mask of one tile: -inf where key j > query i, else 0 ((i1 - i0, j1 - j0) array)."""
    above = np.arange(j0, j1)[None, :] > np.arange(i0, i1)[:, None]
    return np.where(above, -np.inf, 0.0).astype(dtype)


def _heads(x):
    """The (b, H, T, dh) view of a (b, T, H, dh) array (each head's (T, dh) rows are strided
    rows of the array, which BLAS reads in place)."""
    return x.transpose(0, 2, 1, 3)


class _Plan:
    """Shapes, tiles and the causal bias shared by the forward and backward kernels."""

    def __init__(self, q, k, causal):
        B, T, H, dh = q.shape
        self.Tk = k.shape[1]
        self.scale = float(1.0 / np.sqrt(dh))
        self.causal = causal
        self.q_tiles = _tiles(T, _Q_TILE)
        self.dtype = q.dtype
        self.biases = {}  # the causal masks of the tiles that need one
        # numbers in one batch item's widest tile of scores, which sets the group size
        self.item_elems = H * max(b - a for a, b in self.q_tiles) * min(self.Tk, _K_TILE)
        # what the short-sequence path keeps: the weights of every tile and the head copies
        weights = sum((i1 - i0) * (i1 if causal else self.Tk) for i0, i1 in self.q_tiles)
        self.kept_bytes = B * H * (weights + (T + 2 * self.Tk) * (dh + 1) + T) * q.dtype.itemsize
        self.keep_weights = self.Tk <= _K_TILE and self.kept_bytes <= ATTENTION_WEIGHTS_BYTES

    def key_tiles(self, i0, i1):
        return _tiles(i1 if self.causal else self.Tk, _K_TILE)

    def scores(self, qi, kc, i0, i1, j0, j1, out=None):
        """``qi @ kc[j0:j1]^T`` (b, H, i1 - i0, j1 - j0), causal mask added where it cuts the
        tile."""
        s = np.matmul(qi, kc[:, :, j0:j1].swapaxes(-1, -2), out=out)
        if self.causal and j1 - 1 > i0:
            key = (i0, i1, j0, j1)
            if key not in self.biases:  # (threads may both build it: same value, no harm)
                self.biases[key] = _causal_bias(*key, self.dtype)
            s += self.biases[key]
        return s

    def run(self, fn, B):
        _blocks(fn, B, self.item_elems * _CACHE_ELEMS // _ATTENTION_ELEMS, min_rows=1)


#: Numbers in one group's tile of scores: 131072 float32 (512 KB), larger than the element-wise
#: kernels' blocks because each tile pays for many small matrix products.
_ATTENTION_ELEMS = 1 << 17

#: Bytes one attention call may keep for its backward pass beyond the streaming kernel's
#: O(batch x heads x tokens) state: 128 MiB. When the keys fit in one key tile (at most _K_TILE)
#: and the tiles' weights together with the head copies fit in this budget (batch 512, 4 heads,
#: 100 causal tokens: 104 MB), the forward pass keeps them and the backward pass neither
#: recomputes the scores nor their ``exp`` nor copies the heads again. Longer sequences are
#: always streamed, so their memory stays linear in the number of tokens.
ATTENTION_WEIGHTS_BYTES = 128 << 20


#: Row sums of exp(S - U) below this are recomputed with the exact row maximum: e^-40 keeps
#: every weight within e^-47 of a row's largest (for up to 1000 keys) clear of float32's
#: underflow at e^-87, so the fixed shift loses nothing a float32 sum would keep.
_SHIFT_FLOOR = float(np.exp(-40.0))


def _contiguous_heads(x, scale=None, last=None, out=None):
    """A contiguous (b, H, T, dh) copy of a (b, T, H, dh) array (times ``scale`` if given), with
    one more column ``last`` (broadcast to (b, H, T)) if given; written into ``out`` if given.

    The tiles' many small matrix products run 10-15% faster on contiguous heads than on the
    strided views, and the copy is small next to the tiles of scores. The extra column folds a
    per-row shift into a product: ``[a, -c] @ [b, 1]^T = a @ b^T - c``, which costs one more
    term per product instead of a separate pass over the tile.
    """
    b, T, H, dh = x.shape
    if out is None:
        out = np.empty((b, H, T, dh + (last is not None)), dtype=x.dtype)
    heads = out
    _copy_rows(heads[..., :dh], _heads(x))  # (a scaling copy would be twice as slow)
    if last is not None:
        heads[..., dh] = 0.0  # (not left uninitialized for the scaling below)
    if scale is not None:
        heads *= x.dtype.type(scale)  # (contiguous)
    if last is not None:
        heads[..., dh] = last
    return heads


def _copy_rows(dst, src):
    """``dst[...] = src`` for arrays of one shape and dtype. When the last axis is contiguous in
    both, each row of that axis is copied as one opaque element, so NumPy's copy loop runs over
    the other axes instead of once per (short) row: 2.5x faster for the heads' rows of 16
    numbers."""
    if dst.strides[-1] == src.strides[-1] == dst.itemsize and dst.dtype == src.dtype:
        row = np.dtype((np.void, dst.shape[-1] * dst.itemsize))
        try:
            np.copyto(dst.view(row)[..., 0], src.view(row)[..., 0])
            return
        except ValueError:  # (a view NumPy does not allow: copy number by number)
            pass
    dst[...] = src


def _head_norms(x):
    """Euclidean norms (b, H, T) of the head vectors of a (b, H, T, dh) array."""
    return np.sqrt(np.einsum("bhtd,bhtd->bht", x, x))  # (3x faster than a sum over d_h)


def _exact_rows(q, k, v, causal, scale, rows):
    """Output (n, dh), log-sum-exp (n,) and softmax weights (n, T_k) of the (batch, head, query)
    ``rows`` of (b, T, H, dh) arrays, by the plain max-shifted softmax over all keys (the rare
    fallback)."""
    b, h, i = rows
    s = np.einsum("nd,njd->nj", q[b, i, h] * scale, k[b, :, h])
    if causal:
        s[np.arange(k.shape[1])[None, :] > i[:, None]] = -np.inf
    m = s.max(axis=-1, keepdims=True)
    w = np.exp(s - m)
    total = w.sum(axis=-1, keepdims=True)
    w /= total
    out = np.einsum("nj,njd->nd", w, v[b, :, h])
    return out, (m + np.log(total))[:, 0], w


class _Kept:
    """What the short-sequence path keeps from the forward pass for the backward pass: per query
    tile the unnormalized weights exp(S - U) (B, H, tile rows, keys of the tile), the inverse
    row sums 1/l (B, H, T), and the contiguous heads [scaled q, -U], [k, 1], [v, 1]."""

    def __init__(self, plan, B, H, T, dh):
        dtype = plan.dtype
        self.weights = [
            np.empty((B, H, i1 - i0, i1 if plan.causal else plan.Tk), dtype=dtype)
            for i0, i1 in plan.q_tiles
        ]
        self.inv_total = np.empty((B, H, T), dtype=dtype)
        self.qc = np.empty((B, H, T, dh + 1), dtype=dtype)
        self.kc, self.vc = (np.empty((B, H, plan.Tk, dh + 1), dtype=dtype) for _ in "kv")


def _attention_forward(q, k, v, causal):
    """Attention of (B, T, H, dh) arrays: the output (B, T, H, dh) and the state of the backward
    pass, the row log-sum-exp (B, H, T) of the scaled scores (streaming) or a :class:`_Kept`
    (short sequences whose weights fit in ``ATTENTION_WEIGHTS_BYTES``)."""
    plan = _Plan(q, k, causal)
    B, T, H, dh = q.shape
    out = np.empty(q.shape, dtype=q.dtype)
    lse = np.empty((B, H, T), dtype=q.dtype)
    kept = _Kept(plan, B, H, T, dh) if plan.keep_weights else None

    def group(sl):
        # [scaled queries, -bound] (b, H, T, dh + 1) and [keys, 1]: the products give S - U
        buffers = (None, None, None) if kept is None else (kept.qc[sl], kept.kc[sl], kept.vc[sl])
        qc = _contiguous_heads(q[sl], plan.scale, 0.0, out=buffers[0])
        kc = _contiguous_heads(k[sl], None, 1.0, out=buffers[1])
        bound = _head_norms(qc[..., :-1]) * _head_norms(kc[..., :-1]).max(axis=-1, keepdims=True)
        np.negative(bound, out=qc[..., -1])
        # [values, 1]: P @ vc carries the row sums
        vc = _contiguous_heads(v[sl], None, 1.0, out=buffers[2])
        oc, lc = _heads(out[sl]), lse[sl]
        for t, (i0, i1) in enumerate(plan.q_tiles):
            qi = qc[:, :, i0:i1]
            for n, (j0, j1) in enumerate(plan.key_tiles(i0, i1)):
                # S - U, into the kept weights of the tile (one key tile) if they are kept
                p = plan.scores(
                    qi, kc, i0, i1, j0, j1, None if kept is None else kept.weights[t][sl]
                )
                np.exp(p, out=p)
                if n == 0:
                    acc = p @ vc[:, :, j0:j1]
                else:
                    acc += p @ vc[:, :, j0:j1]
            total = acc[..., -1]
            with np.errstate(divide="ignore", invalid="ignore"):  # rows redone just below
                np.divide(acc[..., :-1], acc[..., -1:], out=oc[:, :, i0:i1])
                if kept is None:  # the log-sum-exp L = U + log l, for the streamed backward
                    np.log(total, out=lc[:, :, i0:i1])
                    lc[:, :, i0:i1] += bound[:, :, i0:i1]
                else:  # the kept path's backward needs 1/l only
                    np.reciprocal(total, out=kept.inv_total[sl][:, :, i0:i1])
            low = total < _SHIFT_FLOOR
            if low.any():
                b, h, i = np.nonzero(low)
                oc[b, h, i + i0], lc[b, h, i + i0], w = _exact_rows(
                    q[sl], k[sl], v[sl], causal, plan.scale, (b, h, i + i0)
                )
                if kept is not None:  # the exact weights, already normalized
                    tile = kept.weights[t][sl]
                    tile[b, h, i] = w[:, : tile.shape[-1]]
                    kept.inv_total[sl][b, h, i + i0] = 1.0

    plan.run(group, B)
    return out, (lse if kept is None else kept)


@primitive
def _attend(q, k, v, out, state, causal):
    return out


def _attention_backward(q, k, v, out, state, g, causal, grads):
    """Write the gradients of attention with respect to ``q``, ``k``, ``v`` (B, T, H, dh) for the
    output gradient ``g`` into ``grads`` (three arrays, or views, of their shapes, overwritten),
    from the forward pass's ``state`` (see :func:`_attention_forward`)."""
    plan = _Plan(q, k, causal)
    if isinstance(state, _Kept):
        _kept_backward(plan, out, state, g, grads)
        return
    dh = q.shape[-1]

    def group(sl):
        delta = np.einsum("bthd,bthd->bht", g[sl], out[sl])  # rowsum(dP * P) = <dO, O>
        # [scaled queries, -L] @ [keys, 1]^T = S - L and [dO, -delta] @ [values, 1]^T = dP - delta
        # (b, H, T, dh + 1): the shifts ride along in the products (see _contiguous_heads)
        qc, kc = _contiguous_heads(q[sl], plan.scale, 0.0), _contiguous_heads(k[sl], None, 1.0)
        np.negative(state[sl], out=qc[..., -1])
        gc, vc = _contiguous_heads(g[sl], None, 0.0), _contiguous_heads(v[sl], None, 1.0)
        np.negative(delta, out=gc[..., -1])
        dq, dk, dv = (np.zeros((*qc.shape[:2], x.shape[1], dh), qc.dtype) for x in (q, k, v))
        for i0, i1 in plan.q_tiles:
            qi, gi = qc[:, :, i0:i1], gc[:, :, i0:i1]
            for j0, j1 in plan.key_tiles(i0, i1):
                p = plan.scores(qi, kc, i0, i1, j0, j1)  # S - L
                np.exp(p, out=p)  # the weights of the tile, recomputed
                dv[:, :, j0:j1] += p.swapaxes(-1, -2) @ gi[..., :dh]
                ds = gi @ vc[:, :, j0:j1].swapaxes(-1, -2)  # dP - delta
                ds *= p  # gradient of the scaled scores
                dq[:, :, i0:i1] += ds @ kc[:, :, j0:j1, :dh]
                dk[:, :, j0:j1] += ds.swapaxes(-1, -2) @ qi[..., :dh]
        np.multiply(dq, plan.scale, out=_heads(grads[0][sl]))
        _copy_rows(_heads(grads[1][sl]), dk)
        _copy_rows(_heads(grads[2][sl]), dv)

    plan.run(group, q.shape[0])


def _kept_backward(plan, out, kept, g, grads):
    """The backward pass of the short-sequence path, from the kept weights exp(S - U) = l P
    (see :class:`_Kept`): with ``[dO, -delta] / l`` in place of ``[dO, -delta]`` the products
    give dV and dS without normalizing the weights, and each query tile has one key tile, so the
    gradients are written by the products themselves (into the (B, T, H, dh) layout, whose
    heads BLAS reads and writes in place) instead of accumulated in zeroed arrays."""
    dh = out.shape[-1]

    def group(sl):
        delta = np.einsum("bthd,bthd->bht", g[sl], out[sl])  # rowsum(dP * P) = <dO, O>
        gc = _contiguous_heads(g[sl], None, 0.0)
        np.negative(delta, out=gc[..., -1])
        gc *= kept.inv_total[sl][..., None]
        qc, kc, vc = kept.qc[sl], kept.kc[sl], kept.vc[sl]
        dq = np.empty((*qc.shape[:3], dh), dtype=qc.dtype)
        dk, dv = _heads(grads[1][sl]), _heads(grads[2][sl])
        # the last query tile is the one whose keys reach furthest (all of them without a mask):
        # it writes the key gradients, the others add to them
        for t in reversed(range(len(plan.q_tiles))):
            i0, i1 = plan.q_tiles[t]
            p = kept.weights[t][sl]
            j1 = p.shape[-1]
            qi, gi = qc[:, :, i0:i1], gc[:, :, i0:i1]
            ds = gi @ vc[:, :, :j1].swapaxes(-1, -2)  # dP - delta
            if t == len(plan.q_tiles) - 1:
                np.matmul(p.swapaxes(-1, -2), gi[..., :dh], out=dv[:, :, :j1])
                ds *= p  # gradient of the scaled scores
                np.matmul(ds.swapaxes(-1, -2), qi[..., :dh], out=dk[:, :, :j1])
            else:
                dv[:, :, :j1] += p.swapaxes(-1, -2) @ gi[..., :dh]
                ds *= p
                dk[:, :, :j1] += ds.swapaxes(-1, -2) @ qi[..., :dh]
            np.matmul(ds, kc[:, :, :j1, :dh], out=dq[:, :, i0:i1])
        np.multiply(dq, plan.scale, out=_heads(grads[0][sl]))

    plan.run(group, out.shape[0])


def _attend_vjps(argnums, ans, args, kwargs):
    q, k, v, out, state, causal = args

    def vjp(g):
        grads = [np.empty(x.shape, dtype=np.result_type(x, g)) for x in (q, k, v)]
        _attention_backward(q, k, v, out, state, g, causal, grads)
        return [grads[a] for a in argnums]

    return vjp


defvjp_argnums(_attend, _attend_vjps)


@primitive
def _attend_packed(qkv, out, state, causal):
    return out


def _attend_packed_vjp(ans, qkv, out, state, causal):
    def vjp(g):
        grad = np.empty(qkv.shape, dtype=np.result_type(qkv, g))
        views = [qkv[:, :, i] for i in range(3)]
        _attention_backward(*views, out, state, g, causal, [grad[:, :, i] for i in range(3)])
        return grad

    return vjp


defvjp(_attend_packed, _attend_packed_vjp)


def _check_attention(q, k, v):
    qs, ks, vs = np.shape(q), np.shape(k), np.shape(v)
    if ks != vs or qs[:-2] != ks[:-2] or qs[-1] != ks[-1]:
        raise ShapeError(
            "attention needs `q` (..., T, d) and `k`, `v` (..., T_k, d) with the same leading "
            f"axes and width; got shapes {qs}, {ks}, {vs}."
        )


def multi_head_attention(q, k, v, n_heads, causal=False):
    r"""Multi-head scaled dot-product attention of (B, T, d) token arrays.

    Head :math:`h` takes the columns :math:`h d_h, \dots, (h+1) d_h - 1` of each token
    (:math:`d_h = d / n_{heads}`) and computes
    :math:`\mathrm{softmax}(Q_h K_h^\top/\sqrt{d_h} + M)V_h`; the heads' outputs are placed back
    in the same columns. The same function as splitting the heads with a reshape and transpose
    and calling :func:`attention`, without the transposes of whole arrays: the kernel gathers
    the heads of one group of batch items at a time. Sequences longer than one key tile
    (``_K_TILE`` = 256 tokens) are streamed: neither pass stores the (B, heads, T, T) weights
    (see the note above ``_Q_TILE``). Shorter ones keep their weights for the backward pass when
    they fit in ``ATTENTION_WEIGHTS_BYTES`` (128 MiB).

    Parameters
    ----------
    q : (B, T, d) array
    k, v : (B, T_k, d) arrays
    n_heads : int
        Divides d.
    causal : bool
        Token t attends to tokens :math:`\le t` only (needs T = T_k).

    Returns
    -------
    (B, T, d) array
    """
    _check_attention(q, k, v)
    if np.ndim(q) != 3 or np.shape(q)[-1] % n_heads:
        raise ShapeError(
            f"`q` must be (B, T, d) with d divisible by n_heads={n_heads}; got {np.shape(q)}."
        )
    B, T, d = np.shape(q)
    Tk = np.shape(k)[1]
    if causal and Tk != T:
        raise ShapeError(f"causal attention needs as many keys as queries; got {T} and {Tk}.")
    dh = d // n_heads
    q4, k4, v4 = (anp.reshape(a, (B, n, n_heads, dh)) for a, n in ((q, T), (k, Tk), (v, Tk)))
    out, state = _attention_forward(getval(q4), getval(k4), getval(v4), causal)
    return anp.reshape(_attend(q4, k4, v4, out, state, causal), (B, T, d))


def self_attention(qkv, n_heads, causal=False):
    r"""Multi-head self-attention of packed projections: :func:`multi_head_attention` of
    ``qkv[..., :d]``, ``qkv[..., d:2d]``, ``qkv[..., 2d:]``.

    With the three projections computed by one dense layer of width 3d, the kernel reads the
    queries, keys and values from that array (no slices of the whole activations) and its VJP
    writes their gradients into one (B, T, 3d) array, which the dense layer's VJP takes as it is
    (no sum of three input gradients).

    Parameters
    ----------
    qkv : (B, T, 3d) array
    n_heads : int
        Divides d.
    causal : bool
        Token t attends to tokens :math:`\le t` only.

    Returns
    -------
    (B, T, d) array
    """
    if np.ndim(qkv) != 3 or np.shape(qkv)[-1] % (3 * n_heads):
        raise ShapeError(
            f"`qkv` must be (B, T, 3d) with d divisible by n_heads={n_heads}; got {np.shape(qkv)}."
        )
    B, T, d3 = np.shape(qkv)
    d = d3 // 3
    packed = anp.reshape(qkv, (B, T, 3, n_heads, d // n_heads))
    pv = getval(packed)
    out, state = _attention_forward(pv[:, :, 0], pv[:, :, 1], pv[:, :, 2], causal)
    return anp.reshape(_attend_packed(packed, out, state, causal), (B, T, d))


def attention(q, k, v, causal=False):
    r"""Scaled dot-product attention :math:`\mathrm{softmax}(QK^\top/\sqrt{d} + M)V`.

    Computed by the kernel of :func:`multi_head_attention` (one head per leading index), which
    keeps no (T, T_k) weights beyond 256 keys.

    Parameters
    ----------
    q : (B, ..., T, d) or (T, d) array
    k, v : (B, ..., T_k, d) or (T_k, d) arrays
    causal : bool
        Mask :math:`M` with :math:`-\infty` above the diagonal: token t attends to tokens
        :math:`\le t` only.

    Returns
    -------
    array of the shape of ``q``
    """
    _check_attention(q, k, v)
    shape = np.shape(q)
    T, d = shape[-2:]
    Tk = np.shape(k)[-2]
    n = int(np.prod(shape[:-2], dtype=int))
    out = multi_head_attention(
        anp.reshape(q, (n, T, d)), anp.reshape(k, (n, Tk, d)), anp.reshape(v, (n, Tk, d)), 1, causal
    )
    return anp.reshape(out, shape)
