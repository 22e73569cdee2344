"""One builder per Hugging Face ``model_type``; ``build_config_tree`` picks it and builds the tree.

A builder mirrors the reference modelling code of ``transformers`` (parameter names, tied embeddings,
GQA, MoE experts, biases, norms) and is checked against ``transformers`` on the meta device::

    @model_type("llama", architectures=("LlamaForCausalLM", "LlamaModel", ...), default="LlamaForCausalLM")
    def llama(config: Config, architecture: str) -> Module: ...

The root Module's ``kind`` is the architecture class name; its ``attributes`` carry the config facts analyses
read, ``model_type`` (peft's default LoRA targets), ``torch_dtype`` (the stored dtype) and ``quantization``
(the storage format its ``quantization_config`` names, ``_quantization``), when the config states them, and
``layer_types`` and ``sliding_window`` when some decoder layers attend within a sliding window
(``_attention_layers``), ``no_kv_cache`` when the class keeps no KV cache (an encoder), and
``max_position_embeddings`` (the context the config gives the model). What the config
said as a source (where it was read, the other classes it can build) is its ``FromConfig`` provenance, which
``read_model`` returns beside the tree.
"""

from __future__ import annotations

from pathlib import Path

from paramcount._record import Record, replace
from paramcount._registry import Registry
from paramcount.errors import ConfigError, Remedy, UnknownNameError, did_you_mean
from paramcount.provenance import FromConfig
from paramcount.sources.hf._config import Config, parse_config_text
from paramcount.sources.hf._defaults import complete
from paramcount.sources.hf._quantization import stored_quantization
from paramcount.tree import NO_KV_CACHE, Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Final, TypeAlias

    from paramcount.tree import Value

__all__ = ["MODEL_TYPES", "ModelTypeSpec", "build_config_tree", "model_type", "read_model", "supported_model_types"]

if TYPE_CHECKING:
    Builder: TypeAlias = Callable[[Config, str], Module]


class ModelTypeSpec(Record):
    name: str
    builder: Builder
    architectures: tuple[str, ...]
    """Every class the builder can count, the base model first (``LlamaModel``), then the heads."""
    default: str
    """What to count when the config has no ``architectures`` field."""


def _load_builders() -> None:
    from paramcount.sources.hf import builders  # noqa: F401  (imports every family module)


MODEL_TYPES: Final[Registry[ModelTypeSpec]] = Registry("model_type", _load_builders)
"""Every supported ``model_type`` by name."""


