"""One BLAS thread while a network runs, so its numbers do not depend on the thread count.

A multi-threaded BLAS splits a matrix product differently for different thread counts and so
rounds differently; over a training run those roundings grow into visibly different models.
The kernels of :mod:`gaussclip.nn.ops` do their own threading, cut by the shapes alone, so with
BLAS held to one thread a run, and an evaluation of its embeddings, give the same numbers bit
for bit whatever ``OMP_NUM_THREADS`` or the number of CPUs (tested in
``tests/test_paper_figures.py``: a run trained in a one-thread worker equals the same run
trained in a two-thread process).
"""

from threadpoolctl import threadpool_limits


def one_blas_thread():
    """A context holding the BLAS thread pools to one thread (restored on exit).

    Examples
    --------
    >>> from gaussclip.train.threads import one_blas_thread
    >>> with one_blas_thread():
    ...     pass
    """
    return threadpool_limits(limits=1, user_api="blas")
