"""PyTorch checkpoint files (``.pt``/``.pth``/``.bin``/``.ckpt``), read header-only and never unpickled.

``torch.save`` writes a pickle whose tensors refer to storages by persistent id. This module reads that
pickle with an interpreter of its own: ``pickletools.genops`` decodes the opcodes, and the interpreter
builds plain values (dict, list, tuple, str, bytes, int, float, bool, None) and recognises only the
records ``torch.save`` writes for tensors. It never imports a module, never looks a name up and never
calls anything the file names: a global outside the whitelist below is refused by name, whatever it is.

Two layouts:

- zip (``torch.save``'s default since torch 1.6): ``<archive>/data.pkl`` holds the pickle and
  ``<archive>/data/<key>`` each storage's bytes. The central directory is checked against caps before
  ``zipfile`` parses it, and only ``data.pkl`` is read (at most ``MAX_PICKLE_BYTES``); storage records are
  only measured.
- legacy (``_use_new_zipfile_serialization=False``): five pickles one after another (magic number,
  protocol version, system info, the object, the storage keys), then each storage as an 8-byte element
  count and its bytes. Every one of the five pickles goes through the same interpreter: a payload placed
  after the magic number (which pickle scanners stop at) is refused like any other. The storage headers
  are walked to check that each storage is there, of the size its persistent id declares.

Globals read (everything else is refused):

- ``torch._utils._rebuild_tensor_v2`` / ``_v3``, ``_rebuild_parameter``, ``_rebuild_parameter_with_state``
  and ``torch._tensor._rebuild_from_type_v2`` (for ``torch.Tensor``/``nn.Parameter`` only) become tensor
  records; the storage classes and dtypes are read as names.
- ``collections.OrderedDict`` (with no arguments, as pickle writes it) is a dict; ``torch.Size`` a tuple;
  ``torch.device`` its string (``"cuda:0"``).
- ``_codecs.encode(text, "latin1")`` and ``builtins.bytes()``: how pickle protocol 2 writes a ``bytes``
  value. Reading it as the bytes it stands for runs nothing; refusing it would refuse every checkpoint that
  holds a bytes value (``torch.load(weights_only=True)`` reads it too).
- ``argparse.Namespace`` (how older Lightning versions stored hyper-parameters): read as the dict of its
  attributes, without creating one. Refusing it would refuse those checkpoints for their hyper-parameters
  alone; a dict of plain values is all it holds.

Sections: a checkpoint that is a dict with one of the wrapper keys below is split by its top-level keys
(``state_dict``, ``model``, ``model_state_dict``, ``module`` → "model"; ``optimizer``,
``optimizer_states``, ``optimizer_state_dict`` → "optimizer"; every other key → "other": EMA copies,
schedulers, callbacks). Any other checkpoint is a bare state dict: all its tensors are "model".
"""

from __future__ import annotations

import io
import os
import struct

from paramcount import limits
from paramcount._record import Record
from paramcount.errors import CheckpointError, LimitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO
    from zipfile import ZipFile, ZipInfo

__all__ = ["TorchFile", "TorchStorage", "TorchTensor", "read_torch_file", "read_torch_stream"]

FORMAT = "pytorch"
"""``CheckpointError.format`` of this reader's errors."""


class TorchTensor(Record):
    """One tensor found in the saved object."""

    name: str
    """Dotted path inside the saved object (``state_dict.model.layers.0.weight``; ``""`` for a tensor saved
    on its own)."""
    section: str
    """``"model"``, ``"optimizer"`` or ``"other"`` (see the module docstring)."""
    name_in_section: str
    """The name without its wrapper key (``model.layers.0.weight``); the whole name in a bare state dict."""
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str
    """torch's dtype name without ``torch.`` (``"bfloat16"``)."""
    storage: str
    """The storage key: tensors with the same key share storage (ties, views)."""
    storage_offset: int
    """In elements of ``dtype``."""
    nbytes: int
    """numel × itemsize: the tensor's own bytes (a view or an expanded tensor may need fewer on disk)."""
    requires_grad: bool
    parameter: bool
    """Saved as an ``nn.Parameter`` (a ``state_dict()`` holds plain tensors)."""


class TorchStorage(Record):
    """One storage record: what the file holds on disk."""

    key: str
    dtype: str
    nbytes: int
    location: str
    """Where it was saved from: ``"cpu"``, ``"cuda:0"`` …"""


class TorchFile(Record):
    """What a PyTorch checkpoint holds, read without loading it."""

    format: str
    """``"zip"`` or ``"legacy"``."""
    tensors: tuple[TorchTensor, ...]
    storages: tuple[TorchStorage, ...]
    """In order of first use; their bytes sum to the tensor data on disk."""


def read_torch_file(path: str | os.PathLike[str]) -> TorchFile:
    """Read a ``torch.save`` file's tensors (names, shapes, dtypes, storages) without loading it."""
    name = os.fspath(path)
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below; opening is what can fail
    except OSError as error:
        raise CheckpointError(f"{name}: cannot be read ({error.strerror})", FORMAT) from None
    with stream:
        return read_torch_stream(stream, name)


