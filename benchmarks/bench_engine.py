"""Benchmark of the exact engine: closed-form minimizers against the factorization floor.

For n_u = n_v = n the *floor* is the unavoidable linear algebra of any method that works through
canonical correlations, measured here with plain NumPy/SciPy in the same run: eigh of C_uu and
C_vv, forming the whitened cross-covariance (in the eigenbases: two matrix products) and its SVD.
Reported, as ratios to that floor:

* ``mu``        -- building ``gc.JointGaussian`` (validation + the cached canonical decomposition);
* one column per closed-form minimizer on a warm ``mu`` (decomposition cached, memoized products
  cleared before each call), materializing A (and B, C) and the encoders G, H;
* ``all 8``     -- a fresh ``mu`` plus all eight closed-form minimizers
  {cond (1,1), (2,0), (0,2), joint} x {inner, quadratic}, sharing the memoized products as a
  user's session would: the target is <= 1.5 floors.
* ``bound``     -- what *any* method must spend to hand over the same eight dense answers: the
  floor, plus the two products that map the canonical directions back (X_u, X_v), one general
  product per A (eight) and one symmetric product per B and C (eight, quadratic tilting), each
  timed in this run on matrices of the same size. ``all 8 / bound``: how close the engine is
  to it.

Then the speed-up of the closed forms over the certified numerical minimizer of the same exact
objective at n_u = n_v = 10 (the eight problems above and the cond x quadratic rows with
unequal two-sided weights, whose closed form solves one bracketed scalar root per canonical
pair, ``method="closed-form (scalar root)"``), and, when statsmodels is installed
(``pip install -e '.[bench]'``), canonical correlations against statsmodels' ``CanCorr`` on the
same samples.

Finally the cosine tilting at n_u = 4, n_v = 3 (``--cosine-only`` runs just this part): the
variance of its randomized quasi-Monte Carlo estimator against the same estimator on iid draws
(equal sample count) and against the previous plain Monte Carlo estimator (leave-one-out, 2000
iid draws, the old default), over independent seeds at fixed encoders; and ``gc.minimize`` of
cond and joint x cosine against the previous plain-MC numerical path (autograd L-BFGS on that
estimator, gtol 1e-9), timed in the same run. ``--cosine-fuzz`` runs a seeded fuzz of cosine
problems (sizes, conditioning, losses, weights, temperatures, ranks) and reports times and
convergence.

Run: ``python benchmarks/bench_engine.py`` (or ``gaussclip bench engine``).
"""

import argparse
import statistics
import time

import numpy as np
import scipy.linalg

import gaussclip as gc

PROBLEMS = [
    ("cond", "inner", (1.0, 1.0)),
    ("cond", "inner", (2.0, 0.0)),
    ("cond", "inner", (0.0, 2.0)),
    ("joint", "inner", (1.0, 1.0)),
    ("cond", "quadratic", (1.0, 1.0)),
    ("cond", "quadratic", (2.0, 0.0)),
    ("cond", "quadratic", (0.0, 2.0)),
    ("joint", "quadratic", (1.0, 1.0)),
]


#: cond x quadratic with unequal two-sided weights: the scalar-root closed form (not in the
#: floor table above, whose "all 8" target is about the explicit closed forms).
GENERAL_WEIGHTS = [
    ("cond", "quadratic", (1.0, 3.0)),
    ("cond", "quadratic", (3.0, 1.0)),
    ("cond", "quadratic", (1.0, 0.1)),
]


#: "wins" allows the rounding of two evaluations of an O(1) objective (~1e-14).
ROUNDING = 1e-13


def label(problem):
    loss, tilting, weights = problem
    w = "" if loss == "joint" else f"({weights[0]:g},{weights[1]:g})"
    return f"{loss}{w}/{tilting[:4]}"


