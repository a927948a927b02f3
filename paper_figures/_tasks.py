"""Background preparation of the figures' heavy, cached work (training runs, simulated data).

A figure script may define ``prepare(mode) -> [Task, ...]``: independent pieces of work whose
results land in the cache (``$GAUSSCLIP_CACHE``) and which the script's ``main`` then loads
instead of computing. ``python -m paper_figures`` collects the tasks of every selected figure
(one task per ``key``: Figures 11 and 12 share the three MNIST runs), starts them in ``workers``
separate processes as soon as the tasks they ``need`` are done, and meanwhile draws the figures
in order; a figure first waits for its own tasks. On the 2-core machine this runs the three
MNIST trainings, the Lagrangian simulation and training and the GP sweeps of Figures 8-10 side
by side instead of one after another.

Nothing here changes a result: a task calls the very function ``main`` would call (with the
same config, so the same cache file); ``main`` still calls it and finds the run finished. A task
that fails is reported and ``main`` then runs the work itself (and reports the failure as its
own). Cache files are written atomically by whichever process computes them, and tasks that
write the same cache entry are ordered by ``needs`` (e.g. the MNIST download runs once, before
the three trainings), so no two processes compute the same file.

Workers are started with the ``spawn`` method (no fork of a process holding threads) and the
environment :data:`WORKER_ENV` (one BLAS/OpenMP thread each: the parallelism is across tasks)
and glibc's malloc keeping freed memory (:mod:`gaussclip.train.allocator`).
Their progress is printed as one line per epoch, prefixed by the task's name, so that lines of
concurrent tasks stay readable.
"""

import concurrent.futures as cf
import multiprocessing
import os
import resource
import threading
import time
import traceback
from dataclasses import dataclass, field

from gaussclip.train.allocator import keep_freed_memory

#: Environment the worker processes start with (set while :class:`Background` runs, since a
#: spawned process reads it when it starts, before any initializer could): one thread per
#: BLAS/OpenMP pool. Each worker also keeps freed memory in its heap from the start
#: (:func:`gaussclip.train.allocator.keep_freed_memory`, its initializer; ``fit`` sets the same
#: in any process): LeNet's per-step arrays of tens of MB were otherwise mapped and faulted in
#: afresh at every step (measured when its im2col columns were still stored whole: 10 training
#: steps and one pass over the test set took 0.6 s of system time and 28,000 page faults, 0.2 s
#: and 1,000 with it).
WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
#: A task's epoch lines are printed at most this often (seconds), and always for the last epoch.
PRINT_EVERY_S = 20.0


@dataclass(frozen=True)
class Task:
    """One piece of background work: ``function(*args, **kwargs)`` (importable, picklable),
    named ``key`` in the output; it starts after the tasks named in ``needs``."""

    key: str
    function: object
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    needs: tuple = ()


class EpochPrinter:
    """A :func:`gaussclip.train.fit` callback printing ``[name] epoch k/E, loss, seconds, time
    left`` at most every :data:`PRINT_EVERY_S` seconds and after the last epoch (picklable, for
    workers). The time left is the mean epoch time seen so far times the epochs to go."""

    def __init__(self, name, epochs, every=PRINT_EVERY_S):
        self.name, self.epochs, self.every = name, int(epochs), float(every)
        self._last = None
        self._seconds = []

    def __call__(self, epoch, params, record):
        now = time.perf_counter()
        self._seconds.append(float(record["seconds"]))
        if self._last is None or now - self._last >= self.every or epoch >= self.epochs:
            self._last = now
            left = (self.epochs - epoch) * sum(self._seconds) / len(self._seconds)
            print(
                f"  [{self.name}] epoch {epoch}/{self.epochs}, loss {record['loss']:.4g}, "
                f"{record['seconds']:.1f} s, ~{left / 60:.1f} min left",
                flush=True,
            )


def cpu_seconds():
    """CPU seconds of this process and of its finished (waited-for) child processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def release_helpers():
    """Shut joblib's reusable worker processes down (they are started again when needed), so
    that :func:`cpu_seconds` counts the CPU time they spent (a running child is not counted)."""
    try:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    except Exception:  # accounting only: never fail a finished figure over it
        pass


def _execute(function, args, kwargs):
    """Run in a worker: the task, then its helper processes shut down (so that their CPU time
    is counted); returns ``(wall seconds, CPU seconds)``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    function(*args, **kwargs)
    release_helpers()
    return time.perf_counter() - wall, cpu_seconds() - cpu


