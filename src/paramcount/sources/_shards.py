"""A sharded checkpoint's index (``model.safetensors.index.json``, ``pytorch_model.bin.index.json``): its
``weight_map`` read within caps, every shard checked before any is opened, and each shard's tensors checked
against the names the index places in it. Shared by the safetensors and the PyTorch doors.

Shards must be plain file names in the index's folder; a symbolic link leading out of the folder is refused
before it is opened.
"""

from __future__ import annotations

import os
from pathlib import Path

from paramcount.errors import CheckpointError, LimitError
from paramcount.limits import MAX_HEADER_BYTES, MAX_NAME_BYTES, MAX_SHARDS, MAX_TENSORS
from paramcount.sources._bounded import open_regular, parse_json, short

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ShardIndex", "check_shard", "read_index"]

INDEX_DEPTH = 4
"""Nesting of an index, counting the leaves: object → weight_map → name."""


class ShardIndex:
    """An index read and checked: its weight map, the tensor names per shard, and each shard's path."""

    __slots__ = ("label", "paths", "shards", "weight_map")

    def __init__(self, label: str, weight_map: dict[str, str], shards: dict[str, list[str]], paths: dict[str, Path]):
        self.label, self.weight_map, self.shards, self.paths = label, weight_map, shards, paths


def _shard_names(index: dict[str, object], label: str, format: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The weight map, and shard file name → the tensor names the index places in it, every name checked."""
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(value, str) for value in weight_map.values()):
        raise CheckpointError(f"{label}: 'weight_map' must map tensor names to shard file names", format)
    if len(weight_map) > MAX_TENSORS:
        raise LimitError(f"{label}: tensors", MAX_TENSORS, len(weight_map))
    shards: dict[str, list[str]] = {}
    for name, shard in weight_map.items():
        shards.setdefault(shard, []).append(name)
        if len(shards) > MAX_SHARDS:
            raise LimitError(f"{label}: shard files", MAX_SHARDS, len(set(weight_map.values())))
    for shard in shards:
        plain = shard not in ("", ".", "..") and not any(character in shard for character in "/\\\0:")
        if not plain or len(shard.encode()) > MAX_NAME_BYTES:
            raise CheckpointError(
                f"{label}: shard {short(shard)} is not a plain file name; shards must lie in the index's folder",
                format,
            )
    return weight_map, shards


def _shard_path(folder: Path, shard: str, label: str, format: str) -> Path:
    """The shard's path, refused when it is a symbolic link leading out of the folder."""
    path = folder / shard
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if target.parent != Path(os.path.realpath(folder)):
            raise CheckpointError(
                f"{label}: shard {short(shard)} is a symbolic link to a file outside the index's folder", format
            )
    if not path.exists():
        raise CheckpointError(f"{label}: shard {short(shard)} named by the index is missing", format)
    return path


def read_index(path: Path, format: str) -> ShardIndex:
    """Read the index at ``path`` and check every shard it names (plain names, inside the folder, present)
    before any shard is opened.

    Raises:
        CheckpointError: a malformed index, a shard outside the folder or missing.
        LimitError: a cap exceeded (index size, tensors, shards).
        OSError: the index cannot be opened.
    """
    label = path.name
    stream, size = open_regular(path, label, format)
    with stream:
        if size > MAX_HEADER_BYTES:
            raise LimitError(label, MAX_HEADER_BYTES, size, unit="bytes")
        text = stream.read(MAX_HEADER_BYTES + 1)

    def fail(message: str) -> CheckpointError:
        return CheckpointError(message if message.startswith(f"{label}:") else f"{label}: {message}", format, 0)

    index = parse_json(
        text, source=label, max_bytes=MAX_HEADER_BYTES, max_depth=INDEX_DEPTH, unique_keys=True, fail=fail
    )
    weight_map, shards = _shard_names(index, label, format)
    paths = {shard: _shard_path(path.parent, shard, label, format) for shard in shards}
    return ShardIndex(label, weight_map, shards, paths)


def check_shard(index: ShardIndex, shard: str, names: Iterable[str], format: str) -> None:
    """The tensors found in ``shard`` must be exactly those the index places in it."""
    found = list(names)
    expected = set(index.shards[shard])
    unlisted = [name for name in found if name not in expected]
    if unlisted:
        elsewhere = index.weight_map.get(unlisted[0])
        where = "not in the index" if elsewhere is None else f"which the index places in shard {short(elsewhere)}"
        raise CheckpointError(f"{index.label}: shard {short(shard)} holds tensor {short(unlisted[0])}, {where}", format)
    present = set(found)
    missing = [name for name in index.shards[shard] if name not in present]
    if missing:
        raise CheckpointError(
            f"{index.label}: the index places tensor {short(missing[0])} in shard {short(shard)}, which does not "
            "hold it",
            format,
        )
