"""Property-based testing of the paper's theorems, for users.

* :mod:`gaussclip.testing.strategies` -- Hypothesis strategies for SPD matrices, joint Gaussians
  (with prescribed canonical correlations), encoders, weights and tilting parameters;
* :mod:`gaussclip.testing.properties` -- the paper's numerical statements as named properties
  (``gaussclip check``);
* :func:`property`, :func:`search`, :func:`get`, :func:`registered`, :func:`as_test` -- write
  a conjecture of your own and search for its smallest counterexample
  (:mod:`gaussclip.testing.runner`).

Hypothesis is an optional dependency: ``pip install gaussclip[testing]``. See ``docs/testing.md``.

>>> import gaussclip as gc
>>> from gaussclip import testing
>>> from gaussclip.testing import strategies as gst
>>> @testing.property("h-below-sigma", register=False, mu=gst.joint_gaussians())
... def h_below_sigma(mu):
...     "The joint loss shrinks every canonical correlation: h(sigma) <= sigma."
...     sigma = mu.canonical_correlations()
...     assert (gc.h(sigma) <= sigma).all(), (gc.h(sigma), sigma)
>>> testing.search(h_below_sigma, examples=50).status
'ok'
"""

try:
    import hypothesis  # noqa: F401 - only to give the error below
except ModuleNotFoundError as exc:
    raise ImportError(
        "gaussclip.testing needs Hypothesis, an optional dependency of gaussclip: "
        "pip install gaussclip[testing]"
    ) from exc

from . import strategies
from .runner import (
    DEFAULT_EXAMPLES,
    PROFILE,
    REGISTRY,
    Property,
    SearchResult,
    as_test,
    get,
    property,
    registered,
    search,
    snippet,
)

__all__ = [
    "DEFAULT_EXAMPLES",
    "PROFILE",
    "REGISTRY",
    "Property",
    "SearchResult",
    "as_test",
    "get",
    "property",
    "registered",
    "search",
    "snippet",
    "strategies",
]
