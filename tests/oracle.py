"""The test oracle: build a catalog entry and the real torch module on the meta device, and compare.

Used by every catalog property test. Torch is imported here, never by the library.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch

from paramcount.errors import ArgumentError
from paramcount.layers import build
from paramcount.layers._signature import REQUIRED
from paramcount.tree import Module, Ref, iter_buffers, iter_params, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

TensorMap = dict[str, tuple[tuple[int, ...], bool]]
BufferMap = dict[str, tuple[tuple[int, ...], str]]


def to_torch_value(value: Value) -> Any:
    """Our argument value as torch expects it (tuples stay tuples; Refs resolve to torch objects)."""
    if isinstance(value, Ref):
        target: Any = torch
        for part in value.path.split(".")[1:]:
            target = getattr(target, part)
        return target
    if isinstance(value, Module):
        raise TypeError("nested modules must be built by the test itself")
    return value


def our_tensors(module: Module) -> tuple[TensorMap, BufferMap]:
    params = {name: (p.sizes, p.trainable) for name, p in iter_params(module)}
    buffers = {name: (b.sizes, b.dtype) for name, b in iter_buffers(module)}
    return params, buffers


def torch_tensors(module: torch.nn.Module) -> tuple[TensorMap, BufferMap]:
    params = {name: (tuple(p.shape), p.requires_grad) for name, p in module.named_parameters()}
    buffers = {name: (tuple(b.shape), str(b.dtype).removeprefix("torch.")) for name, b in module.named_buffers()}
    return params, buffers


def assert_same_tensors(ours: Module, theirs: torch.nn.Module) -> None:
    """Names (in torch's order), shapes, trainability and buffer dtypes are identical."""
    our_params, our_buffers = our_tensors(ours)
    their_params, their_buffers = torch_tensors(theirs)
    assert list(our_params.items()) == list(their_params.items())
    assert list(our_buffers.items()) == list(their_buffers.items())


def build_torch(kind: str, positional: Sequence[Any], keywords: dict[str, Any]) -> torch.nn.Module:
    cls = getattr(torch.nn, kind)
    with torch.device("meta"):
        module: torch.nn.Module = cls(*positional, **keywords)
    return module


def assert_matches_torch(kind: str, positional: Sequence[Value] = (), keywords: dict[str, Value] | None = None) -> None:
    """Torch accepts iff we accept; when both accept, parameter and buffer names, shapes, trainability
    and buffer dtypes are identical, and so is the total."""
    keywords = keywords or {}
    try:
        theirs = build_torch(
            kind, [to_torch_value(v) for v in positional], {k: to_torch_value(v) for k, v in keywords.items()}
        )
    except Exception as torch_error:  # torch raises ValueError, TypeError, RuntimeError, AssertionError …
        try:
            build(kind, positional, list(keywords.items()))
        except ArgumentError:
            return
        raise AssertionError(f"torch rejects {kind}{positional}{keywords} ({torch_error!r}) but we accept it") from None
    ours = build(kind, positional, list(keywords.items()))
    assert_same_tensors(ours, theirs)
    assert parameter_count(ours) == sum(p.numel() for p in theirs.parameters())


def _comparable_default(value: Any) -> Any:
    if callable(value):  # activation=F.relu → "torch.nn.functional.relu"
        return f"torch.nn.functional.{value.__name__}"
    if isinstance(value, list):
        return tuple(value)
    return value


def assert_signature_matches(kind: str) -> None:
    """Our declaration lists torch's parameters in torch's order, with torch's keyword-only markers,
    variadic parameter and defaults."""
    from paramcount.layers import lookup

    ours = lookup(kind).signature
    theirs = inspect.signature(getattr(torch.nn, kind).__init__)
    expected: list[tuple[str, object, bool]] = []
    for name, parameter in theirs.parameters.items():
        if name == "self" or parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            expected.append((f"*{name}", None, False))
            continue
        default = None if parameter.default is inspect.Parameter.empty else _comparable_default(parameter.default)
        expected.append((name, default, parameter.kind is inspect.Parameter.KEYWORD_ONLY))
    got: list[tuple[str, object, bool]] = [(f"*{ours.variadic}", None, False)] if ours.variadic else []
    for name, default in ours.parameters:
        plain = default.path if isinstance(default, Ref) else (None if default is REQUIRED else default)
        got.append((name, plain, name in ours.keyword_only))
    assert got == expected


# Containers and expressions: dtypes, totals and shared tensors as well as names and shapes.


def our_ties(module: Module) -> dict[str, str | None]:
    """Every tensor name reachable in our tree (tied copies included) → the name it is tied to, or None."""
    tensors = [*iter_params(module, include_tied=True), *iter_buffers(module, include_tied=True)]
    return {name: tensor.tied_to for name, tensor in tensors}


def torch_ties(module: torch.nn.Module) -> dict[str, str | None]:
    """The same from torch: every path to a tensor (``remove_duplicate=False``) → the first path reaching the
    same tensor object, or None for the first path itself."""
    first: dict[int, str] = {}
    ties: dict[str, str | None] = {}
    named = [*module.named_parameters(remove_duplicate=False), *module.named_buffers(remove_duplicate=False)]
    for name, tensor in named:
        owner = first.setdefault(id(tensor), name)
        ties[name] = None if owner == name else owner
    return ties


def assert_same_module(ours: Module, theirs: torch.nn.Module) -> None:
    """``assert_same_tensors``, and also every tensor's dtype, the totals, and which tensors are shared."""
    from paramcount.tree import buffer_count

    assert_same_tensors(ours, theirs)
    our_dtypes = {name: p.dtype for name, p in iter_params(ours)}
    their_dtypes = {name: str(p.dtype).removeprefix("torch.") for name, p in theirs.named_parameters()}
    assert our_dtypes == their_dtypes
    assert parameter_count(ours) == sum(p.numel() for p in theirs.parameters())
    assert buffer_count(ours) == sum(b.numel() for b in theirs.buffers())
    assert our_ties(ours) == torch_ties(theirs)
