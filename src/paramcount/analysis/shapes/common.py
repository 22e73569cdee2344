"""Small helpers the shape rules share: reading a module's bound arguments, checking input ranks."""

from __future__ import annotations

import math

from paramcount.analysis.shapes.types import Flow, Shape, format_shape
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Call

__all__ = [
    "AXES",
    "NotModelledError",
    "batch_of",
    "dimension_index",
    "elements",
    "flag_arg",
    "int_arg",
    "int_tuple_arg",
    "optional_int_arg",
    "rank_text",
    "require_rank",
]

AXES: Final = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
"""Names of the spatial dimensions in torch's docs (Conv1d's L, Conv2d's H and W, Conv3d's D, H, W)."""


class NotModelledError(Exception):
    """A module of a modelled kind is outside what its rule reads: an argument value the rule does not take, or
    (a live module whose class was changed) a member, tensor or attribute the rule needs is missing. The walk
    reports the module as not modelled, with this one-line reason, instead of guessing."""


def int_arg(module: Module, name: str) -> int:
    value = module.arg(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise NotModelledError(f"its argument {name}={value!r:.40} is not an int")
    return value


def optional_int_arg(module: Module, name: str) -> int | None:
    value = module.arg(name)
    return None if value is None else int_arg(module, name)


def flag_arg(module: Module, name: str) -> bool:
    return bool(module.arg(name))


def int_tuple_arg(module: Module, name: str, count: int) -> tuple[int, ...]:
    """An int or a tuple of ``count`` ints, expanded like torch's ``_single``/``_pair``/``_triple``."""
    value = module.arg(name)
    items = value if isinstance(value, tuple) else (value,) * count
    if len(items) != count or any(isinstance(item, bool) or not isinstance(item, int) for item in items):
        raise NotModelledError(f"its argument {name}={value!r:.40} is not {count} ints")
    return tuple(item for item in items if isinstance(item, int))


def elements(shape: Shape) -> int:
    return math.prod(shape)


def rank_text(ranks: tuple[int, ...]) -> str:
    """``(3, 4)`` → ``"a 3-D or 4-D"``."""
    words = [f"{rank}-D" for rank in ranks]
    return "a " + (words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}")


def require_rank(call: Call, flow: Flow, ranks: tuple[int, ...], *, what: str = "input") -> None:
    """The input has one of ``ranks`` dimensions, or a ``ShapeError`` naming them."""
    if len(flow.shape) not in ranks:
        raise call.fail(f"expects {rank_text(ranks)} {what}, got {format_shape(flow.shape)}")


def batch_of(shape: Shape, spatial: int) -> tuple[int | None, Shape]:
    """(batch size or None when unbatched, the shape without the batch dimension) for a layer with
    ``spatial`` spatial dimensions after a channel dimension."""
    if len(shape) == spatial + 2:
        return shape[0], shape[1:]
    return None, shape


def dimension_index(call: Call, dim: int, rank: int, *, argument: str = "dim") -> int:
    """``dim`` wrapped the way torch wraps a dimension (``-1`` is the last), or a ``ShapeError``."""
    low, high = (-rank, rank - 1) if rank else (-1, 0)
    if not low <= dim <= high:
        raise call.fail(f"{argument}={dim} is out of range for a {rank}-D input (allowed {low} to {high})")
    return dim % rank if rank else 0
