"""GPT-style decoders: GPT-2, OpenAI GPT, GPT-NeoX, GPT-J, Falcon, OPT, BLOOM, GPT-BigCode (StarCoder, SantaCoder),
GPT-Neo, CodeGen and MPT.

Each builder mirrors ``transformers`` 5.24 (``models/<type>/modeling_<type>.py``): the same parameter names in
the same order, GPT-2's ``Conv1D`` weights stored (in, out), the output head tied to the input embedding when
``tie_word_embeddings`` holds (counted once, as ``named_parameters()`` lists it once), so a tree can be compared
name by name with the model transformers builds on the meta device.

Keys and defaults: the keys that size a model (width, head count, layer count, vocabulary, and the position
table or MLP width where the family has no derived default) are required and read under the spellings
transformers accepts (GPT-2's ``attribute_map`` lets ``hidden_size`` stand for ``n_embd``; BLOOM and Falcon
accept the legacy ``n_embed``). Every other key takes the default of the family's transformers config class.

Buffers are modelled where transformers registers them: the causal masks of OpenAI GPT, GPT-BigCode and GPT-Neo,
OpenAI GPT's ``position_ids``, GPT-J's and CodeGen's sinusoidal tables, and the rotary
``inv_freq``/``original_inv_freq`` of GPT-NeoX and Falcon (only for the plain RoPE a config gets without
``rope_scaling``/``rope_parameters``; other rope types are not modelled). GPT-2, OPT, BLOOM and MPT register
none.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    LinearHead,
    check_divisible,
    check_padding_index,
    class_names,
    config_dim,
    config_flag,
    config_layers,
    embedding,
    head_classes,
    layer_norm,
    linear,
    linear_head,
    module,
    stack,
    tie,
)
from paramcount.tree import Buffer, Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.sources.hf.builders._common import Head

__all__ = ["conv1d"]

_ONE = Dim.constant(1)


def conv1d(name: str, inputs: Dim, outputs: Dim) -> Module:
    """transformers' ``Conv1D(nf=outputs, nx=inputs)`` (GPT-2, OpenAI GPT): a linear layer whose weight is stored
    transposed, (inputs, outputs), with a bias (outputs,)."""
    return Module(name=name, kind="Conv1D", params=(Param("weight", (inputs, outputs)), Param("bias", (outputs,))))


class _Heads(Record):
    """A family's classes and their heads: ``classes`` maps each class to its head; the language model's
    ``lm_head = nn.Linear(width, vocab_size, bias=lm_bias)`` is tied to ``tied_to`` when ``tie_word_embeddings``
    (default ``tie_default``) holds; the double-heads model adds a ``summary`` multiple-choice head."""

    classes: tuple[tuple[str, Head], ...]
    tied_to: str
    tie_default: bool
    lm_bias: bool = False
    summary: str = ""


_TASK_HEADS: Final[dict[Head, LinearHead]] = {
    "sequence_classification": LinearHead("score", False),
    "token_classification": LinearHead("classifier", True),
    "question_answering": LinearHead("qa_outputs", True, 2),
}
"""The single-linear heads the GPT-style families share."""


def _with_head(heads: _Heads, architecture: str, config: Config, base: Module, width: Dim, vocab: Dim) -> Module:
    """``architecture``'s model: the base model alone, or under the head(s) ``heads`` gives the class."""
    head = dict(heads.classes)[architecture]
    if head == "base":
        return base
    if head in _TASK_HEADS:
        return module("", architecture, base, linear_head(_TASK_HEADS[head], config, width))
    lm_head = linear("lm_head", width, vocab, bias=heads.lm_bias)
    if config_flag(config, "tie_word_embeddings", heads.tie_default):
        lm_head = tie(lm_head, weight=heads.tied_to)
    if head == "double_heads":
        return module("", architecture, base, lm_head, _sequence_summary(config, heads.summary, width))
    return module("", architecture, base, lm_head)


