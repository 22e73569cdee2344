"""The GGUF door: a llama.cpp ``.gguf`` file's metadata and tensor infos, read header-only.

Our own reader, not the ``gguf`` package's ``GGUFReader``, for three reasons measured with gguf 0.19: it
trusts the header's counts and lengths (a 60-byte file declaring a huge count makes it loop for as long as
the count says, and several malformed files are accepted), it maps the whole file with numpy (importing
numpy alone costs more than a whole answer here), and it builds every array value, where counting needs
none. This reader follows ``gguf_init_from_file_impl`` in ggml's ``gguf.cpp`` — magic, version 2 or 3,
counts, key/value pairs, tensor infos, alignment, data offsets in order and padded — with a cap checked
before each loop and each length (``paramcount.limits``), through the shared bounded reader, so the same
code reads a file, bytes, or the first bytes of an upload.

Shapes are given in torch's order: ggml's ``ne`` lists the fastest-varying dimension first, so a Linear
weight stored as ``ne = [in, out]`` is ``(out, in)`` here, as transformers names it. Element counts come
from the shapes; storage bytes from each type's block layout (``paramcount.dtypes.GGML_TYPES``).
"""

from __future__ import annotations

import struct
from pathlib import Path

from paramcount.dtypes import GGML_TORCH_NAMES, GGML_TYPES
from paramcount.errors import CheckpointError, LimitError
from paramcount.limits import (
    MAX_ARRAY_ITEMS,
    MAX_HEADER_BYTES,
    MAX_HEADER_ITEMS,
    MAX_METADATA_ENTRIES,
    MAX_NAME_BYTES,
    MAX_NESTING,
    MAX_TENSOR_ELEMENTS,
    MAX_TENSORS,
)
from paramcount.sources._bounded import ByteReader, checked_product, read_file, short
from paramcount.sources.checkpoint import Checkpoint, TensorEntry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Final

__all__ = ["read_gguf", "read_gguf_header"]

FORMAT = "gguf"
MAGIC = b"GGUF"
VERSIONS: Final = (2, 3)
"""Versions read: 1 used 32-bit counts and lengths and is long obsolete; 3 added big-endian files (refused:
their version field reads as 0x03000000 here)."""
MAX_DIMS = 4
"""GGML_MAX_DIMS."""
DEFAULT_ALIGNMENT = 32
"""GGUF_DEFAULT_ALIGNMENT, when ``general.alignment`` is absent."""

STRING, ARRAY = 8, 9
VALUE_BYTES: Final = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
"""Fixed-size value types (``gguf_type``): uint8, int8, uint16, int16, uint32, int32, float32, bool, uint64,
int64, float64; 8 is a string, 9 an array."""
INTEGER_FORMATS: Final = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 10: "<Q", 11: "<q"}

ARCHITECTURE_KEYS: Final = (
    "block_count",
    "context_length",
    "embedding_length",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "expert_count",
    "expert_used_count",
)
"""``<architecture>.<key>`` values reported as facts (llama.cpp's ``LLM_KV_*`` names)."""
GENERAL_KEYS: Final = ("general.name", "general.file_type", "general.quantization_version")


class _Header:
    """What the key/value section holds that the report or the layout needs: scalars only."""

    __slots__ = ("items", "scalars")

    def __init__(self) -> None:
        self.scalars: dict[str, int | str] = {}
        self.items = 0  # values read, array items included: capped by MAX_HEADER_ITEMS


def _string(reader: ByteReader, what: str, limit: int) -> bytes:
    length = reader.u64(f"the length of {what}")
    if length > limit:
        raise LimitError(f"{reader.label}: {what}", limit, length, unit="bytes")
    return reader.take(length, what)


def _text(reader: ByteReader, what: str) -> str:
    raw = _string(reader, what, MAX_NAME_BYTES)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise reader.fail(f"{what} is not valid UTF-8", reader.position - len(raw)) from None


def _count_items(reader: ByteReader, header: _Header, count: int) -> None:
    header.items += count
    if header.items > MAX_HEADER_ITEMS:
        raise LimitError(f"{reader.label}: metadata values", MAX_HEADER_ITEMS, header.items)


