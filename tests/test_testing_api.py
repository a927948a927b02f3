"""gaussclip.testing: strategies produce valid objects that honour their arguments and shrink,
every built-in property holds, false properties are falsified and shrunk, and `gaussclip check`.

The built-in properties themselves run (under the suite's Hypothesis profile) in the test files
of the results they state: test_minimizers, test_objectives, test_gaussian.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import gaussclip as gc
from gaussclip import testing
from gaussclip.cli import main
from gaussclip.testing import strategies as gst
from gaussclip.testing.runner import run_cli

#: Prescribed canonical correlations come back from the whitened SVD to ~eps * sqrt(cond_u
#: cond_v) <= 2e-10 at block conditions <= 1e6 (see properties.CCA_ATOL).
SIGMA_ATOL = 1e-8
#: Built matrices are symmetric by construction (explicit symmetrization), exactly.
#: Orthogonality of Householder products: rounding of n reflections, ~n * eps.
ORTHOGONAL_ATOL = 1e-12
#: Condition numbers of drawn SPD matrices: the spectrum is exact, eigvalsh recovers it to
#: ~cond * eps relative.
CONDITION_RTOL = 1e-6
#: Few examples for the API tests: they test the machinery, not the mathematics.
EXAMPLES = 30


# ----------------------------------------------------------------------------- strategies
@given(gst.spd_matrices(st.integers(1, 5), max_condition=1e3))
def test_spd_matrices_are_spd_with_bounded_condition(m):
    assert np.array_equal(m, m.T)
    lam = np.linalg.eigvalsh(m)
    assert lam.min() > 0 and lam.max() / lam.min() <= 1e3 * (1 + CONDITION_RTOL)


@given(gst.orthogonal_matrices(st.integers(1, 6)))
def test_orthogonal_matrices_are_orthogonal(q):
    assert np.allclose(q @ q.T, np.eye(q.shape[0]), rtol=0.0, atol=ORTHOGONAL_ATOL)


@given(
    gst.joint_gaussians(
        st.integers(2, 4), st.integers(3, 5), sigma=[1.0 - 1e-7, 0.5, 1e-7], mean=True
    )
)
def test_joint_gaussians_honour_prescribed_sigma_near_0_and_1(mu):
    assert isinstance(mu, gc.JointGaussian)
    assert mu.n_u >= 3 and mu.n_v >= 3  # raised to len(sigma)
    expected = np.zeros(min(mu.n_u, mu.n_v))
    expected[:3] = [1.0 - 1e-7, 0.5, 1e-7]
    assert np.allclose(mu.canonical_correlations(), expected, rtol=0.0, atol=SIGMA_ATOL)


@given(gst.joint_gaussians(sigma=gst.canonical_correlations(extremes=True), max_condition=10.0))
def test_joint_gaussians_with_a_sigma_strategy(mu):
    sigma = mu.canonical_correlations()
    assert np.all((sigma >= 0) & (sigma < 1))
    for block in (mu.Cuu, mu.Cvv):
        lam = np.linalg.eigvalsh(block)
        assert lam.max() / lam.min() <= 10.0 * (1 + CONDITION_RTOL)


@given(gst.joint_gaussians(n_u=2, n_v=3), st.data())
def test_encoders_parameters_and_weights(mu, data):
    g, h = data.draw(gst.encoders(mu, rank=2, max_norm=0.5))
    assert g.shape == (2, 2) and h.shape == (2, 3)
    chol_u, chol_v = np.linalg.cholesky(mu.Cuu), np.linalg.cholesky(mu.Cvv)
    assert np.linalg.norm(chol_u.T @ g.T @ h @ chol_v, 2) <= 0.5 * (1 + CONDITION_RTOL)
    inner = data.draw(gst.tilting_parameters(mu, "inner"))
    gc.tilted(mu, inner["A"])  # the model (40) exists: no DomainError
    quadratic = data.draw(gst.tilting_parameters(mu, "quadratic"))
    assert np.all(
        np.linalg.eigvalsh(quadratic["B"]) >= -ORTHOGONAL_ATOL * (1 + quadratic["B"].max())
    )
    assert np.all(np.isfinite(gc.tilted(mu, **quadratic).cov))
    lam_u, lam_v = data.draw(gst.weights())
    assert lam_u >= 0 and lam_v >= 0 and lam_u + lam_v > 0


def test_strategies_shrink_to_simple_instances():
    """Shrink targets: n = 1, identity covariances, sigma = 0, round numbers."""
    quiet = hypothesis_settings(database=None, derandomize=True)
    mu = find(gst.joint_gaussians(), lambda mu: True, settings=quiet)
    assert mu.n_u == mu.n_v == 1 and np.array_equal(mu.cov, np.eye(2))
    big = find(gst.joint_gaussians(), lambda mu: mu.n_u >= 3, settings=quiet)
    assert (big.n_u, big.n_v) == (3, 1) and np.array_equal(big.cov, np.eye(4))
    correlated = find(
        gst.joint_gaussians(), lambda mu: mu.canonical_correlations()[0] > 0.5, settings=quiet
    )
    # byte-level shrinking stops at a local minimum: blocks I, sigma just above 0.5
    assert np.array_equal(correlated.Cuu, np.eye(correlated.n_u))
    assert np.array_equal(correlated.Cvv, np.eye(correlated.n_v))
    assert 0.5 < correlated.canonical_correlations()[0] < 0.51


def test_strategies_reject_bad_arguments():
    with pytest.raises(gc.DomainError, match="sigma"):
        gst.joint_gaussians(sigma=[1.0])
    with pytest.raises(gc.DomainError, match="len\\(sigma\\)"):
        gst.joint_gaussians(n_u=1, n_v=2, sigma=[0.5, 0.2])
    with pytest.raises(gc.ArgumentTypeError, match="n_u"):
        gst.joint_gaussians(n_u=0)
    with pytest.raises(gc.DomainError, match="max_condition"):
        gst.spd_matrices(2, max_condition=0.5)
    with pytest.raises(gc.DomainError, match="max_sigma"):
        gst.canonical_correlations(max_sigma=1.0)
    with pytest.raises(gc.OptionError, match="tilting"):
        gst.tilting_parameters(gc.JointGaussian(np.eye(2), 1), "cosine")


# ------------------------------------------------------- speed paths: the same examples, checks
def _householder_before(rows, n):
    """The Householder product as built before the speed work: n - 1 rows of n numbers each, the
    first j entries of row j unused."""
    q = np.eye(n)
    for j, row in enumerate(rows):
        w = row[j:]
        norm2 = float(w @ w)
        if norm2 > 1e-150:
            block = q[:, j:]
            block -= (block @ w)[:, None] * (w * (2.0 / norm2))
    return q


#: The LAPACK product (dorgqr) and the loop round differently: entries of an orthogonal matrix
#: agree to a few eps.
_ROTATION_ATOL = 1e-14


@pytest.mark.parametrize("n", range(1, 8))
@pytest.mark.parametrize("zero_head", [False, True])
def test_householder_draws_only_the_entries_it_uses(n, zero_head):
    """The product of the former layout, with the unused entries left out (so the distribution
    of drawn rotations is unchanged and zero bytes still give the identity): bit for bit from
    the loop (sizes 1, 2, and vectors with a zero leading entry), to rounding from LAPACK."""
    from gaussclip.testing.strategies import _BYTES, _householder, _Numbers, _rotation_count

    rng = np.random.default_rng(n)
    raw = bytearray(rng.bytes(_BYTES * _rotation_count(n)))
    if zero_head and n >= 2:
        raw[:_BYTES] = bytes(_BYTES)  # the first vector's leading entry is 0, the vector is not
    raw = bytes(raw)
    used = _Numbers(raw).signed(_rotation_count(n))
    rows, start = np.full((max(n - 1, 0), n), np.nan), 0
    for j in range(n - 1):
        rows[j, j:] = used[start : start + n - j]
        start += n - j
    got, expected = _householder(_Numbers(raw), n), _householder_before(rows, n)
    if n <= 2 or zero_head:
        assert np.array_equal(got, expected)
    else:
        assert np.allclose(got, expected, rtol=0.0, atol=_ROTATION_ATOL)
    assert np.allclose(got @ got.T, np.eye(n), rtol=0.0, atol=_ROTATION_ATOL)
    assert np.array_equal(_householder(_Numbers(bytes(len(raw))), n), np.eye(n))


@pytest.mark.parametrize(
    "sizes", [(1, 1, 1, 1), (2, 1, 2, 1), (3, 5, 3, 5), (6, 6, 6, 6), (4, 2), (1, 6, 1, 6)]
)
@pytest.mark.parametrize("case", ["random", "zero vector", "zero head"])
def test_householder_products_of_several_sets_equal_each_product(sizes, case):
    """One dorgqr call on the block-diagonal reflectors gives each set's product (to rounding),
    zero vectors skipped; a zero leading entry falls back to the loop."""
    from gaussclip.testing.strategies import (
        _householder_loop,
        _householder_products,
        _rotation_count,
    )

    rng = np.random.default_rng(sum(sizes))
    parts = [(rng.uniform(-1, 1, _rotation_count(n)), n) for n in sizes]
    big = max(range(len(sizes)), key=lambda i: sizes[i])
    if case == "zero vector" and sizes[big] > 1:
        parts[big][0][: sizes[big]] = 0.0  # the first vector of the largest set
    if case == "zero head" and sizes[big] > 1:
        parts[big][0][0] = 0.0
    got = _householder_products(parts)
    for q, (entries, n) in zip(got, parts, strict=True):
        assert np.allclose(q, _householder_loop(entries, n), rtol=0.0, atol=_ROTATION_ATOL)
        assert np.allclose(q @ q.T, np.eye(n), rtol=0.0, atol=_ROTATION_ATOL)


def test_size_pairs_are_every_pair_once_shrinking_like_two_sizes():
    """One draw of (n_u, n_v): each pair once (uniform, as two draws), in the order two
    shrinking draws would prefer (n_u first)."""
    from gaussclip.testing.properties import MAX_SIZE, SIZE_PAIRS

    sizes = range(1, MAX_SIZE + 1)
    assert SIZE_PAIRS.elements == tuple((a, b) for a in sizes for b in sizes)
    quiet = hypothesis_settings(database=None, derandomize=True)
    assert find(SIZE_PAIRS, lambda p: min(p) >= 2, settings=quiet) == (2, 2)
    assert find(SIZE_PAIRS, lambda p: p[1] >= 3, settings=quiet) == (1, 3)


#: The Monte Carlo summands from the property's whitened coordinates against gaussclip's
#: logpdf at the same draws: both are exact to ~eps * cond <= 1e-10 relative (measured 6e-11
#: over 300 examples).
MC_TERMS_RTOL = 1e-8


def test_monte_carlo_terms_equal_those_of_gaussclip_log_densities():
    """objective-monte-carlo's batched log-density ratios equal the ratios of ``logpdf`` of mu,
    nu and their marginals at the same draws x = m + L z (what the property computed before)."""
    from gaussclip.testing.properties import MC_SAMPLES, _cholesky, _mc_terms

    drawn = []
    prop = testing.get("objective-monte-carlo")
    recorder = testing.property("record-mc", register=False, example=prop.strategy)(
        lambda **kwargs: drawn.append(kwargs)
    )
    testing.search(recorder, examples=EXAMPLES)
    for case in drawn:
        mu, params, loss, w = case["mu"], case["params"], case["loss"], case["w"]
        nu = gc.tilted(mu, params["A"], params["B"], params["C"])
        z = np.random.default_rng(0).standard_normal((MC_SAMPLES, mu.dim))
        x = mu.mean + z @ _cholesky(mu.cov).T
        u, v = x[:, : mu.n_u], x[:, mu.n_u :]
        ratio = mu.logpdf(u, v) - nu.logpdf(u, v)
        if loss == "joint":
            expected = ratio
        else:
            ratio_v = mu.marginal("v").logpdf(v) - nu.marginal("v").logpdf(v)
            ratio_u = mu.marginal("u").logpdf(u) - nu.marginal("u").logpdf(u)
            expected = 0.5 * w[0] * (ratio - ratio_v) + 0.5 * w[1] * (ratio - ratio_u)
        got = _mc_terms(mu, nu, loss, w)
        assert np.abs(got - expected).max() <= MC_TERMS_RTOL * (1 + np.abs(expected).max())


def test_lem_e1_reference_survives_a_tiny_generalized_eigenvalue():
    """A pair (shrunk by Hypothesis) where the smallest generalized eigenvalue, read from one
    pencil only, came out negative (a NaN reference, a false failure of lem-E.1)."""
    mu = gc.JointGaussian(
        np.array(
            [
                [3.2992469903039967, -589.7546120315031, 0.0, 0.0],
                [-589.7546120315031, 151272.48317651715, 0.0, 0.0],
                [0.0, 0.0, 0.01, 0.0],
                [0.0, 0.0, 0.0, 0.01],
            ]
        ),
        n_u=2,
    )
    nu = gc.JointGaussian(
        np.array(
            [
                [0.01539926526059492, 0.0, 0.0, 0.0],
                [0.0, 0.015402511940052795, -62.795587413577934, 0.0],
                [0.0, -62.795587413577934, 273894.285282414, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ]
        ),
        n_u=2,
    )
    testing.get("lem-E.1")(mu=mu, nu=nu)


# ----------------------------------------------------------------------------- properties
def test_registry_ids_align_with_gaussclip_verify():
    from gaussclip import symbolic

    props = testing.registered()
    ids = [p.id for p in props]
    assert len(ids) == len(set(ids)) >= 18
    verify_ids = {check.id for check in symbolic.checks()}
    for prop in props:
        if prop.symbolic is not None:
            assert prop.symbolic in verify_ids, prop.id
        if prop.id in verify_ids:  # the same id names the same result
            assert prop.symbolic == prop.id
    for paper in ("thm-3.10", "thm-5.1", "thm-5.3", "thm-5.6", "cor-5.2", "cor-5.4", "cor-5.7"):
        assert paper in ids


def test_every_builtin_property_runs_in_the_suite():
    """Each built-in property is collected somewhere as `as_test(id)`."""
    from pathlib import Path

    text = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    for prop in testing.registered():
        assert f'as_test("{prop.id}")' in text, prop.id


@testing.property(
    "false-h-is-identity", register=False, sigma=st.floats(0.0, 0.99, allow_subnormal=False)
)
def _false_h(sigma):
    """h(sigma) = sigma (false unless sigma = 0)."""
    got = float(gc.h(sigma))
    assert abs(got - sigma) <= 1e-12, (got, sigma)


def test_false_property_is_falsified_shrunk_and_reproduced():
    result = testing.search(_false_h, examples=200, seed=0)
    assert result.status == "fail" and result.examples <= 200
    sigma = result.counterexample["sigma"]
    # every sigma >~ 1e-4 is a counterexample (h(sigma) = sigma - sigma^3 + ...); Hypothesis
    # shrinks to its simplest float, a short one (0.5 with this version)
    assert 0.0 < sigma <= 0.99 and len(repr(sigma)) <= 5
    assert "AssertionError" in result.error
    namespace = {"_false_h": _false_h}
    with pytest.raises(AssertionError):
        exec(result.snippet, namespace)


def test_search_is_deterministic_and_validates():
    a = testing.search(_false_h, examples=100, seed=3)
    b = testing.search(_false_h, examples=100, seed=3)
    assert a.counterexample == b.counterexample and a.examples == b.examples
    with pytest.raises(gc.DomainError, match="examples"):
        testing.search(_false_h, examples=0)
    with pytest.raises(gc.ArgumentTypeError, match="seed"):
        testing.search(_false_h, seed=1.5)
    with pytest.raises(gc.OptionError, match="registered property"):
        testing.search("no-such-property")
    with pytest.raises(gc.OptionError, match="example="):
        testing.property("x", register=False)(lambda: None)
    for flag in ("register", "global_random"):
        with pytest.raises(gc.ArgumentTypeError, match=flag):
            testing.property("x", **{flag: "no"}, x=st.just(0))


def test_search_runs_with_one_blas_thread_and_restores_the_setting():
    """search limits the BLAS pools to BLAS_THREADS = 1 while it runs (small matrices: extra
    threads only wait for a CPU) and restores them; blas_threads=None leaves them alone."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return {d["filepath"]: d["num_threads"] for d in threadpoolctl.threadpool_info()}

    seen = []

    @testing.property("test-blas-threads", register=False, x=st.just(0))
    def record(x):
        seen.append(blas_threads())

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        assert before and all(n == 2 for n in before.values())
        assert testing.search(record, examples=1).status == "ok"
        assert seen and all(n == 1 for n in seen[-1].values()) and blas_threads() == before
        seen.clear()
        assert testing.search(record, examples=1, blas_threads=None).status == "ok"
        assert seen[-1] == before
    with pytest.raises(gc.DomainError, match="blas_threads"):
        testing.search(record, blas_threads=0)


