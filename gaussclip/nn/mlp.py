"""Fully connected network with ReLU hidden layers (e.g. 784-256-128-10)."""

import itertools

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._validation import (
    FloatDtype,
    InstanceOf,
    IntegerTuple,
    RealArray,
    Traceable,
    validate_params,
)
from ..errors import ShapeError
from .ops import dense


@validate_params(
    rng=InstanceOf((np.random.Generator,), hint="Pass e.g. np.random.default_rng(0)."),
    sizes=IntegerTuple(low=1),
    dtype=FloatDtype(),
)
def init(rng, sizes, *, dtype=np.float32):
    r"""A list of layers ``{"W": (n_in, n_out), "b": (n_out,)}`` for ``sizes`` =
    (n_0, ..., n_L).

    Weights are He-normal, :math:`N(0, 2/n_{in})`, suited to ReLU; biases start at zero.

    Examples
    --------
    >>> import numpy as np
    >>> params = init(np.random.default_rng(0), (4, 8, 3))
    >>> apply(params, np.ones((2, 4), dtype=np.float32)).shape
    (2, 3)
    """
    if len(sizes) < 2:
        raise ShapeError(f"`sizes` must list at least two positive layer widths; got {sizes}.")
    return [
        {
            "W": (np.sqrt(2.0 / n_in) * rng.standard_normal((n_in, n_out))).astype(dtype),
            "b": np.zeros(n_out, dtype=dtype),
        }
        for n_in, n_out in itertools.pairwise(sizes)
    ]


@validate_params(
    params=Traceable(InstanceOf((list, tuple), hint="Build them with mlp.init.")),
    x=RealArray(min_ndim=2),
)
def apply(params, x):
    """The network on a batch ``x`` (N, n_0) (trailing axes are flattened); returns (N, n_L)."""
    width = int(np.prod(np.shape(x)[1:]))
    layers = getval(params)
    if not layers or not all(isinstance(p, dict) and {"W", "b"} <= set(p) for p in layers):
        raise ShapeError("`params` must be the list of layers {'W', 'b'} of mlp.init.")
    if np.shape(layers[0]["W"])[0] != width:
        raise ShapeError(
            f"`x` has {width} features per sample but the first layer takes "
            f"{np.shape(layers[0]['W'])[0]}; got `x` of shape {np.shape(x)}."
        )
    x = anp.reshape(x, (np.shape(x)[0], -1)) if np.ndim(x) != 2 else x
    for layer in params[:-1]:
        x = dense(x, layer["W"], layer["b"], relu=True)
    return dense(x, params[-1]["W"], params[-1]["b"])