def _skip_value(reader: ByteReader, header: _Header, value_type: int, key: str, depth: int) -> None:
    """Read past one value that is not kept (arrays, and scalars no fact needs)."""
    if value_type in VALUE_BYTES:
        reader.take(VALUE_BYTES[value_type], f"the value of {short(key)}")
        return
    if value_type == STRING:
        _string(reader, f"the string value of {short(key)}", MAX_HEADER_BYTES)
        return
    if value_type != ARRAY:
        raise reader.fail(f"metadata {short(key)} has unknown value type {value_type}", reader.position - 4)
    if depth >= MAX_NESTING:
        raise LimitError(f"{reader.label}: nesting of the arrays in {short(key)}", MAX_NESTING, depth + 1)
    item_type = reader.u32(f"the item type of {short(key)}")
    count = reader.u64(f"the length of {short(key)}")
    if count > MAX_ARRAY_ITEMS:
        raise LimitError(f"{reader.label}: the length of array {short(key)}", MAX_ARRAY_ITEMS, count)
    _count_items(reader, header, count)
    if item_type in VALUE_BYTES:
        reader.take(count * VALUE_BYTES[item_type], f"the items of {short(key)}")
        return
    for index in range(count):
        if index % 65_536 == 0:
            reader.check_time()
        _skip_value(reader, header, item_type, key, depth + 1)


def _key_value(reader: ByteReader, header: _Header, number: int, seen: set[str]) -> None:
    start = reader.position
    key = _text(reader, f"metadata key {number}")
    if key in seen:
        raise reader.fail(f"metadata key {short(key)} appears more than once", start)
    seen.add(key)
    value_type = reader.u32(f"the type of {short(key)}")
    _count_items(reader, header, 1)
    if value_type == STRING:
        raw = _string(reader, f"the string value of {short(key)}", MAX_HEADER_BYTES)
        if len(raw) <= MAX_NAME_BYTES:
            header.scalars[key] = raw.decode("utf-8", errors="replace")
    elif value_type in INTEGER_FORMATS:
        size = VALUE_BYTES[value_type]
        header.scalars[key] = struct.unpack(INTEGER_FORMATS[value_type], reader.take(size, f"the value of {key}"))[0]
    else:
        _skip_value(reader, header, value_type, key, 0)
    if key == "general.alignment" and value_type != 4:
        raise reader.fail("general.alignment must be a uint32", start)


def _alignment(reader: ByteReader, header: _Header) -> int:
    alignment = header.scalars.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise reader.fail(f"general.alignment must be a power of two, got {short(alignment)}", None)
    return alignment


def _tensor_info(reader: ByteReader, number: int) -> tuple[TensorEntry, int]:
    """One tensor info: the entry (shape in torch's order) and its offset in the data section."""
    start = reader.position
    name = _text(reader, f"the name of tensor {number}")
    dims = reader.u32(f"the dimensions of {short(name)}")
    if dims > MAX_DIMS:
        raise reader.fail(f"tensor {short(name)} has {dims:,} dimensions; ggml allows at most {MAX_DIMS}", start)
    ne = [reader.u64(f"the sizes of {short(name)}") for _ in range(dims)]
    type_id = reader.u32(f"the type of {short(name)}")
    offset = reader.u64(f"the offset of {short(name)}")
    ggml = GGML_TYPES.get(type_id)
    if ggml is None:
        raise reader.fail(f"tensor {short(name)} has unknown ggml type {type_id}", start)

    def fail(message: str) -> CheckpointError:
        return reader.fail(message, start)

    count = checked_product(ne, MAX_TENSOR_ELEMENTS, fail, f"tensor {short(name)}")
    if ne and ne[0] % ggml.block:
        raise reader.fail(
            f"tensor {short(name)}: its row of {ne[0]:,} elements is not a whole number of {ggml.name} blocks "
            f"({ggml.block} elements each)",
            start,
        )
    num_bytes = count // ggml.block * ggml.block_bytes
    dtype = GGML_TORCH_NAMES.get(ggml.name, ggml.name)
    return TensorEntry(name, tuple(reversed(ne)), dtype, num_bytes), offset


