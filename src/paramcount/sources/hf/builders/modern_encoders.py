"""Encoders with their own attention: DeBERTa-v2/v3, MPNet and ModernBERT.

Each builder mirrors ``transformers`` 5.24 (``models/<type>/modeling_<type>.py``): the same parameter names in the
same order, checked against transformers on the meta device. Keys the config class declares take its defaults when
the config is read (``_defaults.py``); keys the modelling code reads with ``getattr(config, key, default)`` and the
class does not declare (DeBERTa's ``position_buckets``, ``share_att_key``, ``embedding_size``, ``conv_kernel_size``
…) take that default here.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders import _common as common
from paramcount.tree import Buffer, Dim, Module, Param

__all__: list[str] = []

_ONE = Dim.constant(1)

_ENCODER_HEADS: tuple[common.Head, ...] = (
    "masked_lm",
    "sequence_classification",
    "multiple_choice",
    "token_classification",
    "question_answering",
)


# --- DeBERTa-v2 / v3 (model_type "deberta-v2") ------------------------------------------------------------------


def _attention_types(config: Config) -> list[str]:
    """``pos_att_type``: a list, or a ``"p2c|c2p"`` string split and lowered as ``DebertaV2Config`` does."""
    raw = config.raw("pos_att_type")
    if raw is None:
        return []
    if isinstance(raw, str):
        return [part.strip() for part in raw.lower().split("|")]
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        return list(raw)
    raise config.fail("pos_att_type", f"'{config.path('pos_att_type')}' must be a string or a list of strings")


def _relative_norms(config: Config) -> list[str]:
    """``norm_rel_ebd``: ``"layer_norm"`` adds a LayerNorm over the relative embeddings (``"none"`` by default)."""
    raw = config.raw("norm_rel_ebd", "none")
    if not isinstance(raw, str):
        raise config.fail("norm_rel_ebd", f"'{config.path('norm_rel_ebd')}' must be a string, got {raw!r:.40}")
    return [part.strip() for part in raw.lower().split("|")]


def _relative_positions(config: Config) -> Dim:
    """Rows of ``rel_embeddings``: twice ``position_buckets`` when positive, else twice ``max_relative_positions``
    (``max_position_embeddings`` when below 1)."""
    buckets = config.raw("position_buckets", -1)
    if isinstance(buckets, int) and not isinstance(buckets, bool) and buckets > 0:
        return 2 * common.config_dim(config, "position_buckets")
    span = config.raw("max_relative_positions", -1)
    if isinstance(span, int) and not isinstance(span, bool) and span >= 1:
        return 2 * common.config_dim(config, "max_relative_positions")
    return 2 * common.config_dim(config, "max_position_embeddings")


def _deberta_attention(config: Config, hidden: Dim, heads: Dim) -> Module:
    """``DebertaV2Attention``: ``DisentangledSelfAttention`` (query/key/value projections, and the position
    projections of ``c2p``/``p2c`` unless ``share_att_key``) and its output."""
    common.check_divisible(config, hidden, heads)
    head_size = common.config_dim(config, "attention_head_size", default=hidden // heads)
    width = heads * head_size
    projections = [common.linear(name, hidden, width, bias=True) for name in ("query_proj", "key_proj", "value_proj")]
    shared = common.config_flag(config, "share_att_key", False)
    relative = common.config_flag(config, "relative_attention", False)
    types = _attention_types(config) if relative else []
    if relative and not shared:
        if "c2p" in types:
            projections.append(common.linear("pos_key_proj", hidden, width, bias=True))
        if "p2c" in types:
            projections.append(common.linear("pos_query_proj", hidden, width, bias=True))
    output = common.dense_norm("output", "DebertaV2SelfOutput", hidden, hidden)
    # What its forward does with the relative embeddings, for the shape rule (analysis/shapes/modern_encoders.py).
    attention = common.module("self", "DisentangledSelfAttention", *projections)
    attention = replace(attention, attributes=(("share_att_key", shared), ("pos_att_type", tuple(types))))
    return common.module("attention", "DebertaV2Attention", attention, output)


def _deberta_model(config: Config, width: Dim) -> Module:
    """``DebertaV2Model``: embeddings of width ``embedding_size`` (``hidden_size`` by default, projected when it
    differs), the layers, then the encoder's relative embeddings, their LayerNorm and the optional ``ConvLayer``."""
    hidden = common.config_dim(config, "hidden_size")
    heads = common.config_dim(config, "num_attention_heads")
    vocab = common.config_dim(config, "vocab_size")
    positions = common.config_dim(config, "max_position_embeddings")
    common.check_padding_index(config, 0, vocab)
    tables = [common.embedding("word_embeddings", vocab, width)]
    if common.config_flag(config, "position_biased_input", True):
        tables.append(common.embedding("position_embeddings", positions, width))
    if config.size("type_vocab_size", 0, minimum=0) > 0:
        tables.append(common.embedding("token_type_embeddings", common.config_dim(config, "type_vocab_size"), width))
    if width.value != hidden.value:
        tables.append(common.linear("embed_proj", width, hidden, bias=False))
    embeddings = common.module(
        "embeddings",
        "DebertaV2Embeddings",
        *tables,
        common.layer_norm("LayerNorm", hidden),
        buffers=(common.position_ids(positions),),
    )
    intermediate = common.config_dim(config, "intermediate_size")
    layer = common.module(
        "0",
        "DebertaV2Layer",
        _deberta_attention(config, hidden, heads),
        *common.feed_forward("DebertaV2", hidden, intermediate),
    )
    parts = [common.stack("layer", layer, common.config_layers(config, "num_hidden_layers"))]
    if common.config_flag(config, "relative_attention", False):
        parts.append(common.embedding("rel_embeddings", _relative_positions(config), hidden))
    if "layer_norm" in _relative_norms(config):
        parts.append(common.layer_norm("LayerNorm", hidden))
    if config.size("conv_kernel_size", 0, minimum=0) > 0:
        kernel = common.config_dim(config, "conv_kernel_size")
        groups = config.size("conv_groups", 1)
        if hidden.value % groups:
            raise config.fail("conv_groups", f"'{config.path('conv_groups')}' must divide 'hidden_size'")
        convolution = common.conv(
            "conv", "Conv1d", hidden, hidden, (kernel,), bias=True, padding=(kernel.value - 1) // 2, groups=groups
        )
        parts.append(common.module("conv", "ConvLayer", convolution, common.layer_norm("LayerNorm", hidden)))
    return common.module("deberta", "DebertaV2Model", embeddings, common.module("encoder", "DebertaV2Encoder", *parts))


