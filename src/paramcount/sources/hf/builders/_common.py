"""Building blocks shared by the Hugging Face builders, so every family names things the same way.

Dims use the config's key names as symbols (``hidden_size``, ``intermediate_size``, ``vocab_size``,
``num_key_value_heads·head_dim``), so a model's formula reads in the config's own words.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.tree import Buffer, Dim, Module, Param

__all__ = [
    "check_divisible",
    "check_padding_index",
    "config_dim",
    "config_flag",
    "config_layers",
    "conv",
    "embedding",
    "experts",
    "kvq_attention",
    "layer_norm",
    "linear",
    "module",
    "num_labels",
    "path_dim",
    "path_heads",
    "path_num_labels",
    "position_ids",
    "rms_norm",
    "stack",
    "tied_linear",
]


def module(
    name: str, kind: str, *children: Module, params: tuple[Param, ...] = (), buffers: tuple[Buffer, ...] = ()
) -> Module:
    """A custom (modelling-code) module: ``module("self_attn", "LlamaAttention", q_proj, k_proj, …)``."""
    return Module(name=name, kind=kind, params=params, buffers=buffers, children=children)


def linear(name: str, inputs: Dim, outputs: Dim, *, bias: bool, kind: str = "Linear") -> Module:
    """``nn.Linear(inputs, outputs, bias=bias)`` named ``name``: weight (outputs, inputs), bias (outputs,)."""
    params = [Param("weight", (outputs, inputs))]
    if bias:
        params.append(Param("bias", (outputs,)))
    return Module(name=name, kind=kind, params=tuple(params))


def tied_linear(name: str, inputs: Dim, outputs: Dim, tied_to: str, *, bias: bool = False) -> Module:
    """An output head whose weight is the input embedding's (``tie_word_embeddings``): counted once."""
    params = [Param("weight", (outputs, inputs), tied_to=tied_to)]
    if bias:
        params.append(Param("bias", (outputs,)))
    return Module(name=name, kind="Linear", params=tuple(params))


def embedding(
    name: str, count: Dim, width: Dim, *, kind: str = "Embedding", tied_to: str | None = None, trainable: bool = True
) -> Module:
    return Module(name=name, kind=kind, params=(Param("weight", (count, width), tied_to=tied_to, trainable=trainable),))


def conv(name: str, kind: str, inputs: Dim, outputs: Dim, kernel: tuple[Dim, ...], *, bias: bool) -> Module:
    """``nn.Conv1d``/``nn.Conv2d``: weight (outputs, inputs, *kernel), bias (outputs,)."""
    params = [Param("weight", (outputs, inputs, *kernel))]
    if bias:
        params.append(Param("bias", (outputs,)))
    return Module(name=name, kind=kind, params=tuple(params))


def position_ids(count: Dim) -> Buffer:
    """The non-persistent ``position_ids`` buffer, ``arange(count)`` of shape (1, count)."""
    return Buffer("position_ids", (Dim.constant(1), count), dtype="int64", persistent=False)


def kvq_attention(name: str, kind: str, width: Dim, *, key_bias: bool = True) -> Module:
    """Four ``width → width`` projections registered k, v, q, out (BartAttention, WhisperAttention, CLIPAttention,
    SiglipAttention); Whisper's ``k_proj`` has no bias."""
    return module(
        name,
        kind,
        linear("k_proj", width, width, bias=key_bias),
        linear("v_proj", width, width, bias=True),
        linear("q_proj", width, width, bias=True),
        linear("out_proj", width, width, bias=True),
    )


def layer_norm(name: str, width: Dim, *, bias: bool = True, kind: str = "LayerNorm") -> Module:
    params = [Param("weight", (width,))]
    if bias:
        params.append(Param("bias", (width,)))
    return Module(name=name, kind=kind, params=tuple(params))


def rms_norm(name: str, width: Dim, kind: str) -> Module:
    """The RMSNorm of most decoders (``LlamaRMSNorm``): a weight, no bias."""
    return Module(name=name, kind=kind, params=(Param("weight", (width,)),))


def stack(name: str, block: Module, count: int) -> Module:
    """``nn.ModuleList`` of ``count`` identical blocks, stored once with ``repeat=count`` (names 0…count-1)."""
    children = (replace(block, name="0", repeat=count),) if count else ()
    return Module(name=name, kind="ModuleList", children=children)


def experts(module: Module, count: int, per_token: int) -> Module:
    """Mark ``module`` as holding ``count`` experts of which ``per_token`` run for each token, whether it is a
    list of expert modules or fused 3-d expert tensors. The active-parameter analysis counts
    ``per_token / count`` of such a module's parameters as active."""
    return replace(module, attributes=(*module.attributes, ("num_experts", count), ("experts_per_token", per_token)))


