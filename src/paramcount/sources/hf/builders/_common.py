"""Building blocks shared by the Hugging Face builders, so every family names things the same way.

Dims use the config's key names as symbols (``hidden_size``, ``intermediate_size``, ``vocab_size``,
``num_key_value_heads·head_dim``), so a model's formula reads in the config's own words.

Every ``torch.nn`` layer (``Linear``, ``Embedding``, ``LayerNorm``, convolutions, ``MultiheadAttention``) is built
by the layer catalog (``layers.build``), so it carries its constructor arguments as a layer from any other door
does; a transformers subclass of one (``FalconLinear``, ``BartScaledWordEmbedding``) keeps its own class name as
its kind. Modules of the modelling code itself (attention blocks, RMSNorms, GPT-2's ``Conv1D``) are ``module``s.
"""

from __future__ import annotations

from paramcount._record import Record, replace
from paramcount.layers import build
from paramcount.sources.hf._config import Config
from paramcount.tree import Buffer, Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, Literal, TypeAlias

    from paramcount.tree import Value

__all__ = [
    "Head",
    "LinearHead",
    "catalog_layer",
    "check_divisible",
    "check_padding_index",
    "class_names",
    "classification_head",
    "config_dim",
    "config_flag",
    "config_layers",
    "conv",
    "dense_norm",
    "embedding",
    "experts",
    "feed_forward",
    "head_classes",
    "kvq_attention",
    "layer_norm",
    "linear",
    "linear_head",
    "masked_lm_head",
    "mlp",
    "module",
    "multihead_attention",
    "num_labels",
    "path_dim",
    "path_heads",
    "path_num_labels",
    "position_ids",
    "qkv_projections",
    "rms_norm",
    "stack",
    "tie",
    "tied_linear",
    "vocab_projection",
    "word_position_embeddings",
]


def module(
    name: str, kind: str, *children: Module, params: tuple[Param, ...] = (), buffers: tuple[Buffer, ...] = ()
) -> Module:
    """A custom (modelling-code) module: ``module("self_attn", "LlamaAttention", q_proj, k_proj, …)``."""
    return Module(name=name, kind=kind, params=params, buffers=buffers, children=children)


def _catalog(
    name: str,
    layer: str,
    positional: tuple[Value, ...],
    keywords: dict[str, Value],
    names: dict[str, Dim],
    kind: str = "",
) -> Module:
    """The catalog's ``torch.nn.<layer>(*positional, **keywords)`` named ``name``, with its arguments, its shapes
    in the config's words and ``kind`` (a transformers subclass such as ``FalconLinear``) when given.

    ``names`` maps a symbol the catalog gives a dimension (its argument's name, ``in_features``) to the config's
    Dim of the same size (``hidden_size``), so formulas read in the config's keys."""
    # Built layers are kept (pure functions of immutable values, as zoo/models/_blocks.py keeps its own): a
    # config's q/k/v or gate/up projections are often one layer, and a config counted again reuses them all.
    # The key holds each Dim as its fields but the value (which is among the arguments): plain values hash
    # faster than records. Each argument is always given as one type, so equal keys are equal layers.
    items = tuple(keywords.items())
    dims = tuple((arg, dim.symbol, dim.arithmetic, dim.operator) for arg, dim in names.items())
    key = (layer, positional, items, kind, dims)
    built = _BUILT.get(key)
    if built is None:
        if len(_BUILT) >= _KEPT:
            _BUILT.clear()
        built = _named(build(layer, positional, items), names)
        _BUILT[key] = built = replace(built, kind=kind) if kind else built
    return Module(name, built.kind, built.args, built.params, built.buffers, built.children)


_KEPT: Final = 1024
_BUILT: dict[tuple[object, ...], Module] = {}


def _named(module: Module, names: dict[str, Dim]) -> Module:
    """``module`` with each dimension the catalog named ``symbol`` replaced by ``names[symbol]``, children too."""
    params = tuple(
        replace(param, shape=tuple(names.get(dim.symbol, dim) for dim in param.shape)) for param in module.params
    )
    return replace(module, params=params, children=tuple(_named(child, names) for child in module.children))