_DEBERTA_CLASSES = common.head_classes("DebertaV2", _ENCODER_HEADS)


def _deberta_masked_lm(config: Config, hidden: Dim, width: Dim) -> Module:
    """The masked-LM head: with ``legacy`` (the default) ``cls.predictions`` (a transform to ``embedding_size`` and a
    decoder tied to the word embedding, its bias to the head's own); otherwise ``lm_predictions.lm_head``, which
    multiplies by the word embedding in ``forward`` and holds no decoder."""
    vocab = common.config_dim(config, "vocab_size")
    own_bias = (Param("bias", (vocab,)),)
    if not common.config_flag(config, "legacy", True):
        head = common.module(
            "lm_head",
            "DebertaV2LMPredictionHead",
            common.linear("dense", hidden, hidden, bias=True),
            common.layer_norm("LayerNorm", hidden),
            params=own_bias,
        )
        return common.module("lm_predictions", "DebertaV2OnlyMLMHead", head)
    tied = {"weight": "deberta.embeddings.word_embeddings.weight", "bias": "cls.predictions.bias"}
    transform = "LegacyDebertaV2PredictionHeadTransform"
    kind = "LegacyDebertaV2LMPredictionHead"
    predictions = common.masked_lm_head(config, "predictions", kind, hidden, width, vocab, tied, transform=transform)
    return common.module("cls", "LegacyDebertaV2OnlyMLMHead", predictions)


@model_type("deberta-v2", architectures=common.class_names(_DEBERTA_CLASSES), default="DebertaV2Model")
def deberta_v2(config: Config, architecture: str) -> Module:
    """DeBERTa-v2 and v3 (``modeling_deberta_v2.py``): disentangled attention over relative positions
    (``rel_embeddings``: twice ``position_buckets`` rows), position projections unless ``share_att_key``, a
    ``ContextPooler`` (``pooler_hidden_size``) under the sequence and multiple-choice classifiers."""
    head = dict(_DEBERTA_CLASSES)[architecture]
    hidden = common.config_dim(config, "hidden_size")
    width = common.config_dim(config, "embedding_size", default=hidden)
    base = _deberta_model(config, width)
    if head == "base":
        return base
    if head == "masked_lm":
        return common.module("", architecture, base, _deberta_masked_lm(config, hidden, width))
    if head in ("sequence_classification", "multiple_choice"):
        pooled = common.config_dim(config, "pooler_hidden_size", default=hidden)
        pooler = common.module("pooler", "ContextPooler", common.linear("dense", pooled, pooled, bias=True))
        outputs = _ONE if head == "multiple_choice" else common.num_labels(config)
        return common.module("", architecture, base, pooler, common.linear("classifier", hidden, outputs, bias=True))
    name = "qa_outputs" if head == "question_answering" else "classifier"
    return common.module("", architecture, base, common.linear(name, hidden, common.num_labels(config), bias=True))