def _sequence_summary(config: Config, kind: str, width: Dim) -> Module:
    """The multiple-choice head of the double-heads models: ``summary = nn.Linear(hidden, 1)`` (the model sets
    ``num_labels = 1``) when ``summary_use_proj``, a projection back to the width without
    ``summary_proj_to_labels``, nothing learnable otherwise."""
    if config.text("summary_type", "cls_index") == "attn":
        raise config.fail("summary_type", f"'{config.path('summary_type')}' 'attn' is not implemented by transformers")
    children: list[Module] = []
    if config_flag(config, "summary_use_proj", True):
        labels = _ONE if config_flag(config, "summary_proj_to_labels", True) else width
        children.append(linear("summary", width, labels, bias=True))
    return module("multiple_choice_head", kind, *children)


def _rotary_buffers(config: Config, head_dim: Dim, factor: float, *, key: str = "") -> tuple[Buffer, ...]:
    """RoPE's ``inv_freq`` and ``original_inv_freq``: ``arange(0, dim, 2)`` with ``dim = int(head_dim·factor)``.

    Modelled only for the default RoPE (no ``rope_scaling``/``rope_parameters`` in the config)."""
    if config.raw("rope_scaling") is not None or config.raw("rope_parameters") is not None:
        return ()
    dim = max(int(head_dim.value * factor), 0)
    rows = Dim.of((dim + 1) // 2, f"{head_dim.symbol}·{key}/2" if key else f"{head_dim.symbol}/2")
    return tuple(Buffer(name, (rows,), persistent=False) for name in ("inv_freq", "original_inv_freq"))


# --- GPT-2 -------------------------------------------------------------------------------------------------------


def _gpt2_attention(name: str, hidden: Dim, *, cross: bool) -> Module:
    projections: tuple[Module, ...]
    if cross:
        projections = (conv1d("c_attn", hidden, 2 * hidden), conv1d("q_attn", hidden, hidden))
    else:
        projections = (conv1d("c_attn", hidden, 3 * hidden),)
    return module(name, "GPT2Attention", *projections, conv1d("c_proj", hidden, hidden))


def _gpt2_model(config: Config, hidden: Dim, vocab: Dim) -> Module:
    heads = config_dim(config, "n_head", "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "n_layer", "num_hidden_layers")
    positions = config_dim(config, "n_positions", "max_position_embeddings")
    inner = config_dim(config, "n_inner", default=4 * hidden)
    block = [layer_norm("ln_1", hidden), _gpt2_attention("attn", hidden, cross=False), layer_norm("ln_2", hidden)]
    if config_flag(config, "add_cross_attention", False):
        block += [_gpt2_attention("crossattention", hidden, cross=True), layer_norm("ln_cross_attn", hidden)]
    block.append(module("mlp", "GPT2MLP", conv1d("c_fc", hidden, inner), conv1d("c_proj", inner, hidden)))
    return module(
        "transformer",
        "GPT2Model",
        embedding("wte", vocab, hidden),
        embedding("wpe", positions, hidden),
        stack("h", module("0", "GPT2Block", *block), layers),
        layer_norm("ln_f", hidden),
    )


_GPT2 = _Heads(
    head_classes(
        "GPT2",
        ("causal_lm", "double_heads", "sequence_classification", "token_classification", "question_answering"),
        causal_lm="GPT2LMHeadModel",
        double_heads="GPT2DoubleHeadsModel",
    ),
    "transformer.wte.weight",
    tie_default=True,
    summary="GPT2SequenceSummary",
)


@model_type("gpt2", architectures=class_names(_GPT2.classes), default="GPT2LMHeadModel")
def gpt2(config: Config, architecture: str) -> Module:
    """GPT-2 (``modeling_gpt2.py``): Conv1D projections, learned positions, optional cross-attention."""
    hidden = config_dim(config, "n_embd", "hidden_size")
    vocab = config_dim(config, "vocab_size")
    return _with_head(_GPT2, architecture, config, _gpt2_model(config, hidden, vocab), hidden, vocab)


# --- OpenAI GPT --------------------------------------------------------------------------------------------------


def _openai_model(config: Config, hidden: Dim, vocab: Dim) -> Module:
    heads = config_dim(config, "n_head", "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "n_layer", "num_hidden_layers")
    positions = config_dim(config, "n_positions", "max_position_embeddings")
    # Each attention registers its causal mask, tril(ones(n_positions, n_positions)).view(1, 1, n, n).
    mask = Buffer("bias", (_ONE, _ONE, positions, positions), persistent=False)
    attention = module(
        "attn", "Attention", conv1d("c_attn", hidden, 3 * hidden), conv1d("c_proj", hidden, hidden), buffers=(mask,)
    )
    mlp = module("mlp", "MLP", conv1d("c_fc", hidden, 4 * hidden), conv1d("c_proj", 4 * hidden, hidden))
    block = module("0", "Block", attention, layer_norm("ln_1", hidden), mlp, layer_norm("ln_2", hidden))
    return module(
        "transformer",
        "OpenAIGPTModel",
        embedding("tokens_embed", vocab, hidden),
        embedding("positions_embed", positions, hidden),
        stack("h", block, layers),
        buffers=(Buffer("position_ids", (positions,), dtype="int64", persistent=False),),
    )


# The double-heads model ties the other way (tokens_embed to lm_head); named_parameters() lists the shared tensor
# once under its first name, the embedding's, so the head is the tied copy in both.
_OPENAI_GPT = _Heads(
    head_classes(
        "OpenAIGPT",
        ("causal_lm", "double_heads", "sequence_classification"),
        causal_lm="OpenAIGPTLMHeadModel",
        double_heads="OpenAIGPTDoubleHeadsModel",
    ),
    "transformer.tokens_embed.weight",
    tie_default=True,
    summary="OpenAIGPTSequenceSummary",
)


@model_type("openai-gpt", architectures=class_names(_OPENAI_GPT.classes), default="OpenAIGPTLMHeadModel")
def openai_gpt(config: Config, architecture: str) -> Module:
    """The original GPT (``modeling_openai.py``): post-norm blocks, no final norm, MLP fixed at 4·n_embd."""
    hidden = config_dim(config, "n_embd", "hidden_size")
    vocab = config_dim(config, "vocab_size")
    return _with_head(_OPENAI_GPT, architecture, config, _openai_model(config, hidden, vocab), hidden, vocab)


# --- GPT-NeoX ----------------------------------------------------------------------------------------------------


_ALL_TASKS: Final[tuple[Head, ...]] = (
    "causal_lm",
    "sequence_classification",
    "token_classification",
    "question_answering",
)
_GPT_NEOX = _Heads(head_classes("GPTNeoX", _ALL_TASKS), "gpt_neox.embed_in.weight", tie_default=False)


@model_type("gpt_neox", architectures=class_names(_GPT_NEOX.classes), default="GPTNeoXForCausalLM")
def gpt_neox(config: Config, architecture: str) -> Module:
    """GPT-NeoX and Pythia (``modeling_gpt_neox.py``): fused QKV, partial rotary (no parameters), untied
    ``lm_head`` by default (transformers 5 names the head ``lm_head``; older releases called it ``embed_out``)."""
    hidden = config_dim(config, "hidden_size")
    heads = config_dim(config, "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "num_hidden_layers")
    vocab = config_dim(config, "vocab_size")
    intermediate = config_dim(config, "intermediate_size")
    bias = config_flag(config, "attention_bias", True)
    attention = module(
        "attention",
        "GPTNeoXAttention",
        linear("query_key_value", hidden, 3 * hidden, bias=bias),
        linear("dense", hidden, hidden, bias=bias),
    )
    mlp = module(
        "mlp",
        "GPTNeoXMLP",
        linear("dense_h_to_4h", hidden, intermediate, bias=True),
        linear("dense_4h_to_h", intermediate, hidden, bias=True),
    )
    layer = module(
        "0",
        "GPTNeoXLayer",
        layer_norm("input_layernorm", hidden),
        layer_norm("post_attention_layernorm", hidden),
        attention,
        mlp,
    )
    head_dim = config_dim(config, "head_dim", default=hidden // heads)
    rotary = _rotary_buffers(config, head_dim, config.number("rotary_pct", 0.25), key="rotary_pct")
    base = module(
        "gpt_neox",
        "GPTNeoXModel",
        embedding("embed_in", vocab, hidden),
        stack("layers", layer, layers),
        layer_norm("final_layer_norm", hidden),
        module("rotary_emb", "GPTNeoXRotaryEmbedding", buffers=rotary),
    )
    return _with_head(_GPT_NEOX, architecture, config, base, hidden, vocab)


# --- GPT-J -------------------------------------------------------------------------------------------------------


_GPTJ = _Heads(
    head_classes("GPTJ", ("causal_lm", "sequence_classification", "question_answering")),
    "transformer.wte.weight",
    tie_default=False,
    lm_bias=True,
)


@model_type("gptj", architectures=class_names(_GPTJ.classes), default="GPTJForCausalLM")
def gptj(config: Config, architecture: str) -> Module:
    """GPT-J (``modeling_gptj.py``): parallel attention and MLP under one norm, bias-free attention, rotary on
    the first ``rotary_dim`` channels (a sinusoidal buffer, no parameters), an untied ``lm_head`` with a bias."""
    hidden = config_dim(config, "n_embd", "hidden_size")
    heads = config_dim(config, "n_head", "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "n_layer", "num_hidden_layers")
    vocab = config_dim(config, "vocab_size")
    inner = config_dim(config, "n_inner", default=4 * hidden)
    projections = (linear(name, hidden, hidden, bias=False) for name in ("k_proj", "v_proj", "q_proj", "out_proj"))
    mlp = module(
        "mlp", "GPTJMLP", linear("fc_in", hidden, inner, bias=True), linear("fc_out", inner, hidden, bias=True)
    )
    block = module("0", "GPTJBlock", layer_norm("ln_1", hidden), module("attn", "GPTJAttention", *projections), mlp)
    positions = config_dim(config, "n_positions", "max_position_embeddings", default=2048)
    rotary_dim = config_dim(config, "rotary_dim", default=64)
    base = module(
        "transformer",
        "GPTJModel",
        embedding("wte", vocab, hidden),
        stack("h", block, layers),
        layer_norm("ln_f", hidden),
        module("rotary_emb", "GPTJRotaryEmbedding", buffers=(_sinusoids(positions, rotary_dim),)),
    )
    return _with_head(_GPTJ, architecture, config, base, hidden, vocab)


def _sinusoids(positions: Dim, rotary_dim: Dim) -> Buffer:
    """GPT-J's and CodeGen's ``embed_positions``: cat(sin, cos) of arange(positions) × the inverse frequencies
    arange(0, rotary_dim, 2)."""
    sinusoids = Dim.of(2 * ((rotary_dim.value + 1) // 2), f"{rotary_dim.symbol} rounded up to even")
    return Buffer("embed_positions", (positions, sinusoids), persistent=False)


# --- Falcon ------------------------------------------------------------------------------------------------------


def _falcon_norms(config: Config, hidden: Dim, new_decoder_architecture: bool) -> tuple[Module, ...]:
    """FalconDecoderLayer's norms: two (attention, MLP) for the new architecture or when
    ``num_ln_in_parallel_attn == 2``, one for parallel attention otherwise, two in sequence without it."""
    norms_in_parallel = config.size("num_ln_in_parallel_attn") if config.has("num_ln_in_parallel_attn") else None
    if norms_in_parallel is None and new_decoder_architecture:
        norms_in_parallel = 2
    if not config_flag(config, "parallel_attn", True):
        return layer_norm("post_attention_layernorm", hidden), layer_norm("input_layernorm", hidden)
    if norms_in_parallel == 2:
        return layer_norm("ln_attn", hidden), layer_norm("ln_mlp", hidden)
    return (layer_norm("input_layernorm", hidden),)


_FALCON = _Heads(head_classes("Falcon", _ALL_TASKS), "transformer.word_embeddings.weight", tie_default=True)


@model_type("falcon", architectures=class_names(_FALCON.classes), default="FalconForCausalLM")
def falcon(config: Config, architecture: str) -> Module:
    """Falcon (``modeling_falcon.py``): fused QKV sized by the attention variant (multi-head, multi-query, or
    the new decoder architecture's grouped KV heads), ``bias`` on every linear or none, ALiBi or rotary (neither
    has parameters), one or two norms per layer."""
    hidden = config_dim(config, "hidden_size", "n_embed")
    heads = config_dim(config, "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "num_hidden_layers")
    vocab = config_dim(config, "vocab_size")
    head_dim = hidden // heads
    new_decoder_architecture = config_flag(config, "new_decoder_architecture", False)
    if new_decoder_architecture:
        kv_heads = config_dim(config, "num_kv_heads", default=heads)
        fused = (2 * kv_heads + heads) * head_dim
    elif config_flag(config, "multi_query", True):
        fused = hidden + 2 * head_dim
    else:
        fused = 3 * hidden
    ffn = config_dim(config, "ffn_hidden_size", default=4 * hidden)
    bias = config_flag(config, "bias", False)
    attention = module(
        "self_attention",
        "FalconAttention",
        linear("query_key_value", hidden, fused, bias=bias, kind="FalconLinear"),
        linear("dense", hidden, hidden, bias=bias, kind="FalconLinear"),
    )
    mlp = module(
        "mlp",
        "FalconMLP",
        linear("dense_h_to_4h", hidden, ffn, bias=bias, kind="FalconLinear"),
        linear("dense_4h_to_h", ffn, hidden, bias=bias, kind="FalconLinear"),
    )
    norms = _falcon_norms(config, hidden, new_decoder_architecture)
    layer = module("0", "FalconDecoderLayer", attention, mlp, *norms)
    base = module(
        "transformer",
        "FalconModel",
        embedding("word_embeddings", vocab, hidden),
        stack("h", layer, layers),
        layer_norm("ln_f", hidden),
        module("rotary_emb", "FalconRotaryEmbedding", buffers=_rotary_buffers(config, head_dim, 1.0)),
    )
    return _with_head(_FALCON, architecture, config, base, hidden, vocab)


# --- OPT ---------------------------------------------------------------------------------------------------------


_OPT = _Heads(
    head_classes("OPT", ("causal_lm", "sequence_classification", "question_answering")),
    "model.decoder.embed_tokens.weight",
    tie_default=True,
)


@model_type("opt", architectures=class_names(_OPT.classes), default="OPTForCausalLM")
def opt(config: Config, architecture: str) -> Module:
    """OPT (``modeling_opt.py``): learned positions offset by 2 rows, token embeddings of width
    ``word_embed_proj_dim`` with ``project_in``/``project_out`` when it differs from ``hidden_size``, a final
    norm only for pre-norm models, heads reading ``word_embed_proj_dim``."""
    hidden = config_dim(config, "hidden_size")
    heads = config_dim(config, "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "num_hidden_layers")
    vocab = config_dim(config, "vocab_size")
    ffn = config_dim(config, "ffn_dim")
    positions = config_dim(config, "max_position_embeddings")
    word_width = config_dim(config, "word_embed_proj_dim", default=hidden)
    check_padding_index(config, 1, vocab)
    bias = config_flag(config, "enable_bias", True)
    affine = config_flag(config, "layer_norm_elementwise_affine", True)
    attention = module(
        "self_attn",
        "OPTAttention",
        *(linear(name, hidden, hidden, bias=bias) for name in ("k_proj", "v_proj", "q_proj", "out_proj")),
    )
    layer = module(
        "0",
        "OPTDecoderLayer",
        attention,
        layer_norm("self_attn_layer_norm", hidden, affine=affine),
        linear("fc1", hidden, ffn, bias=bias),
        linear("fc2", ffn, hidden, bias=bias),
        layer_norm("final_layer_norm", hidden, affine=affine),
    )
    decoder: list[Module] = [
        embedding("embed_tokens", vocab, word_width),
        # OPTLearnedPositionalEmbedding(num_embeddings + 2): position ids are shifted by 2 (a fairseq legacy).
        embedding("embed_positions", positions + 2, hidden, kind="OPTLearnedPositionalEmbedding"),
    ]
    if word_width.value != hidden.value:
        decoder += [
            linear("project_out", hidden, word_width, bias=False),
            linear("project_in", word_width, hidden, bias=False),
        ]
    if config_flag(config, "do_layer_norm_before", True) and not config_flag(config, "_remove_final_layer_norm", False):
        decoder.append(layer_norm("final_layer_norm", hidden, affine=affine))
    decoder.append(stack("layers", layer, layers))
    base = module("model", "OPTModel", module("decoder", "OPTDecoder", *decoder))
    return _with_head(_OPT, architecture, config, base, word_width, vocab)


# --- BLOOM -------------------------------------------------------------------------------------------------------


_BLOOM = _Heads(head_classes("Bloom", _ALL_TASKS), "transformer.word_embeddings.weight", tie_default=True)


@model_type("bloom", architectures=class_names(_BLOOM.classes), default="BloomForCausalLM")
def bloom(config: Config, architecture: str) -> Module:
    """BLOOM (``modeling_bloom.py``): ALiBi (no position parameters), a LayerNorm right after the word
    embeddings, fused QKV with biases, MLP fixed at 4·hidden_size."""
    hidden = config_dim(config, "hidden_size", "n_embed")
    heads = config_dim(config, "n_head", "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "n_layer", "num_hidden_layers")
    vocab = config_dim(config, "vocab_size")
    attention = module(
        "self_attention",
        "BloomAttention",
        linear("query_key_value", hidden, 3 * hidden, bias=True),
        linear("dense", hidden, hidden, bias=True),
    )
    mlp = module(
        "mlp",
        "BloomMLP",
        linear("dense_h_to_4h", hidden, 4 * hidden, bias=True),
        linear("dense_4h_to_h", 4 * hidden, hidden, bias=True),
    )
    block = module(
        "0",
        "BloomBlock",
        layer_norm("input_layernorm", hidden),
        attention,
        layer_norm("post_attention_layernorm", hidden),
        mlp,
    )
    base = module(
        "transformer",
        "BloomModel",
        embedding("word_embeddings", vocab, hidden),
        layer_norm("word_embeddings_layernorm", hidden),
        stack("h", block, layers),
        layer_norm("ln_f", hidden),
    )
    return _with_head(_BLOOM, architecture, config, base, hidden, vocab)


# --- GPT-BigCode -------------------------------------------------------------------------------------------------


_GPT_BIGCODE = _Heads(
    head_classes("GPTBigCode", ("causal_lm", "sequence_classification", "token_classification")),
    "transformer.wte.weight",
    tie_default=True,
)


def _causal_mask(positions: Dim, *, leading: int = 0) -> Buffer:
    """The boolean causal mask ``tril(ones(positions, positions))``, with ``leading`` dims of 1 before it."""
    return Buffer("bias", (*(_ONE,) * leading, positions, positions), dtype="bool", persistent=False)


@model_type("gpt_bigcode", architectures=class_names(_GPT_BIGCODE.classes), default="GPTBigCodeForCausalLM")
def gpt_bigcode(config: Config, architecture: str) -> Module:
    """GPT-BigCode (``modeling_gpt_bigcode.py``, StarCoder and SantaCoder): GPT-2's block with ``nn.Linear``
    projections and, with ``multi_query`` (the default), one key/value head fused into ``c_attn``; the model holds
    the causal mask."""
    hidden = config_dim(config, "n_embd", "hidden_size")
    heads = config_dim(config, "n_head", "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "n_layer", "num_hidden_layers")
    vocab = config_dim(config, "vocab_size")
    positions = config_dim(config, "n_positions", "max_position_embeddings")
    inner = config_dim(config, "n_inner", default=4 * hidden)
    multi_query = config_flag(config, "multi_query", True)
    fused = hidden + 2 * (hidden // heads) if multi_query else 3 * hidden
    attention = module(
        "attn",
        "GPTBigCodeAttention",
        linear("c_attn", hidden, fused, bias=True),
        linear("c_proj", hidden, hidden, bias=True),
    )
    block = [layer_norm("ln_1", hidden), attention, layer_norm("ln_2", hidden)]
    if config_flag(config, "add_cross_attention", False):
        if multi_query:
            raise config.fail(
                "add_cross_attention", "cross-attention with 'multi_query' is not implemented by transformers"
            )
        cross = module(
            "crossattention",
            "GPTBigCodeAttention",
            linear("c_attn", hidden, 2 * hidden, bias=True),
            linear("q_attn", hidden, hidden, bias=True),
            linear("c_proj", hidden, hidden, bias=True),
        )
        block += [cross, layer_norm("ln_cross_attn", hidden)]
    mlp = module(
        "mlp", "GPTBigCodeMLP", linear("c_fc", hidden, inner, bias=True), linear("c_proj", inner, hidden, bias=True)
    )
    base = module(
        "transformer",
        "GPTBigCodeModel",
        embedding("wte", vocab, hidden),
        embedding("wpe", positions, hidden),
        stack("h", module("0", "GPTBigCodeBlock", *block, mlp), layers),
        layer_norm("ln_f", hidden),
        buffers=(_causal_mask(positions),),
    )
    return _with_head(_GPT_BIGCODE, architecture, config, base, hidden, vocab)


# --- GPT-Neo -----------------------------------------------------------------------------------------------------


_GPT_NEO = _Heads(head_classes("GPTNeo", _ALL_TASKS), "transformer.wte.weight", tie_default=True)


def _gpt_neo_layer_count(config: Config) -> int:
    """The layers ``attention_types`` lays out (``[[["global", "local"], 12]]``: 24), which transformers requires to
    equal ``num_layers``; global and local attention have the same parameters."""
    layout = config.raw("attention_types", [[["global", "local"], 12]])
    count = 0
    valid = isinstance(layout, list)
    for item in layout if isinstance(layout, list) else ():
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list)):
            valid = False
            break
        kinds, repeat = item
        if isinstance(repeat, bool) or not isinstance(repeat, int) or any(k not in ("global", "local") for k in kinds):
            valid = False
            break
        count += len(kinds) * repeat
    if not valid:
        raise config.fail(
            "attention_types",
            f'\'{config.path("attention_types")}\' must be a list of [["global" or "local", …], count] pairs',
        )
    return count


@model_type("gpt_neo", architectures=class_names(_GPT_NEO.classes), default="GPTNeoForCausalLM")
def gpt_neo(config: Config, architecture: str) -> Module:
    """GPT-Neo (``modeling_gpt_neo.py``): learned positions, bias-free k/v/q with a biased ``out_proj``, each
    attention holding its causal mask (local attention masks the same shape)."""
    hidden = config_dim(config, "hidden_size")
    heads = config_dim(config, "num_heads", "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "num_layers", "num_hidden_layers")
    laid_out = _gpt_neo_layer_count(config)
    if laid_out != layers:
        raise config.fail(
            "attention_types",
            f"'{config.path('attention_types')}' lays out {laid_out} layers but 'num_layers' is {layers}",
        )
    vocab = config_dim(config, "vocab_size")
    positions = config_dim(config, "max_position_embeddings", default=2048)
    inner = config_dim(config, "intermediate_size", default=4 * hidden)
    self_attention = module(
        "attention",
        "GPTNeoSelfAttention",
        *(linear(name, hidden, hidden, bias=False) for name in ("k_proj", "v_proj", "q_proj")),
        linear("out_proj", hidden, hidden, bias=True),
        buffers=(_causal_mask(positions, leading=2),),
    )
    mlp = module(
        "mlp", "GPTNeoMLP", linear("c_fc", hidden, inner, bias=True), linear("c_proj", inner, hidden, bias=True)
    )
    block = module(
        "0",
        "GPTNeoBlock",
        layer_norm("ln_1", hidden),
        module("attn", "GPTNeoAttention", self_attention),
        layer_norm("ln_2", hidden),
        mlp,
    )
    base = module(
        "transformer",
        "GPTNeoModel",
        embedding("wte", vocab, hidden),
        embedding("wpe", positions, hidden),
        stack("h", block, layers),
        layer_norm("ln_f", hidden),
    )
    return _with_head(_GPT_NEO, architecture, config, base, hidden, vocab)


# --- CodeGen -----------------------------------------------------------------------------------------------------


_CODEGEN = _Heads(head_classes("CodeGen", ("causal_lm",)), "transformer.wte.weight", tie_default=False, lm_bias=True)


@model_type("codegen", architectures=class_names(_CODEGEN.classes), default="CodeGenForCausalLM")
def codegen(config: Config, architecture: str) -> Module:
    """CodeGen (``modeling_codegen.py``): GPT-J's parallel block with one fused bias-free ``qkv_proj``, rotary on
    the first ``rotary_dim`` channels, an untied ``lm_head`` with a bias."""
    hidden = config_dim(config, "n_embd", "hidden_size")
    heads = config_dim(config, "n_head", "num_attention_heads")
    check_divisible(config, hidden, heads)
    layers = config_layers(config, "n_layer", "num_hidden_layers")
    vocab = config_dim(config, "vocab_size")
    inner = config_dim(config, "n_inner", default=4 * hidden)
    attention = module(
        "attn",
        "CodeGenAttention",
        linear("out_proj", hidden, hidden, bias=False),
        linear("qkv_proj", hidden, 3 * hidden, bias=False),
    )
    mlp = module(
        "mlp", "CodeGenMLP", linear("fc_in", hidden, inner, bias=True), linear("fc_out", inner, hidden, bias=True)
    )
    block = module("0", "CodeGenBlock", layer_norm("ln_1", hidden), attention, mlp)
    positions = config_dim(config, "n_positions", "max_position_embeddings", default=2048)
    rotary_dim = config_dim(config, "rotary_dim", default=64)
    base = module(
        "transformer",
        "CodeGenModel",
        embedding("wte", vocab, hidden),
        stack("h", block, layers),
        layer_norm("ln_f", hidden),
        module("rotary_emb", "CodeGenRotaryEmbedding", buffers=(_sinusoids(positions, rotary_dim),)),
    )
    return _with_head(_CODEGEN, architecture, config, base, hidden, vocab)


# --- MPT ---------------------------------------------------------------------------------------------------------


_MPT = _Heads(head_classes("Mpt", _ALL_TASKS), "transformer.wte.weight", tie_default=True)


@model_type("mpt", architectures=class_names(_MPT.classes), default="MptForCausalLM")
def mpt(config: Config, architecture: str) -> Module:
    """MPT (``modeling_mpt.py``): ALiBi, no biases and bias-free LayerNorms whatever ``no_bias`` says, an MLP of
    4·d_model whatever ``expansion_ratio`` says (transformers reads neither), no learned positions."""
    hidden = config_dim(config, "d_model", "hidden_size")
    config_dim(config, "n_heads", "num_attention_heads")  # required, though it sizes nothing
    layers = config_layers(config, "n_layers", "num_hidden_layers")
    vocab = config_dim(config, "vocab_size")
    attention = module(
        "attn",
        "MptAttention",
        linear("Wqkv", hidden, 3 * hidden, bias=False),
        linear("out_proj", hidden, hidden, bias=False),
    )
    ffn = module(
        "ffn",
        "MptMLP",
        linear("up_proj", hidden, 4 * hidden, bias=False),
        linear("down_proj", 4 * hidden, hidden, bias=False),
    )
    norm_1, norm_2 = (layer_norm(name, hidden, bias=False) for name in ("norm_1", "norm_2"))
    block = module("0", "MptBlock", norm_1, attention, norm_2, ffn)
    base = module(
        "transformer",
        "MptModel",
        embedding("wte", vocab, hidden),
        stack("blocks", block, layers),
        layer_norm("norm_f", hidden, bias=False),
    )
    return _with_head(_MPT, architecture, config, base, hidden, vocab)
