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
"""

import numpy as np

from ._checks import choice, finite_array
from .errors import CovarianceError, DomainError, OptionError, ShapeError
from .gaussian import Gaussian, JointGaussian, check_joint
from .linalg import SPD, symmetric_matrix

TILTINGS = ("inner", "quadratic", "cosine")


def encoder_products(G, H):
    r"""The products :math:`A = G^\top H`, :math:`B = G^\top G`, :math:`C = H^\top H`.

    Parameters
    ----------
    G : (n_e, n_u) array_like
    H : (n_e, n_v) array_like

    Returns
    -------
    A : (n_u, n_v) array, B : (n_u, n_u) array, C : (n_v, n_v) array
    """
    G = finite_array(G, "G", ndim=2)
    H = finite_array(H, "H", ndim=2)
    if G.shape[0] != H.shape[0]:
        raise ShapeError(
            f"`G` and `H` must have the same number of rows (the embedding dimension n_e); "
            f"got {G.shape} and {H.shape}."
        )
    return G.T @ H, G.T @ G, H.T @ H


def check_parameters(mu, tilting, A=None, B=None, C=None, G=None, H=None):
    """Validate the parameters of a Gaussian tilting and return ``(A, B, C)``.

    Either ``A`` (with ``B``, ``C`` for the quadratic tilting; a missing one means zero) or the
    encoders ``G``, ``H`` must be given. For the inner tilting ``B`` and ``C`` are ``None``.
    """
    mu = check_joint(mu)
    tilting = choice(tilting, "tilting", ("inner", "quadratic"))
    if G is not None or H is not None:
        if G is None or H is None or A is not None or B is not None or C is not None:
            raise OptionError(
                "give either the encoders `G` and `H` together, or the products `A` (and `B`, "
                "`C` for the quadratic tilting); got a mixture."
            )
        G = finite_array(G, "G", ndim=2)
        H = finite_array(H, "H", ndim=2)
        if G.shape[1] != mu.n_u or H.shape[1] != mu.n_v:
            raise ShapeError(
                f"`G` and `H` must have shapes (n_e, {mu.n_u}) and (n_e, {mu.n_v}); got "
                f"{G.shape} and {H.shape}."
            )
        A, B, C = encoder_products(G, H)
        return (A, None, None) if tilting == "inner" else (A, B, C)
    if A is None:
        raise OptionError("give the parameter `A` (or the encoders `G` and `H`).")
    A = finite_array(A, "A", shape=(mu.n_u, mu.n_v))
    if tilting == "inner":
        if B is not None or C is not None:
            raise OptionError(
                "`B` and `C` belong to the quadratic tilting; the inner tilting exp(<Gu, Hv>) "
                "depends on A = G^T H only. Pass tilting='quadratic' or drop B and C."
            )
        return A, None, None
    B = np.zeros((mu.n_u, mu.n_u)) if B is None else symmetric_matrix(B, "B")
    C = np.zeros((mu.n_v, mu.n_v)) if C is None else symmetric_matrix(C, "C")
    if B.shape != (mu.n_u, mu.n_u) or C.shape != (mu.n_v, mu.n_v):
        raise ShapeError(
            f"`B` and `C` must have shapes ({mu.n_u}, {mu.n_u}) and ({mu.n_v}, {mu.n_v}); got "
            f"{B.shape} and {C.shape}."
        )
    return A, B, C


def precision(mu, A, B=None, C=None):
    r"""The precision matrix of :math:`\nu` (eq. 40 if ``B`` and ``C`` are None, else eq. 47).

    Returns a (n_u + n_v, n_u + n_v) array; it need not be positive definite.
    """
    top = mu.spd("u").inverse if B is None else mu.spd("u").inverse + B
    bottom = mu.spd("v").inverse if C is None else mu.spd("v").inverse + C
    return np.block([[top, -A], [-A.T, bottom]])


def _whitened_norm(mu, A):
    r"""Spectral norm of :math:`\mathcal C_{uu}^{1/2} A\,\mathcal C_{vv}^{1/2}`."""
    return float(np.linalg.norm(mu.spd("u").sqrt @ A @ mu.spd("v").sqrt, 2))


def precision_spd(mu, A, B=None, C=None):
    r"""The factorized precision of :math:`\nu` (see :func:`precision`).

    Raises
    ------
    DomainError
        When it is not positive definite, i.e. the tilted density cannot be normalized.
    """
    tilting = "inner" if B is None and C is None else "quadratic"
    theta = precision(mu, A, B, C)
    try:
        return SPD(theta, "precision")
    except CovarianceError:
        smallest = float(np.linalg.eigvalsh(0.5 * (theta + theta.T))[0])
        hint = (
            f" For the inner tilting this means ||C_uu^(1/2) A C_vv^(1/2)||_2 >= 1; here it is "
            f"{_whitened_norm(mu, A):.6g}. Shrink A."
            if tilting == "inner"
            else " Parameters of the form A = G^T H, B = G^T G, C = H^T H always qualify."
        )
        raise DomainError(
            f"the {tilting}-tilted model nu does not exist: its precision (eq. "
            f"{40 if tilting == 'inner' else 47}) must be positive definite but has smallest "
            f"eigenvalue {smallest:.3e}.{hint}"
        ) from None


def tilted(mu, A, B=None, C=None):
    r"""The learned joint model :math:`\nu` for parameters (A) or (A, B, C).

    ``B`` and ``C`` both None gives the inner tilting (eq. 40); otherwise the quadratic tilting
    (eq. 47), a missing one of ``B``, ``C`` meaning zero.

    Parameters
    ----------
    mu : JointGaussian
        The data distribution; :math:`\nu` tilts its marginals and shares its mean.
    A : (n_u, n_v) array_like
    B : (n_u, n_u) array_like, optional
    C : (n_v, n_v) array_like, optional

    Returns
    -------
    JointGaussian

    Raises
    ------
    DomainError
        When the precision is not positive definite, so the tilted density cannot be
        normalized. For the inner tilting this happens exactly when
        :math:`\|\mathcal C_{uu}^{1/2} A\,\mathcal C_{vv}^{1/2}\|_2 \ge 1`.

    Examples
    --------
    >>> mu = JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    >>> nu = tilted(mu, A=[[0.4]])
    >>> nu.conditional_cov("u")  # eq. (41a): the marginal variance C_uu
    array([[1.5]])
    """
    tilting = "inner" if B is None and C is None else "quadratic"
    A, B, C = check_parameters(mu, tilting, A=A, B=B, C=C)
    cov = precision_spd(mu, A, B, C).inverse
    return JointGaussian._trusted(0.5 * (cov + cov.T), mu.n_u, mu.mean)


def conditional_precision(mu, side, A, B=None, C=None):
    r"""Gain and precision of the model conditional :math:`\nu_{u|v}` or :math:`\nu_{v|u}`.

    For ``side="u"``: :math:`\nu_{u|v} = N(m_u + P^{-1}A(v - m_v), P^{-1})` with
    :math:`P = \mathcal C_{uu}^{-1} + B` (eq. 48a; eq. 41a when B = 0). Returns
    ``(P^{-1} A, SPD(P))``; for ``side="v"`` the same with ``A^T`` and ``C`` (eq. 48b).
    """
    extra, coupling = (B, A) if side == "u" else (C, A.T)
    matrix = mu.spd(side).inverse if extra is None else mu.spd(side).inverse + extra
    try:
        spd = SPD(matrix, f"conditional precision of {side}")
    except CovarianceError as exc:
        name = "B" if side == "u" else "C"
        raise DomainError(
            f"the model conditional nu_{side}|. does not exist: C_{side}{side}^-1 + {name} must "
            f"be positive definite ({exc}). {name} = encoder^T encoder always qualifies."
        ) from None
    return spd.solve(coupling), spd


def tilted_conditional(mu, side, given, A, B=None, C=None):
    r"""The model conditional :math:`\nu_{u|v}(\cdot|v)` (``side="u"``, ``given`` = v) or
    :math:`\nu_{v|u}(\cdot|u)` as a :class:`~gaussclip.Gaussian` (eqs. 41, 48).

    Exists for every A (the joint model need not): e.g. for the inner tilting
    :math:`\nu_{u|v} = N(\mathcal C_{uu} A v, \mathcal C_{uu})`.

    Examples
    --------
    >>> mu = JointGaussian([[1.5, 1.0], [1.0, 1.5]], n_u=1)
    >>> g = tilted_conditional(mu, "u", [1.0], A=[[2.0]])
    >>> float(g.mean[0]), float(g.cov[0, 0])
    (3.0, 1.5)
    """
    side = choice(side, "side", ("u", "v"))
    tilting = "inner" if B is None and C is None else "quadratic"
    A, B, C = check_parameters(mu, tilting, A=A, B=B, C=C)
    gain, spd = conditional_precision(mu, side, A, B, C)
    n_other = mu.n_v if side == "u" else mu.n_u
    x = finite_array(given, "given", shape=(n_other,))
    m_side, m_other = (mu.mean_u, mu.mean_v) if side == "u" else (mu.mean_v, mu.mean_u)
    return Gaussian._trusted(m_side + gain @ (x - m_other), spd.inverted())
