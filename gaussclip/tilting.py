r"""The learned model: a tilting of the product of marginals :math:`\mu_u\otimes\mu_v`.

With linear encoders :math:`g_u(u) = G(u - m_u)`, :math:`g_v(v) = H(v - m_v)` (centred affine
encoders, footnote 4) the two Gaussian tiltings of Section 5 give Gaussian models :math:`\nu`
with the mean of :math:`\mu` and the precision

* inner tilting :math:`\exp\langle g_u, g_v\rangle` (eq. 40), :math:`A = G^\top H`:

  .. math:: \mathcal C_\theta^{-1} = \begin{bmatrix}\mathcal C_{uu}^{-1} & -A \\
            -A^\top & \mathcal C_{vv}^{-1}\end{bmatrix}

* quadratic tilting :math:`\exp(-\tfrac12|g_u - g_v|^2)` (eq. 47), with also
  :math:`B = G^\top G`, :math:`C = H^\top H`:

  .. math:: \mathcal C_\theta^{-1} = \begin{bmatrix}\mathcal C_{uu}^{-1} + B & -A \\
            -A^\top & \mathcal C_{vv}^{-1} + C\end{bmatrix}

Their conditionals (41), (48) are Gaussian even when the joint model cannot be normalized.

Everything is computed in the canonical coordinates of :mod:`gaussclip.canonical`, where the
precision reads :math:`\begin{bmatrix} P & -A' \\ -A'^\top & Q\end{bmatrix}` with
:math:`P = I + B'`, :math:`Q = I + C'`. The model exists exactly when :math:`P \succ 0`,
:math:`Q \succ 0` and :math:`\|P^{-1/2}A'Q^{-1/2}\|_2 < 1` (for the inner tilting:
:math:`\|\mathcal C_{uu}^{1/2}A\,\mathcal C_{vv}^{1/2}\|_2 < 1`); this is decided on those
numbers directly, never by a relative eigenvalue cutoff on a product matrix, and the model is
built from the singular values :math:`a_i < 1` of :math:`P^{-1/2}A'Q^{-1/2}`, which are its
canonical correlations.
"""

from dataclasses import dataclass

import numpy as np

from ._validation import Array, Choice, InstanceOf, Optional, fail, validate_params
from .canonical import Canonical, Whitening
from .errors import DomainError, OptionError, ShapeError
from .gaussian import Gaussian, JointGaussian
from .linalg import block_2x2, cholesky, eigh, singular_values, solve_lower, svd

TILTINGS = ("inner", "quadratic", "cosine")
GAUSSIAN_TILTINGS = ("inner", "quadratic")

_MU = InstanceOf((JointGaussian,), hint="E.g. gc.JointGaussian(cov, n_u).")
_MATRIX = Optional(Array(ndim=2))
_TILTING = Optional(Choice(GAUSSIAN_TILTINGS))
_SIDE = Choice(("u", "v"))


@validate_params(G=Array(ndim=2), H=Array(ndim=2))
def encoder_products(G, H):
    r"""The products :math:`A = G^\top H`, :math:`B = G^\top G`, :math:`C = H^\top H`.

    Parameters
    ----------
    G : (n_e, n_u) array_like
    H : (n_e, n_v) array_like

    Returns
    -------
    A : (n_u, n_v) array, B : (n_u, n_u) array, C : (n_v, n_v) array

    Raises
    ------
    DomainError
        When a product overflows float64.
    """
    return _encoder_products(G, H)


def _same_rows(G, H):
    if G.shape[0] != H.shape[0]:
        raise ShapeError(
            f"`G` and `H` must have the same number of rows (the embedding dimension n_e); "
            f"got {G.shape} and {H.shape}."
        )


def _encoder_products(G, H):
    """:func:`encoder_products` on float64 2-D arrays already checked (the unchecked kernel)."""
    _same_rows(G, H)
    with np.errstate(over="ignore", invalid="ignore"):
        out = G.T @ H, G.T @ G, H.T @ H
    if not all(np.isfinite(x).all() for x in out):
        raise DomainError(
            "`G` and `H` are too large: their products G^T H, G^T G, H^T H overflow float64. "
            "Rescale the encoders."
        )
    return out


