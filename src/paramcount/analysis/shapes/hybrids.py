"""Dataflow of transformers' hybrid decoders and of PhiMoE: PhiMoE (Mixtral's layer with sparsemixer routing), Jamba
(Mamba and attention layers interleaved), Falcon-H1 (a Mamba-2 mixer beside attention in every layer) and Qwen3-Next
(gated DeltaNet linear attention and gated full attention). Conventions in ``transformers.py`` (attention, experts)
and ``state_space.py`` (the scans: their matrix products are MACs, their elementwise work is not).

- PhiMoE: the router's sparsemixer picks two experts per token by masking and sampling the logits (no products
  beyond the router's logits); its LayerNorms and experts are Mixtral's.
- Jamba's Mamba mixer is Mamba's with RMSNorms on the step, B and C; its layers hold no positional embedding.
- Falcon-H1's µP multipliers (embedding, the SSM input and output, the key, the attention input and output, the
  MLP's gate and output, ``mup_vector`` on the Mamba projection, the LM head) scale elementwise: no MACs.
- Qwen3-Next's gated DeltaNet runs ``torch_chunk_gated_delta_rule`` (the fallback without the ``fla`` kernels; the
  layer leaves its ``chunk_size`` at 64): query and key heads are repeated to the value heads, the sequence is padded
  to whole chunks of C tokens (n chunks), and per head its matrix products are, in each chunk, ``k_β·Kᵀ`` and
  ``Q·Kᵀ`` (C·C·d_k each), then one chunk after another ``k_cumdecay·S`` and ``Q·S`` (C·d_k·d_v each, S the
  d_k × d_v state), ``attention·v_new`` (C·C·d_v) and ``Kᵀ·v_new`` (d_k·C·d_v). The two unit-triangular solves
  (``torch.linalg.solve_triangular`` of the C × C system against v_β and the decayed k_β) are not counted, as
  FlopCounterMode counts none; nor are its decays, the query/key L2 norms and the gate (elementwise).
"""

from __future__ import annotations

from paramcount.analysis.shapes import transformers
from paramcount.analysis.shapes.common import NotModelledError
from paramcount.analysis.shapes.decoders import RULES as _DECODER_RULES
from paramcount.analysis.shapes.flow import (
    add,
    attention,
    chain,
    child_of,
    dataflow,
    merge_heads,
    multiply,
    param_sizes,
    run,
    split_heads,
)
from paramcount.analysis.shapes.state_space import mamba2_mixer, mamba_mixer, scan_products
from paramcount.analysis.shapes.types import Flow, Outcome, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RULES", "TOKEN_INPUTS"]