def tie(module: Module, **owners: str) -> Module:
    """``module`` whose tensors named in ``owners`` share storage with the tensor at the dotted path given (an
    output head reusing the input embedding, ``tie_word_embeddings``): counted once."""
    params = tuple(
        replace(param, tied_to=owners[param.name]) if param.name in owners else param for param in module.params
    )
    return replace(module, params=params)


def linear(name: str, inputs: Dim, outputs: Dim, *, bias: bool, kind: str = "") -> Module:
    """``nn.Linear(inputs, outputs, bias=bias)`` named ``name`` (``kind``: a subclass such as ``FalconLinear``)."""
    names = {"in_features": inputs, "out_features": outputs}
    return _catalog(name, "Linear", (inputs.value, outputs.value), {"bias": bias}, names, kind)


def tied_linear(name: str, inputs: Dim, outputs: Dim, tied_to: str, *, bias: bool = False) -> Module:
    """An output head whose weight is the input embedding's (``tie_word_embeddings``): counted once."""
    return tie(linear(name, inputs, outputs, bias=bias), weight=tied_to)


def vocab_projection(
    config: Config, name: str, inputs: Dim, vocab: Dim, *, bias: bool, tied: dict[str, str], tie_default: bool = True
) -> Module:
    """``nn.Linear(inputs, vocab, bias=bias)`` named ``name``, an output layer onto the vocabulary whose tensors named
    in ``tied`` share storage with the tensors at the paths given (the word embedding's weight, a head's own bias)
    when ``tie_word_embeddings`` (default ``tie_default``; null unties) holds."""
    layer = linear(name, inputs, vocab, bias=bias)
    return tie(layer, **tied) if config_flag(config, "tie_word_embeddings", tie_default) else layer


def lm_head(config: Config, hidden: Dim, vocab: Dim, tied_to: str, *, tie_default: bool) -> Module:
    """``lm_head = nn.Linear(hidden, vocab, bias=False)``, tied to ``tied_to`` when ``tie_word_embeddings``
    (default ``tie_default``; null unties) holds."""
    return vocab_projection(
        config, "lm_head", hidden, vocab, bias=False, tied={"weight": tied_to}, tie_default=tie_default
    )


def masked_lm_head(
    config: Config,
    name: str,
    kind: str,
    hidden: Dim,
    width: Dim,
    vocab: Dim,
    tied: dict[str, str],
    *,
    transform: str = "",
) -> Module:
    """The masked-LM prediction head of BERT and its kin, ``kind``: a dense (hidden → width) and LayerNorm transform,
    a ``decoder`` (width → vocab) and the head's own ``bias`` (vocab,), the decoder's tensors tied as ``tied`` says
    (``vocab_projection``).

    ``transform`` names the class of a ``transform`` module holding the dense and LayerNorm (BERT's
    ``predictions.transform.dense``, DeBERTa's legacy head); without one (RoBERTa, MPNet) ``dense`` and
    ``layer_norm`` sit in the head itself."""
    decoder = vocab_projection(config, "decoder", width, vocab, bias=True, tied=tied)
    dense, own_bias = linear("dense", hidden, width, bias=True), (Param("bias", (vocab,)),)
    if transform:
        nested = module("transform", transform, dense, layer_norm("LayerNorm", width))
        return module(name, kind, nested, decoder, params=own_bias)
    return module(name, kind, dense, layer_norm("layer_norm", width), decoder, params=own_bias)


def embedding(
    name: str, count: Dim, width: Dim, *, kind: str = "", tied_to: str | None = None, trainable: bool = True
) -> Module:
    """``nn.Embedding(count, width)`` (``kind``: a subclass such as ``BartScaledWordEmbedding``); ``trainable=False``
    for a table the model freezes with ``requires_grad_(False)``."""
    names = {"num_embeddings": count, "embedding_dim": width}
    table = _catalog(name, "Embedding", (count.value, width.value), {}, names, kind)
    if not trainable:
        table = replace(table, params=tuple(replace(param, trainable=False) for param in table.params))
    return table if tied_to is None else tie(table, weight=tied_to)


