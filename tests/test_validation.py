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
