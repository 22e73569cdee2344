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

from paramcount._record import Record, replace
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
    mlp,
    module,
    stack,
    vocab_projection,
)
from paramcount.tree import Buffer, Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

    from paramcount.sources.hf.builders._common import Head

__all__ = ["conv1d"]

_ONE = Dim.constant(1)


def conv1d(name: str, inputs: Dim, outputs: Dim) -> Module:
    """transformers' ``Conv1D(nf=outputs, nx=inputs)`` (GPT-2, OpenAI GPT): a linear layer whose weight is stored
    transposed, (inputs, outputs), with a bias (outputs,)."""
    return Module(name=name, kind="Conv1D", params=(Param("weight", (inputs, outputs)), Param("bias", (outputs,))))


class _Sizes(Record):
    """The sizes every GPT-style family reads first; ``width`` is what the heads read (``hidden`` but for OPT)."""

    hidden: Dim
    heads: Dim
    layers: int
    vocab: Dim
    width: Dim


_GPT2_KEYS: Final = (("n_embd", "hidden_size"), ("n_head", "num_attention_heads"), ("n_layer", "num_hidden_layers"))
"""GPT-2's spellings, each with the standard name its ``attribute_map`` accepts."""
_STANDARD_KEYS: Final = (("hidden_size",), ("num_attention_heads",), ("num_hidden_layers",))


class _Family(Record):
    """A GPT-style family as data: its ``model_type``, the builder of its base model, its classes and heads, and
    the config keys of its width, head count and layer count (each the key, then the spellings transformers lets
    win over it); the defaults are GPT-2's.

    ``classes`` maps each class to its head; the language model's ``lm_head = nn.Linear(width, vocab_size,
    bias=lm_bias)`` is tied to ``tied_to`` when ``tie_word_embeddings`` (default ``tie_default``) holds; the
    double-heads model adds a ``summary`` multiple-choice head."""

    name: str
    base: Callable[[Config, _Sizes], Module]
    classes: tuple[tuple[str, Head], ...]
    keys: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = _GPT2_KEYS
    tied_to: str = "transformer.wte.weight"
    tie_default: bool = True
    lm_bias: bool = False
    summary: str = ""
    head_width: str = ""
    """The key of the width the heads read, defaulting to the hidden size (OPT's ``word_embed_proj_dim``)."""
    divisible: bool = True
    """Whether the head count must divide the width (MPT reads the head count but sizes nothing with it)."""


_TASK_HEADS: Final[dict[Head, LinearHead]] = {
    "sequence_classification": LinearHead("score", False),
    "token_classification": LinearHead("classifier", True),
    "question_answering": LinearHead("qa_outputs", True, 2),
}
"""The single-linear heads the GPT-style families share."""


def _register(family: _Family) -> None:
    """Register ``family``'s builder; its default class is its causal language model."""

    def build(config: Config, architecture: str) -> Module:
        sizes = _read_sizes(family, config)
        return _with_head(family, architecture, config, family.base(config, sizes), sizes)

    default = next(name for name, head in family.classes if head == "causal_lm")
    model_type(family.name, architectures=class_names(family.classes), default=default)(build)


def _read_sizes(family: _Family, config: Config) -> _Sizes:
    hidden_keys, heads_keys, layers_keys = family.keys
    hidden = config_dim(config, *hidden_keys)
    heads = config_dim(config, *heads_keys)
    if family.divisible:
        check_divisible(config, hidden, heads)
    layers = config_layers(config, *layers_keys)
    vocab = config_dim(config, "vocab_size")
    width = config_dim(config, family.head_width, default=hidden) if family.head_width else hidden
    return _Sizes(hidden, heads, layers, vocab, width)


