"""The ocean-flow simulator of Section 6.3: the field, the integrator and the cached data sets."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from gaussclip.data import lagrangian as lag
from gaussclip.data._cache import CacheWarning
from gaussclip.errors import DomainError, ShapeError

KV = lag.wavevectors()
FREQS = lag.frequencies(KV)
# Central differences with step 1e-6 on a field of size ~10 with third derivatives ~1e5:
# truncation h^2 f'''/6 ~ 1e-8 and rounding eps |psi| / h ~ 1e-9, so 1e-6 relative is safe.
FD_STEP = 1e-6
FD_RTOL = 1e-6
# DOP853 at rtol 1e-13 is accurate to ~1e-13; RK4 at the paper's dt = 1e-5 is at the same level.
REFERENCE_RTOL = 1e-13
PAPER_DT_ATOL = 1e-11
# Asymptotic error ratio of a fourth-order method when halving dt is 2^4 = 16.
ORDER4_RATIO_RANGE = (14.0, 18.5)


def _coeffs(n, seed, kv=KV):
    return lag.sample_coefficients(n, np.random.default_rng(seed), kv)


def _naive_potential(x, t, c, freqs, kv):
    """psi by a Python loop over modes, independent of the module's vectorized code."""
    total = np.zeros(x.shape[0])
    for k in range(kv.shape[0]):
        total += (c[:, k] * np.exp(1j * (freqs[k] * t + 2 * np.pi * (x @ kv[k])))).real
    return total


def _fd_gradient(fun, x, h=FD_STEP):
    e1, e2 = np.array([h, 0.0]), np.array([0.0, h])
    return np.stack(
        [(fun(x + e1) - fun(x - e1)) / (2 * h), (fun(x + e2) - fun(x - e2)) / (2 * h)], axis=1
    )


def test_wavevector_grid_is_symmetric_7x7_with_zero_mode():
    assert KV.shape == (49, 2)
    assert np.unique(KV, axis=0).shape[0] == 49
    assert {tuple(k) for k in KV} == {tuple(-k) for k in KV}  # closed under k -> -k
    assert KV[lag.ZERO_MODE].tolist() == [0, 0]
    assert np.abs(KV).max() == lag.GRID_RADIUS


@given(
    seed=st.integers(0, 2**32 - 1),
    t=st.floats(0.0, 1.0),
    shift=st.floats(-2.0, 2.0),
)
def test_velocity_equals_J_grad_psi(seed, t, shift):
    """eq. (58): w = J grad psi, with psi from an independent loop and finite differences."""
    rng = np.random.default_rng(seed)
    c = _coeffs(6, seed)
    x = rng.uniform(0, 1, size=(6, 2)) + shift  # unwrapped positions too
    psi = lag.potential(x, t, c, FREQS, KV)
    np.testing.assert_allclose(psi, _naive_potential(x, t, c, FREQS, KV), rtol=1e-12, atol=1e-12)
    grad = _fd_gradient(lambda y: _naive_potential(y, t, c, FREQS, KV), x)
    expected = np.stack([-grad[:, 1], grad[:, 0]], axis=1)  # J grad psi
    w = lag.velocity(x, t, c, FREQS, KV)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(w, expected, atol=FD_RTOL * scale)


def test_velocity_general_wavevector_set():
    """The kernel also handles sets that are not a full grid (asymmetric, larger |k|)."""
    kv = np.array([[1, 0], [0, -2], [5, -1], [-3, 4], [2, 2], [0, 0]])
    freqs = lag.frequencies(kv, seed=3)
    c = _coeffs(5, 7, kv)
    x = np.random.default_rng(1).uniform(-1, 2, size=(5, 2))
    grad = _fd_gradient(lambda y: _naive_potential(y, 0.3, c, freqs, kv), x)
    w = lag.velocity(x, 0.3, c, freqs, kv)
    np.testing.assert_allclose(w[:, 0], -grad[:, 1], atol=FD_RTOL * np.abs(grad).max())
    np.testing.assert_allclose(w[:, 1], grad[:, 0], atol=FD_RTOL * np.abs(grad).max())


