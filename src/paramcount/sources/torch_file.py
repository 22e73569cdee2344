"""PyTorch checkpoint files (``.pt``/``.pth``/``.bin``/``.ckpt``), read header-only and never unpickled.

``torch.save`` writes a pickle whose tensors refer to storages by persistent id. This module reads that
pickle with an interpreter of its own (``_torch_pickle``): ``pickletools.genops`` decodes the opcodes,
and the interpreter builds plain values (dict, list, tuple, str, bytes, int, float, bool, None) and recognises only the
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
  value. Our own function checks the two arguments and builds the bytes; neither global is ever called, and
  refusing them would refuse every checkpoint that holds a bytes value (torch's restricted ``weights_only``
  unpickler accepts them too; paramcount never calls ``torch.load`` or ``pickle`` on a file).
- ``argparse.Namespace`` (how older Lightning versions stored hyper-parameters): read as the dict of its
  attributes, without creating one. Refusing it would refuse those checkpoints for their hyper-parameters
  alone; a dict of plain values is all it holds.

Sections: a checkpoint that is a dict with one of the wrapper keys below is split by its top-level keys
(``state_dict``, ``model``, ``model_state_dict``, ``module`` → "model"; ``optimizer``,
``optimizer_states``, ``optimizer_state_dict`` → "optimizer"; every other key → "other": EMA copies,
schedulers, callbacks). An optimizer's own ``state_dict()`` saved alone (keys ``state`` and ``param_groups``)
is "optimizer" throughout. Any other checkpoint is a bare state dict: all its tensors are "model".
"""

from __future__ import annotations

import io
import os
import struct

from paramcount._record import Record, field_values
from paramcount.errors import CheckpointError, LimitError
from paramcount.limits import (
    MAX_PICKLE_BYTES,
    MAX_PICKLE_DEPTH,
    MAX_PICKLE_VALUES,
    MAX_ZIP_COMPRESSION_RATIO,
    MAX_ZIP_DIRECTORY_BYTES,
    MAX_ZIP_ENTRIES,
)
from paramcount.sources._bounded import open_regular, read_file
from paramcount.sources._shards import check_shard, read_index
from paramcount.sources._torch_pickle import (
    FORMAT,
    ITEMSIZE,
    PickleCutShort,
    PickleReader,
    Tensor,
    TorchStorage,
    shown,
)
from paramcount.sources.checkpoint import Checkpoint, StoredBlock, TensorEntry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import BinaryIO, Final
    from zipfile import ZipFile, ZipInfo

    from paramcount.sources.checkpoint import Section

__all__ = [
    "INDEX_SUFFIX",
    "TorchFile",
    "TorchStorage",
    "TorchTensor",
    "read_torch",
    "read_torch_file",
    "read_torch_index",
    "read_torch_stream",
]

INDEX_SUFFIX = ".bin.index.json"
"""The index of a checkpoint ``save_pretrained(safe_serialization=False)`` shards: ``pytorch_model.bin.index.json``."""


class TorchTensor(Tensor):
    """One tensor found in the saved object: the pickle's record of it, and where it was found."""

    name: str
    """Dotted path inside the saved object (``state_dict.model.layers.0.weight``; ``""`` for a tensor saved
    on its own)."""
    section: str
    """``"model"``, ``"optimizer"`` or ``"other"`` (see the module docstring)."""
    name_in_section: str
    """The name without its wrapper key (``model.layers.0.weight``); the whole name in a bare state dict."""


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


def read_torch(path: str | os.PathLike[str]) -> Checkpoint:
    """A ``torch.save`` file as the checkpoint door's ``Checkpoint`` (see ``entries_of``).

    Raises:
        CheckpointError: a malformed or hostile file, or one that is not a regular file.
        LimitError: a cap exceeded.
        CheckpointError: also a file that cannot be opened (``<file>: cannot be read (…)``).
    """

    def read(stream: BinaryIO, *, label: str, size: int) -> Checkpoint:
        found = read_torch_stream(stream, label)
        return Checkpoint(FORMAT, entries_of(found), _facts((found,), size))

    return read_file(path, FORMAT, read)


def read_torch_index(path: str | os.PathLike[str]) -> Checkpoint:
    """A sharded ``pytorch_model.bin.index.json`` and every shard it names (checked as safetensors shards are:
    plain names in the index's folder, each holding exactly the tensors the index places in it).

    Raises:
        CheckpointError, LimitError: as ``read_torch``, and for a malformed index.
        CheckpointError: also a file that cannot be opened (``<file>: cannot be read (…)``).
    """
    from pathlib import Path

    index = read_index(Path(path), FORMAT)
    entries: list[TensorEntry] = []
    files: list[TorchFile] = []
    size = 0
    for shard, shard_path in index.paths.items():
        stream, shard_size = open_regular(shard_path, shard, FORMAT)
        with stream:
            found = read_torch_stream(stream, shard)
        shard_entries = entries_of(found, f"{shard}:")
        check_shard(index, shard, (entry.name for entry in shard_entries if entry.section == "model"), FORMAT)
        entries.extend(shard_entries)
        files.append(found)
        size += shard_size
    return Checkpoint(FORMAT, tuple(entries), _facts(files, size))


