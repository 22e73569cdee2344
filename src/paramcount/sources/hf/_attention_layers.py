"""Which decoder layers attend within a sliding window, read from a config as transformers 5.24 reads it.

``DynamicCache(config=...)`` gives each decoder layer a cache layer by its type (``cache_utils.py``,
``get_layer_types_and_kwargs``): the config's ``layer_types`` when it has them, else every layer is
``sliding_attention`` when ``sliding_window`` is set and ``full_attention`` when it is not. The config classes
fill both in ``__post_init__``, family by family (transformers 5.24 ``configuration_<family>.py``):

- gemma2: ``sliding_window`` 4096 by default; layers alternate sliding, full (``(i + 1) % 2``);
- gemma3_text: ``sliding_window`` 4096; ``sliding_window_pattern`` (default 6): every pattern-th layer is full;
  with ``use_bidirectional_attention`` the window becomes ``window // 2 + 1``;
- mistral: ``sliding_window`` 4096 by default (v0.1 publishes 4096; later versions publish null), every layer;
- qwen2, qwen3 and the text models of qwen2_vl and qwen2_5_vl: the window only with ``use_sliding_window``; then
  layers from ``max_window_layers`` (default 28; 80 for the VL text models, from the defaults table) on are
  sliding; qwen3_moe: the window only with ``use_sliding_window``, every layer;
- qwen2_moe: with ``use_sliding_window``, even-indexed layers below ``max_window_layers``; without it the window
  is 0;
- modernbert (an encoder, no cache): the window ``local_attention // 2`` (128 // 2 by default, the half-window
  each side of a token: ``ModernBertConfig.sliding_window``); every ``global_attn_every_n_layers``-th layer (3 by
  default), from the first, is full, the others sliding;
- every other family: a ``sliding_window`` or ``layer_types`` key in the file becomes an attribute of the
  config (mixtral, phi3 and starcoder2 declare ``sliding_window`` with default None) and is read the same way.

Llama 4 (llama4_text, the text model of llama4) attends within chunks of ``attention_chunk_size`` (8192 by
default) on its layers with rotary positions: ``no_rope_layers[i]`` is 1 for those (by default every layer but
each ``no_rope_layer_interval``-th, 4), which ``__post_init__`` types ``chunked_attention``; the others (NoPE) are
``full_attention``. The cache keeps a chunked layer as a sliding one whose window is the chunk
(``get_layer_types_and_kwargs``: ``sliding_window = attention_chunk_size``, a ``DynamicSlidingWindowLayer``).

The door records the result on the root as ``("layer_types", (...))`` and ``("sliding_window", W)`` when some
layer is sliding, or ``("attention_chunk_size", W)`` when some layer is chunked; a model whose layers all attend
to every token records nothing.
"""

from __future__ import annotations

from paramcount.sources.hf._config import Config
from paramcount.sources.hf._defaults import defaults_table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final

    from paramcount.tree import Value

__all__ = ["attention_layers"]

SLIDING: Final = "sliding_attention"
CHUNKED: Final = "chunked_attention"
FULL: Final = "full_attention"

WINDOW_DEFAULTS: Final[Mapping[str, int]] = {
    "mistral": 4096,
    "gemma2": 4096,
    "gemma3_text": 4096,
    "qwen2": 4096,
    "qwen3": 4096,
    "qwen2_moe": 4096,
    "qwen3_moe": 4096,
    "qwen2_vl_text": 4096,
    "qwen2_5_vl_text": 4096,
}
"""``sliding_window``'s class default where a config class declares one that is not None."""

CHUNK_DEFAULT: Final = 8192
"""``Llama4TextConfig.attention_chunk_size``'s default (null turns chunking off)."""

GATED: Final[Mapping[str, int | None]] = {
    "qwen2": None,
    "qwen3": None,
    "qwen3_moe": None,
    "qwen2_moe": 0,
    "qwen2_vl_text": None,
    "qwen2_5_vl_text": None,
}
"""Families whose window applies only with ``use_sliding_window``, and the window without it."""


def _text_config(config: Config) -> Config:
    """The decoder's config (``config.get_text_config(decoder=True)``): a composite model's ``text_config`` (gemma3,
    LLaVA, Qwen2-VL …), which the config door has completed with its class's defaults, typed as the defaults table
    types it (the class the parent fixes, else the nested ``model_type``, else the parent's default type)."""
    entry = defaults_table()["model_types"].get(config.model_type)
    text = entry["sub_configs"].get("text_config") if entry is not None else None
    raw = config.raw("text_config")
    if text is None or not isinstance(raw, dict):
        return config
    kind = raw.get("model_type", text["model_type"]) if not text["fixed"] else text["model_type"]
    return config.sub("text_config", kind if isinstance(kind, str) else text["model_type"])


