"""Whole-model facts: parameters outside embeddings, active parameters per token (mixture of experts),
a per-module table with repeated blocks collapsed, and the share of parameters by top-level block.

All walks use the collapsed tree (a block repeated 126 times is visited once), so a 405B-parameter model
is analysed in the time of one layer.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.tree import RAW_SHAPES, Module, iter_modules_collapsed, parameter_count

__all__ = [
    "Block",
    "ModuleRow",
    "RawModule",
    "active_parameters",
    "blocks",
    "embedding_parameters",
    "module_table",
    "raw_modules",
]

EMBEDDING_KINDS = frozenset(
    {
        "Embedding",
        "EmbeddingBag",
        # transformers 5.24 classes that subclass nn.Embedding, which num_parameters(exclude_embeddings=True)
        # excludes as it excludes nn.Embedding (an isinstance check); tests/analysis/test_structure.py checks each
        # is a subclass, and that every shipped config agrees with transformers' count.
        "BartLearnedPositionalEmbedding",
        "BartScaledWordEmbedding",
        "GemmaTextScaledWordEmbedding",
        "Gemma2TextScaledWordEmbedding",
        "Gemma3TextScaledWordEmbedding",
        "MarianSinusoidalPositionalEmbedding",
        "MBartLearnedPositionalEmbedding",
        "MBartScaledWordEmbedding",
        "OPTLearnedPositionalEmbedding",
        "PegasusSinusoidalPositionalEmbedding",
        "WhisperPositionalEmbedding",
    }
)
"""Kinds whose ``weight`` is an embedding table: torch's own and the transformers subclasses of
``nn.Embedding`` that the Hugging Face door builds."""


class ModuleRow(Record):
    """One module of the collapsed tree. ``times`` > 1 for a repeated block (``layers.0-31``): ``total``
    and ``own`` are per copy, so the block's share is ``total · times``."""

    path: str
    kind: str
    depth: int
    own: int
    total: int
    trainable: int
    times: int


def _attribute(module: Module, key: str) -> object:
    return dict(module.attributes).get(key)


def module_table(root: Module) -> tuple[ModuleRow, ...]:
    """Every module of the collapsed tree in ``named_modules()`` order."""
    rows = []
    for path, module, times in iter_modules_collapsed(root):
        rows.append(
            ModuleRow(
                path=path,
                kind=module.kind,
                depth=0 if not path else path.count(".") + 1,
                own=sum(p.count for p in module.params if p.tied_to is None),
                total=parameter_count(module) // module.repeat,
                trainable=parameter_count(module, trainable=True) // module.repeat,
                times=times,
            )
        )
    return tuple(rows)


def active_parameters(root: Module) -> int | None:
    """Parameters used for one token: experts that do not run are left out. ``None`` for dense models.

    A module marked ``num_experts=E, experts_per_token=k`` holds E identical experts (listed or fused), of
    which k run per token, so ``(E - k) / E`` of its parameters are inactive."""
    inactive = 0
    found = False
    for _, module, times in iter_modules_collapsed(root):
        experts, per_token = _attribute(module, "num_experts"), _attribute(module, "experts_per_token")
        if isinstance(experts, int) and isinstance(per_token, int) and experts > 0:
            found = True
            per_copy = parameter_count(module) // module.repeat
            inactive += times * per_copy * (experts - min(per_token, experts)) // experts
    return parameter_count(root) - inactive if found else None


def embedding_parameters(root: Module) -> int:
    """Parameters held by embedding tables (token, position …), tied copies excluded: the ``weight`` of every
    ``nn.Embedding`` (or subclass) module, as transformers' ``num_parameters(exclude_embeddings=True)`` leaves
    them out."""
    return sum(
        times * sum(p.count for p in module.params if p.tied_to is None and p.name == "weight")
        for _, module, times in iter_modules_collapsed(root)
        if module.kind in EMBEDDING_KINDS
    )


class Block(Record):
    """A top-level block for the share picture: its path, kind and all its parameters (× repeats)."""

    path: str
    kind: str
    parameters: int
    times: int


DOMINANT_SHARE = 0.9
"""A top-level child holding at least this share is opened up, so the picture shows its parts
(``model.embed_tokens``, ``model.layers.0-31``, ``model.norm``, ``lm_head``) rather than one bar."""


def _times(module: Module) -> int:
    """How many identical blocks ``module`` stands for: its repeat, or that of a list's single child."""
    if module.repeat > 1:
        return module.repeat
    if len(module.children) == 1 and not module.params:
        return module.children[0].repeat
    return 1


def blocks(root: Module) -> tuple[Block, ...]:
    """The root's children, the dominant one (if any) replaced by its own children."""
    total = parameter_count(root)
    found: list[Block] = []
    for child in root.children:
        count = parameter_count(child)
        if total and count >= DOMINANT_SHARE * total and child.children and child.repeat == 1:
            found.extend(_block(f"{child.name}.", grandchild) for grandchild in child.children)
        else:
            found.append(_block("", child))
    own = sum(p.count for p in root.params if p.tied_to is None)
    if own:
        found.insert(0, Block("(own parameters)", root.kind, own, 1))
    return tuple(found)


def _block(prefix: str, module: Module) -> Block:
    label = module.name if module.repeat == 1 else f"{module.name}-{int(module.name) + module.repeat - 1}"
    return Block(f"{prefix}{label}", module.kind, parameter_count(module), _times(module))


class RawModule(Record):
    """A module whose tensors keep raw shapes (no formulas): its collapsed path, kind and why."""

    path: str
    kind: str
    reason: str


def raw_modules(tree: Module) -> tuple[RawModule, ...]:
    """The modules a door marked with ``RAW_SHAPES`` (the live door, for classes it could not build)."""
    found = []
    for path, module, _times in iter_modules_collapsed(tree):
        reason = dict(module.attributes).get(RAW_SHAPES)
        if isinstance(reason, str):
            found.append(RawModule(path, module.kind, reason))
    return tuple(found)