def read_torch_stream(stream: BinaryIO, name: str) -> TorchFile:
    """``read_torch_file`` on a seekable binary stream; ``name`` starts the error messages."""
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    head = stream.read(512)
    if head.startswith(b"PK\x03\x04"):
        return _read_zip(stream, size, name)
    if head.startswith(b"\x80"):  # a pickle's PROTO opcode: the legacy format starts with one
        return _read_legacy(stream, size, name)
    if head[257:262] == b"ustar":
        raise CheckpointError(f"{name}: is a tar-format checkpoint (torch < 0.4), which is not read", FORMAT, 0)
    raise CheckpointError(
        f"{name}: is neither a PyTorch zip archive nor a legacy PyTorch pickle (it starts with {head[:8]!r})",
        FORMAT,
        0,
    )


# ---------------------------------------------------------------------------------------------- dtypes

_ITEMSIZE = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2,
    "complex128": 16, "complex64": 8, "complex32": 4,
    "int64": 8, "int32": 4, "int16": 2, "int8": 1,
    "uint64": 8, "uint32": 4, "uint16": 2, "uint8": 1, "bool": 1,
    "float8_e4m3fn": 1, "float8_e4m3fnuz": 1, "float8_e5m2": 1, "float8_e5m2fnuz": 1, "float8_e8m0fnu": 1,
    "float4_e2m1fn_x2": 1,
    "qint8": 1, "quint8": 1, "qint32": 4, "quint4x2": 1, "quint2x4": 1,
    "bits8": 1, "bits16": 2, "bits1x8": 1, "bits2x4": 1, "bits4x2": 1,
    **{f"int{bits}": 1 for bits in range(1, 8)},
    **{f"uint{bits}": 1 for bits in range(1, 8)},
}  # fmt: skip
"""Bytes per element of every torch dtype (``torch.<dtype>.itemsize``; a test compares them)."""

_STORAGE_DTYPES = {
    "Double": "float64", "Float": "float32", "Half": "float16", "BFloat16": "bfloat16",
    "ComplexDouble": "complex128", "ComplexFloat": "complex64",
    "Long": "int64", "Int": "int32", "Short": "int16", "Char": "int8", "Byte": "uint8", "Bool": "bool",
    "QInt8": "qint8", "QUInt8": "quint8", "QInt32": "qint32", "QUInt4x2": "quint4x2", "QUInt2x4": "quint2x4",
}  # fmt: skip
"""The legacy typed storage classes (``torch.FloatStorage`` …) and their dtypes."""

_STORAGE_TYPES = {
    **{f"torch.{kind}Storage": dtype for kind, dtype in _STORAGE_DTYPES.items()},
    **{f"torch.cuda.{kind}Storage": dtype for kind, dtype in _STORAGE_DTYPES.items()},
    "torch.storage.UntypedStorage": "uint8",
    "torch.UntypedStorage": "uint8",
}
"""Storage classes a persistent id may name, and the dtype its element count is in."""

_MAX_SIZE = 2**limits.MAX_INT_BITS - 1
"""Largest size, stride, offset or element count a torch tensor can hold."""

_DTYPE_GLOBALS = {f"torch.{dtype}": dtype for dtype in _ITEMSIZE}

_TENSOR_TYPES = {"torch.Tensor": False, "torch.nn.parameter.Parameter": True}
"""Types ``_rebuild_from_type_v2`` may name, and whether they make a parameter."""

# ------------------------------------------------------------------------------------------ zip layout

_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


def _read_zip(stream: BinaryIO, size: int, name: str) -> TorchFile:
    import zipfile

    _check_zip_directory(stream, size, name)
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error) as error:
        raise CheckpointError(f"{name}: is a damaged zip archive ({_shown(str(error), 80)})", FORMAT) from None
    with archive:
        entries = _zip_entries(archive, size, name)
        first = archive.infolist()[0].filename
        prefix = first.split("/", 1)[0]
        pickle_entry = entries.get(f"{prefix}/data.pkl")
        if pickle_entry is None:
            raise CheckpointError(f"{name}: is a zip archive without {prefix + '/data.pkl'!r}", FORMAT)
        data, base = _read_zip_pickle(archive, pickle_entry, stream, name)
    reader = _Reader(name, data, base, legacy=False)
    value, _ = reader.run(0)
    for storage in reader.storages.values():
        record = entries.get(f"{prefix}/data/{storage.key}")
        if record is None:
            raise CheckpointError(f"{name}: storage {_shown(storage.key)!r} has no record in the archive", FORMAT)
        if record.file_size < storage.nbytes:
            raise CheckpointError(
                f"{name}: storage {_shown(storage.key)!r} declares {storage.nbytes:,} bytes but its record"
                f" holds {record.file_size:,} bytes",
                FORMAT,
                record.header_offset,
            )
    return _result("zip", value, reader, name)


