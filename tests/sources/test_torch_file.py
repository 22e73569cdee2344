"""The PyTorch checkpoint reader agrees with torch on real ``torch.save`` files, and refuses hostile ones
without running anything.

Expected values come from the saved objects themselves (names, shapes, dtypes, strides, offsets, bytes,
which tensors share storage). Hostile pickles are written with ``pickle.Pickler`` (writing, never loading).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import pickle  # noqa: TID251 - tests write hostile pickles with it; nothing here unpickles
import struct
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import paramcount
from paramcount import limits
from paramcount.cli import main
from paramcount.errors import CheckpointError, LimitError, ParamcountError
from paramcount.sources import _torch_pickle
from paramcount.sources.torch_file import TorchFile, read_torch_file, read_torch_stream
from paramcount.tree import iter_modules

FORMATS = ["zip", "legacy"]


# ------------------------------------------------------------------------------------------- helpers


def save(obj: object, path: Path, layout: str) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=layout == "zip")
    return path


def flatten(obj: object, path: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """The tensors of a saved object by dotted path, walked on the real objects (the oracle)."""
    if isinstance(obj, torch.Tensor):
        return {".".join(path): obj}
    if isinstance(obj, argparse.Namespace):
        obj = vars(obj)
    found: dict[str, torch.Tensor] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            found |= flatten(value, (*path, key if isinstance(key, str) else repr(key)))
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            found |= flatten(value, (*path, str(index)))
    return found


def described(tensor: torch.Tensor) -> tuple[object, ...]:
    return (
        tuple(tensor.shape),
        tuple(tensor.stride()),
        str(tensor.dtype).removeprefix("torch."),
        tensor.storage_offset(),
        tensor.nbytes,
        tensor.requires_grad,
        isinstance(tensor, torch.nn.Parameter),
    )


def assert_matches(result: TorchFile, obj: object) -> None:
    """Names, shapes, strides, dtypes, offsets, bytes and flags as torch has them, and storage keys shared
    exactly where the real tensors share storage."""
    expected = flatten(obj)
    ours = {t.name: t for t in result.tensors}
    assert list(ours) == list(expected)
    assert {
        name: (t.shape, t.stride, t.dtype, t.storage_offset, t.nbytes, t.requires_grad, t.parameter)
        for name, t in ours.items()
    } == {name: described(tensor) for name, tensor in expected.items()}
    pointers = {name: tensor.untyped_storage().data_ptr() for name, tensor in expected.items()}
    for first in expected:
        for second in expected:
            assert (ours[first].storage == ours[second].storage) == (pointers[first] == pointers[second])
    storage_bytes = {
        tensor.untyped_storage().data_ptr(): tensor.untyped_storage().nbytes() for tensor in expected.values()
    }
    assert sorted(s.nbytes for s in result.storages) == sorted(storage_bytes.values())


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(11, 6)
        self.conv = torch.nn.Conv1d(6, 4, 3)
        self.norm = torch.nn.BatchNorm1d(4)
        self.head = torch.nn.Linear(4, 11, bias=False)


def adam_state(model: torch.nn.Module) -> dict[str, Any]:
    """An Adam optimizer's state dict after one real step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    optimizer.step()
    return optimizer.state_dict()


# ------------------------------------------------------------------------------------ real checkpoints


@pytest.mark.parametrize("layout", FORMATS)
def test_state_dict_matches_torch(tmp_path: Path, layout: str) -> None:
    state = Model().state_dict()
    result = read_torch_file(save(state, tmp_path / "model.pt", layout))
    assert result.format == layout
    assert_matches(result, state)
    assert {t.section for t in result.tensors} == {"model"}
    assert [t.name_in_section for t in result.tensors] == list(state)
    # BatchNorm's counter is an int64 scalar: shape (), 8 bytes.
    counter = next(t for t in result.tensors if t.name == "norm.num_batches_tracked")
    assert (counter.shape, counter.dtype, counter.nbytes) == ((), "int64", 8)


@pytest.mark.parametrize("layout", FORMATS)
def test_lightning_checkpoint_sections(tmp_path: Path, layout: str) -> None:
    model = Model()
    checkpoint = {
        "epoch": 3,
        "global_step": 30,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": {f"model.{name}": tensor for name, tensor in model.state_dict().items()},
        "optimizer_states": [adam_state(model)],
        "lr_schedulers": [{"last_epoch": 3, "_last_lr": [1e-3]}],
        "callbacks": {"ModelCheckpoint{'monitor': 'loss'}": {"best_model_score": torch.tensor(0.25)}},
        "hyper_parameters": {"lr": 1e-3, "name": "tiny", "tag": b"\x00\xffbytes", "empty": b""},
        "hparams": argparse.Namespace(width=6, mask=torch.ones(3, dtype=torch.bool)),
        "device": torch.device("cuda", 1),
        "size": torch.Size([2, 3]),
    }
    result = read_torch_file(save(checkpoint, tmp_path / "last.ckpt", layout))
    assert_matches(result, checkpoint)
    sections = {t.name: (t.section, t.name_in_section) for t in result.tensors}
    assert sections["state_dict.model.head.weight"] == ("model", "model.head.weight")
    assert sections["optimizer_states.0.state.0.exp_avg"] == ("optimizer", "0.state.0.exp_avg")
    assert sections["callbacks.ModelCheckpoint{'monitor': 'loss'}.best_model_score"][0] == "other"
    assert sections["hparams.mask"] == ("other", "hparams.mask")
    counts = collections.Counter(t.section for t in result.tensors)
    state = model.state_dict()
    # Adam keeps step, exp_avg and exp_avg_sq for each of the model's parameters (not its buffers).
    assert counts == {"model": len(state), "optimizer": 3 * len(list(model.parameters())), "other": 2}


