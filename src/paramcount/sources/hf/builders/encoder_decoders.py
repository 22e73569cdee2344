"""Encoder-decoder families: T5, BART and Whisper.

Each builder mirrors the modelling code of transformers 5.24 (``models/<type>/modeling_<type>.py``): the same
module names, the same registration order (so ``iter_params`` lists what ``named_parameters()`` lists) and the
same ties. Facts of that version worth knowing, each checked against transformers on the meta device:

- ``T5Config`` forces ``tie_word_embeddings=True`` whatever the file says, so ``lm_head`` and both
  ``embed_tokens`` are always the ``shared`` embedding (flan-t5's ``"tie_word_embeddings": false`` only turns
  off the output rescaling now);
- T5's ``relative_attention_bias`` lives in the first block of each stack only, so a stack is block ``0`` plus
  block ``1`` repeated ``num_layers - 1`` times;
- BART's learned positions hold ``max_position_embeddings + 2`` rows (the fairseq offset);
- Whisper's encoder positions are sinusoidal and frozen (a parameter with ``requires_grad=False``).

Sizes a model is defined by are required. Dims are named by key path (``path_dim``), so a model built from a
sub-config (LLaVA's ``text_config``) names its keys with their parent's.
"""

from __future__ import annotations

from functools import partial

from paramcount._record import Record, replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    check_padding_index,
    classification_head,
    conv,
    embedding,
    kvq_attention,
    layer_norm,
    linear,
    module,
    path_dim,
    path_heads,
    path_num_labels,
    rms_norm,
    stack,
    tied_linear,
)
from paramcount.tree import Buffer, Dim, Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

__all__ = ["whisper"]


# --- T5, mT5 and UMT5 -----------------------------------------------------------------------------------------


def _register(kind: str, heads: tuple[str, ...], build: Callable[[Config, str], Module]) -> None:
    """Register ``build`` as model type ``kind.lower()``, with the classes ``<kind>Model`` and ``<kind><head>`` for
    each of ``heads``; the first of ``heads`` is the default."""
    classes = (f"{kind}Model", *(f"{kind}{head}" for head in heads))
    model_type(kind.lower(), architectures=classes, default=classes[1])(build)


class _T5Variant(Record):
    """What a T5-family type changes: its class-name stem, its classes beyond the base model, its default
    ``feed_forward_proj``, and whether every block owns a ``relative_attention_bias`` (UMT5) or only block 0 (T5,
    mT5)."""

    kind: str
    heads: tuple[str, ...]
    feed_forward: str
    bias_every_block: bool = False


_T5_HEADS: Final = ("ForConditionalGeneration", "EncoderModel")
# T5 and T5 v1.1 / Flan-T5 (feed_forward_proj="gated-gelu"): a shared embedding, two T5Stacks.
_T5 = _T5Variant("T5", _T5_HEADS, "relu")
# mT5 (modeling_mt5.py): T5 v1.1's modules (gated-GELU by default) over a multilingual vocabulary.
_MT5 = _T5Variant(
    "MT5", (*_T5_HEADS, "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering"), "gated-gelu"
)
# UMT5 (modeling_umt5.py): mT5 with a relative_attention_bias in every block, not only the first.
_UMT5 = _T5Variant("UMT5", _MT5.heads, "gated-gelu", bias_every_block=True)


def _t5_feed_forward(config: Config, variant: _T5Variant, d_model: Dim, d_ff: Dim) -> Module:
    projection = config.text("feed_forward_proj", variant.feed_forward)
    parts = projection.split("-")
    if (len(parts) > 1 and parts[0] != "gated") or len(parts) > 2:
        raise config.fail(
            "feed_forward_proj",
            f"'{config.path('feed_forward_proj')}' must be 'gated-<activation>' or '<activation>', "
            f"got {projection!r:.40}",
        )
    if parts[0] == "gated":
        dense = module(
            "DenseReluDense",
            f"{variant.kind}DenseGatedActDense",
            linear("wi_0", d_model, d_ff, bias=False),
            linear("wi_1", d_model, d_ff, bias=False),
            linear("wo", d_ff, d_model, bias=False),
        )
    else:
        dense = module(
            "DenseReluDense",
            f"{variant.kind}DenseActDense",
            linear("wi", d_model, d_ff, bias=False),
            linear("wo", d_ff, d_model, bias=False),
        )
    return dense