def test_single_potential_broadcasts_over_positions():
    c = _coeffs(1, 2)
    x = np.random.default_rng(0).uniform(size=(7, 2))
    np.testing.assert_array_equal(
        lag.velocity(x, 0.1, c[0], FREQS, KV), lag.velocity(x, 0.1, np.repeat(c, 7, 0), FREQS, KV)
    )
    assert lag.potential(x, 0.1, c[0], FREQS, KV).shape == (7,)


@given(seed=st.integers(0, 2**32 - 1), t=st.floats(0.0, 1.0))
def test_velocity_is_divergence_free(seed, t):
    c = _coeffs(8, seed)
    x = np.random.default_rng(seed).uniform(-1, 2, size=(8, 2))
    h = FD_STEP
    e1, e2 = np.array([h, 0.0]), np.array([0.0, h])

    def w(y):
        return lag.velocity(y, t, c, FREQS, KV)

    d1 = (w(x + e1)[:, 0] - w(x - e1)[:, 0]) / (2 * h)
    d2 = (w(x + e2)[:, 1] - w(x - e2)[:, 1]) / (2 * h)
    scale = np.abs(d1).max() + np.abs(d2).max()
    assert np.abs(d1 + d2).max() <= 1e-5 * scale
    assert scale > 1.0  # the flow is not trivially constant


def test_zero_mode_carries_no_variance_and_no_velocity():
    assert lag.coefficient_std(KV)[lag.ZERO_MODE] == 0
    c = _coeffs(50, 0)
    assert np.all(c[:, lag.ZERO_MODE] == 0)
    real = lag.to_real(c)
    assert real.shape == (50, 98)
    assert np.all(real[:, [lag.ZERO_MODE, 49 + lag.ZERO_MODE]] == 0)
    np.testing.assert_array_equal(lag.to_complex(real), c)
    only_zero = np.zeros((3, 49), complex)
    only_zero[:, lag.ZERO_MODE] = 5 - 2j
    x = np.random.default_rng(0).uniform(size=(3, 2))
    np.testing.assert_allclose(lag.velocity(x, 0.2, only_zero, FREQS, KV), 0.0, atol=1e-12)


def test_coefficient_law_gives_the_requested_rms_speed():
    """Monte Carlo check of E|w|^2 = 2 pi^2 a^2 sum |k|^(2 - 2 decay) = RMS_SPEED^2."""
    n = 20_000
    rng = np.random.default_rng(11)
    c = lag.sample_coefficients(n, rng, KV)
    x = rng.uniform(size=(n, 2))
    speed2 = np.sum(lag.velocity(x, 0.05, c, FREQS, KV) ** 2, axis=1)
    standard_error = speed2.std() / np.sqrt(n)
    assert abs(speed2.mean() - lag.RMS_SPEED**2) < 4 * standard_error
    std = lag.coefficient_std(KV)
    norm = np.hypot(KV[:, 0], KV[:, 1])
    np.testing.assert_allclose(std[norm > 0] * norm[norm > 0] ** lag.DECAY, std.max())


def _reference_endpoints(c, T):
    ends = []
    for row in c:

        def fun(t, z, row=row):
            return lag.velocity(z[None], t, row, FREQS, KV)[0]

        sol = solve_ivp(
            fun, (0.0, T), np.array(lag.X0), method="DOP853", rtol=REFERENCE_RTOL, atol=1e-14
        )
        ends.append(sol.y[:, -1])
    return np.array(ends)


def test_rk4_is_fourth_order_and_accurate_at_the_paper_step():
    T = 0.02
    c = _coeffs(4, 5)
    reference = _reference_endpoints(c, T)
    errors = []
    for n_steps in (20, 40, 80):
        end = lag.trajectories(c, FREQS, KV, dt=T / n_steps, T=T, record_every=n_steps)[:, -1]
        errors.append(np.abs(end - reference).max(axis=1))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    low, high = ORDER4_RATIO_RANGE
    assert np.all((ratios > low) & (ratios < high)), ratios
    end = lag.trajectories(c, FREQS, KV, dt=lag.DT, T=T, record_every=2000)[:, -1]
    np.testing.assert_allclose(end, reference, atol=PAPER_DT_ATOL)