#: NumPy's global RandomState (what np.random.random() and np.random.seed() use), which the
#: next tests are about.
_GLOBAL_RANDOM = np.random.mtrand._rand


def _first_global_draws(global_random):
    """_GLOBAL_RANDOM.random() at the start of each of a few examples of a property."""
    seen = []

    @testing.property(
        "test-global-random", register=False, global_random=global_random, x=st.integers(0, 9)
    )
    def record(x):
        seen.append(_GLOBAL_RANDOM.random())

    assert testing.search(record, examples=5).status == "ok"
    return seen


def test_search_seeds_numpys_global_random_state_unless_a_property_opts_out():
    """By default Hypothesis seeds NumPy's global random state before every example (the same
    first draw each time) and restores it; global_random=False leaves it alone (the draws go
    on), and the default is back in force after such a search."""
    _GLOBAL_RANDOM.seed(12345)
    before = _GLOBAL_RANDOM.get_state()[1].copy()
    seeded = _first_global_draws(True)
    assert len(seeded) >= 5 and len(set(seeded)) == 1
    assert np.array_equal(_GLOBAL_RANDOM.get_state()[1], before)  # restored after the search
    free = _first_global_draws(False)
    assert len(set(free)) == len(free) >= 5
    assert not np.array_equal(_GLOBAL_RANDOM.get_state()[1], before)  # the draws consumed it
    assert len(set(_first_global_draws(True))) == 1


