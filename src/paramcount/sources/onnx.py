"""The ONNX door: a model's initializers (and the floating-point tensors of its ``Constant`` nodes), read from
the protobuf wire format by a small bounded reader of our own.

Why not ``onnx.load``: it parses the whole file into memory (weights included, up to 2 GB), importing it costs
more than an answer, and it accepts negative dimensions. This reader walks the fields of ``ModelProto`` →
``GraphProto`` → ``TensorProto``/``NodeProto`` (``onnx/onnx.proto``), keeps names, element types, dims and
where the data lives, and seeks past every payload without reading it. Every length is checked against the
end of its message and of the file before it is used; nesting (graphs inside node attributes), the fields
visited and the bytes read are capped.

External data (``data_location = EXTERNAL``) is described — file, offset, length — and never opened; its
location must be a plain relative path inside the model's folder, or the file is refused.

Which tensors are weights: every initializer, and a ``Constant`` node's tensor when it is floating point with
at least one dimension (exporters that fold weights into constants write them so; scalars and integer
tensors are shapes, axes and epsilons of the graph, not parameters).
"""

from __future__ import annotations

from pathlib import Path

from paramcount.dtypes import BITS
from paramcount.errors import CheckpointError, LimitError
from paramcount.limits import (
    MAX_HEADER_BYTES,
    MAX_HEADER_ITEMS,
    MAX_NAME_BYTES,
    MAX_NESTING,
    MAX_TENSOR_DIMS,
    MAX_TENSOR_ELEMENTS,
    MAX_TENSORS,
)
from paramcount.sources._bounded import ByteReader, checked_product, read_file, short
from paramcount.sources.checkpoint import Checkpoint, TensorEntry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO, Final

__all__ = ["DATA_TYPES", "read_onnx", "read_onnx_model"]

FORMAT = "onnx"

DATA_TYPES: Final = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    14: "complex64",
    15: "complex128",
    16: "bfloat16",
    17: "float8_e4m3fn",
    18: "float8_e4m3fnuz",
    19: "float8_e5m2",
    20: "float8_e5m2fnuz",
    21: "uint4",
    22: "int4",
    23: "float4_e2m1fn",
    24: "float8_e8m0fnu",
    25: "uint2",
    26: "int2",
    27: "float6_e2m3fn",
    28: "float6_e3m2fn",
}
"""``TensorProto.DataType`` (onnx 1.23) → torch's spelling; 8 (STRING) holds no numbers and is not counted."""
STRING_TYPE = 8
FLOATING: Final = frozenset(name for name in DATA_TYPES.values() if name.startswith(("float", "bfloat", "complex")))

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
MODEL_GRAPH = 7
GRAPH_NODE, GRAPH_INITIALIZER = 1, 5
NODE_OUTPUT, NODE_OP_TYPE, NODE_ATTRIBUTE = 2, 4, 5
ATTRIBUTE_NAME, ATTRIBUTE_TENSOR, ATTRIBUTE_GRAPH, ATTRIBUTE_GRAPHS = 1, 5, 6, 11
TENSOR_DIMS, TENSOR_DATA_TYPE, TENSOR_NAME, TENSOR_RAW_DATA = 1, 2, 8, 9
TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 13, 14
EXTERNAL = 1


class _Walk:
    """The reader plus what the walk has found and counted."""

    __slots__ = ("constants", "entries", "external", "fields", "names", "reader", "strings")

    def __init__(self, reader: ByteReader) -> None:
        self.reader = reader
        self.entries: list[TensorEntry] = []
        self.names: set[str] = set()
        self.external: dict[str, int] = {}  # file → bytes it holds
        self.fields = 0
        self.constants = 0
        self.strings = 0


def _varint(reader: ByteReader, what: str) -> int:
    value = shift = 0
    for _ in range(10):
        byte = reader.take(1, what)[0]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
    raise reader.fail(f"{what} is a varint longer than 10 bytes")


def _length_fields(walk: _Walk, length: int, what: str) -> Iterator[tuple[int, int]]:
    """``(field number, length)`` of each length-delimited field of the message of ``length`` bytes at the
    reader's position (strings, bytes, sub-messages); its other fields are read past."""
    for number, wire, field in _fields(walk, walk.reader.position + length, what):
        if wire == LENGTH:
            yield number, field


