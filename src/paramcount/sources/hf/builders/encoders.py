"""Encoders: BERT, RoBERTa, XLM-RoBERTa, ELECTRA, ALBERT and DistilBERT.

Each builder mirrors ``transformers`` 5.24 (``models/<type>/modeling_<type>.py``): the same parameter names in
the same order, the pooler only where the class builds one (``add_pooling_layer``), the masked-LM decoder tied
to the word embeddings and its bias tied to the head's own ``bias`` when ``tie_word_embeddings`` holds (both
counted once, as ``named_parameters()`` lists them once).

Keys and defaults: the size keys (``hidden_size``, ``num_attention_heads``, ``num_hidden_layers``,
``intermediate_size``, ``vocab_size``, ``max_position_embeddings``, and DistilBERT's ``dim``/``n_heads``/
``n_layers``/``hidden_dim`` under either spelling) are required; every other key takes the default of the
family's transformers config class (``type_vocab_size`` 2, ``pad_token_id`` 0 or RoBERTa's 1, …). A
``pad_token_id`` outside an embedding it indexes is refused, as ``nn.Embedding`` refuses it.

Buffers: the embeddings' non-persistent ``position_ids`` (1, max_position_embeddings) and, for BERT and
RoBERTa, ``token_type_ids`` of the same shape, both int64.
"""

from __future__ import annotations

from paramcount._record import Record, replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders import _common as common
from paramcount.tree import Buffer, Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__: list[str] = []

_ONE = Dim.constant(1)
_TWO = Dim.constant(2)


# --- BERT and RoBERTa --------------------------------------------------------------------------------------------
class _Family(Record):
    prefix: str
    """The base model's attribute in the heads (``bert``, ``roberta``) and the class-name stem."""
    kind: str
    pad_default: int
    """``pad_token_id`` of the config class; RoBERTa also passes it to its position embedding."""
    roberta: bool = False
    """RoBERTa's embeddings (positions after ``pad_token_id``, registered last) and its ``lm_head``."""
    heads_first: bool = False
    """The head classes register their head before the base model (XLM-RoBERTa in transformers 5), so the head's
    tensors come first in ``named_parameters()`` and the masked-LM decoder owns the tied word embedding."""
    factorised: bool = False
    """Embeddings of their own width ``embedding_size`` (ELECTRA, ALBERT), 128 by default."""


_BERT = _Family("bert", "Bert", 0)
_ROBERTA = _Family("roberta", "Roberta", 1, roberta=True)
_XLM_ROBERTA = _Family("roberta", "XLMRoberta", 1, roberta=True, heads_first=True)
_ELECTRA = _Family("electra", "Electra", 0, factorised=True)
_ALBERT = _Family("albert", "Albert", 0, factorised=True)


class _Sizes(Record):
    hidden: Dim
    vocab: Dim
    positions: Dim
    width: Dim
    """The embeddings' width: ``hidden_size``, or ``embedding_size`` for a factorised family."""


def _bert_sizes(config: Config, family: _Family) -> _Sizes:
    hidden = common.config_dim(config, "hidden_size")
    common.check_divisible(config, hidden, common.config_dim(config, "num_attention_heads"))
    vocab = common.config_dim(config, "vocab_size")
    positions = common.config_dim(config, "max_position_embeddings")
    tables = (vocab, positions) if family.roberta else (vocab,)
    common.check_padding_index(config, family.pad_default, *tables)
    width = common.config_dim(config, "embedding_size", default=128) if family.factorised else hidden
    return _Sizes(hidden, vocab, positions, width)