def test_trajectories_shape_times_and_independence_of_chunking():
    c = _coeffs(5, 9)
    kwargs = {"dt": 1e-5, "T": 0.002, "record_every": 10}
    a = lag.trajectories(c, FREQS, KV, **kwargs)
    assert a.shape == (5, 20, 2)
    np.testing.assert_allclose(lag.record_times(**kwargs), np.arange(1, 21) * 1e-4)
    b = lag.trajectories(c, FREQS, KV, chunk_size=2, **kwargs)
    single = lag.trajectories(c[3:4], FREQS, KV, **kwargs)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[3:4], single)
    # per-sample release points
    x0 = np.array([[0.1, 0.2]] * 5)
    moved = lag.trajectories(c, FREQS, KV, x0=x0, **kwargs)
    assert not np.allclose(moved, a)


def test_trajectories_do_not_depend_on_n_jobs():
    c = _coeffs(6, 4)
    kwargs = {"dt": 1e-5, "T": 0.001, "record_every": 10, "chunk_size": 3}
    np.testing.assert_array_equal(
        lag.trajectories(c, FREQS, KV, n_jobs=1, **kwargs),
        lag.trajectories(c, FREQS, KV, n_jobs=2, **kwargs),
    )


def test_default_flow_moves_tracers_across_a_visible_part_of_the_domain():
    """The documented scale: over T = 0.1 the median path is > 0.4 and the median largest
    distance from x0 is > 0.25 of the domain side (a third in the full statistics)."""
    c = lag.sample_coefficients(48, np.random.default_rng([1, 0]), KV)
    paths = lag.trajectories(c, FREQS, KV)
    assert paths.shape == (48, 1000, 2)
    full = np.concatenate([np.broadcast_to(np.array(lag.X0), (48, 1, 2)), paths], axis=1)
    length = np.linalg.norm(np.diff(full, axis=1), axis=2).sum(axis=1)
    reach = np.linalg.norm(full - np.array(lag.X0), axis=2).max(axis=1)
    assert np.median(length) > 0.4
    assert np.median(reach) > 0.25
    assert np.all(reach < 1.5)  # and they do not shoot around the torus many times


def test_wrap_and_plot_segments():
    traj = np.array([[0.9, 0.5], [1.05, 0.5], [1.2, -0.1], [1.3, -0.2]])
    assert np.all((lag.wrap(traj) >= 0) & (lag.wrap(traj) < 1))
    pieces = lag.plot_segments(traj)
    assert [p.shape[0] for p in pieces] == [1, 1, 2]
    np.testing.assert_allclose(np.concatenate(pieces), lag.wrap(traj))


# ---- data sets and the cache ------------------------------------------------------------------

SMALL = {"T": 0.002, "progress": False}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path))
    return tmp_path


def test_dataset_layout_and_metadata(cache):
    data = lag.dataset(4, seed=0, **SMALL)
    assert not data.from_cache
    assert data.coefficients.shape == (4, 98) and data.coefficients.dtype == np.float64
    assert data.trajectories.shape == (4, 20, 2) and data.trajectories.dtype == np.float32
    assert len(data) == 4 and data.complex_coefficients.shape == (4, 49)
    np.testing.assert_array_equal(data.wavevectors, KV)
    np.testing.assert_array_equal(data.freqs, FREQS)
    meta = json.loads(data.path.with_suffix(".json").read_text())
    for name in ("n", "seed", "flow_seed", "radius", "decay", "rms_speed", "max_frequency"):
        assert name in meta["params"]
    for name in ("x0", "dt", "T", "record_every", "simulator_version"):
        assert name in meta["params"]
    assert len(meta["sha256"]) == 64
    assert data.path.parent == cache / "lagrangian"
    # the stored trajectories are the float64 simulation rounded to float32
    direct = lag.trajectories(data.complex_coefficients, FREQS, KV, T=0.002)
    np.testing.assert_array_equal(data.trajectories, direct.astype(np.float32))


def test_same_seed_gives_identical_data_and_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "a"))
    a = lag.dataset(6, seed=3, chunk_size=4, **SMALL)
    monkeypatch.setenv("GAUSSCLIP_CACHE", str(tmp_path / "b"))
    b = lag.dataset(6, seed=3, **SMALL)
    assert not a.from_cache and not b.from_cache
    np.testing.assert_array_equal(a.coefficients, b.coefficients)
    np.testing.assert_array_equal(a.trajectories, b.trajectories)
    assert a.path.read_bytes() == b.path.read_bytes()  # deterministic files, same sha256
    other = lag.dataset(6, seed=4, **SMALL)
    assert not np.allclose(other.coefficients, a.coefficients)
    np.testing.assert_array_equal(other.freqs, a.freqs)  # same flow_seed: same frequencies
    prefix = lag.dataset(2, seed=3, **SMALL)
    np.testing.assert_array_equal(prefix.coefficients, a.coefficients[:2])
    np.testing.assert_array_equal(prefix.trajectories, a.trajectories[:2])


