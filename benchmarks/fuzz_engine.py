"""Seeded fuzz of the exact engine's public API (issue 14): run by hand, not by the test suite.

    OMP_NUM_THREADS=1 python benchmarks/fuzz_engine.py [--calls 10000] [--seed 0] [--json out.json]

Every public engine function (``JointGaussian``, ``Gaussian``, their ``sample`` / ``logpdf`` /
``conditional``, ``kl_divergence``, ``h``, ``tilted``, ``tilted_conditional``,
``population_loss``, ``minimize`` and ``.model``, the ``summaries`` functions) is called
``--calls`` times with random arguments: valid ones at extreme scales (variances from 1e-200 to
1e200, canonical correlations up to 1 - 1e-12) and invalid ones (complex, NaN, inf, entries near
1.5e308, wrong shapes, wrong types, out-of-domain numbers). A *contract violation* is

* an exception that is not a :class:`gaussclip.GaussclipError` (a raw numpy/scipy error);
* a NaN or inf anywhere in a returned value;
* an objective (``population_loss``, ``Solution.objective``, ``kl_divergence``) below 0;
* a call that takes longer than 30 s.

The cosine tilting is fuzzed only through argument validation and in one dimension (its Monte
Carlo path is slow by design and is its own issue). The script prints the counts per function
and an example of each kind of violation, and exits with status 1 if any was found.
"""

import argparse
import json
import sys
import time
from collections import Counter, defaultdict

import numpy as np

import gaussclip as gc
from gaussclip import summaries

#: A call slower than this is a violation (issue 14).
TIME_LIMIT = 30.0

BAD_ARRAYS = ("complex", "nan", "inf", "huge", "shape", "string", "none", "ragged")


def orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def random_sigma(rng, k):
    kind = rng.integers(4)
    if kind == 0:
        top = 1.0 - 10.0 ** rng.uniform(-12, -1)  # near 1
    elif kind == 1:
        top = 0.0
    else:
        top = rng.uniform(0.0, 0.999)
    return np.sort(rng.uniform(0.0, top, k))[::-1] if k > 1 else np.array([top])


def valid_cov(rng, n_u, n_v, extreme=True):
    """A joint covariance built from blocks, canonical correlations and per-coordinate scales."""
    k = min(n_u, n_v)
    sigma = random_sigma(rng, k)
    blocks = []
    for n in (n_u, n_v):
        lam = np.geomspace(1.0, 10.0 ** rng.uniform(0, 6), n)
        q = orthogonal(rng, n)
        blocks.append((q * np.sqrt(lam)) @ q.T)
    ru, rv = blocks
    u = orthogonal(rng, n_u)[:, :k]
    v = orthogonal(rng, n_v)[:, :k]
    cuu, cvv = ru @ ru, rv @ rv
    cuv = ru @ (u * sigma) @ v.T @ rv
    cov = np.block([[cuu, cuv], [cuv.T, cvv]])
    if extreme:
        d = 10.0 ** rng.uniform(-100, 100, n_u + n_v)
        cov = (cov * d[:, None]) * d[None, :]
    return cov / 2 + cov.T / 2


def corrupt(rng, array, kind=None):
    kind = kind or BAD_ARRAYS[rng.integers(len(BAD_ARRAYS))]
    a = np.array(array, dtype=np.float64)
    if kind == "complex":
        return a + 1j * rng.uniform(0.1, 1.0)
    if kind == "nan":
        a.flat[rng.integers(a.size)] = np.nan
        return a
    if kind == "inf":
        a.flat[rng.integers(a.size)] = -np.inf if rng.integers(2) else np.inf
        return a
    if kind == "huge":
        return np.full_like(a, 1.5e308) * np.sign(rng.standard_normal(a.shape))
    if kind == "shape":
        return np.ones((*a.shape, 1)) if rng.integers(2) else a.ravel()[:-1] if a.size > 1 else []
    if kind == "string":
        return "abc"
    if kind == "none":
        return None
    return [[1.0, 2.0], [3.0]]  # ragged


def bad_scalar(rng):
    return [None, "a", np.nan, np.inf, -1.0, 0.0, 1.5, -1, 1j, True, 1e308, [1.0]][rng.integers(12)]


