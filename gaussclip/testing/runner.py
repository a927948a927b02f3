r"""Running properties: ``search``, ``as_test``, ``gaussclip check`` (the registry and the
``@property`` decorator are in :mod:`gaussclip.testing.registry`).

A *property* is a function of keyword arguments that raises :class:`AssertionError` (printing
the quantities it compared) when a statement is false, together with a Hypothesis strategy for
its arguments. :func:`search` runs Hypothesis on it and returns a :class:`SearchResult` holding,
on failure, the shrunk counterexample and a Python snippet that reproduces it.

Searches are deterministic by default (the profile :data:`PROFILE`): a fixed ``seed``, no
example database, no deadline, so two runs with the same arguments test the same examples.
"""

import builtins
import contextlib
import gc as _gc
import json
import multiprocessing
import os
import sys
import time
import traceback
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

import gaussclip as gc
from gaussclip._validation import Integer, Optional, validate_params

from . import properties  # noqa: F401 - importing fills the registry with the built-in ones
from .registry import REGISTRY, Property, property

__all__ = [
    "DEFAULT_EXAMPLES",
    "PROFILE",
    "REGISTRY",
    "Property",
    "SearchResult",
    "as_test",
    "default_jobs",
    "get",
    "property",
    "registered",
    "run_cli",
    "search",
    "snippet",
]

#: Examples per property when none are asked for (``gaussclip check`` and :func:`search`).
DEFAULT_EXAMPLES = 200

#: BLAS threads during :func:`search` (``None``: leave the setting alone). The properties'
#: matrices are at most 12 x 12, where extra BLAS threads only cost time; on a busy machine a
#: multi-threaded BLAS waits for a free CPU in every small solve (a 6 x 6 triangular solve was
#: measured at ~15 ms with two OpenBLAS threads on the loaded development machine, against
#: ~0.2 ms with one).
BLAS_THREADS = 1


def _blas_threads(count):
    """A context limiting the BLAS thread pools to ``count`` threads (``threadpoolctl``, part of
    the ``gaussclip[testing]`` extra; without it, or with ``count=None``, nothing changes)."""
    if count is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ModuleNotFoundError:  # pragma: no cover - threadpoolctl comes with the extra
        return contextlib.nullcontext()
    return threadpool_limits(limits=count, user_api="blas")


@contextlib.contextmanager
def _frozen_heap():
    """Exempt the objects alive before a search (modules, NumPy, Hypothesis, the registry) from
    the garbage collector's full collections while it runs (:func:`gc.freeze`): a search
    allocates enough for a few full collections, each of which would otherwise traverse all of
    them (measured: ~0.1-0.2 ms per example at 2000 examples, a third of that frozen). Nothing is
    collected later than it would be otherwise, except cycles already unreachable at the start.
    Left alone when the caller froze objects itself."""
    if _gc.get_freeze_count():
        yield
        return
    _gc.freeze()
    try:
        yield
    finally:
        _gc.unfreeze()


@contextlib.contextmanager
def _numpy_global_random_unmanaged(skip):
    """While the block runs, Hypothesis leaves NumPy's global random state alone (when ``skip``).

    Hypothesis saves, seeds and restores that state around every example, for tests that draw
    from it; ``np.random.get_state`` and ``set_state`` take ~80 us each, which made up a fifth of
    Hypothesis's own cost per example (``benchmarks/bench_properties.py``, floor row: 1.16 ms
    before, 0.94 ms after, Hypothesis 6.170). The seeding goes through a registry of random
    generators, from which NumPy's entry is taken out here and put back afterwards. That
    registry is Hypothesis's internal API: if it is not where expected, Hypothesis manages
    NumPy's state as usual, only slower."""
    if not skip:
        yield
        return
    try:
        from hypothesis.internal import entropy

        entropy.get_seeder_and_restorer()  # registers NumPy's entry on first use
        managed = entropy.RANDOMS_TO_MANAGE
        key = next(k for k, ref in list(managed.data.items()) if ref() is entropy.NP_RANDOM)
    except (ImportError, AttributeError, StopIteration):  # pragma: no cover - other versions
        yield
        return
    entry = managed.pop(key)
    try:
        yield
    finally:
        managed[key] = entry