def _with_head(family: _Family, architecture: str, config: Config, base: Module, sizes: _Sizes) -> Module:
    """``architecture``'s model: the base model alone, or under the head(s) ``family`` gives the class."""
    head = dict(family.classes)[architecture]
    width = sizes.width
    if head == "base":
        return base
    if head in _TASK_HEADS:
        return module("", architecture, base, linear_head(_TASK_HEADS[head], config, width))
    tied = {"weight": family.tied_to}
    lm_head = vocab_projection(
        config, "lm_head", width, sizes.vocab, bias=family.lm_bias, tied=tied, tie_default=family.tie_default
    )
    if head == "double_heads":
        return module("", architecture, base, lm_head, _sequence_summary(config, family.summary, width))
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


def _fused_attention(name: str, kind: str, hidden: Dim, fused: Dim, names: tuple[str, str], *, bias: bool) -> Module:
    """An attention whose query, key and value projections are one linear, ``names[0]`` (hidden → fused), then its
    output projection ``names[1]`` (hidden → hidden), both with ``bias``."""
    qkv, output = names
    return module(name, kind, linear(qkv, hidden, fused, bias=bias), linear(output, hidden, hidden, bias=bias))


def _rotary_buffers(config: Config, head_dim: Dim, factor: float, *, key: str = "") -> tuple[Buffer, ...]:
    """RoPE's ``inv_freq`` and ``original_inv_freq``: ``arange(0, dim, 2)`` with ``dim = int(head_dim·factor)``.

    Modelled only for the default RoPE (no ``rope_scaling``/``rope_parameters`` in the config)."""
    if config.raw("rope_scaling") is not None or config.raw("rope_parameters") is not None:
        return ()
    dim = max(int(head_dim.value * factor), 0)
    rows = Dim.of((dim + 1) // 2, f"{head_dim.symbol}·{key}/2" if key else f"{head_dim.symbol}/2")
    return tuple(Buffer(name, (rows,), persistent=False) for name in ("inv_freq", "original_inv_freq"))


def _rotary_layout(
    sizes: _Sizes, prefix: str, names: tuple[str, str, str, str], block: Module, rotary: tuple[Buffer, ...]
) -> Module:
    """The model of the rotary families (GPT-NeoX, GPT-J, Falcon, CodeGen), named ``names[0]``: a token table
    ``names[1]``, the blocks ``names[2]``, a final norm ``names[3]`` and a ``rotary_emb`` holding only buffers."""
    name, table, blocks, final_norm = names
    return module(
        name,
        f"{prefix}Model",
        embedding(table, sizes.vocab, sizes.hidden),
        stack(blocks, block, sizes.layers),
        layer_norm(final_norm, sizes.hidden),
        module("rotary_emb", f"{prefix}RotaryEmbedding", buffers=rotary),
    )


# --- GPT-2 -------------------------------------------------------------------------------------------------------


def _gpt2_attention(name: str, hidden: Dim, *, cross: bool) -> Module:
    projections: tuple[Module, ...]
    if cross:
        projections = (conv1d("c_attn", hidden, 2 * hidden), conv1d("q_attn", hidden, hidden))
    else:
        projections = (conv1d("c_attn", hidden, 3 * hidden),)
    return module(name, "GPT2Attention", *projections, conv1d("c_proj", hidden, hidden))


def _gpt2_layout(sizes: _Sizes, prefix: str, block: Module, positions: Dim, buffers: tuple[Buffer, ...] = ()) -> Module:
    """GPT-2's model, which GPT-BigCode and GPT-Neo share: token and learned position tables (``wte``, ``wpe``),
    the blocks ``h`` and a final ``ln_f``."""
    return module(
        "transformer",
        f"{prefix}Model",
        embedding("wte", sizes.vocab, sizes.hidden),
        embedding("wpe", positions, sizes.hidden),
        stack("h", block, sizes.layers),
        layer_norm("ln_f", sizes.hidden),
        buffers=buffers,
    )


def _gpt2(config: Config, sizes: _Sizes) -> Module:
    """GPT-2 (``modeling_gpt2.py``): Conv1D projections, learned positions, optional cross-attention."""
    hidden = sizes.hidden
    positions = config_dim(config, "n_positions", "max_position_embeddings")
    inner = config_dim(config, "n_inner", default=4 * hidden)
    block = [layer_norm("ln_1", hidden), _gpt2_attention("attn", hidden, cross=False), layer_norm("ln_2", hidden)]
    if config_flag(config, "add_cross_attention", False):
        block += [_gpt2_attention("crossattention", hidden, cross=True), layer_norm("ln_cross_attn", hidden)]
    block.append(module("mlp", "GPT2MLP", conv1d("c_fc", hidden, inner), conv1d("c_proj", inner, hidden)))
    return _gpt2_layout(sizes, "GPT2", module("0", "GPT2Block", *block), positions)


_register(
    _Family(
        "gpt2",
        _gpt2,
        head_classes(
            "GPT2",
            ("causal_lm", "double_heads", "sequence_classification", "token_classification", "question_answering"),
            causal_lm="GPT2LMHeadModel",
            double_heads="GPT2DoubleHeadsModel",
        ),
        summary="GPT2SequenceSummary",
    )
)


# --- OpenAI GPT --------------------------------------------------------------------------------------------------


def _openai_gpt(config: Config, sizes: _Sizes) -> Module:
    """The original GPT (``modeling_openai.py``): post-norm blocks, no final norm, MLP fixed at 4·n_embd."""
    hidden = sizes.hidden
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
        embedding("tokens_embed", sizes.vocab, hidden),
        embedding("positions_embed", positions, hidden),
        stack("h", block, sizes.layers),
        buffers=(Buffer("position_ids", (positions,), dtype="int64", persistent=False),),
    )