class Background:
    """Run :class:`Task` objects in worker processes, respecting ``needs``; ``wait(keys)``
    blocks until those tasks are done. Use as a context manager (the pool is shut down on exit).

    ``workers = 0`` runs nothing in the background (``wait`` returns at once, the figures do
    all the work themselves, with their usual progress bars).
    """

    def __init__(self, tasks, workers, log=print):
        self.tasks = {}
        for task in tasks:
            self.tasks.setdefault(task.key, task)
        missing = {n for t in self.tasks.values() for n in t.needs} - set(self.tasks)
        if missing:
            raise ValueError(f"tasks need unknown tasks {sorted(missing)}")
        self.workers = int(workers) if self.tasks else 0
        self.log = log
        self.done = {key: threading.Event() for key in self.tasks}
        self.report = {}  # key -> {"seconds", "cpu_seconds", "error", "started", "finished"}
        self._claimed = set()  # tasks whose CPU time a figure has already counted
        self._pool = None
        self._thread = None
        self._saved_env = None
        self._start = time.perf_counter()

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self):
        if self.workers > 0:
            # workers are spawned when tasks are submitted: the environment stays set until exit
            self._saved_env = {key: os.environ.get(key) for key in WORKER_ENV}
            os.environ.update(WORKER_ENV)
            context = multiprocessing.get_context("spawn")
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=keep_freed_memory
            )
            self._thread = threading.Thread(target=self._schedule, daemon=True)
            self._thread.start()
        else:
            for event in self.done.values():
                event.set()
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._saved_env is not None:
            for key, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return False

    def _schedule(self):
        pending = dict(self.tasks)
        running = {}
        try:
            while pending or running:
                ready = [t for t in pending.values() if all(self.done[n].is_set() for n in t.needs)]
                for task in ready:
                    del pending[task.key]
                    started = time.perf_counter() - self._start
                    self.log(f"  [{task.key}] started in the background", flush=True)
                    future = self._pool.submit(_execute, task.function, task.args, task.kwargs)
                    running[future] = (task, started)
                if not running:  # only tasks whose needs failed to start: cannot happen
                    break
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    task, started = running.pop(future)
                    self._finish(task, future, started)
        except Exception:  # the figures then do the work themselves
            self.log(traceback.format_exc(), flush=True)
        finally:
            for event in self.done.values():
                event.set()

    def _finish(self, task, future, started):
        entry = {"started": started, "finished": time.perf_counter() - self._start}
        try:
            entry["seconds"], entry["cpu_seconds"] = future.result()
            entry["error"] = None
            self.log(
                f"  [{task.key}] done: {entry['seconds']:.1f} s, {entry['cpu_seconds']:.1f} CPU s",
                flush=True,
            )
        except Exception as exc:  # reported; the figure then runs the work itself
            entry.update(seconds=None, cpu_seconds=None, error=f"{type(exc).__name__}: {exc}")
            self.log(
                f"  [{task.key}] FAILED in the background ({entry['error']}); the figure "
                "will run it itself",
                flush=True,
            )
        self.report[task.key] = entry
        self.done[task.key].set()

    # -- used by the runner ------------------------------------------------------------------
    def closure(self, keys):
        """``keys`` and every task they need, recursively."""
        out, stack = set(), list(keys)
        while stack:
            key = stack.pop()
            if key in self.tasks and key not in out:
                out.add(key)
                stack.extend(self.tasks[key].needs)
        return out

    def wait(self, keys):
        """Block until the tasks ``keys`` (and what they need) are done; returns the CPU seconds
        of those not counted before (each task's CPU time is counted once)."""
        keys = self.closure(keys)
        for key in keys:
            self.done[key].wait()
        cpu = 0.0
        for key in sorted(keys - self._claimed):
            cpu += self.report.get(key, {}).get("cpu_seconds") or 0.0
            self._claimed.add(key)
        return cpu