def config_dim(config: Config, key: str, *overrides: str, default: int | Dim | None = None) -> Dim:
    """The size ``key`` as a Dim named by the key it was read from.

    ``overrides`` are other spellings transformers accepts that win over ``key`` when present (an
    ``attribute_map`` alias such as GPT-2's ``hidden_size`` for ``n_embd``, or a legacy key such as
    ``n_embed``); ``default`` (an int, or a Dim derived from other keys) applies when none is present or the
    value is null; without one the key is required and the error names ``key``."""
    for name in (*overrides, key):
        if config.has(name):
            return Dim.of(config.size(name), name)
    if default is None:
        return Dim.of(config.size(key), key)
    return default if isinstance(default, Dim) else Dim.of(default, key)


def config_layers(config: Config, key: str, *overrides: str) -> int:
    """A count of repeated blocks read like ``config_dim`` reads a size: the first of ``overrides`` present, else
    ``key`` (required)."""
    for name in (*overrides, key):
        if config.has(name):
            return config.layers(name)
    return config.layers(key)


def num_labels(config: Config) -> Dim:
    """transformers' ``config.num_labels``: the ``num_labels`` key when given (it wins over ``id2label``, as
    ``PreTrainedConfig.__post_init__`` sets it last), else the length of ``id2label``, else 2."""
    if config.has("num_labels"):
        return Dim.of(config.size("num_labels"), "num_labels")
    labels = config.raw("id2label")
    if labels is None:
        return Dim.of(2, "num_labels")
    if not isinstance(labels, dict) or not labels:
        raise config.fail("id2label", f"'{config.path('id2label')}' must be a non-empty object, got {labels!r:.40}")
    return Dim.of(len(labels), "num_labels")


def check_padding_index(config: Config, default: int | None, *tables: Dim) -> None:
    """Refuse a ``pad_token_id`` that ``nn.Embedding(count, width, padding_idx=pad_token_id)`` would reject
    (``-count <= padding_idx < count``) for each embedding table it is passed to."""
    value = config.raw("pad_token_id", default)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise config.fail("pad_token_id", f"'{config.path('pad_token_id')}' must be an integer, got {value!r:.40}")
    for table in tables:
        if not -table.value <= value < table.value:
            raise config.fail(
                "pad_token_id",
                f"'{config.path('pad_token_id')}' must index the {table.symbol} rows "
                f"(-{table.value:,} to {table.value - 1:,}), got {value:,}",
            )


def config_flag(config: Config, key: str, default: bool) -> bool:
    """A switch the modelling code tests for truth (``if config.bias:``): ``default`` when absent, false when
    written as null (``None`` is falsy there too)."""
    if key in config.data and config.data[key] is None:
        return False
    return config.flag(key, default)


def check_divisible(config: Config, width: Dim, heads: Dim) -> None:
    """Refuse what the attention modules refuse: a width (``hidden_size``) that the head count (``num_attention_heads``,
    both Dims named by their config keys) does not divide."""
    if width.value % heads.value:
        raise config.fail(
            heads.symbol,
            f"'{config.path(width.symbol)}' ({width.value:,}) must be divisible by "
            f"'{config.path(heads.symbol)}' ({heads.value:,})",
        )


# --- key-path variants, for builders that also read sub-configs (``text_config.hidden_size``) ----------------------
# They differ from config_dim / num_labels / check_divisible on purpose: the symbols are key paths, so a
# sub-config's sizes name their parent key in formulas and messages.


def path_dim(config: Config, key: str, default: int | None = None) -> Dim:
    """A size key as a Dim whose symbol is the key's path (``d_model``, ``text_config.hidden_size``)."""
    value = config.size(key) if default is None else config.size(key, default)
    return Dim.of(value, config.path(key))


def path_heads(config: Config, width: Dim, key: str) -> Dim:
    """The head count ``key`` (a ``path_dim``); refused, as transformers refuses it, when it does not divide
    ``width``."""
    heads = path_dim(config, key)
    if width.value % heads.value:
        raise config.fail(
            key,
            f"'{width.symbol}' ({width.value:,}) must be divisible by '{heads.symbol}' ({heads.value:,})",
        )
    return heads


def path_num_labels(config: Config, default: int = 2) -> Dim:
    """transformers' ``config.num_labels``: the ``num_labels`` key when given (it wins over ``id2label``), else
    ``len(id2label)``, else the config class's default (2; BartConfig says 3)."""
    if config.has("num_labels"):
        return Dim.of(config.size("num_labels", minimum=0), config.path("num_labels"))
    labels = config.raw("id2label")
    if labels is not None:
        if not isinstance(labels, dict):
            raise config.fail("id2label", f"'{config.path('id2label')}' must be an object, got {labels!r:.40}")
        return Dim.of(len(labels), f"len({config.path('id2label')})")
    return Dim.of(config.size("num_labels", default, minimum=0), config.path("num_labels"))