# --- MPNet (model_type "mpnet") -----------------------------------------------------------------------------------


def _mpnet_model(config: Config, hidden: Dim, *, pooler: bool) -> Module:
    """``MPNetModel``: word and position tables padded at index 1 (fixed), BERT-like layers whose attention is
    ``attn`` (q, k, v, o) with its LayerNorm beside it, and one relative-position bias table per head."""
    heads = common.config_dim(config, "num_attention_heads")
    common.check_divisible(config, hidden, heads)
    vocab = common.config_dim(config, "vocab_size")
    positions = common.config_dim(config, "max_position_embeddings")
    for table in (vocab, positions):
        if table.value < 2:
            raise config.fail(table.symbol, f"'{config.path(table.symbol)}' must be at least 2 (row 1 is padding)")
    embeddings = common.word_position_embeddings("MPNetEmbeddings", vocab, positions, hidden)
    intermediate = common.config_dim(config, "intermediate_size")
    projections = (common.linear(name, hidden, hidden, bias=True) for name in ("q", "k", "v", "o"))
    attention = common.module(
        "attention",
        "MPNetAttention",
        common.module("attn", "MPNetSelfAttention", *projections),
        common.layer_norm("LayerNorm", hidden),
    )
    layer = common.module(
        "0",
        "MPNetLayer",
        attention,
        *common.feed_forward("MPNet", hidden, intermediate),
    )
    buckets = common.config_dim(config, "relative_attention_num_buckets")
    encoder = common.module(
        "encoder",
        "MPNetEncoder",
        common.stack("layer", layer, common.config_layers(config, "num_hidden_layers")),
        common.embedding("relative_attention_bias", buckets, heads),
    )
    children = [embeddings, encoder]
    if pooler:
        children.append(common.module("pooler", "MPNetPooler", common.linear("dense", hidden, hidden, bias=True)))
    return common.module("mpnet", "MPNetModel", *children)


_MPNET_CLASSES = common.head_classes("MPNet", _ENCODER_HEADS)


@model_type("mpnet", architectures=common.class_names(_MPNET_CLASSES), default="MPNetModel")
def mpnet(config: Config, architecture: str) -> Module:
    """MPNet (``modeling_mpnet.py``): RoBERTa-like heads (an ``lm_head`` whose decoder is tied to the word
    embedding and its bias to the head's own; a two-layer classification head); only the base model and the
    multiple-choice class build the pooler."""
    head = dict(_MPNET_CLASSES)[architecture]
    hidden = common.config_dim(config, "hidden_size")
    base = _mpnet_model(config, hidden, pooler=head in ("base", "multiple_choice"))
    if head == "base":
        return base
    if head == "masked_lm":
        tied = {"weight": "mpnet.embeddings.word_embeddings.weight", "bias": "lm_head.bias"}
        vocab = common.config_dim(config, "vocab_size")
        top = common.masked_lm_head(config, "lm_head", "MPNetLMHead", hidden, hidden, vocab, tied)
    elif head == "sequence_classification":
        top = common.classification_head("classifier", "MPNetClassificationHead", hidden, common.num_labels(config))
    elif head == "multiple_choice":
        top = common.linear("classifier", hidden, _ONE, bias=True)
    else:
        name = "qa_outputs" if head == "question_answering" else "classifier"
        top = common.linear(name, hidden, common.num_labels(config), bias=True)
    return common.module("", architecture, base, top)


# --- ModernBERT (model_type "modernbert") -------------------------------------------------------------------------


def _modernbert_layer_types(config: Config, layers: int) -> list[str]:
    """``layer_types`` as written, else every ``global_attn_every_n_layers``-th layer (3 by default) global."""
    listed = config.raw("layer_types")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed) or len(listed) != layers:
            raise config.fail(
                "layer_types", f"'{config.path('layer_types')}' must list one string per layer ({layers})"
            )
        return list(listed)
    every = config.size("global_attn_every_n_layers", 3)
    return ["sliding_attention" if index % every else "full_attention" for index in range(layers)]


