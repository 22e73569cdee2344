"""Transformer facts for activations and the KV cache: found from the tree's structure, or given explicitly.

``transformer_dimensions(root)`` reads the sizes from the shapes: the stack of repeated blocks, the
attention module in each block (recognised by its projections: separate q/k/v, a fused qkv, latent
attention's ``kv_b_proj``, or torch's ``MultiheadAttention``), the widths of its key and value projections,
and the head counts where a shape or an argument carries them (the ``Dim`` symbols of a config-built tree
record ``num_key_value_heads·head_dim``; ``MultiheadAttention`` has ``num_heads``). When the heads cannot be
known (a ``d_model × d_model`` projection says nothing about them) they are left ``None`` and said so.

State-space and linear-attention mixers in the same stack (``STATE_MIXERS``: Mamba, Mamba-2, Jamba's and
Falcon-H1's mixers, Qwen3-Next's gated delta net) give the sizes of the states their cache keeps, read from their
tensors: the depthwise ``conv1d`` (channels, kernel), ``A_log`` (Mamba: intermediate × state; the others: one per
head), ``out_proj``'s inputs (the heads' width), and where the tensors do not separate them the sizes a
config-built tree records (Mamba-2's ``n_groups``, Qwen3-Next's ``linear_num_key_heads``). ``cache_dimensions``
also answers for a stack of such mixers with no attention (Mamba).

``transformer_activations`` (and ``kv.kv_cache``) take the dimensions as explicit arguments, so callers
with a config in hand can use them directly.
"""

from __future__ import annotations

import math

from paramcount._cache import per_tree
from paramcount._record import Record, replace
from paramcount.analysis.memory import Assumption, MemoryBreakdown, MemoryItem
from paramcount.analysis.planner.weights import LINEAR_KINDS, output_heads
from paramcount.tree import Dim, Module, Param, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final, Literal, TypeAlias

    from paramcount.analysis.planner.kv import CrossAttention, StateShapes
    from paramcount.analysis.shapes.types import ShapeReport

__all__ = [
    "STATE_MIXERS",
    "MixerLayers",
    "TransformerDims",
    "VisionLayers",
    "cache_dimensions",
    "layer_kinds",
    "transformer_activations",
    "transformer_dimensions",
    "vision_layers",
]

SEPARATE_PROJECTIONS: Final = (
    ("q_proj", "k_proj", "v_proj"),
    ("query", "key", "value"),
    ("q", "k", "v"),
    ("wq", "wk", "wv"),
    ("q_lin", "k_lin", "v_lin"),
    ("attn_q", "attn_k", "attn_v"),
)
"""Child names of query/key/value projections, as the modelling code of torch and transformers spells them
(and llama.cpp's GGUF tensor names: ``blk.N.attn_q``)."""
FUSED_PROJECTIONS: Final = ("qkv_proj", "c_attn", "query_key_value", "Wqkv", "qkv", "W_pack", "attn_qkv")
OUTPUT_PROJECTIONS: Final = ("o_proj", "out_proj", "dense", "c_proj", "o", "wo", "out_lin", "attn_output")
HEAD_COUNT_KEYS: Final = frozenset(
    {
        "num_attention_heads",
        "num_heads",
        "n_head",
        "n_heads",
        "nhead",
        "encoder_attention_heads",
        "decoder_attention_heads",
    }
)
KV_HEAD_COUNT_KEYS: Final = frozenset(
    {"num_key_value_heads", "num_kv_heads", "n_head_kv", "n_kv_heads", "multi_query_group_num"}
)
HEAD_DIM_KEYS: Final = frozenset({"head_dim", "d_kv", "kv_channels", "attention_head_dim"})
STATE_MIXERS: Final[Mapping[str, str]] = {
    "MambaMixer": "mamba",
    "JambaMambaMixer": "mamba",
    "Mamba2Mixer": "mamba2",
    "FalconH1Mixer": "mamba2",
    "Qwen3NextGatedDeltaNet": "gated_delta_net",
}
"""The state-space and linear-attention mixers by kind, and the layout of their recurrent state: Mamba's
``[intermediate, state]``, Mamba-2's ``[heads, head_dim, state]``, the gated delta net's ``[value heads,
key_head_dim, value_head_dim]`` (transformers 5.24 ``modeling_<family>.py``)."""
GROUP_KEYS: Final = frozenset({"n_groups", "mamba_n_groups"})


