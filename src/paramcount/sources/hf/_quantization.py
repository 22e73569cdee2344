"""A config's ``quantization_config`` as the storage format its checkpoint keeps the weights in.

Only the methods whose layout transformers 5.24 fixes from the config alone are read, each exactly:

- ``fp8`` with ``weight_block_size [128, 128]`` (DeepSeek-V3): ``fp8-block128``, the float8_e4m3fn weights of
  every ``nn.Linear`` but the output head and of fused experts, with a float32 ``weight_scale_inv`` per tile
  (``FineGrainedFP8HfQuantizer``). Other block sizes, static activation scales, ue8m0 scales, FP4 experts and
  skip lists are other layouts: not read.
- ``mxfp4`` (gpt-oss): ``mxfp4``, gpt-oss's expert weights (``Mxfp4HfQuantizer``), unless the config's
  ``modules_to_not_convert`` could name the experts.

GPTQ, AWQ and bitsandbytes configs are not read: which modules their checkpoints quantise and the metadata they
store beside the values (bitsandbytes' per-tensor quant state, GPTQ's ``desc_act`` and ``g_idx``) depend on the
tool that wrote them, not on the config alone.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final

__all__ = ["stored_quantization"]

_FP8_DEFAULTS: Final = {
    "activation_scheme": ("dynamic",),
    "scale_fmt": ("float",),
    "expert_dtype": ("fp8",),
    "dequantize": (False,),
    "modules_to_not_convert": ([],),
    "modules_to_convert": ([],),
}
"""The ``FineGrainedFP8Config`` settings ``fp8-block128`` stands for (a key left out or null takes its default)."""

_EXPERTS_PATH: Final = ("model", "layers", "mlp", "experts")
"""The dotted path of gpt-oss's experts in transformers (``model.layers.N.mlp.experts``)."""


def stored_quantization(data: Mapping[str, object]) -> str | None:
    """The storage format a config's ``quantization_config`` names, or None when it names none that is read."""
    settings = data.get("quantization_config")
    if not isinstance(settings, dict):
        return None
    method = settings.get("quant_method")
    if method == "fp8" and settings.get("weight_block_size") == [128, 128] and _fp8_defaults(settings):
        return "fp8-block128"
    if method == "mxfp4" and not settings.get("dequantize") and _experts_converted(settings):
        return "mxfp4"
    return None


def _fp8_defaults(settings: Mapping[str, object]) -> bool:
    return all(settings.get(key) in (None, *allowed) for key, allowed in _FP8_DEFAULTS.items())


def _experts_converted(settings: Mapping[str, object]) -> bool:
    """No entry of ``modules_to_not_convert`` can match the experts (transformers reads each entry as a prefix
    up to a dot, a regular expression or a suffix of a module's name, ``quantizers_utils.should_convert_module``):
    each ends in a plain name that is not on their path (``lm_head``, ``model.layers.*.self_attn``), is no suffix
    of it and does not mention them. Anything else (``model.layers.1[0-9]``) is refused, not interpreted."""
    skipped = settings.get("modules_to_not_convert") or []
    if not isinstance(skipped, list) or not all(isinstance(entry, str) for entry in skipped):
        return False
    for entry in skipped:
        last = entry.rsplit(".", 1)[-1]
        if "experts" in entry or not last.isidentifier() or last in _EXPERTS_PATH or "mlp.experts".endswith(entry):
            return False
    return True
