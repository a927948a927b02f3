r"""Similarities between embeddings: the exponent of the tilting :math:`\rho(u, v)`.

Each function takes a batch of u-embeddings ``z_u`` (n, n_e) and v-embeddings ``z_v`` (m, n_e)
and returns the matrix :math:`S_{ij} = s(z_u^i, z_v^j)` of shape (n, m):

* :func:`cosine`: :math:`\langle \bar g_u, \bar g_v\rangle/\tau` with normalized encoders (eq. 2),
  the exponent of the standard CLIP tilting (14);
* :func:`inner`: :math:`\langle g_u, g_v\rangle/\tau`, unnormalized encoders (eq. 25);
* :func:`neg_half_sq_distance`: :math:`-|g_u - g_v|^2/(2\tau)` (eq. 26).

:func:`paired` gives the diagonal :math:`s(z_u^i, z_v^i)` without forming the matrix. All are
written with ``autograd.numpy`` and keep the dtype of their inputs (float32 in the trainer).
"""

import autograd.numpy as anp

from ._validation import Choice, Real, RealArray, Traceable, validate_params
from .errors import ShapeError

#: Norms below this are clipped before dividing, so a zero embedding gives a zero (not NaN)
#: normalized vector; it is far below the norm of any embedding worth comparing.
NORM_FLOOR = 1e-12

KINDS = ("cosine", "inner", "neg_half_sq_distance")

#: The constraint of every ``temperature`` of the learning half: a finite number > 0 (or a value
#: being differentiated by autograd, which passes unchecked).
TEMPERATURE = Traceable(
    Real(low=0.0, low_open=True, hint="The temperature divides the similarity; 1 means none.")
)
#: Batches of embeddings (n, n_e): real, non-empty; float32 stays float32.
EMBEDDINGS = RealArray(ndim=2)

_PAIR_TABLE = {"z_u": EMBEDDINGS, "z_v": EMBEDDINGS, "temperature": TEMPERATURE}


def _scaled(s, temperature):
    """``s / temperature``, skipping the pass over ``s`` when the temperature is 1."""
    if isinstance(temperature, int | float) and temperature == 1:
        return s
    return s / temperature


def _check_pair(z_u, z_v):
    if anp.ndim(z_u) != 2 or anp.ndim(z_v) != 2 or anp.shape(z_u)[1] != anp.shape(z_v)[1]:
        raise ShapeError(
            "`z_u` and `z_v` must be 2-D arrays (batch, n_e) with the same embedding dimension "
            f"n_e; got shapes {anp.shape(z_u)} and {anp.shape(z_v)}."
        )


@validate_params(z=RealArray())
def normalize(z):
    r"""Rows scaled to unit Euclidean norm, :math:`\bar g = g/|g|` (eq. 2).

    Norms are clipped at :data:`NORM_FLOOR`, so an all-zero row stays zero.
    """
    return _normalize(z)


def _normalize(z):
    norm = anp.sqrt(anp.sum(z * z, axis=-1, keepdims=True))
    return z / anp.maximum(norm, NORM_FLOOR)


@validate_params(_PAIR_TABLE)
def inner(z_u, z_v, temperature=1.0):
    r""":math:`S_{ij} = \langle z_u^i, z_v^j\rangle/\tau` (unnormalized encoders, eq. 25).

    Parameters
    ----------
    z_u : (n, n_e) array
    z_v : (m, n_e) array
    temperature : float, default 1

    Returns
    -------
    (n, m) array

    Examples
    --------
    >>> import numpy as np
    >>> inner(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0], [0.0, 1.0]]))
    array([[11.,  2.]])
    """
    _check_pair(z_u, z_v)
    return _scaled(anp.dot(z_u, z_v.T), temperature)


@validate_params(_PAIR_TABLE)
def cosine(z_u, z_v, temperature=1.0):
    r""":math:`S_{ij} = \langle \bar z_u^i, \bar z_v^j\rangle/\tau` with unit rows (eqs. 2, 5).

    Examples
    --------
    >>> import numpy as np
    >>> cosine(np.array([[2.0, 0.0]]), np.array([[0.0, 5.0], [3.0, 3.0]]), temperature=0.5)
    array([[0.        , 1.41421356]])
    """
    _check_pair(z_u, z_v)
    return _scaled(anp.dot(_normalize(z_u), _normalize(z_v).T), temperature)


@validate_params(_PAIR_TABLE)
def neg_half_sq_distance(z_u, z_v, temperature=1.0):
    r""":math:`S_{ij} = -|z_u^i - z_v^j|^2/(2\tau)` (the quadratic tilting, eq. 26).

    Computed as :math:`\langle z_u^i, z_v^j\rangle - \tfrac12|z_u^i|^2 - \tfrac12|z_v^j|^2`
    (one matrix product) and clipped at 0 from above, which it can only exceed by rounding.

    Examples
    --------
    >>> import numpy as np
    >>> neg_half_sq_distance(np.array([[1.0, 1.0]]), np.array([[1.0, 1.0], [3.0, 1.0]]))
    array([[ 0., -2.]])
    """
    _check_pair(z_u, z_v)
    half_u = 0.5 * anp.sum(z_u * z_u, axis=1)
    half_v = 0.5 * anp.sum(z_v * z_v, axis=1)
    s = anp.dot(z_u, z_v.T) - half_u[:, None] - half_v[None, :]
    return _scaled(anp.minimum(s, 0.0), temperature)


_MATRIX = {"cosine": cosine, "inner": inner, "neg_half_sq_distance": neg_half_sq_distance}


@validate_params(kind=Choice(KINDS))
def get(kind):
    """The similarity-matrix function named ``kind`` (one of :data:`KINDS`)."""
    return _MATRIX[kind]


@validate_params(_PAIR_TABLE, kind=Choice(KINDS))
def matrix(z_u, z_v, kind="cosine", temperature=1.0):
    """:math:`S_{ij} = s(z_u^i, z_v^j)` for the similarity named ``kind``."""
    return _MATRIX[kind].__wrapped__(z_u, z_v, temperature)  # arguments checked above


@validate_params(_PAIR_TABLE, kind=Choice(KINDS))
def paired(z_u, z_v, kind="cosine", temperature=1.0):
    r"""Row-wise similarities :math:`s(z_u^i, z_v^i)`, shape (n,): the diagonal of
    :func:`matrix` without forming it.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> paired(z, z[::-1], kind="inner")
    array([0., 0.])
    """
    if anp.shape(z_u) != anp.shape(z_v) or anp.ndim(z_u) != 2:
        raise ShapeError(
            f"`z_u` and `z_v` must be 2-D arrays of the same shape; got {anp.shape(z_u)} and "
            f"{anp.shape(z_v)}."
        )
    if kind == "cosine":
        z_u, z_v = _normalize(z_u), _normalize(z_v)
    if kind == "neg_half_sq_distance":
        diff = z_u - z_v
        return -0.5 * anp.sum(diff * diff, axis=1) / temperature
    return anp.sum(z_u * z_v, axis=1) / temperature
