r"""Linear encoders :math:`g(x) = Wx` (+ b): the encoders :math:`g_u(u) = Gu`,
:math:`g_v(v) = Hv` of eq. (38), with ``W`` the matrix G or H."""

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

from .._validation import (
    FloatDtype,
    InstanceOf,
    Integer,
    Optional,
    Real,
    RealArray,
    Traceable,
    validate_params,
)
from ..errors import ShapeError


@validate_params(
    rng=InstanceOf((np.random.Generator,), hint="Pass e.g. np.random.default_rng(0)."),
    n_in=Integer(1, 10**9),
    n_out=Integer(1, 10**9),
    bias=InstanceOf((bool, np.bool_)),
    # entries are scale * N(0, 1): up to 1e30 they stay far inside float32's range (3e38)
    scale=Optional(Real(low=0.0, high=1e30)),
    dtype=FloatDtype(),
)
def init(rng, n_in, n_out, *, bias=False, scale=None, dtype=np.float32):
    r"""Parameters ``{"W": (n_out, n_in)}`` (and ``"b": (n_out,)`` when ``bias``).

    Entries of W are :math:`N(0, s^2)` with :math:`s` = ``scale`` (default
    :math:`1/\sqrt{n_{in}}`); the bias starts at zero.

    Examples
    --------
    >>> import numpy as np
    >>> params = init(np.random.default_rng(0), 3, 2)
    >>> apply(params, np.ones((5, 3))).shape
    (5, 2)
    """
    scale = 1.0 / np.sqrt(n_in) if scale is None else scale
    params = {"W": (scale * rng.standard_normal((n_out, n_in))).astype(dtype)}
    if bias:
        params["b"] = np.zeros(n_out, dtype=dtype)
    return params


@validate_params(
    params=Traceable(InstanceOf((dict,), hint="Build them with linear.init.")), x=RealArray(ndim=2)
)
def apply(params, x):
    """:math:`x W^\\top` (+ b) for a batch ``x`` of shape (N, n_in); returns (N, n_out)."""
    W = getval(params).get("W")
    if W is None or np.ndim(W) != 2 or np.shape(W)[1] != np.shape(x)[1]:
        raise ShapeError(
            f"`params` must hold a matrix W of shape (n_out, {np.shape(x)[1]}) for `x` of shape "
            f"{np.shape(x)}; got W of shape {np.shape(W)}. Build them with linear.init."
        )
    out = anp.dot(x, params["W"].T)
    if "b" in params:
        out = out + params["b"]
    return out
