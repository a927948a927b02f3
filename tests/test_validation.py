"""The declarative validation layer: each constraint converts good values and raises the error
class that matches the fault, with a message naming the argument and what came."""

import numpy as np
import pytest

from gaussclip._validation import (
    AnyOf,
    Array,
    Choice,
    InstanceOf,
    Integer,
    IntegerTuple,
    Optional,
    Real,
    Seed,
    validate_params,
)
from gaussclip.errors import ArgumentTypeError, DomainError, OptionError, RankError, ShapeError

POSITIVE = Real(low=0.0, low_open=True)

CASES = [
    # (constraint, value, error class, fragment of the message)
    (POSITIVE, -1.0, DomainError, r"`x` must be a finite real number > 0; got -1.0"),
    (POSITIVE, 0, DomainError, "> 0"),
    (POSITIVE, float("nan"), DomainError, "finite"),
    (POSITIVE, float("inf"), DomainError, "finite"),
    (POSITIVE, None, ArgumentTypeError, "got None"),
    (POSITIVE, "a", ArgumentTypeError, "got 'a'"),
    (POSITIVE, True, ArgumentTypeError, "got True"),
    (POSITIVE, 1j, ArgumentTypeError, "complex"),
    (Integer(1, 5), 1.5, ArgumentTypeError, r"integer in \[1, 5\]"),
    (Integer(1, 5), True, ArgumentTypeError, "bool"),
    (Integer(1, 5), 6, DomainError, r"in \[1, 5\]; got 6"),
    (Integer(1, 5, error=RankError), 0, RankError, "got 0"),
    (IntegerTuple(low=1), (1, 0), DomainError, r"`x\[1\]`"),
    (IntegerTuple(low=1), (), ShapeError, "non-empty"),
    (IntegerTuple(low=1), 5, ArgumentTypeError, "sequence"),
    (Choice(("a", "b")), "c", OptionError, "one of 'a', 'b'"),
    (Choice(("a", "b")), [1], OptionError, "one of"),
    (InstanceOf((np.random.Generator,)), 3, ArgumentTypeError, "Generator"),
    (Array(ndim=2), np.ones(3), ShapeError, "2 dimensions"),
    (Array(shape=(None, 2)), np.ones((3, 3)), ShapeError, r"\(any, 2\)"),
    (Array(), np.ones(2) + 1j, ArgumentTypeError, "Complex"),
    (Array(), [np.nan, 1.0], DomainError, "1 NaN/inf entry"),
    (Array(), [], ShapeError, "at least one entry"),
    (Array(), "abc", ArgumentTypeError, "real array"),
    (Array(), [[1.0], [1.0, 2.0]], ShapeError, "ragged"),
    (Array(max_abs=1e150), [1e200], DomainError, "magnitude"),
    (Seed(), -1, DomainError, ">= 0"),
    (Seed(), 1.5, ArgumentTypeError, "Generator or an integer seed"),
    (AnyOf((Choice(("u|v",)), Real(low=0))), "x", OptionError, "one of 'u|v'"),
]


@pytest.mark.parametrize(("constraint", "value", "error", "fragment"), CASES)
def test_each_fault_gets_its_error_class_and_names_the_argument(constraint, value, error, fragment):
    with pytest.raises(error, match=fragment) as info:
        constraint(value, "x")
    assert str(info.value).startswith("`x")


def test_good_values_are_converted():
    assert POSITIVE(np.float32(2.0), "x") == 2.0 and type(POSITIVE(2, "x")) is float
    assert POSITIVE(np.array(3.0), "x") == 3.0
    assert Integer(0)(np.int64(3), "x") == 3 and type(Integer(0)(np.int64(3), "x")) is int
    assert IntegerTuple(low=1)([1, np.int32(5)], "ks") == (1, 5)
    array = Array(ndim=1)([1, 2], "a")
    assert array.dtype == np.float64 and array.tolist() == [1.0, 2.0]
    assert isinstance(Seed()(3, "seed"), np.random.Generator)
    rng = np.random.default_rng(0)
    assert Seed()(rng, "seed") is rng and Optional(Seed())(None, "seed") is None
    assert AnyOf((Choice(("u|v",)), Real(low=0)))(2, "w") == 2.0


