"""The safetensors door: a ``.safetensors`` file, or a sharded checkpoint's ``model.safetensors.index.json``
with its shards, read header-only (a 141 GB checkpoint costs the same as a 22 kB one: the tensor data is
never read).

The checks follow the reference reader (``safetensors/src/tensor.rs``, ``SafeTensors::read_metadata`` and
``Metadata::validate``) in its order — 8-byte length → cap → exactly that many bytes → UTF-8 → a JSON object
→ per tensor a known dtype, a shape of non-negative ints whose product is checked as it grows, and a byte
range as long as the shape needs → the ranges, sorted, cover the data section exactly, without gaps or
overlaps → the data ends where the file ends — and add one it lacks: a key written twice in the header is
refused (``serde_json`` keeps the last one silently, so two readers could disagree about a file).

Shards are found and checked by ``_shards`` (plain file names in the index's folder, checked before any is
opened).
"""

from __future__ import annotations

import io
from pathlib import Path

from paramcount.dtypes import BITS
from paramcount.errors import CheckpointError, LimitError
from paramcount.limits import (
    MAX_HEADER_BYTES,
    MAX_METADATA_ENTRIES,
    MAX_NAME_BYTES,
    MAX_TENSOR_DIMS,
    MAX_TENSOR_ELEMENTS,
    MAX_TENSORS,
)
from paramcount.sources._bounded import ByteReader, checked_product, open_regular, parse_json, read_file, short
from paramcount.sources._shards import ShardIndex, check_shard, parse_index, read_index
from paramcount.sources.checkpoint import Checkpoint, TensorEntry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import BinaryIO, Final, NoReturn

__all__ = [
    "DTYPES",
    "INDEX_SUFFIX",
    "read_safetensors",
    "read_safetensors_header",
    "read_safetensors_headers",
    "read_safetensors_index",
]

FORMAT = "safetensors"
INDEX_SUFFIX = ".safetensors.index.json"

DTYPES: Final = {
    "BOOL": "bool",
    "F4": "float4_e2m1fn",
    "F6_E2M3": "float6_e2m3fn",
    "F6_E3M2": "float6_e3m2fn",
    "U8": "uint8",
    "I8": "int8",
    "F8_E5M2": "float8_e5m2",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F8_E8M0": "float8_e8m0fnu",
    "I16": "int16",
    "U16": "uint16",
    "F16": "float16",
    "BF16": "bfloat16",
    "I32": "int32",
    "U32": "uint32",
    "F32": "float32",
    "C64": "complex64",
    "F64": "float64",
    "I64": "int64",
    "U64": "uint64",
}
"""safetensors' dtype names (``Dtype`` in ``safetensors/src/tensor.rs``, 0.8) → torch's spelling; the bits of
each are ``paramcount.dtypes.BITS`` of the torch name."""


class _Info:
    """One validated tensor of a header."""

    __slots__ = ("end", "entry", "start")

    def __init__(self, entry: TensorEntry, start: int, end: int) -> None:
        self.entry, self.start, self.end = entry, start, end


def _failure(label: str, offset: int) -> Callable[[str], CheckpointError]:
    def fail(message: str) -> CheckpointError:
        return CheckpointError(message if message.startswith(f"{label}:") else f"{label}: {message}", FORMAT, offset)

    return fail


def _integers(value: object, what: str, fail: Callable[[str], CheckpointError]) -> list[int]:
    if not isinstance(value, list) or any(isinstance(item, bool) or not isinstance(item, int) for item in value):
        raise fail(f"{what} must be a list of integers, got {short(value)}")
    if any(item < 0 for item in value):
        raise fail(f"{what} must not be negative, got {short(value)}")
    return value


def _is_sizes(value: object) -> bool:
    return type(value) is list and all(type(item) is int and item >= 0 for item in value)  # bool is not int here


