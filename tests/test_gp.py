"""The Section 6.1 Gaussian process, checked against independent routes.

* SymPy: the eigenpairs solve the Neumann problem and are orthonormal;
* a finite-difference discretization of (-Laplacian + tau^2)^(-alpha) gives the same kernel at
  the observation points as the Karhunen-Loeve sum;
* Monte Carlo from the KL expansion, with v computed by quadrature of the sampled w (eq. 57b),
  matches the covariance of ``joint_uv`` within standard errors.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip.data import gp

#: Finite-difference cells for the operator check. A multiple of 12 by an odd factor, so the
#: cell centres contain the midpoints (i - 1/2)/12 exactly.
FD_CELLS = 12 * 41
#: The second-order FD eigenvalues err by ~ (j pi / m)^2 / 12 relative; for the kernel (dominated
#: by the first modes) the error is 1e-5 to 7e-5 of its largest entry over the tested range
#: (alpha = 1.5 weights high modes most); 3e-4 leaves a factor 4.
FD_RTOL = 3e-4
#: Largest |z| of the 153 distinct covariance entries in the Monte Carlo check: Bonferroni for a
#: family-wise false alarm probability of about 1e-3 (the test is seeded, so it is deterministic).
Z_MAX = 4.5
#: Samples of the Monte Carlo check.
MC_SAMPLES = 4000
#: Float64 rounding in sums of up to 1000 terms of size ~1e-2.
EXACT_ATOL = 1e-12


def test_eigenpairs_solve_the_neumann_problem_symbolically():
    x, tau, alpha = sp.symbols("x tau alpha", positive=True)
    j = sp.symbols("j", integer=True, positive=True)
    psi_j = sp.sqrt(2) * sp.cos(j * sp.pi * x)
    # -psi'' + tau^2 psi = (j^2 pi^2 + tau^2) psi, so C psi = (j^2 pi^2 + tau^2)^(-alpha) psi
    residual = -sp.diff(psi_j, x, 2) + tau**2 * psi_j - (j**2 * sp.pi**2 + tau**2) * psi_j
    assert sp.simplify(residual) == 0
    # homogeneous Neumann conditions and zero mean over D
    derivative = sp.diff(psi_j, x)
    assert sp.simplify(derivative.subs(x, 0)) == 0
    assert sp.simplify(derivative.subs(x, 1)) == 0
    assert sp.simplify(sp.integrate(psi_j, (x, 0, 1))) == 0
    # orthonormal in L^2(0, 1): unit norm, and orthogonal for distinct modes (checked on a few)
    assert sp.simplify(sp.integrate(psi_j**2, (x, 0, 1))) == 1
    for a, b in [(1, 2), (1, 3), (2, 5)]:
        product = psi_j.subs(j, a) * psi_j.subs(j, b)
        assert sp.integrate(product, (x, 0, 1)) == 0
    # the numerical eigenfunctions are these
    points = np.linspace(0.0, 1.0, 7)
    expected = [[float(psi_j.subs({j: m, x: p})) for m in (1, 2, 3)] for p in points]
    np.testing.assert_allclose(gp.eigenfunctions(points, 3), expected, atol=EXACT_ATOL)
    lam = gp.eigenvalues(gp.GPConfig(tau=3.0, alpha=2.0, n_modes=3, n_v=3))
    symbolic = (j**2 * sp.pi**2 + tau**2) ** (-alpha)
    np.testing.assert_allclose(
        lam, [float(symbolic.subs({j: m, tau: 3, alpha: 2})) for m in (1, 2, 3)], rtol=1e-14
    )


def _finite_difference_kernel(tau, alpha, cells):
    """Kernel of (-Laplacian_h + tau^2)^(-alpha) on mean-zero grid functions at cell centres.

    Neumann conditions by reflection (ghost cells): the first and last diagonal entries of
    -Laplacian_h are 1/h^2 instead of 2/h^2. A grid function f approximates C f(x_i) =
    int k(x_i, y) f(y) dy = sum_l k(x_i, x_l) f_l h, so k(x_i, x_l) ~ M_il / h.
    """
    h = 1.0 / cells
    lap = (2.0 * np.eye(cells) - np.eye(cells, k=1) - np.eye(cells, k=-1)) / h**2
    lap[0, 0] = lap[-1, -1] = 1.0 / h**2
    eigvals, eigvecs = np.linalg.eigh(lap + tau**2 * np.eye(cells))
    mean_zero = np.eye(cells) - np.full((cells, cells), 1.0 / cells)
    power = (eigvecs * eigvals ** (-alpha)) @ eigvecs.T
    return mean_zero @ power @ mean_zero / h


@given(tau=st.floats(1.0, 6.0), alpha=st.floats(1.5, 3.0))
def test_kernel_matches_discretized_operator(tau, alpha):
    config = gp.GPConfig(tau=tau, alpha=alpha)
    mu = gp.joint_uv(config)
    kernel = mu.Cuu - config.noise_std**2 * np.eye(config.n_u)
    cells_per_point = FD_CELLS // config.n_u
    # cell l (0-based) has centre (l + 1/2)/m; the midpoint (i - 1/2)/12 is cell 41 (i - 1) + 20
    index = cells_per_point * np.arange(config.n_u) + cells_per_point // 2
    np.testing.assert_allclose(
        (np.arange(FD_CELLS)[index] + 0.5) / FD_CELLS, gp.observation_points(config.n_u)
    )
    reference = _finite_difference_kernel(tau, alpha, FD_CELLS)[np.ix_(index, index)]
    np.testing.assert_allclose(kernel, reference, atol=FD_RTOL * np.abs(reference).max())


def _sample_from_kl_expansion(config, n, rng):
    """(u, v) drawn from the truncated KL expansion (56): w on a fine midpoint grid, u by
    evaluation at the observation points, v by midpoint-rule quadrature of eq. (57b)."""
    lam = gp.eigenvalues(config)
    xi = rng.standard_normal((n, config.n_modes))
    coefficients = xi * np.sqrt(lam)
    x_obs = gp.observation_points(config.n_u, config.layout)
    u = coefficients @ gp.eigenfunctions(x_obs, config.n_modes).T
    u += config.noise_std * rng.standard_normal(u.shape)
    # The midpoint rule on m > n_modes cells integrates cos(j pi x) cos(k pi x) exactly for
    # j, k <= n_modes (discrete cosine orthogonality), so this is eq. (57b) without error.
    cells = config.n_modes + 1
    fine = (np.arange(cells) + 0.5) / cells
    w_fine = coefficients @ gp.eigenfunctions(fine, config.n_modes).T
    psi_v = np.sqrt(2.0) * np.cos(np.pi * np.outer(fine, np.arange(1, config.n_v + 1)))
    v = (w_fine @ psi_v) / cells / np.sqrt(lam[: config.n_v])
    return u, v, xi


def test_monte_carlo_from_kl_expansion_matches_joint_uv():
    config = gp.GPConfig()
    mu = gp.joint_uv(config)
    u, v, xi = _sample_from_kl_expansion(config, MC_SAMPLES, np.random.default_rng(57))
    # eq. (57b) with orthonormal psi_j recovers the normalized coefficients exactly
    np.testing.assert_allclose(v, xi[:, : config.n_v], atol=1e-9)
    x = np.hstack([u, v])
    empirical = x.T @ x / MC_SAMPLES  # the mean is known to be zero
    cov = mu.cov
    variances = np.diag(cov)
    stderr = np.sqrt((np.outer(variances, variances) + cov**2) / MC_SAMPLES)
    z = (empirical - cov) / stderr
    assert np.max(np.abs(z)) < Z_MAX, np.unravel_index(np.argmax(np.abs(z)), z.shape)


def test_joint_uv_blocks_and_normalization():
    config = gp.GPConfig()
    mu = gp.joint_uv(config)
    assert (mu.n_u, mu.n_v) == (12, 5)
    np.testing.assert_allclose(mu.mean, 0.0)
    np.testing.assert_allclose(mu.Cvv, np.eye(5))  # normalized KL coefficients
    sigma = mu.canonical_correlations()
    assert sigma.shape == (5,)
    assert np.all(np.diff(sigma) <= 0) and 0.0 < sigma[-1] and sigma[0] < 1.0
    # the noise floor: Var(u_i) exceeds Var(w(x_i)) by exactly noise_std^2
    wv = gp.joint_wv(gp.observation_points(12), config)
    np.testing.assert_allclose(mu.Cuu, wv.Cuu + 0.05**2 * np.eye(12), atol=EXACT_ATOL)
    np.testing.assert_allclose(mu.Cuv, wv.Cuv, atol=EXACT_ATOL)


def test_conditional_w_given_v_is_the_tail_of_the_expansion():
    config = gp.GPConfig()
    grid = gp.plot_grid()
    mu = gp.joint_wv(grid, config)
    assert (mu.n_u, mu.n_v) == (gp.PLOT_POINTS, 5)
    v = np.array([1.0, -0.5, 0.25, 2.0, -1.0])
    conditional = mu.conditional("u", v)
    lam = gp.eigenvalues(config)
    phi = gp.eigenfunctions(grid, config.n_modes)
    # E[w | v] = sum_{k <= 5} sqrt(lam_k) v_k psi_k, Cov = sum_{j > 5} lam_j psi_j psi_j^T
    np.testing.assert_allclose(conditional.mean, phi[:, :5] @ (np.sqrt(lam[:5]) * v), atol=1e-12)
    tail = (phi[:, 5:] * lam[5:]) @ phi[:, 5:].T
    np.testing.assert_allclose(conditional.cov, tail, atol=EXACT_ATOL)


def test_interior_layout():
    np.testing.assert_allclose(gp.observation_points(3, "interior"), [0.25, 0.5, 0.75])
    mu = gp.joint_uv(gp.GPConfig(layout="interior"))
    kernel = gp.joint_wv(gp.observation_points(12, "interior")).Cuu
    np.testing.assert_allclose(mu.Cuu, kernel + 0.05**2 * np.eye(12), atol=EXACT_ATOL)


def test_smaller_configurations_work():
    mu = gp.joint_uv(gp.GPConfig(n_modes=50, n_u=3, n_v=2, noise_std=0.1))
    assert isinstance(mu, gc.JointGaussian)
    assert (mu.n_u, mu.n_v) == (3, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tau": -1.0}, "tau must be a positive"),
        ({"alpha": float("nan")}, "alpha must be a positive"),
        ({"noise_std": 0.0}, "noise_std must be a positive"),
        ({"noise_std": True}, "noise_std must be a positive"),
        ({"n_modes": 0}, "n_modes"),
        ({"n_v": 6, "n_modes": 5}, "n_v"),
        ({"layout": "edges"}, "layout"),
    ],
)
def test_bad_configuration_is_rejected(kwargs, match):
    with pytest.raises(gc.GaussclipError, match=match):
        gp.GPConfig(**kwargs)


def test_bad_arguments_are_rejected():
    with pytest.raises(gc.OptionError, match="GPConfig"):
        gp.joint_uv({"tau": 3.0})
    with pytest.raises(gc.ShapeError, match=r"domain \[0, 1\]"):
        gp.eigenfunctions([-0.1, 0.5], 3)
    with pytest.raises(gc.CovarianceError, match="fewer distinct points"):
        gp.joint_wv(np.linspace(0.0, 1.0, 400))
    with pytest.raises(gc.CovarianceError, match="repeats a point"):
        gp.joint_wv([0.2, 0.2, 0.7])