# The double-heads model ties the other way (tokens_embed to lm_head); named_parameters() lists the shared tensor
# once under its first name, the embedding's, so the head is the tied copy in both.
_register(
    _Family(
        "openai-gpt",
        _openai_gpt,
        head_classes(
            "OpenAIGPT",
            ("causal_lm", "double_heads", "sequence_classification"),
            causal_lm="OpenAIGPTLMHeadModel",
            double_heads="OpenAIGPTDoubleHeadsModel",
        ),
        tied_to="transformer.tokens_embed.weight",
        summary="OpenAIGPTSequenceSummary",
    )
)


# --- GPT-NeoX ----------------------------------------------------------------------------------------------------


_ALL_TASKS: Final[tuple[Head, ...]] = (
    "causal_lm",
    "sequence_classification",
    "token_classification",
    "question_answering",
)


def _gpt_neox(config: Config, sizes: _Sizes) -> Module:
    """GPT-NeoX and Pythia (``modeling_gpt_neox.py``): fused QKV, partial rotary (no parameters), untied
    ``lm_head`` by default (transformers 5 names the head ``lm_head``; older releases called it ``embed_out``)."""
    hidden = sizes.hidden
    intermediate = config_dim(config, "intermediate_size")
    bias = config_flag(config, "attention_bias", True)
    names = ("query_key_value", "dense")
    attention = _fused_attention("attention", "GPTNeoXAttention", hidden, 3 * hidden, names, bias=bias)
    feed_forward = mlp("mlp", "GPTNeoXMLP", hidden, intermediate, names=("dense_h_to_4h", "dense_4h_to_h"))
    norms = (layer_norm("input_layernorm", hidden), layer_norm("post_attention_layernorm", hidden))
    layer = module("0", "GPTNeoXLayer", *norms, attention, feed_forward)
    head_dim = config_dim(config, "head_dim", default=hidden // sizes.heads)
    rotary = _rotary_buffers(config, head_dim, config.number("rotary_pct", 0.25), key="rotary_pct")
    return _rotary_layout(sizes, "GPTNeoX", ("gpt_neox", "embed_in", "layers", "final_layer_norm"), layer, rotary)


_register(
    _Family(
        "gpt_neox",
        _gpt_neox,
        head_classes("GPTNeoX", _ALL_TASKS),
        keys=_STANDARD_KEYS,
        tied_to="gpt_neox.embed_in.weight",
        tie_default=False,
    )
)


# --- GPT-J and CodeGen -------------------------------------------------------------------------------------------


def _sinusoids(positions: Dim, rotary_dim: Dim) -> Buffer:
    """GPT-J's and CodeGen's ``embed_positions``: cat(sin, cos) of arange(positions) × the inverse frequencies
    arange(0, rotary_dim, 2)."""
    sinusoids = Dim.of(2 * ((rotary_dim.value + 1) // 2), f"{rotary_dim.symbol} rounded up to even")
    return Buffer("embed_positions", (positions, sinusoids), persistent=False)


def _parallel_block_model(config: Config, sizes: _Sizes, prefix: str, attention: Module) -> Module:
    """GPT-J's and CodeGen's model: parallel attention and MLP under one norm, rotary on the first ``rotary_dim``
    channels (a sinusoidal buffer, no parameters)."""
    hidden = sizes.hidden
    inner = config_dim(config, "n_inner", default=4 * hidden)
    feed_forward = mlp("mlp", f"{prefix}MLP", hidden, inner, names=("fc_in", "fc_out"))
    block = module("0", f"{prefix}Block", layer_norm("ln_1", hidden), attention, feed_forward)
    positions = config_dim(config, "n_positions", "max_position_embeddings", default=2048)
    rotary_dim = config_dim(config, "rotary_dim", default=64)
    return _rotary_layout(
        sizes, prefix, ("transformer", "wte", "h", "ln_f"), block, (_sinusoids(positions, rotary_dim),)
    )


def _gptj(config: Config, sizes: _Sizes) -> Module:
    """GPT-J (``modeling_gptj.py``): bias-free attention, an untied ``lm_head`` with a bias."""
    hidden = sizes.hidden
    projections = (linear(name, hidden, hidden, bias=False) for name in ("k_proj", "v_proj", "q_proj", "out_proj"))
    return _parallel_block_model(config, sizes, "GPTJ", module("attn", "GPTJAttention", *projections))


_GPTJ: Final = _Family(
    "gptj",
    _gptj,
    head_classes("GPTJ", ("causal_lm", "sequence_classification", "question_answering")),
    tie_default=False,
    lm_bias=True,
)
_register(_GPTJ)


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


def _falcon(config: Config, sizes: _Sizes) -> Module:
    """Falcon (``modeling_falcon.py``): fused QKV sized by the attention variant (multi-head, multi-query, or
    the new decoder architecture's grouped KV heads), ``bias`` on every linear or none, ALiBi or rotary (neither
    has parameters), one or two norms per layer."""
    hidden, heads = sizes.hidden, sizes.heads
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
    names = ("dense_h_to_4h", "dense_4h_to_h")
    feed_forward = mlp("mlp", "FalconMLP", hidden, ffn, names=names, bias=bias, linear_kind="FalconLinear")
    norms = _falcon_norms(config, hidden, new_decoder_architecture)
    layer = module("0", "FalconDecoderLayer", attention, feed_forward, *norms)
    layout = ("transformer", "word_embeddings", "h", "ln_f")
    return _rotary_layout(sizes, "Falcon", layout, layer, _rotary_buffers(config, head_dim, 1.0))


_register(
    _Family(
        "falcon",
        _falcon,
        head_classes("Falcon", _ALL_TASKS),
        keys=(("hidden_size", "n_embed"), ("num_attention_heads",), ("num_hidden_layers",)),
        tied_to="transformer.word_embeddings.weight",
    )
)


# --- OPT ---------------------------------------------------------------------------------------------------------


def _opt(config: Config, sizes: _Sizes) -> Module:
    """OPT (``modeling_opt.py``): learned positions offset by 2 rows, token embeddings of width
    ``word_embed_proj_dim`` with ``project_in``/``project_out`` when it differs from ``hidden_size``, a final
    norm only for pre-norm models, heads reading ``word_embed_proj_dim``."""
    hidden, word_width = sizes.hidden, sizes.width
    ffn = config_dim(config, "ffn_dim")
    positions = config_dim(config, "max_position_embeddings")
    check_padding_index(config, 1, sizes.vocab)
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
        embedding("embed_tokens", sizes.vocab, word_width),
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
    decoder.append(stack("layers", layer, sizes.layers))
    return module("model", "OPTModel", module("decoder", "OPTDecoder", *decoder))


_register(
    _Family(
        "opt",
        _opt,
        head_classes("OPT", ("causal_lm", "sequence_classification", "question_answering")),
        keys=_STANDARD_KEYS,
        tied_to="model.decoder.embed_tokens.weight",
        head_width="word_embed_proj_dim",
    )
)


# --- BLOOM -------------------------------------------------------------------------------------------------------


def _bloom(config: Config, sizes: _Sizes) -> Module:
    """BLOOM (``modeling_bloom.py``): ALiBi (no position parameters), a LayerNorm right after the word
    embeddings, fused QKV with biases, MLP fixed at 4·hidden_size."""
    hidden = sizes.hidden
    names = ("query_key_value", "dense")
    attention = _fused_attention("self_attention", "BloomAttention", hidden, 3 * hidden, names, bias=True)
    feed_forward = mlp("mlp", "BloomMLP", hidden, 4 * hidden, names=("dense_h_to_4h", "dense_4h_to_h"))
    norms = (layer_norm("input_layernorm", hidden), layer_norm("post_attention_layernorm", hidden))
    block = module("0", "BloomBlock", norms[0], attention, norms[1], feed_forward)
    return module(
        "transformer",
        "BloomModel",
        embedding("word_embeddings", sizes.vocab, hidden),
        layer_norm("word_embeddings_layernorm", hidden),
        stack("h", block, sizes.layers),
        layer_norm("ln_f", hidden),
    )


_register(
    _Family(
        "bloom",
        _bloom,
        head_classes("Bloom", _ALL_TASKS),
        keys=(("hidden_size", "n_embed"), *_GPT2_KEYS[1:]),
        tied_to="transformer.word_embeddings.weight",
    )
)


# --- GPT-BigCode -------------------------------------------------------------------------------------------------


def _causal_mask(positions: Dim, *, leading: int = 0) -> Buffer:
    """The boolean causal mask ``tril(ones(positions, positions))``, with ``leading`` dims of 1 before it."""
    return Buffer("bias", (*(_ONE,) * leading, positions, positions), dtype="bool", persistent=False)


def _gpt_bigcode(config: Config, sizes: _Sizes) -> Module:
    """GPT-BigCode (``modeling_gpt_bigcode.py``, StarCoder and SantaCoder): GPT-2's block with ``nn.Linear``
    projections and, with ``multi_query`` (the default), one key/value head fused into ``c_attn``; the model holds
    the causal mask."""
    hidden = sizes.hidden
    positions = config_dim(config, "n_positions", "max_position_embeddings")
    inner = config_dim(config, "n_inner", default=4 * hidden)
    multi_query = config_flag(config, "multi_query", True)
    fused = hidden + 2 * (hidden // sizes.heads) if multi_query else 3 * hidden
    attention = _fused_attention("attn", "GPTBigCodeAttention", hidden, fused, ("c_attn", "c_proj"), bias=True)
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
    block.append(mlp("mlp", "GPTBigCodeMLP", hidden, inner, names=("c_fc", "c_proj")))
    return _gpt2_layout(
        sizes, "GPTBigCode", module("0", "GPTBigCodeBlock", *block), positions, (_causal_mask(positions),)
    )


_register(
    _Family(
        "gpt_bigcode",
        _gpt_bigcode,
        head_classes("GPTBigCode", ("causal_lm", "sequence_classification", "token_classification")),
    )
)


# --- GPT-Neo -----------------------------------------------------------------------------------------------------


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


def _gpt_neo(config: Config, sizes: _Sizes) -> Module:
    """GPT-Neo (``modeling_gpt_neo.py``): learned positions, bias-free k/v/q with a biased ``out_proj``, each
    attention holding its causal mask (local attention masks the same shape)."""
    hidden = sizes.hidden
    laid_out = _gpt_neo_layer_count(config)
    if laid_out != sizes.layers:
        raise config.fail(
            "attention_types",
            f"'{config.path('attention_types')}' lays out {laid_out} layers but 'num_layers' is {sizes.layers}",
        )
    positions = config_dim(config, "max_position_embeddings", default=2048)
    inner = config_dim(config, "intermediate_size", default=4 * hidden)
    self_attention = module(
        "attention",
        "GPTNeoSelfAttention",
        *(linear(name, hidden, hidden, bias=False) for name in ("k_proj", "v_proj", "q_proj")),
        linear("out_proj", hidden, hidden, bias=True),
        buffers=(_causal_mask(positions, leading=2),),
    )
    attention = module("attn", "GPTNeoAttention", self_attention)
    feed_forward = mlp("mlp", "GPTNeoMLP", hidden, inner, names=("c_fc", "c_proj"))
    block = module("0", "GPTNeoBlock", layer_norm("ln_1", hidden), attention, layer_norm("ln_2", hidden), feed_forward)
    return _gpt2_layout(sizes, "GPTNeo", block, positions)


_register(
    _Family(
        "gpt_neo",
        _gpt_neo,
        head_classes("GPTNeo", _ALL_TASKS),
        keys=(("hidden_size",), ("num_heads", "num_attention_heads"), ("num_layers", "num_hidden_layers")),
    )
)


# --- CodeGen -----------------------------------------------------------------------------------------------------


def _codegen(config: Config, sizes: _Sizes) -> Module:
    """CodeGen (``modeling_codegen.py``): GPT-J's parallel block with one fused bias-free ``qkv_proj``, an
    untied ``lm_head`` with a bias."""
    hidden = sizes.hidden
    attention = module(
        "attn",
        "CodeGenAttention",
        linear("out_proj", hidden, hidden, bias=False),
        linear("qkv_proj", hidden, 3 * hidden, bias=False),
    )
    return _parallel_block_model(config, sizes, "CodeGen", attention)


# CodeGen's head is GPT-J's: untied by default, with a bias.
_register(replace(_GPTJ, name="codegen", base=_codegen, classes=head_classes("CodeGen", ("causal_lm",))))


# --- MPT ---------------------------------------------------------------------------------------------------------


def _mpt(config: Config, sizes: _Sizes) -> Module:
    """MPT (``modeling_mpt.py``): ALiBi, no biases and bias-free LayerNorms whatever ``no_bias`` says, an MLP of
    4·d_model whatever ``expansion_ratio`` says (transformers reads neither), no learned positions."""
    hidden = sizes.hidden
    attention = _fused_attention("attn", "MptAttention", hidden, 3 * hidden, ("Wqkv", "out_proj"), bias=False)
    ffn = mlp("ffn", "MptMLP", hidden, 4 * hidden, names=("up_proj", "down_proj"), bias=False)
    norm_1, norm_2 = (layer_norm(name, hidden, bias=False) for name in ("norm_1", "norm_2"))
    block = module("0", "MptBlock", norm_1, attention, norm_2, ffn)
    return module(
        "transformer",
        "MptModel",
        embedding("wte", sizes.vocab, hidden),
        stack("blocks", block, sizes.layers),
        layer_norm("norm_f", hidden, bias=False),
    )


_register(
    _Family(
        "mpt",
        _mpt,
        head_classes("Mpt", _ALL_TASKS),
        keys=(("d_model", "hidden_size"), ("n_heads", "num_attention_heads"), ("n_layers", "num_hidden_layers")),
        divisible=False,
    )
)