def _signed(value: int) -> int:
    """A varint as protobuf's int64 (two's complement in 64 bits)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _fields(walk: _Walk, end: int, what: str) -> Iterator[tuple[int, int, int]]:
    """``(field number, wire type, value)`` of each field up to ``end``: the value of a varint, or the length
    of a length-delimited field (the reader then stands at its first byte; the caller reads or skips it)."""
    reader = walk.reader
    while reader.position < end:
        walk.fields += 1
        if walk.fields > MAX_HEADER_ITEMS:
            raise LimitError(f"{reader.label}: protobuf fields", MAX_HEADER_ITEMS, walk.fields)
        if walk.fields % 65_536 == 0:
            reader.check_time()
        key = _varint(reader, f"a field key in {what}")
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            yield number, wire, _varint(reader, f"field {number} of {what}")
        elif wire == LENGTH:
            length = _varint(reader, f"the length of field {number} of {what}")
            if reader.position + length > end:
                raise reader.fail(f"field {number} of {what} ({length:,} bytes) runs past the end of {what}")
            start = reader.position
            yield number, wire, length
            if reader.position == start:  # not consumed by the caller: skip it
                reader.skip(length, f"field {number} of {what}")
        elif wire in (FIXED64, FIXED32):
            reader.take(8 if wire == FIXED64 else 4, f"field {number} of {what}")
        else:
            raise reader.fail(f"field {number} of {what} has wire type {wire}, which ONNX does not use")
    if reader.position != end:
        raise reader.fail(f"the last field of {what} runs past its end")


def _text(reader: ByteReader, length: int, what: str) -> str:
    if length > MAX_NAME_BYTES:
        raise LimitError(f"{reader.label}: {what}", MAX_NAME_BYTES, length, unit="bytes")
    raw = reader.take(length, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise reader.fail(f"{what} is not valid UTF-8", reader.position - length) from None


class _Tensor:
    """A TensorProto's fields as read (in any order)."""

    __slots__ = ("data_type", "dims", "external", "location", "name", "raw_bytes", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.name = ""
        self.dims: list[int] = []
        self.data_type = 0
        self.raw_bytes: int | None = None
        self.location = 0
        self.external: dict[str, str] = {}


def _dims(walk: _Walk, wire: int, value: int, tensor: _Tensor) -> None:
    reader = walk.reader
    if wire == VARINT:
        values = [value]
    else:  # packed
        end = reader.position + value
        values = []
        while reader.position < end:
            values.append(_varint(reader, "a packed dimension"))
        if reader.position != end:
            raise reader.fail("the packed dimensions run past their field")
    tensor.dims.extend(_signed(item) for item in values)
    if len(tensor.dims) > MAX_TENSOR_DIMS:
        raise reader.fail(f"a tensor has more than {MAX_TENSOR_DIMS} dimensions", tensor.start)


def _external_entry(walk: _Walk, length: int, tensor: _Tensor) -> None:
    reader = walk.reader
    key = value = ""
    for number, field in _length_fields(walk, length, "an external_data entry"):
        if number in (1, 2):
            text = _text(reader, field, "an external_data entry")
            key, value = (text, value) if number == 1 else (key, text)
    tensor.external[key] = value


def _read_tensor(walk: _Walk, length: int) -> _Tensor:
    reader = walk.reader
    tensor = _Tensor(reader.position)
    for number, wire, value in _fields(walk, reader.position + length, "a tensor"):
        if number == TENSOR_DIMS:
            _dims(walk, wire, value, tensor)
        elif number == TENSOR_DATA_TYPE and wire == VARINT:
            tensor.data_type = value
        elif number == TENSOR_NAME and wire == LENGTH:
            tensor.name = _text(reader, value, "a tensor name")
        elif number == TENSOR_RAW_DATA and wire == LENGTH:
            tensor.raw_bytes = value
        elif number == TENSOR_EXTERNAL_DATA and wire == LENGTH:
            _external_entry(walk, value, tensor)
        elif number == TENSOR_DATA_LOCATION and wire == VARINT:
            tensor.location = value
    return tensor


def _plain_location(location: str) -> bool:
    """A relative path that stays inside the model's folder: no absolute path, drive, ``..`` or NUL."""
    if not location or "\0" in location or location.startswith(("/", "\\")) or ":" in location:
        return False
    return all(part not in ("", ".", "..") for part in location.replace("\\", "/").split("/"))


def _external(walk: _Walk, tensor: _Tensor, name: str, num_bytes: int) -> None:
    """Describe where an external tensor's data lives (never opened): its location must stay in the folder."""
    reader = walk.reader
    location = tensor.external.get("location", "")
    if not _plain_location(location):
        raise reader.fail(
            f"initializer {short(name)} keeps its data in {short(location)}, outside the model's folder",
            tensor.start,
        )
    for key in ("offset", "length"):
        text = tensor.external.get(key, "0")
        if not (text.isascii() and text.isdigit()):
            raise reader.fail(f"initializer {short(name)} has external_data {key} {short(text)}", tensor.start)
    length = int(tensor.external.get("length", "0")) or num_bytes
    walk.external[location] = walk.external.get(location, 0) + length


def _add(walk: _Walk, tensor: _Tensor, name: str) -> None:
    """A weight tensor, validated: a known type, non-negative dims, raw data as long as the shape needs."""
    reader = walk.reader
    if tensor.data_type == STRING_TYPE:
        walk.strings += 1
        return
    dtype = DATA_TYPES.get(tensor.data_type)
    if dtype is None:
        raise reader.fail(f"tensor {short(name)} has unknown data_type {tensor.data_type}", tensor.start)
    if any(size < 0 for size in tensor.dims):
        raise reader.fail(f"tensor {short(name)} has a negative dimension: {tensor.dims}", tensor.start)

    def fail(message: str) -> CheckpointError:
        return reader.fail(message, tensor.start)

    count = checked_product(tensor.dims, MAX_TENSOR_ELEMENTS, fail, f"tensor {short(name)}")
    num_bytes = -(-count * BITS[dtype] // 8)
    if tensor.raw_bytes is not None and tensor.raw_bytes != num_bytes:
        raise reader.fail(
            f"tensor {short(name)} has {tensor.raw_bytes:,} bytes of raw_data but its shape {tensor.dims} of {dtype} "
            f"needs {num_bytes:,}",
            tensor.start,
        )
    if tensor.location == EXTERNAL:
        _external(walk, tensor, name, num_bytes)
    if name in walk.names:
        raise reader.fail(f"tensor name {short(name)} appears more than once", tensor.start)
    if len(walk.entries) >= MAX_TENSORS:
        raise LimitError(f"{reader.label}: tensors", MAX_TENSORS, len(walk.entries) + 1)
    walk.names.add(name)
    walk.entries.append(TensorEntry(name, tuple(tensor.dims), dtype, num_bytes))


def _read_node(walk: _Walk, length: int, depth: int) -> None:
    """A node: a ``Constant``'s ``value`` tensor may be a weight; subgraphs (``If``/``Loop`` bodies) are walked."""
    reader = walk.reader
    op_type, outputs, value = "", [], None
    for number, field in _length_fields(walk, length, "a node"):
        if number == NODE_OP_TYPE:
            op_type = _text(reader, field, "an op_type")
        elif number == NODE_OUTPUT:
            outputs.append(_text(reader, field, "a node output"))
        elif number == NODE_ATTRIBUTE:
            value = _read_attribute(walk, field, depth) or value
    if op_type == "Constant" and value is not None and outputs:
        dtype = DATA_TYPES.get(value.data_type, "")
        if dtype in FLOATING and value.dims:
            walk.constants += 1
            _add(walk, value, outputs[0])


def _read_attribute(walk: _Walk, length: int, depth: int) -> _Tensor | None:
    """An attribute: its tensor when it is called ``value``; graphs inside it are walked."""
    reader = walk.reader
    name, tensor = "", None
    for number, field in _length_fields(walk, length, "an attribute"):
        if number == ATTRIBUTE_NAME:
            name = _text(reader, field, "an attribute name")
        elif number == ATTRIBUTE_TENSOR:
            tensor = _read_tensor(walk, field)
        elif number in (ATTRIBUTE_GRAPH, ATTRIBUTE_GRAPHS):
            _read_graph(walk, field, depth + 1)
    return tensor if name == "value" else None


def _read_graph(walk: _Walk, length: int, depth: int) -> None:
    reader = walk.reader
    if depth > MAX_NESTING:
        raise LimitError(f"{reader.label}: nesting of graphs", MAX_NESTING, depth)
    for number, field in _length_fields(walk, length, "a graph"):
        if number == GRAPH_INITIALIZER:
            tensor = _read_tensor(walk, field)
            _add(walk, tensor, tensor.name)
        elif number == GRAPH_NODE:
            _read_node(walk, field, depth)


def read_onnx_model(stream: BinaryIO, *, label: str, size: int) -> Checkpoint:
    """Read the weights of an ONNX model from ``stream`` (its whole file; payloads are skipped, not read).

    Raises:
        CheckpointError: malformed protobuf, an unknown type, a negative dimension, raw data of the wrong
            length, external data outside the folder, a name twice, or no graph.
        LimitError: fields, nesting, names, tensors or bytes read beyond their caps.
    """
    reader = ByteReader(stream, label=label, format=FORMAT, size=size, limit=MAX_HEADER_BYTES, what="model's fields")
    walk = _Walk(reader)
    graphs = 0
    facts: list[tuple[str, str | int]] = [("format", FORMAT)]
    for number, wire, value in _fields(walk, size, "the model"):
        if number == MODEL_GRAPH and wire == LENGTH:
            graphs += 1
            _read_graph(walk, value, 0)
        elif number == 1 and wire == VARINT:
            facts.append(("ir_version", value))
        elif number == 2 and wire == LENGTH:
            facts.append(("producer", _text(reader, value, "the producer name")))
    if not graphs:
        raise CheckpointError(f"{label}: not an ONNX model (no graph)", FORMAT, 0)
    facts.extend((("files", 1), ("file_bytes", size), ("constant_weights", walk.constants)))
    if walk.strings:
        facts.append(("string_tensors_not_counted", walk.strings))
    if walk.external:
        facts.append(("external_data", ", ".join(f"{name} ({count:,} B)" for name, count in walk.external.items())))
    return Checkpoint(FORMAT, tuple(walk.entries), tuple(facts))


def read_onnx(path: str | Path) -> Checkpoint:
    """An ``.onnx`` file's weights (see ``read_onnx_model``); external data files are never opened.

    Raises:
        CheckpointError, LimitError: see ``read_onnx_model``.
        CheckpointError: also a file that cannot be opened (``<file>: cannot be read (…)``).
    """
    return read_file(path, FORMAT, read_onnx_model)