def _t5_attention(name: str, kind: str, d_model: Dim, inner: Dim, relative_bias: Module | None) -> Module:
    children = [
        linear("q", d_model, inner, bias=False),
        linear("k", d_model, inner, bias=False),
        linear("v", d_model, inner, bias=False),
        linear("o", inner, d_model, bias=False),
    ]
    if relative_bias is not None:
        children.append(relative_bias)
    return module(name, f"{kind}Attention", *children)


def _t5_stack(config: Config, variant: _T5Variant, name: str, count: int, *, decoder: bool, shared: str) -> Module:
    d_model, d_ff = path_dim(config, "d_model"), path_dim(config, "d_ff")
    heads = path_dim(config, "num_heads")
    inner = heads * path_dim(config, "d_kv")
    buckets = path_dim(config, "relative_attention_num_buckets", 32)
    dense = _t5_feed_forward(config, variant, d_model, d_ff)
    kind = variant.kind

    def block(first: bool) -> Module:
        bias = embedding("relative_attention_bias", buckets, heads) if first else None
        norm = rms_norm("layer_norm", d_model, f"{kind}LayerNorm")
        attention = _t5_attention("SelfAttention", kind, d_model, inner, bias)
        layers = [module("0", f"{kind}LayerSelfAttention", attention, norm)]
        if decoder:
            cross = _t5_attention("EncDecAttention", kind, d_model, inner, None)
            layers.append(module("1", f"{kind}LayerCrossAttention", cross, norm))
        layers.append(module(str(len(layers)), f"{kind}LayerFF", dense, norm))
        return module("0", f"{kind}Block", module("layer", "ModuleList", *layers))

    if variant.bias_every_block:
        blocks = [replace(block(first=True), repeat=count)] if count else []
    else:
        # Only block 0 owns relative_attention_bias (transformers: has_relative_attention_bias=bool(i == 0)).
        blocks = [block(first=True)] if count else []
        if count > 1:
            blocks.append(replace(block(first=False), name="1", repeat=count - 1))
    return module(
        name,
        f"{kind}Stack",
        embedding("embed_tokens", path_dim(config, "vocab_size"), d_model, tied_to=shared),
        module("block", "ModuleList", *blocks),
        rms_norm("final_layer_norm", d_model, f"{kind}LayerNorm"),
    )


def _t5_model(config: Config, variant: _T5Variant, name: str, *, decoder: bool) -> Module:
    """``<kind>Model`` (``decoder``) or ``<kind>EncoderModel`` named ``name``; ``shared`` is every stack's
    token embedding (the T5 configs force ``tie_word_embeddings``)."""
    prefix = f"{name}." if name else ""
    vocab, d_model = path_dim(config, "vocab_size"), path_dim(config, "d_model")
    encoder_layers = config.layers("num_layers")
    shared = f"{prefix}shared.weight"
    children = [
        embedding("shared", vocab, d_model),
        _t5_stack(config, variant, "encoder", encoder_layers, decoder=False, shared=shared),
    ]
    if decoder:
        decoder_layers = config.layers("num_decoder_layers", encoder_layers)
        children.append(_t5_stack(config, variant, "decoder", decoder_layers, decoder=True, shared=shared))
    return module(name, f"{variant.kind}{'Model' if decoder else 'EncoderModel'}", *children)


def _t5_family(variant: _T5Variant, config: Config, architecture: str) -> Module:
    """The T5-family classes: the base models, the LM (``lm_head`` always the shared embedding: the config classes
    of transformers 5 set ``tie_word_embeddings=True`` whatever the file says), and the task heads."""
    head = architecture.removeprefix(variant.kind)
    d_model = path_dim(config, "d_model")
    if head in ("Model", "EncoderModel"):
        return _t5_model(config, variant, "", decoder=head == "Model")
    if head == "ForSequenceClassification":
        kind = f"{variant.kind}ClassificationHead"
        classifier = classification_head("classification_head", kind, d_model, path_num_labels(config))
        return module("", architecture, _t5_model(config, variant, "transformer", decoder=True), classifier)
    if head == "ForTokenClassification":
        classifier = linear("classifier", d_model, path_num_labels(config), bias=True)
        return module("", architecture, _t5_model(config, variant, "transformer", decoder=False), classifier)
    base = _t5_model(config, variant, "", decoder=True)
    if head == "ForQuestionAnswering":
        top = linear("qa_outputs", d_model, path_num_labels(config), bias=True)
    else:
        top = tied_linear("lm_head", d_model, path_dim(config, "vocab_size"), "shared.weight")
    return module("", architecture, *base.children, top)