def _check_offsets(reader: ByteReader, infos: list[tuple[TensorEntry, int]], alignment: int, data_start: int) -> None:
    """Tensors follow each other in the data section, each padded to the alignment (gguf.cpp's rule), and
    (when the file size is known) the last one ends within the file."""
    expected = 0
    for entry, offset in infos:
        if offset != expected:
            raise reader.fail(
                f"tensor {short(entry.name)} is at offset {offset:,} of the data but the tensors before it end at "
                f"{expected:,} (each padded to {alignment} bytes)",
                data_start + min(offset, expected),
            )
        expected = offset + -(-entry.num_bytes // alignment) * alignment
    if infos and reader.size is not None:
        last, offset = infos[-1]
        end = data_start + offset + last.num_bytes
        if end > reader.size:
            raise reader.fail(
                f"the file ends {end - reader.size:,} bytes before the end of tensor {short(last.name)} "
                "(an incomplete copy?)",
                reader.size,
            )


def read_gguf_header(stream: BinaryIO, *, label: str, size: int | None) -> Checkpoint:
    """Read and validate a GGUF header from ``stream`` (positioned at the file's start).

    Args:
        stream: the file, or its first bytes (``io.BytesIO``).
        label: the name used in messages.
        size: the file's size, or None when only a prefix is known (the tensors' data is then not checked
            against the end of the file).

    Returns:
        The tensors and the header's facts (architecture, layer counts, version, alignment, sizes).

    Raises:
        CheckpointError: not GGUF, an unsupported version, or a header that breaks a rule (the message says
            which, and at what offset).
        LimitError: a count, length, nesting or the header's size beyond its cap.
    """
    reader = ByteReader(stream, label=label, format=FORMAT, size=size, limit=MAX_HEADER_BYTES)
    if reader.take(4, "the magic number") != MAGIC:
        raise reader.fail("not a GGUF file (it does not start with 'GGUF')", 0)
    version = reader.u32("the version")
    if version not in VERSIONS:
        raise reader.fail(f"GGUF version {version:,} is not supported (supported: 2 and 3, little-endian)", 4)
    tensor_count = reader.u64("the tensor count")
    if tensor_count > MAX_TENSORS:
        raise LimitError(f"{label}: the tensor count", MAX_TENSORS, tensor_count)
    entry_count = reader.u64("the metadata entry count")
    if entry_count > MAX_METADATA_ENTRIES:
        raise LimitError(f"{label}: the metadata entry count", MAX_METADATA_ENTRIES, entry_count)
    header, seen = _Header(), set[str]()
    for number in range(entry_count):
        _key_value(reader, header, number, seen)
    alignment = _alignment(reader, header)
    infos, names = [], set[str]()
    for number in range(tensor_count):
        entry, offset = _tensor_info(reader, number)
        if entry.name in names:
            raise reader.fail(f"tensor name {short(entry.name)} appears more than once", None)
        names.add(entry.name)
        infos.append((entry, offset))
    data_start = -(-reader.position // alignment) * alignment
    _check_offsets(reader, infos, alignment, data_start)
    facts = _facts(header, version, alignment, data_start, entry_count, size)
    return Checkpoint(FORMAT, tuple(entry for entry, _ in infos), facts)


def _facts(
    header: _Header, version: int, alignment: int, data_start: int, entry_count: int, size: int | None
) -> tuple[tuple[str, str | int], ...]:
    facts: list[tuple[str, str | int]] = [("format", FORMAT), ("gguf_version", version)]
    architecture = header.scalars.get("general.architecture")
    if isinstance(architecture, str):
        facts.append(("architecture", architecture))
        keys = [f"{architecture}.{key}" for key in ARCHITECTURE_KEYS]
    else:
        keys = []
    facts.extend((key, header.scalars[key]) for key in (*GENERAL_KEYS, *keys) if key in header.scalars)
    facts.extend((("alignment", alignment), ("metadata_entries", entry_count), ("header_bytes", data_start)))
    if size is not None:
        facts.extend((("files", 1), ("file_bytes", size)))
    return tuple(facts)


def read_gguf(path: str | Path) -> Checkpoint:
    """A ``.gguf`` file, header only (see ``read_gguf_header``).

    Raises:
        CheckpointError, LimitError: see ``read_gguf_header``.
        CheckpointError: also a file that cannot be opened (``<file>: cannot be read (…)``).
    """
    return read_file(path, FORMAT, read_gguf_header)
