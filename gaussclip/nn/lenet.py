r"""LeNet-5 (LeCun, Bottou, Bengio and Haffner 1998) for 28 x 28 images, with ReLU and max
pooling as in Section 6.2:

=====================  ==================================  =================
layer                  operation                           output
=====================  ==================================  =================
C1                     5x5 conv, 6 maps, zero padding 2    28 x 28 x 6
S2                     2x2 max pool                        14 x 14 x 6
C3                     5x5 conv, 16 maps                   10 x 10 x 16
S4                     2x2 max pool                        5 x 5 x 16
F5, F6, output         fully connected 400-120-84-n_out
=====================  ==================================  =================

Padding 2 plays the role of the original's 32 x 32 input frame. Every layer but the last is
followed by ReLU. Convolutions are im2col matrix products and pooling keeps the first
maximum (:mod:`gaussclip.nn.ops`). Inside, images are (channels, height, width, batch); the
flattening before F5 takes (channel, row, column) order, as PyTorch's ``Flatten`` of NCHW.
"""

import autograd.numpy as anp
import numpy as np

from .._validation import FloatDtype, InstanceOf, Integer, RealArray, validate_params
from ..errors import ShapeError
from .ops import conv2d, dense, max_pool, relu

_CONVS = (("conv1", 1, 6), ("conv2", 6, 16))
_DENSE = (("fc1", 400, 120), ("fc2", 120, 84))


@validate_params(
    rng=InstanceOf((np.random.Generator,), hint="Pass e.g. np.random.default_rng(0)."),
    n_out=Integer(1, 10**7),
    dtype=FloatDtype(),
)
def init(rng, n_out=10, *, dtype=np.float32):
    """Parameters (a dict of conv kernels (O, C, 5, 5), dense weights (n_in, n_out), biases),
    He-normal weights and zero biases.

    Examples
    --------
    >>> import numpy as np
    >>> params = init(np.random.default_rng(0))
    >>> apply(params, np.zeros((2, 28, 28), dtype=np.float32)).shape
    (2, 10)
    """

    def he(shape, fan_in):
        return (np.sqrt(2.0 / fan_in) * rng.standard_normal(shape)).astype(dtype)

    params = {}
    for name, c_in, c_out in _CONVS:
        params[name] = {"W": he((c_out, c_in, 5, 5), 25 * c_in), "b": np.zeros(c_out, dtype)}
    for name, n_in, n_hidden in (*_DENSE, ("out", 84, int(n_out))):
        params[name] = {"W": he((n_in, n_hidden), n_in), "b": np.zeros(n_hidden, dtype)}
    return params


@validate_params(x=RealArray())
def apply(params, x):
    """Logits (N, n_out) for images ``x`` of shape (N, 28, 28) or (N, 1, 28, 28)."""
    if np.ndim(x) == 4 and np.shape(x)[1] == 1:
        x = anp.reshape(x, (np.shape(x)[0], *np.shape(x)[2:]))
    if np.shape(x)[1:] != (28, 28):
        raise ShapeError(f"LeNet-5 takes images (N, 28, 28) or (N, 1, 28, 28); got {np.shape(x)}.")
    x = anp.reshape(anp.transpose(x, (1, 2, 0)), (1, 28, 28, np.shape(x)[0]))  # (C, H, W, N)
    # ReLU after pooling: relu(max(.)) = max(relu(.)) since ReLU is increasing, with the same
    # gradient, and the mask is applied to a tensor four times smaller
    h = relu(max_pool(conv2d(x, params["conv1"]["W"], params["conv1"]["b"], pad=2)))
    h = relu(max_pool(conv2d(h, params["conv2"]["W"], params["conv2"]["b"])))
    h = anp.transpose(anp.reshape(h, (400, np.shape(h)[-1])))  # (N, 400)
    for name, _, _ in _DENSE:
        h = dense(h, params[name]["W"], params[name]["b"], relu=True)
    return dense(h, params["out"]["W"], params["out"]["b"])
