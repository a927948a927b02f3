r"""Hypothesis strategies for gaussclip's objects: SPD matrices, joint Gaussians, encoders, weights.

Everything is *built*, never filtered, and built from numbers Hypothesis draws itself (no
integer seed feeding a NumPy generator), so that a failing example shrinks to a simple one:

* an SPD matrix is :math:`Q\,\mathrm{diag}(\lambda)\,Q^\top` with :math:`\log_{10}\lambda_i`
  drawn in :math:`[0, \log_{10}\kappa]` (so the condition number is at most :math:`\kappa` by
  construction) and :math:`Q` a product of Householder reflections whose vectors are drawn
  entry by entry. Shrinking drives the exponents to 0 and the vectors to 0, that is towards the
  identity: round spectra, no rotation;
* a joint Gaussian is the canonical form :math:`\begin{bmatrix} I & \Sigma \\ \Sigma^\top & I
  \end{bmatrix}` mapped by :math:`T_u = \mathcal C_{uu}^{1/2} U`, :math:`T_v = \mathcal
  C_{vv}^{1/2} V` (:math:`U, V` Householder products), so its canonical correlations are exactly
  the drawn (or prescribed) :math:`\sigma`, which shrink towards 0;
* sizes are drawn with ``st.integers`` and shrink towards ``n = 1``.

The numbers behind one object (spectra, reflection vectors, canonical correlations) come from
*one* ``st.binary`` draw decoded as 8-bit fixed-point numbers, zero bytes decoding to 0.
Hypothesis shrinks bytes towards zero, so the shrink targets above are unchanged, and one draw
instead of one per entry keeps generation fast: Hypothesis spends about as long per drawn
value as the engine spends on a whole closed-form solution, and about 2 us per byte. One byte
per number: log-spectra in steps of 1/255 of their range, canonical correlations in steps of
0.99/255, reflection and encoder entries in steps of 1/128 of theirs.

Hypothesis is an optional dependency of gaussclip: install it with ``pip install
gaussclip[testing]``.

Examples
--------
>>> from hypothesis import given, settings
>>> import gaussclip as gc
>>> from gaussclip.testing.strategies import joint_gaussians
>>> @settings(max_examples=20, database=None)
... @given(joint_gaussians(n_u=2, n_v=3, sigma=[0.9, 0.5]))
... def test_sigma_is_prescribed(mu):
...     assert abs(mu.canonical_correlations() - [0.9, 0.5]).max() < 1e-8
>>> test_sigma_is_prescribed()
"""

import functools
import math

import numpy as np
from scipy.linalg.lapack import dorgqr, dpotrf, dsyevd, dtrtrs

try:
    from hypothesis import strategies as st
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "gaussclip.testing needs Hypothesis, an optional dependency: pip install gaussclip[testing]"
    ) from exc

import gaussclip as gc
from gaussclip._validation import Real, validate_params

__all__ = [
    "DEFAULT_MAX_SIGMA",
    "MAX_CONDITION",
    "canonical_correlations",
    "encoders",
    "invertible_matrices",
    "joint_gaussians",
    "orthogonal_matrices",
    "spd_matrices",
    "spectra",
    "tilting_parameters",
    "weights",
]

#: Default bound on the condition number of SPD matrices and of the blocks C_uu, C_vv.
MAX_CONDITION = 1e6
#: Default largest drawn canonical correlation: close enough to 1 to exercise strong
#: dependence, far enough that the closed forms (which grow like 1 / (1 - sigma)) stay O(100).
#: Prescribe ``sigma`` to go closer to 1.
DEFAULT_MAX_SIGMA = 0.99
#: Default sizes: small dimensions, shrinking to 1.
DEFAULT_SIZES = (1, 4)
#: Householder vectors shorter than this are skipped (the reflection is the identity), so
#: drawn zeros, the shrink target, give no rotation.
_TINY = 1e-150
#: A prescribed canonical correlation must be strictly below 1 (sigma = 1 is a singular
#: joint covariance).
_SIGMA_OPEN = 1.0

#: Bytes per drawn number (see :class:`_Numbers`).
_BYTES = 1


