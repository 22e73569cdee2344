"""The live-module door: a real ``torch.nn.Module`` (built on the meta device) → the same tree.

Structure comes from ``named_modules()``; a tensor object met a second time (tied weights) becomes a
``Param`` with ``tied_to`` the first owner's path, exactly as torch counts it once. torch is never
imported here: the module is duck-typed, so this door costs nothing unless a caller already has torch.
"""

from __future__ import annotations

from paramcount.tree import Buffer, Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["from_module"]


def _shape(tensor: Any) -> tuple[Dim, ...]:
    return tuple(Dim.of(int(size), f"dim{index}") for index, size in enumerate(tensor.shape))


def _dtype(tensor: Any) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def from_module(root: Any) -> Module:
    """Walk ``root`` (an ``nn.Module``); tensors shared between modules are counted once."""
    owners: dict[int, str] = {}

    def convert(name: str, path: str, module: Any) -> Module:
        params = []
        for local, tensor in module.named_parameters(recurse=False, remove_duplicate=False):
            dotted = f"{path}.{local}" if path else local
            first = owners.setdefault(id(tensor), dotted)
            tied = None if first == dotted else first
            params.append(Param(local, _shape(tensor), _dtype(tensor), tied, bool(tensor.requires_grad)))
        buffers = []
        for local, tensor in module.named_buffers(recurse=False, remove_duplicate=False):
            dotted = f"{path}.{local}" if path else local
            first = owners.setdefault(id(tensor), dotted)
            buffers.append(Buffer(local, _shape(tensor), _dtype(tensor), None if first == dotted else first))
        children = tuple(
            convert(child_name, f"{path}.{child_name}" if path else child_name, child)
            for child_name, child in module.named_children()
        )
        return Module(name, type(module).__name__, params=tuple(params), buffers=tuple(buffers), children=children)

    return convert("", "", root)
