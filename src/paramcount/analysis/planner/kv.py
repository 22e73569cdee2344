"""The KV cache as the runtimes keep it, layer type by layer type, and how many tokens fit beside the weights.

Each decoder layer caches two tensors per token (transformers 5.24, ``cache_utils.py``):

- attention with heads (MHA, GQA, MQA): keys ``[batch, kv_heads, tokens, head_dim]`` and values
  ``[batch, kv_heads, tokens, v_head_dim]``;
- a ``full_attention`` layer (``DynamicLayer``) keeps every token; a ``sliding_attention`` layer
  (``DynamicSlidingWindowLayer``) keeps the last ``window − 1`` tokens after each update
  (``full_key_states[:, :, -self.sliding_window + 1 :, :]``), so ``min(tokens, window − 1)`` after a prefill
  of ``tokens`` (and every token when the window is 1, where that slice is ``[-0:]``); Llama 4's
  ``chunked_attention`` layers are kept the same way, the chunk (``attention_chunk_size``) as the window
  (``DYNAMIC_LAYER_TYPE_MAPPING``: "from a cache point of view, sliding and chunked are the same");
- multi-head latent attention (DeepSeek-V2/V3): the compressed latent ``[batch, 1, tokens, kv_lora_rank]`` and
  the rotary key ``[batch, 1, tokens, qk_rope_head_dim]`` (``DeepseekV3Attention.forward``: "cache read /
  write is performed while latent KV is still compressed"); vLLM and SGLang keep the same
  ``kv_lora_rank + qk_rope_head_dim`` elements per token per layer, one copy on every tensor-parallel rank.
  transformers 4.x and DeepSeek's own ``modeling_deepseek.py`` cached the expanded form instead: per head,
  keys of ``qk_nope_head_dim + qk_rope_head_dim`` and values of ``v_head_dim`` (``expanded_latent_cache``).

A state-space or linear-attention layer (``linear_attention``: Mamba, Mamba-2, Jamba's Mamba layers, Qwen3-Next's
gated delta net) keeps two tensors that do not grow with the tokens (``LinearAttentionLayer``): the conv state, the
last ``conv_kernel`` inputs of its depthwise convolution, ``[batch, channels, conv_kernel]`` (a shorter prefill is
left-padded to the kernel) in the hidden states' dtype, and the recurrent state the scan ends with, in float32
(the scan runs on ``A = -exp(A_log.float())``, so does mamba_ssm's kernel): Mamba ``[batch, intermediate,
state_size]``, Mamba-2 ``[batch, heads, head_dim, state_size]``, the gated delta net ``[batch, value heads,
key_head_dim, value_head_dim]``. A ``hybrid`` layer (Falcon-H1: attention and a Mamba-2 mixer side by side,
``LinearAttentionAndFullAttentionLayer``) keeps both its keys and values and the two states.

An encoder-decoder (BART, T5, Whisper …) keeps an ``EncoderDecoderCache``: its decoder's self-attention cache as
above, growing with the target tokens, and a cross-attention cache holding the keys and values of the encoder's
output, ``[batch, heads, source positions, head_dim]`` per decoder layer, computed once at the prefill
(``cross_attention_cache``).

Bytes are exact for the layout stated. With tensor parallelism each device holds ⌈kv_heads / tp⌉ heads (and, an
estimate, ⌈1 / tp⌉ of each state's channels or heads); with pipeline parallelism the figure is the stage holding
the most cache (⌈layers / pp⌉ consecutive layers each).
"""

from __future__ import annotations

import math

from paramcount._record import Record, replace
from paramcount._words import noun
from paramcount.analysis.memory import Assumption, MemoryItem
from paramcount.dtypes import BITS, bytes_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final, Literal, TypeAlias

    from paramcount.analysis.shapes.propagate import FlowLink
    from paramcount.tree import Module

__all__ = [
    "CrossAttention",
    "KVCache",
    "KVCapacity",
    "KVLayerGroup",
    "StateGroup",
    "StateShapes",
    "StateTensor",
    "cross_attention",
    "cross_attention_cache",
    "expanded_latent_cache",
    "kv_cache",
    "kv_capacity",
    "latent_cache",
    "tokens_kept",
]

if TYPE_CHECKING:
    KVForm: TypeAlias = Literal["heads", "latent", "expanded"]