def _check_zip_directory(stream: BinaryIO, size: int, name: str) -> None:
    """Caps the central directory's entry count and size before ``zipfile`` reads it."""
    tail_length = min(size, _EOCD.size + 0xFFFF)
    stream.seek(size - tail_length)
    tail = stream.read(tail_length)
    at = len(tail) - _EOCD.size
    if not (at >= 0 and tail[at : at + 4] == b"PK\x05\x06" and tail[-2:] == b"\0\0"):
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise CheckpointError(f"{name}: is a zip archive without its central directory (truncated?)", FORMAT)
    _, _, _, _, entries, directory_bytes, directory_offset, _ = _EOCD.unpack_from(tail, at)
    locator_at = at - _ZIP64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
        _, _, record_offset, _ = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
        stream.seek(min(record_offset, size))
        record = stream.read(_ZIP64_EOCD.size)
        if len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
            raise CheckpointError(f"{name}: its zip64 end record is missing", FORMAT, record_offset)
        *_, entries, directory_bytes, directory_offset = _ZIP64_EOCD.unpack(record)
    if entries > limits.MAX_ZIP_ENTRIES:
        raise LimitError(f"{name}: the zip entry count", limits.MAX_ZIP_ENTRIES, entries)
    if directory_bytes > limits.MAX_ZIP_DIRECTORY_BYTES:
        raise LimitError(f"{name}: the zip directory", limits.MAX_ZIP_DIRECTORY_BYTES, directory_bytes, unit="bytes")
    if directory_offset + directory_bytes > size:
        raise CheckpointError(
            f"{name}: its zip directory ends at byte {directory_offset + directory_bytes:,}, beyond the file's"
            f" {size:,} bytes (truncated?)",
            FORMAT,
            directory_offset,
        )


def _zip_entries(archive: ZipFile, size: int, name: str) -> dict[str, ZipInfo]:
    entries: dict[str, ZipInfo] = {}
    infos = archive.infolist()
    if not infos:
        raise CheckpointError(f"{name}: is an empty zip archive", FORMAT)
    if len(infos) > limits.MAX_ZIP_ENTRIES:
        raise LimitError(f"{name}: the zip entry count", limits.MAX_ZIP_ENTRIES, len(infos))
    for info in infos:
        if info.filename in entries:
            # Two readers could pick different copies: a scanner one, the loader the other.
            raise CheckpointError(f"{name}: holds two zip entries named {_shown(info.filename)!r}", FORMAT)
        if info.header_offset + _LOCAL_HEADER.size + info.compress_size > size:
            raise CheckpointError(
                f"{name}: zip entry {_shown(info.filename)!r} reaches beyond the file's {size:,} bytes",
                FORMAT,
                info.header_offset,
            )
        entries[info.filename] = info
    return entries


def _read_zip_pickle(archive: ZipFile, info: ZipInfo, stream: BinaryIO, name: str) -> tuple[bytes, int | None]:
    """``data.pkl``'s bytes (capped before reading), and their offset in the file when stored."""
    import zipfile

    where = info.filename
    if info.flag_bits & 0x1:
        raise CheckpointError(f"{name}: {where!r} is encrypted", FORMAT, info.header_offset)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise CheckpointError(
            f"{name}: {where!r} uses zip compression method {info.compress_type}; only stored and deflated"
            " entries are read",
            FORMAT,
            info.header_offset,
        )
    if info.file_size > limits.MAX_PICKLE_BYTES:
        raise LimitError(f"{name}: {where}", limits.MAX_PICKLE_BYTES, info.file_size, unit="bytes")
    if info.compress_type == zipfile.ZIP_DEFLATED:
        ratio = info.file_size // max(info.compress_size, 1)
        if ratio > limits.MAX_ZIP_COMPRESSION_RATIO:
            raise LimitError(f"{name}: {where}'s compression ratio", limits.MAX_ZIP_COMPRESSION_RATIO, ratio)
    try:
        with archive.open(info) as member:
            data = member.read(limits.MAX_PICKLE_BYTES + 1)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error) as error:
        raise CheckpointError(f"{name}: {where!r} cannot be read ({_shown(str(error), 80)})", FORMAT) from None
    if len(data) > limits.MAX_PICKLE_BYTES:  # pragma: no cover - zipfile stops at the declared size
        raise LimitError(f"{name}: {where}", limits.MAX_PICKLE_BYTES, unit="bytes")
    base = None
    if info.compress_type == zipfile.ZIP_STORED:
        stream.seek(info.header_offset)
        header = _LOCAL_HEADER.unpack(stream.read(_LOCAL_HEADER.size))
        base = info.header_offset + _LOCAL_HEADER.size + header[-2] + header[-1]
    return data, base


# -------------------------------------------------------------------------------------- legacy layout

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


def _read_legacy(stream: BinaryIO, size: int, name: str) -> TorchFile:
    window = min(size, 1 << 20)
    while True:
        stream.seek(0)
        reader = _Reader(name, stream.read(window), 0, legacy=True)
        try:
            return _read_legacy_pickles(reader, stream, size, name)
        except _PickleCutShort:
            if window >= min(size, limits.MAX_PICKLE_BYTES):
                if window < size:
                    raise LimitError(f"{name}: the pickles", limits.MAX_PICKLE_BYTES, unit="bytes") from None
                raise CheckpointError(f"{name}: ends inside its pickles (truncated?)", FORMAT, size) from None
            window = min(2 * window, size, limits.MAX_PICKLE_BYTES)