#: The deterministic profile of :func:`search`: no example database (a run never depends on a
#: previous one), no deadline (the first call of a property compiles caches), quiet output (the
#: result carries the counterexample), one bug reported (the shrunk one), and no "explain" or
#: "target" phase (they cost time and add nothing to a pass/fail answer). The seed is passed to
#: :func:`search`.
PROFILE = {
    "database": None,
    "deadline": None,
    "derandomize": False,
    "verbosity": Verbosity.quiet,
    "report_multiple_bugs": False,
    "phases": (Phase.explicit, Phase.generate, Phase.shrink),
    "suppress_health_check": (HealthCheck.too_slow, HealthCheck.data_too_large),
}


def registered():
    """Every registered :class:`Property` (the built-in ones first), in registration order."""
    return list(REGISTRY.values())


def get(id):
    """The registered :class:`Property` named ``id``; unknown ids raise
    :class:`gaussclip.OptionError`."""
    registered()
    if id not in REGISTRY:
        raise gc.OptionError(
            f"`id` must name a registered property, e.g. {list(REGISTRY)[:3]}; got {id!r}. "
            f"Run `gaussclip check --only` with one of the {len(REGISTRY)} ids of "
            "`gaussclip.testing.registered()`."
        )
    return REGISTRY[id]


@dataclass
class SearchResult:
    """The outcome of :func:`search`.

    Attributes
    ----------
    id : str
    status : {"ok", "fail"}
    examples : int
        Examples tried: all of them when ``"ok"``, up to and including the first failure
        otherwise (shrinking steps not counted).
    seconds : float
        Wall-clock time of the search (shrinking included).
    counterexample : dict or None
        The shrunk failing keyword arguments.
    error : str or None
        The failure's exception type and message (the quantities compared).
    snippet : str or None
        Python code that reproduces the failure (:func:`snippet`).
    cpu_seconds : float or None
        CPU time of this process during the search (:func:`time.process_time`): unlike
        ``seconds`` it does not grow when other processes share the CPU.
    """

    id: str
    status: str
    examples: int
    seconds: float
    counterexample: dict | None = None
    error: str | None = None
    snippet: str | None = None
    cpu_seconds: float | None = None

    @builtins.property
    def rate(self):
        """Examples per second (wall clock)."""
        return self.examples / self.seconds if self.seconds > 0 else float("inf")

    @builtins.property
    def cpu_rate(self):
        """Examples per CPU second (``None`` when ``cpu_seconds`` is unknown)."""
        if self.cpu_seconds is None:
            return None
        return self.examples / self.cpu_seconds if self.cpu_seconds > 0 else float("inf")

    def as_dict(self):
        """JSON-ready summary (the counterexample as its snippet)."""
        return {
            "id": self.id,
            "status": self.status,
            "examples": self.examples,
            "seconds": round(self.seconds, 4),
            "cpu_seconds": None if self.cpu_seconds is None else round(self.cpu_seconds, 4),
            "error": self.error,
            "snippet": self.snippet,
        }


def _resolve(prop):
    if isinstance(prop, Property):
        return prop
    if isinstance(prop, str):
        return get(prop)
    raise gc.ArgumentTypeError(
        "`prop` must be a gaussclip.testing.Property (made with @gaussclip.testing.property) or "
        f"a registered id; got {type(prop).__name__}."
    )