FULL: Final = "full_attention"
SLIDING: Final = "sliding_attention"
CHUNKED: Final = "chunked_attention"
LINEAR: Final = "linear_attention"
HYBRID: Final = "hybrid"
CROSS: Final = "cross_attention"
WINDOWED: Final = frozenset({SLIDING, CHUNKED})
"""Layer types whose cache keeps the last window − 1 tokens (``DynamicSlidingWindowLayer``)."""
RECURRENT_DTYPE: Final = "float32"
"""The dtype of a state-space layer's recurrent state, whatever the model's (``A_log.float()``)."""
TRANSFORMERS: Final = "transformers 5.24 DynamicCache after a prefill"
ENCODER_DECODER: Final = "transformers 5.24 EncoderDecoderCache after a prefill (self- and cross-attention)"
LATENT_RUNTIMES: Final = "transformers 5.24 DynamicCache, vLLM and SGLang (compressed latent and rotary key)"
EXPANDED_RUNTIMES: Final = "transformers 4.x and DeepSeek's modeling_deepseek.py (keys and values expanded per head)"
MAX_TOKENS: Final = 2**40
"""The largest context or batch searched for when asking what fits (PlanOptions' limit)."""


class KVLayerGroup(Record):
    """The layers of one type on one device, with what each keeps."""

    layer_type: str
    """``full_attention`` (with Falcon-H1's ``hybrid`` layers), ``sliding_attention``, Llama 4's
    ``chunked_attention``, or ``cross_attention`` (a decoder layer's cache of the encoder's output: ``tokens`` are
    the source positions)."""
    layers: int
    tokens: int
    """Tokens each of these layers keeps per sequence."""
    widths: tuple[int, int]
    """Elements per token per layer of the two cached tensors (keys and values, or latent and rotary key)."""
    bytes: int


class StateShapes(Record):
    """What one state-space or linear-attention mixer keeps per sequence, whatever the tokens."""

    mixer: str
    """The mixer's kind (``MambaMixer``, ``Mamba2Mixer``, ``Qwen3NextGatedDeltaNet`` …)."""
    conv: tuple[int, int]
    """The conv state: ``(channels, conv_kernel)``."""
    recurrent: tuple[int, ...]
    """The recurrent state: ``(intermediate, state)``, ``(heads, head_dim, state)`` or ``(value heads,
    key_head_dim, value_head_dim)``."""
    recurrent_name: str
    """What the recurrent state is called: ``SSM`` (Mamba) or ``recurrent`` (the gated delta net)."""


class StateTensor(Record):
    """One of the two states of a group of state-space layers: the conv state or the recurrent state."""

    name: str
    """``conv``, or what the recurrent state is called (``StateShapes.recurrent_name``)."""
    shape: tuple[int, ...]
    """Per layer: ``(batch, channels, conv_kernel)`` for the conv state, ``(batch, …)`` for the recurrent one."""
    dtype: str
    bits: int
    bytes: int
    """All the group's layers'."""


class StateGroup(Record):
    """The states of ``layers`` mixers on one device for ``batch`` sequences."""

    mixer: str
    layers: int
    conv: StateTensor
    recurrent: StateTensor
    exact: bool = True
    """False when tensor parallelism splits the states (an even split is assumed)."""

    @property
    def bytes(self) -> int:
        return self.conv.bytes + self.recurrent.bytes

    @property
    def items(self) -> tuple[MemoryItem, ...]:
        found = []
        for state in (self.conv, self.recurrent):
            sizes = " × ".join(f"{size:,}" for size in state.shape)
            label = f"{state.name} states, {_layers(self.layers, self.mixer)} × [{sizes}]"
            count = self.layers * math.prod(state.shape)
            found.append(MemoryItem(label, count, state.bits, state.bytes, category="kv_cache", exact=self.exact))
        return tuple(found)