def entries_of(found: TorchFile, storage_prefix: str = "") -> tuple[TensorEntry, ...]:
    """The tensors as ``TensorEntry`` records: a model tensor by its name inside its section
    (``model.layers.0.weight`` of ``state_dict.model.layers.0.weight``), any other by its whole name; two
    entries share ``storage`` only when they are the same data (same storage, offset, shape and strides: a
    tie, not merely a view into the same storage); each names its storage as its ``block``, which the file holds
    whole, once. ``storage_prefix`` keeps the storages of shards apart."""
    storages = {storage.key: storage.nbytes for storage in found.storages}
    return tuple(
        TensorEntry(
            tensor.name_in_section if tensor.section == "model" else tensor.name,
            tensor.shape,
            tensor.dtype,
            tensor.nbytes,
            f"{storage_prefix}{tensor.storage}@{tensor.storage_offset}:{tensor.shape}:{tensor.stride}",
            _SECTIONS[tensor.section],
            block=StoredBlock(
                f"{storage_prefix}{tensor.storage}",
                storages[tensor.storage] // ITEMSIZE[tensor.dtype],
                storages[tensor.storage],
            ),
        )
        for tensor in found.tensors
    )


_SECTIONS: Final[dict[str, Section]] = {"model": "model", "optimizer": "optimizer", "other": "other"}
"""``TorchTensor.section`` as ``TensorEntry.section``'s literal type."""


