"""Ocean-flow simulator for Lagrangian data assimilation (Section 6.3, eqs. (58)-(59)).

Each sample is a random time-dependent incompressible flow on the torus [0, 1]^2 and the
trajectory of one tracer released in it; contrastive learning then aligns the two modalities.

For training and figure code::

    from gaussclip.data import lagrangian as lag
    train = lag.paper_split("train", "quick")   # or "full"; cached after the first call
    test = lag.paper_split("test", "quick")     # same flow frequencies, other coefficients
    u = train.coefficients      # (N, 98) float64: the fixed embedding g_u = [Re c, Im c]
    v = train.trajectories      # (N, 1000, 2) float32: unwrapped tracer positions
    train.times                 # (1000,) recording times; train.freqs, train.wavevectors
    lag.potential(grid_xy, 0.0, train.complex_coefficients[i], train.freqs, train.wavevectors)
    lag.plot_segments(v[i])     # wrapped pieces for drawing a trajectory on [0, 1]^2

The flow
--------
Potential (stream function), for wavevectors k in a set of K integer pairs:

.. math::

    \\psi(x, t) = \\mathrm{Re} \\sum_k c_k \\, e^{i \\omega_k t} \\, e^{2 \\pi i k \\cdot x},
    \\qquad w(x, t) = J \\nabla \\psi(x, t), \\quad J = \\begin{bmatrix} 0 & -1 \\\\ 1 & 0
    \\end{bmatrix} \\quad \\text{(eq. 58)},

so ``w = (-d psi/dx2, d psi/dx1)`` is divergence-free and tangent to the level sets of psi.

* **Wavevectors** (:func:`wavevectors`): the 7 x 7 grid ``k in {-3, ..., 3}^2`` (K = 49, as in the
  paper), ordered row-major (k1 outer). Why a full grid rather than a half-plane: the real part in
  psi already makes psi real, so no Hermitian constraint ``c_{-k} = conj(c_k)`` is imposed; the
  modes ``k`` and ``-k`` carry independent coefficients *and* independent frequencies, i.e. two
  waves travelling in opposite directions, so all 48 non-zero modes are distinguishable from a
  time-dependent flow. (The Hermitian-symmetric view still holds: the effective Fourier
  coefficient of ``e_k`` at time t is ``(c_k e^{i w_k t} + conj(c_{-k}) e^{-i w_{-k} t}) / 2``,
  and that of ``e_{-k}`` is its conjugate.) A grid also makes the simulator fast (separable
  cos/sin bases, below).
* **The k = 0 mode** is a constant potential and moves nothing. It is kept in the list so that the
  coefficient vector has the paper's 2K = 98 entries, but its variance is zero: ``c_0 = 0`` in
  every sample (entries :data:`ZERO_MODE` and ``K + ZERO_MODE`` of the real coefficient vector
  are always 0). Data sets therefore contain no unlearnable noise.
* **Frequencies** (:func:`frequencies`): ``w_k ~ Uniform(-w_max, w_max)`` i.i.d., drawn once per
  data set from ``flow_seed`` (shared by the train and test splits), with
  ``w_max = MAX_FREQUENCY = pi / T = 10 pi``: over the horizon T = 0.1 each mode turns by up to
  half a period, so the flow really changes along a trajectory while the potential at t = 0
  (Figure 13) still shows the structures the tracer meets first.
* **Coefficients** (:func:`sample_coefficients`): independent circular complex Gaussians,

  .. math::  c_k = a \\, |k|^{-\\alpha} \\, (\\xi_k + i \\eta_k) / \\sqrt{2}, \\quad
             \\xi_k, \\eta_k \\sim N(0, 1), \\quad E|c_k|^2 = a^2 |k|^{-2\\alpha}, \\quad c_0 = 0,

  with decay ``alpha = DECAY = 2`` (velocity amplitude ``~ 1/|k|``, large eddies dominate) and the
  amplitude ``a`` fixed by the root-mean-square speed: since
  ``E|w(x, t)|^2 = 2 pi^2 a^2 sum_k |k|^{2 - 2 alpha}`` at every (x, t),
  ``a = RMS_SPEED / (pi sqrt(2 sum_k |k|^{2 - 2 alpha}))``. With ``RMS_SPEED = 6`` a tracer
  travels a path of median length 0.55 (10%-90%: 0.3-0.8) over T = 0.1 and gets up to a median
  0.35 (0.2-0.6) away from x0, i.e. its trajectory crosses a third of the domain, following and
  leaving the eddies of the t = 0 potential (measured on 2048 flows by
  ``benchmarks/bench_lagrangian.py``; the test suite checks median path > 0.4, reach > 0.25).

The trajectories
----------------
:func:`trajectories` integrates ``dz/dt = w(z, t)`` from ``x0 = (0.75, 0.75)`` with the classical
fourth-order Runge-Kutta method, ``dt = 1e-5`` up to ``T = 0.1`` (10,000 steps), recording every
10 steps: ``J_v = 1000`` points at ``t_j = 10 j dt``, ``j = 1..1000`` (:func:`record_times`).
Positions are *unwrapped* (they leave [0, 1]^2 freely; the flow is periodic); use :func:`wrap`
or :func:`plot_segments` for plotting only.

How it is fast. Per sample and time, psi is written as ``b(x1)^T Psi(t) b(x2)`` with the real
basis ``b(x) = [1, cos 2 pi j x, sin 2 pi j x]_{j=1..3}`` (7 functions) and a real 7 x 7 matrix
``Psi(t)``. ``Psi(t)`` is linear in ``(Re c, Im c)`` with weights ``cos w_k t``, ``sin w_k t``
shared by all samples: grouping the four modes ``(+-j1, +-j2)`` gives a 4 x 8 map per group,
applied to a whole chunk of samples with one batched matrix product for every half step of a
block of steps. A velocity evaluation is then two 7 x 7 matrix-vector products per sample,
vectorized over the chunk (no Python loop over modes or samples). The result of a sample does
not depend on the chunk it is integrated in (bit for bit), nor on ``n_jobs``.

Speed (``benchmarks/bench_lagrangian.py``, one core, 2048 samples): about 80 trajectories per
second at the paper's dt = 1e-5, i.e. the full 2 x 32,268 set in ~13 min on one core (~7 min with
``n_jobs=2``) and 9,216 pairs in ~1 min; ~7x faster than ``solve_ivp`` RK45 run per trajectory
at comparable accuracy (``rtol=1e-13``; both within ~2e-12 of a DOP853 reference). The fixed
step is the cost: dt = 1e-5 is far finer than the flow needs (RK4 with dt = 1e-4 reproduces the
dt = 1e-5 trajectories to ~3e-10, far below the float32 storage resolution, and runs ~8x faster),
and an adaptive RK45 on all samples at once needs ~2900 right-hand sides instead of 40,000, so it
beats the paper's fixed step by ~1.8x. ``dt`` is a parameter of :func:`dataset`; the quick
mode uses dt = 1e-4 (:data:`QUICK_STEP`: its 17,408 pairs took 67 s of wall time with
``n_jobs=-1`` on the shared, loaded 2-core machine), the full mode the paper's dt = 1e-5.

Data sets and caching
---------------------
>>> data = dataset(2048, seed=0)                  # doctest: +SKIP
>>> data.coefficients.shape, data.trajectories.shape  # doctest: +SKIP
((2048, 98), (2048, 1000, 2))

:func:`dataset` ``(n, seed, ...)`` returns a :class:`LagrangianData` with ``coefficients``
``(n, 2K)`` float64 (``[Re c_1..Re c_K, Im c_1..Im c_K]``, :func:`to_real` / :func:`to_complex`),
``trajectories`` ``(n, J, 2)`` float32 (stored in float32 to halve the 258 MB per full split;
RK4 runs in float64), ``times``, ``freqs``, ``wavevectors`` and ``params``. The first ``m`` samples
of a data set do not depend on ``n`` (a smaller set is a prefix of a larger one with the same
seed and time step).
Use ``seed=0`` for training and ``seed=1`` for testing (:func:`paper_split`): same flow
frequencies, independent coefficients.

Every data set is cached under :func:`gaussclip.io.cache_dir` ``("lagrangian")`` as
``lagrangian-n{n}-seed{seed}-{key}.npz`` plus ``.json`` metadata (every parameter, the array shapes
and the sha256 of the ``.npz``), both written atomically; ``key`` hashes the parameters, so any
change of a parameter builds a new data set, and a corrupted file is detected (sha256), reported
(:class:`~gaussclip.data._cache.CacheWarning`) and rebuilt, never used.
``gaussclip data lagrangian`` (:func:`prefetch`) builds the quick-mode train and test splits
(16,384 and 1,024 pairs at dt = 1e-4: :data:`QUICK_N`, :data:`QUICK_STEP`), the data of the quick
figures 13-15.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from tqdm import tqdm

from .. import io as gio
from .._checks import choice, finite_array, generator, integer
from ..errors import ShapeError
from . import _cache

# ---- defaults of the paper's experiment (Section 6.3) --------------------------------------------
GRID_RADIUS = 3  # wavevectors k in {-3..3}^2: K = 49
X0 = (0.75, 0.75)  # release point of the tracer
DT = 1e-5  # RK4 time step
T = 0.1  # horizon
RECORD_EVERY = 10  # steps between recorded positions: J_v = T / (10 dt) = 1000
DECAY = 2.0  # alpha in E|c_k|^2 ~ |k|^(-2 alpha)
RMS_SPEED = 6.0  # root-mean-square speed of the flow; sets the amplitude a
MAX_FREQUENCY = np.pi / T  # w_k ~ U(-w_max, w_max): up to half a period over the horizon
FLOW_SEED = 0  # seed of the frequencies w_k, shared by train and test
FULL_N = 32_268  # training and test pairs in full mode (the paper's N and N_test)
QUICK_N = {"train": 16384, "test": 1024}  # quick mode (gaussclip.experiments.lagrangian)
#: The quick mode's time step: RK4 with dt = 1e-4 reproduces the dt = 1e-5 trajectories to the
#: float32 storage precision at a tenth of the cost (see "Speed" above).
QUICK_STEP = {"dt": 1e-4, "record_every": 1}
SPLIT_SEEDS = {"train": 0, "test": 1}
CHUNK_SIZE = 2048  # samples integrated together: large enough to amortize numpy call overhead
SIMULATOR_VERSION = 1  # bump when the numbers a parameter set produces change

_TWO_PI = 2.0 * np.pi
_COEFF_STREAM, _FREQ_STREAM = 1, 2  # distinct entropy for coefficients and frequencies
# A time step must divide the horizon to this relative precision (T / dt is an integer).
_STEP_RTOL = 1e-9


# ---- the flow ------------------------------------------------------------------------------------


def wavevectors(radius=GRID_RADIUS):
    """The wavevector grid ``{-radius..radius}^2``, row-major (k1 outer): (K, 2) int64.

    >>> k = wavevectors()
    >>> k.shape, k[0].tolist(), k[ZERO_MODE].tolist(), k[-1].tolist()
    ((49, 2), [-3, -3], [0, 0], [3, 3])
    """
    radius = integer(radius, "radius", 1, 50)
    side = np.arange(-radius, radius + 1)
    return np.stack(np.meshgrid(side, side, indexing="ij"), axis=-1).reshape(-1, 2)


ZERO_MODE = 24  # index of k = (0, 0) in wavevectors(3)


def frequencies(wavevectors, seed=FLOW_SEED, max_frequency=MAX_FREQUENCY):
    """Temporal frequencies ``w_k ~ Uniform(-max_frequency, max_frequency)``, i.i.d.: (K,).

    Drawn from their own random stream of ``seed`` (independent of the coefficients' stream).
    """
    kv = _wavevectors_array(wavevectors)
    max_frequency = _positive(max_frequency, "max_frequency", allow_zero=True)
    rng = np.random.default_rng([_FREQ_STREAM, _seed(seed, "seed")])
    return rng.uniform(-max_frequency, max_frequency, size=kv.shape[0])


def coefficient_std(wavevectors, decay=DECAY, rms_speed=RMS_SPEED):
    """Standard deviations ``sqrt(E|c_k|^2) = a |k|^(-decay)`` (0 for k = 0): (K,).

    ``a`` makes the root-mean-square speed ``sqrt(E|w(x, t)|^2)`` equal ``rms_speed``, using
    ``E|w|^2 = 2 pi^2 a^2 sum_k |k|^(2 - 2 decay)`` (each circular mode contributes
    ``(2 pi |k|)^2 E|c_k|^2 / 2``).
    """
    kv = _wavevectors_array(wavevectors)
    decay = float(finite_array(decay, "decay", ndim=0))
    rms_speed = _positive(rms_speed, "rms_speed")
    norm = np.hypot(kv[:, 0], kv[:, 1])
    shape = np.zeros(kv.shape[0])
    nonzero = norm > 0
    shape[nonzero] = norm[nonzero] ** (-decay)
    energy = 2.0 * np.pi**2 * np.sum(norm**2 * shape**2)
    if energy == 0:
        raise ShapeError(
            "`wavevectors` must contain a non-zero wavevector; k = 0 alone moves nothing."
        )
    return shape * (rms_speed / np.sqrt(energy))


def sample_coefficients(n, rng, wavevectors, decay=DECAY, rms_speed=RMS_SPEED):
    """Complex coefficients ``c_k = std_k (xi + i eta) / sqrt(2)``: (n, K) complex128.

    Row ``i`` depends only on the first ``i + 1`` draws of ``rng``, so a smaller ``n`` gives a
    prefix of a larger one.
    """
    n = integer(n, "n", 1, 10**8)
    rng = generator(rng)
    std = coefficient_std(wavevectors, decay, rms_speed)
    z = rng.standard_normal((n, std.shape[0], 2))
    return (z[..., 0] + 1j * z[..., 1]) * (std / np.sqrt(2.0))


def to_real(coeffs):
    """(n, K) complex -> (n, 2K) real ``[Re c, Im c]`` (the paper's g_u embedding)."""
    coeffs = np.asarray(coeffs)
    return np.concatenate([coeffs.real, coeffs.imag], axis=-1)


def to_complex(reals):
    """(n, 2K) real ``[Re c, Im c]`` -> (n, K) complex128; inverse of :func:`to_real`."""
    reals = np.asarray(reals, dtype=np.float64)
    if reals.shape[-1] % 2:
        raise ShapeError(f"`reals` must have an even last axis (2K); got shape {reals.shape}.")
    k = reals.shape[-1] // 2
    return reals[..., :k] + 1j * reals[..., k:]


def potential(x, t, coeffs, freqs, wavevectors):
    """The potential psi(x, t) of eq. (59), by direct summation (for plots and checks).

    Parameters
    ----------
    x : (n, 2) array_like
        Positions (any real numbers; psi is 1-periodic).
    t : float
        Time.
    coeffs : (n, K) or (K,) complex array_like
        One potential per position, or one for all positions.
    freqs : (K,) array_like
    wavevectors : (K, 2) int array_like

    Returns
    -------
    (n,) float64 array
    """
    x, t, coeffs, freqs, kv = _check_field_args(x, t, coeffs, freqs, wavevectors)
    phase = np.exp(1j * (freqs * t + _TWO_PI * (x @ kv.T)))  # (n, K)
    return np.sum(coeffs * phase, axis=-1).real


def velocity(x, t, coeffs, freqs, wavevectors):
    """The velocity ``w = J grad psi`` of eq. (58) at positions ``x`` and time ``t``.

    Parameters are those of :func:`potential`. Computed with the simulator's kernel (the real
    7 x 7 form of psi), so this is exactly the field :func:`trajectories` integrates.

    Returns
    -------
    (n, 2) float64 array
        ``(-d psi / dx2, d psi / dx1)``.

    Examples
    --------
    >>> kv = wavevectors()
    >>> c = sample_coefficients(3, np.random.default_rng(0), kv)
    >>> velocity(np.full((3, 2), 0.5), 0.0, c, frequencies(kv), kv).shape
    (3, 2)
    """
    x, t, coeffs, freqs, kv = _check_field_args(x, t, coeffs, freqs, wavevectors)
    coeffs = np.broadcast_to(coeffs, (x.shape[0], kv.shape[0]))
    flow = _Flow(kv, freqs)
    psi = flow.psi_matrices(flow.inputs(coeffs), np.array([t]))[0]
    return flow.velocity(psi, np.ascontiguousarray(x.T)).T


def record_times(dt=DT, T=T, record_every=RECORD_EVERY):
    """Times ``t_j = j record_every dt``, ``j = 1..J``, of the recorded positions: (J,)."""
    n_steps, record_every = _steps(dt, T, record_every)
    return np.arange(1, n_steps // record_every + 1) * (record_every * dt)


def trajectories(
    coeffs,
    freqs,
    wavevectors,
    x0=X0,
    dt=DT,
    T=T,
    record_every=RECORD_EVERY,
    *,
    chunk_size=CHUNK_SIZE,
    n_jobs=1,
    progress=None,
):
    """Tracer trajectories ``dz/dt = w(z, t)``, ``z(0) = x0``, by classical RK4.

    Parameters
    ----------
    coeffs : (n, K) complex array_like
        One flow per sample.
    freqs : (K,) array_like
    wavevectors : (K, 2) int array_like
    x0 : (2,) or (n, 2) array_like
        Release point(s); default (0.75, 0.75).
    dt, T : float
        Step and horizon; ``T / dt`` must be an integer number of steps.
    record_every : int
        Record the position every ``record_every`` steps (must divide ``T / dt``).
    chunk_size : int
        Samples integrated together (vectorized); results do not depend on it.
    n_jobs : int
        Worker processes (joblib); results do not depend on it.
    progress : bool or None
        Show a tqdm bar (``None``: only when writing to a terminal).

    Returns
    -------
    (n, J, 2) float64 array
        Unwrapped positions at :func:`record_times` (the start ``x0`` is not included).
    """
    kv = _wavevectors_array(wavevectors)
    coeffs = _complex_coeffs(coeffs, kv.shape[0], ndim=2)
    freqs = finite_array(freqs, "freqs", shape=(kv.shape[0],))
    n = coeffs.shape[0]
    x0 = finite_array(x0, "x0")
    if x0.shape not in ((2,), (n, 2)):
        raise ShapeError(f"`x0` must have shape (2,) or ({n}, 2); got shape {x0.shape}.")
    x0 = np.broadcast_to(x0, (n, 2))
    n_steps, record_every = _steps(dt, T, record_every)
    chunk_size = integer(chunk_size, "chunk_size", 1, 10**6)
    n_jobs = integer(n_jobs, "n_jobs", -16, 64)
    # at least one chunk per worker (results do not depend on the chunking)
    chunk_size = min(chunk_size, -(-n // effective_n_jobs(n_jobs)))
    starts = range(0, n, chunk_size)
    tasks = (
        delayed(_integrate_chunk)(
            coeffs[s : s + chunk_size],
            freqs,
            kv,
            x0[s : s + chunk_size],
            dt,
            n_steps,
            record_every,
        )
        for s in starts
    )
    out = np.empty((n, n_steps // record_every, 2))
    disable = None if progress is None else not progress
    with tqdm(total=n, unit="traj", desc="RK4 trajectories", disable=disable) as bar:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        for s, chunk in zip(starts, results, strict=True):
            out[s : s + chunk.shape[0]] = chunk
            bar.update(chunk.shape[0])
    return out


def wrap(positions):
    """Positions mapped into the unit torus [0, 1)^2 (for plotting only)."""
    return np.mod(positions, 1.0)


def plot_segments(trajectory):
    """Split one unwrapped (continuous) trajectory (J, 2) into pieces inside the unit cell.

    Returns a list of (L_i, 2) arrays of positions in [0, 1)^2; draw each as one line.
    """
    trajectory = finite_array(trajectory, "trajectory", shape=(None, 2))
    cell = np.floor(trajectory)
    breaks = np.flatnonzero(np.any(np.diff(cell, axis=0) != 0, axis=1)) + 1
    return np.split(trajectory - cell, breaks)


# ---- data sets -----------------------------------------------------------------------------------


@dataclass
class LagrangianData:
    """A cached data set of (coefficients, trajectory) pairs; see :func:`dataset`."""

    coefficients: np.ndarray  # (n, 2K) float64: [Re c, Im c], the fixed g_u embedding
    trajectories: np.ndarray  # (n, J, 2) float32: unwrapped positions at `times`
    times: np.ndarray  # (J,) float64
    freqs: np.ndarray  # (K,) float64
    wavevectors: np.ndarray  # (K, 2) int64
    params: dict  # every generation parameter (also in the JSON metadata)
    path: Path  # the cached .npz
    from_cache: bool = field(default=False)  # True if loaded, False if generated in this call

    @property
    def complex_coefficients(self):
        """(n, K) complex128 coefficients c_k."""
        return to_complex(self.coefficients)

    def __len__(self):
        return self.coefficients.shape[0]


def dataset(
    n,
    seed,
    *,
    flow_seed=FLOW_SEED,
    radius=GRID_RADIUS,
    decay=DECAY,
    rms_speed=RMS_SPEED,
    max_frequency=MAX_FREQUENCY,
    x0=X0,
    dt=DT,
    T=T,
    record_every=RECORD_EVERY,
    chunk_size=CHUNK_SIZE,
    n_jobs=1,
    progress=None,
):
    """``n`` (potential, trajectory) pairs, from the cache or simulated and cached.

    Parameters
    ----------
    n : int
        Number of samples.
    seed : int
        Seed of the coefficients (0: training split, 1: test split by convention).
    flow_seed : int
        Seed of the frequencies w_k (keep it equal across splits).
    radius, decay, rms_speed, max_frequency
        The flow law (module docstring); defaults reproduce the paper's set-up.
    x0, dt, T, record_every
        The integration (defaults: (0.75, 0.75), 1e-5, 0.1, 10).
    chunk_size, n_jobs, progress
        Execution only (see :func:`trajectories`); they do not change the data.

    Returns
    -------
    LagrangianData
    """
    n = integer(n, "n", 1, 10**7)
    seed = _seed(seed, "seed")
    flow_seed = _seed(flow_seed, "flow_seed")
    kv = wavevectors(radius)
    n_steps, record_every = _steps(dt, T, record_every)
    x0 = finite_array(x0, "x0", shape=(2,))
    params = {
        "simulator_version": SIMULATOR_VERSION,
        "n": n,
        "seed": seed,
        "flow_seed": flow_seed,
        "radius": radius,
        "decay": float(decay),
        "rms_speed": float(rms_speed),
        "max_frequency": float(max_frequency),
        "x0": [float(v) for v in x0],
        "dt": float(dt),
        "T": float(T),
        "n_steps": n_steps,
        "record_every": record_every,
        "trajectory_dtype": "float32",
    }
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    folder = gio.cache_dir("lagrangian")
    npz_path = folder / f"lagrangian-n{n}-seed{seed}-{key}.npz"
    meta_path = npz_path.with_suffix(".json")
    arrays = _cache.load(npz_path, meta_path, params)
    from_cache = arrays is not None
    if not from_cache:
        freqs = frequencies(kv, flow_seed, max_frequency)
        rng = np.random.default_rng([_COEFF_STREAM, seed])
        coeffs = sample_coefficients(n, rng, kv, decay, rms_speed)
        paths = trajectories(
            coeffs,
            freqs,
            kv,
            x0,
            dt,
            T,
            record_every,
            chunk_size=chunk_size,
            n_jobs=n_jobs,
            progress=progress,
        )
        arrays = {
            "coefficients": to_real(coeffs),
            "trajectories": paths.astype(np.float32),
            "times": record_times(dt, T, record_every),
            "freqs": freqs,
            "wavevectors": kv,
        }
        _cache.save(npz_path, meta_path, arrays, params)
    return LagrangianData(
        coefficients=arrays["coefficients"],
        trajectories=arrays["trajectories"],
        times=arrays["times"],
        freqs=arrays["freqs"],
        wavevectors=arrays["wavevectors"],
        params=params,
        path=npz_path,
        from_cache=from_cache,
    )


def paper_split(split="train", mode="quick", **kwargs):
    """The train or test split of the paper's experiment: ``dataset(n, seed, **kwargs)`` with
    ``n = QUICK_N[split]`` and the time step :data:`QUICK_STEP` (quick; ``kwargs`` override it)
    or ``FULL_N`` and the paper's step (full), and ``seed = SPLIT_SEEDS[split]``."""
    choice(split, "split", tuple(SPLIT_SEEDS))
    choice(mode, "mode", ("quick", "full"))
    if mode == "quick":
        return dataset(QUICK_N[split], SPLIT_SEEDS[split], **(QUICK_STEP | kwargs))
    return dataset(FULL_N, SPLIT_SEEDS[split], **kwargs)


def prefetch():
    """Build the quick-mode train and test splits into the cache (``gaussclip data lagrangian``):
    the data the quick figures 13-15 load."""
    for split in SPLIT_SEEDS:
        data = paper_split(split, "quick", n_jobs=-1)
        state = "cached" if data.from_cache else "generated"
        print(f"Lagrangian {split} split ({len(data)} trajectories, {state}): {data.path}")


# ---- the kernel ----------------------------------------------------------------------------------


class _Flow:
    """Precomputed index maps of the real 7 x 7 form ``psi = b(x1)^T Psi(t) b(x2)``.

    The basis is ``b(x) = [cos 2 pi j x (j = 0..M), sin 2 pi j x (j = 1..M)]`` (m = 2M + 1 entries,
    M = max |k_i|). Group ``g = (j1, j2)``, ``j_i = |k_i|``, holds the modes ``(s1 j1, s2 j2)``
    with signs ``s_i = +-1`` (``+`` when ``j_i = 0``) in four slots; each mode contributes

        Re(a e^{2 pi i k.x}) = Re a (C1 C2 - s1 s2 S1 S2) - Im a (s1 S1 C2 + s2 C1 S2),

    with ``a = c e^{i w t}``, ``C_i = cos 2 pi j_i x_i``, ``S_i = sin 2 pi j_i x_i``.
    """

    def __init__(self, kv, freqs):
        self.kv = kv
        self.freqs = freqs
        self.M = M = int(np.max(np.abs(kv)))
        self.m = 2 * M + 1
        j1, j2 = np.abs(kv[:, 0]), np.abs(kv[:, 1])
        self.s1 = np.where(kv[:, 0] < 0, -1.0, 1.0)
        self.s2 = np.where(kv[:, 1] < 0, -1.0, 1.0)
        self.group = j1 * (M + 1) + j2
        self.slot = 2 * (kv[:, 0] < 0) + (kv[:, 1] < 0)
        self.n_groups = (M + 1) ** 2
        # basis index r -> (j, kind): r <= M is cos(2 pi r x), r > M is sin(2 pi (r - M) x)
        r = np.arange(self.m)
        j = np.where(r <= M, r, r - M)
        kind = (r > M).astype(int)
        # Psi entry (r1, r2) is output 2 kind1 + kind2 of group j1 (M + 1) + j2
        self.take_group = (j[:, None] * (M + 1) + j[None, :]).reshape(-1)
        self.take_out = (2 * kind[:, None] + kind[None, :]).reshape(-1)
        self.scale = _TWO_PI * np.arange(1, M + 1, dtype=np.float64)[:, None, None]  # (M, 1, 1)

    def inputs(self, coeffs):
        """(n, K) complex -> X (G, 8, n): slot s of group g holds (Re c, Im c) at 2s, 2s+1."""
        X = np.zeros((self.n_groups, 8, coeffs.shape[0]))
        X[self.group, 2 * self.slot] = coeffs.real.T
        X[self.group, 2 * self.slot + 1] = coeffs.imag.T
        return X

    def weights(self, times):
        """W (G, nt, 4, 8): the group outputs (CC, CS, SC, SS) at each time are ``W @ X``."""
        phase = self.freqs[:, None] * times[None, :]  # (K, nt)
        cos, sin = np.cos(phase), np.sin(phase)
        W = np.zeros((self.n_groups, times.shape[0], 4, 8))
        g, re, im = self.group, 2 * self.slot, 2 * self.slot + 1
        s1, s2 = self.s1[:, None], self.s2[:, None]
        W[g, :, 0, re], W[g, :, 0, im] = cos, -sin  # CC:  Re a
        W[g, :, 1, re], W[g, :, 1, im] = -s2 * sin, -s2 * cos  # CS: -s2 Im a
        W[g, :, 2, re], W[g, :, 2, im] = -s1 * sin, -s1 * cos  # SC: -s1 Im a
        W[g, :, 3, re], W[g, :, 3, im] = -s1 * s2 * cos, s1 * s2 * sin  # SS: -s1 s2 Re a
        return W

    def psi_matrices(self, X, times):
        """Psi(t) for each time: (nt, m, m, n). One (4 nt x 8) @ (8 x n) product per group."""
        nt, n = times.shape[0], X.shape[-1]
        if n == 1:
            # BLAS sends a single column to gemv, whose rounding differs from gemm's; two
            # columns keep every sample on one path, so results do not depend on chunking.
            X = np.concatenate([X, X], axis=-1)
        W = self.weights(times).reshape(self.n_groups, nt * 4, 8)
        flat = np.matmul(W, X).reshape(self.n_groups * nt * 4, X.shape[-1])
        # row of (time tau, Psi entry e) in `flat`: group(e) * 4 nt + 4 tau + output(e)
        rows = self.take_group[None, :] * (4 * nt) + 4 * np.arange(nt)[:, None] + self.take_out
        psi = np.take(flat, rows, axis=0).reshape(nt, self.m, self.m, -1)
        return psi[..., :n]

    def velocity(self, psi, x):
        """w = (-d psi/dx2, d psi/dx1) for Psi (m, m, n) at positions x (2, n): (2, n)."""
        M = self.M
        angle = _TWO_PI * x
        basis = np.empty((2, self.m, 2, x.shape[-1]))  # (value/derivative, r, coordinate, n)
        cos, sin = basis[0, 1 : M + 1], basis[0, M + 1 :]
        cos[0], sin[0] = np.cos(angle), np.sin(angle)
        for j in range(1, M):  # Chebyshev recurrences for the harmonics 2..M
            previous_cos = cos[j - 2] if j > 1 else 1.0
            previous_sin = sin[j - 2] if j > 1 else 0.0
            cos[j] = 2.0 * cos[0] * cos[j - 1] - previous_cos
            sin[j] = 2.0 * cos[0] * sin[j - 1] - previous_sin
        basis[0, 0] = 1.0
        basis[1, 0] = 0.0
        np.multiply(-self.scale, sin, out=basis[1, 1 : M + 1])
        np.multiply(self.scale, cos, out=basis[1, M + 1 :])
        # v[s] = Psi b^(s)(x2): s = 0 the basis, s = 1 its derivative
        v = np.einsum("ijn,sjn->sin", psi, basis[:, :, 1])
        w = np.empty_like(x)
        w[0] = -np.einsum("in,in->n", basis[0, :, 0], v[1])  # -d psi/dx2
        w[1] = np.einsum("in,in->n", basis[1, :, 0], v[0])  # d psi/dx1
        return w


def _integrate_chunk(coeffs, freqs, kv, x0, dt, n_steps, record_every):
    """RK4 for one chunk of samples: (n, J, 2). Unchecked kernel of :func:`trajectories`."""
    flow = _Flow(kv, freqs)
    X = flow.inputs(coeffs)
    x = np.array(x0.T, dtype=np.float64)  # (2, n)
    half = 0.5 * dt
    out = np.empty((n_steps // record_every, 2, x.shape[1]))
    # Psi at t_n + dt/2 and t_n + dt, two steps at a time: small enough to stay in cache.
    # Times are (integer) * dt/2, so every chunk sees bit-identical times.
    offsets = np.arange(1, 5)
    psi_start = flow.psi_matrices(X, np.zeros(1))[0]
    for step in range(n_steps):
        if step % 2 == 0:
            psi = flow.psi_matrices(X, (2 * step + offsets[: 2 * min(2, n_steps - step)]) * half)
        psi_mid, psi_end = psi[2 * (step % 2)], psi[2 * (step % 2) + 1]
        k1 = flow.velocity(psi_start, x)
        k2 = flow.velocity(psi_mid, x + half * k1)
        k3 = flow.velocity(psi_mid, x + half * k2)
        k4 = flow.velocity(psi_end, x + dt * k3)
        x = x + (dt / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)
        psi_start = psi_end
        if (step + 1) % record_every == 0:
            out[step // record_every] = x
    return out.transpose(2, 0, 1)


# ---- checks --------------------------------------------------------------------------------------


def _seed(value, name):
    return integer(value, name, 0, 2**63 - 1)


def _positive(value, name, allow_zero=False):
    value = float(finite_array(value, name, ndim=0))
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ShapeError(f"`{name}` must be {bound}; got {value}.")
    return value


def _wavevectors_array(kv):
    kv = finite_array(kv, "wavevectors", shape=(None, 2))
    if kv.shape[0] == 0 or not np.array_equal(kv, np.rint(kv)):
        raise ShapeError(
            "`wavevectors` must be a non-empty (K, 2) array of integers (the flow lives on the "
            f"unit torus, so k must be integer); got shape {kv.shape}."
        )
    kv = np.rint(kv).astype(np.int64)
    if np.unique(kv, axis=0).shape[0] != kv.shape[0]:
        raise ShapeError("`wavevectors` must be distinct; merge repeated k into one coefficient.")
    return kv


def _complex_coeffs(coeffs, K, ndim):
    try:
        array = np.asarray(coeffs, dtype=np.complex128)
    except (TypeError, ValueError) as exc:
        raise ShapeError(
            f"`coeffs` must be a complex array; got {type(coeffs).__name__} ({exc})."
        ) from None
    if array.ndim not in ((1, 2) if ndim is None else (ndim,)) or array.shape[-1] != K:
        want = f"(n, {K})" if ndim == 2 else f"(n, {K}) or ({K},)"
        raise ShapeError(
            f"`coeffs` must have shape {want} (one complex coefficient per wavevector); got "
            f"shape {array.shape}. Use to_complex() to convert the 2K real layout."
        )
    if not np.all(np.isfinite(array)):
        raise ShapeError("`coeffs` must be finite; got NaN or inf.")
    return array


def _check_field_args(x, t, coeffs, freqs, kv):
    kv = _wavevectors_array(kv)
    x = finite_array(x, "x", shape=(None, 2))
    t = float(finite_array(t, "t", ndim=0))
    coeffs = _complex_coeffs(coeffs, kv.shape[0], ndim=None)
    if coeffs.ndim == 2 and coeffs.shape[0] != x.shape[0]:
        raise ShapeError(
            f"`coeffs` has {coeffs.shape[0]} rows but `x` has {x.shape[0]} positions; pass one "
            "potential per position, or a single (K,) potential for all of them."
        )
    freqs = finite_array(freqs, "freqs", shape=(kv.shape[0],))
    return x, t, coeffs, freqs, kv


def _steps(dt, T, record_every):
    dt = _positive(dt, "dt")
    T = _positive(T, "T")
    ratio = T / dt
    n_steps = round(ratio)
    if n_steps < 1 or abs(ratio - n_steps) > _STEP_RTOL * ratio:
        raise ShapeError(
            f"`T / dt` must be a whole number of steps; got T={T}, dt={dt} (ratio {ratio}). "
            "Choose dt dividing T."
        )
    record_every = integer(record_every, "record_every", 1, n_steps)
    if n_steps % record_every:
        raise ShapeError(
            f"`record_every` must divide the {n_steps} steps; got {record_every}. "
            "Choose a divisor of T / dt."
        )
    return n_steps, record_every