def test_builtin_properties_never_touch_numpys_global_random_state():
    """The built-in properties say global_random=False (so search skips Hypothesis's costly
    reseeding), a promise this checks: their searches leave NumPy's global state as it was."""
    _GLOBAL_RANDOM.seed(2024)
    before = _GLOBAL_RANDOM.get_state()[1].copy()
    builtins = [p for p in testing.registered() if p.func.__module__.endswith(".properties")]
    assert len(builtins) >= 18
    for prop in builtins:
        assert prop.global_random is False, prop.id
        assert testing.search(prop, examples=3).status == "ok", prop.id
        assert np.array_equal(_GLOBAL_RANDOM.get_state()[1], before), prop.id


def test_a_builtin_failure_prints_the_quantities_compared(monkeypatch):
    """A property's AssertionError names what was compared, with both values: swap the two
    losses that Theorem 3.10 compares and the (now false) inequality reports them."""
    from gaussclip.testing import properties

    mu = gc.JointGaussian([[2.0, 0.9], [0.9, 1.0]], n_u=1)
    params = {"A": np.array([[0.3]]), "B": None, "C": None}
    testing.get("thm-3.10")(mu=mu, tilting="inner", params=params)  # holds
    original = properties._loss
    swap = {"cond": "joint", "joint": "cond"}
    monkeypatch.setattr(properties, "_loss", lambda mu, loss, *a: original(mu, swap[loss], *a))
    with pytest.raises(AssertionError, match=r"L_cond <= L_joint: .*\n  L_cond = .*\n  L_joint = "):
        testing.get("thm-3.10")(mu=mu, tilting="inner", params=params)