def _bert_embeddings(config: Config, family: _Family, sizes: _Sizes, words_tied_to: str | None = None) -> Module:
    """``{Bert,Roberta,Electra,Albert}Embeddings``: word, position and token-type tables and a LayerNorm;
    ``words_tied_to``: the output head that owns the word table (registered before it)."""
    width = sizes.width
    words = common.embedding("word_embeddings", sizes.vocab, width, tied_to=words_tied_to)
    positions = common.embedding("position_embeddings", sizes.positions, width)
    token_type = common.embedding(
        "token_type_embeddings", common.config_dim(config, "type_vocab_size", default=2), width
    )
    norm = common.layer_norm("LayerNorm", width)
    # RoBERTa registers its position embedding last (it is built with padding_idx after the rest).
    parts = (words, token_type, norm, positions) if family.roberta else (words, positions, token_type, norm)
    # token_type_ids: zeros of position_ids' shape, the default token types (not saved).
    token_types = Buffer("token_type_ids", (_ONE, sizes.positions), dtype="int64", persistent=False)
    buffers = (common.position_ids(sizes.positions), token_types)
    return common.module("embeddings", f"{family.kind}Embeddings", *parts, buffers=buffers)


def _bert_attention(name: str, family: _Family, hidden: Dim, *, cross: bool) -> Module:
    """``{Bert,Roberta}Attention``: ``self`` (query, key, value) and ``output`` (dense, LayerNorm)."""
    projections = (common.linear(name, hidden, hidden, bias=True) for name in ("query", "key", "value"))
    inner = common.module("self", f"{family.kind}{'Cross' if cross else 'Self'}Attention", *projections)
    output = common.dense_norm("output", f"{family.kind}SelfOutput", hidden, hidden)
    return common.module(name, f"{family.kind}Attention", inner, output)


def _bert_model(
    config: Config, family: _Family, sizes: _Sizes, *, pooler: bool, words_tied_to: str | None = None
) -> Module:
    hidden = sizes.hidden
    layers = common.config_layers(config, "num_hidden_layers")
    intermediate = common.config_dim(config, "intermediate_size")
    is_decoder = common.config_flag(config, "is_decoder", False)
    cross = common.config_flag(config, "add_cross_attention", False)
    if cross and not is_decoder:
        raise config.fail(
            "add_cross_attention",
            f"'{config.path('add_cross_attention')}' needs 'is_decoder': true (transformers refuses cross-attention "
            "in an encoder)",
        )
    block = [_bert_attention("attention", family, hidden, cross=False)]
    if cross:
        block.append(_bert_attention("crossattention", family, hidden, cross=True))
    block += common.feed_forward(family.kind, hidden, intermediate)
    encoder = common.module(
        "encoder",
        f"{family.kind}Encoder",
        common.stack("layer", common.module("0", f"{family.kind}Layer", *block), layers),
    )
    children = [_bert_embeddings(config, family, sizes, words_tied_to)]
    if sizes.width.value != hidden.value:
        children.append(common.linear("embeddings_project", sizes.width, hidden, bias=True))
    children.append(encoder)
    if pooler:
        children.append(
            common.module("pooler", f"{family.kind}Pooler", common.linear("dense", hidden, hidden, bias=True))
        )
    return common.module(family.prefix, f"{family.kind}Model", *children)


def _mlm_head(config: Config, family: _Family, sizes: _Sizes, name: str, path: str) -> Module:
    """The masked-LM prediction head (``masked_lm_head``): BERT's nests its transform, RoBERTa's does not.
    ``path`` is the head's dotted path, for the tie of the decoder's bias; registered before the base model
    (``heads_first``), the decoder owns the shared word embedding."""
    words = {} if family.heads_first else {"weight": f"{family.prefix}.embeddings.word_embeddings.weight"}
    tied = {**words, "bias": f"{path}.bias"}
    hidden, vocab = sizes.hidden, sizes.vocab
    if family.roberta:
        return common.masked_lm_head(config, name, f"{family.kind}LMHead", hidden, hidden, vocab, tied)
    transform = "BertPredictionHeadTransform"
    return common.masked_lm_head(config, name, "BertLMPredictionHead", hidden, hidden, vocab, tied, transform=transform)