@pytest.mark.parametrize("layout", FORMATS)
def test_model_and_optimizer_after_an_adam_step(tmp_path: Path, layout: str) -> None:
    model = Model()
    optimizer_state = adam_state(model)
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer_state, "epoch": 1}
    result = read_torch_file(save(checkpoint, tmp_path / "checkpoint.pth", layout))
    assert_matches(result, checkpoint)
    optimizer = [t for t in result.tensors if t.section == "optimizer"]
    state = optimizer_state["state"]
    expected = {f"state.{index}.{key}": value for index, entry in state.items() for key, value in entry.items()}
    assert {t.name_in_section: (t.shape, t.dtype) for t in optimizer} == {
        name: (tuple(tensor.shape), str(tensor.dtype).removeprefix("torch.")) for name, tensor in expected.items()
    }
    assert sum(t.nbytes for t in result.tensors if t.section == "model") == sum(
        tensor.nbytes for tensor in model.state_dict().values()
    )


@pytest.mark.parametrize("layout", FORMATS)
def test_tied_weights_share_one_storage(tmp_path: Path, layout: str) -> None:
    model = Model()
    model.head.weight = model.embed.weight
    state = model.state_dict()
    result = read_torch_file(save(state, tmp_path / "tied.pt", layout))
    assert_matches(result, state)
    tensors = {t.name: t for t in result.tensors}
    assert tensors["head.weight"].storage == tensors["embed.weight"].storage
    # One storage for the two names: the bytes on disk count the tied matrix once.
    assert (
        sum(s.nbytes for s in result.storages) == sum(t.nbytes for t in result.tensors) - tensors["head.weight"].nbytes
    )


class TiedGPT(torch.nn.Module):
    """minGPT's names (``tok_emb``, ``head``), none of them an embedding's by ``EMBEDDING_NAMES``, with the head
    tied to the token embedding as nanoGPT ties them, and bias-free projections shared by two blocks (a tie
    inside numbered blocks, which is no embedding)."""

    def __init__(self) -> None:
        super().__init__()
        self.tok_emb = torch.nn.Embedding(11, 6)
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(6, 6, bias=False) for _ in range(2))
        self.blocks[1].weight = self.blocks[0].weight
        self.ln_f = torch.nn.LayerNorm(6)
        self.head = torch.nn.Linear(6, 11, bias=False)
        self.head.weight = self.tok_emb.weight


class TiedCTRL(torch.nn.Module):
    """CTRL's names: the embedding is ``transformer.w``, tied to ``lm_head`` (which has a bias)."""

    def __init__(self) -> None:
        super().__init__()
        self.transformer = torch.nn.Module()
        self.transformer.w = torch.nn.Embedding(11, 6)
        self.transformer.layernorm = torch.nn.LayerNorm(6)
        self.lm_head = torch.nn.Linear(6, 11)
        self.lm_head.weight = self.transformer.w.weight


class HeadFirstLlama(torch.nn.Module):
    """Llama's names with ``lm_head`` registered (so saved) before the ``model.embed_tokens`` tied to it: the first
    of the pair is the head, and the name says which is the embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.lm_head = torch.nn.Linear(6, 11, bias=False)
        self.model = torch.nn.Module()
        self.model.embed_tokens = torch.nn.Embedding(11, 6)
        self.model.layers = torch.nn.ModuleList(torch.nn.Linear(6, 6, bias=False) for _ in range(2))
        self.lm_head.weight = self.model.embed_tokens.weight


class HeadFirstCTRL(torch.nn.Module):
    """CTRL's names with ``lm_head`` (which has a bias: no Embedding has one) saved before ``transformer.w``."""

    def __init__(self) -> None:
        super().__init__()
        self.lm_head = torch.nn.Linear(6, 11)
        self.transformer = torch.nn.Module()
        self.transformer.w = torch.nn.Embedding(11, 6)
        self.transformer.layernorm = torch.nn.LayerNorm(6)
        self.lm_head.weight = self.transformer.w.weight


@pytest.mark.parametrize(
    "model",
    [TiedGPT(), TiedCTRL(), HeadFirstLlama(), HeadFirstCTRL()],
    ids=["minGPT", "CTRL", "head-first-Llama", "head-first-CTRL"],
)
def test_an_embedding_tied_to_the_head_is_an_embedding_whatever_its_name(
    tmp_path: Path, model: torch.nn.Module
) -> None:
    """A file has no classes: a lone 2-d weight is a Linear unless its name says embedding. Of a tied pair outside
    numbered blocks, one is the input embedding the output head is tied to (weight tying, Press & Wolf 2017): the
    one whose name says so, else not one with a bias, else the first saved. It is an Embedding, and "excluding
    embeddings" leaves out what transformers' ``num_parameters(exclude_embeddings=True)`` does (nothing when the
    head is saved first: the tensor is the head's there); the oracles are the model's own classes and that."""
    from transformers.modeling_utils import ModuleUtilsMixin

    path = tmp_path / "tied.pt"
    torch.save(model.state_dict(), path)
    result = paramcount.count(str(path))
    # modules with a 2-d weight: a file cannot tell a LayerNorm's 1-d weight and bias from another module's
    matrices = {name for name, parameter in model.named_parameters(remove_duplicate=False) if parameter.dim() == 2}
    kinds = {name: module.kind for name, module in iter_modules(result.tree) if f"{name}.weight" in matrices}
    assert kinds == {
        name: type(module).__name__ for name, module in model.named_modules() if f"{name}.weight" in matrices
    }
    excluded = ModuleUtilsMixin.num_parameters(model, exclude_embeddings=True)  # type: ignore[arg-type]
    assert result.report().embedding_parameters == ModuleUtilsMixin.num_parameters(model) - excluded  # type: ignore[arg-type]


