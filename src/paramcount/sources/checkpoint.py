"""What every checkpoint reader returns, and the one function that turns its tensor list into the tree.

A reader (safetensors, GGUF, ONNX, PyTorch files) knows names, shapes, dtypes and bytes, not classes: it
returns a ``Checkpoint`` of ``TensorEntry`` records, and ``tree_from_entries`` groups the dotted names into
the same frozen ``Module`` tree every other door builds, so counts, the module table, the memory planner and
the JSON work on a file exactly as on a config:

- ``model.layers.0.self_attn.q_proj.weight`` becomes parameter ``weight`` of module ``q_proj`` inside
  ``self_attn`` inside child ``0`` of ``layers`` inside ``model``;
- numbered children are a ``ModuleList``, and consecutive identical numbered blocks are stored once with
  ``repeat`` (a 126-layer checkpoint stays a small tree);
- tensors that are state rather than weights (``BUFFER_NAMES``, or marked so by their format) are buffers;
- entries with the same ``storage`` (the same data saved under two names) become one parameter and ties;
- module kinds are inferred from the tensors, because a file has no classes: a module holding only a 2-d
  ``weight`` (and a 1-d ``bias`` of its first size) is a ``Linear``, an ``Embedding`` when its name says so or when
  its weight is tied to another module's, both outside numbered blocks (an input embedding tied to the output
  head, as weight tying shares them: the head is the one with a bias, else the one whose name does not say
  embedding, else the one saved second); numbered containers are ``ModuleList``; anything else is a ``Module``;
- each dimension's symbol is its size: a file has no names for its sizes.
"""

from __future__ import annotations

import math

from paramcount._record import Record, replace
from paramcount.errors import CheckpointError
from paramcount.limits import MAX_NAME_PARTS
from paramcount.provenance import SectionTotal
from paramcount.sources._bounded import short
from paramcount.tree import DTYPES_STATED, STORED_DATA, Buffer, Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Final, Literal, TypeAlias

    Section: TypeAlias = Literal["model", "optimizer", "other"]

__all__ = ["BUFFER_NAMES", "Checkpoint", "StoredBlock", "TensorEntry", "section_totals", "tree_from_entries"]

BUFFER_NAMES: Final = frozenset({"running_mean", "running_var", "num_batches_tracked", "inv_freq", "position_ids"})
"""Local tensor names that torch registers as buffers, not parameters: BatchNorm's running statistics and
counter (``_NormBase.register_buffer``), rotary ``inv_freq`` and BERT's ``position_ids`` (saved by older
transformers versions)."""

EMBEDDING_NAMES: Final = ("embed", "wte", "wpe", "token_embd", "shared")
"""Name parts of embedding tables (``embed_tokens``, ``word_embeddings``, GPT-2's ``wte``/``wpe``, GGUF's
``token_embd``, T5's ``shared``): a 2-d weight under such a name is an ``Embedding``, not a ``Linear``."""


class StoredBlock(Record):
    """A block of data a format saves once, whole, for every tensor that views it (a PyTorch storage)."""

    key: str
    """Its identity: tensors with the same key view the same block."""
    count: int
    """Its elements, in the dtype of the tensor that views it."""
    num_bytes: int


class TensorEntry(Record):
    """One tensor as a checkpoint header describes it (never its data)."""

    name: str
    """The dotted name as saved (``model.layers.0.mlp.up_proj.weight``)."""
    shape: tuple[int, ...]
    """In torch's order (GGUF's ``ne`` reversed)."""
    dtype: str
    """torch's spelling (``bfloat16``), or a quantised ggml type (``Q4_K``)."""
    num_bytes: int
    """Bytes of its data in the file."""
    storage: str | None = None
    """Identity of the data: entries with the same value hold the same data (a tensor saved twice, a tie);
    None: its own."""
    section: Section = "model"
    """Where a nested checkpoint kept it: the model's state, an optimizer's state, or anything else."""
    is_buffer: bool = False
    """Marked as state, not a weight, by its format (names in ``BUFFER_NAMES`` are buffers anyway)."""
    block: StoredBlock | None = None
    """The block its data is part of, when the format saves blocks that tensors view (a view saved beside its
    base, two slices of one tensor); None: its data is its own, ``num_bytes``."""


class Checkpoint(Record):
    """What a reader found: its format, the tensors, and facts from the header for the report."""

    format: str
    """``safetensors``, ``gguf``, ``onnx``, ``torch``."""
    entries: tuple[TensorEntry, ...]
    facts: tuple[tuple[str, str | int], ...] = ()
    """Header facts, e.g. ``("architecture", "llama")``, ``("files", 8)``, ``("header_bytes", 22_016)``."""


