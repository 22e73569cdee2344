"""Bounded reading shared by every file door: JSON with size and depth caps, and binary headers read
through a reader that never goes past the end of the file, past a byte cap or past a deadline.

Whatever a header claims (a length of 2**63, 2**62 tensors, a string as long as the disk), the work done is
bounded by what is checked here before it is done: lengths are compared with the caps and with the bytes
left in the file *before* anything is allocated, so a hostile length costs nothing. Every failure is a
``CheckpointError`` (or ``LimitError`` for a cap) whose message starts with the file's name and, where the
bytes are at fault, carries their offset.
"""

from __future__ import annotations

import os
import stat
import struct
import time

from paramcount.errors import CheckpointError, ConfigError, LimitError, ParamcountError
from paramcount.limits import MAX_READ_SECONDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path
    from typing import Any, BinaryIO, Protocol, TypeVar

    _T_co = TypeVar("_T_co", covariant=True)

    class StreamReader(Protocol[_T_co]):
        """A reader of one file's stream, told the file's name (``label``) and size in bytes."""

        def __call__(self, stream: BinaryIO, *, label: str, size: int) -> _T_co: ...


__all__ = ["ByteReader", "checked_product", "open_regular", "parse_json", "read_file", "short"]

CHUNK_BYTES = 1 << 16
"""Bytes read ahead from the stream when a read needs more: headers made of many small fields are parsed from
memory, and a read of a few bytes at the start of a file does not pull in a megabyte of tensor data."""