@pytest.mark.parametrize("layout", FORMATS)
def test_views_keep_their_offsets_and_strides(tmp_path: Path, layout: str) -> None:
    whole = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = {"whole": whole, "tail": whole[2:], "column": whole[:, 1], "transposed": whole.t(), "empty": whole[4:]}
    views["expanded"] = torch.zeros(1, dtype=torch.int16).expand(1000, 3)
    result = read_torch_file(save(views, tmp_path / "views.pt", layout))
    assert_matches(result, views)
    expanded = next(t for t in result.tensors if t.name == "expanded")
    assert (expanded.stride, expanded.nbytes) == ((0, 0), 1000 * 3 * 2)
    assert next(s for s in result.storages if s.key == expanded.storage).nbytes == 2


@pytest.mark.parametrize("layout", FORMATS)
def test_dtypes(tmp_path: Path, layout: str) -> None:
    dtypes = [torch.bfloat16, torch.float16, torch.float64, torch.int8, torch.uint8, torch.bool, torch.complex64]
    if layout == "zip":  # dtypes without a typed storage class are saved with _rebuild_tensor_v3
        dtypes += [torch.float8_e4m3fn, torch.float8_e5m2, torch.uint16, torch.uint32, torch.uint64]
    tensors = {str(dtype): torch.zeros(3, 5, dtype=dtype) for dtype in dtypes}
    result = read_torch_file(save(tensors, tmp_path / "dtypes.bin", layout))
    assert_matches(result, tensors)


@pytest.mark.parametrize("layout", FORMATS)
def test_parameters_and_tensors(tmp_path: Path, layout: str) -> None:
    noted = torch.ones(2)
    noted.note = "a tensor with an attribute is saved through _rebuild_from_type_v2"  # type: ignore[attr-defined]
    objects = {
        "parameter": torch.nn.Parameter(torch.ones(2, 3)),
        "frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
        "tensor": torch.ones(4, requires_grad=True),
        "plain": torch.ones(4),
        "noted": noted,
        "list": [torch.nn.Parameter(torch.ones(1))],
    }
    result = read_torch_file(save(objects, tmp_path / "parameters.pt", layout))
    assert_matches(result, objects)


@pytest.mark.parametrize("layout", FORMATS)
def test_pickle_protocol_4(tmp_path: Path, layout: str) -> None:
    """torch.save(pickle_protocol=4) frames the pickle and uses SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL."""
    state = Model().state_dict()
    path = tmp_path / "model.pt"
    torch.save(state, path, pickle_protocol=4, _use_new_zipfile_serialization=layout == "zip")
    assert_matches(read_torch_file(path), state)


@pytest.mark.filterwarnings("ignore:`torch.jit.(script|save)` is deprecated:DeprecationWarning")
def test_torchscript_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 3)), path)
    with pytest.raises(CheckpointError) as caught:
        read_torch_file(path)
    assert str(caught.value) == (
        f"{path}: is a TorchScript archive (torch.jit.save), which is not read; save the model's state_dict()"
        " with torch.save"
    )


def test_a_tensor_saved_alone(tmp_path: Path) -> None:
    tensor = torch.ones(7, 2, dtype=torch.float16)
    result = read_torch_file(save(tensor, tmp_path / "tensor.pt", "zip"))
    assert [(t.name, t.section, t.shape, t.nbytes) for t in result.tensors] == [("", "model", (7, 2), 28)]


def test_a_tensor_saved_alone_is_one_line_that_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """torch.save(tensor) names nothing: the door said "tensor name '' has an empty dotted part"."""
    path = save(torch.ones(7, 2, dtype=torch.float16), tmp_path / "tensor.pt", "zip")
    assert main([str(path)]) == 2
    assert capsys.readouterr() == (
        "",
        "paramcount: error: tensor.pt: a tensor of shape (7, 2) has no name: a tensor saved alone, not a state dict "
        "of named tensors\n",
    )


def test_itemsizes_match_torch() -> None:
    dtypes = {str(v).removeprefix("torch."): v for v in vars(torch).values() if isinstance(v, torch.dtype)}
    assert {name: dtype.itemsize for name, dtype in dtypes.items()} == _torch_pickle.ITEMSIZE


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated:UserWarning")
def test_storage_classes_match_torch() -> None:
    classes = {f"{cls.__module__}.{cls.__name__}": cls for cls in torch._storage_classes}
    typed = {
        name: str(getattr(cls, "dtype")).removeprefix("torch.")  # noqa: B009 - typed storage classes only
        for name, cls in classes.items()
        if "Untyped" not in name and name != "torch.storage.TypedStorage"
    }
    ours = {name: dtype for name, dtype in _torch_pickle.STORAGE_TYPES.items() if name in classes}
    assert ours == typed | {"torch.storage.UntypedStorage": "uint8"}


# ------------------------------------------------------------------------------------ hostile pickles


class FakeStorage:
    def __init__(self, key: str, numel: int, kind: object = torch.FloatStorage) -> None:
        self.key = key
        self.numel = numel
        self.kind = kind