def _size(value, name):
    """A strategy for a dimension given an int or a strategy."""
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise gc.ArgumentTypeError(
            f"`{name}` must be a positive int or a Hypothesis strategy of ints; got {value!r}."
        )
    return st.just(int(value))


@functools.cache
def _blob(count):
    """One Hypothesis draw of ``count`` numbers' worth of bytes (strategies are cached: building
    one costs more than drawing from it)."""
    return st.binary(min_size=_BYTES * count, max_size=_BYTES * count)


class _Numbers:
    """Fixed-point numbers decoded, in order, from bytes Hypothesis drew.

    One byte per number: ``signed`` gives multiples of 1/128 in [-1, 1), ``unit`` multiples of
    1/255 in [0, 1]; zero bytes (where Hypothesis shrinks to) decode to 0 in both.
    """

    def __init__(self, raw):
        self._signed = np.frombuffer(raw, dtype=np.int8) / 128.0
        self._unit = np.frombuffer(raw, dtype=np.uint8) / 255.0
        self._next = 0

    def _take(self, source, shape):
        count = math.prod(shape)
        out = source[self._next : self._next + count].reshape(shape)
        self._next += count
        return out

    def signed(self, *shape):
        return self._take(self._signed, shape)

    def unit(self, *shape):
        return self._take(self._unit, shape)


def _rotation_count(n):
    """Numbers behind :func:`_householder`: n + (n - 1) + ... + 2 entries of its n - 1 vectors."""
    return n * (n + 1) // 2 - 1


def _householder(numbers, n):
    """The product of n - 1 reflections I - 2 w w^T / |w|^2; the j-th vector w acts on the
    last n - j coordinates (nested blocks, as in a QR factorization, so every orthogonal matrix
    is reachable up to signs). Zero vectors, the shrink target, are skipped. Only the n - j
    entries a vector uses are drawn. (See :func:`_householder_products` for how it is formed.)"""
    return _householder_products(((numbers.signed(_rotation_count(n)), n),))[0]


def _householder_products(parts):
    """:func:`_householder` of several drawn sets at once: ``parts`` is a sequence of
    ``(entries, n)``, the entries of one product's vectors; returns the products.

    They are formed by *one* LAPACK ``dorgqr`` call on the block-diagonal matrix of all the
    reflectors, each vector scaled to a unit leading entry (``w / w_0`` with ``tau = 2 w_0^2 /
    |w|^2``: the same reflection), a block's last column a reflector with ``tau = 0`` (the
    identity), so the product is block diagonal with the wanted products as blocks: one call
    and a few array operations instead of a set per product (the per-call overhead, not the
    arithmetic, is the cost at these sizes). Totals below :data:`_LAPACK_MIN_SIZE`, and any
    vector with a zero leading entry but not zero (which that scaling cannot write), use the
    loop."""
    sizes = tuple(n for _, n in parts)
    total = sum(sizes)
    if total >= _LAPACK_MIN_SIZE:
        rows, cols, starts, heads_at, vector_of = _reflector_layout(sizes)
        entries = np.concatenate([e for e, _ in parts]) if len(parts) > 1 else parts[0][0]
        norm2 = np.add.reduceat(entries * entries, starts) if starts.size else starts * 0.0
        heads = entries[starts]
        tau = np.zeros(total)
        if heads.all():  # the usual case: every vector is used and has a nonzero lead
            tau[heads_at] = 2.0 * heads * heads / norm2
        else:
            used = norm2 > _TINY
            if heads[used].all():
                tau[heads_at] = np.where(used, 2.0 * heads * heads / np.where(used, norm2, 1.0), 0)
                heads = np.where(used, heads, 1.0)
            else:
                heads = None
        if heads is not None:
            vectors = np.zeros((total, total))
            vectors[rows, cols] = entries / heads[vector_of]
            q, _, info = dorgqr(vectors, tau, overwrite_a=True)
            if info == 0:
                out, offset = [], 0
                for n in sizes:
                    out.append(q[offset : offset + n, offset : offset + n])
                    offset += n
                return out
    return [_householder_loop(e, n) for e, n in parts]