def conv(
    name: str, layer: str, inputs: Dim, outputs: Dim, kernel: tuple[Dim, ...], *, bias: bool, **keywords: Value
) -> Module:
    """``nn.Conv1d``/``nn.Conv2d``/``nn.Conv3d(inputs, outputs, kernel, bias=bias, **keywords)`` (``stride``,
    ``padding``, ``groups``)."""
    sizes = tuple(size.value for size in kernel)
    kernel_names = ("kernel_d", "kernel_h", "kernel_w")[-len(kernel) :] if len(kernel) > 1 else ("kernel_size",)
    groups = keywords.get("groups", 1)
    per_group = inputs // Dim.of(groups, "groups") if isinstance(groups, int) and groups != 1 else inputs
    names = {"in_channels/groups": per_group, "out_channels": outputs, **dict(zip(kernel_names, kernel, strict=True))}
    return _catalog(name, layer, (inputs.value, outputs.value, sizes), {"bias": bias, **keywords}, names)


def patchify(name: str, channels: Dim, hidden: Dim, patch: Dim, *, bias: bool, **keywords: Value) -> Module:
    """``nn.Conv2d(channels, hidden, patch_size, stride=patch_size)``: a vision tower's patch embedding, one
    vector per square of pixels (``keywords``: ``padding``)."""
    return conv(name, "Conv2d", channels, hidden, (patch, patch), bias=bias, stride=patch.value, **keywords)


def mlp(
    name: str,
    kind: str,
    hidden: Dim,
    inner: Dim,
    *,
    names: tuple[str, str] = ("fc1", "fc2"),
    bias: bool = True,
    linear_kind: str = "",
) -> Module:
    """The MLP of two linear layers, ``names[0]`` (hidden → inner) then ``names[1]`` (inner → hidden), both with
    ``bias`` (``linear_kind``: a ``Linear`` subclass such as ``FalconLinear``)."""
    up, down = names
    return module(
        name,
        kind,
        linear(up, hidden, inner, bias=bias, kind=linear_kind),
        linear(down, inner, hidden, bias=bias, kind=linear_kind),
    )


def catalog_layer(name: str, layer: str, *positional: Dim, names: tuple[str, ...], **keywords: Value) -> Module:
    """Any other catalog layer, ``torch.nn.<layer>(*positional, **keywords)`` (``GroupNorm``, ``BatchNorm1d``), its
    dimensions named by the Dims given: ``names`` holds the catalog's symbol for each positional argument."""
    values = tuple(dim.value for dim in positional)
    return _catalog(name, layer, values, keywords, dict(zip(names, positional, strict=True)))


def position_ids(count: Dim) -> Buffer:
    """The non-persistent ``position_ids`` buffer, ``arange(count)`` of shape (1, count)."""
    return Buffer("position_ids", (Dim.constant(1), count), dtype="int64", persistent=False)


def word_position_embeddings(kind: str, vocab: Dim, positions: Dim, width: Dim) -> Module:
    """``embeddings`` of word and position tables (no token types) and a LayerNorm, all ``width`` wide, with the
    ``position_ids`` buffer: DistilBERT's ``Embeddings``, ``MPNetEmbeddings``."""
    return module(
        "embeddings",
        kind,
        embedding("word_embeddings", vocab, width),
        embedding("position_embeddings", positions, width),
        layer_norm("LayerNorm", width),
        buffers=(position_ids(positions),),
    )


def dense_norm(name: str, kind: str, inputs: Dim, hidden: Dim) -> Module:
    """BERT's output block (``BertSelfOutput``, ``BertOutput``): ``dense`` (inputs → hidden), then the
    ``LayerNorm`` over the residual sum."""
    return module(name, kind, linear("dense", inputs, hidden, bias=True), layer_norm("LayerNorm", hidden))


def feed_forward(prefix: str, hidden: Dim, intermediate: Dim) -> tuple[Module, Module]:
    """BERT's feed-forward as a layer registers it: ``intermediate`` (``<prefix>Intermediate``: ``dense``, hidden →
    intermediate) then ``output`` (``<prefix>Output``: ``dense_norm`` back to hidden)."""
    up = module("intermediate", f"{prefix}Intermediate", linear("dense", hidden, intermediate, bias=True))
    return up, dense_norm("output", f"{prefix}Output", intermediate, hidden)


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


def qkv_projections(hidden: Dim, queries: Dim, keys: Dim, *, bias: bool) -> list[Module]:
    """``q_proj`` (hidden → queries), then ``k_proj`` and ``v_proj`` (hidden → keys): the projections most
    attentions register before their output projection."""
    return [
        linear("q_proj", hidden, queries, bias=bias),
        linear("k_proj", hidden, keys, bias=bias),
        linear("v_proj", hidden, keys, bias=bias),
    ]


