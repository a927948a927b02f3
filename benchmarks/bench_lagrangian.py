"""Benchmark of the Lagrangian data generator against scipy.integrate.solve_ivp.

All contenders integrate the same trajectories (same flows, x0 = (0.75, 0.75), T = 0.1, the 1000
recorded times of the paper) in one run, on one core (BLAS threads pinned to 1):

* **gaussclip** -- ``gaussclip.data.lagrangian.trajectories``: classical RK4 with the paper's
  dt = 1e-5 (10,000 steps), vectorized over a chunk of samples; and, for information, the same
  with dt = 1e-4 recording every step (same recorded times, 10x fewer steps);
* **peer** -- ``scipy.integrate.solve_ivp(method="RK45")`` per trajectory, with ``t_eval`` at the
  recorded times and a plain NumPy right-hand side (49 complex exponentials per call), at
  ``rtol=1e-13, atol=1e-15``: the tolerances at which its error (~2e-12) is comparable to RK4's
  at dt = 1e-5 (~5e-13); also at ``rtol=1e-10, atol=1e-12`` (error ~1e-9) for context;
* **stacked peer** -- one ``solve_ivp`` RK45 call on all samples at once (a 2n-dimensional system
  with a vectorized right-hand side, shared adaptive steps), ``rtol=1e-13, atol=1e-15``.

Printed: samples per second, the ratio of gaussclip's paper-dt rate to each peer's, the max
deviation between gaussclip's and each peer's trajectories, and every contender's max error
against a tight DOP853 reference (``rtol=1e-13, atol=1e-15``; this reference is itself good to
~1e-11, so smaller errors only say "at reference accuracy"); then the scale of the trajectories
and the estimated time to generate the quick and full data sets. The machine may be shared:
timings are noisy.

Run: ``python benchmarks/bench_lagrangian.py`` (or ``gaussclip bench lagrangian``).
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core for both contenders

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from gaussclip.data import lagrangian as lag  # noqa: E402

COMPARABLE = {"rtol": 1e-13, "atol": 1e-15}  # RK45 error ~2e-12, RK4 (dt = 1e-5) ~5e-13
LOOSER = {"rtol": 1e-10, "atol": 1e-12}  # RK45 error ~1e-9
REFERENCE = {"method": "DOP853", "rtol": 1e-13, "atol": 1e-15}


def peer_rhs(coeffs, freqs, kv):
    """w = J grad psi for one sample, written the direct way (what a user would hand to
    solve_ivp)."""
    two_pi_k = 2.0 * np.pi * kv.astype(np.float64)

    def rhs(t, z):
        a = coeffs * np.exp(1j * (freqs * t + two_pi_k @ z))  # c_k e^{i(w_k t + 2 pi k.z)}
        grad = -(two_pi_k.T @ a.imag)  # grad Re(...) = Re(2 pi i k a) = -2 pi k Im a
        return np.array([-grad[1], grad[0]])

    return rhs


def solve_peer(coeffs, freqs, kv, times, **options):
    out = np.empty((coeffs.shape[0], times.shape[0], 2))
    steps = 0
    for i, row in enumerate(coeffs):
        options.setdefault("method", "RK45")
        sol = solve_ivp(
            peer_rhs(row, freqs, kv), (0.0, lag.T), np.array(lag.X0), t_eval=times, **options
        )
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed on sample {i}: {sol.message}")
        out[i] = sol.y.T
        steps += sol.nfev
    return out, steps / coeffs.shape[0]


def solve_stacked(coeffs, freqs, kv, times, **options):
    """One solve_ivp call on all samples: z in R^{2n}, vectorized right-hand side."""
    n = coeffs.shape[0]
    two_pi_k = 2.0 * np.pi * kv.astype(np.float64)

    def rhs(t, z):
        a = coeffs * np.exp(1j * (freqs * t + z.reshape(n, 2) @ two_pi_k.T))
        grad = -(a.imag @ two_pi_k)
        return np.stack([-grad[:, 1], grad[:, 0]], axis=1).ravel()

    sol = solve_ivp(rhs, (0.0, lag.T), np.tile(lag.X0, n), t_eval=times, **options)
    if not sol.success:
        raise RuntimeError(f"stacked solve_ivp failed: {sol.message}")
    return sol.y.T.reshape(times.shape[0], n, 2).transpose(1, 0, 2), sol.nfev


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=lag.CHUNK_SIZE, help="gaussclip samples")
    parser.add_argument("--peer-samples", type=int, default=6, help="per-trajectory solve_ivp")
    args = parser.parse_args(argv)

    kv = lag.wavevectors()
    freqs = lag.frequencies(kv)
    n = args.samples
    coeffs = lag.sample_coefficients(n, np.random.default_rng([1, 0]), kv)
    times = lag.record_times()
    n_peer = min(args.peer_samples, n)
    n_ref = min(3, n_peer)
    reference, _ = solve_peer(coeffs[:n_ref], freqs, kv, times, **REFERENCE)

    def error(paths):
        return np.abs(paths[:n_ref] - reference).max()

    ours, ours_time = timed(lag.trajectories, coeffs, freqs, kv, progress=False)
    ours_rate = n / ours_time
    coarse, coarse_time = timed(
        lag.trajectories, coeffs, freqs, kv, dt=1e-4, record_every=1, progress=False
    )
    print("Lagrangian data generation, one core: gaussclip RK4 vs scipy solve_ivp (same flows)")
    print(
        f"  gaussclip RK4 dt=1e-5 (paper): {n} samples in {ours_time:.1f} s -> "
        f"{ours_rate:.1f} samples/s; max error vs reference {error(ours):.1e}"
    )
    print(
        f"  gaussclip RK4 dt=1e-4        : {n / coarse_time:.1f} samples/s; max error "
        f"{error(coarse):.1e}; max |dt=1e-4 - dt=1e-5| = {np.abs(coarse - ours).max():.1e}"
    )
    peer_rates = {}
    for name, tol in (("comparable", COMPARABLE), ("looser", LOOSER)):
        (peer, nfev), elapsed = timed(solve_peer, coeffs[:n_peer], freqs, kv, times, **tol)
        peer_rates[name] = n_peer / elapsed
        print(
            f"  solve_ivp RK45 per trajectory, {name} (rtol={tol['rtol']:g}, atol={tol['atol']:g})"
            f": {peer_rates[name]:.2f} samples/s ({nfev:.0f} RHS calls each); max error "
            f"{error(peer):.1e}; max |gaussclip - solve_ivp| = "
            f"{np.abs(peer - ours[:n_peer]).max():.1e}"
        )
        print(f"      -> gaussclip (paper dt) is {ours_rate / peer_rates[name]:.1f}x faster")
    (stacked, nfev), elapsed = timed(solve_stacked, coeffs, freqs, kv, times, **COMPARABLE)
    print(
        f"  solve_ivp RK45 stacked over all {n} samples (rtol=1e-13, atol=1e-15): "
        f"{n / elapsed:.1f} samples/s ({nfev} RHS calls); max error {error(stacked):.1e}; "
        f"max |gaussclip - solve_ivp| = {np.abs(stacked - ours).max():.1e}"
    )
    print(f"      -> gaussclip (paper dt) / stacked solve_ivp speed: {ours_rate * elapsed / n:.2f}")

    start = np.broadcast_to(np.array(lag.X0), (n, 1, 2))
    full = np.concatenate([start, ours], axis=1)
    length = np.linalg.norm(np.diff(full, axis=1), axis=2).sum(axis=1)
    reach = np.linalg.norm(full - np.array(lag.X0), axis=2).max(axis=1)
    span = (full.max(axis=1) - full.min(axis=1)).max(axis=1)
    print(
        f"  trajectory scale (RMS speed {lag.RMS_SPEED:g}, T = {lag.T:g}, {n} samples): path "
        f"length median {np.median(length):.2f} [10%-90%: {np.percentile(length, 10):.2f}-"
        f"{np.percentile(length, 90):.2f}]; largest distance from x0 median "
        f"{np.median(reach):.2f} [{np.percentile(reach, 10):.2f}-{np.percentile(reach, 90):.2f}]"
        f"; bounding-box side median {np.median(span):.2f}"
    )
    for label, count in (("quick", sum(lag.QUICK_N.values())), ("full", 2 * lag.FULL_N)):
        minutes = count / ours_rate / 60
        print(
            f"  estimated {label} data set ({count} trajectories, dt=1e-5): {minutes:.1f} min on "
            f"1 core, ~{minutes / 2:.1f} min with n_jobs=2 (per-trajectory solve_ivp: "
            f"{count / peer_rates['comparable'] / 3600:.1f} h on 1 core)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