class Fuzzer:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.calls = Counter()
        self.refused = Counter()
        self.violations = defaultdict(Counter)
        self.examples = {}
        self.slowest = 0.0
        self.last_arguments = ""  # what minimize was asked, for reports of slow calls

    # ------------------------------------------------------------------ bookkeeping
    def _violate(self, name, kind, detail):
        self.violations[name][kind] += 1
        self.examples.setdefault((name, kind), detail[:300])

    def call(self, name, fn, check=None):
        self.calls[name] += 1
        start = time.perf_counter()
        try:
            out = fn()
        except gc.GaussclipError:
            self.refused[name] += 1
            out = None
        except Exception as exc:
            self._violate(name, f"raw {type(exc).__name__}", f"{type(exc).__name__}: {exc}")
            out = None
        elapsed = time.perf_counter() - start
        self.slowest = max(self.slowest, elapsed)
        if elapsed > TIME_LIMIT:
            self._violate(name, "slow", f"{elapsed:.1f} s; {self.last_arguments}")
        if out is not None:
            try:
                problem = (check or finite)(out)
            except gc.GaussclipError:
                problem = None  # a lazily computed attribute refused cleanly
            except Exception as exc:
                problem = f"raw {type(exc).__name__} on access: {exc}"
            if problem:
                self._violate(name, problem.split(":")[0], problem)
        return out

    # ------------------------------------------------------------------ argument makers
    def dims(self):
        return int(self.rng.integers(1, 4)), int(self.rng.integers(1, 4))

    def cov_argument(self, n_u, n_v):
        r = self.rng.random()
        cov = valid_cov(self.rng, n_u, n_v, extreme=r < 0.6)
        if r < 0.8:
            return cov
        if r < 0.85:  # indefinite
            cov = cov.copy()
            cov[0, -1] = cov[-1, 0] = 2.0 * np.sqrt(cov[0, 0] * cov[-1, -1])
            return cov
        if r < 0.88:  # asymmetric
            cov = cov.copy()
            cov[0, -1] *= 1.5
            return cov
        return corrupt(self.rng, cov)

    def mu(self):
        for _ in range(100):
            n_u, n_v = self.dims()
            try:
                return gc.JointGaussian(valid_cov(self.rng, n_u, n_v), n_u)
            except gc.GaussclipError:
                continue
        raise RuntimeError("no valid mu")

    def coupling(self, mu):
        """A valid A with whitened norm in [0, 1.5] (both sides of the model's domain), or a
        corrupted one."""
        can = mu.canonical()
        k = self.rng.uniform(0, 1.5)
        core = self.rng.standard_normal((mu.n_u, mu.n_v))
        core *= k / max(np.linalg.norm(core, 2), 1e-300)
        A = can.from_canonical("u", "v", core)  # F_u^T core F_v: whitened norm k
        r = self.rng.random()
        if r < 0.75:
            return A
        if r < 0.85:
            with np.errstate(over="ignore"):
                return A * 10.0 ** self.rng.uniform(100, 300)
        return corrupt(self.rng, A)

    def psd(self, mu, side):
        n = mu.n_u if side == "u" else mu.n_v
        can = mu.canonical()
        g = self.rng.standard_normal((n, n)) * 10.0 ** self.rng.uniform(-3, 2)
        core = g @ g.T
        M = can.from_canonical(side, side, core)
        r = self.rng.random()
        if r < 0.8:
            return M / 2 + M.T / 2
        if r < 0.9:
            return -M  # indefinite B: the conditional may not exist
        return corrupt(self.rng, M)

    def weights(self):
        r = self.rng.random()
        if r < 0.3:
            return ["u|v", "v|u", "both"][self.rng.integers(3)]
        if r < 0.8:
            return tuple(self.rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], 2))
        return [(np.nan, 1.0), (1j, 1.0), "x|y", (1.0,), None, (-1.0, 1.0), 1.0][
            self.rng.integers(7)
        ]

    # ------------------------------------------------------------------ one round
    def round(self):
        rng = self.rng
        n_u, n_v = self.dims()
        cov = self.cov_argument(n_u, n_v)
        mean = (
            None
            if rng.random() < 0.5
            else rng.standard_normal(n_u + n_v) * 10.0 ** rng.uniform(-5, 5)
        )
        if rng.random() < 0.05:
            mean = corrupt(rng, np.zeros(n_u + n_v))
        n_u_arg = n_u if rng.random() < 0.95 else bad_scalar(rng)
        self.call("JointGaussian", lambda: gc.JointGaussian(cov, n_u_arg, mean=mean), check_joint)
        gcov = cov[:n_u, :n_u] if isinstance(cov, np.ndarray) and cov.ndim == 2 else cov
        gmean = rng.standard_normal(n_u)
        self.call("Gaussian", lambda: gc.Gaussian(gmean, gcov), check_gaussian)

        mu = self.mu()
        nu = self.mu()
        n = int(rng.integers(0, 5)) if rng.random() < 0.9 else bad_scalar(rng)
        gen = (
            np.random.default_rng(int(rng.integers(2**31)))
            if rng.random() < 0.95
            else bad_scalar(rng)
        )
        self.call("JointGaussian.sample", lambda: mu.sample(n, gen))
        scale_u = np.sqrt(np.diag(mu.Cuu))
        scale_v = np.sqrt(np.diag(mu.Cvv))
        x_u = rng.standard_normal((3, mu.n_u)) * scale_u * 10.0 ** rng.uniform(-2, 2)
        x_v = rng.standard_normal((3, mu.n_v)) * scale_v * 10.0 ** rng.uniform(-2, 2)
        x_arg = corrupt(rng, x_u) if rng.random() < 0.1 else x_u
        self.call("JointGaussian.logpdf", lambda: mu.logpdf(x_arg, x_v))
        side = "u" if rng.random() < 0.5 else ("v" if rng.random() < 0.9 else "w")
        given = x_v[0] if side == "u" else x_u[0]
        self.call("JointGaussian.conditional", lambda: mu.conditional(side, given), check_gaussian)
        p, q = (
            (mu, mu) if rng.random() < 0.2 else (mu, nu) if rng.random() < 0.8 else (mu, np.eye(2))
        )
        self.call("kl_divergence", lambda: gc.kl_divergence(p, q), check_objective)
        sig = (
            rng.uniform(-0.5, 1.5, int(rng.integers(1, 4)))
            if rng.random() < 0.9
            else bad_scalar(rng)
        )
        self.call("h", lambda: gc.h(sig))

        A = self.coupling(mu)
        quadratic = rng.random() < 0.5
        B = self.psd(mu, "u") if quadratic else None
        C = self.psd(mu, "v") if quadratic else None
        tilting = "quadratic" if quadratic else "inner"
        self.call("tilted", lambda: gc.tilted(mu, A, B, C, tilting=tilting), check_joint)
        other = mu.n_v if side == "u" else mu.n_u
        given = rng.standard_normal(other) * 10.0 ** rng.uniform(-3, 3)
        self.call(
            "tilted_conditional",
            lambda: gc.tilted_conditional(mu, side, given, A, B, C, tilting=tilting),
            check_gaussian,
        )
        loss = ["cond", "joint", "clip"][rng.choice(3, p=[0.6, 0.35, 0.05])]
        weights = self.weights() if loss == "cond" else (1.0, 1.0)
        self.call(
            "population_loss",
            lambda: gc.population_loss(mu, loss, tilting, A=A, B=B, C=C, weights=weights),
            check_objective,
        )
        if rng.random() < 0.05:  # cosine: validation only (and the exact 1-D path)
            temperature = bad_scalar(rng) if rng.random() < 0.8 else rng.uniform(0.1, 2.0)
            d = np.diag(10.0 ** rng.uniform(-100, 100, 2))
            c = rng.uniform(-1.0, 1.0)
            mu1 = gc.JointGaussian(d @ np.array([[1.5, c], [c, 1.5]]) @ d, 1)
            self.call(
                "population_loss",
                lambda: gc.population_loss(
                    mu1,
                    "cond",
                    "cosine",
                    G=[[1.0], [0.5]],
                    H=[[0.3], [1.0]],
                    temperature=temperature,
                ),
                check_objective,
            )

        self.call("minimize", lambda: self.minimize(mu), check_solution)

        grid = np.linspace(-5, 5, int(rng.integers(3, 30))) * 10.0 ** rng.uniform(-100, 100)
        density = np.exp(-0.5 * (grid / grid[-1] * 5) ** 2) * 10.0 ** rng.uniform(-100, 100)
        if rng.random() < 0.1:
            density = corrupt(rng, density)
        self.call("summaries.moments_1d", lambda: summaries.moments_1d(grid, density))
        with np.errstate(over="ignore", under="ignore"):
            dens2 = (
                np.outer(density, density)
                if isinstance(density, np.ndarray) and density.ndim == 1
                else density
            )
        self.call("summaries.moments_2d", lambda: summaries.moments_2d(grid, grid, dens2))
        level = rng.uniform(0.01, 0.99) if rng.random() < 0.9 else bad_scalar(rng)
        g = mu.marginal("u") if rng.random() < 0.95 else np.eye(2)
        self.call("summaries.gaussian_band", lambda: summaries.gaussian_band(g, level))
        lower, upper = -np.abs(x_u[0]), np.ones(mu.n_u)
        self.call("summaries.band_coverage", lambda: summaries.band_coverage(x_arg, lower, upper))
        self.call(
            "summaries.conditional_mean_error",
            lambda: summaries.conditional_mean_error(mu, side, A, B, C, tilting=tilting),
            check_objective,
        )
        values = rng.standard_normal((4, other)) * 10.0 ** rng.uniform(-3, 3)
        self.call(
            "summaries.conditional_mean_errors",
            lambda: summaries.conditional_mean_errors(mu, side, A, values, B, C, tilting=tilting),
        )

    def minimize(self, mu):
        rng = self.rng
        loss = ["cond", "joint"][rng.integers(2)]
        tilting = ["inner", "quadratic"][rng.integers(2)]
        kwargs = {}
        if loss == "cond":
            w = self.weights()
            numerical = isinstance(w, tuple) and len(w) == 2 and w[0] != w[1] and 0.0 not in w
            if numerical and tilting == "quadratic" and rng.random() > 0.05:
                w = (1.0, 1.0)  # the numerical route is slow: keep ~5% of those problems
            kwargs["weights"] = w
        r = rng.random()
        k = min(mu.n_u, mu.n_v)
        if r < 0.3:
            kwargs["rank"] = int(rng.integers(1, k + 1))
        elif r < 0.35:
            kwargs["rank"] = bad_scalar(rng)
        if rng.random() < 0.05:
            kwargs["seed"] = bad_scalar(rng)
        if rng.random() < 0.05:
            kwargs["method"] = "numerical" if rng.random() < 0.1 else "exact"
        if rng.random() < 0.03:
            return gc.minimize(mu, loss, "cosine", temperature=bad_scalar(rng))
        self.last_arguments = (
            f"minimize(n_u={mu.n_u}, n_v={mu.n_v}, sigma={np.round(mu.canonical_correlations(), 6)}"
            f", loss={loss!r}, tilting={tilting!r}, {kwargs})"
        )
        return gc.minimize(mu, loss, tilting, **kwargs)