for _variant in (_T5, _MT5, _UMT5):
    _register(_variant.kind, _variant.heads, partial(_t5_family, _variant))


# --- BART and Whisper (the fairseq-style encoder-decoder layers) ---------------------------------------------------


def _encoder_layer(kind: str, attention: Module, width: Dim, ffn: Dim) -> Module:
    return module(
        "0",
        kind,
        attention,
        layer_norm("self_attn_layer_norm", width),
        linear("fc1", width, ffn, bias=True),
        linear("fc2", ffn, width, bias=True),
        layer_norm("final_layer_norm", width),
    )


def _decoder_layer(kind: str, attention: Module, cross: Module, width: Dim, ffn: Dim) -> Module:
    return module(
        "0",
        kind,
        attention,
        layer_norm("self_attn_layer_norm", width),
        cross,
        layer_norm("encoder_attn_layer_norm", width),
        linear("fc1", width, ffn, bias=True),
        linear("fc2", ffn, width, bias=True),
        layer_norm("final_layer_norm", width),
    )


class _Fairseq(Record):
    """What a BART-like type changes, as data: its class-name stem, its classes beyond the base model, its position
    table (learned with BART's offset of 2 rows, or sinusoidal and frozen), its embedding classes, its norms, its
    defaults."""

    kind: str
    heads: tuple[str, ...]
    learned_positions: bool
    """``<kind>LearnedPositionalEmbedding`` of ``max_position_embeddings + 2`` rows; else a frozen
    ``<kind>SinusoidalPositionalEmbedding`` of ``max_position_embeddings`` rows."""
    scaled_words: bool
    """The token tables are ``<kind>ScaledWordEmbedding`` (an ``nn.Embedding`` subclass)."""
    layernorm_embedding: bool
    """A LayerNorm after the embeddings (BART, mBART)."""
    final_norm: bool
    """A LayerNorm after the last layer of each stack (pre-norm mBART, Pegasus)."""
    pad_default: int
    labels_default: int = 2
    """``num_labels`` of the config class when neither it nor ``id2label`` is given (BartConfig: 3)."""


_LM: Final = "ForConditionalGeneration"
# BART: shared token embedding, learned positions (+2 offset), and final_logits_bias on the LM head.
_BART = _Fairseq("Bart", (_LM, "ForSequenceClassification"), True, True, True, False, 1, labels_default=3)
# mBART (modeling_mbart.py): BART pre-norm, with a LayerNorm closing each stack.
_MBART = _Fairseq(
    "MBart", (_LM, "ForSequenceClassification", "ForQuestionAnswering", "ForCausalLM"), True, True, True, True, 1
)
# Pegasus (modeling_pegasus.py): pre-norm, frozen sinusoidal positions, no embedding LayerNorm.
_PEGASUS = _Fairseq("Pegasus", (_LM, "ForCausalLM"), False, False, False, True, 0)
# Marian (modeling_marian.py): post-norm, frozen sinusoidal positions, no extra LayerNorms; the decoder may have its
# own vocabulary (decoder_vocab_size, share_encoder_decoder_embeddings: false).
_MARIAN = _Fairseq("Marian", ("MTModel", "ForCausalLM"), False, False, False, False, 58100)


