"""Totals and per-tensor listings, in torch's ``named_parameters()`` / ``named_buffers()`` order."""

from __future__ import annotations

from dataclasses import dataclass

from paramcount.tree import (
    Module,
    Tensor,
    buffer_count,
    iter_buffers,
    iter_params,
    parameter_count,
)

__all__ = ["Counts", "TensorRow", "TiedRow", "count_tree"]


@dataclass(frozen=True, slots=True)
class TensorRow:
    name: str
    shape: tuple[int, ...]
    symbols: tuple[str, ...]
    count: int
    trainable: bool
    dtype: str


@dataclass(frozen=True, slots=True)
class TiedRow:
    name: str
    tied_to: str
    count: int


@dataclass(frozen=True, slots=True)
class Counts:
    total: int
    trainable: int
    non_trainable: int
    buffers: int
    tied: int
    """Elements of tied (shared) tensors, counted once in ``total``; ``total + tied`` is the untied count."""
    parameters: tuple[TensorRow, ...]
    buffer_tensors: tuple[TensorRow, ...]
    tied_tensors: tuple[TiedRow, ...]


def _row(name: str, tensor: Tensor, trainable: bool) -> TensorRow:
    return TensorRow(
        name=name,
        shape=tensor.sizes,
        symbols=tuple(dim.symbol for dim in tensor.shape),
        count=tensor.count,
        trainable=trainable,
        dtype=tensor.dtype,
    )


def count_tree(root: Module) -> Counts:
    """All the counts of a tree. Totals multiply repeats without expanding them."""
    parameters = tuple(_row(name, param, param.trainable) for name, param in iter_params(root))
    buffers = tuple(_row(name, buffer, False) for name, buffer in iter_buffers(root))
    tied = tuple(
        TiedRow(name, param.tied_to, param.count)
        for name, param in iter_params(root, include_tied=True)
        if param.tied_to is not None
    )
    trainable = parameter_count(root, trainable=True)
    non_trainable = parameter_count(root, trainable=False)
    return Counts(
        total=trainable + non_trainable,
        trainable=trainable,
        non_trainable=non_trainable,
        buffers=buffer_count(root),
        tied=sum(row.count for row in tied),
        parameters=parameters,
        buffer_tensors=buffers,
        tied_tensors=tied,
    )
