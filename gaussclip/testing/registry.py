"""The registry of properties: :class:`Property` and the ``@property`` decorator that adds one.

Kept apart from :mod:`gaussclip.testing.runner` so that the built-in properties
(:mod:`gaussclip.testing.properties`) register themselves without importing the runner that
loads them.
"""

from dataclasses import dataclass, field

from hypothesis import strategies as st

import gaussclip as gc
from gaussclip._validation import InstanceOf, validate_params

__all__ = ["REGISTRY", "Property", "property"]

#: Every registered property by id, in registration order.
REGISTRY = {}


@dataclass(frozen=True)
class Property:
    """A named, runnable statement.

    Attributes
    ----------
    id : str
        Identifier (``gaussclip check --only ID``); ids shared with ``gaussclip verify`` name the
        same result.
    statement : str
        What is claimed, in one sentence.
    func : callable
        ``func(**kwargs)`` raises AssertionError when the statement fails for ``kwargs``.
    strategy : hypothesis.strategies.SearchStrategy
        Draws the keyword arguments as a dict.
    symbolic : str or None
        The id of the ``gaussclip verify`` check of the same result, if any.
    global_random : bool
        Whether the property (or its strategy) may draw from NumPy's global random state
        (``np.random.random()`` and the like). When True, as for every property unless it says
        otherwise, :func:`~gaussclip.testing.search` lets Hypothesis seed that state before each
        example and restore it after, so such draws repeat from run to run. The built-in
        properties draw all their numbers through Hypothesis and say False, which saves that
        seeding (about 0.2 ms per example).
    """

    id: str
    statement: str
    func: object
    strategy: object = field(repr=False)
    symbolic: str | None = None
    global_random: bool = True

    def __call__(self, **kwargs):
        """Check the statement on one example; raises AssertionError when it fails."""
        return self.func(**kwargs)


@validate_params(register=InstanceOf((bool,)), global_random=InstanceOf((bool,)))
def property(
    id,
    statement=None,
    *,
    example=None,
    symbolic=None,
    register=True,
    global_random=True,
    **strategies,
):
    r"""Decorator turning a function into a :class:`Property` (and registering it).

    Parameters
    ----------
    id : str
        The property's identifier.
    statement : str, optional
        One sentence; the first line of the function's docstring by default.
    example : SearchStrategy of dict, optional
        Draws all keyword arguments at once (for arguments that depend on each other, e.g. a joint
        Gaussian and encoders of its sizes). Otherwise pass one strategy per argument as keywords.
    symbolic : str, optional
        The ``gaussclip verify`` id of the same result.
    register : bool
        Add it to :data:`REGISTRY` (then ``gaussclip.testing.get(id)`` finds it). An id already
        registered is replaced.
    global_random : bool
        False promises that neither the function nor its strategies use NumPy's global random
        state, so that :func:`~gaussclip.testing.search` need not reseed it for every example
        (:attr:`Property.global_random`). Keep the default unless you are sure.
    **strategies : SearchStrategy
        One strategy per keyword argument of the function.

    Returns
    -------
    callable
        A decorator returning the :class:`Property`.

    Examples
    --------
    A conjecture of one's own: the joint loss never beats the conditional one at its own game.

    >>> import gaussclip as gc
    >>> from gaussclip.testing import property, search, strategies as gst
    >>> @property("my-conjecture", register=False, mu=gst.joint_gaussians())
    ... def cond_not_worse(mu):
    ...     "The CLIP minimizer has a conditional objective <= the joint minimizer's."
    ...     joint = gc.minimize(mu, "joint", "inner")
    ...     cond = gc.minimize(mu, "cond", "inner")
    ...     j = gc.population_loss(mu, "cond", "inner", A=joint.A)
    ...     assert cond.objective <= j + 1e-9, (cond.objective, j)
    >>> search(cond_not_worse, examples=50).status
    'ok'
    """
    if (example is None) == (not strategies):
        raise gc.OptionError(
            "pass either `example=` (a strategy of keyword-argument dicts) or one strategy per "
            f"argument as keywords, not both or neither; got example={example!r}, "
            f"keywords {sorted(strategies)}."
        )
    strategy = example if example is not None else st.fixed_dictionaries(strategies)

    def decorate(func):
        doc = (func.__doc__ or "").strip().split("\n")[0]
        prop = Property(
            str(id), statement or doc or func.__name__, func, strategy, symbolic, global_random
        )
        if register:
            REGISTRY[prop.id] = prop
        return prop

    return decorate