def _read_legacy_pickles(reader: _Reader, stream: BinaryIO, size: int, name: str) -> TorchFile:
    magic, end = reader.run(0)
    if type(magic) is not int or magic != _LEGACY_MAGIC:
        raise CheckpointError(f"{name}: is a pickle without torch's magic number, not a PyTorch checkpoint", FORMAT, 0)
    protocol, end = reader.run(end)
    if protocol != _LEGACY_PROTOCOL:
        raise CheckpointError(f"{name}: declares protocol version {_shown(repr(protocol))}, not 1001", FORMAT, end)
    system, end = reader.run(end)
    little_endian = isinstance(system, dict) and system.get("little_endian", True) is not False
    value, end = reader.run(end)
    keys, end = reader.run(end)
    if not (isinstance(keys, list) and all(isinstance(key, str) for key in keys)):
        raise CheckpointError(f"{name}: its storage keys are not a list of strings", FORMAT, end)
    if sorted(keys) != sorted(reader.storages):
        raise CheckpointError(f"{name}: its storage key list does not match the storages it uses", FORMAT, end)
    byteorder = "little" if little_endian else "big"
    offset = end
    for key in keys:
        storage = reader.storages[key]
        stream.seek(offset)
        header = stream.read(8)
        if len(header) < 8:
            raise CheckpointError(f"{name}: ends before storage {_shown(key)!r} (truncated?)", FORMAT, offset)
        count = int.from_bytes(header, byteorder)
        if count != storage.numel:
            raise CheckpointError(
                f"{name}: storage {_shown(key)!r} holds {count:,} elements; its record says {storage.numel:,}",
                FORMAT,
                offset,
            )
        offset += 8 + storage.nbytes
        if offset > size:
            raise CheckpointError(
                f"{name}: storage {_shown(key)!r} ends at byte {offset:,}, beyond the file's {size:,} bytes"
                " (truncated?)",
                FORMAT,
                offset - storage.nbytes,
            )
    return _result("legacy", value, reader, name)


# ------------------------------------------------------------------------------------ the interpreter


class _PickleCutShort(Exception):
    """A pickle ran past the bytes read so far (the legacy reader then reads more)."""


class _Global:
    """A whitelisted global, as a name: nothing is imported."""

    __slots__ = ("qualified",)

    def __init__(self, qualified: str) -> None:
        self.qualified = qualified


class _Storage:
    __slots__ = ("dtype", "key", "location", "numel")

    def __init__(self, key: str, dtype: str, numel: int, location: str) -> None:
        self.key = key
        self.dtype = dtype
        self.numel = numel
        self.location = location

    @property
    def nbytes(self) -> int:
        return self.numel * _ITEMSIZE[self.dtype]


class _Tensor:
    __slots__ = ("dtype", "offset", "parameter", "requires_grad", "shape", "storage", "stride")

    def __init__(
        self,
        storage: _Storage,
        offset: int,
        shape: tuple[int, ...],
        stride: tuple[int, ...],
        dtype: str,
        requires_grad: bool,
        parameter: bool,
    ) -> None:
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.stride = stride
        self.dtype = dtype
        self.requires_grad = requires_grad
        self.parameter = parameter


class _Namespace(dict[object, object]):
    """An ``argparse.Namespace``'s attributes."""


class _OrderedDict(dict[object, object]):
    """A ``collections.OrderedDict``: a ``state_dict()`` is one, with its ``_metadata`` attribute (module
    versions) set by BUILD."""


class _Mark:
    """The stack's content below a MARK."""

    __slots__ = ("below",)

    def __init__(self, below: list[object]) -> None:
        self.below = below


_KEY_TYPES = (str, int, float, bytes, type(None))


def _is_key(value: object) -> bool:
    """A value that can key a dict: hashing it runs no code of the file's and cannot recurse deeply."""
    return isinstance(value, _KEY_TYPES) or (
        isinstance(value, tuple) and all(isinstance(part, _KEY_TYPES) for part in value)
    )