def _all_finite(x):
    return bool(np.all(np.isfinite(np.asarray(x, dtype=np.complex128))))


def finite(out):
    items = out if isinstance(out, tuple) else (out,)
    for item in items:
        if isinstance(item, summaries.GridMoments):
            item = (item.mass, item.mean, item.var)
            if not all(_all_finite(x) for x in item):
                return "non-finite output: moments"
            continue
        if not _all_finite(item):
            return f"non-finite output: {np.asarray(item).ravel()[:4]}"
    return None


def check_gaussian(g):
    if not (_all_finite(g.mean) and _all_finite(g.cov)):
        return "non-finite output: Gaussian"
    return None


def check_joint(mu):
    if not (_all_finite(mu.cov) and _all_finite(mu.canonical_correlations())):
        return "non-finite output: JointGaussian"
    if not np.all(mu.canonical_correlations() < 1.0):
        return "canonical correlation >= 1"
    u, v = mu.sample(2, np.random.default_rng(0))
    if not _all_finite(mu.logpdf(u, v)):
        return "non-finite output: logpdf"
    return None


def check_objective(value):
    if not np.all(np.isfinite(value)):
        return f"non-finite output: objective {value}"
    if np.any(np.asarray(value) < 0.0):
        return f"objective below 0: {value}"
    return None