#: From this total size on :func:`_householder_products` calls LAPACK (below it the loop is as
#: fast).
_LAPACK_MIN_SIZE = 3


@functools.cache
def _reflector_layout(sizes):
    """Where the drawn entries of :func:`_householder_products`'s vectors go in LAPACK's
    block-diagonal matrix of reflectors (block after block; vector j of a block of size n at
    offset o in column o + j, rows o + j to o + n - 1), where each vector starts in the
    entries, the column of each vector and the vector of each entry."""
    rows, cols, starts, columns, vector_of, offset, start = [], [], [], [], [], 0, 0
    for n in sizes:
        for j in range(n - 1):
            rows += range(offset + j, offset + n)
            cols += [offset + j] * (n - j)
            vector_of += [len(starts)] * (n - j)
            starts.append(start)
            columns.append(offset + j)
            start += n - j
        offset += n
    out = tuple(np.array(x, dtype=np.intp) for x in (rows, cols, starts, columns, vector_of))
    for array in out:
        array.flags.writeable = False
    return out


def _householder_loop(entries, n):
    """:func:`_householder` one reflection at a time (q <- q H_j, j = 0, ..., n - 2)."""
    q = np.eye(n)
    start = 0
    for j in range(n - 1):
        w = entries[start : start + n - j]  # the reflection acts on coordinates j, ..., n - 1
        start += n - j
        norm2 = float(w @ w)
        if norm2 > _TINY:
            block = q[:, j:]
            block -= (block @ w)[:, None] * (w * (2.0 / norm2))
    return q


def _spectrum_count(n):
    return n + 1


#: The constraint on every ``max_condition`` argument.
_CONDITION = Real(low=1.0, hint="It bounds a condition number, which is at least 1.")


def _log_condition(max_condition):
    return float(np.log10(_CONDITION(max_condition, "max_condition")))


def _spectrum(numbers, n, top, scale=True):
    """10^(x_i + y): x_i in [0, top], overall y in [-2, 2] (or 0); all ones when shrunk."""
    exponents = numbers.unit(n) * top
    overall = 2.0 * numbers.signed(1)[0] if scale else (numbers.signed(1)[0] * 0.0)
    return 10.0 ** (exponents + overall)


@st.composite
def _sized(draw, sizes, count, build):
    """Draw a size m, then one blob of ``count(m)`` numbers, and return ``build(numbers, m)``.

    (Plain functions, not ``.map`` / ``.flatmap`` with lambdas: Hypothesis describes every new
    mapped strategy by reading its lambda's source, which costs more than the whole example.)
    """
    m = draw(sizes)
    return build(_Numbers(draw(_blob(count(m)))), m)


def orthogonal_matrices(n):
    r"""Orthogonal ``(n, n)`` matrices as products of ``n - 1`` Householder reflections.

    The reflection vectors are drawn by Hypothesis (fixed-point entries in [-1, 1)), so the
    matrix shrinks to the identity (every vector 0). The reflections act on nested trailing
    coordinate blocks, as in a QR factorization, so every orthogonal matrix is reachable up to
    the signs of its columns.

    Parameters
    ----------
    n : int or SearchStrategy of int
        The size.

    Returns
    -------
    SearchStrategy of (n, n) ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> q = find(orthogonal_matrices(3), lambda q: q[0, 0] < 0.5)  # shrinks to a simple one
    >>> bool(np.allclose(q @ q.T, np.eye(3)))
    True
    """
    return _sized(_size(n, "n"), _rotation_count, _householder)


def spectra(n, *, max_condition=MAX_CONDITION, scale=True):
    r"""Positive spectra of length ``n`` with condition :math:`\max\lambda/\min\lambda \le`
    ``max_condition``.

    :math:`\lambda_i = s\,10^{x_i}` with :math:`x_i \in [0, \log_{10}\kappa]` and (when
    ``scale``) an overall :math:`s = 10^{y}`, :math:`y \in [-2, 2]`. Shrinks to all ones.

    Parameters
    ----------
    n : int or SearchStrategy of int
    max_condition : float
        :math:`\kappa \ge 1`.
    scale : bool
        Draw the overall scale too (``False``: the smallest possible eigenvalue is 1).

    Returns
    -------
    SearchStrategy of (n,) ndarray

    Examples
    --------
    >>> from hypothesis import find
    >>> find(spectra(3, max_condition=100.0), lambda lam: True)  # the shrink target
    array([1., 1., 1.])
    """
    top = _log_condition(max_condition)
    return _sized(
        _size(n, "n"), _spectrum_count, functools.partial(_spectrum, top=top, scale=scale)
    )