def resolve_tilting(tilting, B, C):
    """The tilting: ``tilting`` when given; otherwise ``"inner"`` when ``B`` and ``C`` are both
    None and ``"quadratic"`` when either is given (the documented backward-compatible default)."""
    if tilting is None:
        return "inner" if B is None and C is None else "quadratic"
    return tilting


def _check_encoders(mu, G, H, A, B, C):
    """Encoders given together, without products, with n_u and n_v columns."""
    if G is None or H is None or A is not None or B is not None or C is not None:
        raise OptionError(
            "give either the encoders `G` and `H` together, or the products `A` (and `B`, "
            "`C` for the quadratic tilting); got a mixture."
        )
    if G.shape[1] != mu.n_u or H.shape[1] != mu.n_v:
        raise ShapeError(
            f"`G` and `H` must have shapes (n_e, {mu.n_u}) and (n_e, {mu.n_v}); got "
            f"{G.shape} and {H.shape}."
        )
    _same_rows(G, H)


def check_parameters(mu, tilting, A=None, B=None, C=None):
    """Validate the products of a Gaussian tilting and return ``(A, B, C)``.

    ``A`` is required, with ``B``, ``C`` for the quadratic tilting (a missing one means zero);
    for the inner tilting ``B`` and ``C`` are ``None``. (Encoders go through
    :func:`canonical_parameters`.) The arrays must come converted by the caller's constraint
    table (``Optional(Array(ndim=2))``: float64, finite, 2-D); every public caller has one, so
    they are not converted again here.
    """
    if A is None:
        raise OptionError("give the parameter `A` (or the encoders `G` and `H`).")
    if A.shape != (mu.n_u, mu.n_v):
        fail(ShapeError, "A", f"a real array of shape ({mu.n_u}, {mu.n_v}) (n_u, n_v)", A)
    if tilting == "inner":
        if B is not None or C is not None:
            raise OptionError(
                "`B` and `C` belong to the quadratic tilting; the inner tilting exp(<Gu, Hv>) "
                "depends on A = G^T H only. Pass tilting='quadratic' or drop B and C."
            )
        return A, None, None
    out = []
    for name, M, n in (("B", B, mu.n_u), ("C", C, mu.n_v)):
        if M is None:
            out.append(np.zeros((n, n)))
            continue
        if M.shape != (n, n):
            fail(ShapeError, name, f"a real array of shape ({n}, {n})", M)
        scale = np.abs(M).max()
        half, half_t = 0.5 * M, (0.5 * M).T
        half_gap = np.abs(half - half_t).max()  # halves: no overflow near 1.8e308
        if half_gap > 0.5e-8 * scale:
            raise OptionError(
                f"`{name}` must be symmetric (it is H^T H or G^T G); got a matrix whose "
                f"transpose differs by 2 x {half_gap:.3g} (relative to its largest "
                f"entry {scale:.3g}). Pass {name}/2 + {name}.T/2 if the difference is rounding."
            )
        out.append(half + half_t)  # 0.5 * M + 0.5 * M.T from the halves already formed
    return A, out[0], out[1]


@dataclass(frozen=True)
class CanonicalParameters:
    r"""The parameters of a Gaussian tilting in the canonical coordinates of ``mu``:
    :math:`A'`, :math:`B'`, :math:`C'`, and the lower Cholesky factors of :math:`P = I + B'`,
    :math:`Q = I + C'` (``None`` for the inner tilting, where :math:`P = Q = I`).

    Build with :func:`to_canonical` or :func:`encoders_to_canonical`: the model's conditionals
    exist exactly when :math:`P` and :math:`Q` are positive definite, which they check (a
    Cholesky factorization exists). The spectral factorizations (:meth:`spectrum`; ones and the
    identity for the inner tilting) are computed on first use: the objectives need only the
    factors.
    """

    canonical: Canonical
    A: np.ndarray
    B: np.ndarray | None
    C: np.ndarray | None
    factor_p: np.ndarray | None
    factor_q: np.ndarray | None

    def side(self, side):
        """``(M', coupling, Cholesky factor)`` of :math:`P` (``"u"``) or :math:`Q` (``"v"``)."""
        if side == "u":
            return self.B, self.A, self.factor_p
        return self.C, self.A.T, self.factor_q

    def spectrum(self, side):
        """``(eigenvalues ascending, eigenvectors)`` of :math:`P` (``"u"``) or :math:`Q`
        (``"v"``), computed on first use and kept."""
        cache = self.__dict__.setdefault("_spectra", {})  # frozen: the instance dict directly
        if side not in cache:
            extra, n, name = (
                (self.B, self.A.shape[0], "B") if side == "u" else (self.C, self.A.shape[1], "C")
            )
            cache[side] = _spectrum(extra, n, name, side)
        return cache[side]