_CLASSIFIERS: Final[dict[common.Head, common.LinearHead]] = {
    "sequence_classification": common.LinearHead("classifier", True),
    "multiple_choice": common.LinearHead("classifier", True, 1),
    "token_classification": common.LinearHead("classifier", True),
    "question_answering": common.LinearHead("qa_outputs", True),
}
"""BERT's and RoBERTa's single-linear heads; question answering reads ``num_labels`` (2 by default)."""

_BERT_CLASSES = common.head_classes(
    "Bert",
    (
        "pretraining",
        "causal_lm",
        "masked_lm",
        "next_sentence",
        "sequence_classification",
        "multiple_choice",
        "token_classification",
        "question_answering",
    ),
    causal_lm="BertLMHeadModel",
)
_BERT_POOLED: Final[frozenset[common.Head]] = frozenset(
    {"base", "pretraining", "next_sentence", "sequence_classification", "multiple_choice"}
)
"""The BERT heads whose classes build the base model with ``add_pooling_layer=True``."""


class _PreTrainingHeads(Record):
    """BERT's ``cls`` module: its class, and whether it holds the masked-LM ``predictions`` and the next-sentence
    ``seq_relationship``."""

    kind: str
    masked_lm: bool
    next_sentence: bool


_BERT_CLS: Final[dict[common.Head, _PreTrainingHeads]] = {
    "pretraining": _PreTrainingHeads("BertPreTrainingHeads", True, True),
    "causal_lm": _PreTrainingHeads("BertOnlyMLMHead", True, False),
    "masked_lm": _PreTrainingHeads("BertOnlyMLMHead", True, False),
    "next_sentence": _PreTrainingHeads("BertOnlyNSPHead", False, True),
}


@model_type("bert", architectures=common.class_names(_BERT_CLASSES), default="BertModel")
def bert(config: Config, architecture: str) -> Module:
    """BERT (``modeling_bert.py``): word, position and token-type embeddings, post-norm layers, a pooler for
    the classes that read the [CLS] summary, and the pre-training heads."""
    head = dict(_BERT_CLASSES)[architecture]
    sizes = _bert_sizes(config, _BERT)
    base = _bert_model(config, _BERT, sizes, pooler=head in _BERT_POOLED)
    if head == "base":
        return base
    hidden = sizes.hidden
    if head in _BERT_CLS:
        cls = _BERT_CLS[head]
        heads = []
        if cls.masked_lm:
            heads.append(_mlm_head(config, _BERT, sizes, "predictions", "cls.predictions"))
        if cls.next_sentence:
            heads.append(common.linear("seq_relationship", hidden, _TWO, bias=True))
        return common.module("", architecture, base, common.module("cls", cls.kind, *heads))
    return common.module("", architecture, base, common.linear_head(_CLASSIFIERS[head], config, hidden))


_ROBERTA_HEADS: Final[tuple[common.Head, ...]] = (
    "causal_lm",
    "masked_lm",
    "sequence_classification",
    "multiple_choice",
    "token_classification",
    "question_answering",
)
"""RoBERTa's heads, which XLM-RoBERTa and (after its pre-training head) ELECTRA share."""


def _roberta_classes(prefix: str) -> tuple[tuple[str, common.Head], ...]:
    return common.head_classes(prefix, _ROBERTA_HEADS)


_ROBERTA_CLASSES = _roberta_classes("Roberta")
_XLM_ROBERTA_CLASSES = _roberta_classes("XLMRoberta")


def _roberta_like(config: Config, family: _Family, architecture: str, head: common.Head) -> Module:
    sizes = _bert_sizes(config, family)
    tied = (
        head in ("causal_lm", "masked_lm")
        and family.heads_first
        and common.config_flag(config, "tie_word_embeddings", True)
    )
    words_tied_to = "lm_head.decoder.weight" if tied else None
    base = _bert_model(config, family, sizes, pooler=head in ("base", "multiple_choice"), words_tied_to=words_tied_to)
    if head == "base":
        return base
    hidden = sizes.hidden
    if head in ("causal_lm", "masked_lm"):
        top = _mlm_head(config, family, sizes, "lm_head", "lm_head")
    elif head == "sequence_classification":
        top = common.classification_head(
            "classifier", f"{family.kind}ClassificationHead", hidden, common.num_labels(config)
        )
    else:
        top = common.linear_head(_CLASSIFIERS[head], config, hidden)
    return common.module("", architecture, *((top, base) if family.heads_first else (base, top)))