class Call:
    """Pickles as a call of ``function(*arguments)``: how the tests write any global and REDUCE."""

    def __init__(self, function: object, *arguments: object) -> None:
        self.function = function
        self.arguments = arguments

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.function, self.arguments


class Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, legacy: bool) -> None:
        super().__init__(file, protocol=2)
        self.legacy = legacy

    def persistent_id(self, obj: object) -> object:
        if isinstance(obj, FakeStorage):
            record = ("storage", obj.kind, obj.key, "cpu", obj.numel)
            return (*record, None) if self.legacy else record
        return None


def dumps(obj: object, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    Pickler(buffer, legacy).dump(obj)
    return buffer.getvalue()


def tensor(storage: FakeStorage, shape: tuple[int, ...], offset: int = 0) -> Call:
    stride = tuple(int(torch.tensor(shape[i + 1 :]).prod()) for i in range(len(shape)))
    return Call(torch._utils._rebuild_tensor_v2, storage, offset, shape, stride, False, collections.OrderedDict())


def zip_bytes(data_pkl: bytes, records: dict[str, int] | None = None, archive: str = "archive") -> bytes:
    """A zip laid out as torch.save lays it out, holding the given data.pkl and storage records."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as written:
        written.writestr(f"{archive}/data.pkl", data_pkl)
        for key, size in (records or {}).items():
            written.writestr(f"{archive}/data/{key}", bytes(size))
        written.writestr(f"{archive}/version", "3\n")
    return buffer.getvalue()


MAGIC = dumps(0x1950A86A20F9469CFC6C)
PROTOCOL = dumps(1001)
SYSTEM = dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 8}})


def legacy_bytes(obj: object, storages: dict[str, int], element_size: int = 4) -> bytes:
    data = b"".join(numel.to_bytes(8, "little") + bytes(numel * element_size) for numel in storages.values())
    return MAGIC + PROTOCOL + SYSTEM + dumps(obj, legacy=True) + dumps(list(storages)) + data


def read(data: bytes, name: str = "model.pt") -> TorchFile:
    return read_torch_stream(io.BytesIO(data), name)


def test_handmade_files_are_read() -> None:
    """The hostile tests below change one thing in these files, which read as intended."""
    storage = FakeStorage("0", 6)
    obj = {"weight": tensor(storage, (2, 3)), "tail": tensor(storage, (2,), offset=4)}
    for result in (read(zip_bytes(dumps(obj), {"0": 24})), read(legacy_bytes(obj, {"0": 6}))):
        assert [(t.name, t.shape, t.storage_offset, t.nbytes) for t in result.tensors] == [
            ("weight", (2, 3), 0, 24),
            ("tail", (2,), 4, 8),
        ]


def test_legacy_storage_records_are_checked() -> None:
    obj = {"weight": tensor(FakeStorage("0", 6), (2, 3))}
    good = legacy_bytes(obj, {"0": 6})
    wrong_keys = MAGIC + PROTOCOL + SYSTEM + dumps(obj, legacy=True) + dumps(["1"]) + good[-(8 + 24) :]
    with pytest.raises(CheckpointError, match=r"^model\.pt: its storage key list does not match the storages it uses$"):
        read(wrong_keys)
    wrong_count = good[: -(8 + 24)] + (5).to_bytes(8, "little") + bytes(24)
    with pytest.raises(CheckpointError, match=r"^model\.pt: storage '0' holds 5 elements; its record says 6$"):
        read(wrong_count)
    with pytest.raises(CheckpointError, match=r"^model\.pt: storage '0' ends at byte [\d,]+, beyond the file's"):
        read(good[:-1])
    wrong_protocol = MAGIC + dumps(1000) + good[len(MAGIC) + len(PROTOCOL) :]
    with pytest.raises(CheckpointError, match=r"^model\.pt: declares protocol version 1000, not 1001$"):
        read(wrong_protocol)


def evil(marker: Path) -> Call:
    return Call(os.system, f"touch {marker}")


@pytest.mark.parametrize("layout", FORMATS)
def test_a_pickle_that_would_run_a_command_is_refused(tmp_path: Path, layout: str) -> None:
    marker = tmp_path / "ran"
    obj = {"weight": tensor(FakeStorage("0", 1), (1,)), "x": evil(marker)}
    data = zip_bytes(dumps(obj), {"0": 4}) if layout == "zip" else legacy_bytes(obj, {"0": 1})
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as caught:
        read_torch_file(path)
    assert str(caught.value) == f"{path}: refuses the global 'posix.system' (only tensor-rebuild records are read)"
    assert caught.value.format == "pytorch"
    assert not marker.exists()


def test_a_refused_global_is_never_imported() -> None:
    assert "antigravity" not in sys.modules
    data = zip_bytes(b"\x80\x02cantigravity\nfly\n)R.")
    with pytest.raises(CheckpointError, match=r"refuses the global 'antigravity\.fly'"):
        read(data)
    assert "antigravity" not in sys.modules


@pytest.mark.parametrize("position", ["protocol", "system", "keys"])
def test_a_payload_after_the_legacy_magic_number_is_refused(tmp_path: Path, position: str) -> None:
    """Pickle scanners read the magic number's pickle and stop; torch goes on to the next ones."""
    marker = tmp_path / "ran"
    payload = dumps(evil(marker))
    parts = {"protocol": PROTOCOL, "system": SYSTEM, "obj": dumps({}, legacy=True), "keys": dumps([])}
    parts[position] = payload
    with pytest.raises(CheckpointError, match=r"^model\.pt: refuses the global 'posix\.system'"):
        read(MAGIC + b"".join(parts.values()))
    assert not marker.exists()


BAD_PICKLES: list[tuple[str, object, str]] = [
    (
        "subclass",
        Call(collections.OrderedDict, [(1, 2)]),
        "calls 'collections.OrderedDict' with arguments, which is not read",
    ),
    ("storage call", Call(torch.FloatStorage, 3), "calls 'torch.FloatStorage', which is not read"),
    (
        "builtins",
        Call(getattr, "text", "upper"),
        "refuses the global '__builtin__.getattr' (only tensor-rebuild records are read)",
    ),
    ("namespace", Call(argparse.Namespace), "calls 'argparse.Namespace', which is not read"),
    (
        "codecs",
        Call(__import__("_codecs").encode, "x", "rot13"),
        "calls '_codecs.encode' other than as pickle writes bytes (text, 'latin1')",
    ),
    (
        "codecs text",
        Call(__import__("_codecs").encode, "\u2603", "latin1"),
        "calls '_codecs.encode' on text that is not latin-1",
    ),
    # bytes(n) would allocate n bytes if it were called: only the empty call pickle writes is read
    ("bytes bomb", Call(bytes, 10**12), "calls 'builtins.bytes' with arguments, which is not read"),
    (
        "quantized",
        Call(torch._utils._rebuild_qtensor, 1),
        "refuses the global 'torch._utils._rebuild_qtensor' (only tensor-rebuild records are read)",
    ),
    (
        "huge shape",
        tensor(FakeStorage("0", 1), (2**62, 4)),
        "holds a tensor of shape (4611686018427387904, 4), over 2**63 - 1 elements",
    ),
    ("negative", tensor(FakeStorage("0", 1), (-1,)), "rebuilds a tensor from malformed arguments"),
    (
        "past storage",
        tensor(FakeStorage("0", 1), (2,)),
        "holds a tensor that reaches byte 8 of storage '0', which holds 4 bytes",
    ),
    (
        "offset",
        tensor(FakeStorage("0", 1), (1,), offset=1),
        "holds a tensor that reaches byte 8 of storage '0', which holds 4 bytes",
    ),
    (
        "not storage",
        Call(torch._utils._rebuild_tensor_v2, "0", 0, (1,), (1,), False, {}),
        "rebuilds a tensor from something that is not a storage",
    ),
    (
        "bad storage type",
        FakeStorage("0", 1, kind=torch.Tensor),
        "holds a storage of type 'torch.Tensor', which is not read",
    ),
    (
        "two sizes",
        [tensor(FakeStorage("0", 1), (1,)), tensor(FakeStorage("0", 2), (1,))],
        "declares storage '0' twice, with different types or sizes",
    ),
]


@pytest.mark.parametrize(("obj", "message"), [row[1:] for row in BAD_PICKLES], ids=[row[0] for row in BAD_PICKLES])
def test_bad_pickles(obj: object, message: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        read(zip_bytes(dumps(obj), {"0": 8}))
    assert str(caught.value) == f"model.pt: {message}"


def test_deep_nesting_is_refused_without_recursion() -> None:
    nested = b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."
    with pytest.raises(LimitError) as caught:
        read(zip_bytes(nested))
    assert (
        str(caught.value) == f"model.pt: the nesting of the saved object is 101; the limit is {limits.MAX_PICKLE_DEPTH}"
    )
    with pytest.raises(LimitError, match="mark nesting"):
        read(zip_bytes(b"\x80\x02" + b"(" * 1000 + b"."))


def test_shared_values_cannot_multiply_the_work() -> None:
    """Each level holds the level below twice (through the memo): 2**60 paths to walk."""
    pickle_ = bytearray(b"\x80\x02]q\x000")
    for level in range(1, 61):
        pickle_ += b"h%ch%c\x86q%c0" % (level - 1, level - 1, level)  # memo[level] = (memo[level-1],) * 2
    pickle_ += b"h<."
    with pytest.raises(LimitError, match="the number of values walked in the saved object exceeds the limit"):
        read(zip_bytes(bytes(pickle_)))


def test_unhashable_and_recursive_keys_are_refused() -> None:
    with pytest.raises(CheckpointError, match="uses a list value as a dict key"):
        read(zip_bytes(b"\x80\x02}]Ns."))


def test_huge_declared_lengths_allocate_nothing() -> None:
    """A BINUNICODE8 of 2**62 bytes in a 30-byte pickle."""
    data = zip_bytes(b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc.")
    tracemalloc.start()
    with pytest.raises(CheckpointError, match=r"holds a malformed pickle \(expected 4611686018427387904 bytes"):
        read(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000


def test_storage_record_smaller_than_declared() -> None:
    obj = tensor(FakeStorage("0", 2**62), (1,))
    with pytest.raises(
        CheckpointError, match=r"storage '0' declares 18,446,744,073,709,551,616 bytes but its record holds 4 bytes"
    ):
        read(zip_bytes(dumps(obj), {"0": 4}))
    with pytest.raises(CheckpointError, match=r"storage '0' has no record in the archive"):
        read(zip_bytes(dumps(obj)))


# --------------------------------------------------------------------------------------- hostile zips


def test_zip_bomb_declared_size_is_refused_before_reading() -> None:
    data = bytearray(zip_bytes(dumps({})))
    directory = data.index(b"PK\x01\x02")  # data.pkl's central-directory entry: the first one
    struct.pack_into("<I", data, directory + 24, 2**32 - 1)  # the uncompressed size
    with pytest.raises(LimitError) as caught:
        read(bytes(data))
    assert (
        str(caught.value)
        == f"model.pt: archive/data.pkl is 4,294,967,295 bytes; the limit is {limits.MAX_PICKLE_BYTES:,} bytes"
    )


def test_zip_bomb_ratio_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as written:
        written.writestr("archive/data.pkl", b"\x80\x02N" + bytes(30_000_000) + b".")
    with pytest.raises(LimitError, match=r"data\.pkl's compression ratio is 1,0\d\d; the limit is 1,000"):
        read(buffer.getvalue())


def test_zip64_entry_count_of_2_62_is_refused() -> None:
    zip64_end = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, 2**62, 2**62, 10, 0)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, 4, 1)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with pytest.raises(
        LimitError, match=r"^model\.pt: the zip entry count is 4,611,686,018,427,387,904; the limit is 200,000$"
    ):
        read(b"PK\x03\x04" + zip64_end + locator + end)


def test_duplicate_entries_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as written:
        written.writestr("archive/data.pkl", dumps({}))
        with pytest.warns(UserWarning, match="Duplicate name"):
            written.writestr("archive/data.pkl", dumps({}))
    with pytest.raises(CheckpointError, match=r"holds two zip entries named 'archive/data\.pkl'"):
        read(buffer.getvalue())


def test_a_zip_without_data_pkl_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as written:
        written.writestr("notes/readme.txt", "hello")
    with pytest.raises(CheckpointError, match=r"^model\.pt: is a zip archive without 'notes/data\.pkl'$"):
        read(buffer.getvalue())


@pytest.mark.parametrize("layout", FORMATS)
def test_truncated_files_are_refused(tmp_path: Path, layout: str) -> None:
    data = save(Model().state_dict(), tmp_path / "model.pt", layout).read_bytes()
    for length in (20, len(data) // 3, len(data) // 2, len(data) - 100, len(data) - 1):
        with pytest.raises(CheckpointError, match=r"truncated|malformed|damaged|ends"):
            read(data[:length])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is neither a PyTorch zip archive nor a legacy PyTorch pickle (it starts with b'')"),
        (b"hello world", "is neither a PyTorch zip archive nor a legacy PyTorch pickle (it starts with b'hello wo')"),
        (b"\x80\x02K\x01.", "is a pickle without torch's magic number, not a PyTorch checkpoint"),
        (bytes(257) + b"ustar" + bytes(300), "is a tar-format checkpoint (torch < 0.4), which is not read"),
    ],
)
def test_files_that_are_not_checkpoints(data: bytes, message: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        read(data)
    assert str(caught.value) == f"model.pt: {message}"


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"missing\.pt: cannot be read \(No such file or directory\)"):
        read_torch_file(tmp_path / "missing.pt")


# ---------------------------------------------------------------------------------------------- fuzz


def _valid_files() -> list[bytes]:
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    obj = {"model": model.state_dict(), "optimizer": adam_state(model), "meta": {"b": b"x", "n": None}}
    files = []
    for layout in FORMATS:
        buffer = io.BytesIO()
        torch.save(obj, buffer, _use_new_zipfile_serialization=layout == "zip")
        files.append(buffer.getvalue())
    return files


VALID = _valid_files()


@settings(max_examples=300)
@given(
    which=st.sampled_from(range(len(VALID))),
    edits=st.lists(
        st.tuples(
            st.floats(0, 1, exclude_max=True),
            st.sampled_from(["flip", "cut", "insert", "delete", "big"]),
            st.integers(0, 255),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_fuzz_mutated_files(which: int, edits: list[tuple[float, str, int]]) -> None:
    """Any mutation of a valid file gives a result or a ParamcountError, nothing else."""
    data = bytearray(VALID[which])
    for where, edit, value in edits:
        at = int(where * len(data))
        if edit == "flip":
            data[at] ^= value or 1
        elif edit == "cut":
            del data[at:]
        elif edit == "insert":
            data[at:at] = bytes([value])
        elif edit == "delete":
            del data[at : at + 1 + value % 8]
        else:
            data[at : at + 8] = struct.pack("<Q", 2**63 - value)
        if not data:
            break
    with contextlib.suppress(ParamcountError):
        read(bytes(data))


@given(data=st.binary(max_size=512))
def test_fuzz_random_pickles(data: bytes) -> None:
    for file in (b"\x80\x02" + data, MAGIC + PROTOCOL + SYSTEM + b"\x80\x02" + data, zip_bytes(b"\x80\x02" + data)):
        with contextlib.suppress(ParamcountError):
            read(file)


def test_a_zip_version_that_zipfile_does_not_implement() -> None:
    """Found by the fuzz test: zipfile raises NotImplementedError for an entry needing zip version 25.5."""
    data = bytearray(zip_bytes(dumps({})))
    struct.pack_into("<B", data, data.index(b"PK\x01\x02") + 6, 255)  # "version needed to extract"
    with pytest.raises(CheckpointError, match=r"^model\.pt: is a damaged zip archive \(zip file version 25\.5\)$"):
        read(bytes(data))


# ------------------------------------------------------------------- through the checkpoint-file door


def expected_sections(optimizer_state: dict[str, Any]) -> list[dict[str, object]]:
    """Per optimizer state (step, exp_avg, exp_avg_sq), the tensors, elements and bytes of the real state."""
    found: dict[str, dict[str, object]] = {}
    for entry in optimizer_state["state"].values():
        for key, value in entry.items():
            row = found.setdefault(key, {"section": "optimizer", "group": key, "tensors": 0, "count": 0, "bytes": 0})
            row["tensors"] = int(row["tensors"]) + 1  # type: ignore[call-overload]
            row["count"] = int(row["count"]) + value.numel()  # type: ignore[call-overload]
            row["bytes"] = int(row["bytes"]) + value.nbytes  # type: ignore[call-overload]
    return list(found.values())


@pytest.mark.parametrize("layout", FORMATS)
def test_a_state_dict_through_count(tmp_path: Path, layout: str) -> None:
    model = Model()
    path = save(model.state_dict(), tmp_path / "model.pt", layout)
    result = paramcount.count(str(path))
    assert (result.origin, result.provenance.location) == ("pytorch", str(path))
    assert result.total == sum(p.numel() for p in model.parameters()) == 66 + 76 + 8 + 44
    assert result.buffers == sum(b.numel() for b in model.buffers()) == 9
    assert [row.name for row in result.counts.parameters] == [name for name, _ in model.named_parameters()]
    assert [row.name for row in result.counts.buffer_tensors] == [name for name, _ in model.named_buffers()]
    facts = dict(result.provenance.facts())
    assert (facts["format"], facts["layout"], facts["files"]) == ("pytorch", layout, "1")
    assert facts["file_bytes"] == str(path.stat().st_size)
    assert facts["storage_bytes"] == str(sum(t.nbytes for t in model.state_dict().values()))
    assert result.provenance.sections == ()  # type: ignore[attr-defined]


@pytest.mark.parametrize("layout", FORMATS)
@pytest.mark.parametrize("name", ["view", "transposed", "slices", "slice alone", "tie"])
def test_stored_bytes_count_each_storage_once(tmp_path: Path, layout: str, name: str) -> None:
    """A view saved beside its base shares its storage: the file holds each storage once and whole, as
    ``torch.load`` allocates it, so "Stored in the checkpoint" counts the storages' bytes, not the tensors' (which
    counted ``w`` and ``w[:2]`` as 48 + 24 = 72 bytes where the file holds 48). The oracle: the loaded tensors'
    ``untyped_storage().nbytes()``, each storage once, and the zip's ``data/<key>`` records."""
    base = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    half = torch.zeros(2, 5, dtype=torch.float16)
    saved = {
        "view": {"w": base, "v": base[:2], "h": half},
        "transposed": {"w": base, "t": base.t(), "h": half},
        "slices": {"a": base[:1], "b": base[2:], "h": half[0], "g": half[1]},
        "slice alone": {"v": base[1:3], "h": half[:, :2]},
        "tie": {"w": base, "same": base, "h": half},
    }[name]
    path = save(saved, tmp_path / "views.pt", layout)
    loaded: dict[str, torch.Tensor] = torch.load(path, weights_only=True)  # noqa: TID251 - the test's own file
    expected: dict[str, list[int]] = {}
    storages: set[int] = set()
    views: set[tuple[object, ...]] = set()
    for tensor in loaded.values():
        storage = tensor.untyped_storage()
        row = expected.setdefault(str(tensor.dtype).removeprefix("torch."), [0, 0, 0])
        view = (storage.data_ptr(), tensor.storage_offset(), tensor.shape, tensor.stride())
        row[0] += view not in views  # a tie (the same view saved twice) is one tensor
        views.add(view)
        if storage.data_ptr() not in storages:
            storages.add(storage.data_ptr())
            row[1] += storage.nbytes() // tensor.element_size()
            row[2] += storage.nbytes()
    by_dtype = paramcount.count(str(path)).report().by_dtype
    assert {row.dtype: [row.tensors, row.count, row.bytes] for row in by_dtype} == expected
    assert "Stored in the checkpoint (tensor data as the file holds it, shared data once):" in str(
        paramcount.count(str(path)).report()
    )
    if layout == "zip":
        with zipfile.ZipFile(path) as archive:
            records = [info.file_size for info in archive.infolist() if "/data/" in info.filename]
        assert sum(row.bytes for row in by_dtype) == sum(records)


@pytest.mark.parametrize("layout", FORMATS)
def test_a_lightning_checkpoint_counts_the_model_and_totals_the_rest(tmp_path: Path, layout: str) -> None:
    model = Model()
    optimizer_state = adam_state(model)
    checkpoint = {
        "epoch": 3,
        "state_dict": {f"model.{name}": tensor for name, tensor in model.state_dict().items()},
        "optimizer_states": [optimizer_state],
        "callbacks": {"EMA": {"shadow": torch.zeros(5, 2, dtype=torch.float16)}},
        "hyper_parameters": {"lr": 1e-3},
    }
    result = paramcount.count(str(save(checkpoint, tmp_path / "last.ckpt", layout)))
    assert result.total == sum(p.numel() for p in model.parameters())
    assert [row.name for row in result.counts.parameters] == [f"model.{name}" for name, _ in model.named_parameters()]
    sections = result.report().to_dict()["checkpoint"]["sections"]
    assert sections == [
        *expected_sections(optimizer_state),
        {"section": "other", "group": "callbacks", "tensors": 1, "count": 10, "bytes": 20},
    ]


@pytest.mark.parametrize("layout", FORMATS)
def test_an_optimizer_state_dict_saved_alone_is_no_model(tmp_path: Path, layout: str) -> None:
    """``torch.save(optimizer.state_dict())`` holds Adam's step, exp_avg and exp_avg_sq per parameter and no
    weights: it was counted as a model of 2 × 194 + 6 = 394 'parameters' (a step per tensor); now it is totalled as the
    optimizer's state of a nested checkpoint is."""
    optimizer_state = adam_state(Model())
    result = paramcount.count(str(save(optimizer_state, tmp_path / "optimizer.pt", layout)))
    assert (result.total, result.buffers) == (0, 0)
    assert result.report().to_dict()["checkpoint"]["sections"] == expected_sections(optimizer_state)


def test_model_and_optimizer_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = Model()
    optimizer_state = adam_state(model)
    path = save({"model": model.state_dict(), "optimizer": optimizer_state}, tmp_path / "checkpoint.pth", "zip")
    assert main(["--json", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["origin"], data["total"]) == ("pytorch", sum(p.numel() for p in model.parameters()))
    expected = expected_sections(optimizer_state)
    assert data["checkpoint"]["sections"] == expected
    # Adam keeps two float32 copies of every parameter, and a float32 step per parameter
    parameters = list(model.parameters())
    assert [row["bytes"] for row in expected] == [4 * len(parameters), 4 * data["total"], 4 * data["total"]]
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    size = sum(int(row["bytes"]) for row in expected)  # type: ignore[call-overload]
    assert (
        f"optimizer state, not counted: {size:,} B in {3 * len(parameters)} tensors "
        f"(step {4 * len(parameters)} B, exp_avg {4 * data['total']} B, exp_avg_sq {4 * data['total']} B)"
    ) in out


def test_tied_tensors_are_counted_once_and_views_are_not_ties(tmp_path: Path) -> None:
    model = Model()
    model.head.weight = torch.nn.Parameter(torch.zeros(11, 6))
    model.head.in_features = 6
    model.embed.weight = model.head.weight  # one matrix under two names
    state = dict(model.state_dict())
    whole = torch.zeros(8, 4)
    state["extra.a.weight"], state["extra.b.weight"] = whole[:4], whole[4:]  # views of one storage
    result = paramcount.count(str(save(state, tmp_path / "tied.bin", "zip")))
    assert [(t.name, t.tied_to) for t in result.counts.tied_tensors] == [("head.weight", "embed.weight")]
    assert result.total == sum(p.numel() for p in model.parameters()) + 2 * 16


def save_pretrained_bin(model: Any, folder: Path, max_shard_size: str) -> None:
    """What ``save_pretrained(safe_serialization=False)`` wrote in transformers 4.x (5.x writes safetensors only):
    the state dict split by ``huggingface_hub.split_torch_state_dict_into_shards`` into
    ``pytorch_model-0000i-of-0000n.bin`` files, each written by ``torch.save``, and the index beside them."""
    from huggingface_hub import split_torch_state_dict_into_shards

    state = model.state_dict()
    split = split_torch_state_dict_into_shards(
        state, filename_pattern="pytorch_model{suffix}.bin", max_shard_size=max_shard_size
    )
    for filename, names in split.filename_to_tensors.items():
        torch.save({name: state[name] for name in names}, folder / filename)
    index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    model.config.save_pretrained(folder)


def test_a_sharded_pytorch_model_bin_folder(tmp_path: Path) -> None:
    import transformers

    library: Any = transformers
    config = library.AutoConfig.for_model(
        "llama",
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=100,
        tie_word_embeddings=True,
    )
    model = library.LlamaForCausalLM(config).to(torch.bfloat16)
    save_pretrained_bin(model, tmp_path, "20KB")
    shards = sorted(tmp_path.glob("pytorch_model-*.bin"))
    assert len(shards) > 3
    for path in (tmp_path, tmp_path / "pytorch_model.bin.index.json"):
        result = paramcount.count(str(path))
        assert (result.origin, result.total) == ("pytorch", model.num_parameters())
        assert {row.name: (row.shape, row.dtype) for row in result.counts.parameters} == {
            name: (tuple(p.shape), "bfloat16") for name, p in model.named_parameters()
        }
        assert [(t.name, t.tied_to) for t in result.counts.tied_tensors] == [
            ("lm_head.weight", "model.embed_tokens.weight")
        ]
        assert dict(result.provenance.facts())["files"] == str(len(shards))
    assert dict(paramcount.count(str(tmp_path)).provenance.facts())["config_agrees"] == "yes"


def test_a_pytorch_index_shard_must_hold_what_the_index_says(tmp_path: Path) -> None:
    save(Model().state_dict(), tmp_path / "pytorch_model-1.bin", "zip")
    index = {"weight_map": {"embed.weight": "pytorch_model-1.bin"}}
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError) as caught:
        paramcount.count(str(tmp_path))
    assert str(caught.value) == (
        "pytorch_model.bin.index.json: shard 'pytorch_model-1.bin' holds tensor 'conv.weight', not in the index"
    )


def test_a_trainer_folder_is_read_through_pytorch_model_bin(tmp_path: Path) -> None:
    model = Model()
    save(model.state_dict(), tmp_path / "pytorch_model.bin", "zip")
    save({"state": {}, "param_groups": []}, tmp_path / "optimizer.pt", "zip")
    result = paramcount.count(str(tmp_path))
    assert result.total == sum(p.numel() for p in model.parameters())


def test_a_pytorch_file_of_another_name_is_recognised_by_its_first_bytes(tmp_path: Path) -> None:
    for layout in FORMATS:
        path = save(Model().state_dict(), tmp_path / f"weights-{layout}", layout)
        assert paramcount.from_file(path).origin == "pytorch"


def test_a_hostile_pickle_through_the_cli_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "model.pt"
    path.write_bytes(zip_bytes(dumps({"weight": tensor(FakeStorage("0", 1), (1,)), "x": evil(marker)}), {"0": 4}))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "paramcount: error: model.pt: refuses the global 'posix.system' (only tensor-rebuild records are read)\n"
    )
    assert not marker.exists()