def _not_positive_definite(beta, name, side):
    return DomainError(
        f"the model conditional nu_{side}|. does not exist: C_{side}{side}^-1 + {name} must be "
        f"positive definite, but in standardized whitened coordinates `{name}` has the "
        f"eigenvalue {beta[0]:.6g} <= -1. `{name}` = encoder^T encoder (positive "
        "semidefinite) always qualifies."
    )


def _spectrum(Mp, n, name, side):
    """Eigenvalues (ascending) and eigenvectors of :math:`I + M'` (``M'`` None: zero)."""
    if Mp is None:
        return np.ones(n), np.eye(n)
    beta, vecs = eigh(Mp)
    p = 1.0 + beta
    if not (p > 0.0).all():
        raise _not_positive_definite(beta, name, side)
    return p, vecs


def _side_factor(Mp, n, name, side):
    """The lower Cholesky factor of :math:`I + M'` (``None`` when ``M'`` is None), or a
    :class:`~gaussclip.errors.DomainError` naming its smallest eigenvalue when it is not
    positive definite."""
    if Mp is None:
        return None
    shifted = Mp + np.eye(n)
    factor = cholesky(shifted)
    if factor is None:
        raise _not_positive_definite(eigh(Mp)[0], name, side)
    return factor


def to_canonical(mu, A, B=None, C=None):
    """The :class:`CanonicalParameters` of (A, B, C) for the data ``mu``."""
    can = mu.canonical()
    Ap, Bp, Cp = can.to_canonical(A, B, C)
    factor_p = _side_factor(Bp, mu.n_u, "B", "u")
    factor_q = _side_factor(Cp, mu.n_v, "C", "v")
    return CanonicalParameters(can, Ap, Bp, Cp, factor_p, factor_q)


def encoders_to_canonical(mu, tilting, G, H):
    r"""The :class:`CanonicalParameters` of encoders ``G``, ``H`` (checked by
    :func:`_check_encoders`), mapped first: :math:`G' = G F_u^{-1}`, :math:`H' = H F_v^{-1}`,
    then :math:`A' = G'^\top H'`, :math:`B' = G'^\top G'`, :math:`C' = H'^\top H'`.

    Equal to :func:`to_canonical` of :func:`encoder_products` in exact arithmetic (to rounding:
    ``tests/test_tilting.py``); two small products replace its three congruences, and
    :math:`B'`, :math:`C'` come out positive semidefinite by construction.
    Raises :class:`~gaussclip.errors.DomainError` when a product overflows float64."""
    can = mu.canonical()
    with np.errstate(over="ignore", invalid="ignore"):  # np.dot: `@`'s BLAS call, less overhead
        Gp = np.dot(G, can.frame_u.scaled_core_inv)
        Hp = np.dot(H, can.frame_v.scaled_core_inv)
        out = [np.dot(Gp.T, Hp)]
        if tilting != "inner":
            out += [np.dot(Gp.T, Gp), np.dot(Hp.T, Hp)]
    if not all(np.isfinite(x).all() for x in out):
        raise DomainError(
            "`G` and `H` are too large: in standardized coordinates their products G^T H, "
            "G^T G, H^T H overflow float64. Rescale the encoders."
        )
    Ap, Bp, Cp = out if tilting != "inner" else (out[0], None, None)
    factor_p = _side_factor(Bp, mu.n_u, "B", "u")
    factor_q = _side_factor(Cp, mu.n_v, "C", "v")
    return CanonicalParameters(can, Ap, Bp, Cp, factor_p, factor_q)