def _facts(files: Iterable[TorchFile], size: int) -> tuple[tuple[str, str | int], ...]:
    found = list(files)
    layouts = sorted({file.format for file in found})
    return (
        ("format", FORMAT),
        ("layout", ", ".join(layouts)),
        ("files", len(found)),
        ("file_bytes", size),
        ("storage_bytes", sum(storage.nbytes for file in found for storage in file.storages)),
    )


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
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error, NotImplementedError) as error:
        raise CheckpointError(f"{name}: is a damaged zip archive ({shown(str(error), 80)})", FORMAT) from None
    with archive:
        entries = _zip_entries(archive, size, name)
        first = archive.infolist()[0].filename
        prefix = first.split("/", 1)[0]
        if f"{prefix}/constants.pkl" in entries:
            raise CheckpointError(
                f"{name}: is a TorchScript archive (torch.jit.save), which is not read; save the model's"
                " state_dict() with torch.save",
                FORMAT,
            )
        pickle_entry = entries.get(f"{prefix}/data.pkl")
        if pickle_entry is None:
            raise CheckpointError(f"{name}: is a zip archive without {prefix + '/data.pkl'!r}", FORMAT)
        data, base = _read_zip_pickle(archive, pickle_entry, stream, name)
    reader = PickleReader(name, data, base, legacy=False)
    value, _ = reader.run(0)
    for storage in reader.storages.values():
        record = entries.get(f"{prefix}/data/{storage.key}")
        if record is None:
            raise CheckpointError(f"{name}: storage {shown(storage.key)!r} has no record in the archive", FORMAT)
        if record.file_size < storage.nbytes:
            raise CheckpointError(
                f"{name}: storage {shown(storage.key)!r} declares {storage.nbytes:,} bytes but its record"
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
    if entries > MAX_ZIP_ENTRIES:
        raise LimitError(f"{name}: the zip entry count", MAX_ZIP_ENTRIES, entries)
    if directory_bytes > MAX_ZIP_DIRECTORY_BYTES:
        raise LimitError(f"{name}: the zip directory", MAX_ZIP_DIRECTORY_BYTES, directory_bytes, unit="bytes")
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
    if len(infos) > MAX_ZIP_ENTRIES:
        raise LimitError(f"{name}: the zip entry count", MAX_ZIP_ENTRIES, len(infos))
    for info in infos:
        if info.filename in entries:
            # Two readers could pick different copies: a scanner one, the loader the other.
            raise CheckpointError(f"{name}: holds two zip entries named {shown(info.filename)!r}", FORMAT)
        if info.header_offset + _LOCAL_HEADER.size + info.compress_size > size:
            raise CheckpointError(
                f"{name}: zip entry {shown(info.filename)!r} reaches beyond the file's {size:,} bytes",
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
    if info.file_size > MAX_PICKLE_BYTES:
        raise LimitError(f"{name}: {where}", MAX_PICKLE_BYTES, info.file_size, unit="bytes")
    if info.compress_type == zipfile.ZIP_DEFLATED:
        ratio = info.file_size // max(info.compress_size, 1)
        if ratio > MAX_ZIP_COMPRESSION_RATIO:
            raise LimitError(f"{name}: {where}'s compression ratio", MAX_ZIP_COMPRESSION_RATIO, ratio)
    try:
        with archive.open(info) as member:
            data = member.read(info.file_size)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error, NotImplementedError) as error:
        raise CheckpointError(f"{name}: {where!r} cannot be read ({shown(str(error), 80)})", FORMAT) from None
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
        reader = PickleReader(name, stream.read(window), 0, legacy=True)
        try:
            return _read_legacy_pickles(reader, stream, size, name)
        except PickleCutShort:
            if window >= min(size, MAX_PICKLE_BYTES):
                if window < size:
                    raise LimitError(f"{name}: the size of its pickles", MAX_PICKLE_BYTES, unit="bytes") from None
                raise CheckpointError(f"{name}: ends inside its pickles (truncated?)", FORMAT, size) from None
            window = min(2 * window, size, MAX_PICKLE_BYTES)


def _read_legacy_pickles(reader: PickleReader, stream: BinaryIO, size: int, name: str) -> TorchFile:
    magic, end = reader.run(0)
    if type(magic) is not int or magic != _LEGACY_MAGIC:
        raise CheckpointError(f"{name}: is a pickle without torch's magic number, not a PyTorch checkpoint", FORMAT, 0)
    protocol, end = reader.run(end)
    if protocol != _LEGACY_PROTOCOL:
        raise CheckpointError(f"{name}: declares protocol version {shown(repr(protocol))}, not 1001", FORMAT, end)
    system, end = reader.run(end)
    little_endian = isinstance(system, dict) and system.get("little_endian", True) is not False
    value, end = reader.run(end)
    keys, end = reader.run(end)
    if not (isinstance(keys, list) and all(isinstance(key, str) for key in keys)):
        raise CheckpointError(f"{name}: its storage keys are not a list of strings", FORMAT, end)
    if sorted(keys) != sorted(reader.storages):
        raise CheckpointError(f"{name}: its storage key list does not match the storages it uses", FORMAT, end)
    offset = end
    for key in keys:
        storage = reader.storages[key]
        stream.seek(offset)
        header = stream.read(8)
        if len(header) < 8:
            raise CheckpointError(f"{name}: ends before storage {shown(key)!r} (truncated?)", FORMAT, offset)
        count = int.from_bytes(header, "little" if little_endian else "big")
        if count != storage.numel:
            raise CheckpointError(
                f"{name}: storage {shown(key)!r} holds {count:,} elements; its record says {storage.numel:,}",
                FORMAT,
                offset,
            )
        offset += 8 + storage.nbytes
        if offset > size:
            raise CheckpointError(
                f"{name}: storage {shown(key)!r} ends at byte {offset:,}, beyond the file's {size:,} bytes"
                " (truncated?)",
                FORMAT,
                offset - storage.nbytes,
            )
    return _result("legacy", value, reader, name)


# --------------------------------------------------------------------------------- names and sections

_MODEL_KEYS = frozenset(("state_dict", "model", "model_state_dict", "module"))
_OPTIMIZER_KEYS = frozenset(("optimizer", "optimizer_states", "optimizer_state_dict"))
_OPTIMIZER_STATE_KEYS = frozenset(("state", "param_groups"))
"""The keys of ``torch.optim.Optimizer.state_dict()``: a file of that alone holds an optimizer's state."""


def _result(layout: str, value: object, reader: PickleReader, name: str) -> TorchFile:
    found: list[tuple[list[str], Tensor]] = []
    _Walk(name, found).visit(value, [], 0)
    wrapped = isinstance(value, dict) and any(
        key in _MODEL_KEYS | _OPTIMIZER_KEYS and isinstance(item, dict | list | tuple) for key, item in value.items()
    )
    optimizer = isinstance(value, dict) and set(value) == _OPTIMIZER_STATE_KEYS
    tensors = []
    for path, tensor in found:
        section, local = "model", path
        if optimizer:
            section = "optimizer"
        elif wrapped:
            section = "model" if path[0] in _MODEL_KEYS else "optimizer" if path[0] in _OPTIMIZER_KEYS else "other"
            local = path[1:] if section != "other" else path
        tensors.append(
            TorchTensor(**field_values(tensor), name=".".join(path), section=section, name_in_section=".".join(local))
        )
    return TorchFile(layout, tuple(tensors), tuple(reader.storages.values()))


class _Walk:
    """Finds the tensors in the built value, with their paths; bounded in depth and in values visited (a
    value shared through the memo is visited once per path that reaches it)."""

    def __init__(self, name: str, found: list[tuple[list[str], Tensor]]) -> None:
        self.name = name
        self.found = found
        self.visited = 0

    def visit(self, value: object, path: list[str], depth: int) -> None:
        self.visited += 1
        if self.visited > MAX_PICKLE_VALUES:
            raise LimitError(f"{self.name}: the number of values walked in the saved object", MAX_PICKLE_VALUES)
        if depth > MAX_PICKLE_DEPTH:
            raise LimitError(f"{self.name}: the nesting of the saved object", MAX_PICKLE_DEPTH, depth)
        if isinstance(value, Tensor):
            self.found.append((path, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                self.visit(item, [*path, key if isinstance(key, str) else repr(key)], depth + 1)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                self.visit(item, [*path, str(index)], depth + 1)
