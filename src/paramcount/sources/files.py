"""Which reader reads a path: a checkpoint file by its suffix (or its first bytes), a folder by what it holds.

A folder (a Hugging Face checkpoint directory) is read through, in this order, its
``*.safetensors.index.json``, its one ``.safetensors`` file, its one ``.gguf``, its one ``.onnx``, its
``pytorch_model.bin.index.json`` (HF's older sharded format), its one PyTorch file (``.bin``, ``.pt``, ``.pth``,
``.ckpt``); several candidates of one kind and no index is ambiguous and refused with their names, except that
Hugging Face's own name (``model.safetensors``, ``pytorch_model.bin``) is the model's weights beside others
(a Trainer's ``training_args.bin``, ``optimizer.pt``). Its ``config.json``, when
present, is the caller's to count and compare (``with_config_ties`` lets the weights' tree show the ties the
config declares but the files leave out: ``save_pretrained`` writes a tied ``lm_head.weight`` once). A
folder's weights may be a symbolic link only inside the folder, or inside the ``models--*`` folder of a Hugging
Face cache snapshot (``_shards.check_link``).
"""

from __future__ import annotations

import os
from pathlib import Path

from paramcount._record import replace
from paramcount.errors import CheckpointError, LimitError
from paramcount.limits import MAX_FOLDER_ENTRIES
from paramcount.provenance import WeightDifference
from paramcount.sources._bounded import open_regular, short
from paramcount.sources._shards import check_link
from paramcount.sources.checkpoint import BUFFER_NAMES, Checkpoint, TensorEntry
from paramcount.tree import Module, iter_params

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "compare_with_config",
    "find_weights",
    "is_checkpoint_path",
    "read_checkpoint",
    "read_header_bytes",
    "with_config_ties",
]

CHECKPOINT_SUFFIXES: Final = {
    ".safetensors.index.json": "safetensors-index",
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    ".onnx": "onnx",
    ".bin.index.json": "torch-index",
    ".pt": "torch",
    ".pth": "torch",
    ".bin": "torch",
    ".ckpt": "torch",
}
"""File name endings → the reader; the index suffix is tried before ``.json`` could be taken for a config."""

FOLDER_ORDER: Final = ("safetensors-index", "safetensors", "gguf", "onnx", "torch-index", "torch")
"""Which weights a folder is read through, when it holds several kinds."""

HF_NAMES: Final = {"safetensors": "model.safetensors", "torch": "pytorch_model.bin"}
"""The file ``save_pretrained`` writes the model to: the weights when a folder holds several of that kind."""


def _kind_of(name: str) -> str | None:
    lowered = name.lower()
    return next((kind for suffix, kind in CHECKPOINT_SUFFIXES.items() if lowered.endswith(suffix)), None)


def is_checkpoint_path(text: str) -> bool:
    """Whether ``text`` names a checkpoint file by its ending (whether or not it exists)."""
    return _kind_of(text) is not None


def _sniff(path: Path) -> str | None:
    """The format of a file with an unfamiliar name, from its first bytes: GGUF's magic, a safetensors
    header length followed by ``{``, a zip archive or a pickle (``torch.save``'s two layouts)."""
    stream, _ = open_regular(path, path.name, "unknown")
    with stream:
        head = stream.read(9)
    if head[:4] == b"GGUF":
        return "gguf"
    if len(head) == 9 and head[8:9] == b"{":
        return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return "torch"
    return None


def _reader(kind: str) -> Callable[[Path], Checkpoint]:
    if kind == "safetensors-index":
        from paramcount.sources.safetensors import read_safetensors_index

        return read_safetensors_index
    if kind == "safetensors":
        from paramcount.sources.safetensors import read_safetensors

        return read_safetensors
    if kind == "gguf":
        from paramcount.sources.gguf import read_gguf

        return read_gguf
    if kind == "onnx":
        from paramcount.sources.onnx import read_onnx

        return read_onnx
    if kind == "torch-index":
        from paramcount.sources.torch_file import read_torch_index

        return read_torch_index
    from paramcount.sources.torch_file import read_torch

    return read_torch


def find_weights(folder: Path) -> Path | None:
    """The file a folder's weights are read through (see the module docstring), or None when it holds none.

    Raises:
        CheckpointError: several candidates of the first kind found, and no index to join them.
        LimitError: the folder has more than ``MAX_FOLDER_ENTRIES`` entries.
    """
    found: dict[str, list[str]] = {}
    with os.scandir(folder) as entries:
        for number, entry in enumerate(entries, start=1):
            if number > MAX_FOLDER_ENTRIES:
                raise LimitError(f"{folder.name or folder}: entries", MAX_FOLDER_ENTRIES)
            kind = _kind_of(entry.name)
            if kind is not None and entry.is_file():
                found.setdefault(kind, []).append(entry.name)
    for kind in FOLDER_ORDER:
        names = sorted(found.get(kind, []))
        if len(names) == 1:
            return folder / names[0]
        if HF_NAMES.get(kind) in names:
            return folder / HF_NAMES[kind]
        if names:
            listing = ", ".join(names[:6]) + (" …" if len(names) > 6 else "")
            raise CheckpointError(
                f"{folder.name or folder}: {len(names)} {kind} files and no index to join them ({listing}); "
                "give one file",
                kind,
            )
    return None


