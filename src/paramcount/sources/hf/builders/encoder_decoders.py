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

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
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

__all__ = ["bart", "t5", "whisper"]


# --- T5 ----------------------------------------------------------------------------------------------------------


def _t5_feed_forward(config: Config, d_model: Dim, d_ff: Dim) -> Module:
    projection = config.text("feed_forward_proj", "relu")
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
            "T5DenseGatedActDense",
            linear("wi_0", d_model, d_ff, bias=False),
            linear("wi_1", d_model, d_ff, bias=False),
            linear("wo", d_ff, d_model, bias=False),
        )
    else:
        dense = module(
            "DenseReluDense",
            "T5DenseActDense",
            linear("wi", d_model, d_ff, bias=False),
            linear("wo", d_ff, d_model, bias=False),
        )
    return dense


def _t5_attention(name: str, d_model: Dim, inner: Dim, relative_bias: Module | None) -> Module:
    children = [
        linear("q", d_model, inner, bias=False),
        linear("k", d_model, inner, bias=False),
        linear("v", d_model, inner, bias=False),
        linear("o", inner, d_model, bias=False),
    ]
    if relative_bias is not None:
        children.append(relative_bias)
    return module(name, "T5Attention", *children)


def _t5_stack(config: Config, name: str, count: int, *, decoder: bool, shared: str) -> Module:
    d_model, d_ff = path_dim(config, "d_model"), path_dim(config, "d_ff")
    heads = path_dim(config, "num_heads")
    inner = heads * path_dim(config, "d_kv")
    buckets = path_dim(config, "relative_attention_num_buckets", 32)
    dense = _t5_feed_forward(config, d_model, d_ff)

    def block(first: bool) -> Module:
        bias = embedding("relative_attention_bias", buckets, heads) if first else None
        norm = rms_norm("layer_norm", d_model, "T5LayerNorm")
        layers = [module("0", "T5LayerSelfAttention", _t5_attention("SelfAttention", d_model, inner, bias), norm)]
        if decoder:
            cross = _t5_attention("EncDecAttention", d_model, inner, None)
            layers.append(module("1", "T5LayerCrossAttention", cross, norm))
        layers.append(module(str(len(layers)), "T5LayerFF", dense, norm))
        return module("0", "T5Block", module("layer", "ModuleList", *layers))

    # Only block 0 owns relative_attention_bias (transformers: has_relative_attention_bias=bool(i == 0)).
    blocks = [block(first=True)] if count else []
    if count > 1:
        blocks.append(replace(block(first=False), name="1", repeat=count - 1))
    return module(
        name,
        "T5Stack",
        embedding("embed_tokens", path_dim(config, "vocab_size"), d_model, tied_to=shared),
        module("block", "ModuleList", *blocks),
        rms_norm("final_layer_norm", d_model, "T5LayerNorm"),
    )


@model_type(
    "t5",
    architectures=("T5Model", "T5ForConditionalGeneration", "T5EncoderModel"),
    default="T5ForConditionalGeneration",
)
def t5(config: Config, architecture: str) -> Module:
    """T5 and T5 v1.1 / Flan-T5 (``feed_forward_proj="gated-gelu"``): a shared embedding, two T5Stacks."""
    vocab, d_model = path_dim(config, "vocab_size"), path_dim(config, "d_model")
    encoder_layers = config.layers("num_layers")
    children = [
        embedding("shared", vocab, d_model),
        _t5_stack(config, "encoder", encoder_layers, decoder=False, shared="shared.weight"),
    ]
    if architecture != "T5EncoderModel":
        decoder_layers = config.layers("num_decoder_layers", encoder_layers)
        children.append(_t5_stack(config, "decoder", decoder_layers, decoder=True, shared="shared.weight"))
    if architecture == "T5ForConditionalGeneration":
        # T5Config (transformers 5) sets tie_word_embeddings=True unconditionally: lm_head is always `shared`.
        children.append(tied_linear("lm_head", d_model, vocab, "shared.weight"))
    return module("", architecture, *children)


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


def _bart_model(config: Config, prefix: str) -> Module:
    vocab, width = path_dim(config, "vocab_size"), path_dim(config, "d_model")
    path_heads(config, width, "encoder_attention_heads")
    path_heads(config, width, "decoder_attention_heads")
    # BartLearnedPositionalEmbedding: "if padding_idx is specified then offset the embedding ids by 2".
    positions = path_dim(config, "max_position_embeddings") + 2
    tied = f"{prefix}shared.weight" if config.flag("tie_word_embeddings", True) else None
    encoder_layer = _encoder_layer(
        "BartEncoderLayer",
        kvq_attention("self_attn", "BartAttention", width),
        width,
        path_dim(config, "encoder_ffn_dim"),
    )
    decoder_layer = _decoder_layer(
        "BartDecoderLayer",
        kvq_attention("self_attn", "BartAttention", width),
        kvq_attention("encoder_attn", "BartAttention", width),
        width,
        path_dim(config, "decoder_ffn_dim"),
    )

    def half(name: str, kind: str, layer: Module, count: int) -> Module:
        return module(
            name,
            kind,
            embedding("embed_tokens", vocab, width, kind="BartScaledWordEmbedding", tied_to=tied),
            embedding("embed_positions", positions, width, kind="BartLearnedPositionalEmbedding"),
            stack("layers", layer, count),
            layer_norm("layernorm_embedding", width),
        )

    return module(
        "model",
        "BartModel",
        embedding("shared", vocab, width, kind="BartScaledWordEmbedding"),
        half("encoder", "BartEncoder", encoder_layer, config.layers("encoder_layers")),
        half("decoder", "BartDecoder", decoder_layer, config.layers("decoder_layers")),
    )


@model_type(
    "bart",
    architectures=("BartModel", "BartForConditionalGeneration", "BartForSequenceClassification"),
    default="BartForConditionalGeneration",
)
def bart(config: Config, architecture: str) -> Module:
    """BART: shared token embedding, learned positions (+2 offset), and ``final_logits_bias`` on the LM head."""
    if architecture == "BartModel":
        return replace(_bart_model(config, ""), name="")
    base = _bart_model(config, "model.")
    width = path_dim(config, "d_model")
    if architecture == "BartForSequenceClassification":
        head = module(
            "classification_head",
            "BartClassificationHead",
            linear("dense", width, width, bias=True),
            linear("out_proj", width, path_num_labels(config, default=3), bias=True),
        )
        return module("", architecture, base, head)
    vocab = path_dim(config, "vocab_size")
    if config.flag("tie_word_embeddings", True):
        lm_head = tied_linear("lm_head", width, vocab, "model.shared.weight")
    else:
        lm_head = linear("lm_head", width, vocab, bias=False)
    bias = Buffer("final_logits_bias", (Dim.constant(1), vocab))
    return module("", architecture, base, lm_head, buffers=(bias,))


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