@validate_params(
    examples=Integer(low=1), seed=Integer(low=0), blas_threads=Optional(Integer(low=1))
)
def search(prop, examples=DEFAULT_EXAMPLES, seed=0, *, blas_threads=BLAS_THREADS):
    """Run Hypothesis on a property; the result holds the shrunk counterexample on failure.

    Parameters
    ----------
    prop : Property or str
        A :class:`Property` or the id of a registered one.
    examples : int
        Examples to try (Hypothesis ``max_examples``).
    seed : int
        Seed of the deterministic profile :data:`PROFILE`: the same seed tries the same examples.
    blas_threads : int or None
        BLAS threads while the search runs (restored afterwards); ``None`` leaves them alone.
        The default, :data:`BLAS_THREADS` = 1, is fastest for the small matrices of the
        properties (see :data:`BLAS_THREADS`).

    Returns
    -------
    SearchResult

    Examples
    --------
    >>> from gaussclip import testing
    >>> testing.search("thm-5.1", examples=20).status
    'ok'
    """
    prop = _resolve(prop)
    state = {"calls": 0, "first": None, "last": None}

    def run(kwargs):
        state["calls"] += 1
        try:
            prop.func(**kwargs)
        except BaseException as exc:
            if state["first"] is None:
                state["first"] = state["calls"]
            state["last"] = (kwargs, exc)
            raise

    test = hypothesis_seed(int(seed))(
        settings(max_examples=int(examples), **PROFILE)(given(prop.strategy)(run))
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        with (
            _blas_threads(blas_threads),
            _frozen_heap(),
            _numpy_global_random_unmanaged(not prop.global_random),
        ):
            test()
    except Exception:  # the property's own failure, re-raised by Hypothesis after shrinking
        if state["last"] is None:  # Hypothesis itself failed (e.g. a strategy error)
            raise
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    if state["first"] is None:
        return SearchResult(prop.id, "ok", state["calls"], seconds, cpu_seconds=cpu_seconds)
    kwargs, exc = state["last"]
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return SearchResult(
        prop.id,
        "fail",
        state["first"],
        seconds,
        counterexample=kwargs,
        error=error,
        snippet=snippet(prop, kwargs),
        cpu_seconds=cpu_seconds,
    )


def as_test(prop):
    """A Hypothesis test function of a property, for a test suite (pytest collects it).

    Unlike :func:`search` it uses the *ambient* Hypothesis settings, so a suite's profiles
    (e.g. a deterministic default and a ``thorough`` one) decide how many examples run.

    Parameters
    ----------
    prop : Property or str

    Returns
    -------
    callable
        A test function without arguments named ``test_<id>``.

    Examples
    --------
    In a test module::

        from gaussclip.testing import as_test

        test_theorem_5_1 = as_test("thm-5.1")
    """
    prop = _resolve(prop)

    @given(prop.strategy)
    def test(kwargs):
        prop.func(**kwargs)

    test.__name__ = "test_" + "".join(c if c.isalnum() else "_" for c in prop.id)
    test.__doc__ = f"{prop.id}: {prop.statement}"
    return test


def _python(value):
    """Source code that rebuilds ``value`` (floats round-trip exactly through ``repr``)."""
    if isinstance(value, gc.JointGaussian):
        mean = "" if not np.any(value.mean) else f", mean={_python(value.mean)}"
        return f"gc.JointGaussian({_python(value.cov)}, n_u={value.n_u}{mean})"
    if isinstance(value, gc.Gaussian):
        return f"gc.Gaussian({_python(value.mean)}, {_python(value.cov)})"
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, tuple):
        inner = ", ".join(_python(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_python(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_python(v)}" for k, v in value.items()) + "}"
    return repr(value)


def snippet(prop, kwargs):
    """A pasteable Python snippet that calls ``prop`` on ``kwargs`` (and so raises its failure).

    Examples
    --------
    >>> import numpy as np
    >>> from gaussclip import testing
    >>> print(testing.snippet(testing.get("lem-E.1"), {"x": np.eye(1)}))
    import numpy as np
    import gaussclip as gc
    import gaussclip.testing
    <BLANKLINE>
    x = np.array([[1.0]])
    gaussclip.testing.get('lem-E.1')(x=x)
    """
    prop = _resolve(prop)
    lines = ["import numpy as np", "import gaussclip as gc"]
    if prop.id in REGISTRY and REGISTRY[prop.id] is prop:
        lines.append("import gaussclip.testing")
        call = f"gaussclip.testing.get({prop.id!r})"
    else:
        module = getattr(prop.func, "__module__", "__main__")
        if module not in ("__main__", None):
            lines.append(f"from {module} import {prop.func.__name__}")
        call = prop.func.__name__
    lines.append("")
    for name, value in kwargs.items():
        lines.append(f"{name} = {_python(value)}")
    args = ", ".join(f"{name}={name}" for name in kwargs)
    lines.append(f"{call}({args})")
    return "\n".join(lines)


def _table(results, elapsed):
    width = max(len(r.id) for r in results)
    lines = [f"{'id':<{width}}  examples  status  seconds  cpu_s  examples/s  cpu_examples/s"]
    for r in results:
        lines.append(
            f"{r.id:<{width}}  {r.examples:8d}  {r.status:<6}  {r.seconds:7.2f}  "
            f"{r.cpu_seconds:5.1f}  {r.rate:10.0f}  {r.cpu_rate:14.0f}"
        )
    failed = [r for r in results if r.status != "ok"]
    for r in failed:
        lines += [
            "",
            f"{r.id}: {r.error}",
            "shrunk counterexample (paste to reproduce):",
            r.snippet,
        ]
    total = sum(r.seconds for r in results)
    cpu = sum(r.cpu_seconds for r in results)
    lines.append(
        f"{len(results) - len(failed)} of {len(results)} properties ok; searches took "
        f"{total:.1f} s ({cpu:.1f} s CPU), {elapsed:.1f} s wall in all"
    )
    return "\n".join(lines)


def default_jobs():
    """The processes ``gaussclip check`` uses without ``--jobs``: one per CPU this process may
    run on (``os.sched_getaffinity``, else ``os.cpu_count``), or 1 where worker processes cannot
    be forked (Windows). The results do not depend on it (see :func:`run_cli`)."""
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        return os.cpu_count() or 1


def _search_by_id(id, examples, seed):
    """:func:`search` on a registered id, in a worker process of :func:`run_cli` (the worker is
    forked, so it holds every property registered before the pool started)."""
    return search(REGISTRY[id], examples=examples, seed=seed)


def _searches(selected, examples, seed, jobs):
    """The search results of ``selected`` in order, as they finish, ``jobs`` processes at a time.

    Each search has its own seeded profile, so the examples tried, and hence every status and
    counterexample, do not depend on ``jobs``; only the times do."""
    if jobs == 1 or len(selected) == 1:
        for prop in selected:
            yield search(prop, examples=examples, seed=seed)
        return
    import concurrent.futures

    context = multiprocessing.get_context("fork")  # workers inherit the registry as it is
    jobs = min(jobs, len(selected))
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = [pool.submit(_search_by_id, p.id, examples, seed) for p in selected]
        for future in futures:
            yield future.result()


@validate_params(examples=Integer(low=1), seed=Integer(low=0), jobs=Optional(Integer(low=1)))
def run_cli(only=None, examples=DEFAULT_EXAMPLES, seed=0, as_json=False, jobs=None):
    """``gaussclip check``: print a table (or JSON) of :func:`search` results; exit status 0 when
    every property holds, 1 when one fails, 2 for an unknown id.

    ``jobs`` processes search different properties at the same time (Linux/macOS: the workers
    are forked; ``None``: :func:`default_jobs`, one per CPU); the results are the same as with
    ``jobs=1``, only sooner on several cores."""
    try:
        selected = registered() if not only else [get(i) for i in only]
    except gc.OptionError as exc:
        print(f"gaussclip check: {exc}", file=sys.stderr)
        return 2
    results, start = [], time.perf_counter()
    jobs = default_jobs() if jobs is None else jobs
    for r in _searches(selected, examples, seed, jobs):
        results.append(r)
        if not as_json:
            print(f"  {r.id}: {r.status} ({r.examples} in {r.seconds:.1f} s)", file=sys.stderr)
    if as_json:
        print(json.dumps([r.as_dict() for r in results], indent=1))
    else:
        print(_table(results, time.perf_counter() - start))
    return 0 if all(r.status == "ok" for r in results) else 1