def model_type(name: str, *, architectures: tuple[str, ...], default: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        if default not in architectures:
            raise RuntimeError(f"{name}: default {default!r} is not among its architectures")
        MODEL_TYPES.add(name, ModelTypeSpec(name, builder, architectures, default))
        return builder

    return register


def supported_model_types() -> tuple[str, ...]:
    return MODEL_TYPES.names()


def spec_for(name: str, source: str = "config.json") -> ModelTypeSpec:
    """The builder of ``model_type`` ``name``; an unknown one is refused naming ``source`` (the config's file)
    and offering ``via_transformers`` (a ``Remedy``: the command line's ``--via-transformers``). Whether
    transformers knows the type is not checked: its table moved between versions (4.x ``configuration_auto.py``,
    5.x ``auto_mappings.py``) and importing it costs about a second, too much for an error message; so the offer
    is conditional."""
    spec = MODEL_TYPES.find(name)
    if spec is None:
        close = MODEL_TYPES.close_names(name)
        from paramcount.sources.hf.via_transformers import available

        offer = "; if transformers knows it, add {} to count it there"
        if not available():
            offer += " (needs torch and transformers installed)"
        raise UnknownNameError(
            (
                f"{source}: model_type {name!r} is not supported",
                Remedy("via_transformers", offer),
                f"; supported: {', '.join(MODEL_TYPES.names())}{did_you_mean(close)}",
            ),
            name,
            close,
        )
    return spec


def read_config(source: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The config as a dict and the name to use in messages; bounded reading of files."""
    from collections.abc import Mapping  # here, not at the top: it is off the counting path

    if isinstance(source, Mapping):
        return dict(source), "config.json"
    path = Path(source)
    if path.is_dir():
        path = path / "config.json"
    from paramcount.limits import MAX_CONFIG_BYTES
    from paramcount.sources.hf.hub import hub_id_of

    try:
        with path.open("rb") as stream:
            text = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    name = hub_id_of(path) or str(path)
    return parse_config_text(text, name), name


ACTIVATION_KEYS: Final = (
    "hidden_act",
    "hidden_activation",
    "activation_function",
    "activation",
    "attention_dropout",
    "attn_pdrop",
    "resid_pdrop",
    "embd_pdrop",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "dropout",
    "activation_dropout",
    "residual_dropout",
    "embedding_dropout",
    "hidden_dropout",
    "input_jitter_noise",
    "dropout_rate",
    "feed_forward_proj",
    "classifier_dropout",
    "problem_type",
    "drop_path_rate",
    "resid_dropout",
    "embed_dropout",
    "afn",
    "mlp_dropout",
    "classifier_activation",
    "feat_proj_dropout",
    "final_dropout",
    "layerdrop",
    "mask_time_prob",
    "mask_feature_prob",
    "ctc_loss_reduction",
    "feat_extract_activation",
)
"""Config keys that decide what a layer keeps for backward (its activation function and dropout rates; a task
head's dropout and loss; a speech encoder's feature encoder, SpecAugment's masks, LayerDrop and CTC loss), kept on
the root as attributes for the activation planner."""
CAP_KEYS: Final = ("attn_logit_softcapping", "final_logit_softcapping", "clip_qkv")
"""Caps on scores, logits or projections (Gemma 2's softcapping, OLMoE's clip_qkv) that keep tensors for backward:
their value, 0.0 where the config sets them to null (their defaults may be on)."""
HEAD_KEYS: Final = (
    "num_attention_heads",
    "num_heads",
    "n_head",
    "n_heads",
    "encoder_attention_heads",
    "decoder_attention_heads",
)
"""Head counts, kept on the root for families whose fused or square projections do not show them (GPT-2, BERT,
BART, GPT-Neo, MPT, DistilBERT)."""
ROUTING_KEYS: Final = (
    "num_experts_per_tok",
    "norm_topk_prob",
    "output_router_logits",
    "router_jitter_noise",
    "clip_qkv",
    "topk_method",
)
"""A sparse MoE router's settings (experts per token, renormalised top-k weights, the load-balancing loss, jitter
noise, DeepSeek-V2's top-k method) and OLMo's clamp of q, k and v (``clip_qkv``), kept on the root for the
activation planner."""
LAYOUT_KEYS: Final = (
    "do_layer_norm_before",
    "use_parallel_residual",
    "use_cache",
    "alibi",
    "new_decoder_architecture",
    "sparse_prediction",
    "apply_spec_augment",
)
"""Switches of a layer's dataflow that the weights do not show (OPT's LayerNorm before or after each sub-layer,
GPT-NeoX's attention and MLP in parallel, the KV cache a training forward fills, which copies the keys and
values; Falcon's ALiBi instead of rotary and its new decoder architecture, whose key/value heads are picked and
broadcast otherwise; ModernBERT's head run on the masked tokens only; a speech encoder's SpecAugment), kept on the
root for the activation planner."""


ENCODER_TYPES: Final = frozenset(
    {
        "albert", "clip", "clip_text_model", "clip_vision_model", "deberta-v2", "dinov2", "distilbert", "hubert",
        "modernbert", "mpnet", "pixtral", "siglip", "siglip2", "siglip2_text_model", "siglip2_vision_model",
        "siglip_text_model", "siglip_vision_model", "vit", "wav2vec2",
    }
)  # fmt: skip
"""Model types whose transformers 5.24 classes are encoders only: no layer takes a cache (``modeling_<family>.py``
never mentions ``past_key_values`` or ``Cache``)."""
DECODER_FLAG_TYPES: Final = frozenset({"bert", "electra", "roberta", "xlm-roberta"})
"""BERT's layer: it caches only as a decoder (``BertModel.forward`` sets ``use_cache = False`` unless
``config.is_decoder``; ``BertLMHeadModel`` and the ``ForCausalLM`` classes want ``is_decoder=True``)."""


def _cache_fact(data: Mapping[str, Any], raw_type: str, architecture: str) -> tuple[tuple[str, Value], ...]:
    """``(NO_KV_CACHE, why)`` on the root when the class keeps no KV cache in transformers 5.24, else nothing."""
    if raw_type in ENCODER_TYPES:
        why = f"{architecture}, an encoder (it reads the whole sequence in one pass)"
    elif raw_type in DECODER_FLAG_TYPES and data.get("is_decoder") is not True:
        why = f"{architecture}, whose layers cache only as a decoder (is_decoder is false)"
    elif raw_type == "openai-gpt":
        why = f"{architecture}, whose attention takes no past keys and values"
    elif architecture.endswith("EncoderModel"):  # T5EncoderModel and the like: the encoder stack alone
        why = f"{architecture}, the encoder alone"
    else:
        return ()
    return ((NO_KV_CACHE, why),)


def activation_settings(data: Mapping[str, Any]) -> list[tuple[str, str | float | int]]:
    """The root attributes the activation planner reads from a config (``ACTIVATION_KEYS``, ``CAP_KEYS`` …)."""
    found: list[tuple[str, str | float | int]] = []
    for key in ACTIVATION_KEYS:
        value = data.get(key)
        if isinstance(value, str) and len(value) <= 40:
            found.append((key, value))
        elif isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            found.append((key, float(value)))
    for key in CAP_KEYS:
        value = data.get(key)
        if key in data and (value is None or (isinstance(value, int | float) and not isinstance(value, bool))):
            found.append((key, float(value or 0.0)))
    for key in HEAD_KEYS:
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**20:
            found.append((key, value))
    for key in (*ROUTING_KEYS, *LAYOUT_KEYS):
        value = data.get(key)
        # a flag, a count or a rate, or a method's name (DeepSeek-V2's topk_method)
        if (
            isinstance(value, bool)
            or (isinstance(value, int | float) and 0 <= value < 2**20)
            or (isinstance(value, str) and len(value) <= 40)
        ):
            found.append((key, value))
    return found


def build_config_tree(source: str | Path | Mapping[str, Any], *, architecture: str | None = None) -> Module:
    """The tree of the model a config describes (a path to config.json, a folder holding one, or a dict).

    By default the class named first in the config's ``architectures`` (what ``from_pretrained`` builds);
    ``architecture=`` picks another of the builder's classes (``"LlamaModel"`` for the base model). Keys the
    config leaves out take the defaults of transformers' config class for its ``model_type`` (``_defaults``)."""
    return read_model(source, architecture=architecture)[0]


def read_model(
    source: str | Path | Mapping[str, Any], *, architecture: str | None = None, location: str | None = None
) -> tuple[Module, FromConfig]:
    """``build_config_tree``'s tree and where it came from; ``location`` names the source (a hub id or a path),
    None for a config given as a dict."""
    data, name = read_config(source)
    raw_type = data.get("model_type")
    if not isinstance(raw_type, str):
        raise ConfigError(f"{name}: key 'model_type' is missing or not a string", key_path="model_type")
    spec = spec_for(raw_type, name)
    completed = complete(data, raw_type)
    config = Config(completed, raw_type, name)
    chosen = architecture
    if chosen is None:
        listed = data.get("architectures")
        chosen = listed[0] if isinstance(listed, list) and listed and isinstance(listed[0], str) else spec.default
    # Remote-code configs spell the class their own way (MPTForCausalLM, PhiMoEForCausalLM); transformers builds
    # its own class of that name (MptForCausalLM) from the model_type.
    chosen = next((known for known in spec.architectures if known.lower() == chosen.lower()), chosen)
    if chosen not in spec.architectures:
        raise ConfigError(
            f"{name}: architecture {chosen!r} is not supported for model_type {raw_type!r}; "
            f"supported: {', '.join(spec.architectures)}",
            key_path="architectures",
        )
    root = spec.builder(config, chosen)
    stored = data.get("torch_dtype", data.get("dtype"))
    dtype = stored if isinstance(stored, str) else None
    others = tuple(name for name in spec.architectures if name != chosen)
    quantization = stored_quantization(data)
    provenance = FromConfig(location, raw_type, chosen, others, dtype, quantization=quantization)
    attributes: tuple[tuple[str, Value], ...] = (("model_type", raw_type),)
    if dtype is not None:
        attributes += (("torch_dtype", dtype),)
    if quantization is not None:
        attributes += (("quantization", quantization),)
    from paramcount.sources.hf._attention_layers import attention_layers

    attributes += tuple(attention_layers(completed, raw_type, name))
    attributes += tuple(activation_settings(completed))
    attributes += _cache_fact(completed, raw_type, chosen)
    positions = completed.get("max_position_embeddings")
    if isinstance(positions, int) and not isinstance(positions, bool) and positions > 0:
        attributes += (("max_position_embeddings", positions),)
    own = {key for key, _ in root.attributes}  # a tower class's own config (its vision_config) says them instead
    attributes = tuple(item for item in attributes if item[0] not in own)
    return replace(root, name="", kind=chosen, attributes=attributes + root.attributes), provenance
