"""The memory planner: how much memory a model needs to store, train and serve, itemised and exact where the
arithmetic is exact, labelled as an estimate where it is not.

API (all pure functions of a tree returning frozen records of ints and strings; nothing formats text):

- ``plan_memory(tree, counts=None, options=PlanOptions()) -> MemoryPlan``: the whole picture. ``items`` (one
  replica on one device), ``per_device`` (under ZeRO / tp / pp), ``assumptions`` (``Assumption`` records, written
  out by ``paramcount.render.assumptions``), ``dtype_choice`` (the dtype and the rule that chose it), ``devices``,
  ``dims`` (the transformer sizes used) and ``fit`` (when ``options.gpu`` is set).
- ``PlanOptions(dtype, optimizer, mixed_precision, lora_rank, lora_targets, quantization,
  gradient_checkpointing, attention, sequence_parallel, zero, tp, pp, gpus, seq_len, batch, gpu)``: one field
  per CLI flag, validated and canonicalised when built (``ArgumentError`` / ``UnknownNameError`` with close
  names).
- ``fit_on(plan, accelerator) -> Fit``: fits or not, headroom, devices needed (as planned and fully sharded).
- ``transformer_dimensions(tree) -> TransformerDims | None``: hidden, layers, heads, kv heads, head dim,
  key/value widths and vocab, found from the tree's structure.
- ``kv_cache(batch=, seq_len=, layers=, kv_heads=, head_dim=, bits=, layer_types=, sliding_window=, …) -> KVCache``
  and ``latent_cache(…)`` (DeepSeek's multi-head latent attention): the cache as the runtimes keep it, per layer
  type (``KVLayerGroup``); ``transformer_activations(seq_len=, batch=, hidden=, heads=, layers=, …) ->
  MemoryBreakdown``: the formulas with explicit dimensions. A plan carries its ``kv_cache`` (and for latent
  attention ``kv_cache_expanded``, the per-head form older runtimes keep) and, on a ``gpu``, ``kv_capacity``
  (``KVCapacity``: the longest context and the most sequences that fit, an estimate).
- ``training_plans(tree, counts) -> tuple[TrainingPlan, ...]``: the four regimes a single-layer answer shows
  (AdamW, SGD with momentum, SGD, AdamW in bf16 mixed precision), each a ``plan_memory`` result.
- ``weights_in_format(tree, name, dtype=None) -> MemoryBreakdown``: the weights stored in one format.
- Data tables: ``paramcount.dtypes.FORMATS`` (storage formats with their per-group overheads),
  ``OPTIMIZERS`` / ``EXCLUDED_OPTIMIZERS``, ``ACCELERATORS``.

Exact: weights in every torch dtype and in the block-quantised formats (GPTQ, AWQ, bitsandbytes, ggml types),
gradients, master weights, optimizer states (checked against torch after one step), LoRA adapters, the KV
cache, ZeRO sharding, activations per operation for the layer layouts of ``activations.activation_plan`` (checked
against autograd's saved tensors). Estimates (``MemoryItem.exact`` is False): activations of other layers
(Korthikanti et al. 2022) and under tensor parallelism, GGUF file types that mix ggml types (``Q4_K_M`` …),
even tensor/pipeline splits.
"""

from __future__ import annotations

from paramcount._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.analysis.memory import MemoryBreakdown, MemoryItem
    from paramcount.analysis.planner.accelerators import ACCELERATORS, Accelerator, accelerator
    from paramcount.analysis.planner.kv import KVCache, KVCapacity, KVLayerGroup, StateTensor, kv_cache, latent_cache
    from paramcount.analysis.planner.optimizers import EXCLUDED_OPTIMIZERS, OPTIMIZERS, OptimizerSpec, StateSpec
    from paramcount.analysis.planner.options import PlanOptions, find_optimizer
    from paramcount.analysis.planner.plan import Fit, MemoryPlan, fit_on, plan_memory, training_plans, weights_in_format
    from paramcount.analysis.planner.transformer import (
        TransformerDims,
        transformer_activations,
        transformer_dimensions,
    )
    from paramcount.analysis.planner.weights import DtypeChoice, resolve_dtype

__all__ = [
    "ACCELERATORS",
    "EXCLUDED_OPTIMIZERS",
    "OPTIMIZERS",
    "Accelerator",
    "DtypeChoice",
    "Fit",
    "KVCache",
    "KVCapacity",
    "KVLayerGroup",
    "MemoryBreakdown",
    "MemoryItem",
    "MemoryPlan",
    "OptimizerSpec",
    "PlanOptions",
    "StateSpec",
    "StateTensor",
    "TransformerDims",
    "accelerator",
    "find_optimizer",
    "fit_on",
    "kv_cache",
    "latent_cache",
    "plan_memory",
    "resolve_dtype",
    "training_plans",
    "transformer_activations",
    "transformer_dimensions",
    "weights_in_format",
]

# Each name is imported from its module on first use (PEP 562), so a single-layer answer, which needs
# ``training_plans`` only, does not load the accelerator table or the transformer formulas.
_HOMES = {
    "ACCELERATORS": "accelerators",
    "Accelerator": "accelerators",
    "accelerator": "accelerators",
    "KVCache": "kv",
    "KVCapacity": "kv",
    "KVLayerGroup": "kv",
    "StateTensor": "kv",
    "kv_cache": "kv",
    "latent_cache": "kv",
    "MemoryBreakdown": "paramcount.analysis.memory",  # the records every memory figure is made of
    "MemoryItem": "paramcount.analysis.memory",
    "EXCLUDED_OPTIMIZERS": "optimizers",
    "OPTIMIZERS": "optimizers",
    "OptimizerSpec": "optimizers",
    "StateSpec": "optimizers",
    "PlanOptions": "options",
    "find_optimizer": "options",
    "Fit": "plan",
    "MemoryPlan": "plan",
    "fit_on": "plan",
    "plan_memory": "plan",
    "training_plans": "plan",
    "weights_in_format": "plan",
    "TransformerDims": "transformer",
    "transformer_activations": "transformer",
    "transformer_dimensions": "transformer",
    "DtypeChoice": "weights",
    "resolve_dtype": "weights",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(
        globals(), {name: home if "." in home else f"{__name__}.{home}" for name, home in _HOMES.items()}
    )