class KVCache(Record):
    """The cache of ``batch`` sequences of ``seq_len`` tokens on one device, in ``dtype``."""

    form: KVForm
    runtime: str
    """Who keeps the cache in this form."""
    tensors: tuple[str, str]
    """What the two cached tensors are: ``("keys", "values")`` or the latent and the rotary key."""
    batch: int
    seq_len: int
    dtype: str
    bits: int
    window: int | None
    groups: tuple[KVLayerGroup, ...]
    assumptions: tuple[Assumption, ...] = ()
    """What the figure assumes, as data (``paramcount.render.assumptions`` writes the sentences)."""
    states: tuple[StateGroup, ...] = ()
    """The fixed-size states of the state-space and linear-attention layers."""

    @property
    def bytes(self) -> int:
        return sum(group.bytes for group in self.groups) + sum(state.bytes for state in self.states)

    @property
    def items(self) -> tuple[MemoryItem, ...]:
        """One line per cached tensor and layer type, then the states."""
        found = []
        for group in self.groups:
            kind = {SLIDING: "sliding-window", CHUNKED: "chunked-attention", CROSS: "decoder"}.get(
                group.layer_type, "full-attention"
            )
            cross = group.layer_type == CROSS
            what = noun(group.tokens, "encoder position" if cross else "token")
            what += " (cross-attention)" if cross else ""
            for tensor, width in zip(self.tensors, group.widths, strict=True):
                count = self.batch * group.layers * group.tokens * width
                label = f"KV cache {tensor}, {_layers(group.layers, kind)} × {group.tokens:,} {what}"
                found.append(MemoryItem(label, count, self.bits, bytes_for(count, self.bits), category="kv_cache"))
        return tuple(found) + tuple(item for state in self.states for item in state.items)


class KVCapacity(Record):
    """How much KV cache fits on one device beside everything else the plan puts there. An estimate."""

    accelerator: str
    memory_bytes: int
    other_bytes: int
    """The plan's per-device bytes without the KV cache (weights, buffers)."""
    free_bytes: int
    batch: int
    max_context: int | None
    """Longest context per sequence that fits with ``batch`` sequences; None: any length (the cache stops growing:
    every layer slides or keeps a fixed-size state)."""
    seq_len: int | None
    max_batch: int | None
    """Sequences of ``seq_len`` tokens that fit (None without ``seq_len``, or when any number fits)."""
    not_included: tuple[str, ...]
    bounded_by: tuple[str, ...] = ()
    """What keeps layers' caches from growing with the context: ``window`` (sliding or chunked layers), ``states``
    (state-space layers' fixed-size states); when ``max_context`` is None, why."""
    position_limit: int | None = None
    """The longest sequence the model's learned position tables hold, when the memory alone would allow a longer
    one: ``max_context`` is capped there (GPT-2's 1,024 rows of ``wpe``)."""
    configured_context: int | None = None
    """The config's ``max_position_embeddings`` when ``max_context`` goes beyond it: the memory would hold more
    than the context the model is configured for (rotary positions have no table to stop at; vLLM's default
    ``max_model_len`` is derived from it)."""

    @property
    def max_tokens(self) -> int | None:
        """Tokens cached in all: ``batch · max_context``."""
        return None if self.max_context is None else self.batch * self.max_context


def _layers(count: int, kind: str) -> str:
    """``1 full-attention layer``, ``4 full-attention layers``."""
    return f"{count} {kind} {noun(count, 'layer')}"


def tokens_kept(seq_len: int, layer_type: str, window: int | None) -> int:
    """Tokens a layer of ``layer_type`` keeps after a prefill of ``seq_len``: a sliding (or chunked) layer keeps
    ``states[-(window - 1):]`` (transformers 5.24), Python's slice: the last window − 1 tokens, all of them
    for a window of 1 (``[-0:]``), and all but the first 1 − window for a window below 1."""
    if layer_type not in WINDOWED or window is None:
        return seq_len
    keep = window - 1
    if keep > 0:
        return min(seq_len, keep)
    return max(seq_len + keep, 0) if keep < 0 else seq_len