def check_solution(sol):
    problem = check_objective(sol.objective)
    if problem:
        return problem
    if sol.tilting != "cosine":
        return check_joint(sol.model)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000, help="rounds (calls per function)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the counts to this file")
    args = parser.parse_args(argv)
    fuzzer = Fuzzer(args.seed)
    start = time.perf_counter()
    for _ in range(args.calls):
        fuzzer.round()
    elapsed = time.perf_counter() - start
    total = sum(sum(c.values()) for c in fuzzer.violations.values())
    print(f"seed {args.seed}: {sum(fuzzer.calls.values())} calls in {elapsed:.0f} s "
          f"(slowest {fuzzer.slowest:.2f} s); contract violations: {total}")  # fmt: skip
    print(f"{'function':36s} {'calls':>7s} {'refused':>8s} {'violations':>10s}")
    for name in sorted(fuzzer.calls):
        bad = sum(fuzzer.violations[name].values())
        print(f"{name:36s} {fuzzer.calls[name]:7d} {fuzzer.refused[name]:8d} {bad:10d}")
    for (name, kind), detail in sorted(fuzzer.examples.items()):
        print(f"  {name} [{kind}] x{fuzzer.violations[name][kind]}: {detail}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "seed": args.seed,
                    "calls": dict(fuzzer.calls),
                    "refused": dict(fuzzer.refused),
                    "violations": {k: dict(v) for k, v in fuzzer.violations.items()},
                    "examples": {f"{k[0]} [{k[1]}]": v for k, v in fuzzer.examples.items()},
                    "seconds": elapsed,
                },
                f,
                indent=1,
            )
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
