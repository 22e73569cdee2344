"""The sentences behind memory figures: an ``Assumption`` (a kind and its values) written out, the dtype rule
said in words, and both as JSON data.

Each kind has one template here. Values are formatted as the template says (``{count:,}``); before that, a
tuple of names is joined with commas and a tuple of assumptions with semicolons, each written out.
"""

from __future__ import annotations

from paramcount._words import noun
from paramcount.analysis.memory import Assumption

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Final

    from paramcount.analysis.memory import DtypeChoice

__all__ = ["assumption_data", "assumption_text", "dtype_reason", "dtype_why", "stored_as"]

DTYPE_WHY: Final[dict[str, str]] = {
    "given": "given as dtype",
    "tensors": "the tensors' own dtype",
    "tensors-most": "the dtype most of the tensors' parameters are stored in",
    "quantised": "llama.cpp's default for its KV cache (the weights are quantised)",
    "config": "the dtype the config stores",
    "config-quantised": "the dtype the config stores",
    "checkpoint-quantised": "the dtype the format's checkpoints keep them in; the config states none",
    "torch-default": "torch's default; neither the tensors nor a config state another",
}
"""``DtypeChoice.rule`` in words."""

LORA_TARGETS_WHY: Final[dict[str, str]] = {
    "given": "given as lora_targets",
    "peft-default": "peft's default for model_type {model_type}",
    "all-linear": (
        "peft has no default targets for this model, so every Linear but the output head "
        "(LoraConfig(target_modules='all-linear'))"
    ),
}
"""``LoraTargets.rule`` in words."""

SHARDED: Final = {
    1: "optimizer states",
    2: "optimizer states and gradients",
    3: "optimizer states, gradients and weights",
}
"""What each ZeRO stage shards."""

WINDOWS: Final = {"sliding_attention": "a sliding window", "chunked_attention": "chunks (attention_chunk_size)"}
"""What a windowed layer type attends within (``KVLayerGroup.layer_type``)."""

KEPT: Final = {
    "cpu": "statistics and dropout masks in the input's dtype (CPU kernels)",
    "cuda": "batch-norm and layer-norm statistics in float32 and dropout masks as bool (CUDA kernels)",
}
"""What the per-operation activations keep of norms and dropout, by the kernels they follow."""

HEADS: Final = {
    "output": "v={outputs:,}",
    "none": "no output head or loss",
    "pooler": "the pooler, no output head or loss",
    "sequence-classification": "a sequence-classification head over c={outputs} classes and its loss",
    "token-classification": "a token-classification head over c={outputs} classes and its loss",
    "question-answering": "a question-answering head (start and end logits over the positions) and its two losses",
    "eos-classification": (
        "a sequence-classification head at the last eos token (one per sequence) over c={outputs} classes and its loss"
    ),
}
"""The head an activation plan's layers feed (``activations-layers``), with its outputs."""

NO_FLASH: Final = {
    "math": "the CPU runs the math kernel (float32 copies, the s × s probabilities)",
    "memory-efficient": (
        "CUDA runs the memory-efficient kernel, modelled from PyTorch's autograd formula, not measured on a GPU (the "
        "tests run the CPU kernels); its padding of logsumexp to 32 rows is not itemised"
    ),
}
"""What sdpa runs instead of a flash kernel for multi-head latent attention's narrower values, by kernel."""

GRIDS: Final = {
    "Conv1d": "a signal (channels × length)",
    "Conv2d": "an image (channels × height × width)",
    "Conv3d": "a volume (channels × depth × height × width)",
}
"""What a model whose first layer is a convolution reads (``compute-no-tokens``), by the convolution's kind."""

MASKED_ON_CUDA: Final = (
    "; on CUDA sdpa with a mask runs the memory-efficient kernel, modelled as the CPU's flash kernel keeps it (its "
    "logsumexp padded to a multiple of 32 queries is not)"
)
"""What a sliding window's mask changes on CUDA (``activations-sliding-window``)."""