def canonical_parameters(mu, tilting, A=None, B=None, C=None, G=None, H=None):
    """Validated parameters of a Gaussian tilting, either the products ``A`` (``B``, ``C``) or
    the encoders ``G``, ``H`` (see :func:`check_parameters`), as :class:`CanonicalParameters`:
    encoders through :func:`encoders_to_canonical`, products through :func:`to_canonical`."""
    if G is not None or H is not None:
        _check_encoders(mu, G, H, A, B, C)
        return encoders_to_canonical(mu, tilting, G, H)
    return to_canonical(mu, *check_parameters(mu, tilting, A=A, B=B, C=C))


def _sym_power(vals, vecs, power):
    # np.dot: the same BLAS call as `@` (identical results), with less overhead on small blocks
    return np.dot(vecs * vals**power, vecs.T)


def model_correlations(params):
    r"""SVD :math:`P^{-1/2}A'Q^{-1/2} = L\operatorname{diag}(a)R^\top` (full): the canonical
    correlations ``a`` of the model with respect to ``mu``'s canonical frame."""
    if params.B is None and params.C is None:  # inner tilting: P = Q = I
        Ahat = params.A
    else:
        Ahat = np.dot(_sym_power(*params.spectrum("u"), -0.5), params.A)
        Ahat = np.dot(Ahat, _sym_power(*params.spectrum("v"), -0.5))
    left, a, right_t = svd(Ahat, full_matrices=True)
    return left, a, right_t.T


def model_correlation_values(params):
    r"""The model's canonical correlations ``a`` (descending) alone: the singular values of
    :math:`L_P^{-1}A'L_Q^{-\top}`, which equal those of :math:`P^{-1/2}A'Q^{-1/2}`
    (:func:`model_correlations`) because :math:`L_P^{-1} = O P^{-1/2}` for an orthogonal
    :math:`O`; two triangular solves instead of two spectral factorizations."""
    Ahat = params.A
    if params.factor_p is not None:
        Ahat = solve_lower(params.factor_q, solve_lower(params.factor_p, Ahat).T).T
    return singular_values(Ahat)


def domain_error(tilting, top):
    """The error for a tilted model that cannot be normalized (``top`` >= 1)."""
    if tilting == "inner":
        detail = (
            f"||C_uu^(1/2) A C_vv^(1/2)||_2 >= 1; here it is {top:.12g}. Shrink `A` (A = G^T H "
            "with ||C_uu^(1/2) G^T|| ||H C_vv^(1/2)|| < 1 qualifies)."
        )
    else:
        detail = (
            f"||P^(-1/2) C_uu^(1/2) A C_vv^(1/2) Q^(-1/2)||_2 >= 1 with P = I + C_uu^(1/2) B "
            f"C_uu^(1/2), Q likewise; here it is {top:.12g}. Check `A`, `B`, `C`: parameters of "
            "the form A = G^T H, B = G^T G, C = H^T H always qualify."
        )
    equation = 40 if tilting == "inner" else 47
    return DomainError(
        f"the {tilting}-tilted model nu does not exist (its precision, eq. {equation}, is not "
        f"positive definite): {detail}"
    )


def model_from_canonical(mu, params, tilting):
    r"""The tilted model :math:`\nu` as a :class:`~gaussclip.JointGaussian` built in canonical
    coordinates (its own canonical decomposition is known exactly: correlations ``a``).

    Raises :class:`~gaussclip.errors.DomainError` when the model cannot be normalized."""
    left, a, right = model_correlations(params)
    top = float(a[0]) if a.size else 0.0
    if not top < 1.0:
        raise domain_error(tilting, top)
    can = params.canonical
    k = a.size
    out = []
    for frame, vals, vecs, rot in (
        (can.frame_u, *params.spectrum("u"), left),
        (can.frame_v, *params.spectrum("v"), right),
    ):
        d = np.ones(frame.dim)
        d[:k] = np.sqrt((1.0 - a) * (1.0 + a))
        left_map = (d[:, None] * rot.T) @ _sym_power(vals, vecs, 0.5)
        left_inv = _sym_power(vals, vecs, -0.5) @ (rot / d[None, :])
        logdet = float(np.log(d).sum() + 0.5 * np.log(vals).sum())
        out.append(frame.compose(left_map, left_inv, logdet))
    model = Canonical.build(out[0], out[1], np.array(a), np.eye(mu.n_u), np.eye(mu.n_v))
    return JointGaussian.from_canonical(mu.mean, model)