@model_type("roberta", architectures=common.class_names(_ROBERTA_CLASSES), default="RobertaModel")
def roberta(config: Config, architecture: str) -> Module:
    """RoBERTa (``modeling_roberta.py``): BERT's layers; position ids start after ``pad_token_id``, so the
    published ``max_position_embeddings`` (514) already holds the offset; a two-layer classification head."""
    return _roberta_like(config, _ROBERTA, architecture, dict(_ROBERTA_CLASSES)[architecture])


@model_type("xlm-roberta", architectures=common.class_names(_XLM_ROBERTA_CLASSES), default="XLMRobertaModel")
def xlm_roberta(config: Config, architecture: str) -> Module:
    """XLM-RoBERTa (``modeling_xlm_roberta.py``): RoBERTa's modules, the heads registered before the base
    model, so a tied masked-LM ``lm_head.decoder.weight`` is the listed name of the word embedding."""
    return _roberta_like(config, _XLM_ROBERTA, architecture, dict(_XLM_ROBERTA_CLASSES)[architecture])


# --- ELECTRA and ALBERT: factorised embeddings ----------------------------------------------------------------


def _generator_head(config: Config, family: _Family, sizes: _Sizes) -> Module:
    """The output projection back to the vocabulary from ``embedding_size``: its weight is the word embedding
    when ``tie_word_embeddings`` holds."""
    words = f"{family.prefix}.embeddings.word_embeddings.weight"
    return common.vocab_projection(
        config, "generator_lm_head", sizes.width, sizes.vocab, bias=True, tied={"weight": words}
    )


_ELECTRA_CLASSES = common.head_classes("Electra", ("pretraining", *_ROBERTA_HEADS))


def _electra_summary(config: Config, hidden: Dim) -> Module:
    """``ElectraSequenceSummary``: a ``summary`` Linear when ``summary_use_proj`` (to ``num_labels`` with
    ``summary_proj_to_labels`` and labels, else to ``hidden_size``), else none."""
    if not common.config_flag(config, "summary_use_proj", True):
        return common.module("sequence_summary", "ElectraSequenceSummary")
    labels = common.num_labels(config)
    to_labels = common.config_flag(config, "summary_proj_to_labels", False) and labels.value > 0
    summary = common.linear("summary", hidden, labels if to_labels else hidden, bias=True)
    return common.module("sequence_summary", "ElectraSequenceSummary", summary)


@model_type("electra", architectures=common.class_names(_ELECTRA_CLASSES), default="ElectraModel")
def electra(config: Config, architecture: str) -> Module:
    """ELECTRA (``modeling_electra.py``): BERT's layers over embeddings of width ``embedding_size`` (128 by
    default), projected by ``embeddings_project`` when that differs from ``hidden_size``; no pooler. The
    discriminator (``ElectraForPreTraining``) scores each token; the generator classes predict tokens through
    ``embedding_size`` with a head tied to the word embedding."""
    head = dict(_ELECTRA_CLASSES)[architecture]
    sizes = _bert_sizes(config, _ELECTRA)
    base = _bert_model(config, _ELECTRA, sizes, pooler=False)
    hidden = sizes.hidden
    if head == "base":
        return base
    if head == "pretraining":
        discriminator = common.module(
            "discriminator_predictions",
            "ElectraDiscriminatorPredictions",
            common.linear("dense", hidden, hidden, bias=True),
            common.linear("dense_prediction", hidden, _ONE, bias=True),
        )
        return common.module("", architecture, base, discriminator)
    if head in ("causal_lm", "masked_lm"):
        generator = common.module(
            "generator_predictions",
            "ElectraGeneratorPredictions",
            common.layer_norm("LayerNorm", sizes.width),
            common.linear("dense", hidden, sizes.width, bias=True),
        )
        return common.module("", architecture, base, generator, _generator_head(config, _ELECTRA, sizes))
    if head == "sequence_classification":
        classifier = common.classification_head(
            "classifier", "ElectraClassificationHead", hidden, common.num_labels(config)
        )
        return common.module("", architecture, base, classifier)
    if head == "multiple_choice":
        return common.module(
            "",
            architecture,
            base,
            _electra_summary(config, hidden),
            common.linear("classifier", hidden, _ONE, bias=True),
        )
    return common.module("", architecture, base, common.linear_head(_CLASSIFIERS[head], config, hidden))


