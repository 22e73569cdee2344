"""Activation memory per operation for T5's encoder-decoder (T5, Flan-T5, mT5, UMT5), as transformers runs it.

A T5 block is pre-norm: ``T5LayerNorm`` (RMS, the variance in float32, no mean, no bias), self-attention
without scaling whose scores get the relative position bias added, in the decoder cross-attention over the
encoder's output, then the feed-forward (``wi``, the activation, dropout, ``wo``; Flan-T5, mT5 and UMT5 gate it:
``act(wi_0(x)) · wi_1(x)``), each sublayer ending in dropout and the residual. ``dropout_rate`` drives every
dropout: the embeddings', the attention probabilities', the feed-forward's, the residuals', the stacks' output.
T5 and mT5 compute the relative position bias once per stack, in the first block, and pass it to the others
(its bucket indices are kept once); UMT5 computes it in every block. The rules are checked like the other
families against ``torch.autograd.graph.saved_tensors_hooks`` (``tests/analysis/test_activations.py``).
"""

from __future__ import annotations

from paramcount.analysis.planner.activations import (
    _attention_core,
    _attention_output,
    _Builder,
    _kernel,
    _loss,
    _plain_activation,
)

__all__ = ["t5_layer", "t5_model"]


def _norm(out: _Builder, module: str) -> None:
    """``T5LayerNorm``: the float32 copy of x (kept by pow), rsqrt's result; x itself, in its dtype, times rstd
    (a float32 product: MulBackward0 keeps x), cast back to the dtype and kept by the weight's product. In
    float32 the copy is x itself."""
    out.rms_norm(module, "b·s·h", "b·s", "sequence")
    if out.settings.dtype != "float32":
        what = "the input in its dtype, multiplied by rstd in float32 (MulBackward0)"
        out.saved(f"{module}.input", module, what, "b·s·h", "sequence")


def _attention(out: _Builder, index: int, *, cross: bool, decoder: bool, own: bool) -> None:
    """Sublayer ``index``: the norm, the projections' input (cross-attention: the query's only, the keys and
    values read the encoder's output, kept once outside), the relative bias's bucket indices where the block
    computes its own bias (``own``: UMT5), the attention (scale 1, the bias added to the scores), ``o``'s input,
    the residual's dropout."""
    at = f"layer.{index}.{'EncDecAttention' if cross else 'SelfAttention'}"
    _norm(out, f"layer.{index}.layer_norm")
    projections = "q" if cross else "q/k/v"
    what = f"{projections} input, the normalised hidden states (MmBackward0{'' if cross else ', one storage'})"
    out.saved(f"{at}.{projections}.input", f"{at}.q", what, "b·s·h", "sequence")
    if own and not cross:
        out.add(
            f"{at}.relative_attention_bias.indices",
            f"{at}.relative_attention_bias",
            "relative position buckets (EmbeddingBackward0)",
            "s·s",
            "int64",
            "none",
        )
    sdpa = out.settings.attention == "sdpa"
    if sdpa and decoder and not cross and out.regime.many_targets:  # one query token: is_causal is False, no pattern
        what = "the causal pattern the bias is masked with, torch.where's condition (WhereBackward0)"
        out.add(f"{at}.causal_mask", at, what, "s·s", "bool", "none")
    keys = "x" if cross else "s"
    shared = _attention_core(out, at, upcast_softmax=False, repeat_kv=False, fused=False, keys=keys)
    if _kernel(out.settings) == "flash" and (own or not cross):  # CUDA: the memory-efficient kernel
        what = "the bias as SDPA's attn_mask, kept by the memory-efficient kernel (a copy per layer)"
        out.add(f"{at}.attn_bias", at, what, f"a·s·{keys}", "compute", "tensor")
    _attention_output(out, shared, f"{at}.o", "MmBackward0", "b·s·a·d", f"layer.{index}.dropout")