def _zero_padded(values, k):
    """``values`` (per-pair parameters, possibly fewer than k: a rank constraint) padded with
    zeros to length k; ``None`` is all zeros."""
    out = np.zeros(k)
    if values is not None:
        values = np.asarray(values, dtype=np.float64)
        out[: values.size] = values
    return out


def pair_model(mu, alpha, beta=None, gamma=None):
    r"""The model of a per-canonical-pair solution (``alpha``, ``beta``, ``gamma`` per pair,
    zero beyond their length): each pair has precision :math:`\begin{bmatrix}1+\beta & -\alpha
    \\ -\alpha & 1+\gamma\end{bmatrix}` and correlation
    :math:`\alpha/\sqrt{(1+\beta)(1+\gamma)}`, so the model is assembled without any matrix
    factorization (used for every closed form)."""
    can = mu.canonical()
    k = can.k
    alpha, beta, gamma = (_zero_padded(x, k) for x in (alpha, beta, gamma))
    p, q = 1.0 + beta, 1.0 + gamma
    rho = alpha / np.sqrt(p * q)
    if np.any(np.abs(rho) >= 1.0):
        raise domain_error("inner" if not np.any(beta) else "quadratic", float(rho.max()))
    order = np.argsort(-np.abs(rho), kind="stable")
    one_minus = (1.0 - rho) * (1.0 + rho)
    out = []
    for frame, extra in ((can.frame_u, p), (can.frame_v, q)):
        d = np.ones(frame.dim)
        d[:k] = np.sqrt(extra * one_minus)
        perm = np.arange(frame.dim)
        perm[:k] = order
        # compose with the permuted diagonal diag(d)[perm] (inverse diag(1 / d)[:, perm]):
        # its products with the frame are rows and columns picked and scaled, exactly
        scaled = d[perm]
        out.append(
            Whitening(
                frame.scale,
                scaled[:, None] * frame.core[perm],
                frame.core_inv[:, perm] * (1.0 / scaled),
                frame.logdet - 2.0 * float(np.log(d).sum()),
            )
        )
    signs = np.where(rho[order] < 0.0, -1.0, 1.0)
    rot_v = np.eye(mu.n_v)
    rot_v[np.arange(k), np.arange(k)] = signs
    model = Canonical.build(out[0], out[1], np.abs(rho[order]), np.eye(mu.n_u), rot_v)
    return JointGaussian.from_canonical(mu.mean, model)


def precision(mu, A, B=None, C=None):
    r"""The precision matrix of :math:`\nu` in the original coordinates (eq. 40 if ``B`` and
    ``C`` are None, else eq. 47), for reference and tests; the engine itself works in canonical
    coordinates. Returns a (n_u + n_v, n_u + n_v) array; it need not be positive definite."""
    inv_u = mu.whitening("u").pull_back(mu.whitening("u").pull_back(np.eye(mu.n_u)).T)
    inv_v = mu.whitening("v").pull_back(mu.whitening("v").pull_back(np.eye(mu.n_v)).T)
    top = inv_u if B is None else inv_u + B
    bottom = inv_v if C is None else inv_v + C
    return block_2x2(top, -A, bottom)