def _stages(layer_types: tuple[str, ...], pp: int) -> list[tuple[str, ...]]:
    """The layer types of each pipeline stage: ⌈layers / pp⌉ consecutive layers each."""
    size = max(1, -(-len(layer_types) // pp))
    return [layer_types[start : start + size] for start in range(0, len(layer_types), size)] or [()]


def _groups(
    layer_types: tuple[str, ...], seq_len: int, window: int | None, widths: tuple[int, int], batch: int, bits: int
) -> tuple[KVLayerGroup, ...]:
    found = []
    for layer_type in (FULL, SLIDING, CHUNKED):
        layers = sum(1 for kind in layer_types if kind == layer_type or (kind == HYBRID and layer_type == FULL))
        if not layers:
            continue
        tokens = tokens_kept(seq_len, layer_type, window)
        size = sum(bytes_for(batch * layers * tokens * width, bits) for width in widths)
        found.append(KVLayerGroup(layer_type, layers, tokens, widths, size))
    return tuple(found)


def _types(layers: int, layer_types: tuple[str, ...] | None) -> tuple[str, ...]:
    if layer_types is not None and len(layer_types) == layers:
        return layer_types
    return (FULL,) * layers


def _window_note(cache: tuple[KVLayerGroup, ...], window: int | None, seq_len: int) -> list[Assumption]:
    windowed = next((group for group in cache if group.layer_type in WINDOWED), None)
    if windowed is None or window is None:
        return []
    return [
        Assumption.of(
            "kv-window",
            layers=windowed.layers,
            layer_type=windowed.layer_type,
            window=window,
            seq_len=seq_len,
            tokens=windowed.tokens,
        )
    ]


def _states(
    layer_types: tuple[str, ...], shapes: StateShapes | None, batch: int, dtype: str, tp: int
) -> tuple[StateGroup, ...]:
    """The states of the ``linear_attention`` and ``hybrid`` layers among ``layer_types``, ``dtype`` for the conv
    state; tensor parallelism takes ⌈1 / tp⌉ of the channels and of the recurrent state's heads."""
    layers = sum(1 for kind in layer_types if kind in (LINEAR, HYBRID))
    if shapes is None or not layers:
        return ()
    conv = (batch, -(-shapes.conv[0] // tp), shapes.conv[1])
    recurrent = (batch, -(-shapes.recurrent[0] // tp), *shapes.recurrent[1:])
    return (
        StateGroup(
            shapes.mixer,
            layers,
            _state_tensor("conv", conv, dtype, layers),
            _state_tensor(shapes.recurrent_name, recurrent, RECURRENT_DTYPE, layers),
            exact=tp == 1,
        ),
    )


def _state_tensor(name: str, shape: tuple[int, ...], dtype: str, layers: int) -> StateTensor:
    bits = BITS[dtype]
    return StateTensor(name, shape, dtype, bits, layers * bytes_for(math.prod(shape), bits))


def kv_cache(
    *,
    batch: int,
    seq_len: int,
    layers: int,
    kv_heads: int,
    head_dim: int,
    bits: int = 16,
    dtype: str = "bfloat16",
    value_head_dim: int | None = None,
    sliding_window: int | None = None,
    layer_types: tuple[str, ...] | None = None,
    states: StateShapes | None = None,
    state_dtype: str = "bfloat16",
    tp: int = 1,
    pp: int = 1,
) -> KVCache:
    """Keys and values cached for ``batch`` sequences of ``seq_len`` tokens: per layer batch · tokens kept ·
    kv_heads · (head_dim + v_head_dim) · bits/8 bytes (MHA: kv_heads = heads; GQA: fewer; MQA: 1).

    ``layer_types`` (one per layer, as transformers names them: ``full_attention``, ``sliding_attention`` or
    ``chunked_attention`` with ``sliding_window`` the window or chunk, ``linear_attention`` for a state-space
    layer, ``hybrid`` for both) say which layers keep only the window and which keep ``states`` (the conv state
    in ``state_dtype``, the recurrent state in float32) instead of or beside keys and values; without them every
    layer keeps every token."""
    value_dim = head_dim if value_head_dim is None else value_head_dim
    heads_here = -(-kv_heads // tp)
    widths = (heads_here * head_dim, heads_here * value_dim)
    stages = [
        (_groups(stage, seq_len, sliding_window, widths, batch, bits), _states(stage, states, batch, state_dtype, tp))
        for stage in _stages(_types(layers, layer_types), pp)
    ]
    groups, state_groups = max(
        stages, key=lambda found: sum(group.bytes for group in found[0]) + sum(state.bytes for state in found[1])
    )
    attention = sum(1 for kind in _types(layers, layer_types) if kind != LINEAR)
    assumptions = (
        [
            Assumption.of(
                "kv-cache",
                runtime=TRANSFORMERS,
                batch=batch,
                seq_len=seq_len,
                layers=attention,
                kv_heads=kv_heads,
                head_dim=head_dim,
                value_head_dim=value_dim,
                bits=bits,
                dtype=dtype,
            ),
            *_window_note(groups, sliding_window, seq_len),
        ]
        if attention
        else []
    )
    return KVCache(
        "heads",
        TRANSFORMERS,
        ("keys", "values"),
        batch,
        seq_len,
        dtype,
        bits,
        sliding_window,
        groups,
        tuple(assumptions),
        state_groups,
    )


def latent_cache(
    *,
    batch: int,
    seq_len: int,
    layers: int,
    kv_lora_rank: int,
    qk_rope_head_dim: int,
    bits: int = 16,
    dtype: str = "bfloat16",
    pp: int = 1,
) -> KVCache:
    """Multi-head latent attention's cache: ``kv_lora_rank + qk_rope_head_dim`` elements per token per layer,
    whatever the number of heads; tensor parallelism does not divide it (each rank keeps the whole latent)."""
    groups = _groups(_stages((FULL,) * layers, pp)[0], seq_len, None, (kv_lora_rank, qk_rope_head_dim), batch, bits)
    assumptions = (
        Assumption.of(
            "kv-latent",
            runtime=LATENT_RUNTIMES,
            batch=batch,
            seq_len=seq_len,
            layers=layers,
            kv_lora_rank=kv_lora_rank,
            qk_rope_head_dim=qk_rope_head_dim,
            bits=bits,
            dtype=dtype,
        ),
    )
    return KVCache(
        "latent",
        LATENT_RUNTIMES,
        (f"latent (kv_lora_rank {kv_lora_rank})", f"rotary key (qk_rope_head_dim {qk_rope_head_dim})"),
        batch,
        seq_len,
        dtype,
        bits,
        None,
        groups,
        assumptions,
    )


def expanded_latent_cache(
    *,
    batch: int,
    seq_len: int,
    layers: int,
    heads: int,
    key_head_dim: int,
    value_head_dim: int,
    bits: int = 16,
    dtype: str = "bfloat16",
    tp: int = 1,
    pp: int = 1,
) -> KVCache:
    """The same attention cached expanded per head, as transformers 4.x and DeepSeek's modelling code did: keys
    of ``qk_nope_head_dim + qk_rope_head_dim`` (``key_head_dim``) and values of ``v_head_dim`` for every head."""
    cache = kv_cache(
        batch=batch,
        seq_len=seq_len,
        layers=layers,
        kv_heads=heads,
        head_dim=key_head_dim,
        value_head_dim=value_head_dim,
        bits=bits,
        dtype=dtype,
        tp=tp,
        pp=pp,
    )
    note = Assumption.of(
        "kv-expanded",
        runtime=EXPANDED_RUNTIMES,
        heads=heads,
        key_head_dim=key_head_dim,
        value_head_dim=value_head_dim,
    )
    return KVCache(
        "expanded", EXPANDED_RUNTIMES, cache.tensors, batch, seq_len, dtype, bits, None, cache.groups, (note,)
    )


class CrossAttention(Record):
    """What an encoder-decoder's cross-attention caches, read from the model's dataflow (its key and value
    projections of the encoder's output)."""

    layers: int
    """Decoder layers with a cross-attention."""
    key_width: int
    value_width: int
    """Elements per source position per layer of the cached keys and values (heads · head_dim)."""
    source: int | None
    """Encoder positions cached: fixed by the model (Whisper's 1,500) or by a (batch, source, target) input; None:
    as many as the decoder's tokens (a text encoder-decoder read as (batch, tokens))."""


def cross_attention(tree: Module, input_shape: tuple[int, ...] | None = None) -> CrossAttention | None:
    """The cross-attention of ``tree`` on ``input_shape`` (default: one token), or None when nothing in it
    attends to an encoder's output. Found on the dataflow: each call made with the ``cross`` option, and its
    two children that read one tensor other than the call's input, the encoder's output (the key and value
    projections; the query projection reads the call's input, the output projection the attention's)."""
    from paramcount.analysis.shapes.propagate import propagate
    from paramcount.analysis.shapes.seq2seq import CROSS as CROSS_CALL
    from paramcount.analysis.shapes.seq2seq import SOURCE_AND_TARGET_INPUTS, SPEECH_INPUTS

    if tree.kind not in SOURCE_AND_TARGET_INPUTS | SPEECH_INPUTS:
        return None
    shape = input_shape or (1, 1)
    links: list[FlowLink] = []
    propagate(tree, shape, links=links)
    layers, widths, source = 0, (0, 0), 0
    for call in (link for link in links if CROSS_CALL in link.options):
        prefix = f"{call.path}."
        children = [link for link in links if link.path.startswith(prefix) and "." not in link.path[len(prefix) :]]
        memory = [
            link for link in children if link.input != call.input and [c.input for c in children].count(link.input) == 2
        ]
        if len(memory) != 2 or memory[0].output_shape is None or memory[1].output_shape is None:
            return None
        layers += call.times
        widths = (memory[0].output_shape[-1], memory[1].output_shape[-1])
        source = memory[0].input_shape[-2]
    if not layers:
        return None
    follows = len(shape) == 2 and source == shape[1]
    return CrossAttention(layers, *widths, None if follows else source)


def cross_attention_cache(
    decoder: KVCache, cross: CrossAttention, *, kv_heads: int | None, tp: int = 1, pp: int = 1
) -> KVCache:
    """``EncoderDecoderCache`` after a prefill: the decoder's self-attention ``decoder`` (its ``seq_len`` target
    tokens) and, per decoder layer, the encoder output's keys and values at the source length (the decoder's
    length where ``cross.source`` is None). ``kv_heads``: the cross-attention's heads, split over ``tp`` devices;
    None keeps each width whole on every device."""
    heads = kv_heads if kv_heads and cross.key_width % kv_heads == 0 and cross.value_width % kv_heads == 0 else 1
    source = decoder.seq_len if cross.source is None else cross.source
    encoder = kv_cache(
        batch=decoder.batch,
        seq_len=source,
        layers=cross.layers,
        kv_heads=heads,
        head_dim=cross.key_width // heads,
        value_head_dim=cross.value_width // heads,
        bits=decoder.bits,
        dtype=decoder.dtype,
        tp=tp,
        pp=pp,
    )
    note = Assumption.of(
        "kv-cross",
        runtime=ENCODER_DECODER,
        batch=decoder.batch,
        source=source,
        layers=cross.layers,
        key_width=cross.key_width,
        value_width=cross.value_width,
        source_given=cross.source is not None,
    )
    groups = tuple(replace(group, layer_type=CROSS) for group in encoder.groups)
    return replace(
        decoder, runtime=ENCODER_DECODER, groups=decoder.groups + groups, assumptions=(*decoder.assumptions, note)
    )


def _largest(fits: Callable[[int], bool]) -> int | None:
    """The largest n in 0..MAX_TOKENS with ``fits(n)`` (monotone: true up to some n), None when MAX_TOKENS fits."""
    if fits(MAX_TOKENS):
        return None
    low, high = 0, MAX_TOKENS
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


NOT_INCLUDED: Final = (
    "the activations and logits of the forward pass that reads the cache",
    "the CUDA/ROCm context and the runtime's reserve (vLLM uses gpu_memory_utilization=0.9 of the memory)",
    "allocator fragmentation and paged-cache block rounding",
)


def kv_capacity(
    *,
    accelerator: str,
    memory_bytes: int,
    other_bytes: int,
    batch: int,
    seq_len: int | None,
    cache_bytes: Callable[[int, int], int],
    bounded_by: tuple[str, ...] = (),
) -> KVCapacity:
    """The longest context per sequence (with ``batch`` sequences) and the most sequences of ``seq_len`` whose
    cache, ``cache_bytes(batch, tokens)`` per device, fits in the memory left beside ``other_bytes``; a cache that
    stops growing (``bounded_by``) fits any context once its fixed part fits."""
    free = memory_bytes - other_bytes
    context = _largest(lambda tokens: cache_bytes(batch, tokens) <= free) if free >= 0 else 0
    sequences = None
    if seq_len is not None:
        sequences = _largest(lambda count: cache_bytes(count, seq_len) <= free) if free >= 0 else 0
    return KVCapacity(
        accelerator, memory_bytes, other_bytes, free, batch, context, seq_len, sequences, NOT_INCLUDED, bounded_by
    )