def read_checkpoint(path: str | Path) -> tuple[Checkpoint, Path]:
    """Read the checkpoint at ``path`` (a file or a folder) header-only; returns it and the file read.

    Raises:
        CheckpointError: no weights found, an unknown format, or a malformed file.
        LimitError: a cap exceeded.
        CheckpointError: also a file that cannot be opened (``<file>: cannot be read (…)``).
    """
    path = Path(path)
    if path.is_dir():
        weights = find_weights(path)
        if weights is None:
            raise CheckpointError(
                f"{path.name or path}: no checkpoint files (.safetensors, .gguf, .onnx, .bin, .pt)", "folder"
            )
        check_link(weights, path.name or str(path), "folder", repr(weights.name), "the folder")
        path = weights
    kind = _kind_of(path.name) or _sniff(path)
    if kind is None:
        raise CheckpointError(f"{path.name}: not a checkpoint format paramcount reads", "unknown")
    return _reader(kind)(path), path


HEADER_KINDS: Final = ("safetensors", "gguf")
"""The formats whose header can be read from a file's first bytes alone (``read_header_bytes``)."""


def read_header_bytes(data: bytes, name: str) -> Checkpoint:
    """A ``.safetensors`` or ``.gguf`` checkpoint from its first bytes (an upload), read from memory: the header
    is validated as a file's is, except where the tensor data ends (the readers' header-only mode, ``size=None``:
    the data need not follow). ``name`` gives the format by its ending and names the file in messages.

    Raises:
        CheckpointError: ``name`` is not a safetensors or GGUF file, or a malformed or incomplete header.
        LimitError: a cap exceeded.
    """
    import io

    kind = _kind_of(name)
    if kind not in HEADER_KINDS:
        raise CheckpointError(f"{short(name)}: give the first bytes of a .safetensors or .gguf file", "unknown")
    if kind == "gguf":
        from paramcount.sources.gguf import read_gguf_header

        return read_gguf_header(io.BytesIO(data), label=name, size=None)
    from paramcount.sources.safetensors import read_safetensors_headers

    return read_safetensors_headers(None, [(name, data)], name)


def with_config_ties(checkpoint: Checkpoint, config_tree: Module) -> Checkpoint:
    """The checkpoint plus the tied tensors ``config_tree`` declares that the files leave out (a tied
    ``lm_head.weight`` is saved once, as ``model.embed_tokens.weight``), each marked as sharing its owner's
    storage, so the weights' tree lists the tie as the config's does."""
    by_name = {entry.name: entry for entry in checkpoint.entries}
    added: list[TensorEntry] = []
    owners: set[str] = set()
    for name, param in iter_params(config_tree, include_tied=True):
        owner = by_name.get(param.tied_to or "")
        if param.tied_to is None or name in by_name or owner is None or owner.shape != param.sizes:
            continue
        added.append(TensorEntry(name, owner.shape, owner.dtype, owner.num_bytes, owner.storage or owner.name))
        owners.add(owner.name)
    if not added:
        return checkpoint
    entries = tuple(
        replace(entry, storage=entry.name) if entry.name in owners and entry.storage is None else entry
        for entry in checkpoint.entries
    )
    return Checkpoint(checkpoint.format, entries + tuple(added), checkpoint.facts)


def _aligned(names: list[str], wanted: set[str], roots: set[str]) -> dict[str, str]:
    """Weight name → the name the config's tree would give it: as saved, or with one leading part added (a
    checkpoint of the base model, ``layers.0…`` for ``model.layers.0…``) or removed (a wrapper the config lacks),
    whichever matches the most names, as transformers' loading adds or strips ``base_model_prefix``."""
    firsts = {name.split(".", 1)[0] for name in names if "." in name}
    candidates: list[dict[str, str]] = [{name: name for name in names}]
    candidates += [{name: f"{root}.{name}" for name in names} for root in sorted(roots - firsts)]
    candidates += [
        {name: name.removeprefix(f"{first}.") if name.startswith(f"{first}.") else name for name in names}
        for first in sorted(firsts - roots)
    ]
    return max(candidates, key=lambda mapping: sum(target in wanted for target in mapping.values()))


def compare_with_config(checkpoint: Checkpoint, config_tree: Module) -> tuple[WeightDifference, ...]:
    """Every difference between the parameters ``config_tree`` declares and the checkpoint's model tensors
    (buffers left out): missing, extra, or of another shape; a tied parameter the file saves once is present when
    the tensor it is tied to is. Missing and shape differences in the config's order, then extras in the file's.
    """
    declared = {name: param for name, param in iter_params(config_tree, include_tied=True)}
    saved = [
        entry
        for entry in checkpoint.entries
        if entry.section == "model" and not entry.is_buffer and entry.name.rsplit(".", 1)[-1] not in BUFFER_NAMES
    ]
    roots = {child.name for child in config_tree.children}
    aligned = _aligned([entry.name for entry in saved], set(declared), roots)
    by_name = {aligned[entry.name]: entry for entry in saved}
    found: list[WeightDifference] = []
    for name, param in declared.items():
        entry = by_name.get(name)
        if entry is None:
            if param.tied_to is None or param.tied_to not in by_name:
                found.append(WeightDifference(name, "missing", param.sizes, None, None))
        elif entry.shape != param.sizes:
            found.append(WeightDifference(name, "shape", param.sizes, entry.shape, entry.dtype))
    found.extend(
        WeightDifference(entry.name, "extra", None, entry.shape, entry.dtype)
        for entry in saved
        if aligned[entry.name] not in declared
    )
    return tuple(found)