_ALBERT_CLASSES = common.head_classes(
    "Albert",
    (
        "pretraining",
        "masked_lm",
        "sequence_classification",
        "token_classification",
        "question_answering",
        "multiple_choice",
    ),
)
_ALBERT_POOLED: Final[frozenset[common.Head]] = frozenset(
    {"base", "pretraining", "sequence_classification", "multiple_choice"}
)


def _albert_model(config: Config, sizes: _Sizes, *, pooler: bool) -> Module:
    """``AlbertModel``: ``num_hidden_groups`` groups of ``inner_group_num`` layers each, shared across the
    ``num_hidden_layers`` steps (which therefore do not change the count)."""
    hidden = sizes.hidden
    intermediate = common.config_dim(config, "intermediate_size")
    attention = common.module(
        "attention",
        "AlbertAttention",
        *(common.linear(name, hidden, hidden, bias=True) for name in ("query", "key", "value", "dense")),
        common.layer_norm("LayerNorm", hidden),
    )
    layer = common.module(
        "0",
        "AlbertLayer",
        common.layer_norm("full_layer_layer_norm", hidden),
        attention,
        common.linear("ffn", hidden, intermediate, bias=True),
        common.linear("ffn_output", intermediate, hidden, bias=True),
    )
    group = common.module(
        "0", "AlbertLayerGroup", common.stack("albert_layers", layer, config.layers("inner_group_num", 1))
    )
    encoder = common.module(
        "encoder",
        "AlbertTransformer",
        common.linear("embedding_hidden_mapping_in", sizes.width, hidden, bias=True),
        common.stack("albert_layer_groups", group, config.layers("num_hidden_groups", 1)),
    )
    # The steps over the shared groups: they change no count, but the shapes and FLOPs run each group that often.
    encoder = replace(encoder, attributes=(("num_hidden_layers", config.layers("num_hidden_layers")),))
    children = [_bert_embeddings(config, _ALBERT, sizes), encoder]
    if pooler:
        children.append(common.linear("pooler", hidden, hidden, bias=True))
    return common.module("albert", "AlbertModel", *children)


@model_type("albert", architectures=common.class_names(_ALBERT_CLASSES), default="AlbertModel")
def albert(config: Config, architecture: str) -> Module:
    """ALBERT (``modeling_albert.py``): factorised embeddings (``embedding_size``) mapped to ``hidden_size``,
    layers shared in groups, a one-Linear pooler; the masked-LM head predicts through ``embedding_size`` with
    its decoder tied to the word embedding, and pre-training adds sentence-order prediction."""
    head = dict(_ALBERT_CLASSES)[architecture]
    sizes = _bert_sizes(config, _ALBERT)
    base = _albert_model(config, sizes, pooler=head in _ALBERT_POOLED)
    hidden, width, vocab = sizes.hidden, sizes.width, sizes.vocab
    if head == "base":
        return base
    if head in ("pretraining", "masked_lm"):
        tied = {"weight": "albert.embeddings.word_embeddings.weight", "bias": "predictions.bias"}
        decoder = common.vocab_projection(config, "decoder", width, vocab, bias=True, tied=tied)
        predictions = common.module(
            "predictions",
            "AlbertMLMHead",
            common.layer_norm("LayerNorm", width),
            common.linear("dense", hidden, width, bias=True),
            decoder,
            params=(Param("bias", (vocab,)),),
        )
        if head == "masked_lm":
            return common.module("", architecture, base, predictions)
        order = common.module(
            "sop_classifier", "AlbertSOPHead", common.linear("classifier", hidden, common.num_labels(config), bias=True)
        )
        return common.module("", architecture, base, predictions, order)
    return common.module("", architecture, base, common.linear_head(_CLASSIFIERS[head], config, hidden))


