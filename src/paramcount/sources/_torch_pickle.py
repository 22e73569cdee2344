"""The restricted pickle interpreter behind ``torch_file``: it builds plain values and tensor records from
a ``torch.save`` pickle and never imports, looks up or calls anything the pickle names.

``pickletools.genops`` decodes the opcodes (arguments included, reading only the bytes given); this module
gives each opcode its meaning, as ``pickle``'s own machine does, except that GLOBAL yields a name checked
against the whitelist in ``CALLABLES``/``STORAGE_TYPES``/``DTYPE_GLOBALS``/``TENSOR_TYPES`` (anything else is
refused with its name), REDUCE runs a function of ours chosen by that name, and BINPERSID reads torch's
storage records. Stack, memo, marks, strings and containers are capped (``paramcount.limits.MAX_PICKLE_*``).
"""

from __future__ import annotations

import io
import struct
import warnings

from paramcount._record import Record, replace
from paramcount.errors import CheckpointError, LimitError
from paramcount.limits import (
    MAX_INT_BITS,
    MAX_PICKLE_CONTAINER_ITEMS,
    MAX_PICKLE_DEPTH,
    MAX_PICKLE_MEMO,
    MAX_PICKLE_OPCODES,
    MAX_PICKLE_STACK,
    MAX_PICKLE_STRING_BYTES,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

FORMAT = "pytorch"
"""``CheckpointError.format`` of the PyTorch reader's errors."""


# ---------------------------------------------------------------------------------------------- dtypes

ITEMSIZE = {
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

STORAGE_TYPES = {
    **{f"torch.{kind}Storage": dtype for kind, dtype in _STORAGE_DTYPES.items()},
    **{f"torch.cuda.{kind}Storage": dtype for kind, dtype in _STORAGE_DTYPES.items()},
    "torch.storage.UntypedStorage": "uint8",
    "torch.UntypedStorage": "uint8",
}
"""Storage classes a persistent id may name, and the dtype its element count is in."""

MAX_SIZE = 2**MAX_INT_BITS - 1
"""Largest size, stride, offset or element count a torch tensor can hold."""

DTYPE_GLOBALS = {f"torch.{dtype}": dtype for dtype in ITEMSIZE}

TENSOR_TYPES = {"torch.Tensor": False, "torch.nn.parameter.Parameter": True}
"""Types ``_rebuild_from_type_v2`` may name, and whether they make a parameter."""

# ------------------------------------------------------------------------------------ the interpreter


class PickleCutShort(Exception):
    """A pickle ran past the bytes read so far (the legacy reader then reads more)."""


class _Global(Record):
    """A whitelisted global, as a name: nothing is imported."""

    qualified: str


class TorchStorage(Record):
    """One storage record: what the file holds on disk."""

    key: str
    dtype: str
    """The dtype its element count is in: the typed storage's, or ``"uint8"`` for an untyped storage (which
    torch writes for dtypes that have no typed storage class, such as float8 and uint16)."""
    numel: int
    location: str
    """Where it was saved from: ``"cpu"``, ``"cuda:0"`` …"""

    @property
    def nbytes(self) -> int:
        return self.numel * ITEMSIZE[self.dtype]


class Tensor(Record):
    """A tensor as the pickle rebuilds it: its view of a storage, its dtype and how it was saved."""

    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str
    """torch's dtype name without ``torch.`` (``"bfloat16"``): the tensor's own (``_rebuild_tensor_v3`` names it;
    an untyped storage holds bytes), else the storage's."""
    storage: str
    """The storage key: tensors with the same key share storage (ties, views)."""
    storage_offset: int
    """In elements of ``dtype``, from the storage's start."""
    nbytes: int
    """numel × itemsize: the tensor's own bytes (a view or an expanded tensor may need fewer on disk)."""
    requires_grad: bool
    """As saved (tensors in a ``state_dict()`` are saved detached: False)."""
    parameter: bool
    """Rebuilt as an ``nn.Parameter`` (a ``state_dict()`` holds plain tensors)."""


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


class PickleReader:
    """Interprets the pickles of one file: opcodes decoded by ``pickletools.genops``, values built here."""

    def __init__(self, name: str, data: bytes, base: int | None, *, legacy: bool) -> None:
        self.name = name
        self.data = data
        self.base = base
        self.legacy = legacy
        self.storages: dict[str, TorchStorage] = {}
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
        # genops decodes a STRING opcode as pickle does, warning (DeprecationWarning) of an invalid escape in the
        # file's text: the value is read all the same, and the file's text is no concern of the user's console.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                for opcode, argument, position in pickletools.genops(stream):
                    self.position = position if position is not None else stream.tell()
                    self.opcodes += 1
                    if self.opcodes > MAX_PICKLE_OPCODES:
                        raise LimitError(f"{self.name}: the pickle opcode count", MAX_PICKLE_OPCODES)
                    if opcode.name == "STOP":
                        break
                    handler = handlers.get(opcode.name)
                    if handler is None:
                        raise self.error(f"uses the pickle opcode {opcode.name}, which is not read")
                    handler(argument)
                    if len(self.stack) + self.marked > MAX_PICKLE_STACK:
                        raise LimitError(f"{self.name}: the pickle's stack size", MAX_PICKLE_STACK)
            except (ValueError, EOFError, OverflowError, struct.error) as error:
                if isinstance(error, CheckpointError | LimitError):
                    raise
                if self.legacy and stream.tell() >= len(self.data):
                    raise PickleCutShort from None
                self.position = stream.tell()
                raise self.error(f"holds a malformed pickle ({shown(str(error), 80)})") from None
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
            "POP_MARK": lambda _: self.pop_any_mark(),
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
        if len(self.marks) >= MAX_PICKLE_DEPTH:
            raise LimitError(f"{self.name}: the pickle's mark nesting", MAX_PICKLE_DEPTH)
        self.marks.append(_Mark(self.stack))
        self.marked += len(self.stack)
        self.stack = []

    def pop_any_mark(self) -> None:
        self.pop_mark()

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
        if isinstance(argument, bytes | str) and len(argument) > MAX_PICKLE_STRING_BYTES:
            raise LimitError(f"{self.name}: a pickled string's length", MAX_PICKLE_STRING_BYTES, len(argument))
        self.push(argument)

    def _bytes(self, argument: object) -> None:
        self._text(bytes(argument) if isinstance(argument, bytearray) else argument)

    def _sized(self, items: list[object]) -> list[object]:
        self._check_size(len(items))
        return items

    def _check_size(self, count: int) -> None:
        if count > MAX_PICKLE_CONTAINER_ITEMS:
            raise LimitError(f"{self.name}: a pickled container's item count", MAX_PICKLE_CONTAINER_ITEMS, count)

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
            raise self.error(f"reads the pickle memo entry {shown(repr(argument))}, which was never stored")
        self.push(self.memo[argument])

    def _put(self, argument: object) -> None:
        if not isinstance(argument, int):
            raise self.error("holds a malformed pickle (a memo index that is not an integer)")
        if argument not in self.memo and len(self.memo) >= MAX_PICKLE_MEMO:
            raise LimitError(f"{self.name}: the pickle's memo size", MAX_PICKLE_MEMO)
        self.memo[argument] = self.top()

    def _protocol(self, argument: object) -> None:
        if not isinstance(argument, int) or argument > 5:
            raise self.error(f"uses pickle protocol {shown(repr(argument))}; protocols 0 to 5 are read")

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
            qualified in CALLABLES
            or qualified in STORAGE_TYPES
            or qualified in DTYPE_GLOBALS
            or qualified in TENSOR_TYPES
            or qualified == "argparse.Namespace"
        ):
            raise self.error(f"refuses the global {shown(qualified, 60)!r} (only tensor-rebuild records are read)")
        self.push(_Global(qualified))

    def _reduce(self, _: object) -> None:
        arguments = self.pop()
        function = self.pop()
        if not isinstance(function, _Global) or function.qualified not in CALLABLES:
            raise self.error(f"calls {_described(function)}, which is not read")
        if not isinstance(arguments, tuple):
            raise self.error(f"calls {function.qualified!r} with a {type(arguments).__name__} of arguments")
        self.push(CALLABLES[function.qualified](self, arguments))

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
        if not (isinstance(kind, _Global) and kind.qualified in STORAGE_TYPES):
            raise self.error(f"holds a storage of type {_described(kind)}, which is not read")
        if not (isinstance(key, str) and isinstance(location, str) and _is_size(numel)):
            raise self.error("holds a malformed storage record")
        dtype = STORAGE_TYPES[kind.qualified]
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = TorchStorage(key, dtype, numel, location)
        elif (storage.dtype, storage.numel) != (dtype, numel):
            raise self.error(f"declares storage {shown(key)!r} twice, with different types or sizes")
        self.push(storage)

    # ----------------------------------------------------------------------------------- tensors

    def rebuild_tensor(self, arguments: tuple[object, ...], dtype: str | None) -> Tensor:
        storage, offset, shape_value, stride_value, requires_grad, hooks = arguments[:6]
        metadata = arguments[6] if len(arguments) > 6 else None
        if not isinstance(storage, TorchStorage):
            raise self.error("rebuilds a tensor from something that is not a storage")
        shape, stride = _sizes(shape_value), _sizes(stride_value)
        if not (
            isinstance(offset, int)
            and _is_size(offset)
            and shape is not None
            and stride is not None
            and len(shape) == len(stride)
            and isinstance(requires_grad, bool)
            and isinstance(hooks, dict)
            and (metadata is None or isinstance(metadata, dict))
        ):
            raise self.error("rebuilds a tensor from malformed arguments")
        dtype = storage.dtype if dtype is None else dtype
        numel = 1
        for dim in shape:
            numel *= dim
            if numel > MAX_SIZE:
                raise self.error(f"holds a tensor of shape {shown(repr(shape))}, over 2**63 - 1 elements")
        tensor = Tensor(
            shape, stride, dtype, storage.key, offset, numel * ITEMSIZE[dtype], requires_grad, parameter=False
        )
        end = _extent(tensor) * ITEMSIZE[dtype]
        if end > storage.nbytes:
            raise self.error(
                f"holds a tensor that reaches byte {end:,} of storage {shown(storage.key)!r}, which holds"
                f" {storage.nbytes:,} bytes"
            )
        return tensor


def _rebuild_tensor_v2(reader: PickleReader, arguments: tuple[object, ...]) -> Tensor:
    if len(arguments) not in (6, 7):
        raise reader.error("rebuilds a tensor from malformed arguments")
    return reader.rebuild_tensor(arguments, None)


def _rebuild_tensor_v3(reader: PickleReader, arguments: tuple[object, ...]) -> Tensor:
    if len(arguments) not in (7, 8):
        raise reader.error("rebuilds a tensor from malformed arguments")
    dtype = arguments[6]
    if not (isinstance(dtype, _Global) and dtype.qualified in DTYPE_GLOBALS):
        raise reader.error(f"rebuilds a tensor of dtype {_described(dtype)}, which is not read")
    return reader.rebuild_tensor((*arguments[:6], *arguments[7:]), DTYPE_GLOBALS[dtype.qualified])


def _rebuild_parameter(reader: PickleReader, arguments: tuple[object, ...]) -> Tensor:
    if not (
        len(arguments) in (3, 4)
        and isinstance(arguments[0], Tensor)
        and isinstance(arguments[1], bool)
        and isinstance(arguments[2], dict)
    ):
        raise reader.error("rebuilds a parameter from malformed arguments")
    return replace(arguments[0], requires_grad=arguments[1], parameter=True)


def _rebuild_from_type(reader: PickleReader, arguments: tuple[object, ...]) -> Tensor:
    if len(arguments) != 4:
        raise reader.error("rebuilds a tensor subclass from malformed arguments")
    function, kind, inner, _ = arguments
    if not (isinstance(kind, _Global) and kind.qualified in TENSOR_TYPES):
        raise reader.error(f"rebuilds a tensor of type {_described(kind)}, which is not read")
    if not (isinstance(function, _Global) and function.qualified in _TENSOR_REBUILDS and isinstance(inner, tuple)):
        raise reader.error("rebuilds a tensor subclass from malformed arguments")
    tensor = _TENSOR_REBUILDS[function.qualified](reader, inner)
    if TENSOR_TYPES[kind.qualified] and not tensor.parameter:
        tensor = replace(tensor, parameter=True)
    return tensor


def _ordered_dict(reader: PickleReader, arguments: tuple[object, ...]) -> _OrderedDict:
    if arguments:
        raise reader.error("calls 'collections.OrderedDict' with arguments, which is not read")
    return _OrderedDict()


def _size(reader: PickleReader, arguments: tuple[object, ...]) -> tuple[object, ...]:
    if not (len(arguments) == 1 and isinstance(arguments[0], tuple) and all(_is_size(dim) for dim in arguments[0])):
        raise reader.error("calls 'torch.Size' with malformed arguments")
    return arguments[0]


def _device(reader: PickleReader, arguments: tuple[object, ...]) -> str:
    if len(arguments) == 1 and isinstance(arguments[0], str):
        return arguments[0]
    if len(arguments) == 2 and isinstance(arguments[0], str) and _is_size(arguments[1]):
        return f"{arguments[0]}:{arguments[1]}"
    raise reader.error("calls 'torch.device' with malformed arguments")


def _encode(reader: PickleReader, arguments: tuple[object, ...]) -> bytes:
    if not (len(arguments) == 2 and isinstance(arguments[0], str) and arguments[1] in ("latin1", "latin-1")):
        raise reader.error("calls '_codecs.encode' other than as pickle writes bytes (text, 'latin1')")
    try:
        return arguments[0].encode("latin-1")
    except UnicodeEncodeError:
        raise reader.error("calls '_codecs.encode' on text that is not latin-1") from None


def _empty_bytes(reader: PickleReader, arguments: tuple[object, ...]) -> bytes:
    if arguments:
        raise reader.error("calls 'builtins.bytes' with arguments, which is not read")
    return b""


_TENSOR_REBUILDS: dict[str, Callable[[PickleReader, tuple[object, ...]], Tensor]] = {
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
}

CALLABLES: dict[str, Callable[[PickleReader, tuple[object, ...]], object]] = {
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


# ---------------------------------------------------------------------------------------------- helpers


def _sizes(value: object) -> tuple[int, ...] | None:
    """A tuple of sizes (a shape or strides), or None when the value is not one."""
    if isinstance(value, tuple) and all(_is_size(item) for item in value):
        return tuple(item for item in value if isinstance(item, int))
    return None


def _is_size(value: object) -> bool:
    """A non-negative int that a torch size, stride or offset can hold (bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SIZE


def _extent(tensor: Tensor) -> int:
    """Elements of the storage the tensor reaches: one past its last element (its offset when empty)."""
    if 0 in tensor.shape:
        return tensor.storage_offset
    last = sum((dim - 1) * step for dim, step in zip(tensor.shape, tensor.stride, strict=True))
    return tensor.storage_offset + 1 + last


def _described(value: object) -> str:
    if isinstance(value, _Global):
        return repr(shown(value.qualified, 60))
    return f"a {type(value).__name__.lstrip('_').lower()} value"


def shown(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 3] + "..."