def test_snippet_of_a_builtin_property_is_pasteable():
    mu = gc.JointGaussian([[2.0, 0.9], [0.9, 1.0]], n_u=1, mean=[1.0, 2.0])
    code = testing.snippet(testing.get("cor-5.7"), {"mu": mu})
    namespace = {}
    exec(code, namespace)  # the property holds: no error
    assert np.array_equal(namespace["mu"].cov, mu.cov)
    assert np.array_equal(namespace["mu"].mean, mu.mean)


# --------------------------------------------------------------- the docs' demonstration
@testing.property("printed-cor-5.2", register=False, mu=gst.joint_gaussians())
def _printed_corollary_5_2(mu):
    """Corollary 5.2 as printed (docs/ERRATA.md #10): strictly wider unless a product."""
    if mu.canonical_correlations().max() == 0.0:
        return
    nu = gc.minimize(mu, "cond", "inner").model
    excess = np.linalg.eigvalsh(nu.conditional_cov("u") - mu.conditional_cov("u"))
    assert excess.min() > 1e-9 * excess.max(), f"excess eigenvalues {excess}"


def test_docs_demo_the_printed_corollary_5_2_is_falsified_and_shrunk():
    """docs/testing.md section 3: the shrunk counterexample has n_u = n_v = 2, identity blocks
    and canonical correlations (the smallest positive drawable, 0)."""
    result = testing.search(_printed_corollary_5_2, examples=200, seed=0)
    assert result.status == "fail"
    mu = result.counterexample["mu"]
    assert (mu.n_u, mu.n_v) == (2, 2)
    assert np.array_equal(mu.Cuu, np.eye(2)) and np.array_equal(mu.Cvv, np.eye(2))
    sigma = mu.canonical_correlations()
    smallest = gst.DEFAULT_MAX_SIGMA / 255  # one byte per drawn number
    assert sigma[0] == pytest.approx(smallest, rel=1e-12) and sigma[1] == 0.0