_HEADS: Final = ("ForCausalLM", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering")
_LLAMA_LIKE: Final = ("Model", *_HEADS)


def _as(prefix: str, *kinds: str) -> dict[str, Rule]:
    """Llama's rules for ``kinds`` (``"Model"``, ``"MLP"`` …) under ``prefix``: the same ``forward``."""
    return {f"{prefix}{kind}": _DECODER_RULES[f"Llama{kind}"] for kind in kinds}


# --- PhiMoE ---------------------------------------------------------------------------------------------------

_PHIMOE: Final[dict[str, Rule]] = {
    **{
        kind.replace("Mixtral", "Phimoe", 1): rule
        for kind, rule in _DECODER_RULES.items()
        if kind.startswith("Mixtral")
    },
    # The router is a member named router (Granite MoE's layout): flattened tokens, router logits, routed experts.
    "PhimoeSparseMoeBlock": _DECODER_RULES["GraniteMoeMoE"],
}

# --- Jamba ----------------------------------------------------------------------------------------------------

_JAMBA: Final[dict[str, Rule]] = {
    **_as("Jamba", *_HEADS, "MLP"),
    "JambaModel": dataflow(
        transformers.tokens(),
        run("embed_tokens", "x0", "x"),
        chain("layers", checkpointed=True),
        run("final_layernorm"),
        note="no positional embedding: the attention layers read the Mamba layers' output",
    ),
    "JambaAttentionDecoderLayer": transformers.pre_norm_layer(
        "input_layernorm", "self_attn", "pre_ff_layernorm", "feed_forward"
    ),
    "JambaMambaDecoderLayer": transformers.pre_norm_layer(
        "input_layernorm", "mamba", "pre_ff_layernorm", "feed_forward"
    ),
    "JambaAttention": transformers.self_attention("q_proj", "k_proj", "v_proj", "o_proj"),
    "JambaMambaMixer": mamba_mixer,
    "JambaSparseMoeBlock": _DECODER_RULES["GraniteMoeMoE"],
    "JambaTopKRouter": transformers.router,
    "JambaExperts": transformers.experts,
    "JambaRMSNorm": transformers.rms_norm,
}

# --- Falcon-H1 ------------------------------------------------------------------------------------------------

_FALCON_H1: Final[dict[str, Rule]] = {
    **_as("FalconH1", *_LLAMA_LIKE, "Attention", "MLP", "RotaryEmbedding"),
    "FalconH1DecoderLayer": dataflow(
        run("input_layernorm", "x0", "h"),
        run("mamba", "h", "m"),
        run("self_attn", "h", "a"),
        add("x", "m", "a"),
        add("x", "x", "x0", what="add the residual"),
        *transformers.pre_norm(("pre_ff_layernorm", "feed_forward")),
        note="the Mamba-2 mixer and attention read the same normalised input, their outputs summed; the µP "
        "multipliers scale elementwise",
    ),
    "FalconH1Mixer": mamba2_mixer,
    "FalconH1RMSNorm": transformers.rms_norm,
    "FalconH1RMSNormGated": transformers.rms_norm,  # x · silu(gate), normalised per group: elementwise
}

# --- Qwen3-Next -----------------------------------------------------------------------------------------------

_DELTA_RULE_CHUNK: Final = 64
"""``torch_chunk_gated_delta_rule``'s ``chunk_size``, which ``Qwen3NextGatedDeltaNet`` leaves at its default."""


def _gated_delta_net(call: Call, flow: Flow) -> Outcome:
    """``Qwen3NextGatedDeltaNet``: ``in_proj_qkvz`` to the query and key (key_heads · d_k each), the value and the
    gate z (value_heads · d_v each); ``in_proj_ba`` to β and the decay input (value_heads each); the depthwise conv
    of q·k·v; the chunked gated delta rule; the gated RMSNorm over each value head; ``out_proj``."""
    if len(flow.shape) != 3:
        raise call.fail(f"expects (batch, sequence, hidden) hidden states, got {format_shape(flow.shape)}")
    batch, length = flow.shape[:2]
    key_heads = dict(call.module.attributes).get("key_heads")
    if not isinstance(key_heads, int) or key_heads < 1:
        raise NotModelledError("its number of key heads is not known")
    heads = param_sizes(call.module, "A_log")[0]
    value_width, value_dim = transformers.in_features(call, "out_proj"), transformers.in_features(call, "norm")
    projected = call.child("in_proj_qkvz", flow)
    call.child("in_proj_ba", flow)
    grad = projected is not None and projected.grad
    key_width, remainder = divmod((0 if projected is None else projected.shape[-1]) - 2 * value_width, 2)
    key_dim = key_width // key_heads
    if projected is not None and (remainder or key_dim < 1 or key_width % key_heads or heads % key_heads):
        raise call.fail(f"splits in_proj_qkvz's {projected.shape[-1]} features into q and k of {key_heads} heads, "
                        f"v and z of {heads} heads, which fails")  # fmt: skip
    call.child("conv1d", Flow((batch, 2 * key_width + value_width, length), grad=grad))
    chunk = _DELTA_RULE_CHUNK
    chunks = -(-length // chunk)
    sizes = {"batch": batch, "value_heads": heads, "chunks": chunks, "C": chunk, "d_k": key_dim, "d_v": value_dim}
    macs, steps = scan_products(
        sizes,
        (
            ("k_β·Kᵀ in each chunk", ("batch", "value_heads", "chunks", "C", "C", "d_k")),
            ("Q·Kᵀ in each chunk", ("batch", "value_heads", "chunks", "C", "C", "d_k")),
            ("k_cumdecay·S, Q·S, Kᵀ·v_new", ("batch", "value_heads", "chunks", "3", "C", "d_k", "d_v")),
            ("attention·v_new", ("batch", "value_heads", "chunks", "C", "C", "d_v")),
        ),
    )
    # Backward, as autograd runs it: both operands' gradients of every product, except that the first chunk's
    # state (zeros) needs none and the last chunk's state update (dropped) is not differentiated; plus, per
    # triangular solve, the product -grad·solutionᵀ in its gradient with respect to the C × C system.
    state = batch * heads * chunk * key_dim * value_dim
    in_chunk = batch * heads * chunks * chunk * chunk
    backward = 2 * in_chunk * (2 * key_dim + value_dim) + in_chunk * (key_dim + value_dim)
    backward += (6 * chunks - 4) * state if chunks else 0
    call.child("norm", Flow((batch * length * heads, value_dim), grad=True))
    output = call.child("out_proj", Flow((batch, length, value_width), grad=True))
    note = (
        f"the sequence is padded to {chunks} whole chunk(s) of {chunk} tokens (C) for the delta rule; its "
        "triangular solves, decays and norms are not counted (FlopCounterMode counts no triangular solve)"
    )
    return Outcome(output, macs, steps, note, backward_macs=backward)


_GATED_ATTENTION: Final = dataflow(
    run("q_proj", "x0", "q"),
    transformers.split("q", "q", "gate"),
    split_heads("q", "q_norm"),
    run("q_norm", "q"),
    merge_heads("q", "q_norm"),
    run("k_proj", "x0", "k"),
    split_heads("k", "k_norm"),
    run("k_norm", "k"),
    merge_heads("k", "k_norm"),
    run("v_proj", "x0", "v"),
    attention(causal=True),
    multiply("x", "x", "gate"),
    run("o_proj"),
    note="q_proj gives each head's query and gate; the attention output times sigmoid(gate) goes to o_proj",
)
_LINEAR_ATTENTION_LAYER: Final = transformers.pre_norm_layer(
    "input_layernorm", "linear_attn", "post_attention_layernorm", "mlp"
)
_FULL_ATTENTION_LAYER: Final = transformers.pre_norm_layer(
    "input_layernorm", "self_attn", "post_attention_layernorm", "mlp"
)


def _qwen3_next_layer(call: Call, flow: Flow) -> Outcome:
    """A pre-norm layer whose token mixer is the gated DeltaNet (``linear_attn``) or full attention."""
    linear = child_of(call.module, "linear_attn") is not None
    return (_LINEAR_ATTENTION_LAYER if linear else _FULL_ATTENTION_LAYER)(call, flow)


_QWEN3_NEXT: Final[dict[str, Rule]] = {
    **_as("Qwen3Next", *_LLAMA_LIKE, "MLP", "RotaryEmbedding"),
    "Qwen3NextDecoderLayer": _qwen3_next_layer,
    "Qwen3NextAttention": _GATED_ATTENTION,
    "Qwen3NextGatedDeltaNet": _gated_delta_net,
    "Qwen3NextSparseMoeBlock": _DECODER_RULES["Qwen2MoeSparseMoeBlock"],
    "Qwen3NextTopKRouter": transformers.router,
    "Qwen3NextExperts": transformers.experts,
    "Qwen3NextRMSNorm": transformers.rms_norm,
    "Qwen3NextRMSNormGated": transformers.rms_norm,  # over one value head, times silu(z): elementwise
}

RULES: Final[dict[str, Rule]] = {**_PHIMOE, **_JAMBA, **_FALCON_H1, **_QWEN3_NEXT}
"""Shape rules of the hybrid decoders' classes, by kind."""

TOKEN_INPUTS: Final = frozenset(
    f"{prefix}{head}" for prefix in ("Phimoe", "Jamba", "FalconH1", "Qwen3Next") for head in _LLAMA_LIKE
) & frozenset(RULES)
"""Hybrid kinds whose forward reads token ids (batch, sequence)."""