def random_covariance(n, seed):
    """A 2n x 2n covariance with condition number 1e3 built from its spectrum."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((2 * n, 2 * n)))
    cov = (q * np.geomspace(1.0, 1e3, 2 * n)) @ q.T
    return 0.5 * (cov + cov.T)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def floor(cov, n):
    # the fastest LAPACK eigensolver here (divide and conquer), the one gaussclip uses too
    lu, qu = scipy.linalg.eigh(cov[:n, :n], check_finite=False, driver="evd")
    lv, qv = scipy.linalg.eigh(cov[n:, n:], check_finite=False, driver="evd")
    omega = (qu.T @ cov[:n, n:] @ qv) / np.sqrt(lu)[:, None] / np.sqrt(lv)[None, :]
    scipy.linalg.svd(omega, check_finite=False, lapack_driver="gesdd")


def materialization_bound(n, repeats):
    """Seconds of the dense products every closed-form answer set needs beyond the floor."""
    rng = np.random.default_rng(n)
    x, y, d = rng.standard_normal((n, n)), rng.standard_normal((n, n)), rng.random(n)
    t_general = median_time(lambda: (x * d) @ y.T, repeats)  # A = X_u diag(a) X_v^T
    scaled = x * np.sqrt(d)
    t_symmetric = median_time(lambda: scaled @ scaled.T, repeats)  # B = X_u diag(b) X_u^T (syrk)
    # X_u and X_v, four inner-tilting A's, four quadratic (A, B, C) triples
    return 2 * t_general + 4 * t_general + 4 * (t_general + 2 * t_symmetric)


def touch(sol):
    """Materialize everything a user reads from a Solution (no lazy shortcuts)."""
    return (sol.A, sol.B, sol.C, sol.G, sol.H, sol.objective)


def bench_size(n, repeats):
    cov = random_covariance(n, seed=n)
    t_floor = median_time(lambda: floor(cov, n), repeats)
    t_mu = median_time(lambda: gc.JointGaussian(cov, n), repeats)
    warm = gc.JointGaussian(cov, n)
    canonical = warm.canonical()  # memoized A, B, C: cleared so each call pays for its own
    per = {}
    for problem in PROBLEMS:
        loss, tilting, weights = problem
        times = []
        for _ in range(repeats):
            canonical.clear_products()
            start = time.perf_counter()
            touch(gc.minimize(warm, loss, tilting, weights=weights))
            times.append(time.perf_counter() - start)
        per[problem] = statistics.median(times)

    def all_eight():
        mu = gc.JointGaussian(cov, n)
        for loss, tilting, weights in PROBLEMS:
            touch(gc.minimize(mu, loss, tilting, weights=weights))

    t_all = median_time(all_eight, repeats)
    t_bound = t_floor + materialization_bound(n, repeats)
    return t_floor, t_mu, per, t_all, t_bound


def bench_numerical(n=10, repeats=3):
    cov = random_covariance(n, seed=123)
    mu = gc.JointGaussian(cov, n)
    rows = []
    for problem in PROBLEMS + GENERAL_WEIGHTS:
        loss, tilting, weights = problem
        closed = median_time(
            lambda loss=loss, tilting=tilting, weights=weights: touch(
                gc.minimize(mu, loss, tilting, weights=weights)
            ),
            20,
        )
        start = time.perf_counter()
        sol = gc.minimize(mu, loss, tilting, weights=weights, method="numerical", n_starts=1)
        numeric = time.perf_counter() - start
        ref = gc.minimize(mu, loss, tilting, weights=weights)
        diff = sol.objective - ref.objective
        relative = abs(diff) / ref.objective if ref.objective > 1e-12 else float("nan")
        wins = ref.objective <= sol.objective + ROUNDING  # the closed form is never worse
        rows.append((label(problem), closed, numeric, abs(diff), relative, wins))
    return rows


def bench_statsmodels(n, n_samples, seed=0):
    try:
        from statsmodels.multivariate.cancorr import CanCorr
    except ImportError:
        return None
    cov = random_covariance(n, seed=seed)
    u, v = gc.JointGaussian(cov, n).sample(n_samples, np.random.default_rng(seed))
    start = time.perf_counter()
    ours = gc.JointGaussian(np.cov(np.hstack([u, v]).T), n).canonical_correlations()
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = np.sort(CanCorr(u, v).cancorr)[::-1]
    t_theirs = time.perf_counter() - start
    return float(np.max(np.abs(ours - theirs))), t_ours, t_theirs


def cosine_problem():
    """The 4 x 3 problem of tests/test_cosine.py (spectrum geomspace(1, 30), seed 1)."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    cov = (q * np.geomspace(1.0, 30.0, 7)) @ q.T
    return gc.JointGaussian(0.5 * (cov + cov.T), 4)