def _modernbert_layer(config: Config, hidden: Dim, heads: Dim, *, first: bool) -> Module:
    """``ModernBertEncoderLayer``: ``attn_norm`` (an ``Identity`` in layer 0), fused ``Wqkv`` attention, the gated
    MLP's fused ``Wi`` (2·``intermediate_size``) and ``Wo``."""
    norm_bias = common.config_flag(config, "norm_bias", False)
    attention_bias = common.config_flag(config, "attention_bias", False)
    mlp_bias = common.config_flag(config, "mlp_bias", False)
    intermediate = common.config_dim(config, "intermediate_size")
    attention = common.module(
        "attn",
        "ModernBertAttention",
        common.linear("Wqkv", hidden, 3 * hidden, bias=attention_bias),
        common.linear("Wo", hidden, hidden, bias=attention_bias),
    )
    mlp = common.module(
        "mlp",
        "ModernBertMLP",
        common.linear("Wi", hidden, 2 * intermediate, bias=mlp_bias),
        common.linear("Wo", intermediate, hidden, bias=mlp_bias),
    )
    norm = common.module("attn_norm", "Identity") if first else common.layer_norm("attn_norm", hidden, bias=norm_bias)
    return common.module(
        "0", "ModernBertEncoderLayer", norm, attention, common.layer_norm("mlp_norm", hidden, bias=norm_bias), mlp
    )


def _modernbert_model(config: Config, hidden: Dim) -> Module:
    """``ModernBertModel``: embeddings and their norm, the layers, ``final_norm``, and rotary buffers per attention
    type in use (``full_attention_inv_freq`` …, ``head_dim``/2 each)."""
    heads = common.config_dim(config, "num_attention_heads")
    common.check_divisible(config, hidden, heads)
    vocab = common.config_dim(config, "vocab_size")
    common.check_padding_index(config, 50283, vocab)
    norm_bias = common.config_flag(config, "norm_bias", False)
    count = common.config_layers(config, "num_hidden_layers")
    embeddings = common.module(
        "embeddings",
        "ModernBertEmbeddings",
        common.embedding("tok_embeddings", vocab, hidden),
        common.layer_norm("norm", hidden, bias=norm_bias),
    )
    layers: tuple[Module, ...] = ()
    if count:
        layers = (_modernbert_layer(config, hidden, heads, first=True),)
    if count > 1:
        layers += (replace(_modernbert_layer(config, hidden, heads, first=False), name="1", repeat=count - 1),)
    head_dim = common.config_dim(config, "head_dim", default=hidden // heads)
    length = Dim.of((head_dim.value + 1) // 2, f"{head_dim.symbol}/2")
    buffers = tuple(
        Buffer(f"{layer_type}_{name}", (length,), persistent=False)
        for layer_type in sorted(set(_modernbert_layer_types(config, count)))
        for name in ("inv_freq", "original_inv_freq")
    )
    return common.module(
        "model",
        "ModernBertModel",
        embeddings,
        Module(name="layers", kind="ModuleList", children=layers),
        common.layer_norm("final_norm", hidden, bias=norm_bias),
        common.module("rotary_emb", "ModernBertRotaryEmbedding", buffers=buffers),
    )


_MODERNBERT_CLASSES = common.head_classes("ModernBert", _ENCODER_HEADS)


@model_type("modernbert", architectures=common.class_names(_MODERNBERT_CLASSES), default="ModernBertModel")
def modernbert(config: Config, architecture: str) -> Module:
    """ModernBERT (``modeling_modernbert.py``): pre-norm layers without biases by default, alternating global and
    sliding-window attention with rotary positions; every head class adds a ``ModernBertPredictionHead`` (dense,
    norm); the masked-LM ``decoder`` is tied to the token embedding."""
    head = dict(_MODERNBERT_CLASSES)[architecture]
    hidden = common.config_dim(config, "hidden_size")
    base = _modernbert_model(config, hidden)
    if head == "base":
        return base
    prediction = common.module(
        "head",
        "ModernBertPredictionHead",
        common.linear("dense", hidden, hidden, bias=common.config_flag(config, "classifier_bias", False)),
        common.layer_norm("norm", hidden, bias=common.config_flag(config, "norm_bias", False)),
    )
    if head == "masked_lm":
        vocab = common.config_dim(config, "vocab_size")
        bias = common.config_flag(config, "decoder_bias", True)
        tied = {"weight": "model.embeddings.tok_embeddings.weight"}
        decoder = common.vocab_projection(config, "decoder", hidden, vocab, bias=bias, tied=tied)
        return common.module("", architecture, base, prediction, decoder)
    outputs = _ONE if head == "multiple_choice" else common.num_labels(config)
    return common.module("", architecture, base, prediction, common.linear("classifier", hidden, outputs, bias=True))