def _spd(numbers, n, top):
    lam = _spectrum(numbers, n, top)
    q = _householder(numbers, n)
    return _congruence(q, lam), lam, q


def _congruence(q, lam):
    """Q diag(lam) Q^T, exactly symmetric."""
    m = (q * lam) @ q.T
    return 0.5 * (m + m.T)


def _spd_count(n):
    return _spectrum_count(n) + _rotation_count(n)


def spd_matrices(n, *, max_condition=MAX_CONDITION):
    r"""Symmetric positive definite ``(n, n)`` matrices :math:`Q\,\mathrm{diag}(\lambda)\,Q^\top`.

    The spectrum is that of :func:`spectra` (condition number at most ``max_condition`` by
    construction, never by filtering) and :math:`Q` that of :func:`orthogonal_matrices`.
    Failing examples shrink towards the identity.

    Parameters
    ----------
    n : int or SearchStrategy of int
        The size.
    max_condition : float
        Upper bound on :math:`\lambda_{\max}/\lambda_{\min}`.

    Returns
    -------
    SearchStrategy of (n, n) ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import find
    >>> find(spd_matrices(2), lambda m: True)  # the shrink target
    array([[1., 0.],
           [0., 1.]])
    >>> m = find(spd_matrices(3, max_condition=100.0), lambda m: m[0, 1] > 0.1)
    >>> lam = np.linalg.eigvalsh(m)
    >>> bool(lam.min() > 0 and lam.max() / lam.min() <= 100.0 * (1 + 1e-9))
    True
    """
    top = _log_condition(max_condition)
    return _sized(_size(n, "n"), _spd_count, lambda numbers, m: _spd(numbers, m, top)[0])


def _invertible_count(n):
    return _spectrum_count(n) + 2 * _rotation_count(n)


def _invertible(numbers, n, top):
    s = _spectrum(numbers, n, top)
    return (_householder(numbers, n) * s) @ _householder(numbers, n)


def invertible_matrices(n, *, max_condition=10.0):
    r"""Invertible ``(n, n)`` matrices :math:`Q_1\,\mathrm{diag}(s)\,Q_2` with singular values
    :math:`s` of condition at most ``max_condition`` (changes of variables for invariance
    properties). Shrink to the identity.

    Returns
    -------
    SearchStrategy of (n, n) ndarray
    """
    top = _log_condition(max_condition)

    return _sized(_size(n, "n"), _invertible_count, functools.partial(_invertible, top=top))


@validate_params(max_sigma=Real(low=0.0, high=1.0, high_open=True))
def canonical_correlations(*, max_sigma=DEFAULT_MAX_SIGMA, extremes=False):
    r"""A strategy for one canonical correlation :math:`\sigma \in [0,` ``max_sigma`` :math:`]`.

    Parameters
    ----------
    max_sigma : float
        Largest value, < 1.
    extremes : bool
        Also draw values within 1e-6 of 0 and of 1 (``1e-7``, ``1e-12``, ``1 - 1e-7``,
        ``1 - 1e-9``), where rounding is hardest. Shrinks towards 0.

    Returns
    -------
    SearchStrategy of float
    """
    plain = st.floats(0.0, float(max_sigma), allow_subnormal=False)
    if not extremes:
        return plain
    return st.one_of(plain, st.sampled_from([1e-12, 1e-7, 1.0 - 1e-7, 1.0 - 1e-9]))


def _prescribed_sigma(sigma):
    values = np.asarray(sigma, dtype=float)
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise gc.ShapeError(
            f"`sigma` must be a 1-D array of canonical correlations or a Hypothesis strategy; "
            f"got {sigma!r}."
        )
    if values.size and (values.min() < 0.0 or values.max() >= _SIGMA_OPEN):
        raise gc.DomainError(
            f"`sigma` (canonical correlations) must lie in [0, 1); got {values.tolist()}."
        )
    return np.sort(values)[::-1]