TEMPLATES: Final[dict[str, str]] = {
    "dtype": "dtype {dtype}: {why}",
    "format": "{name}: {note} (source: {source})",
    "format-experts": (
        "{name}: the experts' fused 3-d weights ({parameters:,} parameters; transformers 5 stores them so) are not "
        "nn.Linear layers, which alone bitsandbytes quantises: they stay in {dtype} (bitsandbytes issue #1849)"
    ),
    "format-experts-gpt-oss": (
        "{name}: transformers quantises gpt-oss's experts alone (replace_with_mxfp4_linear); this model's fused "
        "experts ({parameters:,} parameters) stay in {dtype}"
    ),
    "checkpoint-weights": "weights as the checkpoint stores them: each tensor's bytes from its type's block layout",
    "checkpoint-dtypes": "weights as the checkpoint stores them: each tensor in its own dtype",
    "lora": (
        "LoRA r={rank} on {targets} ({targets_why}): {layers:,} Linear layers adapted ({adapted}); base weights "
        "frozen, adapters and their gradients and states in float32 (peft autocast_adapter_dtype)"
    ),
    "frozen": "{frozen:,} frozen parameters are held as weights only (no gradients or optimizer states)",
    "mixed-precision": (
        "mixed precision ({mode}): {half} weights and gradients, float32 master weights and optimizer states "
        "(Megatron-LM / DeepSpeed convention; ZeRO paper §3.1: 2 + 2 + 12 bytes per parameter with Adam)"
    ),
    "state-dtype": "gradients and optimizer states in {dtype}, the dtype of the parameters (torch.zeros_like(p))",
    "state-dtypes": (
        "gradients and optimizer states each in its parameter's own dtype ({dtypes}), as torch keeps them for a "
        "model trained as loaded (p.grad, torch.zeros_like(p))"
    ),
    "matrices-only": "{optimizer} keeps no state for the {others:,} parameters in tensors that are not 2-d",
    "optimizer": "optimizer {optimizer}: {note} (source: {source})",
    "activations-dtype": (
        "activations in {dtype}: the compute dtype (the 16-bit type under mixed precision, as a model loaded in it "
        "runs; autocast over float32 weights also keeps 16-bit copies of the weights, not modelled)"
    ),
    "activations-split": "activations split over tp={tp} {sequence} sequence parallelism: an estimate by {source}",
    "checkpointing": (
        "checkpointing: each layer's input is kept; during backward one layer's tensors are recomputed at a time "
        "(its line above); the rotary tables the checkpoints hold are not itemised"
    ),
    "activations-layout": (
        "activations: the layers (or the task head) are not one of the layouts modelled per operation "
        "(Llama, Mistral, Qwen2/3, Gemma 1/2/3, Phi-3, Mixtral, Qwen2/3-MoE, OLMoE, Phi-3.5-MoE, "
        "DeepSeek-V2/V3, Granite, GraniteMoE, SmolLM3, StarCoder2, StableLM, OLMo, OLMo-2, Cohere, Cohere2, "
        "GLM-4, GLM-4.5, gpt-oss, GPT-2, BERT, RoBERTa, XLM-R, ELECTRA, DistilBERT, ALBERT, MPNet, ModernBERT, ViT, "
        "DINOv2, CLIP's and SigLIP's vision towers, BART, mBART, Pegasus, Marian, Whisper, wav2vec 2.0, HuBERT, T5, "
        "mT5, UMT5, OPT, GPT-NeoX, GPT-J, CodeGen, Phi-2, Falcon, GPT-Neo, GPT-BigCode, BLOOM, MPT, OpenAI GPT)"
    ),
    "activations-korthikanti": (
        "activations: an estimate by {source}; it assumes a GPT-style layer (4h MLP, dropout) and {element_bytes}-byte "
        "activations; s={seq_len:,}, b={batch}, h={hidden:,}, a={heads}, L={layers}"
    ),
    "activations-vision": (
        "{layers} vision layers ({stack}): the same estimate with the image tower's own sizes, s={seq_len:,} tokens "
        "per sequence, b={batch} sequences (one image per text sequence, its tiles or frames as the shape walk runs "
        "them), h={hidden:,}, a={heads}; a tower that trains (trainable weights, or LoRA adapters in it: peft "
        "matches target names in the tower too) keeps them all; a frozen one, which reads the pixels, keeps nothing "
        "and has no line; the projector's activations are not included"
    ),
    "scores-left-out": "attention heads unknown: the attention-score term 5as²b is left out (FlashAttention-style)",
    "scores-not-kept": (
        "the attention-score term 5as²b is left out: sdpa and flash attention keep no s × s scores (eager does)"
    ),
    "activations-mixers": (
        "{layers} state-space layers ({mixer}): an estimate, not measured; each mixer keeps its projections' inputs "
        "and its in-projections' outputs, m={width:,} elements per token in {element_bytes}-byte activations (what "
        "fused conv-and-scan kernels save, as mamba_ssm's mamba_inner_fn keeps xz and "
        "mamba_split_conv1d_scan_combined zxbcdt), not divided by tensor parallelism; the scan's chunk states and "
        "the per-step states of transformers' torch fallback are not included; a state-space layer's "
        "feed-forward and norms count as Korthikanti's MLP and layer-norm terms (§4.1), a lone norm as its input"
    ),
    "kv-cache": (
        "KV cache as {runtime}: keys and values · batch {batch} · {seq_len:,} {tokens} · {layers} {layer_word} · "
        "{kv_heads} kv {head_word} · head_dim {head_dim}{values} · {bits}-bit {dtype}"
    ),
    "kv-window": (
        "{layers} layers attend within {what} of {window:,} tokens and keep min({seq_len:,}, window − 1) = {tokens:,} "
        "tokens, as transformers' DynamicSlidingWindowLayer does after a prefill (vLLM and SGLang keep the window's "
        "tokens, rounded up to whole blocks)"
    ),
    "kv-latent": (
        "KV cache of multi-head latent attention as {runtime}: batch {batch} · {seq_len:,} tokens · {layers} layers · "
        "(kv_lora_rank {kv_lora_rank} + qk_rope_head_dim {qk_rope_head_dim}) · {bits}-bit {dtype}; one copy on each "
        "tensor-parallel device"
    ),
    "kv-expanded": (
        "expanded per head as {runtime}: {heads} heads · (keys {key_head_dim} + values {value_head_dim}) per token per "
        "layer"
    ),
    "kv-cross": (
        "cross-attention cache as {runtime}: the encoder output's keys and values · batch {batch} · {source:,} source "
        "positions · {layers} decoder layers · {key_width} + {value_width} elements per position{same_length}"
    ),
    "kv-heads-unknown": (
        "KV heads unknown from the shapes: the cache holds the key and value projection widths "
        "({key_width:,} and {value_width:,} per token per layer) as one head, not split by tp"
    ),
    "activations-no-sequence": (
        "activations not included: give seq_len (and batch) for a transformer's, or an input shape to count the "
        "tensors autograd keeps"
    ),
    "kv-no-sequence": "the KV cache not included: give seq_len (and batch)",
    "activations-no-stack": "activations not modelled: no stack of attention blocks found in the tree",
    "kv-no-stack": "KV cache not modelled: no stack of attention or state-space blocks found in the tree",
    "kv-none": "no KV cache: transformers 5.24 keeps none for {why}",
    "kv-none-torch": (
        "no KV cache: the forward of torch.nn's {modules} takes no past keys and values (torch 2.13 recomputes them "
        "all at each call)"
    ),
    "kv-states": (
        "{layers} state-space layers ({mixer}) keep fixed-size states whatever the tokens, as transformers 5.24's "
        "LinearAttentionLayer does after a prefill: the conv state (the last {kernel} inputs of the depthwise "
        "convolution) in {dtype}, the {recurrent} state in float32 (the scan runs on A = -exp(A_log.float()), as "
        "mamba_ssm's kernels do); a KV-cache dtype applies to keys and values only"
    ),
    "states-unknown": "the {mixer} layers' state sizes are not recorded in the tree: their states are not included",
    "states-differ": "the state-space mixers' sizes differ; the first one's are used for every layer",
    "transformer-sizes": "transformer sizes from the tree ({stack}): {notes}",
    "several-stacks": (
        "several stacks of blocks; using {path} (the largest of those as wide as the output head's inputs, else the "
        "largest)"
    ),
    "fused-qkv": "fused query/key/value projection split in three equal parts (multi-head attention assumed)",
    "heads-unrecorded": "the number of attention heads is not recorded in the shapes",
    "sizes-differ": "the blocks' attention sizes differ; the first block's are used for every layer",
    "inference-activations": "inference activations (one layer's working set at a time) are not included",
    "zero": (
        "ZeRO-{stage} shards the {sharded} over {data_parallel} data-parallel devices (Rajbhandari et al. 2020) as "
        "torch's FSDP2 (fully_shard) does, in per-parameter shards whose states torch.optim keeps: each tensor's dim "
        "0 in chunks of ⌈rows / {data_parallel}⌉ (torch.chunk: the last devices get fewer), so the figure is the "
        "first device's, the largest (DeepSpeed's flat partitions would be even to within padding), each tensor in "
        "its own dtype; lines of quantised weights or under tensor or pipeline parallelism are split evenly (an "
        "estimate)"
    ),
    "zero-scalars": (
        "ZeRO does not shard the optimizer's 0-d states (step …, one per parameter tensor, {count:,} in all): the "
        "data-parallel devices each keep them all, as torch.optim does on FSDP2's shards (fully_shard gives every "
        "device a shard, perhaps empty, of every parameter); DeepSpeed's flat partitions keep one per parameter "
        "group instead"
    ),
    "zero-short": (
        "{count:,} tensors have fewer rows (dim 0) than the {data_parallel:,} devices (fused experts stack one per "
        "expert there): the first devices hold a row of each, the last ones none (FSDP2's shard_placement_fn can "
        "shard another dim instead)"
    ),
    "zero-factored": (
        "ZeRO does not shard Adafactor's row_var and col_var ({count:,} values): on FSDP2's sharded parameters "
        "torch.optim.Adafactor makes them whole on every device (new_zeros of a shape other than the parameter's "
        "gives a replicated DTensor); torch 2.13's Adafactor.step does not yet run on such parameters (an in-place "
        "square_ of a partial norm fails)"
    ),
    "zero-absmax": (
        "ZeRO shards bitsandbytes' 8-bit states as they are made on FSDP2's sharded parameters: state1 and state2 "
        "(torch.zeros_like(p)) per parameter like the parameter, but each absmax (torch.zeros of the blocks of "
        "p.numel(), the whole tensor's: {count:,} float32 values) whole on every device; bitsandbytes 0.50.2's step "
        "does not yet run on such parameters (its 8-bit update gets DTensors beside plain tensors and raises; "
        "bitsandbytes issues #1403, #1633)"
    ),
    "per-process-maps": (
        "every device keeps its own 8-bit quantisation maps: each process's bitsandbytes optimizer builds them "
        "(Optimizer8bit.fill_qmap), so no split divides them"
    ),
    "tp-scalars": (
        "tensor parallelism does not split the optimizer's 0-d states (step …, {count:,} in all): each device "
        "holds its slice of every parameter tensor, and torch.optim keeps one for each"
    ),
    "model-parallel": (
        "tensor parallel {tp} × pipeline parallel {pp}: weights, gradients and states split evenly (an estimate: "
        "norms are replicated, pipeline stages are not perfectly balanced); activations per Korthikanti et al. "
        "Table 2 {sequence} sequence parallelism; the first 1F1B stage holds L layers' worth"
    ),
    "per-operation-unmodelled": "saved tensors per operation not modelled for: {kinds}",
    "activations-shapes-unfollowed": (
        "activations not modelled: the input's shapes could not be followed through these modules"
    ),
    "activations-shapes": (
        "activations: an estimate from the shapes of the given input — every layer's output is kept for the "
        "backward pass, in {dtype}; in-place operations, fused kernels and checkpointing keep less, and some "
        "layers (pooling indices, dropout masks) keep a little more"
    ),
    "activations-per-operation": (
        "activations: the tensors autograd keeps in one training forward on input {input_shape}, per operation, each "
        "storage once, in {dtype}; {kept} (derived per operation from torch's autograd formulas and checked against "
        "torch.autograd.graph.saved_tensors_hooks)"
    ),
    "activations-layers": (
        "activations: the tensors autograd saves for backward, per operation, as transformers runs a {structure}-style "
        "layer with attn_implementation={attention!r} ({kernel} kernel), {dtype} activations, no padding mask; "
        "b={batch}, s={seq_len:,}, h={hidden:,}, a={heads}, k={kv_heads} kv heads, d={head_dim}, i={width:,}"
        "{embedding}, {task}"
    ),
    "activations-function": (
        "activation function {function}; dropout: attention {attention_dropout:g}, hidden {hidden_dropout:g}"
        "{activation}{masks}"
    ),
    "activations-nested-dropouts": "MPT's dropouts (attn_config.attn_pdrop, nested) are read as 0, as its configs ship",
    "activations-encoder-decoder": (
        "encoder-decoder: {encoder_layers} encoder layers at the source length s={source:,} {window}{given}and the "
        "decoder's at the target length t={target:,}; cross-attention's keys and values span s"
    ),
    "activations-decoder-alone": (
        "the decoder alone (ForCausalLM): no encoder, and each layer's cross-attention is not called"
    ),
    "activations-moe": (
        "sparse MoE: e={experts} experts of width i, r={per_token} per token{shared}; transformers' default "
        "experts_implementation='grouped_mm' keeps each tensor over all b·s·r routed (token, expert) pairs, so the "
        "bytes hold for any routing (balanced or not); only the split between the experts depends on it. "
        "experts_implementation='eager' (a loop over the experts) is not modelled"
    ),
    "activations-latent": (
        "multi-head latent attention (DeepSeek): {query}keys and values from a latent of width l={kv_latent:,}; "
        "query/key heads of d={head_dim} dims, rotary on p={rotary_dims} of them, value heads of u={value_head_dim}"
        "{no_flash_kernel}"
    ),
    "activations-t5-memory-efficient": (
        "T5 on CUDA: sdpa gets the relative position bias as attn_mask, which flash kernels refuse, so the "
        "memory-efficient kernel runs and also keeps the bias; modelled from PyTorch's autograd formula, not "
        "measured on a GPU (the tests run the CPU kernels); its padding of logsumexp to 32 rows (and of the bias to "
        "16 columns) and its RNG state are not itemised"
    ),
    "activations-flash-rng": "flash kernels also keep 16 bytes of RNG state per layer, not itemised",
    "activations-dense-layers": (
        "activations: {dense} dense layers (mlp_only_layers, decoder_sparse_step, first_k_dense_replace) with a gated "
        "MLP of width f={width:,} among {sparse} sparse ones; each tensor says which kind keeps it"
    ),
    "activations-sliding-window": (
        "activations: the sequence reaches the sliding window ({window:,}): transformers gives sdpa the sliding "
        "layers' mask, so they keep it and keys and values repeated to every head{on_cuda}"
    ),
    "activations-sliding-window-mask": (
        "activations: the sequence reaches the sliding window ({window:,}): transformers gives sdpa the sliding "
        "layers' mask, which each of them keeps{on_cuda}"
    ),
    "activations-first-layer": (
        "activations: the first layer has no attention norm (an Identity; its Wqkv reads the embeddings' output), "
        "so it keeps a LayerNorm's input, mean and rstd less than the later layers; each tensor says which kind of "
        "layer keeps it"
    ),
    "activations-clamped-swiglu": (
        "activations: the experts run a SwiGLU clamped to swiglu_limit, (up + 1)·gate·sigmoid(alpha·gate), whatever "
        "the activation function says"
    ),
    "activations-eager": (
        "activations: transformers' {model_type} class cannot run {requested} ({supports} = False): eager attention"
        "{fallback}"
    ),
    "activations-not-checkpointable": (
        "{model_type}'s layers are not checkpointable in transformers (activation_checkpointing_enable raises): the "
        "checkpointed figures assume a checkpoint of one's own around each layer's run"
    ),
    "activations-image-tokens": (
        "vision transformer: s={tokens:,} tokens, the image's {patches:,} patches{class_token}, from an image "
        "of n={image_values:,} values (channels × height × width) at the configured image_size, whatever the sequence "
        "length asked for; another image size (interpolated position embeddings) is not modelled"
    ),
    "activations-speech": (
        "speech encoder: the sequence length asked for counts samples of the raw waveform ({samples:,}; 16,000 a "
        "second for the shipped models), of which the feature encoder's {convolutions} convolutions make "
        "s={frames:,} frames, the layers' sequence{labels}{layerdrop}"
    ),
    "activations-image-positions": (
        "the estimate's s={positions:,}: the layers run the image's {patches:,} patches{class_token} at the "
        "configured image size, whatever the sequence length asked for ({seq_len:,})"
    ),
    "activations-measured": (
        "activations: measured on {device}, the distinct storages autograd saved during one forward pass at the "
        "given input in train mode, parameters excluded (exact for this input and batch)"
    ),
    "not-included": "not included: temporary buffers, the CUDA/ROCm context and allocator fragmentation",
    "compute-image-positions": (
        "D = {positions:,} positions per image × {images:,} {image_word} = {tokens:,}: a vision transformer's layers "
        "run the image's {patches:,} patches{class_token}, as the activation planner counts them, whatever "
        "the sequence length asked for ({seq_len:,}); 2·N·D leaves out attention's products over them (input gives "
        "the exact FLOPs)"
    ),
    "compute-no-tokens": (
        "no token estimate: {model} reads {what} through {layer} ({layer_kind}), not token ids, so the sequence length "
        "asked for ({seq_len:,}) is no D for 2·N·D (Kaplan et al. count tokens){plan}; give input ({shape}) for its "
        "exact FLOPs"
    ),
    "accelerator": "{name} memory: {basis} (source: {source})",
}
"""Each kind's sentence, ``str.format`` over its values (after ``_DERIVED`` adds the words some need)."""