def _fairseq_stack(
    config: Config, family: _Fairseq, name: str, vocab: Dim, *, decoder: bool, tied_to: str | None
) -> Module:
    """``<kind>Encoder`` or ``<kind>Decoder``: token and position tables, the layers, the norms."""
    width = path_dim(config, "d_model")
    kind = family.kind
    positions = path_dim(config, "max_position_embeddings")
    if family.learned_positions:
        # <kind>LearnedPositionalEmbedding: "if padding_idx is specified then offset the embedding ids by 2".
        table = embedding("embed_positions", positions + 2, width, kind=f"{kind}LearnedPositionalEmbedding")
    else:
        table = embedding(
            "embed_positions", positions, width, kind=f"{kind}SinusoidalPositionalEmbedding", trainable=False
        )
    words = embedding(
        "embed_tokens", vocab, width, kind=f"{kind}ScaledWordEmbedding" if family.scaled_words else "", tied_to=tied_to
    )
    attention = kvq_attention("self_attn", f"{kind}Attention", width)
    side = "decoder" if decoder else "encoder"
    ffn = path_dim(config, f"{side}_ffn_dim")
    if decoder:
        cross = kvq_attention("encoder_attn", f"{kind}Attention", width)
        layer = _decoder_layer(f"{kind}DecoderLayer", attention, cross, width, ffn)
    else:
        layer = _encoder_layer(f"{kind}EncoderLayer", attention, width, ffn)
    children = [words, table, stack("layers", layer, config.layers(f"{side}_layers"))]
    if family.layernorm_embedding:
        children.append(layer_norm("layernorm_embedding", width))
    if family.final_norm:
        children.append(layer_norm("layer_norm", width))
    return module(name, f"{kind}{side.title()}", *children)


class _Vocabularies(Record):
    """Marian's two vocabularies (``decoder_vocab_size``) and whether a ``shared`` table is built; one for the
    others."""

    encoder: Dim
    decoder: Dim
    shared: bool


def _vocabularies(config: Config, family: _Fairseq, *, causal: bool = False) -> _Vocabularies:
    """``causal``: the decoder-only class, which builds no shared table."""
    vocab = path_dim(config, "vocab_size")
    if family is not _MARIAN:
        check_padding_index(config, family.pad_default, vocab)
        return _Vocabularies(vocab, vocab, shared=True)
    shared = config.flag("share_encoder_decoder_embeddings", True)
    decoder = path_dim(config, "decoder_vocab_size") if config.has("decoder_vocab_size") else vocab
    check_padding_index(config, family.pad_default, vocab, decoder)
    # A tied decoder table becomes the shared one (vocab_size rows) whatever decoder_vocab_size says.
    if shared and not causal and config.flag("tie_word_embeddings", True):
        decoder = vocab
    return _Vocabularies(vocab, decoder, shared)


def _fairseq_model(config: Config, family: _Fairseq, prefix: str) -> Module:
    vocabularies = _vocabularies(config, family)
    tie = vocabularies.shared and config.flag("tie_word_embeddings", True)
    tied = f"{prefix}shared.weight" if tie else None
    children = []
    if vocabularies.shared:
        kind = f"{family.kind}ScaledWordEmbedding" if family.scaled_words else ""
        children.append(embedding("shared", vocabularies.encoder, path_dim(config, "d_model"), kind=kind))
    children += [
        _fairseq_stack(config, family, "encoder", vocabularies.encoder, decoder=False, tied_to=tied),
        _fairseq_stack(config, family, "decoder", vocabularies.decoder, decoder=True, tied_to=tied),
    ]
    return module("model" if prefix else "", f"{family.kind}Model", *children)