def _draw_sigma(draw, sigma, k):
    """k canonical correlations, descending, padded with zeros."""
    out = np.zeros(k)
    if sigma is None:
        sigma = canonical_correlations()
    if isinstance(sigma, st.SearchStrategy):
        first = draw(sigma)
        if np.ndim(first) == 0:  # a strategy of floats: one draw per correlation
            values = [first] + [draw(sigma) for _ in range(k - 1)]
        else:
            values = first
        values = _prescribed_sigma(values)
    else:
        values = sigma
    if values.size > k:
        raise gc.DomainError(
            f"`sigma` has {values.size} canonical correlations but min(n_u, n_v) = {k}; draw "
            "larger sizes or fewer correlations."
        )
    out[: values.size] = np.sort(values)[::-1]
    return out


def _joint_count(a, b, drawn_sigma=True, mean=False):
    """How many numbers :func:`_draw_joint` takes for sizes (a, b)."""
    count = _spd_count(a) + _spd_count(b) + _rotation_count(a) + _rotation_count(b)
    return count + (min(a, b) if drawn_sigma else 0) + (a + b if mean else 0)


def _draw_joint(draw, a, b, sigma, top, mean=False, mean_elements=None, numbers=None):
    """One JointGaussian of sizes (a, b): ``sigma`` (descending, length min(a, b)) or None to
    draw it from the blob, block conditions <= 10^top, ``mean`` drawn from the blob when True.
    ``numbers`` (a :class:`_Numbers` with at least :func:`_joint_count` left) replaces the
    blob draw, so a caller can draw one blob for several objects."""
    k = min(a, b)
    if numbers is None:
        numbers = _Numbers(draw(_blob(_joint_count(a, b, sigma is None, mean))))
    s = np.sort(numbers.unit(k) * DEFAULT_MAX_SIGMA)[::-1] if sigma is None else sigma
    # the numbers in the order of _spd(a), _spd(b), then the rotations U and V
    lam_u, rot_u = _spectrum(numbers, a, top), numbers.signed(_rotation_count(a))
    lam_v, rot_v = _spectrum(numbers, b, top), numbers.signed(_rotation_count(b))
    rot_u2, rot_v2 = numbers.signed(_rotation_count(a)), numbers.signed(_rotation_count(b))
    q_u, q_v, p_u, p_v = _householder_products(((rot_u, a), (rot_v, b), (rot_u2, a), (rot_v2, b)))
    t_u = (q_u * np.sqrt(lam_u)) @ p_u
    t_v = (q_v * np.sqrt(lam_v)) @ p_v
    cov = np.empty((a + b, a + b))  # [[C_uu, C_uv], [C_vu, C_vv]], filled in place
    cov[:a, :a], cov[a:, a:] = _congruence(q_u, lam_u), _congruence(q_v, lam_v)
    cov[:a, a:] = (t_u[:, :k] * s) @ t_v[:, :k].T
    cov[a:, :a] = cov[:a, a:].T
    centre = None
    if mean:
        centre = 10.0 * numbers.signed(a + b)
    elif mean_elements is not None:
        centre = np.array([draw(mean_elements) for _ in range(a + b)], dtype=float)
    return gc.JointGaussian(cov, a, mean=centre)


