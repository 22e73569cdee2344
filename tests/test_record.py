"""``paramcount._record``: the frozen value classes behave as ``@dataclass(frozen=True, slots=True)`` did."""

from __future__ import annotations

import copy
import dataclasses
import pickle  # noqa: TID251 - round-trips the library's own objects, never user input

import pytest

from paramcount._record import Record, field_values, replace


class Tensor(Record):
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


class Param(Tensor):
    trainable: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class Reference:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    trainable: bool = True


CALLS = [
    (("w", (2, 3)), {}),
    (("w", (2, 3), "float16"), {}),
    (("w",), {"shape": (1,), "trainable": False}),
    ((), {"name": "w", "shape": (1,), "dtype": "int8", "trainable": False}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_fields_and_defaults_match_a_dataclass(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    made = Param(*args, **kwargs)  # type: ignore[arg-type]
    expected = Reference(*args, **kwargs)  # type: ignore[arg-type]
    assert field_values(made) == dataclasses.asdict(expected)
    assert repr(made) == repr(expected).replace("Reference", "Param")
    assert Param.__match_args__ == Reference.__match_args__


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("w",), {}, "Param() missing required argument: 'shape'"),
        (("w", (1,)), {"colour": 1}, "Param() got an unexpected keyword argument 'colour'"),
        (("w", (1,)), {"name": "v"}, "Param() got multiple values for argument 'name'"),
        (("w", (1,), "f", True, 5), {}, "Param() takes 4 positional arguments but 5 were given"),
    ],
)
def test_bad_calls_raise_type_errors(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError) as raised:
        Param(*args, **kwargs)  # type: ignore[arg-type]
    assert str(raised.value) == message


def test_instances_are_frozen_slotted_values() -> None:
    weight = Param("w", (2, 3))
    assert weight == Param("w", (2, 3))
    assert weight != Param("w", (2, 3), trainable=False)
    assert weight != Tensor("w", (2, 3))  # another class is never equal, as with dataclasses
    assert hash(weight) == hash(Param("w", (2, 3)))
    assert len({weight, Param("w", (2, 3))}) == 1
    assert not hasattr(weight, "__dict__")
    with pytest.raises(AttributeError, match="cannot assign to field 'name' of a frozen Param"):
        weight.name = "v"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete field 'name' of a frozen Param"):
        del weight.name


def test_replace_copies_and_checks_through_init() -> None:
    weight = Param("w", (2, 3))
    frozen = replace(weight, trainable=False)
    assert (frozen.trainable, frozen.name, weight.trainable) == (False, "w", True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        replace(weight, colour=1)


def test_post_init_and_own_methods_are_kept() -> None:
    class Checked(Record):
        size: int

        def __post_init__(self) -> None:
            if self.size < 0:
                raise ValueError("size must be >= 0")
            object.__setattr__(self, "size", self.size * 2)

        def __repr__(self) -> str:
            return f"<{self.size}>"

    assert repr(Checked(2)) == "<4>"
    assert replace(Checked(1), size=3).size == 6
    with pytest.raises(ValueError, match="size must be >= 0"):
        Checked(-1)


def test_records_pickle_and_copy_like_frozen_dataclasses() -> None:
    import paramcount

    result = paramcount.count("nn.Sequential(nn.Conv2d(3, 8, 3), nn.LSTM(8, 16))")
    # e.g. results returned from a multiprocessing pool
    assert pickle.loads(pickle.dumps(result)) == result  # noqa: S301
    assert copy.copy(result.tree) == result.tree
    assert copy.deepcopy(result.tree) == result.tree
    weight = Param("w", (2, 3), trainable=False)
    assert pickle.loads(pickle.dumps(weight)) == weight  # noqa: S301