def _feed_forward(out: _Builder, index: int, *, gated: bool) -> None:
    """The norm, ``wi`` (gated: ``wi_0``/``wi_1``, one input) and the activation, its product with ``wi_1``'s
    output, the dropout, ``wo``'s input, the residual's dropout."""
    at = f"layer.{index}.DenseReluDense"
    act = out.settings.act
    _norm(out, f"layer.{index}.layer_norm")
    projections = "wi_0/wi_1" if gated else "wi"
    what = f"{projections} input, the normalised hidden states (MmBackward0{', one storage' if gated else ''})"
    out.saved(f"{at}.{projections}.input", f"{at}.{projections.split('/')[0]}", what, "b·s·h", "sequence")
    _plain_activation(out, f"{at}.act", "b·s·i")
    kept_result = act == "relu"  # ReLU keeps its result, the storage the product or wo reads
    if gated:
        if not kept_result:
            what = f"{act}(wi_0 x), kept by the product (MulBackward0)"
            out.saved(f"{at}.act.output", f"{at}.act", what, "b·s·i", "tensor")
        out.saved(
            f"{at}.wi_1.output", f"{at}.wi_1", "wi_1 output, kept by the product (MulBackward0)", "b·s·i", "tensor"
        )
    dropout = out.settings.hidden_dropout > 0
    if dropout:
        out.mask(f"{at}.dropout.mask", f"{at}.dropout", "b·s·i", "tensor")
    if gated or dropout or not kept_result:
        out.saved(f"{at}.wo.input", f"{at}.wo", "wo input, after the dropout (MmBackward0)", "b·s·i", "tensor")
    if dropout:
        out.mask(f"layer.{index}.dropout.mask", f"layer.{index}.dropout", "b·s·h", "sequence")


def t5_layer(out: _Builder, *, decoder: bool, gated: bool, own: bool) -> None:
    """One T5 block of the encoder or the decoder; ``own``: the block computes its own relative position bias
    (UMT5's every block; T5's first block computes the stack's, counted outside the layers)."""
    _attention(out, 0, cross=False, decoder=decoder, own=own)
    if decoder:
        _attention(out, 1, cross=True, decoder=True, own=own)
    _feed_forward(out, 2 if decoder else 1, gated=gated)


def t5_model(source: _Builder, target: _Builder, layers: tuple[int, int], *, shared_bias: bool, head: bool) -> None:
    """Outside T5's blocks: each stack's token ids (the decoder's: the labels shifted right) and embedding
    dropout, the relative bias the first block computes for the others (``shared_bias``: T5, mT5), its final
    norm and dropout; the encoder's output once (every cross-attention's key and value input), the output head's
    input (the decoder's output, scaled by d_model^-0.5 when the embeddings are tied: a new tensor either way)
    and the loss on the logits, not upcast. ``layers``: the encoder's and the decoder's blocks.

    With checkpointing each block's arguments are kept: the first block's position bias (a·s·s, and the
    decoder's cross-attention bias, zeros, a·t·s) when there are more blocks, and eager's causal mask."""
    dropout = source.settings.hidden_dropout > 0
    for out, part, count in ((source, "encoder", layers[0]), (target, "decoder", layers[1])):
        decoder = part == "decoder"
        what = "decoder_input_ids, the labels shifted right" if decoder else "token ids"
        out.add(
            f"{part}.embed_tokens.indices",
            f"{part}.embed_tokens",
            f"{what} (EmbeddingBackward0)",
            "b·s",
            "int64",
            "none",
        )
        if dropout:
            out.mask(f"{part}.dropout.mask", f"{part}.dropout", "b·s·h", "sequence")
        attention = f"{part}.block.0.layer.0.SelfAttention"
        if shared_bias and not out.checkpointing:
            what = "relative position buckets, computed once per stack (EmbeddingBackward0)"
            out.add(f"{attention}.relative_attention_bias.indices", attention, what, "s·s", "int64", "none")
            if decoder and _kernel(out.settings) == "flash":
                what = "the cross-attention's zero bias as SDPA's attn_mask, one storage (memory-efficient kernel)"
                out.add(f"{part}.cross_attn_bias", part, what, "a·s·x", "compute", "tensor")
        if out.checkpointing and shared_bias and count > 1:
            what = "the relative position bias, passed to each later checkpointed block (one storage)"
            out.add(f"{attention}.position_bias", attention, what, "a·s·s", "compute", "tensor")
            if decoder:
                what = "the cross-attention's zero bias, passed to each later checkpointed block (one storage)"
                out.add(f"{part}.cross_attn_bias", part, what, "a·s·x", "compute", "tensor")
        if decoder and out.checkpointing and out.settings.attention == "eager":
            what = "the additive causal mask eager attention gets, passed to each checkpointed block (one storage)"
            out.add("attention_mask", part, what, "b·s·s", "compute", "none")
        _norm(out, f"{part}.final_layer_norm")
        if dropout:
            out.mask(f"{part}.final_dropout.mask", f"{part}.dropout", "b·s·h", "sequence")
    source.saved(
        "encoder.output",
        "encoder",
        "the encoder's output: k/v input of every cross-attention (MmBackward0, one storage)",
        "b·s·h",
        "sequence",
    )
    if head:
        what = "lm_head input, the decoder's output (times d_model^-0.5 with tied embeddings) (MmBackward0)"
        target.saved("lm_head.input", "lm_head", what, "b·s·h", "sequence")
        _loss(target, upcast=False)