def bench_cosine_variance(n_seeds=20):
    """Variance of the cosine estimators over ``n_seeds`` seeds at fixed random encoders."""
    from gaussclip import cosine

    frame = cosine.canonical_frame(cosine_problem())
    enc = np.random.default_rng(2)
    Gc, Hc = enc.standard_normal((3, 4)), enc.standard_normal((3, 3))
    n = cosine.DEFAULT_SAMPLES
    rows = {}
    for name, make in (
        ("qmc (Sobol', default)", lambda r: cosine.QMCEstimator(frame, "cond", (1, 1), 1.0, n, r)),
        (
            "same estimator, iid",
            lambda r: cosine.QMCEstimator(frame, "cond", (1, 1), 1.0, n, r, sampler="iid"),
        ),
    ):
        values, times = [], []
        for seed in range(n_seeds):
            est = make(np.random.default_rng(seed))
            start = time.perf_counter()
            values.append(float(np.mean(est.replicates(Gc, Hc, gradient=True)[0])))
            times.append(time.perf_counter() - start)
        rows[name] = (np.var(values, ddof=1), statistics.median(times))
    values, times = [], []
    for seed in range(n_seeds):
        objective = cosine.reference_monte_carlo(
            frame, "cond", (1, 1), 1.0, 2000, np.random.default_rng(seed)
        )
        start = time.perf_counter()
        values.append(float(value_and_grad_of(objective)(Gc, Hc)))
        times.append(time.perf_counter() - start)
    rows["plain MC (old, n=2000)"] = (np.var(values, ddof=1), statistics.median(times))
    return rows


def value_and_grad_of(objective):
    from autograd import value_and_grad

    def run(Gc, Hc):
        return value_and_grad(lambda G: objective(G, Hc))(Gc)[0]

    return run


def old_cosine_minimize(mu, loss, n_starts, seed=0, n_samples=2000):
    """The previous plain-MC numerical path: autograd L-BFGS (gtol 1e-9) on the leave-one-out
    estimator from ``n_samples`` iid draws, starts N(0, 0.3^2 / n_e)."""
    from autograd import value_and_grad

    from gaussclip import cosine
    from gaussclip.optimize import lbfgs

    frame = cosine.canonical_frame(mu)
    rng = np.random.default_rng(seed)
    objective = cosine.reference_monte_carlo(frame, loss, (1.0, 1.0), 1.0, n_samples, rng)
    split, rank = 3 * mu.n_u, 3
    gradient = value_and_grad(
        lambda x: objective(x[:split].reshape(3, -1), x[split:].reshape(3, -1))
    )

    def fun_and_grad(x):
        value, grad = gradient(x)
        return float(value), np.asarray(grad)

    results = [
        lbfgs(fun_and_grad, rng.standard_normal(21) * 0.3 / np.sqrt(rank), gtol=1e-9)
        for _ in range(n_starts)
    ]
    return min(results, key=lambda r: r.fun)


def bench_cosine_minimize(old_starts=1):
    mu = cosine_problem()
    rows = []
    for loss in ("cond", "joint"):
        start, cpu = time.perf_counter(), time.process_time()
        sol = gc.minimize(mu, loss, "cosine", seed=0)
        t_new, c_new = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        old = old_cosine_minimize(mu, loss, old_starts)
        t_old, c_old = time.perf_counter() - start, time.process_time() - cpu
        rows.append((loss, (t_new, c_new), sol, (t_old, c_old), old))
    return rows


def print_cosine(old_starts):
    print("\nCosine tilting, n_u = 4, n_v = 3 (cond (1,1) at fixed random encoders)")
    rows = bench_cosine_variance()
    base = rows["qmc (Sobol', default)"][0]
    print(f"{'estimator':>24} {'variance':>10} {'var / qmc':>10} {'eval+grad [ms]':>15}")
    for name, (var, t) in rows.items():
        print(f"{name:>24} {var:>10.2e} {var / base:>10.1f} {1e3 * t:>15.1f}")
    print(
        f"\ngc.minimize(mu, loss, 'cosine') (4 starts) vs the previous plain-MC path "
        f"({old_starts} start{'s' if old_starts > 1 else ''})"
    )
    print("(wall and CPU seconds; 'old J (fit)' is on its own fitted draws, hence optimistic)")
    print(
        f"{'loss':>6} {'new wall':>8} {'new cpu':>8} {'J':>8} {'stderr':>8} {'conv':>5} "
        f"{'old wall':>8} {'old cpu':>8} {'old J (fit)':>11} {'old conv':>8} {'cpu ratio':>9}"
    )
    for loss, (t_new, c_new), sol, (t_old, c_old), old in bench_cosine_minimize(old_starts):
        cert = sol.certificate
        print(
            f"{loss:>6} {t_new:>8.2f} {c_new:>8.2f} {sol.objective:>8.4f} {cert.stderr:>8.1e} "
            f"{cert.converged!s:>5} {t_old:>8.1f} {c_old:>8.1f} {old.fun:>11.4f} "
            f"{old.converged!s:>8} {c_old / c_new:>9.0f}"
        )