class _Reader:
    """Interprets the pickles of one file: opcodes decoded by ``pickletools.genops``, values built here."""

    def __init__(self, name: str, data: bytes, base: int | None, *, legacy: bool) -> None:
        self.name = name
        self.data = data
        self.base = base
        self.legacy = legacy
        self.storages: dict[str, _Storage] = {}
        self.opcodes = 0
        self.position = 0
        self.stack: list[object] = []
        self.marks: list[_Mark] = []
        self.marked = 0
        self.memo: dict[object, object] = {}

    # ----------------------------------------------------------------------------------- running

    def run(self, start: int) -> tuple[object, int]:
        """The value of the pickle at ``start`` in ``data``, and where it ends."""
        import pickletools

        stream = io.BytesIO(self.data)
        stream.seek(start)
        self.stack = []
        self.marks = []
        self.marked = 0
        self.memo = {}
        handlers = self._handlers()
        try:
            for opcode, argument, position in pickletools.genops(stream):
                self.position = position if position is not None else stream.tell()
                self.opcodes += 1
                if self.opcodes > limits.MAX_PICKLE_OPCODES:
                    raise LimitError(f"{self.name}: the pickle opcode count", limits.MAX_PICKLE_OPCODES)
                if opcode.name == "STOP":
                    break
                handler = handlers.get(opcode.name)
                if handler is None:
                    raise self.error(f"uses the pickle opcode {opcode.name}, which is not read")
                handler(argument)
                if len(self.stack) + self.marked > limits.MAX_PICKLE_STACK:
                    raise LimitError(f"{self.name}: the pickle stack", limits.MAX_PICKLE_STACK)
        except (ValueError, EOFError, OverflowError, struct.error) as error:
            if isinstance(error, CheckpointError | LimitError):
                raise
            if self.legacy and stream.tell() >= len(self.data):
                raise _PickleCutShort from None
            self.position = stream.tell()
            raise self.error(f"holds a malformed pickle ({_shown(str(error), 80)})") from None
        if len(self.stack) != 1 or self.marks:
            raise self.error("holds a pickle that does not end with one value")
        return self.stack[0], stream.tell()

    def error(self, what: str) -> CheckpointError:
        offset = None if self.base is None else self.base + self.position
        return CheckpointError(f"{self.name}: {what}", FORMAT, offset)

    def _handlers(self) -> dict[str, Callable[[object], None]]:
        push = self.push
        return {
            **dict.fromkeys(("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"), self._number),
            **dict.fromkeys(("FLOAT", "BINFLOAT"), self._number),
            **dict.fromkeys(("STRING", "BINSTRING", "SHORT_BINSTRING"), self._text),
            **dict.fromkeys(("UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"), self._text),
            **dict.fromkeys(("BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"), self._bytes),
            "NONE": lambda _: push(None),
            "NEWTRUE": lambda _: push(True),
            "NEWFALSE": lambda _: push(False),
            "EMPTY_LIST": lambda _: push([]),
            "EMPTY_TUPLE": lambda _: push(()),
            "EMPTY_DICT": lambda _: push({}),
            "LIST": lambda _: push(self._sized(self.pop_mark())),
            "TUPLE": lambda _: push(tuple(self._sized(self.pop_mark()))),
            "TUPLE1": lambda _: push((self.pop(),)),
            "TUPLE2": lambda _: push(tuple(reversed((self.pop(), self.pop())))),
            "TUPLE3": lambda _: push(tuple(reversed((self.pop(), self.pop(), self.pop())))),
            "DICT": lambda _: push(self._set_items({}, self.pop_mark())),
            "APPEND": lambda _: self._extend([self.pop()]),
            "APPENDS": lambda _: self._extend(self.pop_mark()),
            "SETITEM": lambda _: self._set_top_items(self._pair()),
            "SETITEMS": lambda _: self._set_top_items(self.pop_mark()),
            "POP": lambda _: self.pop_any(),
            "DUP": lambda _: push(self.top()),
            "MARK": self._mark,
            "POP_MARK": lambda _: self.pop_mark(),
            **dict.fromkeys(("GET", "BINGET", "LONG_BINGET"), self._get),
            **dict.fromkeys(("PUT", "BINPUT", "LONG_BINPUT"), self._put),
            "MEMOIZE": lambda _: self._put(len(self.memo)),
            "GLOBAL": self._global,
            "STACK_GLOBAL": self._stack_global,
            "REDUCE": self._reduce,
            "NEWOBJ": self._new_object,
            "BUILD": self._build,
            "BINPERSID": self._persistent_id,
            "PROTO": self._protocol,
            "FRAME": lambda _: None,
        }

    # ------------------------------------------------------------------------------------- stack

    def push(self, value: object) -> None:
        self.stack.append(value)

    def pop(self) -> object:
        if not self.stack:
            raise self.error("holds a malformed pickle (it pops an empty stack)")
        return self.stack.pop()

    def pop_any(self) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def top(self) -> object:
        if not self.stack:
            raise self.error("holds a malformed pickle (it reads an empty stack)")
        return self.stack[-1]

    def _mark(self, _: object) -> None:
        if len(self.marks) >= limits.MAX_PICKLE_DEPTH:
            raise LimitError(f"{self.name}: the pickle's mark nesting", limits.MAX_PICKLE_DEPTH)
        self.marks.append(_Mark(self.stack))
        self.marked += len(self.stack)
        self.stack = []

    def pop_mark(self) -> list[object]:
        if not self.marks:
            raise self.error("holds a malformed pickle (it pops a mark that was not set)")
        items = self.stack
        self.stack = self.marks.pop().below
        self.marked -= len(self.stack)
        return items

    def _pair(self) -> list[object]:
        value = self.pop()
        return [self.pop(), value]

    # ------------------------------------------------------------------------------------ values

    def _number(self, argument: object) -> None:
        self.push(argument)

    def _text(self, argument: object) -> None:
        if isinstance(argument, bytes | str) and len(argument) > limits.MAX_PICKLE_STRING_BYTES:
            raise LimitError(f"{self.name}: a pickled string", limits.MAX_PICKLE_STRING_BYTES, len(argument))
        self.push(argument)

    def _bytes(self, argument: object) -> None:
        self._text(bytes(argument) if isinstance(argument, bytearray) else argument)

    def _sized(self, items: list[object]) -> list[object]:
        self._check_size(len(items))
        return items

    def _check_size(self, count: int) -> None:
        if count > limits.MAX_PICKLE_CONTAINER_ITEMS:
            raise LimitError(f"{self.name}: a pickled container", limits.MAX_PICKLE_CONTAINER_ITEMS, count)

    def _extend(self, items: list[object]) -> None:
        target = self.top()
        if not isinstance(target, list):
            raise self.error(f"appends to {_described(target)}")
        target.extend(items)
        self._check_size(len(target))

    def _set_top_items(self, items: list[object]) -> None:
        self._set_items(self.top(), items)

    def _set_items(self, target: object, items: list[object]) -> dict[object, object]:
        if not isinstance(target, dict):
            raise self.error(f"sets items of {_described(target)}")
        if len(items) % 2:
            raise self.error("holds a malformed pickle (an odd number of dict items)")
        for index in range(0, len(items), 2):
            key = items[index]
            if not _is_key(key):
                raise self.error(f"uses {_described(key)} as a dict key")
            target[key] = items[index + 1]
        self._check_size(len(target))
        return target

    def _get(self, argument: object) -> None:
        if argument not in self.memo:
            raise self.error(f"reads the pickle memo entry {_shown(repr(argument))}, which was never stored")
        self.push(self.memo[argument])

    def _put(self, argument: object) -> None:
        if not isinstance(argument, int):
            raise self.error("holds a malformed pickle (a memo index that is not an integer)")
        if argument not in self.memo and len(self.memo) >= limits.MAX_PICKLE_MEMO:
            raise LimitError(f"{self.name}: the pickle memo", limits.MAX_PICKLE_MEMO)
        self.memo[argument] = self.top()

    def _protocol(self, argument: object) -> None:
        if not isinstance(argument, int) or argument > 5:
            raise self.error(f"uses pickle protocol {_shown(repr(argument))}; protocols 0 to 5 are read")

    # ----------------------------------------------------------------------------------- globals

    def _global(self, argument: object) -> None:
        module, _, attribute = str(argument).partition(" ")
        self._push_global(f"{module}.{attribute}")

    def _stack_global(self, _: object) -> None:
        attribute, module = self.pop(), self.pop()
        if not (isinstance(module, str) and isinstance(attribute, str)):
            raise self.error("holds a malformed pickle (STACK_GLOBAL of non-strings)")
        self._push_global(f"{module}.{attribute}")

    def _push_global(self, qualified: str) -> None:
        if not (
            qualified in _CALLABLES
            or qualified in _STORAGE_TYPES
            or qualified in _DTYPE_GLOBALS
            or qualified in _TENSOR_TYPES
            or qualified == "argparse.Namespace"
        ):
            raise self.error(f"refuses the global {_shown(qualified, 60)!r} (only tensor-rebuild records are read)")
        self.push(_Global(qualified))

    def _reduce(self, _: object) -> None:
        arguments = self.pop()
        function = self.pop()
        if not isinstance(function, _Global) or function.qualified not in _CALLABLES:
            raise self.error(f"calls {_described(function)}, which is not read")
        if not isinstance(arguments, tuple):
            raise self.error(f"calls {function.qualified!r} with a {type(arguments).__name__} of arguments")
        self.push(_CALLABLES[function.qualified](self, arguments))

    def _new_object(self, _: object) -> None:
        arguments = self.pop()
        cls = self.pop()
        if not (isinstance(cls, _Global) and cls.qualified == "argparse.Namespace" and arguments == ()):
            raise self.error(f"creates {_described(cls)}, which is not read")
        self.push(_Namespace())

    def _build(self, _: object) -> None:
        state = self.pop()
        target = self.top()
        if isinstance(target, _Namespace) and isinstance(state, dict):
            self._set_items(target, [part for item in state.items() for part in item])
        elif not (isinstance(target, _OrderedDict) and isinstance(state, dict)):
            raise self.error(f"sets the state of {_described(target)}, which is not read")
        # An OrderedDict's attributes are not its items: they are left out.

    def _persistent_id(self, _: object) -> None:
        record = self.pop()
        size = 6 if self.legacy else 5
        if not (isinstance(record, tuple) and len(record) == size and record[0] == "storage"):
            raise self.error("holds a persistent id that is not a storage record")
        _, kind, key, location, numel, *view = record
        if view and view[0] is not None:
            raise self.error("holds a storage view (torch < 0.4), which is not read")
        if not (isinstance(kind, _Global) and kind.qualified in _STORAGE_TYPES):
            raise self.error(f"holds a storage of type {_described(kind)}, which is not read")
        if not (isinstance(key, str) and isinstance(location, str) and _is_size(numel)):
            raise self.error("holds a malformed storage record")
        dtype = _STORAGE_TYPES[kind.qualified]
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(key, dtype, numel, location)
        elif (storage.dtype, storage.numel) != (dtype, numel):
            raise self.error(f"declares storage {_shown(key)!r} twice, with different types or sizes")
        self.push(storage)

    # ----------------------------------------------------------------------------------- tensors

    def rebuild_tensor(self, arguments: tuple[object, ...], dtype: str | None) -> _Tensor:
        storage, offset, shape, stride, requires_grad, hooks = arguments[:6]
        metadata = arguments[6] if len(arguments) > 6 else None
        if not isinstance(storage, _Storage):
            raise self.error("rebuilds a tensor from something that is not a storage")
        if not (
            _is_size(offset)
            and isinstance(shape, tuple)
            and isinstance(stride, tuple)
            and len(shape) == len(stride)
            and all(_is_size(dim) for dim in shape)
            and all(_is_size(step) for step in stride)
            and isinstance(requires_grad, bool)
            and isinstance(hooks, dict)
            and (metadata is None or isinstance(metadata, dict))
        ):
            raise self.error("rebuilds a tensor from malformed arguments")
        dtype = storage.dtype if dtype is None else dtype
        numel = 1
        for dim in shape:
            numel *= dim  # type: ignore[operator]
            if numel > _MAX_SIZE:
                raise self.error(f"holds a tensor of shape {_shown(repr(shape))}, over 2**63 - 1 elements")
        tensor = _Tensor(storage, offset, shape, stride, dtype, requires_grad, parameter=False)  # type: ignore[arg-type]
        end = _extent(tensor) * _ITEMSIZE[dtype]
        if end > storage.nbytes:
            raise self.error(
                f"holds a tensor that reaches byte {end:,} of storage {_shown(storage.key)!r}, which holds"
                f" {storage.nbytes:,} bytes"
            )
        return tensor


