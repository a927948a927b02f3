r"""The two-dimensional example of Section 5.4 (Figures 1-6).

A centred Gaussian pair of scalars :math:`(u, v)` with

.. math:: \mathcal C = \begin{bmatrix} 1.5 & 1 \\ 1 & 1.5 \end{bmatrix},
          \qquad n_u = n_v = n_e = 1 .

Its one canonical correlation is :math:`\sigma = 1/1.5 = 2/3`, and the true conditionals are
:math:`\mu_{u|v}(\cdot|v) = N(v/1.5,\ 1.5 - 1/1.5)` (eq. 37a) and the mirror image for
:math:`v|u`. :func:`joint` builds it (or a variant with other entries, for teaching).
"""

from ..gaussian import JointGaussian

#: Var(u) of the paper's example (Section 5.4).
VAR_U = 1.5
#: Var(v) of the paper's example.
VAR_V = 1.5
#: Cov(u, v) of the paper's example.
COV_UV = 1.0


def joint(var_u=VAR_U, var_v=VAR_V, cov_uv=COV_UV):
    r"""The joint Gaussian :math:`\mu = N(0, [[var_u, cov_uv], [cov_uv, var_v]])` on (u, v).

    The defaults are the example of Section 5.4; other values give a scalar pair with any
    correlation :math:`cov_{uv}/\sqrt{var_u\,var_v} \in (-1, 1)`.

    Parameters
    ----------
    var_u, var_v : float
        Positive variances of u and v.
    cov_uv : float
        Their covariance, with :math:`cov_{uv}^2 < var_u\,var_v`.

    Returns
    -------
    JointGaussian
        With ``n_u = n_v = 1`` and zero mean.

    Raises
    ------
    CovarianceError
        When the 2x2 covariance is not positive definite.

    Examples
    --------
    >>> mu = joint()
    >>> mu.cov
    array([[1.5, 1. ],
           [1. , 1.5]])
    >>> mu.canonical_correlations()  # 1 / 1.5
    array([0.66666667])
    >>> mu.conditional("u", [1.5]).mean, mu.conditional_cov("u")  # eq. (37a)
    (array([1.]), array([[0.83333333]]))
    """
    return JointGaussian([[var_u, cov_uv], [cov_uv, var_v]], n_u=1)