def _fairseq_family(family: _Fairseq, config: Config, architecture: str) -> Module:
    """The classes of a BART-like type: the base model, the LM with ``final_logits_bias``, a decoder-only causal
    LM, and BART's and mBART's task heads."""
    head = architecture.removeprefix(family.kind)
    width = path_dim(config, "d_model")
    for side in ("decoder",) if head == "ForCausalLM" else ("encoder", "decoder"):
        path_heads(config, width, f"{side}_attention_heads")
    if head == "Model":
        return _fairseq_model(config, family, "")
    if head == "ForCausalLM":
        vocabularies = _vocabularies(config, family, causal=True)
        decoder = _fairseq_stack(config, family, "decoder", vocabularies.decoder, decoder=True, tied_to=None)
        wrapper = module("model", f"{family.kind}DecoderWrapper", decoder)
        vocab = path_dim(config, "vocab_size")
        if config.flag("tie_word_embeddings", True):
            lm_head = tied_linear("lm_head", width, vocab, "model.decoder.embed_tokens.weight")
        else:
            lm_head = linear("lm_head", width, vocab, bias=False)
        return module("", architecture, wrapper, lm_head)
    base = _fairseq_model(config, family, "model.")
    if head == "ForSequenceClassification":
        labels = path_num_labels(config, default=family.labels_default)
        classifier = classification_head("classification_head", f"{family.kind}ClassificationHead", width, labels)
        return module("", architecture, base, classifier)
    if head == "ForQuestionAnswering":
        # MBartForQuestionAnswering sets config.num_labels = 2 (start and end logits) whatever the config says.
        return module("", architecture, base, linear("qa_outputs", width, Dim.constant(2), bias=True))
    vocabularies = _vocabularies(config, family)
    target = vocabularies.encoder if vocabularies.shared else vocabularies.decoder
    if config.flag("tie_word_embeddings", True):
        owner = "model.shared.weight" if vocabularies.shared else "model.decoder.embed_tokens.weight"
        lm_head = tied_linear("lm_head", width, target, owner)
    else:
        lm_head = linear("lm_head", width, target, bias=False)
    bias = Buffer("final_logits_bias", (Dim.constant(1), target))
    return module("", architecture, base, lm_head, buffers=(bias,))


for _family in (_BART, _MBART, _PEGASUS, _MARIAN):
    _register(_family.kind, _family.heads, partial(_fairseq_family, _family))


def _whisper_model(config: Config) -> Module:
    width = path_dim(config, "d_model")
    path_heads(config, width, "encoder_attention_heads")
    path_heads(config, width, "decoder_attention_heads")
    three = (Dim.constant(3),)
    encoder = module(
        "encoder",
        "WhisperEncoder",
        conv("conv1", "Conv1d", path_dim(config, "num_mel_bins"), width, three, bias=True, padding=1),
        conv("conv2", "Conv1d", width, width, three, bias=True, stride=2, padding=1),
        # Sinusoidal positions, frozen: embed_positions.requires_grad_(False).
        embedding("embed_positions", path_dim(config, "max_source_positions", 1500), width, trainable=False),
        stack(
            "layers",
            _encoder_layer(
                "WhisperEncoderLayer",
                kvq_attention("self_attn", "WhisperAttention", width, key_bias=False),
                width,
                path_dim(config, "encoder_ffn_dim"),
            ),
            config.layers("encoder_layers"),
        ),
        layer_norm("layer_norm", width),
    )
    decoder = module(
        "decoder",
        "WhisperDecoder",
        embedding("embed_tokens", path_dim(config, "vocab_size"), width),
        embedding(
            "embed_positions", path_dim(config, "max_target_positions", 448), width, kind="WhisperPositionalEmbedding"
        ),
        stack(
            "layers",
            _decoder_layer(
                "WhisperDecoderLayer",
                kvq_attention("self_attn", "WhisperAttention", width, key_bias=False),
                kvq_attention("encoder_attn", "WhisperAttention", width, key_bias=False),
                width,
                path_dim(config, "decoder_ffn_dim"),
            ),
            config.layers("decoder_layers"),
        ),
        layer_norm("layer_norm", width),
    )
    return module("model", "WhisperModel", encoder, decoder)


@model_type(
    "whisper",
    architectures=("WhisperModel", "WhisperForConditionalGeneration"),
    default="WhisperForConditionalGeneration",
)
def whisper(config: Config, architecture: str) -> Module:
    """Whisper: a Conv1d front-end over mel bins, a BART-like encoder-decoder, ``proj_out`` tied to the tokens."""
    base = _whisper_model(config)
    if architecture == "WhisperModel":
        return replace(base, name="")
    width, vocab = path_dim(config, "d_model"), path_dim(config, "vocab_size")
    if config.flag("tie_word_embeddings", True):
        head = tied_linear("proj_out", width, vocab, "model.decoder.embed_tokens.weight")
    else:
        head = linear("proj_out", width, vocab, bias=False)
    return module("", architecture, base, head)