class TransformerDims(Record):
    """The sizes activations and the KV cache need. ``key_width``/``value_width`` are the elements cached
    per token per layer (``kv_heads · head_dim`` for MHA/GQA/MQA)."""

    hidden: int
    layers: int
    heads: int | None
    kv_heads: int | None
    head_dim: int | None
    key_width: int
    value_width: int
    vocab: int | None = None
    stack: str = ""
    sliding_window: int | None = None
    """The window of the sliding layers, or Llama 4's ``attention_chunk_size`` for its chunked layers."""
    layer_types: tuple[str, ...] = ()
    """Each decoder layer's cache as transformers names it: ``full_attention``, ``sliding_attention``,
    ``chunked_attention``, ``linear_attention`` (a state-space mixer, no attention) or ``hybrid`` (both); empty:
    every layer is full attention. ``layers`` counts the layers with attention."""
    kv_lora_rank: int | None = None
    """Multi-head latent attention: the latent's width (its cache holds it and ``qk_rope_head_dim``)."""
    qk_rope_head_dim: int | None = None
    states: StateShapes | None = None
    """What each state-space or linear-attention mixer keeps (the layers typed ``linear_attention`` or
    ``hybrid``)."""
    cross: CrossAttention | None = None
    """An encoder-decoder's cross-attention (``kv.cross_attention``): the decoder layers also cache the encoder's
    keys and values."""
    notes: tuple[Assumption, ...] = ()
    """How the sizes were found and what was assumed."""

    @property
    def sliding_layers(self) -> int:
        """How many of the layers use the sliding window (0: none)."""
        return self.layer_types.count("sliding_attention")


class _Attention(Record):
    path: str
    times: int
    hidden: int
    query_width: int | None
    key_width: int
    value_width: int
    fused_width: int | None
    symbols: dict[str, int]
    latent: tuple[int, int] | None = None
    """Latent attention's ``(kv_lora_rank, qk_rope_head_dim)``."""
    holder: str = ""
    """The kind of the module the attention sits in (torch's ``TransformerEncoderLayer`` …)."""


def _symbol_values(dim: Dim) -> dict[str, int]:
    """Names and values in a Dim's arithmetic: ``num_key_value_heads·head_dim`` over ``8·128`` →
    ``{"num_key_value_heads": 8, "head_dim": 128}`` (the key's last dotted part)."""
    separators = "·/+-()² "
    symbol, numbers = dim.symbol, dim.arithmetic
    for separator in separators:
        symbol, numbers = symbol.replace(separator, " "), numbers.replace(separator, " ")
    names, values = symbol.split(), numbers.split()
    if len(names) != len(values):
        return {}
    return {
        name.rsplit(".", 1)[-1]: int(value)
        for name, value in zip(names, values, strict=True)
        if value.isdigit() and not name.isdigit()
    }


def _matrix(module: Module) -> tuple[int, int, Param] | None:
    """``(outputs, inputs, weight)`` of a linear module."""
    weight = next((param for param in module.params if param.name == "weight"), None)
    if module.kind not in LINEAR_KINDS or weight is None or len(weight.shape) != 2:
        return None
    rows, columns = weight.sizes
    return (columns, rows, weight) if LINEAR_KINDS[module.kind] == "in_out" else (rows, columns, weight)


def _subtree_symbols(module: Module) -> dict[str, int]:
    found: dict[str, int] = {}
    stack = [module]
    while stack:
        current = stack.pop()
        for tensor in current.params:
            for dim in tensor.shape:
                found.update(_symbol_values(dim))
        stack.extend(current.children)
    return found