def layer_norm(name: str, width: Dim, *, affine: bool = True, bias: bool = True) -> Module:
    """``nn.LayerNorm(width, elementwise_affine=affine, bias=bias)``: weight and bias, none without ``affine``."""
    keywords: dict[str, Value] = (
        {"elementwise_affine": affine} if bias else {"elementwise_affine": affine, "bias": False}
    )
    return _catalog(name, "LayerNorm", (width.value,), keywords, {"normalized_shape": width})


def multihead_attention(name: str, width: Dim, heads: Dim) -> Module:
    """``nn.MultiheadAttention(width, heads, batch_first=True)``, its ``out_proj`` keeping torch's class name."""
    names = {"embed_dim": width, "3·embed_dim": 3 * width, "in_features": width, "out_features": width}
    attention = _catalog(name, "MultiheadAttention", (width.value, heads.value), {"batch_first": True}, names)
    children = tuple(replace(child, kind="NonDynamicallyQuantizableLinear") for child in attention.children)
    return replace(attention, children=children)


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


# --- heads: which class is which head, and the heads that are one linear layer -----------------------------------

if TYPE_CHECKING:
    Head: TypeAlias = Literal[
        "base",
        "causal_lm",
        "masked_lm",
        "double_heads",
        "pretraining",
        "next_sentence",
        "sequence_classification",
        "token_classification",
        "multiple_choice",
        "question_answering",
    ]
    """What a model class puts on its base model; a family maps each class name to one."""

_SUFFIXES: Final = {
    "causal_lm": "ForCausalLM",
    "masked_lm": "ForMaskedLM",
    "pretraining": "ForPreTraining",
    "next_sentence": "ForNextSentencePrediction",
    "sequence_classification": "ForSequenceClassification",
    "token_classification": "ForTokenClassification",
    "multiple_choice": "ForMultipleChoice",
    "question_answering": "ForQuestionAnswering",
}


def head_classes(prefix: str, heads: tuple[Head, ...], **names: str) -> tuple[tuple[str, Head], ...]:
    """``(class name, head)`` for the base model ``<prefix>Model`` and each of ``heads``, named ``<prefix>`` and
    the usual suffix (``ForCausalLM``) unless ``names`` gives the class (GPT-2's ``causal_lm="GPT2LMHeadModel"``)."""
    return ((f"{prefix}Model", "base"), *((names.get(head) or f"{prefix}{_SUFFIXES[head]}", head) for head in heads))


def class_names(classes: tuple[tuple[str, Head], ...]) -> tuple[str, ...]:
    """The class names of a ``head_classes`` table, for ``model_type(architectures=...)``."""
    return tuple(name for name, _ in classes)


class LinearHead(Record):
    """A head that is one ``nn.Linear`` from the model's width: its attribute name, its bias (fixed, or a config
    switch and its default) and its outputs (``num_labels`` when None)."""

    name: str
    bias: bool | tuple[str, bool]
    outputs: int | None = None


def classification_head(name: str, kind: str, width: Dim, labels: Dim) -> Module:
    """The sentence classifier of RoBERTa, ELECTRA, BART and T5 (``<Family>ClassificationHead``): ``dense`` (width
    → width), then ``out_proj`` (width → labels), both biased."""
    return module(name, kind, linear("dense", width, width, bias=True), linear("out_proj", width, labels, bias=True))


def linear_head(head: LinearHead, config: Config, width: Dim) -> Module:
    outputs = num_labels(config) if head.outputs is None else Dim.constant(head.outputs)
    bias = head.bias if isinstance(head.bias, bool) else config_flag(config, *head.bias)
    return linear(head.name, width, outputs, bias=bias)


# --- reading the config --------------------------------------------------------------------------------------------


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


def image_classifier(config: Config, width: Dim) -> Module:
    """An image classifier's ``classifier``: ``nn.Linear(width, num_labels) if num_labels > 0 else nn.Identity()``
    (ViT, DINOv2, SigLIP)."""
    labels = path_num_labels(config)
    if labels.value == 0:
        return module("classifier", "Identity")
    return linear("classifier", width, labels, bias=True)


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