@validate_params(mu=_MU, A=_MATRIX, B=_MATRIX, C=_MATRIX, tilting=_TILTING)
def tilted(mu, A, B=None, C=None, *, tilting=None):
    r"""The learned joint model :math:`\nu` for parameters (A) or (A, B, C).

    Parameters
    ----------
    mu : JointGaussian
        The data distribution; :math:`\nu` tilts its marginals and shares its mean.
    A : (n_u, n_v) array_like
    B : (n_u, n_u) array_like, optional
    C : (n_v, n_v) array_like, optional
    tilting : {"inner", "quadratic"}, optional
        Which tilting (eq. 40 or 47). When omitted it is ``"inner"`` if ``B`` and ``C`` are
        both None and ``"quadratic"`` otherwise, a missing one of ``B``, ``C`` meaning zero
        (the backward-compatible default); pass it to say what you mean.

    Returns
    -------
    JointGaussian

    Raises
    ------
    DomainError
        When the precision is not positive definite, so the tilted density cannot be
        normalized. For the inner tilting this happens exactly when
        :math:`\|\mathcal C_{uu}^{1/2} A\,\mathcal C_{vv}^{1/2}\|_2 \ge 1`, decided on the
        singular values in canonical coordinates (no tolerance).

    Examples
    --------
    >>> mu = JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    >>> nu = tilted(mu, A=[[0.4]])
    >>> nu.conditional_cov("u")  # eq. (41a): the marginal variance C_uu
    array([[1.5]])
    """
    tilting = resolve_tilting(tilting, B, C)
    A, B, C = check_parameters(mu, tilting, A=A, B=B, C=C)
    return model_from_canonical(mu, to_canonical(mu, A, B, C), tilting)


def conditional_parameters(params, side):
    r"""For the model conditional of ``side`` given the other: the matrix
    :math:`K' = P^{-1}A'` (canonical coordinates; ``A'^T`` and ``Q`` for ``side="v"``) and the
    eigenpairs of :math:`P` (eqs. 41, 48)."""
    coupling = params.side(side)[1]
    vals, vecs = params.spectrum(side)
    return vecs @ ((vecs.T @ coupling) / vals[:, None]), vals, vecs


@validate_params(mu=_MU, side=_SIDE, given=Array(ndim=1), A=_MATRIX, B=_MATRIX, C=_MATRIX,
                 tilting=_TILTING)  # fmt: skip
def tilted_conditional(mu, side, given, A, B=None, C=None, *, tilting=None):
    r"""The model conditional :math:`\nu_{u|v}(\cdot|v)` (``side="u"``, ``given`` = v) or
    :math:`\nu_{v|u}(\cdot|u)` as a :class:`~gaussclip.Gaussian` (eqs. 41, 48).

    Exists for every A (the joint model need not): e.g. for the inner tilting
    :math:`\nu_{u|v} = N(m_u + \mathcal C_{uu} A (v - m_v), \mathcal C_{uu})`. ``tilting`` as
    in :func:`tilted`.

    Examples
    --------
    >>> mu = JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    >>> g = tilted_conditional(mu, "u", [1.0], A=[[2.0]])
    >>> float(g.mean[0]), float(g.cov[0, 0])
    (3.0, 1.5)
    """
    tilting = resolve_tilting(tilting, B, C)
    A, B, C = check_parameters(mu, tilting, A=A, B=B, C=C)
    params = to_canonical(mu, A, B, C)
    n_other = mu.n_v if side == "u" else mu.n_u
    if given.shape != (n_other,):
        fail(ShapeError, "given", f"a real array of shape ({n_other},)", given)
    other = "v" if side == "u" else "u"
    can = params.canonical
    gain, vals, vecs = conditional_parameters(params, side)
    m_side, m_other = (mu.mean_u, mu.mean_v) if side == "u" else (mu.mean_v, mu.mean_u)
    with np.errstate(over="ignore", invalid="ignore"):
        b = can.frame(other).whiten(given - m_other)
        mean = m_side + can.frame(side).colour(gain @ b)
    if not np.isfinite(mean).all():
        raise DomainError(
            "the model conditional mean overflows float64 at these parameters; rescale `A` or "
            "`given`."
        )
    white = can.frame(side).compose(
        _sym_power(vals, vecs, 0.5), _sym_power(vals, vecs, -0.5), 0.5 * np.log(vals).sum()
    )
    return Gaussian.from_whitening(mean, white)