def _rebuild_tensor_v2(reader: _Reader, arguments: tuple[object, ...]) -> _Tensor:
    if len(arguments) not in (6, 7):
        raise reader.error("rebuilds a tensor from malformed arguments")
    return reader.rebuild_tensor(arguments, None)


def _rebuild_tensor_v3(reader: _Reader, arguments: tuple[object, ...]) -> _Tensor:
    if len(arguments) not in (7, 8):
        raise reader.error("rebuilds a tensor from malformed arguments")
    dtype = arguments[6]
    if not (isinstance(dtype, _Global) and dtype.qualified in _DTYPE_GLOBALS):
        raise reader.error(f"rebuilds a tensor of dtype {_described(dtype)}, which is not read")
    return reader.rebuild_tensor((*arguments[:6], *arguments[7:]), _DTYPE_GLOBALS[dtype.qualified])


def _rebuild_parameter(reader: _Reader, arguments: tuple[object, ...]) -> _Tensor:
    if not (
        len(arguments) in (3, 4)
        and isinstance(arguments[0], _Tensor)
        and isinstance(arguments[1], bool)
        and isinstance(arguments[2], dict)
    ):
        raise reader.error("rebuilds a parameter from malformed arguments")
    data = arguments[0]
    return _Tensor(data.storage, data.offset, data.shape, data.stride, data.dtype, arguments[1], parameter=True)