class _Node:
    """A module being grouped: its tensors and its children by name, in order of first appearance."""

    __slots__ = ("children", "tensors", "tied_embedding")

    def __init__(self) -> None:
        self.tensors: list[tuple[str, TensorEntry, str | None]] = []  # (local name, entry, tied_to)
        self.children: dict[str, _Node] = {}
        self.tied_embedding = False  # its weight is tied to a later module's (``_tied_embeddings``)

    def signature(self, known: dict[int, object]) -> object:
        """What makes two subtrees the same module but for their names (None: holds a tie, never the same as
        another); memoised in ``known`` by node, so a tree is walked once."""
        found = known.get(id(self), _UNKNOWN)
        if found is not _UNKNOWN:
            return found
        own = tuple((local, entry.shape, entry.dtype, entry.is_buffer) for local, entry, _ in self.tensors)
        children = tuple((name, child.signature(known)) for name, child in self.children.items())
        tied = any(tied_to is not None for _, _, tied_to in self.tensors)
        found = None if tied or any(signature is None for _, signature in children) else (own, children)
        known[id(self)] = found
        return found


_UNKNOWN = object()


def _ties(entries: Iterable[TensorEntry]) -> dict[str, str]:
    """Name → name of the first entry with the same storage (the later ones are ties, counted once)."""
    owners: dict[str, str] = {}
    tied: dict[str, str] = {}
    for entry in entries:
        if entry.storage is None:
            continue
        first = owners.setdefault(entry.storage, entry.name)
        if first != entry.name:
            tied[entry.name] = first
    return tied


def _tied_embeddings(tied: dict[str, str], names: set[str]) -> set[str]:
    """The weights that are an input embedding's because they are tied: of the weights that share one storage
    outside numbered blocks (a block's weight shared across layers is no embedding), the one an output head is
    tied to. A module with a bias is the head (an ``Embedding`` has none, as ``_kind`` says), and one whose name
    says embedding (``_says_embedding``) is the embedding already; else the first saved is, as a model registers
    its embedding before the head it ties to it. ``names``: every tensor's."""

    def outside_blocks(name: str) -> bool:
        *path, local = name.split(".")
        return local == "weight" and bool(path) and not any(_is_index(part) for part in path)

    groups: dict[str, list[str]] = {}
    for name, owner in tied.items():
        groups.setdefault(owner, [owner]).append(name)
    found: set[str] = set()
    for group in groups.values():
        shared = [name for name in group if outside_blocks(name)]
        unbiased = [name for name in shared if f"{name.removesuffix('weight')}bias" not in names]
        if len(shared) > 1 and unbiased and not any(_says_embedding(name.split(".")[-2]) for name in unbiased):
            found.add(unbiased[0])
    return found


def _grouped(entries: tuple[TensorEntry, ...], label: str, format: str) -> _Node:
    root = _Node()
    tied = _ties(entries)
    embeddings = _tied_embeddings(tied, {entry.name for entry in entries})
    for entry in entries:
        if not entry.name:
            alone = ": a tensor saved alone, not a state dict of named tensors" if format == "pytorch" else ""
            raise CheckpointError(f"{label}: a tensor of shape {entry.shape} has no name{alone}", format)
        *path, local = parts = entry.name.split(".")
        if len(parts) > MAX_NAME_PARTS or not all(parts):
            problem = f"more than {MAX_NAME_PARTS} dotted parts" if all(parts) else "an empty dotted part"
            raise CheckpointError(f"{label}: tensor name {short(entry.name)} has {problem}", format)
        node = root
        for part in path:
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node()
            node = child
        node.tensors.append((local, entry, tied.get(entry.name)))
        node.tied_embedding = node.tied_embedding or entry.name in embeddings
    return root


def _shape(entry: TensorEntry) -> tuple[Dim, ...]:
    return tuple(Dim.of(size, str(size)) for size in entry.shape)


def _kind(name: str, params: list[Param], buffers: list[Buffer], numbered: bool, tied_embedding: bool) -> str:
    if numbered:
        return "ModuleList"
    by_name = {param.name: param.sizes for param in params}
    weight, bias = by_name.get("weight"), by_name.get("bias")
    if buffers or weight is None or len(weight) != 2 or set(by_name) - {"weight", "bias"}:
        return "Module"
    if bias is not None and bias != weight[:1]:
        return "Module"
    if bias is None and (tied_embedding or _says_embedding(name)):
        return "Embedding"
    return "Linear"


def _says_embedding(name: str) -> bool:
    """Whether a module's name is an embedding table's (``EMBEDDING_NAMES``)."""
    lowered = name.lower()
    return any(part in lowered for part in EMBEDDING_NAMES)


def _is_index(name: str) -> bool:
    """An index of a ``ModuleList`` as torch writes it: ASCII digits, no leading zero."""
    return name.isascii() and name.isdigit() and (name == "0" or not name.startswith("0"))