def _attention(path: str, module: Module, times: int) -> _Attention | None:
    if module.kind == "MultiheadAttention":
        return _multihead(path, module, times)
    linear = {child.name: matrix for child in module.children if (matrix := _matrix(child)) is not None}
    symbols = _subtree_symbols(module)
    for query, key, value in SEPARATE_PROJECTIONS:
        if query in linear and key in linear and value in linear:
            q, k, v = linear[query], linear[key], linear[value]
            return _Attention(path, times, k[1], q[0], k[0], v[0], None, symbols)
    for fused in FUSED_PROJECTIONS:
        if fused in linear:
            width, hidden, _ = linear[fused]
            return _Attention(path, times, hidden, None, 0, 0, width, symbols)
    if "kv_b_proj" in linear and "kv_a_proj_with_mqa" in linear:
        return _latent(path, module, linear, times, symbols)
    return None


def _latent(
    path: str, module: Module, linear: dict[str, tuple[int, int, Param]], times: int, symbols: dict[str, int]
) -> _Attention:
    # DeepSeek-V2/V3 latent attention: per head, keys of qk_nope + qk_rope and values of v_head_dim are expanded
    # from a latent of kv_lora_rank (kv_b_proj's inputs) and a shared rotary key (the rest of kv_a_proj_with_mqa).
    query = linear.get("q_b_proj") or linear.get("q_proj")
    output = next((linear[name] for name in OUTPUT_PROJECTIONS if name in linear), None)
    key_width = query[0] if query is not None else linear["kv_b_proj"][0] // 2
    value_width = output[1] if output is not None else linear["kv_b_proj"][0] - key_width
    rank = linear["kv_b_proj"][1]
    rope = linear["kv_a_proj_with_mqa"][0] - rank
    latent = (rank, rope) if rope > 0 else None
    return _Attention(
        path, times, linear["kv_a_proj_with_mqa"][1], key_width, key_width, value_width, None, symbols, latent
    )


def _multihead(path: str, module: Module, times: int) -> _Attention | None:
    args = dict(module.args)
    embed, heads = args.get("embed_dim"), args.get("num_heads")
    if not isinstance(embed, int) or not isinstance(heads, int):
        return None
    return _Attention(path, times, embed, embed, embed, embed, None, {"num_heads": heads})


def _first(symbols: dict[str, int], keys: frozenset[str]) -> int | None:
    return next((value for name, value in symbols.items() if name in keys), None)


def _heads(attention: _Attention, attributes: Mapping[str, object]) -> tuple[int | None, int | None, int | None]:
    symbols = dict(attention.symbols)
    for key, value in attributes.items():
        if isinstance(value, int) and not isinstance(value, bool):
            symbols.setdefault(key, value)
    return _first(symbols, HEAD_COUNT_KEYS), _first(symbols, KV_HEAD_COUNT_KEYS), _first(symbols, HEAD_DIM_KEYS)