def _rebuild_from_type(reader: _Reader, arguments: tuple[object, ...]) -> _Tensor:
    if len(arguments) != 4:
        raise reader.error("rebuilds a tensor subclass from malformed arguments")
    function, kind, inner, _ = arguments
    if not (isinstance(kind, _Global) and kind.qualified in _TENSOR_TYPES):
        raise reader.error(f"rebuilds a tensor of type {_described(kind)}, which is not read")
    if not (isinstance(function, _Global) and function.qualified in _TENSOR_REBUILDS and isinstance(inner, tuple)):
        raise reader.error("rebuilds a tensor subclass from malformed arguments")
    tensor = _TENSOR_REBUILDS[function.qualified](reader, inner)
    if _TENSOR_TYPES[kind.qualified] and not tensor.parameter:
        tensor = _Tensor(tensor.storage, tensor.offset, tensor.shape, tensor.stride, tensor.dtype, tensor.requires_grad, parameter=True)
    return tensor


def _ordered_dict(reader: _Reader, arguments: tuple[object, ...]) -> _OrderedDict:
    if arguments:
        raise reader.error("calls 'collections.OrderedDict' with arguments, which is not read")
    return _OrderedDict()


def _size(reader: _Reader, arguments: tuple[object, ...]) -> tuple[object, ...]:
    if not (len(arguments) == 1 and isinstance(arguments[0], tuple) and all(_is_size(dim) for dim in arguments[0])):
        raise reader.error("calls 'torch.Size' with malformed arguments")
    return arguments[0]