def _module(name: str, node: _Node, known: dict[int, object]) -> Module:
    params: list[Param] = []
    buffers: list[Buffer] = []
    for local, entry, tied_to in node.tensors:
        if entry.is_buffer or local in BUFFER_NAMES:
            buffers.append(Buffer(local, _shape(entry), entry.dtype, tied_to))
        else:
            params.append(Param(local, _shape(entry), entry.dtype, tied_to))
    numbered = bool(node.children) and all(_is_index(child) for child in node.children)
    if numbered:
        children = _runs(sorted(node.children.items(), key=lambda item: int(item[0])), known)
    else:
        children = tuple(_module(child, grandchild, known) for child, grandchild in node.children.items())
    kind = _kind(name, params, buffers, numbered, node.tied_embedding)
    return Module(name, kind, params=tuple(params), buffers=tuple(buffers), children=children)


def _runs(ordered: list[tuple[str, _Node]], known: dict[int, object]) -> tuple[Module, ...]:
    """Numbered children, consecutive identical ones (same signature, consecutive numbers) built once as one
    child with ``repeat``: 80 decoder layers are one module built once."""
    found: list[Module] = []
    index = 0
    while index < len(ordered):
        name, node = ordered[index]
        signature = node.signature(known)
        end = index + 1
        while (
            signature is not None
            and end < len(ordered)
            and int(ordered[end][0]) == int(name) + (end - index)
            and ordered[end][1].signature(known) == signature
        ):
            end += 1
        module = _module(name, node, known)
        found.append(module if end == index + 1 else replace(module, repeat=end - index))
        index = end
    return tuple(found)


def tree_from_entries(checkpoint: Checkpoint, *, label: str, kind: str | None = None) -> Module:
    """The module tree of a checkpoint's model tensors (entries of other sections are left out).

    Args:
        checkpoint: what a reader found; children keep the order of first appearance, numbered children
            are ordered by number. Its facts become the root's attributes, with ``DTYPES_STATED``.
        label: the file's name, for messages.
        kind: the root's kind (default: the format's name).

    Returns:
        The frozen tree; names and shapes as saved, ties as ``tied_to``.

    Raises:
        CheckpointError: no tensors at all (an empty state dict, a pickled dict of plain values, a vocabulary-only
            GGUF), or a name with an empty part (``a..b``) or more than ``MAX_NAME_PARTS`` parts.
    """
    if not checkpoint.entries:
        raise CheckpointError(f"{label}: holds no tensors, so there is nothing to count", checkpoint.format)
    model = tuple(entry for entry in checkpoint.entries if entry.section == "model")
    root = _module("", _grouped(model, label, checkpoint.format), {})
    stored = _stored_data(model)
    held = ((STORED_DATA, stored),) if stored else ()
    return replace(root, kind=kind or checkpoint.format, attributes=(*checkpoint.facts, (DTYPES_STATED, True), *held))


def _stored_data(entries: tuple[TensorEntry, ...]) -> tuple[tuple[str, int, int], ...]:
    """``(dtype, elements, bytes)`` of the tensor data as the file holds it (each tie once, each block once,
    whole) when that is not each tensor's own data (``STORED_DATA``); else empty."""
    found: dict[str, list[int]] = {}
    ties: set[str] = set()
    blocks: set[str] = set()
    differs = False
    for entry in entries:
        if entry.storage is not None:
            if entry.storage in ties:
                continue
            ties.add(entry.storage)
        block = entry.block
        total = found.setdefault(entry.dtype, [0, 0])
        if block is None:
            total[0] += math.prod(entry.shape)
            total[1] += entry.num_bytes
            continue
        differs = differs or block.key in blocks or block.num_bytes != entry.num_bytes
        if block.key not in blocks:
            blocks.add(block.key)
            total[0] += block.count
            total[1] += block.num_bytes
    return tuple((dtype, count, size) for dtype, (count, size) in found.items()) if differs else ()


def section_totals(checkpoint: Checkpoint) -> tuple[SectionTotal, ...]:
    """The tensors outside the model's state, per optimizer state (by the last part of their names:
    ``optimizer.state.0.exp_avg`` is ``exp_avg``) and per other top-level key, in order of first appearance."""
    found: dict[tuple[str, str], list[int]] = {}
    for entry in checkpoint.entries:
        if entry.section == "model":
            continue
        parts = entry.name.split(".")
        group = parts[-1] if entry.section == "optimizer" else parts[0]
        total = found.setdefault((entry.section, group), [0, 0, 0])
        count = 1
        for size in entry.shape:
            count *= size
        total[0] += 1
        total[1] += count
        total[2] += entry.num_bytes
    return tuple(
        SectionTotal(section, group, tensors, count, size) for (section, group), (tensors, count, size) in found.items()
    )
