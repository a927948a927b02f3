r"""Linear encoders :math:`g(x) = Wx` (+ b): the encoders :math:`g_u(u) = Gu`,
:math:`g_v(v) = Hv` of eq. (38), with ``W`` the matrix G or H."""

import autograd.numpy as anp
import numpy as np

from .._validation import (
    FloatDtype,
    InstanceOf,
    Integer,
    Optional,
    Real,
    RealArray,
    validate_params,
)


@validate_params(
    rng=InstanceOf((np.random.Generator,), hint="Pass e.g. np.random.default_rng(0)."),
    n_in=Integer(1, 10**9),
    n_out=Integer(1, 10**9),
    bias=InstanceOf((bool, np.bool_)),
    scale=Optional(Real(low=0.0)),
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


@validate_params(x=RealArray(ndim=2, finite=False))
def apply(params, x):
    """:math:`x W^\\top` (+ b) for a batch ``x`` of shape (N, n_in); returns (N, n_out)."""
    out = anp.dot(x, params["W"].T)
    if "b" in params:
        out = out + params["b"]
    return out