def _device(reader: _Reader, arguments: tuple[object, ...]) -> str:
    if len(arguments) == 1 and isinstance(arguments[0], str):
        return arguments[0]
    if len(arguments) == 2 and isinstance(arguments[0], str) and _is_size(arguments[1]):
        return f"{arguments[0]}:{arguments[1]}"
    raise reader.error("calls 'torch.device' with malformed arguments")


def _encode(reader: _Reader, arguments: tuple[object, ...]) -> bytes:
    if not (len(arguments) == 2 and isinstance(arguments[0], str) and arguments[1] in ("latin1", "latin-1")):
        raise reader.error("calls '_codecs.encode' other than as pickle writes bytes (text, 'latin1')")
    try:
        return arguments[0].encode("latin-1")
    except UnicodeEncodeError:
        raise reader.error("calls '_codecs.encode' on text that is not latin-1") from None


def _empty_bytes(reader: _Reader, arguments: tuple[object, ...]) -> bytes:
    if arguments:
        raise reader.error("calls 'builtins.bytes' with arguments, which is not read")
    return b""


_TENSOR_REBUILDS: dict[str, Callable[[_Reader, tuple[object, ...]], _Tensor]] = {
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
}

_CALLABLES: dict[str, Callable[[_Reader, tuple[object, ...]], object]] = {
    **_TENSOR_REBUILDS,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type,
    "collections.OrderedDict": _ordered_dict,
    "torch.Size": _size,
    "torch.device": _device,
    "_codecs.encode": _encode,
    "builtins.bytes": _empty_bytes,
    "__builtin__.bytes": _empty_bytes,  # as protocol 2 names it (pickle's fix_imports)
}
"""The globals REDUCE may call, each read by a function of ours that builds a plain value."""


# --------------------------------------------------------------------------------- names and sections

_MODEL_KEYS = frozenset(("state_dict", "model", "model_state_dict", "module"))
_OPTIMIZER_KEYS = frozenset(("optimizer", "optimizer_states", "optimizer_state_dict"))


def _result(layout: str, value: object, reader: _Reader, name: str) -> TorchFile:
    found: list[tuple[list[str], _Tensor]] = []
    _Walk(name, found).visit(value, [], 0)
    wrapped = isinstance(value, dict) and any(
        key in _MODEL_KEYS | _OPTIMIZER_KEYS and isinstance(item, dict | list | tuple) for key, item in value.items()
    )
    tensors = []
    for path, tensor in found:
        section, local = "model", path
        if wrapped:
            section = "model" if path[0] in _MODEL_KEYS else "optimizer" if path[0] in _OPTIMIZER_KEYS else "other"
            local = path[1:] if section != "other" else path
        tensors.append(
            TorchTensor(
                name=".".join(path),
                section=section,
                name_in_section=".".join(local),
                shape=tensor.shape,
                stride=tensor.stride,
                dtype=tensor.dtype,
                storage=tensor.storage.key,
                storage_offset=tensor.offset,
                nbytes=_numel(tensor.shape) * _ITEMSIZE[tensor.dtype],
                requires_grad=tensor.requires_grad,
                parameter=tensor.parameter,
            )
        )
    storages = tuple(
        TorchStorage(storage.key, storage.dtype, storage.nbytes, storage.location)
        for storage in reader.storages.values()
    )
    return TorchFile(layout, tuple(tensors), storages)


class _Walk:
    """Finds the tensors in the built value, with their paths; bounded in depth and in values visited (a
    value shared through the memo is visited once per path that reaches it)."""

    def __init__(self, name: str, found: list[tuple[list[str], _Tensor]]) -> None:
        self.name = name
        self.found = found
        self.visited = 0

    def visit(self, value: object, path: list[str], depth: int) -> None:
        self.visited += 1
        if self.visited > limits.MAX_PICKLE_VALUES:
            raise LimitError(f"{self.name}: the values walked in the pickle", limits.MAX_PICKLE_VALUES)
        if depth > limits.MAX_PICKLE_DEPTH:
            raise LimitError(f"{self.name}: the nesting of the saved object", limits.MAX_PICKLE_DEPTH, depth)
        if isinstance(value, _Tensor):
            self.found.append((path, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                self.visit(item, [*path, key if isinstance(key, str) else repr(key)], depth + 1)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                self.visit(item, [*path, str(index)], depth + 1)


# ---------------------------------------------------------------------------------------------- helpers


def _is_size(value: object) -> bool:
    """A non-negative int that a torch size, stride or offset can hold (bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_SIZE


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _extent(tensor: _Tensor) -> int:
    """Elements of the storage the tensor reaches: one past its last element (its offset when empty)."""
    if 0 in tensor.shape:
        return tensor.offset
    return tensor.offset + 1 + sum((dim - 1) * step for dim, step in zip(tensor.shape, tensor.stride, strict=True))


def _described(value: object) -> str:
    if isinstance(value, _Global):
        return repr(_shown(value.qualified, 60))
    return f"a {type(value).__name__.lstrip('_').lower()} value"


def _shown(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 3] + "..."