def _window(config: Config) -> int | None:
    kind = config.model_type
    if kind == "modernbert":
        return config.size("local_attention", 128) // 2
    if "sliding_window" in config.data:
        raw = config.data["sliding_window"]
        window = None if raw is None else config.size("sliding_window", minimum=0)
    else:
        window = WINDOW_DEFAULTS.get(kind)
    if kind in GATED and not config.flag("use_sliding_window", False):
        return GATED[kind]
    if kind == "gemma3_text" and window is not None and config.flag("use_bidirectional_attention", False):
        return window // 2 + 1
    return window


def _default_types(config: Config, window: int | None, layers: int) -> list[str]:
    kind = config.model_type
    if kind == "gemma2":
        return [SLIDING if (index + 1) % 2 else FULL for index in range(layers)]
    if kind == "gemma3_text":
        pattern = config.size("sliding_window_pattern", 6)
        return [SLIDING if (index + 1) % pattern else FULL for index in range(layers)]
    if kind in ("qwen2", "qwen3", "qwen2_vl_text", "qwen2_5_vl_text"):
        first = config.size("max_window_layers", 28, minimum=0)
        return [SLIDING if window is not None and index >= first else FULL for index in range(layers)]
    if kind == "modernbert":
        every = config.size("global_attn_every_n_layers", 3)
        return [SLIDING if index % every else FULL for index in range(layers)]
    if kind == "qwen2_moe":
        below = config.size("max_window_layers", 28, minimum=0)
        on = config.flag("use_sliding_window", False)
        return [SLIDING if (index + 1) % 2 and index < below and on else FULL for index in range(layers)]
    return [SLIDING if window is not None else FULL] * layers


def _listed_types(config: Config, layers: int) -> list[str] | None:
    listed = config.raw("layer_types")
    if listed is None:
        return None
    if not isinstance(listed, list) or not all(isinstance(kind, str) for kind in listed):
        raise config.fail("layer_types", f"'{config.path('layer_types')}' must be a list of strings")
    if len(listed) != layers:
        raise config.fail(
            "layer_types",
            f"'{config.path('layer_types')}' lists {len(listed)} layers but "
            f"'{config.path('num_hidden_layers')}' is {layers}",
        )
    return list(listed)


def _chunked_layers(config: Config, layers: int) -> tuple[tuple[str, Value], ...]:
    """Llama 4: ``chunked_attention`` on the layers with rotary positions, ``full_attention`` on the NoPE ones."""
    chunk = (
        None
        if config.raw("attention_chunk_size", CHUNK_DEFAULT) is None
        else config.size("attention_chunk_size", CHUNK_DEFAULT)
    )
    types = _listed_types(config, layers)
    if types is None:
        rope = config.raw("no_rope_layers")
        if not rope:  # None or [] (Llama4TextConfig: "if self.no_rope_layers else" the default)
            interval = config.size("no_rope_layer_interval", 4)
            rope = [int((index + 1) % interval != 0) for index in range(layers)]
        if not isinstance(rope, list) or len(rope) != layers or any(flag not in (0, 1) for flag in rope):
            raise config.fail(
                "no_rope_layers", f"'{config.path('no_rope_layers')}' must list 0 or 1 for each of the {layers} layers"
            )
        types = [CHUNKED if flag and chunk is not None else FULL for flag in rope]
    if CHUNKED not in types or chunk is None:
        return ()
    return (("layer_types", tuple(types)), ("attention_chunk_size", chunk))


def attention_layers(data: Mapping[str, Any], model_type: str, source: str) -> tuple[tuple[str, Value], ...]:
    """``(("layer_types", types), ("sliding_window", W))`` for a decoder with sliding-window layers, Llama 4's
    ``(("layer_types", types), ("attention_chunk_size", W))`` with chunked layers, else ``()``."""
    config = _text_config(Config(data, model_type, source))
    if not config.has("num_hidden_layers"):
        return ()
    layers = config.layers("num_hidden_layers")
    if config.model_type == "llama4_text":
        return _chunked_layers(config, layers)
    window = _window(config)
    types = _listed_types(config, layers) or _default_types(config, window, layers)
    if SLIDING not in types or window is None:
        return ()
    return (("layer_types", tuple(types)), ("sliding_window", window))
