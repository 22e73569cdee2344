"""A sharded checkpoint's index (``model.safetensors.index.json``, ``pytorch_model.bin.index.json``): its
``weight_map`` read within caps, every shard checked before any is opened, and each shard's tensors checked
against the names the index places in it. Shared by the safetensors and the PyTorch doors.

Shards must be plain file names in the index's folder. A symbolic link is followed only when it stays inside
the folder, or, in a Hugging Face cache (``models--<org>--<name>/snapshots/<commit>/``, whose files link to
``../../blobs/<hash>``), inside the same ``models--*`` folder; any other link is refused before it is opened.
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

__all__ = ["ShardIndex", "check_link", "check_shard", "parse_index", "read_index"]

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


def _cache_repository(folder: Path) -> Path | None:
    """The ``models--*`` folder of a Hugging Face cache snapshot ``folder`` (``…/models--org--name/snapshots/
    <commit>``), resolved; None for any other folder."""
    snapshots = folder.parent
    if snapshots.name == "snapshots" and snapshots.parent.name.startswith("models--"):
        return Path(os.path.realpath(snapshots.parent))
    return None


def check_link(path: Path, label: str, format: str, what: str, folder: str = "the index's folder") -> None:
    """Refuse ``path`` when it is a symbolic link leading out of its folder, or, in a Hugging Face cache snapshot
    (whose files link to ``../../blobs/<hash>``), out of its ``models--*`` folder; ``what`` names it in the
    message (``shard 'model-1.safetensors'``), ``folder`` its folder."""
    if not path.is_symlink():
        return
    target = Path(os.path.realpath(path))
    repository = _cache_repository(path.parent)
    if target.parent == Path(os.path.realpath(path.parent)):
        return
    if repository is not None and target.is_relative_to(repository):
        return
    where = "its Hugging Face cache folder" if repository is not None else folder
    raise CheckpointError(f"{label}: {what} is a symbolic link to a file outside {where}", format)


def _shard_path(folder: Path, shard: str, label: str, format: str) -> Path:
    """The shard's path, checked by ``check_link`` and present."""
    path = folder / shard
    check_link(path, label, format, f"shard {short(shard)}")
    if not path.exists():
        raise CheckpointError(f"{label}: shard {short(shard)} named by the index is missing", format)
    return path


def parse_index(text: str | bytes, label: str, format: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """An index's text (read from a file, or fetched from the hub): its weight map, and the tensor names per
    shard, every shard name checked (plain file names).

    Raises:
        CheckpointError: malformed JSON, no weight map, a shard name with a path.
        LimitError: a cap exceeded (size, tensors, shards).
    """

    def fail(message: str) -> CheckpointError:
        return CheckpointError(message if message.startswith(f"{label}:") else f"{label}: {message}", format, 0)

    index = parse_json(
        text, source=label, max_bytes=MAX_HEADER_BYTES, max_depth=INDEX_DEPTH, unique_keys=True, fail=fail
    )
    return _shard_names(index, label, format)


def read_index(path: Path, format: str) -> ShardIndex:
    """Read the index at ``path`` and check every shard it names (plain names, inside the folder, present)
    before any shard is opened.

    Raises:
        CheckpointError: a malformed index, a shard outside the folder or missing.
        LimitError: a cap exceeded (index size, tensors, shards).
        CheckpointError: also an index that cannot be opened (``<file>: cannot be read (…)``).
    """
    label = path.name
    stream, size = open_regular(path, label, format)
    with stream:
        if size > MAX_HEADER_BYTES:
            raise LimitError(label, MAX_HEADER_BYTES, size, unit="bytes")
        text = stream.read(MAX_HEADER_BYTES + 1)

    weight_map, shards = parse_index(text, label, format)
    paths = {shard: _shard_path(path.parent, shard, label, format) for shard in shards}
    return ShardIndex(label, weight_map, shards, paths)


def check_shard(index: ShardIndex, shard: str, names: Iterable[str], format: str) -> None:
    """The tensors found in ``shard`` must be exactly those the index places in it."""
    found = list(names)
    expected = set(index.shards.get(shard, ()))
    unlisted = [name for name in found if name not in expected]
    if unlisted:
        elsewhere = index.weight_map.get(unlisted[0])
        where = "not in the index" if elsewhere is None else f"which the index places in shard {short(elsewhere)}"
        raise CheckpointError(f"{index.label}: shard {short(shard)} holds tensor {short(unlisted[0])}, {where}", format)
    present = set(found)
    missing = [name for name in index.shards.get(shard, ()) if name not in present]
    if missing:
        raise CheckpointError(
            f"{index.label}: the index places tensor {short(missing[0])} in shard {short(shard)}, which does not "
            "hold it",
            format,
        )