def test_cache_is_reused_and_invalidated_by_any_parameter_change(cache):
    first = lag.dataset(3, seed=0, **SMALL)
    again = lag.dataset(3, seed=0, **SMALL)
    assert again.from_cache
    np.testing.assert_array_equal(again.trajectories, first.trajectories)
    changes = {
        "rms_speed": 3.0,
        "decay": 1.5,
        "max_frequency": 5.0,
        "flow_seed": 7,
        "x0": (0.5, 0.25),
        "dt": 2e-5,
        "record_every": 5,
    }
    for name, value in changes.items():
        changed = lag.dataset(3, seed=0, **{**SMALL, name: value})
        assert not changed.from_cache, name
        assert changed.path != first.path, name
        if name in ("dt", "record_every"):  # RK4 is exact to float32 either way; J changes
            assert changed.trajectories.shape[1] != first.trajectories.shape[1], name
        else:
            assert not np.allclose(changed.trajectories[:, -1], first.trajectories[:, -1]), name
    assert lag.dataset(3, seed=0, **SMALL).from_cache  # the original entry is still valid


@pytest.mark.parametrize("damage", ["flip", "truncate", "json"])
def test_corrupted_cache_is_detected_and_rebuilt(cache, damage):
    good = lag.dataset(3, seed=2, **SMALL)
    if damage == "flip":
        raw = bytearray(good.path.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        good.path.write_bytes(bytes(raw))
    elif damage == "truncate":
        good.path.write_bytes(good.path.read_bytes()[:100])
    else:
        good.path.with_suffix(".json").write_text("{not json")
    with pytest.warns(CacheWarning, match="not usable"):
        rebuilt = lag.dataset(3, seed=2, **SMALL)
    assert not rebuilt.from_cache
    np.testing.assert_array_equal(rebuilt.trajectories, good.trajectories)
    assert lag.dataset(3, seed=2, **SMALL).from_cache


def test_paper_split_uses_shared_flow_and_distinct_seeds(cache, monkeypatch):
    monkeypatch.setitem(lag.QUICK_N, "train", 2)
    monkeypatch.setitem(lag.QUICK_N, "test", 2)
    train = lag.paper_split("train", "quick", **SMALL)
    test = lag.paper_split("test", "quick", **SMALL)
    assert train.params["seed"] == 0 and test.params["seed"] == 1
    np.testing.assert_array_equal(train.freqs, test.freqs)
    assert not np.allclose(train.coefficients, test.coefficients)


def test_bad_inputs_raise_clear_errors():
    c = _coeffs(2, 0)
    with pytest.raises(ShapeError, match="whole number of steps"):
        lag.trajectories(c, FREQS, KV, dt=3e-5, T=0.001)
    with pytest.raises(ShapeError, match="must divide"):
        lag.trajectories(c, FREQS, KV, dt=1e-5, T=0.001, record_every=7)
    with pytest.raises(ShapeError, match="integers"):
        lag.velocity(np.zeros((2, 2)), 0.0, c, FREQS, KV + 0.5)
    with pytest.raises(ShapeError, match="distinct"):
        lag.velocity(np.zeros((2, 2)), 0.0, c, FREQS, np.zeros((49, 2)))
    with pytest.raises(ShapeError, match="to_complex"):
        lag.velocity(np.zeros((2, 2)), 0.0, lag.to_real(c), FREQS, KV)
    with pytest.raises(ShapeError, match="one potential per position"):
        lag.velocity(np.zeros((3, 2)), 0.0, c, FREQS, KV)
    with pytest.raises(DomainError, match="finite"):
        lag.velocity(np.full((2, 2), np.nan), 0.0, c, FREQS, KV)
    with pytest.raises(ShapeError, match="x0"):
        lag.trajectories(c, FREQS, KV, x0=np.zeros(3), T=0.001)