def _resolve(
    attention: _Attention, attributes: Mapping[str, object]
) -> tuple[int | None, int | None, int | None, int | None, int, int]:
    """``(heads, kv_heads, head_dim, query, key, value)`` with the fused split applied."""
    heads, kv_heads, head_dim = _heads(attention, attributes)
    key, value, query = attention.key_width, attention.value_width, attention.query_width
    if attention.fused_width is not None:
        fused = attention.fused_width
        if heads and not kv_heads and not head_dim and attention.hidden % heads == 0:
            head_dim = attention.hidden // heads  # the usual head size: hidden / heads
        if heads and head_dim and not kv_heads and fused % head_dim == 0 and (fused // head_dim - heads) % 2 == 0:
            kv_heads = (fused // head_dim - heads) // 2 or None
        if heads and kv_heads and fused % (heads + 2 * kv_heads) == 0:
            head_dim = head_dim or fused // (heads + 2 * kv_heads)
            query, key, value = heads * head_dim, kv_heads * head_dim, kv_heads * head_dim
        else:
            query = key = value = fused // 3
    if heads and not head_dim and query and query % heads == 0:
        head_dim = query // heads
    if head_dim and not kv_heads and key % head_dim == 0:
        kv_heads = key // head_dim
    return heads, kv_heads, head_dim, query, key, value


class _Stack(Record):
    """A container of numbered blocks: the first attention of each of its block runs, and each run's mixer."""

    path: str
    module: Module
    times: int
    attention: dict[str, _Attention]
    mixers: dict[str, Module]
    runs: dict[str, tuple[int, int]]
    """Each block run's path: its first block's index and its copies."""
    blocks: dict[str, Module]
    """Each block run's first block."""
    cross: set[str]
    """The block runs with a second attention after the first (an encoder-decoder's decoder: self-attention, then
    cross-attention over the encoder's output)."""


def _stacks(root: Module) -> list[_Stack]:
    """Each outermost container of numbered blocks with attention or a state-space mixer in its blocks."""
    stacks: dict[str, _Stack] = {}
    work: list[tuple[str, Module, int, str | None, str | None, str]] = [("", root, 1, None, None, "")]
    while work:
        path, module, times, stack, layer, holder = work.pop()
        if stack is not None and layer is not None:
            if module.kind in STATE_MIXERS:
                stacks[stack].mixers.setdefault(layer, module)
                continue
            attention = _attention(path, module, times)
            if attention is not None:
                if layer in stacks[stack].attention:
                    stacks[stack].cross.add(layer)
                stacks[stack].attention.setdefault(layer, replace(attention, holder=holder))
                continue
        for child in reversed(module.children):
            label = child.name if child.repeat == 1 else f"{child.name}-{int(child.name) + child.repeat - 1}"
            child_path = f"{path}.{label}" if path else label
            child_stack, child_layer = stack, layer
            if stack is None and child.name.isdigit():
                child_stack, child_layer = path, child_path
                found = stacks.setdefault(path, _Stack(path, module, times, {}, {}, {}, {}, set()))
                found.runs[child_path] = (int(child.name), child.repeat)
                found.blocks[child_path] = child
            work.append((child_path, child, times * child.repeat, child_stack, child_layer, module.kind))
    return [found for found in stacks.values() if found.attention or found.mixers]


def _state_shapes(mixer: Module) -> StateShapes | None:
    """What ``mixer`` keeps per sequence, or None when its tensors and recorded sizes do not say."""
    from paramcount.analysis.planner.kv import StateShapes

    conv = next((child for child in mixer.children if child.name == "conv1d"), None)
    out = next((_matrix(child) for child in mixer.children if child.name == "out_proj"), None)
    a_log = next((param.sizes for param in mixer.params if param.name == "A_log"), None)
    if conv is None or out is None or a_log is None or not conv.params or len(conv.params[0].sizes) != 3:
        return None
    channels, _, kernel = conv.params[0].sizes
    layout, width = STATE_MIXERS[mixer.kind], out[1]
    symbols = {**_subtree_symbols(mixer), **{k: v for k, v in mixer.attributes if isinstance(v, int)}}
    if layout == "mamba" and len(a_log) == 2:
        return StateShapes(mixer.kind, (channels, kernel), a_log, "SSM")
    heads = a_log[0]
    if layout == "mamba2":
        groups = _first(symbols, GROUP_KEYS)
        state, rest = divmod(channels - width, 2 * groups) if groups else (0, 1)
        if rest or state < 1 or width % heads:
            return None
        return StateShapes(mixer.kind, (channels, kernel), (heads, width // heads, state), "SSM")
    key_heads = symbols.get("linear_num_key_heads")
    key_width, rest = divmod(channels - width, 2)
    if not key_heads or rest or key_width % key_heads or width % heads:
        return None
    return StateShapes(mixer.kind, (channels, kernel), (heads, key_width // key_heads, width // heads), "recurrent")


def _cache_types(stack: _Stack) -> tuple[str, ...]:
    """Each block's cache type as transformers names it, in order: ``hybrid`` (attention and a mixer),
    ``linear_attention`` (a mixer) or ``full_attention``; blocks with neither keep nothing and are left out."""
    types: list[str] = []
    for run, (_, copies) in sorted(stack.runs.items(), key=lambda entry: entry[1]):
        attention, mixer = run in stack.attention, run in stack.mixers
        if attention or mixer:
            kind = "hybrid" if attention and mixer else "linear_attention" if mixer else "full_attention"
            types.extend([kind] * copies)
    return tuple(types)


def _vocab(root: Module, hidden: int) -> int | None:
    """The outputs of the output head reading ``hidden`` features (None: no language-model head)."""
    rows = [outputs for outputs, inputs in output_heads(root).values() if inputs == hidden]
    return max(rows) if rows else None


def _sliding(attributes: Mapping[str, object], layers: int) -> tuple[int | None, tuple[str, ...]]:
    """The window and each layer's type, from the root's ``sliding_window`` (or Llama 4's ``attention_chunk_size``)
    and ``layer_types`` (the HF door records them as transformers reads the config); without ``layer_types`` every
    layer slides."""
    window = attributes.get("sliding_window", attributes.get("attention_chunk_size"))
    if not isinstance(window, int) or isinstance(window, bool):
        return None, ()
    listed = attributes.get("layer_types")
    if isinstance(listed, tuple) and len(listed) == layers:
        return window, tuple(str(kind) for kind in listed)
    return window, ("sliding_attention",) * layers


@per_tree
def transformer_dimensions(root: Module) -> TransformerDims | None:
    """The transformer sizes of ``root``, or None when it has no stack of blocks with attention.

    With several stacks (encoder and decoder, vision and language) the one holding the most parameters is
    used (the decoder or language model, whose cache and activations dominate)."""
    stacks = [stack for stack in _stacks(root) if stack.attention]
    if not stacks:
        return None
    chosen = _language(root, stacks)
    path, found = chosen.path, list(chosen.attention.values())
    first = found[0]
    attributes = dict(root.attributes)
    heads, kv_heads, head_dim, _, key, value = _resolve(first, attributes)
    layers = sum(attention.times for attention in found)
    notes = []
    if len(stacks) > 1:
        notes.append(Assumption.of("several-stacks", path=path))
    if first.fused_width is not None and not (heads and kv_heads):
        notes.append(Assumption.of("fused-qkv"))
    if heads is None:
        notes.append(Assumption.of("heads-unrecorded"))
    if any((a.key_width, a.value_width) != (first.key_width, first.value_width) for a in found[1:]):
        notes.append(Assumption.of("sizes-differ"))
    window, layer_types = _sliding(attributes, layers)
    return TransformerDims(
        hidden=first.hidden,
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        key_width=key or 0,
        value_width=value or 0,
        vocab=_vocab(root, first.hidden),
        stack=path,
        sliding_window=window,
        layer_types=layer_types,
        kv_lora_rank=first.latent[0] if first.latent else None,
        qk_rope_head_dim=first.latent[1] if first.latent else None,
        notes=tuple(notes),
    )


def _size(stack: _Stack) -> int:
    return parameter_count(stack.module) * stack.times


def _language(root: Module, stacks: list[_Stack]) -> _Stack:
    """The stack whose attention is as wide as the output head's inputs (the language model, even beside a larger
    vision tower: LLaVA-OneVision-0.5B's SigLIP), of those the one that also attends to another's output (an
    encoder-decoder's decoder, even beside a deeper encoder: distil-whisper's 32 encoder and 2 decoder layers), the
    largest of those (or of all, without such a head)."""

    def rank(stack: _Stack) -> tuple[bool, bool, int]:
        return any(_vocab(root, a.hidden) for a in stack.attention.values()), bool(stack.cross), _size(stack)

    return max(stacks, key=rank)


@per_tree
def layer_kinds(root: Module) -> frozenset[str]:
    """The kinds of the modules that hold each layer's attention, and of each layer's state-space mixer, in the
    stack ``cache_dimensions`` reads (empty without a stack)."""
    stacks = _stacks(root)
    if not stacks:
        return frozenset()
    chosen = _language(root, stacks)
    return frozenset(a.holder for a in chosen.attention.values()) | {m.kind for m in chosen.mixers.values()}


@per_tree
def cache_dimensions(root: Module) -> TransformerDims | None:
    """``transformer_dimensions`` with what each decoder layer caches when the stack has state-space or
    linear-attention mixers (``layer_types`` and ``states``); for a stack of such mixers without attention
    (Mamba, Mamba-2), the sizes their states need, with no attention layers."""
    stacks = _stacks(root)
    dims = transformer_dimensions(root)
    if not stacks:
        return dims
    chosen = _language(root, stacks)
    mixers = list(chosen.mixers.values())
    if not mixers:
        return dims
    states = _state_shapes(mixers[0])
    notes = [] if states is not None else [Assumption.of("states-unknown", mixer=mixers[0].kind)]
    if any(_state_shapes(mixer) != states for mixer in mixers[1:]):
        notes.append(Assumption.of("states-differ"))
    types = _cache_types(chosen)
    if dims is not None and dims.stack == chosen.path:
        return replace(dims, layer_types=types, states=states, notes=dims.notes + tuple(notes))
    out = next((_matrix(child) for child in mixers[0].children if child.name == "out_proj"), None)
    hidden = out[0] if out is not None else 0
    return TransformerDims(
        hidden=hidden,
        layers=0,
        heads=None,
        kv_heads=None,
        head_dim=None,
        key_width=0,
        value_width=0,
        vocab=_vocab(root, hidden),
        stack=chosen.path,
        layer_types=types,
        states=states,
        notes=tuple(notes),
    )


class MixerLayers(Record):
    """The state-space or linear-attention mixers of the largest stack, for the activation estimate."""

    stack: str
    mixer: str
    """The first mixer's kind (``MambaMixer`` …)."""
    layers: int
    """Layers with a mixer and no attention."""
    hybrid: int
    """Layers with a mixer beside attention (Falcon-H1)."""
    feed_forward: int
    """Of the ``layers``, those with a feed-forward besides the mixer (Jamba, Qwen3-Next; not Mamba)."""
    width: int
    """Elements per token the mixer keeps in the estimate: its projections' inputs and its in-projections'
    outputs (the projections reading the hidden states)."""


def _mixer_width(mixer: Module) -> int:
    linears = [matrix for child in mixer.children if (matrix := _matrix(child)) is not None]
    hidden = next((_matrix(child) for child in mixer.children if child.name == "out_proj"), None)
    inputs = sum(columns for _, columns, _ in linears)
    return inputs + sum(rows for rows, columns, _ in linears if hidden is not None and columns == hidden[0])


def _has_feed_forward(block: Module) -> bool:
    """A child besides the mixer, the attention and the norms that holds weights."""
    return any(
        child.kind not in STATE_MIXERS
        and "Norm" not in child.kind
        and _attention(child.name, child, 1) is None
        and (child.params or child.children)
        for child in block.children
    )


@per_tree
def mixer_layers(root: Module) -> MixerLayers | None:
    """The state-space layers of the largest stack of blocks, or None when it has no such mixers."""
    stacks = _stacks(root)
    if not stacks:
        return None
    chosen = _language(root, stacks)
    if not chosen.mixers:
        return None
    layers = hybrid = feed_forward = 0
    for run, (_, copies) in chosen.runs.items():
        if run not in chosen.mixers:
            continue
        if run in chosen.attention:
            hybrid += copies
            continue
        layers += copies
        feed_forward += copies if _has_feed_forward(chosen.blocks[run]) else 0
    first = next(iter(chosen.mixers.values()))
    return MixerLayers(chosen.path, first.kind, layers, hybrid, feed_forward, _mixer_width(first))


class VisionLayers(Record):
    """An image tower's blocks beside the language model, as the shape walk runs them on one image per sequence
    (its tiles or frames as the processor cuts them), for the activation estimate."""

    stack: str
    layers: int
    seq_len: int
    """Tokens in one sequence of the tower's attention: an image's (or tile's) patches, or every image's as one
    sequence (Pixtral, Qwen-VL's towers)."""
    batch: int
    """Sequences the tower runs: the batch times the tiles or frames per image."""
    hidden: int
    heads: int | None


def vision_layers(root: Module, shapes: ShapeReport) -> tuple[VisionLayers, ...]:
    """The stacks of blocks with attention besides the language model's (a vision-language model's image towers),
    with the tokens their blocks receive in ``shapes``; a stack the walk does not reach is left out."""
    dims = transformer_dimensions(root)
    found = []
    for stack in _stacks(root):
        if dims is None or stack.path == dims.stack or not stack.attention:
            continue
        prefix = f"{stack.path}." if stack.path else ""
        rows = [
            row
            for row in shapes.modules
            if row.path.startswith(prefix) and "." not in row.path[len(prefix) :] and row.input_shape is not None
        ]
        if not rows or len(rows[0].input_shape or ()) < 2:
            continue
        *sequences, tokens, hidden = rows[0].input_shape or ()
        heads, _, _ = _heads(next(iter(stack.attention.values())), {})
        layers = sum(row.times for row in rows)
        found.append(VisionLayers(stack.path, layers, tokens, math.prod(sequences), hidden, heads))
    return tuple(found)


if TYPE_CHECKING:
    Recompute: TypeAlias = Literal["none", "selective", "full"]

KORTHIKANTI: Final = (
    "Korthikanti et al. 2022, Reducing Activation Recomputation in Large Transformer Models, §4 and Table 2: "
    "per layer sbh(34 + 5as/h) bytes in 16-bit without recomputation, sbh(10 + 24/t + 5as/(ht)) with tensor "
    "parallelism t, sbh·34/t with sequence parallelism and selective recomputation, 2sbh with full recomputation"
)


def transformer_activations(
    *,
    seq_len: int,
    batch: int,
    hidden: int,
    heads: int | None,
    layers: int,
    element_bytes: int = 2,
    recompute: Recompute = "none",
    tp: int = 1,
    sequence_parallel: bool = False,
    vocab: int | None = None,
    scores: bool = True,
    mixers: MixerLayers | None = None,
    vision: tuple[VisionLayers, ...] = (),
) -> MemoryBreakdown:
    """Activations kept for the backward pass, by Korthikanti et al. (2022) (``KORTHIKANTI``). An estimate.

    Per layer, in elements of ``element_bytes`` (2 in the paper) plus 1-byte dropout masks: 16·sbh + 2·as²b
    elements and 2·sbh + as²b mask bytes, i.e. sbh(16e + 2) + as²b(2e + 1) bytes: with e = 2 the paper's
    sbh(34 + 5as/h). With tensor parallelism t the layer norms, the dropout masks and the inputs of the QKV
    and first MLP projections (sbh(4e + 2)) stay whole and the rest divides by t; sequence parallelism
    divides everything by t. Selective recomputation drops the attention-score term (as²b); full
    recomputation keeps each layer's input (e·sbh) plus one layer's full set while it is recomputed.
    ``heads=None`` or ``scores=False`` leaves the attention-score term out (as kernels like FlashAttention
    do, which never store the s × s scores). With ``vocab`` the float32 logits the loss reads (4·s·b·v bytes,
    vocab split over t) are added. Pipeline parallelism with 1F1B keeps p micro-batches of L/p layers on the
    first stage: L layers' worth, so the figure does not change with pp.

    ``layers`` counts the layers with attention; ``mixers`` adds the stack's state-space layers (§4.1's split
    of the 34: attention 11·sbh, MLP 19·sbh, layer norms 4·sbh in 16-bit): a layer with a mixer and a
    feed-forward keeps the MLP and layer-norm terms, sbh(11e + 1), one with a mixer alone its norm's input,
    e·sbh; every mixer (hybrid layers' too) keeps e·sb·m, m its ``width``, not divided by t.

    ``vision`` adds each image tower's layers (``vision_layers``) as their own line, by the same per-layer formula
    with the tower's s, b, h and a."""
    sbh = seq_len * batch * hidden
    e = element_bytes
    per_layer = _layer_bytes(seq_len, batch, hidden, heads if scores else None, e, recompute, tp, sequence_parallel)
    if sequence_parallel:
        feed_forward = -(-sbh * (11 * e + 1) // tp)
        norm = -(-e * sbh // tp)
    else:
        feed_forward = sbh * (3 * e + 1) + -(-sbh * 8 * e // tp)
        norm = e * sbh
    towers = [
        (
            tower,
            tower.seq_len * tower.batch * tower.hidden,
            _layer_bytes(
                tower.seq_len,
                tower.batch,
                tower.hidden,
                tower.heads if scores else None,
                e,
                recompute,
                tp,
                sequence_parallel,
            ),
        )
        for tower in vision
    ]
    mixer = e * seq_len * batch * mixers.width if mixers is not None else 0
    kinds = [(layers, per_layer, "attention layers")]
    if mixers is not None:
        kinds = [
            (layers - mixers.hybrid, per_layer, "attention layers"),
            (mixers.hybrid, per_layer + mixer, "attention and state-space layers"),
            (mixers.feed_forward, feed_forward + mixer, "state-space layers with a feed-forward"),
            (mixers.layers - mixers.feed_forward, norm + mixer, "state-space layers"),
        ]
    kinds = [kind for kind in kinds if kind[0]]
    everything = sum(count for count, _, _ in kinds)
    items = []
    if recompute == "full":
        stored = e * sbh if not sequence_parallel else -(-(e * sbh) // tp)
        items.append(
            _activation(
                f"layer inputs kept for recomputation: {everything} layers × {e}·sbh",
                everything * sbh,
                everything * stored,
            )
        )
        for tower, tower_sbh, _ in towers:
            kept = e * tower_sbh if not sequence_parallel else -(-(e * tower_sbh) // tp)
            label = f"vision layer inputs kept for recomputation: {tower.layers} layers × {e}·sbh"
            items.append(_activation(label, tower.layers * tower_sbh, tower.layers * kept))
        largest = max([bytes_ for _, bytes_, _ in kinds] + [bytes_ for _, _, bytes_ in towers], default=0)
        items.append(_activation("one layer's activations while it is recomputed", sbh, largest))
    else:
        formula = "sbh(34 + 5as/h)" if e == 2 else f"sbh({16 * e + 2} + {2 * e + 1}as/h)"
        selective = ", selective recomputation" if recompute == "selective" else ""
        for count, bytes_, name in kinds:
            terms = {
                "attention layers": formula,
                "attention and state-space layers": f"({formula} + {e}·sbm)",
                "state-space layers with a feed-forward": f"({11 * e + 1}·sbh + {e}·sbm)",
                "state-space layers": f"({e}·sbh + {e}·sbm)",
            }
            label = f"{count} layers × {formula}" if mixers is None else f"{count} {name} × {terms[name]}"
            items.append(_activation(f"activations: {label}{selective}", count * sbh, count * bytes_))
        for tower, tower_sbh, bytes_ in towers:
            label = f"activations: {tower.layers} vision layers × {formula}{selective}"
            items.append(_activation(label, tower.layers * tower_sbh, tower.layers * bytes_))
    if vocab is not None:
        logits = seq_len * batch * vocab
        items.append(_activation("output logits for the loss (float32): 4·s·b·vocab", logits, -(-4 * logits // tp)))
    sizes = {"seq_len": seq_len, "batch": batch, "hidden": hidden, "heads": heads, "layers": layers}
    assumptions = [Assumption.of("activations-korthikanti", source=KORTHIKANTI, element_bytes=e, **sizes)]
    if (heads is None and layers) or (scores and any(tower.heads is None for tower in vision)):
        assumptions.append(Assumption.of("scores-left-out"))
    elif (layers or vision) and not scores:
        assumptions.append(Assumption.of("scores-not-kept"))
    if mixers is not None:
        values = {"layers": mixers.layers + mixers.hybrid, "mixer": mixers.mixer, "width": mixers.width}
        assumptions.append(Assumption.of("activations-mixers", element_bytes=e, **values))
    for tower in vision:
        values = {"seq_len": tower.seq_len, "batch": tower.batch, "hidden": tower.hidden, "heads": tower.heads}
        assumptions.append(Assumption.of("activations-vision", stack=tower.stack, layers=tower.layers, **values))
    return MemoryBreakdown(tuple(items), tuple(assumptions))


def _layer_bytes(
    seq_len: int,
    batch: int,
    hidden: int,
    heads: int | None,
    e: int,
    recompute: Recompute,
    tp: int,
    sequence_parallel: bool,
) -> int:
    """Bytes one attention layer keeps: sbh(16e + 2) + as²b(2e + 1), split by t as ``transformer_activations``
    says; ``heads=None`` leaves the score term out."""
    sbh = seq_len * batch * hidden
    whole, split = (0, sbh * (16 * e + 2)) if sequence_parallel else (sbh * (4 * e + 2), sbh * 12 * e)
    scores = heads * seq_len * seq_len * batch if heads is not None and recompute != "selective" else 0
    return whole + -(-(split + scores * (2 * e + 1)) // tp)


def _activation(label: str, count: int, bytes_: int) -> MemoryItem:
    return MemoryItem(label, count, 0, bytes_, category="activations", exact=False)