def joint_gaussians(
    n_u=st.integers(*DEFAULT_SIZES),  # noqa: B008 - strategies are immutable
    n_v=st.integers(*DEFAULT_SIZES),  # noqa: B008
    *,
    sigma=None,
    max_condition=MAX_CONDITION,
    mean=False,
):
    r"""Joint Gaussians :class:`gaussclip.JointGaussian` with prescribed or drawn canonical
    correlations.

    The covariance is

    .. math:: \mathcal C = T \begin{bmatrix} I_{n_u} & \Sigma \\ \Sigma^\top & I_{n_v}
              \end{bmatrix} T^\top, \qquad T = \mathrm{diag}(Q_u\Lambda_u^{1/2} U,\;
              Q_v\Lambda_v^{1/2} V),

    so :math:`\mathcal C_{uu} = Q_u\Lambda_u Q_u^\top` (condition at most ``max_condition``,
    likewise :math:`\mathcal C_{vv}`), and the canonical correlations (the singular values of
    :math:`\mathcal C_{uu}^{-1/2}\mathcal C_{uv}\mathcal C_{vv}^{-1/2}`, Theorem 5.6) are exactly
    :math:`\sigma`. The joint condition number grows like :math:`1/(1-\sigma_1)`.

    Parameters
    ----------
    n_u, n_v : int or SearchStrategy of int
        Dimensions of u and v (default: 1 to 4, shrinking to 1). When ``sigma`` is an array of
        length m, drawn sizes below m are raised to m.
    sigma : None, array_like or SearchStrategy
        ``None``: each of the :math:`\min(n_u, n_v)` correlations drawn from
        :func:`canonical_correlations` (in [0, 0.99]). An array: the largest canonical
        correlations (in [0, 1), values within 1e-6 of 0 or 1 allowed), padded with zeros. A
        strategy of floats: one draw per correlation; a strategy of arrays: the whole vector.
    max_condition : float
        Bound on the condition numbers of :math:`\mathcal C_{uu}` and :math:`\mathcal C_{vv}`.
    mean : bool or SearchStrategy
        ``False``: zero mean. ``True``: each coordinate drawn in [-10, 10] (shrinks to 0). A
        strategy of floats: one draw per coordinate.

    Returns
    -------
    SearchStrategy of gaussclip.JointGaussian

    Examples
    --------
    The simplest joint Gaussian (what a failing example shrinks to), then one with prescribed
    canonical correlations within 1e-6 of 1 and of 0:

    >>> import numpy as np
    >>> from hypothesis import find, strategies as st
    >>> find(joint_gaussians(), lambda mu: True).cov
    array([[1., 0.],
           [0., 1.]])
    >>> strategy = joint_gaussians(n_u=2, n_v=st.integers(2, 3), sigma=[1 - 1e-7, 1e-7])
    >>> mu = find(strategy, lambda mu: mu.n_v == 3)
    >>> bool(np.allclose(mu.canonical_correlations(), [1 - 1e-7, 1e-7], rtol=0, atol=1e-9))
    True
    """
    fixed = None if sigma is None or isinstance(sigma, st.SearchStrategy) else sigma
    m = 0 if fixed is None else _prescribed_sigma(fixed).size
    if fixed is not None:
        fixed = _prescribed_sigma(fixed)
        for value, name in ((n_u, "n_u"), (n_v, "n_v")):
            if isinstance(value, int | np.integer) and not isinstance(value, bool) and value < m:
                raise gc.DomainError(
                    f"`{name}` = {value} is below len(sigma) = {m}: there are min(n_u, n_v) "
                    "canonical correlations."
                )
    sizes_u, sizes_v = _size(n_u, "n_u"), _size(n_v, "n_v")
    top = _log_condition(max_condition)
    if isinstance(mean, st.SearchStrategy):
        mean_elements = mean
    elif mean is True or mean is False:
        mean_elements = None
    else:
        raise gc.ArgumentTypeError(f"`mean` must be a bool or a Hypothesis strategy; got {mean!r}.")

    @st.composite
    def build(draw):
        a = max(draw(sizes_u), m)
        b = max(draw(sizes_v), m)
        values = (
            None
            if sigma is None
            else _draw_sigma(draw, sigma if fixed is None else fixed, min(a, b))
        )
        return _draw_joint(draw, a, b, values, top, mean is True, mean_elements)

    return build()


def _solve_triangular(factor, b, lower=True, trans=0):
    """``scipy.linalg.solve_triangular`` for float64 triangular factors: the same LAPACK routine
    (``dtrtrs``) called directly, without SciPy's per-call overhead (which costs more than the
    solve at the sizes drawn here)."""
    x, info = dtrtrs(factor, b, lower=int(lower), trans=1 if trans in ("T", 1) else 0)
    if info != 0:  # pragma: no cover - Cholesky factors of SPD blocks are nonsingular
        raise np.linalg.LinAlgError(f"dtrtrs failed with info = {info}")
    return x