def cosine_fuzz(n_cases=24, seed=2026):
    """Seeded random cosine problems (n_u, n_v in 1..6, condition numbers up to 1e6, every loss
    and weight pattern, temperatures 0.05..3, random rank): time, convergence and warnings."""
    import warnings

    rng = np.random.default_rng(seed)
    print(
        "\nCosine fuzz: case, sizes, rank, loss, weights, tau, wall/CPU s, J, stderr, "
        "converged, warned"
    )
    worst = 0.0
    for case in range(n_cases):
        n_u, n_v = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        n_v += n_u + n_v < 3
        n = n_u + n_v
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        cov = (q * np.geomspace(1, 10 ** rng.uniform(0.5, 6), n)) @ q.T
        mu = gc.JointGaussian(0.5 * (cov + cov.T), n_u)
        loss = ["cond", "joint"][rng.integers(2)]
        choices = [(1.0, 1.0), (2.0, 0.0), (0.0, 2.0), (0.5, 3.0)]
        weights = (1.0, 1.0) if loss == "joint" else choices[rng.integers(4)]
        tau = float([0.05, 0.2, 0.5, 1.0, 3.0][rng.integers(5)])
        rank = int(rng.integers(1, min(n_u, n_v) + 1))
        start, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sol = gc.minimize(
                mu, loss, "cosine", weights=weights, rank=rank, temperature=tau, seed=case
            )
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        worst = max(worst, used)
        cert = sol.certificate
        print(
            f"  {case:2d} {n_u}x{n_v} r={rank} {loss:5s} {weights} tau={tau:<4} "
            f"{wall:5.1f}/{used:4.1f} J={sol.objective:.4f} se={cert.stderr:.1e} "
            f"conv={cert.converged} warned={bool(caught)}"
        )
    print(f"  largest CPU time: {worst:.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 400, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cosine-only", action="store_true", help="run only the cosine part")
    parser.add_argument(
        "--old-starts", type=int, default=1, help="starts of the (slow) previous cosine path"
    )
    parser.add_argument("--cosine-fuzz", action="store_true", help="seeded cosine fuzz only")
    args = parser.parse_args(argv)
    if args.cosine_fuzz:
        cosine_fuzz()
        return
    if args.cosine_only:
        print_cosine(args.old_starts)
        return

    print("Closed-form minimizers, time as a multiple of the factorization floor")
    print("(floor = eigh(C_uu) + eigh(C_vv) + whitened C_uv + its SVD, measured in this run)\n")
    header = ["n", "floor [ms]", "mu"] + [label(p) for p in PROBLEMS]
    header += ["all 8", "bound", "all 8 / bound"]
    print("  ".join(f"{h:>15}" if i > 2 else f"{h:>10}" for i, h in enumerate(header)))
    for n in args.sizes:
        repeats = args.repeats if n <= 400 else max(3, args.repeats // 2)
        t_floor, t_mu, per, t_all, t_bound = bench_size(n, repeats)
        cells = [f"{n:>10}", f"{1e3 * t_floor:>10.2f}", f"{t_mu / t_floor:>10.2f}"]
        cells += [f"{per[p] / t_floor:>15.3f}" for p in PROBLEMS]
        cells += [f"{t_all / t_floor:>15.2f}", f"{t_bound / t_floor:>15.2f}"]
        cells.append(f"{t_all / t_bound:>15.2f}")
        print("  ".join(cells))

    print("\nSpeed-up of the closed forms over the numerical minimizer (n_u = n_v = 10, 1 start)")
    print("(dJ: numerical minus closed-form objective, /J where J > 1e-12 ('nan': J = 0, the")
    print(" one-sided losses); 'wins': closed form <= numerical + 1e-13 rounding)")
    print(
        f"{'problem':>16} {'closed [ms]':>12} {'numerical [s]':>14} {'speed-up':>10} "
        f"{'|dJ|':>9} {'|dJ|/J':>9} {'wins':>5}"
    )
    for name, closed, numeric, diff, relative, wins in bench_numerical():
        speedup = numeric / closed
        print(
            f"{name:>16} {1e3 * closed:>12.3f} {numeric:>14.3f} {speedup:>10.0f} {diff:>9.1e} "
            f"{relative:>9.1e} {'yes' if wins else 'NO':>5}"
        )

    print("\nCanonical correlations vs statsmodels CanCorr on the same samples")
    for n, n_samples in ((10, 2000), (100, 20000)):
        result = bench_statsmodels(n, n_samples)
        if result is None:
            print("  statsmodels is not installed (pip install -e '.[bench]'); skipped.")
            break
        diff, t_ours, t_theirs = result
        print(
            f"  n={n:<4} N={n_samples:<6} max|sigma - sigma_sm| = {diff:.1e}   "
            f"gaussclip {1e3 * t_ours:.1f} ms, statsmodels {1e3 * t_theirs:.1f} ms "
            f"(ratio {t_theirs / t_ours:.1f}x)"
        )
    print_cosine(args.old_starts)


if __name__ == "__main__":
    main()