def _class_token(positions: int, patches: int) -> str:
    """What an image's positions hold besides its patches: a class token (ViT, CLIP) or none (SigLIP)."""
    return " and the class token" if positions > patches else ", no class token"


def _adapted(layers: tuple[tuple[str, int], ...]) -> str:
    """``q_proj ×32, v_proj ×32``: the adapted Linear layers by name and copies."""
    return ", ".join(f"{name} ×{times}" if times > 1 else name for name, times in layers)


_DERIVED: Final[dict[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "dtype": lambda v: {"why": DTYPE_WHY[v["rule"]]},
    "format": lambda v: {"note": "; ".join(note for note in (v["note"], v["language_model_note"]) if note)},
    "lora": lambda v: {
        "targets_why": LORA_TARGETS_WHY[v["targets_rule"]].format(model_type=v["model_type"]),
        "adapted": _adapted(v["adapted"]),
    },
    "optimizer": lambda v: {"note": v["note"] or "states as torch keeps them"},
    "activations-split": lambda v: {"sequence": "with" if v["sequence_parallel"] else "without"},
    "model-parallel": lambda v: {"sequence": "with" if v["sequence_parallel"] else "without"},
    "activations-korthikanti": lambda v: {"heads": "?" if v["heads"] is None else v["heads"]},
    "activations-vision": lambda v: {"heads": "?" if v["heads"] is None else v["heads"]},
    "transformer-sizes": lambda v: {"stack": v["stack"] or "root"},
    "several-stacks": lambda v: {"path": v["path"] or "the root"},
    "kv-cache": lambda v: {
        "values": "" if v["value_head_dim"] == v["head_dim"] else f" (values {v['value_head_dim']})",
        "tokens": noun(v["seq_len"], "token"),
        "layer_word": noun(v["layers"], "layer"),
        "head_word": noun(v["kv_heads"], "head"),
    },
    "kv-window": lambda v: {"what": WINDOWS[v["layer_type"]]},
    "kv-cross": lambda v: {
        "same_length": ""
        if v["source_given"]
        else " (the source as long as the target: give --input batch,source,target for another)"
    },
    "activations-per-operation": lambda v: {"kept": KEPT[v["kernels"]]},
    "activations-layers": lambda v: {
        "embedding": ""
        if v["embedding_width"] == v["hidden"]
        else f", w={v['embedding_width']:,} (the word embeddings' width)",
        "task": HEADS[v["head"]].format(outputs=v["outputs"]),
    },
    "activations-function": lambda v: {
        "activation": f", activation {v['activation_dropout']:g}" if v["activation_dropout"] else "",
        "masks": " (bool masks on CUDA)" if v["bool_masks"] else "",
    },
    "activations-encoder-decoder": lambda v: {
        "window": f"(the fixed window: log-mel features of m={v['mel_bins']} bins × 2·s frames) "
        if v["mel_bins"]
        else "",
        "given": "" if v["source_given"] else "(as long as the target: give --input batch,source,target for another) ",
    },
    "activations-moe": lambda v: {
        "shared": f", {'shared experts' if v['several_shared'] else 'a shared expert'} of width j={v['shared_width']:,}"
        if v["shared_width"]
        else ""
    },
    "activations-latent": lambda v: {
        "query": f"the query through a latent of width q={v['query_latent']:,}, " if v["query_latent"] else "",
        "no_flash_kernel": "; sdpa can run no flash kernel with u ≠ d: "
        + NO_FLASH["math" if v["kernel"].startswith("math") else "memory-efficient"]
        if v["no_flash"]
        else "",
    },
    "activations-sliding-window": lambda v: {"on_cuda": MASKED_ON_CUDA if v["kernels"] == "cuda" else ""},
    "activations-sliding-window-mask": lambda v: {"on_cuda": MASKED_ON_CUDA if v["kernels"] == "cuda" else ""},
    "activations-eager": lambda v: {
        "supports": "_supports_sdpa" if v["requested"] == "sdpa" else "_supports_flash_attn",
        "fallback": ", which transformers runs when no implementation is asked for"
        if v["requested"] == "sdpa"
        else " modelled",
    },
    "zero": lambda v: {"sharded": SHARDED[v["stage"]]},
    "activations-speech": lambda v: {
        "labels": f"; CTC labels as many as the frames (t={v['frames']:,}, the most CTC aligns)" if v["ctc"] else "",
        "layerdrop": f"; LayerDrop skips each layer with probability {v['layerdrop']:g} in training, at random: "
        "every layer counted, the most a step keeps"
        if v["layerdrop"]
        else "",
    },
    "activations-image-tokens": lambda v: {"class_token": _class_token(v["tokens"], v["patches"])},
    "activations-image-positions": lambda v: {"class_token": _class_token(v["positions"], v["patches"])},
    "compute-image-positions": lambda v: {
        "image_word": noun(v["images"], "image"),
        "tokens": v["positions"] * v["images"],
        "class_token": _class_token(v["positions"], v["patches"]),
    },
    "compute-no-tokens": lambda v: {
        "what": GRIDS[v["layer_kind"]],
        "plan": "; the memory plan's activation estimate takes it as the sequence length s"
        if v["plan_reads_sequence"]
        else ", nor does the memory plan use it",
        "shape": f"a shape such as 1,{v['channels']},224,224"
        if v["layer_kind"] == "Conv2d"
        else "its shape, batch first",
    },
}
"""The words some kinds derive from their values (a rule's reason, with/without)."""


def _joined(value: object) -> object:
    if isinstance(value, tuple) and value and all(isinstance(item, Assumption) for item in value):
        return "; ".join(assumption_text(item) for item in value)
    if isinstance(value, tuple) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    return value


def assumption_text(assumption: Assumption) -> str:
    """The sentence ``assumption`` stands for."""
    values = dict(assumption.values)
    derive = _DERIVED.get(assumption.kind)
    if derive is not None:
        values.update(derive(values))
    return TEMPLATES[assumption.kind].format(**{name: _joined(value) for name, value in values.items()})


def _plain(value: object) -> object:
    if isinstance(value, Assumption):
        return assumption_data(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def assumption_data(assumption: Assumption) -> dict[str, Any]:
    """``{"kind": …, "values": {…}}``: the assumption as JSON data (assumptions inside it likewise)."""
    return {"kind": assumption.kind, "values": {name: _plain(value) for name, value in assumption.values}}


def dtype_why(choice: DtypeChoice) -> str:
    """Why the dtype was chosen: "the dtype the config stores"."""
    return DTYPE_WHY[choice.rule]


def stored_as(choice: DtypeChoice) -> str:
    """What the parameters are stored in: the dtype, or the quantised layout a config names and the dtype of
    the other tensors ("fp8-block128 (as the config's quantization_config stores the weights) with the other
    tensors in bfloat16")."""
    if choice.quantization is None:
        return choice.dtype
    return (
        f"{choice.quantization} (as the config's quantization_config stores the weights) with the other tensors "
        f"in {choice.dtype}"
    )


def dtype_reason(choice: DtypeChoice) -> str:
    """The dtype and why: "bfloat16: the dtype the config stores"."""
    return f"{stored_as(choice)}: {dtype_why(choice)}"