# ------------------------------------------------------------------------------------ CLI
def test_cli_check_table_json_unknown_and_failure(capsys):
    assert main(["check", "--only", "thm-5.1", "cor-5.7", "--examples", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "id",
        "examples",
        "status",
        "seconds",
        "cpu_s",
        "examples/s",
        "cpu_examples/s",
    ]
    assert "2 of 2 properties ok" in out
    assert main(["check", "--only", "lem-E.1", "--examples", "5", "--seed", "7", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["id"] == "lem-E.1" and rows[0]["status"] == "ok" and rows[0]["examples"] == 5
    assert rows[0]["cpu_seconds"] > 0
    assert main(["check", "--only", "no-such-id"]) == 2
    assert "no-such-id" in capsys.readouterr().err
    false = testing.property("test-false-h", sigma=st.floats(0.0, 0.99))(_false_h.func)
    try:
        assert main(["check", "--only", false.id, "--examples", "100"]) == 1
        out = capsys.readouterr().out
        assert "fail" in out and "gaussclip.testing.get('test-false-h')(sigma=sigma)" in out
    finally:
        del testing.REGISTRY[false.id]


def test_cli_check_jobs_gives_the_same_results(capsys):
    """--jobs 2 searches in forked workers: statuses, example counts and counterexamples equal
    the sequential run's (each search has its own seeded profile), a property registered by the
    caller included; only the times differ."""
    false = testing.property("test-false-h-jobs", sigma=st.floats(0.0, 0.99))(_false_h.func)
    args = ["check", "--only", "cor-5.7", false.id, "lem-E.1", "--examples", "20", "--json"]
    try:
        runs = []
        for jobs in ("1", "2"):
            assert main([*args, "--jobs", jobs]) == 1
            rows = json.loads(capsys.readouterr().out)
            runs.append([{k: r[k] for k in ("id", "status", "examples", "snippet")} for r in rows])
    finally:
        del testing.REGISTRY[false.id]
    assert runs[0] == runs[1]
    assert [r["status"] for r in runs[0]] == ["ok", "fail", "ok"]
    with pytest.raises(gc.DomainError, match="jobs"):
        run_cli(only=["cor-5.7"], jobs=0)


def test_cli_check_default_examples_is_the_documented_default():
    from gaussclip.cli import build_parser

    args = build_parser().parse_args(["check"])
    assert args.examples == testing.DEFAULT_EXAMPLES and args.seed == 0 and not args.json
    assert args.jobs is None  # run_cli: one process per CPU


def test_cli_check_uses_one_process_per_cpu_by_default(monkeypatch):
    """Without --jobs, run_cli searches with default_jobs() processes: one per CPU it may use."""
    from gaussclip.testing import runner

    assert runner.default_jobs() == len(os.sched_getaffinity(0))
    seen = []
    monkeypatch.setattr(runner, "_searches", lambda sel, ex, seed, jobs: seen.append(jobs) or [])
    monkeypatch.setattr(runner, "_table", lambda results, elapsed: "")
    runner.run_cli(only=["cor-5.7"], examples=1)
    runner.run_cli(only=["cor-5.7"], examples=1, jobs=3)
    assert seen == [runner.default_jobs(), 3]


def test_cli_check_runs_as_a_command():
    done = subprocess.run(
        [sys.executable, "-m", "gaussclip", "check", "--only", "cor-5.7", "--examples", "5"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "1 of 1 properties ok" in done.stdout


def test_import_without_hypothesis_names_the_extra():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["hypothesis"] = None  # as if not installed
        try:
            import gaussclip.testing
        except ImportError as exc:
            print(exc)
        from gaussclip.cli import main
        print("exit status", main(["check"]))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "pip install gaussclip[testing]" in done.stdout
    assert "pip install gaussclip[testing]" in done.stderr and "exit status 2" in done.stdout