def _cholesky(matrix):
    """``np.linalg.cholesky`` of a float64 symmetric positive definite matrix: LAPACK ``dpotrf``
    called directly (NumPy's wrapper took about five times as long at n = 5: 9.7 against 1.9 us)."""
    factor, info = dpotrf(matrix, lower=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotrf failed with info = {info}: not positive definite")
    return factor


def _eigvalsh(matrix):
    """``np.linalg.eigvalsh`` of a float64 symmetric matrix (ascending): LAPACK ``dsyevd``
    without eigenvectors, called directly."""
    values, _, info = dsyevd(matrix, compute_v=0, lower=1)
    if info != 0:  # pragma: no cover - dsyevd converges on finite symmetric input
        raise np.linalg.LinAlgError(f"dsyevd failed with info = {info}")
    return values


@functools.lru_cache(maxsize=8)
def _cholesky_factors(mu):
    """The Cholesky factors ``(L_u, L_v)`` of ``mu``'s blocks C_uu = L_u L_u^T, C_vv likewise,
    computed once per drawn ``mu`` (keyed by identity: the encoders drawn for an example and the
    checks of the properties share them; a few are kept). Read-only."""
    out = _cholesky(mu.Cuu), _cholesky(mu.Cvv)
    for factor in out:
        factor.flags.writeable = False
    return out


def _unwhiten(x, factor):
    """``x L^{-1}`` for a Cholesky factor ``L`` (a triangular solve)."""
    return _solve_triangular(factor, x.T, lower=True, trans="T").T


def _draw_encoders(draw, mu, r, max_norm=None, numbers=None):
    if numbers is None:
        numbers = _Numbers(draw(_blob(r * (mu.n_u + mu.n_v))))
    g = 2.0 * numbers.signed(r, mu.n_u)
    h = 2.0 * numbers.signed(r, mu.n_v)
    if max_norm is not None:
        norm = np.linalg.norm(g.T @ h, 2)
        if norm > max_norm:
            factor = np.sqrt(max_norm / norm)
            g, h = g * factor, h * factor
    factor_u, factor_v = _cholesky_factors(mu)
    return _unwhiten(g, factor_u), _unwhiten(h, factor_v)


def encoders(mu, rank=None, *, max_norm=None):
    r"""Linear encoders ``(G, H)`` of shapes ``(n_e, n_u)``, ``(n_e, n_v)`` for a joint Gaussian.

    Entries are drawn in whitened coordinates, :math:`G = \tilde G L_u^{-1}`, :math:`H =
    \tilde H L_v^{-1}` with :math:`\mathcal C_{uu} = L_u L_u^\top` and the entries of
    :math:`\tilde G, \tilde H` in [-2, 2], so the draws are as informative at every scale of the
    data. Shrinks to ``G = H = 0``.

    Parameters
    ----------
    mu : gaussclip.JointGaussian
        Fixes ``n_u``, ``n_v`` and the whitening.
    rank : None, int or SearchStrategy of int
        The embedding dimension :math:`n_e` (``None``: drawn in :math:`[1, \min(n_u, n_v)]`).
    max_norm : float, optional
        If given, rescale so that the whitened :math:`\|\mathcal C_{uu}^{1/2} A\,
        \mathcal C_{vv}^{1/2}\|_2 \le` ``max_norm`` with :math:`A = G^\top H`; ``max_norm < 1``
        makes the inner-product tilted model (40) exist (Corollary 5.7's domain).

    Returns
    -------
    SearchStrategy of (G, H)

    Examples
    --------
    >>> import numpy as np
    >>> import gaussclip as gc
    >>> from hypothesis import find
    >>> mu = gc.JointGaussian([[2.0, 0.5], [0.5, 1.0]], n_u=1)
    >>> G, H = find(encoders(mu, rank=1, max_norm=0.9), lambda gh: abs(gh[0][0, 0]) > 0.1)
    >>> G.shape, H.shape
    ((1, 1), (1, 1))
    >>> bool(abs(np.sqrt(2.0) * G[0, 0] * H[0, 0]) <= 0.9)  # whitened |A| <= max_norm
    True
    """
    k = min(mu.n_u, mu.n_v)
    ranks = st.integers(1, k) if rank is None else _size(rank, "rank")

    @st.composite
    def build(draw):
        return _draw_encoders(draw, mu, draw(ranks), max_norm)

    return build()


def tilting_parameters(mu, tilting="quadratic", rank=None, *, max_norm=0.95):
    r"""Realizable parameters ``{"A": ..., "B": ..., "C": ...}`` of a tilting for ``mu``.

    Realizable means they come from encoders: :math:`A = G^\top H`, :math:`B = G^\top G`,
    :math:`C = H^\top H` (eq. 47) for ``"quadratic"`` (every such triple gives a Gaussian model),
    and :math:`A = G^\top H` with whitened norm at most ``max_norm`` < 1 for ``"inner"`` (so the
    model (40) exists); ``B`` and ``C`` are then ``None``.

    Parameters
    ----------
    mu : gaussclip.JointGaussian
    tilting : {"inner", "quadratic"}
    rank : None, int or SearchStrategy of int
        Embedding dimension of the underlying encoders (see :func:`encoders`).
    max_norm : float
        Whitened spectral-norm bound for ``"inner"``.

    Returns
    -------
    SearchStrategy of dict

    Examples
    --------
    >>> import gaussclip as gc
    >>> from hypothesis import find
    >>> mu = gc.JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    >>> p = find(tilting_parameters(mu, "quadratic"), lambda p: p["B"][0, 0] > 0.5)
    >>> sorted(p), bool(p["A"][0, 0] ** 2 <= p["B"][0, 0] * p["C"][0, 0] + 1e-12)
    (['A', 'B', 'C'], True)
    """
    _check_tilting(tilting)
    k = min(mu.n_u, mu.n_v)
    ranks = st.integers(1, k) if rank is None else _size(rank, "rank")

    @st.composite
    def build(draw):
        return _draw_parameters(draw, mu, tilting, draw(ranks), max_norm)

    return build()


def _check_tilting(tilting):
    if tilting not in ("inner", "quadratic"):
        raise gc.OptionError(
            f"`tilting` must be 'inner' or 'quadratic' (the Gaussian tiltings); got {tilting!r}."
        )


def _draw_parameters(draw, mu, tilting, r, max_norm=0.95, numbers=None):
    """Realizable {A, B, C} from encoders of r rows (see :func:`tilting_parameters`);
    ``numbers`` as in :func:`_draw_encoders`."""
    if tilting == "inner":
        g, h = _draw_encoders(draw, mu, r, max_norm, numbers)
        return {"A": g.T @ h, "B": None, "C": None}
    g, h = _draw_encoders(draw, mu, r, numbers=numbers)
    return {"A": g.T @ h, "B": g.T @ g, "C": h.T @ h}  # what gc.encoder_products returns


def _not_both_zero(w):
    return (1.0, 1.0) if w[0] + w[1] == 0.0 else w


@validate_params(max_weight=Real(low=0.0, low_open=True))
def weights(*, presets=True, max_weight=4.0):
    r"""Loss weights :math:`(\lambda_u, \lambda_v)`, both :math:`\ge 0`, not both 0.

    Parameters
    ----------
    presets : bool
        Draw the paper's (1, 1) (CLIP, the shrink target), (2, 0) and (0, 2) as well as free pairs.
    max_weight : float
        Upper bound of each free weight.

    Returns
    -------
    SearchStrategy of (float, float)

    Examples
    --------
    >>> from hypothesis import find
    >>> find(weights(), lambda w: True)  # the shrink target is CLIP
    (1.0, 1.0)
    >>> find(weights(), lambda w: w[0] > 2.5)
    (3.0, 0.0)
    """
    free = st.tuples(
        st.floats(0.0, max_weight, allow_subnormal=False),
        st.floats(0.0, max_weight, allow_subnormal=False),
    ).map(_not_both_zero)
    if not presets:
        return free
    return st.one_of(st.sampled_from([(1.0, 1.0), (2.0, 0.0), (0.0, 2.0)]), free)