# --- DistilBERT --------------------------------------------------------------------------------------------------


_DISTILBERT_CLASSES = common.head_classes(
    "DistilBert",
    ("masked_lm", "sequence_classification", "multiple_choice", "token_classification", "question_answering"),
)


@model_type("distilbert", architectures=common.class_names(_DISTILBERT_CLASSES), default="DistilBertModel")
def distilbert(config: Config, architecture: str) -> Module:
    """DistilBERT (``modeling_distilbert.py``): no token types, no pooler. ``sinusoidal_pos_embds`` only
    changes how the position table is filled: it stays a trainable ``nn.Embedding`` parameter in transformers 5."""
    dim = common.config_dim(config, "dim", "hidden_size")
    common.check_divisible(config, dim, common.config_dim(config, "n_heads", "num_attention_heads"))
    layers = common.config_layers(config, "n_layers", "num_hidden_layers")
    hidden_dim = common.config_dim(config, "hidden_dim")
    vocab = common.config_dim(config, "vocab_size")
    positions = common.config_dim(config, "max_position_embeddings")
    common.check_padding_index(config, 0, vocab)
    embeddings = common.word_position_embeddings("Embeddings", vocab, positions, dim)
    attention = common.module(
        "attention",
        "DistilBertSelfAttention",
        *(common.linear(name, dim, dim, bias=True) for name in ("q_lin", "k_lin", "v_lin", "out_lin")),
    )
    ffn = common.module(
        "ffn",
        "FFN",
        common.linear("lin1", dim, hidden_dim, bias=True),
        common.linear("lin2", hidden_dim, dim, bias=True),
    )
    block = common.module(
        "0",
        "TransformerBlock",
        attention,
        common.layer_norm("sa_layer_norm", dim),
        ffn,
        common.layer_norm("output_layer_norm", dim),
    )
    base = common.module(
        "distilbert",
        "DistilBertModel",
        embeddings,
        common.module("transformer", "Transformer", common.stack("layer", block, layers)),
    )
    head = dict(_DISTILBERT_CLASSES)[architecture]
    if head == "base":
        return base
    if head == "masked_lm":
        tied = {"weight": "distilbert.embeddings.word_embeddings.weight"}
        projector = common.vocab_projection(config, "vocab_projector", dim, vocab, bias=True, tied=tied)
        heads = (
            common.linear("vocab_transform", dim, dim, bias=True),
            common.layer_norm("vocab_layer_norm", dim),
            projector,
        )
        return common.module("", architecture, base, *heads)
    if head == "question_answering":
        labels = common.num_labels(config)
        if labels.value != 2:
            raise config.fail(
                "num_labels", f"'{config.path('num_labels')}' must be 2 for {architecture}, got {labels.value}"
            )
        return common.module("", architecture, base, common.linear("qa_outputs", dim, labels, bias=True))
    if head == "token_classification":
        return common.module(
            "", architecture, base, common.linear("classifier", dim, common.num_labels(config), bias=True)
        )
    outputs = _ONE if head == "multiple_choice" else common.num_labels(config)
    return common.module(
        "",
        architecture,
        base,
        common.linear("pre_classifier", dim, dim, bias=True),
        common.linear("classifier", dim, outputs, bias=True),
    )