def short(value: object) -> str:
    """``repr(value)`` cut to 40 characters, for user values inside messages."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _refuse_constant(source: str) -> Callable[[str], Any]:
    def refuse(name: str) -> Any:
        raise ConfigError(f"{source}: {name} is not valid JSON; use a number")

    return refuse


def _depth(value: object, limit: int) -> int:
    """The nesting depth of parsed JSON (a scalar inside an object is one level deeper), stopping at the first
    level beyond ``limit``. Only containers go on the stack: a header of a million numbers stays cheap."""
    stack: list[tuple[dict[str, object] | list[object], int]] = []
    if isinstance(value, dict | list):
        stack.append((value, 1))
    deepest = 1
    while stack:
        item, depth = stack.pop()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return depth + 1
                stack.append((child, depth + 1))
            elif depth + 1 > deepest:
                deepest = depth + 1
        deepest = max(deepest, depth)
    return deepest


def _unique_object(source: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """An ``object_pairs_hook`` that refuses a key written twice (``json`` would keep the last silently)."""

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) != len(pairs):
            seen: set[str] = set()
            duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
            raise ConfigError(f"{source}: key {short(duplicate)} appears more than once")
        return found

    return build


def parse_json(
    text: str | bytes,
    *,
    source: str,
    max_bytes: int,
    max_depth: int | None,
    unique_keys: bool = False,
    fail: Callable[[str], ParamcountError] = ConfigError,
) -> dict[str, Any]:
    """Parse a JSON object safely: at most ``max_bytes``, ``NaN``/``Infinity`` refused, nesting at most
    ``max_depth`` levels, and (``unique_keys``) no key written twice in one object.

    Args:
        text: the JSON text (bytes are decoded as UTF-8 by ``json``).
        source: the name used at the start of every message (``config.json``, ``model.safetensors``).
        max_bytes: the size cap; a longer text raises ``LimitError``.
        max_depth: the nesting cap; None when the caller checks the structure of every value itself (deeper
            nesting than Python's recursion limit is refused either way).
        unique_keys: refuse duplicate keys (a format whose reference reader would silently keep one).
        fail: builds the error for a malformed text (``ConfigError`` for configs, a ``CheckpointError``
            factory for checkpoint headers).

    Raises:
        LimitError: the text is longer than ``max_bytes``.
        ParamcountError: whatever ``fail`` builds, for text that is not a JSON object within the caps.
    """
    if len(text) > max_bytes:
        raise LimitError(source, max_bytes, len(text), unit="bytes")
    import json

    try:
        data = json.loads(
            text,
            parse_constant=_refuse_constant(source),
            object_pairs_hook=_unique_object(source) if unique_keys else None,
        )
    except RecursionError:
        raise fail(
            f"{source}: nested too deeply"
            if max_depth is None
            else f"{source}: nested more than {max_depth} levels deep"
        ) from None
    except ConfigError as error:
        raise fail(error.message) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise fail(f"{source}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise fail(f"{source}: the top level must be a JSON object, got {type(data).__name__}")
    if max_depth is not None and _depth(data, max_depth) > max_depth:
        raise fail(f"{source}: nested more than {max_depth} levels deep")
    return data


def checked_product(sizes: Iterable[int], limit: int, fail: Callable[[str], ParamcountError], what: str) -> int:
    """The product of ``sizes``, refused as soon as a partial product exceeds ``limit`` (no huge ints are built
    from hostile shapes: each factor is at most ``limit`` too)."""
    product = 1
    for size in sizes:
        if size > limit:
            raise fail(f"{what} has a dimension of {size:,}; the limit is {limit:,} elements")
        product *= size
        if product > limit:
            raise fail(f"{what} has more than {limit:,} elements")
    return product


def open_regular(path: Path, label: str, format: str) -> tuple[BinaryIO, int]:
    """Open ``path`` for reading and return it with its size; anything but a regular file (a FIFO that would
    block, a device that never ends) is refused before a byte is read. The file is opened without blocking
    (opening a FIFO with no writer would wait forever) and checked on the open descriptor, so it cannot be
    swapped between the check and the read. A file that cannot be opened is a ``CheckpointError`` (``<label>:
    cannot be read (No such file or directory)``), as a config that cannot be is a ``ConfigError``: the input's
    fault, one line, and a ``--batch`` goes on."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise CheckpointError(f"{label}: cannot be read ({error.strerror or error})", format) from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise CheckpointError(f"{label}: not a regular file", format)
    if hasattr(os, "set_blocking"):
        os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb"), status.st_size


def read_file(path: str | os.PathLike[str], format: str, read: StreamReader[_T_co]) -> _T_co:
    """What ``read`` makes of the regular file ``path`` (opened by ``open_regular``), labelled by its name; the file
    is closed after."""
    from pathlib import Path

    path = Path(path)
    stream, size = open_regular(path, path.name, format)
    with stream:
        return read(stream, label=path.name, size=size)


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I32 = struct.Struct("<i")


class ByteReader:
    """A binary stream read front to back through a buffer, with three bounds: the end of the
    file (``size``, when known: asking for bytes past it fails at once, before any read), the bytes read
    (``limit``) and a deadline. ``skip`` moves past data without reading it (seeking when it can).

    Works on a file, on ``io.BytesIO`` and on the first bytes of an upload alike."""

    def __init__(
        self, stream: BinaryIO, *, label: str, format: str, size: int | None, limit: int, what: str = "header"
    ) -> None:
        self.stream = stream
        self.label = label
        self.format = format
        self.size = size
        self.limit = limit
        self.what = what
        self.position = 0
        self.consumed = 0
        """Bytes read so far (skipped bytes excluded): what ``limit`` caps."""
        self._buffer = b""
        self._start = 0  # file offset of self._buffer[0]
        self._deadline = time.monotonic() + MAX_READ_SECONDS

    def fail(self, message: str, offset: int | None = None) -> CheckpointError:
        """A ``CheckpointError`` for this file: ``<label>: <message>``, at ``offset`` (default: here)."""
        return CheckpointError(f"{self.label}: {message}", self.format, self.position if offset is None else offset)

    def check_time(self) -> None:
        if time.monotonic() > self._deadline:
            raise LimitError(f"{self.label}: reading the {self.what}", MAX_READ_SECONDS, unit="seconds")

    def _truncated(self, count: int, what: str, end: int) -> CheckpointError:
        return self.fail(
            f"truncated: {what} needs {count:,} bytes at offset {self.position:,} but the file ends at byte {end:,}"
        )

    def take(self, count: int, what: str) -> bytes:
        """Exactly ``count`` bytes, or ``CheckpointError`` (the file ends first) / ``LimitError`` (the cap);
        both are checked before anything is read or allocated."""
        if self.size is not None and self.position + count > self.size:
            raise self._truncated(count, what, self.size)
        if self.consumed + count > self.limit:
            raise LimitError(f"{self.label}: the {self.what}", self.limit, self.consumed + count, unit="bytes")
        offset = self.position - self._start
        if offset + count > len(self._buffer):
            self._refill(count, what)
            offset = 0
        self.position += count
        self.consumed += count
        return self._buffer[offset : offset + count]

    def _refill(self, count: int, what: str) -> None:
        self.check_time()
        kept = self._buffer[self.position - self._start :]
        wanted = max(count - len(kept), CHUNK_BYTES)
        if self.size is not None:
            wanted = min(wanted, self.size - self.position - len(kept))
        chunk = self.stream.read(max(wanted, 0))
        self._buffer, self._start = kept + chunk, self.position
        if len(self._buffer) < count:  # a stream shorter than its stated size, or a prefix of unknown size
            raise self._truncated(count, what, self.position + len(self._buffer))

    def skip(self, count: int, what: str) -> None:
        """Move past ``count`` bytes without reading them (tensor payloads): they count against the end of
        the file, not against the header cap."""
        if self.size is not None and self.position + count > self.size:
            raise self._truncated(count, what, self.size)
        self.position += count
        if self.position - self._start > len(self._buffer):
            self.stream.seek(self.position)
            self._buffer, self._start = b"", self.position

    def u32(self, what: str) -> int:
        value: int = _U32.unpack(self.take(4, what))[0]
        return value

    def i32(self, what: str) -> int:
        value: int = _I32.unpack(self.take(4, what))[0]
        return value

    def u64(self, what: str) -> int:
        value: int = _U64.unpack(self.take(8, what))[0]
        return value