def test_decorator_checks_defaults_and_keywords_and_keeps_its_table():
    @validate_params(temperature=POSITIVE, n=Integer(1))
    def f(x, *, temperature=1.0, n=3):
        return x, temperature, n

    assert f(1, temperature=2) == (1, 2.0, 3)
    with pytest.raises(DomainError, match="`temperature`"):
        f(1, temperature=-2)
    with pytest.raises(ArgumentTypeError, match="`n`"):
        f(1, n="3")
    with pytest.raises(ArgumentTypeError, match="unexpected keyword"):
        f(1, bogus=1)
    assert set(f.constraints) == {"temperature", "n"}


def test_a_table_naming_a_missing_parameter_is_a_programming_error():
    with pytest.raises(TypeError, match="no parameters"):

        @validate_params(missing=POSITIVE)
        def g(x):
            return x


def _binding_cases():
    """Calls of a plain signature (the fast path) and of unusual ones (the Signature.bind path):
    valid calls, and every way a call can fail to bind."""

    def plain(a, b=2, *, c=3):
        return a, b, c

    def positional_only(a, /, b=2):
        return a, b

    def variadic(a, *rest, **extra):
        return a, rest, extra

    calls = [
        ((1,), {}),
        ((1, 5), {}),
        ((1,), {"c": 4}),
        ((), {"a": 1, "b": 5, "c": 4}),
        ((), {}),  # missing a
        ((1, 2, 3), {}),  # too many positional
        ((1,), {"a": 1}),  # a twice
        ((1,), {"d": 1}),  # unknown keyword
        ((1, 2), {"b": 1}),  # b twice
    ]
    return [(plain, calls), (positional_only, calls[:3]), (variadic, [((1, 2), {"x": 3})])]


def test_the_fast_binding_path_behaves_exactly_like_signature_bind():
    """validate_params binds plain calls itself (no inspect.Signature.bind, which costs more
    than a small closed form); results, converted defaults and binding errors must be those of
    the Signature.bind path it replaces."""
    import inspect

    for function, calls in _binding_cases():
        table = {"a": Integer(0)}
        checked = validate_params(table)(function)
        signature = inspect.signature(function)
        for args, kwargs in calls:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                with pytest.raises(ArgumentTypeError) as info:
                    checked(*args, **kwargs)
                assert str(info.value) == f"{function.__qualname__}(): {exc}"
                continue
            assert checked(*args, **kwargs) == function(*bound.args, **bound.kwargs)
    with pytest.raises(ArgumentTypeError, match="`a` must be an integer"):
        validate_params(a=Integer(0))(_binding_cases()[0][0])(1.5)


def test_the_weights_fast_path_agrees_with_the_full_check():
    """A tuple of two plain floats skips NumPy in weights_pair / Weights; everything else takes
    the full check, so results and errors are unchanged."""
    from gaussclip._checks import plain_pair, weights_pair
    from gaussclip.objectives import Weights

    for value in [(1.0, 1.0), (2.0, 0.0), (0.0, 2.0), (0.3, 1.7), (1e-300, 0.0)]:
        assert plain_pair(value) == value == weights_pair(value) == Weights()(value, "weights")
    for value in [(1, 1), (True, 1.0), [1.0, 1.0], (np.float64(1.0), 1.0), "both"]:
        assert plain_pair(value) is None
    assert Weights()("both", "weights") == (1.0, 1.0) and weights_pair((1, 2)) == (1.0, 2.0)
    for bad in [(0.0, 0.0), (-1.0, 1.0), (float("nan"), 1.0), (float("inf"), 1.0), (1.0,)]:
        assert plain_pair(bad) is None
        with pytest.raises(OptionError, match="`weights`"):
            weights_pair(bad)