def _tensor(name: str, info: object, fail: Callable[[str], CheckpointError]) -> _Info:
    """One tensor's info, validated. The common case runs without building any message (a 70B checkpoint has
    ~700 tensors); a message is made only for the check that fails."""
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        return _refuse(name, info, fail)
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    torch_dtype = DTYPES.get(dtype) if isinstance(dtype, str) else None
    if torch_dtype is None or not _is_sizes(shape) or not _is_sizes(offsets) or len(offsets) != 2:
        return _refuse(name, info, fail)
    if len(shape) > MAX_TENSOR_DIMS or offsets[0] > offsets[1]:
        return _refuse(name, info, fail)
    count = 1
    for size in shape:
        count *= size
    bits = BITS[torch_dtype]
    if count > MAX_TENSOR_ELEMENTS or count * bits % 8 or offsets[1] - offsets[0] != count * bits // 8:
        return _refuse(name, info, fail)
    return _Info(TensorEntry(name, tuple(shape), torch_dtype, count * bits // 8), offsets[0], offsets[1])


def _refuse(name: str, info: object, fail: Callable[[str], CheckpointError]) -> NoReturn:
    """The message for the first rule ``info`` breaks (``_tensor`` found that it breaks one)."""
    what = f"tensor {short(name)}"
    if not isinstance(info, dict):
        raise fail(f"{what} must be an object with dtype, shape and data_offsets, got {short(info)}")
    missing = [key for key in ("dtype", "shape", "data_offsets") if key not in info]
    if missing:
        raise fail(f"{what} has no {missing[0]}")
    dtype = info["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise fail(f"{what} has unknown dtype {short(dtype)}; known: {', '.join(DTYPES)}")
    shape = _integers(info["shape"], f"the shape of {what}", fail)
    if len(shape) > MAX_TENSOR_DIMS:
        raise fail(f"{what} has {len(shape):,} dimensions; the limit is {MAX_TENSOR_DIMS}")
    offsets = _integers(info["data_offsets"], f"the data_offsets of {what}", fail)
    if len(offsets) != 2 or offsets[0] > offsets[1]:
        raise fail(f"the data_offsets of {what} must be [start, end] with start <= end, got {short(offsets)}")
    count = checked_product(shape, MAX_TENSOR_ELEMENTS, fail, what)
    bits = BITS[DTYPES[dtype]]
    if count * bits % 8:
        raise fail(f"{what} has {count:,} elements of {dtype}, which do not fill whole bytes")
    needed, held = count * bits // 8, offsets[1] - offsets[0]
    raise fail(
        f"{what} holds {held:,} bytes (data_offsets {offsets}) but its shape {shape} of {dtype} needs {needed:,}"
    )


def _metadata(value: object, fail: Callable[[str], CheckpointError]) -> int:
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise fail(f"__metadata__ must map strings to strings, got {short(value)}")
    if len(value) > MAX_METADATA_ENTRIES:
        raise fail(f"__metadata__ has {len(value):,} entries; the limit is {MAX_METADATA_ENTRIES:,}")
    return len(value)


def _check_layout(infos: list[_Info], data_bytes: int | None, data_start: int, label: str) -> None:
    """The byte ranges, sorted, must cover the data section from 0 without gaps or overlaps, and (when the file
    size is known) end exactly where the file ends."""
    infos.sort(key=lambda info: (info.start, info.end))
    expected, previous = 0, None
    for info in infos:
        if info.start == expected:
            expected, previous = info.end, info
            continue
        name = short(info.entry.name)
        if info.start < expected and previous is not None:
            raise CheckpointError(
                f"{label}: tensor {name} starts at byte {info.start:,} of the data, inside tensor "
                f"{short(previous.entry.name)} (bytes {previous.start:,} to {previous.end:,})",
                FORMAT,
                data_start + info.start,
            )
        if info.start > expected:
            after = f"tensor {short(previous.entry.name)} ends" if previous is not None else "the data starts"
            raise CheckpointError(
                f"{label}: {after} at byte {expected:,} but the next tensor {name} starts at {info.start:,}",
                FORMAT,
                data_start + expected,
            )
        expected, previous = info.end, info
    if data_bytes is not None and expected != data_bytes:
        problem = (
            f"the file ends {expected - data_bytes:,} bytes before the end of the last tensor (an incomplete copy?)"
            if expected > data_bytes
            else f"{data_bytes - expected:,} bytes after the last tensor belong to no tensor"
        )
        raise CheckpointError(f"{label}: {problem}", FORMAT, data_start + min(expected, data_bytes))


def read_safetensors_header(
    stream: BinaryIO, *, label: str, size: int | None
) -> tuple[tuple[TensorEntry, ...], int, int]:
    """Read and validate one safetensors header from ``stream`` (positioned at the file's start).

    Args:
        stream: the file, or its first bytes (``io.BytesIO``).
        label: the name used in messages.
        size: the file's size in bytes, or None when only a prefix is known (the data's end is not checked).

    Returns:
        ``(entries in header order, header bytes including the 8-byte length, __metadata__ entries)``.

    Raises:
        CheckpointError: the header breaks a rule of the format (the message says which, and where).
        LimitError: the header is longer than ``MAX_HEADER_BYTES`` or declares more than ``MAX_TENSORS``.
    """
    reader = ByteReader(stream, label=label, format=FORMAT, size=size, limit=MAX_HEADER_BYTES + 8)
    length = reader.u64("the header length")
    if length > MAX_HEADER_BYTES:
        raise LimitError(f"{label}: header length", MAX_HEADER_BYTES, length, unit="bytes")
    if size is not None and 8 + length > size:
        raise reader.fail(f"header length is {length:,} bytes but only {size - 8:,} bytes follow it", 0)
    raw = reader.take(length, "the header")
    if not raw.startswith(b"{"):
        raise reader.fail("the header must be a JSON object starting with '{'", 8)
    fail = _failure(label, 8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise fail(f"the header is not valid UTF-8 (byte {8 + error.start:,})") from None
    header = parse_json(text, source=label, max_bytes=MAX_HEADER_BYTES, max_depth=None, unique_keys=True, fail=fail)
    metadata = _metadata(header.pop("__metadata__", {}), fail)
    if len(header) > MAX_TENSORS:
        raise LimitError(f"{label}: tensors", MAX_TENSORS, len(header))
    if max(map(len, header), default=0) * 4 > MAX_NAME_BYTES and any(len(n.encode()) > MAX_NAME_BYTES for n in header):
        raise fail(f"a tensor name is longer than {MAX_NAME_BYTES:,} bytes")
    infos = [_tensor(name, info, fail) for name, info in header.items()]
    data_start = 8 + length
    _check_layout(list(infos), None if size is None else size - data_start, data_start, label)
    return tuple(info.entry for info in infos), data_start, metadata


def read_safetensors(path: str | Path) -> Checkpoint:
    """One ``.safetensors`` file, header only.

    Raises:
        CheckpointError, LimitError: see ``read_safetensors_header``.
        CheckpointError: also a file that cannot be opened (``<file>: cannot be read (…)``).
    """

    def read(stream: BinaryIO, *, label: str, size: int) -> Checkpoint:
        entries, header_bytes, metadata = read_safetensors_header(stream, label=label, size=size)
        facts: tuple[tuple[str, str | int], ...] = (
            ("format", FORMAT),
            ("files", 1),
            ("file_bytes", size),
            ("header_bytes", header_bytes),
            ("metadata_entries", metadata),
        )
        return Checkpoint(FORMAT, entries, facts)

    return read_file(path, FORMAT, read)


def read_safetensors_index(path: str | Path) -> Checkpoint:
    """A sharded checkpoint: the index (``model.safetensors.index.json``) and every shard it names, header only.

    Raises:
        CheckpointError: a malformed index, a shard outside the folder or missing, a shard whose tensors are
            not the ones the index places in it, or a malformed shard header.
        LimitError: a cap exceeded (index size, tensors, shards).
        CheckpointError: also a file that cannot be opened (``<file>: cannot be read (…)``).
    """
    index = read_index(Path(path), FORMAT)
    entries: list[TensorEntry] = []
    file_bytes = header_bytes = metadata = 0
    for shard, shard_path in index.paths.items():
        shard_stream, shard_size = open_regular(shard_path, shard, FORMAT)
        with shard_stream:
            found, shard_header, shard_metadata = read_safetensors_header(shard_stream, label=shard, size=shard_size)
        check_shard(index, shard, (entry.name for entry in found), FORMAT)
        entries.extend(found)
        file_bytes += shard_size
        header_bytes += shard_header
        metadata = max(metadata, shard_metadata)
    facts: tuple[tuple[str, str | int], ...] = (
        ("format", FORMAT),
        ("files", len(index.paths)),
        ("file_bytes", file_bytes),
        ("header_bytes", header_bytes),
        ("metadata_entries", metadata),
    )
    return Checkpoint(FORMAT, tuple(entries), facts)


def read_safetensors_headers(index: bytes | None, headers: Iterable[tuple[str, bytes]], label: str) -> Checkpoint:
    """A checkpoint from header bytes alone (fetched from the hub by range requests: each file's 8-byte length
    and JSON header, no tensor data): every header validated as a file's is, except where the data ends; with
    an ``index``, each file must hold exactly the tensors it places there. ``label`` names the index in
    messages (``org/name: model.safetensors.index.json``).

    Raises:
        CheckpointError, LimitError: as ``read_safetensors_index``.
    """
    found = list(headers)
    shard_index = None
    if index is not None:
        weight_map, shards = parse_index(index, label, FORMAT)
        shard_index = ShardIndex(label, weight_map, shards, {})
        missing = sorted(set(shards) - {name for name, _ in found})
        if missing:
            raise CheckpointError(f"{label}: no header for shard {short(missing[0])}", FORMAT)
    entries: list[TensorEntry] = []
    header_bytes = metadata = 0
    for name, data in found:
        shard_entries, shard_header, shard_metadata = read_safetensors_header(io.BytesIO(data), label=name, size=None)
        if shard_index is not None:
            check_shard(shard_index, name, (entry.name for entry in shard_entries), FORMAT)
        entries.extend(shard_entries)
        header_bytes += shard_header
        metadata = max(metadata, shard_metadata)
    facts: tuple[tuple[str, str | int], ...] = (
        ("format", FORMAT),
        ("files", len(found)),
        ("header_bytes", header_bytes),
        ("metadata_entries", metadata),
    )
    return Checkpoint(FORMAT, tuple(entries), facts)
