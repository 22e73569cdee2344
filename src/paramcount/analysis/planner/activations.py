"""Activation memory per operation: the tensors autograd saves for the backward pass, as transformers runs a layer.

``activation_plan(tree, dims, ...)`` recognises the layer of the tree's block stack (the Llama layout used by Llama,
Mistral, Qwen2/3, Gemma and Phi-3: RMSNorm, rotary attention, gated MLP; with Gemma 2/3's sandwich norms and
softcapping; GPT-2's pre-norm block with Conv1D, and GPT-Neo's, GPT-BigCode's, BLOOM's, MPT's and OpenAI GPT's
(post-norm) like it; BERT's post-norm layer, also RoBERTa's, XLM-R's, ELECTRA's, DistilBERT's, ALBERT's (its shared
layer run L times) and MPNet's; ViT's, DINOv2's and CLIP's pre-norm layers on image patches; the Llama layout with a
sparse MoE block, Mixtral, Qwen2/3-MoE, OLMoE and Phi-3.5-MoE, dense layers mixed in or not; DeepSeek-V2/V3's, with
multi-head latent attention, dense then sparse layers; the encoder and decoder of BART and of those written like it,
mBART, Pegasus, Marian and Whisper, and that decoder alone in their ``ForCausalLM``; OPT's decoder, BART's encoder
layer made causal; the GPT-style layers running attention and MLP in parallel with rotary, GPT-NeoX, GPT-J, Falcon,
CodeGen and Phi-2; wav2vec 2.0's and HuBERT's encoders, post-norm or pre-norm, after their convolutional feature
encoder over the raw waveform; T5's in ``activations_t5``) and lists, for one layer and for what lies outside the layers
(embedding, final norm, output head or BERT's and BART's task heads, loss), each tensor saved for backward with its
shape in symbols, its dtype and its bytes. Each rule says which autograd node keeps the tensor (``MmBackward0``
saves a Linear's input, ``SiluBackward0`` its input, ``MulBackward0`` the operand it does not differentiate,
``SoftmaxBackward0`` its result, ``NativeLayerNormBackward0`` input, mean and rstd, the SDPA flash kernels query,
key, value, output and logsumexp); tensors shared by several nodes (the input of q/k/v, one storage) count once, and
parameters never count. ``tests/analysis/test_activations.py`` checks every rule against
``torch.autograd.graph.saved_tensors_hooks`` on the real transformers model.

Kernels: ``"cuda"`` (what a GPU runs, the default) or ``"cpu"`` (what the tests measure). They differ in four
places: dropout keeps a 1-byte bool mask on CUDA (``native_dropout``) and a mask in the input's dtype on CPU;
``LayerNorm`` keeps its mean and rstd in float32 on CUDA and in the input's dtype on CPU; SDPA with dropout
runs the flash kernel on CUDA but falls back on CPU to the math kernel, which upcasts 16-bit inputs to
float32 and keeps the s × s probabilities; so does SDPA with value heads narrower than the query/key ones
(DeepSeek), which runs the memory-efficient kernel on CUDA. (And the CPU flash kernel writes its output in the
query's layout: see ``_attention_core``.)
"""

from __future__ import annotations

from collections import OrderedDict

from paramcount._cache import per_frozen
from paramcount._record import Record, field_values, replace
from paramcount.analysis.memory import Assumption, MemoryItem
from paramcount.analysis.planner.weights import LINEAR_KINDS
from paramcount.dtypes import BITS
from paramcount.tree import Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Final, Literal, TypeAlias

    from paramcount.analysis.planner.options import Attention
    from paramcount.analysis.planner.transformer import TransformerDims

    Kernels: TypeAlias = Literal["cuda", "cpu"]
    Split: TypeAlias = Literal["sequence", "tensor", "vocab", "none"]

__all__ = ["MEGATRON_SPLIT", "ActivationPlan", "SavedTensor", "activation_items", "activation_plan", "image_patches"]

MEGATRON_SPLIT: Final = (
    "Korthikanti et al. 2022, Reducing Activation Recomputation in Large Transformer Models, §4.2.2 and Table 2: "
    "with tensor parallelism t the attention and MLP internals are split over t; layer-norm tensors, dropout "
    "masks and the inputs of the column-parallel projections stay whole unless sequence parallelism splits them "
    "too; the logits are split by vocabulary"
)

ACTIVATION_TENSORS: Final = {
    "silu": 1,
    "swish": 1,
    "gelu": 1,
    "gelu_pytorch_tanh": 1,
    "gelu_new": 4,
    "gelu_fast": 7,
    "relu": 1,
    "quick_gelu": 2,
}
"""Tensors of the MLP width an activation function saves: ``F.silu``/``F.gelu`` keep their input, ``F.relu`` its
result; transformers' ``NewGELUActivation`` (``gelu_new``) is written out in Python: pow keeps x, tanh its
result, the last mul both 0.5·x and 1 + tanh; ``QuickGELUActivation`` (``quick_gelu``, CLIP) x·sigmoid(1.702·x):
the product keeps x and sigmoid's result, which sigmoid keeps too. ``FastGELUActivation`` (``gelu_fast``,
GPT-NeoX-20B) multiplies instead of pow: x, 0.044715·x, the cubic's 1 + ·, 0.7978845608·x, tanh's result, 0.5·x
and 1 + tanh."""

CONFIG_DEFAULTS: Final[dict[str, dict[str, object]]] = {
    "llama": {"hidden_act": "silu", "attention_dropout": 0.0},
    "mistral": {"hidden_act": "silu", "attention_dropout": 0.0},
    "qwen2": {"hidden_act": "silu", "attention_dropout": 0.0},
    "qwen3": {"hidden_act": "silu", "attention_dropout": 0.0},
    "gemma": {"hidden_activation": "gelu_pytorch_tanh", "attention_dropout": 0.0},
    "gemma2": {
        "hidden_activation": "gelu_pytorch_tanh",
        "attention_dropout": 0.0,
        "attn_logit_softcapping": 50.0,
        "final_logit_softcapping": 30.0,
    },
    "gemma3_text": {"hidden_activation": "gelu_pytorch_tanh", "attention_dropout": 0.0},
    "phi3": {"hidden_act": "silu", "attention_dropout": 0.0, "resid_pdrop": 0.0, "embd_pdrop": 0.0},
    "gpt2": {"activation_function": "gelu_new", "attn_pdrop": 0.1, "resid_pdrop": 0.1, "embd_pdrop": 0.1},
    "bert": {"hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1},
    "roberta": {"hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1},
    "xlm-roberta": {"hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1},
    "electra": {"hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1},
    "vit": {"hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
    "dinov2": {"hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
    "clip_vision_model": {"hidden_act": "quick_gelu", "attention_dropout": 0.0},
    "siglip_vision_model": {"hidden_act": "gelu_pytorch_tanh", "attention_dropout": 0.0},
    "distilbert": {"activation": "gelu", "dropout": 0.1, "attention_dropout": 0.1},
    "albert": {"hidden_act": "gelu_new", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0},
    "mpnet": {"hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1},
    "modernbert": {
        "hidden_activation": "gelu",
        "attention_dropout": 0.0,
        "embedding_dropout": 0.0,
        "mlp_dropout": 0.0,
        "classifier_activation": "gelu",
    },
    "mixtral": {"hidden_act": "silu", "attention_dropout": 0.0, "router_jitter_noise": 0.0},
    "qwen2_moe": {"hidden_act": "silu", "attention_dropout": 0.0, "norm_topk_prob": False},
    "qwen3_moe": {"hidden_act": "silu", "attention_dropout": 0.0, "norm_topk_prob": False},
    "olmoe": {"hidden_act": "silu", "attention_dropout": 0.0, "norm_topk_prob": False},
    "phimoe": {"hidden_act": "silu", "attention_dropout": 0.0, "input_jitter_noise": 0.0},
    "deepseek_v2": {"hidden_act": "silu", "attention_dropout": 0.0, "topk_method": "greedy"},
    "deepseek_v3": {"hidden_act": "silu", "attention_dropout": 0.0, "norm_topk_prob": True},
    "glm4_moe": {"hidden_act": "silu", "attention_dropout": 0.0, "norm_topk_prob": True},
    "bart": {"activation_function": "gelu", "dropout": 0.1, "attention_dropout": 0.0, "activation_dropout": 0.0},
    "mbart": {"activation_function": "gelu", "dropout": 0.1, "attention_dropout": 0.0, "activation_dropout": 0.0},
    "pegasus": {"activation_function": "gelu", "dropout": 0.1, "attention_dropout": 0.0, "activation_dropout": 0.0},
    "marian": {"activation_function": "gelu", "dropout": 0.1, "attention_dropout": 0.0, "activation_dropout": 0.0},
    "whisper": {"activation_function": "gelu", "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0},
    "wav2vec2": {"hidden_act": "gelu", "attention_dropout": 0.1, "hidden_dropout": 0.1, "activation_dropout": 0.1},
    "hubert": {"hidden_act": "gelu", "attention_dropout": 0.1, "hidden_dropout": 0.1, "activation_dropout": 0.1},
    "granite": {"hidden_act": "silu", "attention_dropout": 0.0},
    "smollm3": {"hidden_act": "silu", "attention_dropout": 0.0},
    "starcoder2": {"hidden_act": "gelu_pytorch_tanh", "attention_dropout": 0.0, "residual_dropout": 0.0},
    "stablelm": {"hidden_act": "silu", "attention_dropout": 0.0, "hidden_dropout": 0.0},
    "olmo": {"hidden_act": "silu", "attention_dropout": 0.0},
    "olmo2": {"hidden_act": "silu", "attention_dropout": 0.0},
    "cohere": {"hidden_act": "silu", "attention_dropout": 0.0},
    "glm4": {"hidden_act": "silu", "attention_dropout": 0.0},
    "granitemoe": {"hidden_act": "silu", "attention_dropout": 0.0},
    "gpt_oss": {"hidden_act": "silu", "attention_dropout": 0.0},
    "cohere2": {"hidden_act": "silu", "attention_dropout": 0.0},
    "t5": {"feed_forward_proj": "relu", "dropout_rate": 0.1},
    "mt5": {"feed_forward_proj": "gated-gelu", "dropout_rate": 0.1},
    "umt5": {"feed_forward_proj": "gated-gelu", "dropout_rate": 0.1},
    "opt": {"activation_function": "relu", "dropout": 0.1, "attention_dropout": 0.0, "do_layer_norm_before": True},
    "gpt_neox": {"hidden_act": "gelu", "attention_dropout": 0.0, "hidden_dropout": 0.0, "use_parallel_residual": True},
    "gptj": {"activation_function": "gelu_new", "attn_pdrop": 0.0, "resid_pdrop": 0.0, "embd_pdrop": 0.0},
    "codegen": {"activation_function": "gelu_new", "attn_pdrop": 0.0, "resid_pdrop": 0.0, "embd_pdrop": 0.0},
    "phi": {"hidden_act": "gelu_new", "attention_dropout": 0.0, "resid_pdrop": 0.0, "embd_pdrop": 0.0},
    "falcon": {"activation": "gelu", "hidden_dropout": 0.0},
    "openai-gpt": {"afn": "gelu", "attn_pdrop": 0.1, "resid_pdrop": 0.1, "embd_pdrop": 0.1},
    "mpt": {"hidden_act": "gelu", "attn_pdrop": 0.0, "resid_pdrop": 0.0, "embd_pdrop": 0.0},
    "bloom": {"hidden_act": "gelu", "attention_dropout": 0.0, "hidden_dropout": 0.0},
    "gpt_bigcode": {
        "activation_function": "gelu_pytorch_tanh",
        "attn_pdrop": 0.1,
        "resid_pdrop": 0.1,
        "embd_pdrop": 0.1,
    },
    "gpt_neo": {
        "activation_function": "gelu_new",
        "attention_dropout": 0.0,
        "resid_dropout": 0.0,
        "embed_dropout": 0.0,
    },
}
"""The defaults of transformers' config classes for the keys a config may leave out (``LlamaConfig`` …)."""
SDPA_UNSUPPORTED: Final = frozenset({"gemma2", "gpt_oss", "mpnet", "gpt_neo", "bloom", "mpt", "openai-gpt"})
"""Model types whose transformers class cannot run sdpa (``_supports_sdpa = False``: Gemma 2's softcapping,
gpt-oss's sinks; MPNet, GPT-Neo, BLOOM, MPT and OpenAI GPT write their attention out): transformers runs them eager
when no implementation is asked for."""
FLASH_UNSUPPORTED: Final = frozenset({"bloom", "mpt", "openai-gpt"})
"""Model types whose transformers class cannot run flash attention either (``_supports_flash_attn = False``):
modelled eager, as for sdpa."""
ROTARY_PER_LAYER_TYPE: Final = frozenset({"gemma3_text"})
"""Model types whose rotary embedding computes one cos/sin pair per layer type (Gemma 3: local and global)."""


class SavedTensor(Record):
    """One tensor kept for the backward pass (or, with ``saved`` False, alive until it: the returned logits)."""

    key: str
    """Stable name: ``"mlp.act_fn.input"``."""
    module: str
    """The module path inside the layer (``"self_attn"``) or the model (``"lm_head"``)."""
    what: str
    """What it is and which autograd node keeps it."""
    shape: str
    """The element count in symbols: ``"b·s·h"``."""
    elements: int
    dtype: str
    bytes: int
    split: Split
    """How tensor parallelism divides it: ``tensor`` (heads or MLP width, over t), ``sequence`` (whole on each
    device unless sequence parallelism splits the tokens), ``vocab`` (vocabulary-parallel), ``none``."""
    saved: bool = True
    only: str = ""
    """In a layer: kept only by the layers of this kind (``sliding_attention``); empty: by every layer."""


class LayerStack(Record):
    """A stack of identical layers and what each keeps: an encoder-decoder's encoder, at the source length."""

    path: str
    layers: int
    seq_len: int
    per_layer: tuple[SavedTensor, ...]
    layer_input: SavedTensor
    """Each layer's input: what gradient checkpointing keeps per layer."""
    kinds: tuple[tuple[str, int], ...] = ()
    """The layers of each kind where some tensors are kept by one kind only (``SavedTensor.only``); empty: every
    layer keeps every tensor."""

    def copies(self, tensor: SavedTensor) -> int:
        """How many of the layers keep ``tensor``."""
        return dict(self.kinds).get(tensor.only, 0) if tensor.only else self.layers

    def layer(self, kind: str) -> tuple[SavedTensor, ...]:
        """What one layer of ``kind`` keeps."""
        return tuple(tensor for tensor in self.per_layer if tensor.only in ("", kind))

    @property
    def largest(self) -> tuple[SavedTensor, ...]:
        """What one layer keeps, of the kind that keeps the most (the one recomputed with checkpointing)."""
        layers = [self.layer(kind) for kind, _ in self.kinds] or [self.per_layer]
        return max(layers, key=lambda found: sum(tensor.bytes for tensor in found))

    @property
    def per_layer_bytes(self) -> int:
        return sum(tensor.bytes for tensor in self.largest)

    @property
    def stored_bytes(self) -> int:
        """What the layers keep without checkpointing."""
        return sum(tensor.bytes * self.copies(tensor) for tensor in self.per_layer)


class ActivationPlan(Record):
    """The tensors one forward pass keeps for backward, per layer and outside the layers. For an encoder-decoder
    the layers are the decoder's, at the target length ``seq_len``, and ``encoder`` holds the encoder's."""

    structure: str
    """The layer layout recognised: ``llama`` (pre-norm RMSNorm, rotary, gated MLP), ``gpt2``, ``bert`` (and the
    encoders written like it), ``bart`` (and its kin), ``vit`` (and DINOv2), ``opt``, ``wav2vec2`` (and HuBERT), or
    the model type of a GPT-style decoder (``GPT2_LIKE``, ``GPT_LIKE``)."""
    attention: Attention
    kernel: str
    """The attention kernel that runs: ``eager``, ``flash`` or ``math (float32)``."""
    kernels: Kernels
    dtype: str
    batch: int
    seq_len: int
    layers: int
    per_layer: tuple[SavedTensor, ...]
    model: tuple[SavedTensor, ...]
    """Outside the layers: embedding, rotary tables, final norm, output head, loss."""
    checkpointing: bool
    layer_input: SavedTensor
    """Each layer's input: what gradient checkpointing keeps per layer."""
    assumptions: tuple[Assumption, ...] = ()
    """What the plan assumes, as data (``paramcount.render.assumptions`` writes the sentences)."""
    encoder: LayerStack | None = None
    kinds: tuple[tuple[str, int], ...] = ()
    """The decoder's layers of each kind where some of their tensors differ (``LayerStack.kinds``)."""

    @property
    def decoder(self) -> LayerStack:
        """The layers (an encoder-decoder's decoder layers) as a stack."""
        return LayerStack(
            self.layer_input.module, self.layers, self.seq_len, self.per_layer, self.layer_input, self.kinds
        )

    @property
    def per_layer_bytes(self) -> int:
        """What one layer keeps (of the kind that keeps the most)."""
        return self.decoder.per_layer_bytes

    @property
    def saved_bytes(self) -> int:
        """What autograd holds after the forward pass (with checkpointing: the layers' inputs, not their sets)."""
        stacks = (self.decoder,) if self.encoder is None else (self.decoder, self.encoder)
        layers = sum(
            stack.layers * stack.layer_input.bytes if self.checkpointing else stack.stored_bytes for stack in stacks
        )
        return layers + sum(tensor.bytes for tensor in self.model if tensor.saved)


class _Widths(Record):
    """The sizes of a layout's tensors but the lengths (``_Sizes`` less b, s and t): fixed for a tree, so the walk
    that lists its tensors (``_walk``) is made once for all lengths."""

    h: int
    a: int
    k: int
    d: int
    i: int
    v: int
    e: int = 0
    """Experts of a sparse MoE layer (``i`` is then each expert's width)."""
    r: int = 0
    """Experts each token is routed to (top-r)."""
    j: int = 0
    """The shared expert's width (Qwen2-MoE), 0 without one."""
    f: int = 0
    """The dense layers' MLP width in a MoE stack that mixes them in (``mlp_only_layers``, ``decoder_sparse_step``)."""
    m: int = 0
    """The mel bins of a speech encoder's log-mel features (Whisper)."""
    w: int = 0
    """The embeddings' width where it differs from h (ELECTRA's ``embedding_size``, OPT's ``word_embed_proj_dim``,
    projected in and out of the layers), else h."""
    n: int = 0
    """The values of one input image, channels × height × width (a vision transformer)."""
    p: int = 0
    """The rotary dimensions of each head when only part of it is rotated (StableLM, GPT-NeoX, GPT-J, CodeGen, Phi),
    0 otherwise."""
    c: int = 0
    """The classes of a classification head (``num_labels``)."""
    q: int = 0
    """Multi-head latent attention (DeepSeek): the query's latent width (``q_lora_rank``), 0 without one."""
    l: int = 0  # noqa: E741 (the symbol of the shapes: b·s·l)
    """Multi-head latent attention: the keys' and values' latent width (``kv_lora_rank``); ``d`` is then the
    query/key head dim, nope and rope (``p``) parts together."""
    u: int = 0
    """Multi-head latent attention: the value head dim (``v_head_dim``)."""


class _Sizes(_Widths):
    """The widths with the lengths of one request, what the tensors' element counts are evaluated at."""

    b: int = 0
    """The batch."""
    s: int = 0
    """The sequence length (an encoder-decoder's source length)."""
    t: int = 0
    """An encoder-decoder's target length; a speech encoder's CTC labels."""
    y: int = 0
    """A speech encoder's input samples, the raw waveform whose s frames its convolutions make (wav2vec 2.0)."""


LENGTHS: Final = frozenset("bsty")
"""The symbols of the lengths, which the walk leaves to each request (``_Term.at``)."""


class _Term(Record):
    """A tensor the walk finds, its element count left for the lengths: ``factor`` (its widths and numbers) times
    the ``lengths`` symbols, or ``count`` of the sizes where a rule counts it otherwise."""

    key: str
    module: str
    what: str
    shape: str
    dtype: str
    size: int
    """Bytes per element."""
    split: Split
    saved: bool
    only: str
    factor: int
    lengths: tuple[str, ...]
    count: Callable[[_Sizes], int] | None = None

    def at(self, sizes: _Sizes) -> SavedTensor:
        """The tensor for the lengths of ``sizes``."""
        if self.count is None:
            elements = self.factor
            for symbol in self.lengths:
                elements *= getattr(sizes, symbol)
        else:
            elements = self.count(sizes)
        return SavedTensor(
            self.key,
            self.module,
            self.what,
            self.shape,
            elements,
            self.dtype,
            elements * self.size,
            self.split,
            self.saved,
            self.only,
        )


class _Settings(Record):
    dtype: str
    kernels: Kernels
    attention: Attention
    act: str
    attention_dropout: float
    hidden_dropout: float
    embedding_dropout: float
    input_jitter: bool = False
    """Phi-3.5-MoE's ``input_jitter_noise``: multiplicative noise on the MoE block's and the router's inputs."""
    renormalise: bool = False
    """A MoE router divides the top-r probabilities by their sum (Mixtral always, Qwen with ``norm_topk_prob``)."""
    float32_routing: bool = False
    """A MoE router returns the routing weights in float32 (Mixtral); Qwen's casts them to the compute dtype."""
    activation_dropout: float = 0.0
    """Dropout after the MLP's activation (BART's ``activation_dropout``)."""
    clip_qkv: bool = False
    """q, k and v clamped in place (OLMo's ``clip_qkv``)."""
    score_softcap: bool = False
    """Eager attention caps the scores with tanh (Gemma 2's ``attn_logit_softcapping``)."""
    logit_softcap: bool = False
    """The logits are capped with tanh (Gemma 2's ``final_logit_softcapping``)."""
    classifier_dropout: float = 0.0
    """Dropout before a classification head's Linears (BERT: ``hidden_dropout_prob`` unless it is set)."""
    router: str = ""
    """DeepSeek's router: ``greedy`` or ``group_limited_greedy`` (V2's softmax top-r), ``noaux_tc`` (V3's sigmoid
    scores); empty for the other families'."""
    unequal_heads: bool = False
    """The value head dim differs from the query/key head dim (DeepSeek's MLA): sdpa can run no flash kernel, so
    the CPU runs the math kernel and CUDA the memory-efficient one."""
    broadcast_kv: bool = False
    """sdpa gets one key/value head for every query head without ``enable_gqa`` (Falcon's multi-query): no fused
    kernel takes heads that differ, so every device runs the math kernel."""
    use_cache: bool = True
    """The forward fills transformers' KV cache (the config's ``use_cache``; never in checkpointed layers), whose
    ``torch.cat`` copies each layer's key and value."""


def _bytes(dtype: str) -> int:
    return BITS[dtype] // 8


class _Regime(Record):
    """What the lengths decide beside the element counts: which tensors some rules keep."""

    one_batch: bool
    """b = 1 (a loss's labels keep their padded storage; eager attention's matmul with a dimension of 1)."""
    one_position: bool
    """s = 1 (the source length: eager attention's matmul with a dimension of 1)."""
    many_targets: bool
    """t > 1 (T5's decoder masks its bias with a causal pattern)."""


class _Builder:
    """Collects saved tensors; ``symbols`` are ``b s h a k d i v e r j t f m w n p c q l u`` with ``·`` between them.
    ``target``: a decoder of an encoder-decoder, whose rules' ``s`` is the target length ``t`` and ``x`` (the keys
    of cross-attention) the source length ``s``. The rules see the widths only; where the lengths change which
    tensors are kept they read ``regime``."""

    def __init__(
        self, sizes: _Widths, settings: _Settings, checkpointing: bool, regime: _Regime, *, target: bool = False
    ) -> None:
        self.sizes, self.settings, self.checkpointing, self.regime = sizes, settings, checkpointing, regime
        self.rename = {"s": "t", "x": "s"} if target else {}
        self.found: list[_Term] = []
        self.masked = ""
        """The kind of the layers whose sdpa call gets a mask (sliding layers past the window), or none."""
        self.unmasked: tuple[str, ...] = ()
        """The other kinds of layers, when some get a mask."""
        self.only = ""
        """The kind of layer the tensors added now are kept by only (``SavedTensor.only``)."""

    @property
    def one_query(self) -> bool:
        """The attention runs one query position: s = 1, or a decoder's t = 1."""
        return not self.regime.many_targets if self.rename else self.regime.one_position

    def add(
        self,
        key: str,
        module: str,
        what: str,
        shape: str,
        dtype: str,
        split: Split,
        *,
        saved: bool = True,
        count: Callable[[_Sizes], int] | None = None,
        only: str = "",
    ) -> None:
        """``count``: the elements for given sizes, where they are not the product of ``shape``'s symbols."""
        symbols = [self.rename.get(symbol, symbol) for symbol in shape.split("·")]
        shape = "·".join(symbols)
        factor = 1
        lengths: tuple[str, ...] = ()
        if count is None:
            for symbol in symbols:
                if symbol not in LENGTHS:
                    factor *= int(symbol) if symbol.isdigit() else getattr(self.sizes, symbol)
            lengths = tuple(symbol for symbol in symbols if symbol in LENGTHS)
        dtype = self.settings.dtype if dtype == "compute" else dtype
        only = only or self.only
        self.found.append(
            _Term(key, module, what, shape, dtype, _bytes(dtype), split, saved, only, factor, lengths, count)
        )

    def saved(self, key: str, module: str, what: str, shape: str, split: Split, *, only: str = "") -> None:
        """A tensor saved in the compute dtype (most are: a Linear's input, an activation's input or output)."""
        self.add(key, module, what, shape, "compute", split, only=only)

    def mask(self, key: str, module: str, shape: str, split: Split) -> None:
        """A dropout mask: bool on CUDA (``native_dropout``), the input's dtype on CPU (``input * noise``)."""
        dtype = "bool" if self.settings.kernels == "cuda" else "compute"
        self.add(key, module, "dropout mask (MulBackward0 / NativeDropoutBackward0)", shape, dtype, split)

    def layer_norm(
        self, module: str, shape: str, *, upcast: bool = False, input_kept: bool = False, rows: str = "b·s"
    ) -> None:
        """``upcast``: the input cast to float32 first (OLMo's LayerNorm without weights), so all three are float32;
        ``input_kept``: the input is a storage counted already (ReLU's result, another LayerNorm's input); ``rows``:
        one mean and rstd each."""
        stats = "float32" if self.settings.kernels == "cuda" or upcast else "compute"
        if not input_kept:
            what = "LayerNorm input" + (" upcast to float32" if upcast else "") + " (NativeLayerNormBackward0)"
            self.add(f"{module}.input", module, what, shape, "float32" if upcast else "compute", "sequence")
        for stat in ("mean", "rstd"):
            self.add(f"{module}.{stat}", module, f"LayerNorm {stat}", rows, stats, "sequence")

    def rms_norm(
        self, module: str, shape: str, rows: str, split: Split, *, one_plus: bool = False, float32_weight: bool = False
    ) -> None:
        """transformers' RMSNorm: x.float() kept by pow and mul, rsqrt's result, and the normalised x the weight
        multiplies (Gemma: in float32, times (1 + weight.float()), a new tensor per norm; ``float32_weight``: in
        float32, cast back after the product, OLMo-2)."""
        self.add(
            f"{module}.input_float32",
            module,
            "input upcast to float32 (PowBackward0, MulBackward0)",
            shape,
            "float32",
            split,
        )
        self.add(f"{module}.rstd", module, "rsqrt(mean(x²) + eps) in float32 (RsqrtBackward0)", rows, "float32", split)
        if one_plus:
            self.add(
                f"{module}.one_plus_weight",
                module,
                "1 + weight in float32 (MulBackward0)",
                shape.rsplit("·", 1)[-1],
                "float32",
                "none",
            )
        normalised = "float32" if one_plus or float32_weight else "compute"
        self.add(
            f"{module}.normalised", module, "x·rstd, multiplied by the weight (MulBackward0)", shape, normalised, split
        )


def _activation_dropout(settings: _Settings) -> bool:
    return settings.attention_dropout > 0


def _dropout(settings: _Settings) -> bool:
    return (
        max(
            settings.attention_dropout, settings.hidden_dropout, settings.embedding_dropout, settings.activation_dropout
        )
        > 0
    )


def _kernel(settings: _Settings) -> str:
    if settings.attention == "eager":
        return "eager"
    if settings.attention == "sdpa" and settings.broadcast_kv:
        return "math (float32)" if settings.dtype != "float32" else "math"
    if settings.attention == "sdpa" and settings.unequal_heads and settings.kernels == "cuda":
        return "memory-efficient"
    if (
        settings.attention == "sdpa"
        and settings.kernels == "cpu"
        and (settings.unequal_heads or _activation_dropout(settings))
    ):
        return "math (float32)" if settings.dtype != "float32" else "math"
    return "flash"


def _folds_as_view(out: _Builder, *, per_head: bool = False) -> bool:
    """Whether eager attention's fold of an operand, (batch, heads, tokens, dims) into (batch·heads, tokens, dims) by
    the reshape inside ``torch.matmul`` (BLOOM's own reshape), is a view of the operand's storage, not a copy.
    A reshape views when the merged dims' strides chain: a dim of 1 always does, else the batch's stride must be
    the heads times the head's. A contiguous operand (the KV cache's copy, a new tensor) chains. A head dim
    expanded from one key head (``repeat_kv``, stride 0) or a view of a fused projection's output (batch stride
    s·W; head stride d when q, k and v lie one after another, a·d < W) chains only where the batch or the heads
    are 1; one whose heads each hold their q, k and v side by side (``per_head``: head stride 3·d, a·3·d = W) also
    at one token."""
    regime = out.regime
    return regime.one_batch or out.sizes.a == 1 or (per_head and regime.one_position)


def _attention_core(
    out: _Builder,
    module: str,
    *,
    upcast_softmax: bool,
    repeat_kv: bool,
    fused: bool,
    keys: str = "s",
    value: str = "d",
    float32_scores: bool = False,
    causal_mask: bool = False,
) -> bool:
    """The attention between the projections; True when its output is the output projection's input storage.
    ``value``: the value head dim (DeepSeek's ``u``), the query/key one ``d`` elsewhere. ``float32_scores``: eager
    attention multiplies the query and the key upcast to float32 (GPT-J, CodeGen). ``causal_mask``: sdpa gets the
    causal mask as a tensor (Falcon builds it always), which the flash kernel keeps converted to the dtype.

    Flash kernels on CUDA write the output as (batch, tokens, heads, head_dim), so merging the heads is a view.
    The CPU flash kernel writes it in the query's memory layout: (batch, tokens, heads, head_dim) when the
    query comes from its own projection (rotary keeps the layout), (batch, heads, tokens, head_dim) when it is
    sliced from a fused qkv projection (``fused``; also Whisper's query, scaled and made contiguous in that layout),
    and then ``transpose(1, 2).contiguous()`` copies it, except at one query position, where the transposed
    (batch, 1, heads, head_dim) is contiguous already and ``contiguous()`` returns the output itself."""
    settings = out.settings
    kernel = _kernel(settings)
    if kernel in ("flash", "memory-efficient"):  # the memory-efficient kernel keeps the same tensors
        masked = out.masked
        for name in ("query", "key", "value"):
            shape = "b·a·s·d" if name == "query" else f"b·k·{keys}·{value if name == 'value' else 'd'}"
            what = f"{name} (ScaledDotProductFlashAttention)"
            if name == "query" or not masked or out.sizes.k == out.sizes.a:
                out.saved(f"{module}.{name}", module, what, shape, "tensor")
                continue
            for kind in out.unmasked:
                out.saved(f"{module}.{name}", module, what, shape, "tensor", only=kind)
            what = f"{name} repeated to every head: with a mask transformers gives sdpa no GQA (repeat_kv)"
            out.saved(f"{module}.{name}_repeated", module, what, f"b·a·{keys}·d", "tensor", only=masked)
        if masked:
            what = "the sliding window's mask in the dtype, one per layer (ScaledDotProductFlashAttention)"
            out.saved(f"{module}.mask", module, what, f"b·s·{keys}", "none", only=masked)
        elif causal_mask:
            what = "the causal mask converted to the dtype, one per layer (ScaledDotProductFlashAttention)"
            out.saved(f"{module}.mask", module, what, f"b·s·{keys}", "none")
        out.saved(
            f"{module}.output",
            module,
            "attention output, also the output projection's input",
            f"b·a·s·{value}",
            "tensor",
        )
        out.add(f"{module}.logsumexp", module, "logsumexp of the scores in float32", "b·a·s", "float32", "tensor")
        return settings.kernels == "cuda" or settings.attention == "flash" or not fused or out.one_query
    if kernel.startswith("math"):
        math_dtype = "float32"
        # one key/value head broadcast to every head (broadcast_kv): its fold stays a view of that head where it chains
        kv = "k" if settings.broadcast_kv and out.sizes.k == 1 and _folds_as_view(out) else "a"
        out.add(f"{module}.query", module, "query·√scale in float32 (BmmBackward0)", "b·a·s·d", math_dtype, "tensor")
        what = "key·√scale in float32 (BmmBackward0)"
        out.add(f"{module}.key", module, what, f"b·{kv}·{keys}·d", math_dtype, "tensor")
        out.add(
            f"{module}.probabilities",
            module,
            "softmax result (SafeSoftmaxBackward0)",
            f"b·a·s·{keys}",
            math_dtype,
            "tensor",
        )
        if _activation_dropout(settings):  # without dropout the probabilities are bmm's operand
            out.add(
                f"{module}.dropout_mask",
                module,
                "dropout mask in float32 (MulBackward0)",
                f"b·a·s·{keys}",
                math_dtype,
                "tensor",
            )
            out.add(
                f"{module}.dropped",
                module,
                "probabilities after dropout (BmmBackward0)",
                f"b·a·s·{keys}",
                math_dtype,
                "tensor",
            )
        what = "value in float32 (BmmBackward0)"
        out.add(f"{module}.value", module, what, f"b·{kv}·{keys}·{value}", math_dtype, "tensor")
        return False
    scores = "float32" if float32_scores else "compute"
    upcast = " in float32" if float32_scores else ""
    # one key head repeated by a view: the fold keeps it a view of that head where it chains
    heads = "k" if repeat_kv and out.sizes.k == 1 and _folds_as_view(out) else "a"
    repeated = ", repeated to every head" if repeat_kv else ""
    repeated += " as a view of its one head" if heads == "k" else ""
    out.add(f"{module}.query", module, f"query{upcast} (BmmBackward0)", "b·a·s·d", scores, "tensor")
    out.add(f"{module}.key", module, f"key{repeated}{upcast} (BmmBackward0)", f"b·{heads}·{keys}·d", scores, "tensor")
    if settings.score_softcap:
        out.saved(
            f"{module}.softcap",
            module,
            "tanh(scores / attn_logit_softcapping) (TanhBackward0)",
            f"b·a·s·{keys}",
            "tensor",
        )
    softmax_dtype = "float32" if upcast_softmax else "compute"
    out.add(
        f"{module}.softmax",
        module,
        f"softmax result in {'float32' if upcast_softmax else 'the dtype'} (SoftmaxBackward0)",
        f"b·a·s·{keys}",
        softmax_dtype,
        "tensor",
    )
    if _activation_dropout(settings):
        out.mask(f"{module}.dropout_mask", module, f"b·a·s·{keys}", "tensor")
        out.add(
            f"{module}.dropped",
            module,
            "probabilities after dropout (BmmBackward0)",
            f"b·a·s·{keys}",
            "compute",
            "tensor",
        )
    elif upcast_softmax and settings.dtype != "float32":
        out.saved(
            f"{module}.probabilities",
            module,
            "probabilities cast back to the dtype (BmmBackward0)",
            f"b·a·s·{keys}",
            "tensor",
        )
    out.saved(f"{module}.value", module, f"value{repeated} (BmmBackward0)", f"b·{heads}·{keys}·{value}", "tensor")
    return False


def _attention_output(out: _Builder, shared: bool, projection: str, node: str, shape: str, dropout: str | None) -> None:
    """After the attention: the output projection's input, the heads merged, unless it is the attention
    output's storage (``shared``), then the mask of the residual's ``dropout`` (None: it has none)."""
    if not shared:
        name = projection.rsplit(".", 1)[-1]
        out.saved(f"{projection}.input", projection, f"{name} input, the heads merged ({node})", shape, "tensor")
    if dropout is not None and out.settings.hidden_dropout > 0:
        out.mask(f"{dropout}.mask", dropout, "b·s·h", "sequence")


# Llama-like decoders (Granite, SmolLM3, StarCoder2, …): where a family's layer differs from Llama's, as data.


LLAMA_LAYER: Final = frozenset({"self_attn", "mlp", "input_layernorm", "post_attention_layernorm"})
"""The children of a Llama layer that hold weights."""


class _Decoder(Record):
    """Where a decoder-only family's layer differs from Llama's (``DECODERS``); q/k norms and fused projections
    are read from the tree."""

    children: frozenset[str] = LLAMA_LAYER
    """The layer's children that hold weights (OLMo's norms hold none)."""

    norm: str = "rms"
    """``rms``: transformers' RMSNorm; ``float32_rms``: one whose weight multiplies in float32 (OLMo-2);
    ``layer``: ``nn.LayerNorm`` (StarCoder2); ``float32_layer``: a LayerNorm without weights on the input upcast to
    float32 (OLMo); ``cohere_layer``: Cohere's LayerNorm without bias, in float32 (``_cohere_norm``)."""
    pre_norms: bool = True
    """``input_layernorm`` before the attention, ``post_attention_layernorm`` before the MLP."""
    parallel: bool = False
    """The attention and the MLP both read ``input_layernorm``'s output, one storage, and add to one residual
    (Cohere)."""
    post_norms: tuple[str, ...] = ()
    """The norms after the attention and after the MLP, before their residual sums (OLMo-2, GLM-4)."""
    mlp: str = "gated"
    """``gated``: a SwiGLU MLP (or a sparse MoE block); ``plain``: c_fc, the activation, c_proj (StarCoder2)."""
    rotary_cat: bool = False
    """The query and key rebuilt by ``torch.cat`` of their rotated and unrotated parts (StableLM's partial rotary):
    contiguous as (batch, heads, tokens, head_dim), laid out like a fused projection's slice."""
    attention_dropout_residual: bool = True
    """A dropout on the attention's output before the residual sum; StableLM has one only after the MLP."""
    float32_rotary: bool = False
    """The rotary cos and sin stay float32, so the rotated query and key are float32 cast back (OLMo)."""
    mlp_child: str = "mlp"
    """The layer's MLP or sparse MoE block (GraniteMoE's ``block_sparse_moe``)."""
    router: str = ""
    """A sparse MoE router that softmaxes the top-r logits only, in float32 (``top_softmax_float32``, GraniteMoE)
    or the compute dtype (``top_softmax``, gpt-oss); none: as the tree shows (Mixtral's ``gate``, a softmax over
    every expert before the top-r; Phi-3.5-MoE's ``router``, sparsemixer)."""
    clamped_swiglu: bool = False
    """gpt-oss's experts: biases indexed per pair, and a SwiGLU on the interleaved gate and up halves clamped to
    ``swiglu_limit``, ``(up + 1)·gate·sigmoid(alpha·gate)``."""
    sinks: bool = False
    """gpt-oss's attention: a learned sink logit per head joins the scores; transformers runs it eager only."""
    half_rotary: bool = False
    """The rotary cos and sin span half of each head, which multiplies each half by them (gpt-oss)."""
    interleaved_rotary: bool = False
    """Each layer repeat-interleaves cos and sin into tensors of its own, which its products keep instead of the
    model's tables (GLM-4)."""
    polar_rotary: bool = False
    """One complex64 table of the rotations (``torch.polar``) instead of cos and sin (DeepSeek-V2)."""


COHERE: Final = _Decoder(
    children=frozenset({"self_attn", "mlp", "input_layernorm"}), norm="cohere_layer", parallel=True
)
DECODERS: Final = {
    "deepseek_v2": _Decoder(polar_rotary=True),
    "starcoder2": _Decoder(norm="layer", mlp="plain"),
    "stablelm": _Decoder(norm="layer", rotary_cat=True, attention_dropout_residual=False),
    "olmo": _Decoder(children=frozenset({"self_attn", "mlp"}), norm="float32_layer", float32_rotary=True),
    "olmo2": _Decoder(
        children=frozenset({"self_attn", "mlp", "post_attention_layernorm", "post_feedforward_layernorm"}),
        norm="float32_rms",
        pre_norms=False,
        post_norms=("post_attention_layernorm", "post_feedforward_layernorm"),
        float32_rotary=True,
    ),
    "glm4": _Decoder(
        children=LLAMA_LAYER | {"post_self_attn_layernorm", "post_mlp_layernorm"},
        post_norms=("post_self_attn_layernorm", "post_mlp_layernorm"),
        rotary_cat=True,
        interleaved_rotary=True,
    ),
    "cohere": COHERE,
    "glm4_moe": _Decoder(rotary_cat=True),  # DeepSeek-V3's router and shared experts (_Settings.router)
    "granitemoe": _Decoder(
        children=frozenset({"self_attn", "block_sparse_moe", "input_layernorm", "post_attention_layernorm"}),
        mlp_child="block_sparse_moe",
        router="top_softmax_float32",
    ),
    "gpt_oss": _Decoder(norm="float32_rms", router="top_softmax", clamped_swiglu=True, sinks=True, half_rotary=True),
    "cohere2": COHERE,  # its full-attention layers have no rotary, which keeps nothing of its own
}
"""The Llama-like families whose layer differs from Llama's; the others (Granite's multipliers are scalars, which
keep nothing; SmolLM3's layers without rotary keep what rotary ones do) run Llama's."""
LLAMA: Final = _Decoder()


def _decoder_norm(out: _Builder, layout: _Decoder, module: str, *, one_plus: bool = False) -> None:
    """A norm over the hidden states of a Llama-like layer or its model."""
    if layout.norm == "cohere_layer":
        _cohere_norm(out, module, "b·s·h", "b·s", "h", "sequence")
    elif layout.norm in ("layer", "float32_layer"):
        out.layer_norm(module, "b·s·h", upcast=layout.norm == "float32_layer")
    else:
        float32_weight = layout.norm == "float32_rms"
        out.rms_norm(module, "b·s·h", "b·s", "sequence", one_plus=one_plus, float32_weight=float32_weight)


def _sink_attention(out: _Builder, module: str) -> bool:
    """gpt-oss's eager attention with sinks: the scores and the sink logit of each head concatenated (s + 1 columns),
    their maximum subtracted (MaxBackward0 keeps its indices), a softmax in the compute dtype over them, the sink
    column dropped by a view; the query and the key and value repeated to every head kept by the matmuls."""
    repeated = ", repeated to every head" if out.sizes.k != out.sizes.a else ""
    out.saved(f"{module}.query", module, "query (BmmBackward0)", "b·a·s·d", "tensor")
    out.saved(f"{module}.key", module, f"key{repeated} (BmmBackward0)", "b·a·s·d", "tensor")
    out.add(f"{module}.max_indices", module, "where each row's maximum is (MaxBackward0)", "b·a·s", "int64", "tensor")
    out.add(
        f"{module}.softmax",
        module,
        "softmax over the scores and the sink (SoftmaxBackward0), its view without the sink kept by the matmul",
        "b·a·s·(s+1)",
        "compute",
        "tensor",
        count=lambda sizes: sizes.b * sizes.a * sizes.s * (sizes.s + 1),
    )
    out.saved(f"{module}.value", module, f"value{repeated} (BmmBackward0)", "b·a·s·d", "tensor")
    return False


def _head_norms(out: _Builder, attention: Module | None, layout: _Decoder, *, one_plus: bool) -> None:
    """The query's and key's norms, when the attention has them: per head (Qwen3, Gemma 3; Cohere's LayerNorm with
    a weight per head) or over all the heads at once, one row per token (OLMo-2, OLMoE)."""
    q_norm = _param(_child(attention, "q_norm"), "weight")
    if q_norm is None:
        return
    whole = q_norm.sizes != (out.sizes.d,)
    for name, heads in (("q", "a"), ("k", "k")):
        module, shape = f"self_attn.{name}_norm", f"b·s·{heads}·d"
        if layout.norm == "cohere_layer":
            _cohere_norm(out, module, shape, f"b·s·{heads}", f"{heads}·d", "tensor")
            continue
        rows = "b·s" if whole else f"b·s·{heads}"
        float32_weight = layout.norm == "float32_rms"
        out.rms_norm(module, shape, rows, "tensor", one_plus=one_plus, float32_weight=float32_weight)


def _cohere_norm(out: _Builder, module: str, shape: str, rows: str, weight: str, split: Split) -> None:
    """Cohere's LayerNorm without bias, written out in float32: x.float() − mean computed twice, once kept by pow
    and once by the product with rsqrt's result, which it keeps, the weight cast to float32 and the normalised x
    it multiplies."""
    for node in ("PowBackward0", "MulBackward0"):
        what = f"x.float() − mean ({node})"
        out.add(f"{module}.centred_{node[:3].lower()}", module, what, shape, "float32", split)
    out.add(f"{module}.rstd", module, "rsqrt(variance + eps) in float32 (MulBackward0)", rows, "float32", split)
    out.add(f"{module}.weight_float32", module, "the weight cast to float32 (MulBackward0)", weight, "float32", "none")
    out.add(f"{module}.normalised", module, "the normalised x in float32 (MulBackward0)", shape, "float32", split)


def _llama_layer(
    out: _Builder, block: Module, layout: _Decoder, *, one_plus: bool, dense: Module | None = None
) -> None:
    """``dense``: the MLP of the dense layers of a MoE stack that mixes them in (``block`` is a sparse one)."""
    attention, mlp = _child(block, "self_attn"), _child(block, layout.mlp_child)
    if layout.pre_norms:
        _decoder_norm(out, layout, "input_layernorm", one_plus=one_plus)
    if out.sizes.l:
        _latent_attention(out, attention)
    else:
        fused = _child(attention, "qkv_proj") is not None
        projections = "qkv_proj" if fused else "q_proj/k_proj/v_proj"
        what = "the normalised hidden states" if layout.pre_norms else "the layer's input"
        out.saved(
            f"self_attn.{projections}.input",
            f"self_attn.{'qkv_proj' if fused else 'q_proj'}",
            f"{projections} input, {what} (MmBackward0, one storage)",
            "b·s·h",
            "sequence",
        )
        if out.settings.clip_qkv:
            for name, shape in (("q", "b·s·a·d"), ("k", "b·s·k·d"), ("v", "b·s·k·d")):
                what = f"{name}_proj output before its in-place clamp_ (clip_qkv), the copy ClampBackward1 keeps"
                out.saved(f"self_attn.{name}_proj.unclamped", f"self_attn.{name}_proj", what, shape, "tensor")
        _head_norms(out, attention, layout, one_plus=one_plus)
        if layout.interleaved_rotary:
            _rotary_tables(out, layout, "self_attn", "repeat-interleaved in the layer")
        repeat_kv, fused = out.sizes.k != out.sizes.a, fused or layout.rotary_cat
        if layout.sinks:
            shared = _sink_attention(out, "self_attn")
        else:
            shared = _attention_core(out, "self_attn", upcast_softmax=True, repeat_kv=repeat_kv, fused=fused)
        dropout = "resid_attn_dropout" if layout.attention_dropout_residual else None
        _attention_output(out, shared, "self_attn.o_proj", "MmBackward0", "b·s·a·d", dropout)
    after_attention, after_mlp = layout.post_norms or (None, None)
    if after_attention:
        _decoder_norm(out, layout, after_attention)
    if layout.pre_norms and not layout.parallel:
        _decoder_norm(out, layout, "post_attention_layernorm", one_plus=one_plus)
    sandwich = _child(block, "pre_feedforward_layernorm") is not None  # Gemma 2/3: a norm after each sublayer too
    if sandwich:
        out.rms_norm("pre_feedforward_layernorm", "b·s·h", "b·s", "sequence", one_plus=one_plus)
    if out.sizes.e:
        out.only = "sparse" if dense is not None else ""
        _sparse_moe(out, mlp, layout)
        if dense is not None:
            out.only = "dense"
            _gated_mlp(out, dense, width="f")
        out.only = ""
    elif layout.mlp == "plain":
        _plain_mlp(out, "mlp.c_fc", "c_fc input, the normalised hidden states (MmBackward0)", "mlp.act", "mlp.c_proj")
    else:
        _gated_mlp(out, mlp, shared_input=layout.parallel)
    if sandwich:
        out.rms_norm("post_feedforward_layernorm", "b·s·h", "b·s", "sequence", one_plus=one_plus)
    if after_mlp:
        _decoder_norm(out, layout, after_mlp)
    if out.settings.hidden_dropout > 0:
        out.mask("resid_mlp_dropout.mask", "resid_mlp_dropout", "b·s·h", "sequence")


def _top_r_router(out: _Builder, layout: _Decoder) -> None:
    """The router of Mixtral, Qwen2/3-MoE and OLMoE: a Linear, softmax in float32, top-r (renormalised); GraniteMoE's
    and gpt-oss's (``router``) softmax only the top-r logits (``layout.router``)."""
    gate = f"{layout.mlp_child}.{'router' if layout.router else 'gate'}"
    out.saved(
        f"{gate}.input",
        gate,
        "router input, the normalised hidden states (MmBackward0"
        + (", one storage with the shared expert's inputs)" if out.sizes.j else ")"),
        "b·s·h",
        "sequence",
    )
    if layout.router:
        out.add(f"{gate}.top_indices", gate, "top-r expert ids (TopkBackward0)", "b·s·r", "int64", "sequence")
        dtype = "float32" if layout.router == "top_softmax_float32" else "compute"
        what = f"softmax of the top-r logits in {dtype} (SoftmaxBackward0)"
        out.add(f"{gate}.top_probabilities", gate, what, "b·s·r", dtype, "sequence")
    else:
        what = "router softmax in float32 (SoftmaxBackward0)"
        out.add(f"{gate}.probabilities", gate, what, "b·s·e", "float32", "sequence")
        out.add(f"{gate}.top_indices", gate, "top-r expert ids (TopkBackward0)", "b·s·r", "int64", "sequence")
    _renormalised(out, gate)


def _renormalised(out: _Builder, gate: str = "mlp.gate") -> None:
    """A router's top-r weights divided by their sum (Mixtral, ``norm_topk_prob``): the division keeps both."""
    if out.settings.renormalise:
        out.add(
            f"{gate}.top_probabilities",
            gate,
            "top-r probabilities (DivBackward0)",
            "b·s·r",
            "float32",
            "sequence",
        )
        out.add(f"{gate}.top_sum", gate, "their sum, the divisor (DivBackward0)", "b·s", "float32", "sequence")


def _sparsemixer(out: _Builder) -> None:
    """Phi-3.5-MoE's router in training: with ``input_jitter_noise`` the block and then the router multiply the
    hidden states in place by uniform noise (each noise kept by its product), the Linear keeps its input, then
    sparsemixer picks each of the two experts by Gumbel sampling over the logits masked to those near the largest:
    per pick the mask, the sample's index (kept by gather, scatter and ``PhimoeMultiplier``), the softmax (kept
    by softmax and ``PhimoeMultiplier``) and the gate value. The argmax of the softmax that decides the midpoint
    mask is saved by a node whose output reaches no loss, so it is freed before the backward: not kept."""
    if out.settings.input_jitter:
        what = "{} input jitter noise, kept by the in-place product (MulBackward0)"
        out.saved("mlp.jitter", "mlp", what.format("the block's"), "b·s·h", "sequence")
        out.saved("mlp.router.jitter", "mlp.router", what.format("the router's"), "b·s·h", "sequence")
    out.saved("mlp.router.input", "mlp.router", "router input (MmBackward0)", "b·s·h", "sequence")
    for pick in ("first", "second"):
        module = f"mlp.router.{pick}"
        out.add(
            f"{module}.mask",
            module,
            "logits far below the largest, masked (MaskedFillBackward0)",
            "b·s·e",
            "bool",
            "sequence",
        )
        out.add(
            f"{module}.sample",
            module,
            "the sampled expert (GatherBackward0, PhimoeMultiplier)",
            "b·s",
            "int64",
            "sequence",
        )
        out.saved(
            f"{module}.softmax",
            module,
            "softmax of the masked logits (SoftmaxBackward0, PhimoeMultiplier)",
            "b·s·e",
            "sequence",
        )
        out.saved(f"{module}.gate", module, "the sampled expert's gate value (PhimoeMultiplier)", "b·s", "sequence")


def _sparse_moe(out: _Builder, mlp: Module | None, layout: _Decoder) -> None:
    """transformers' sparse MoE block with its default ``grouped_mm`` experts. The router: a Linear, softmax in
    float32, top-r (renormalised by the sum in Mixtral and with ``norm_topk_prob``). The experts: the b·s·r routed
    (token, expert) pairs sorted by expert, gathered, run through every expert's SwiGLU by two grouped matmuls,
    multiplied by their routing weights, put back in order and summed per token. Every tensor spans all b·s·r
    pairs, so the bytes do not depend on how the tokens are routed. Qwen2-MoE adds a shared expert (a SwiGLU MLP
    on every token) scaled by a sigmoid gate, DeepSeek shared experts added as they are. GraniteMoE's block is
    ``block_sparse_moe``; the family's layout names the block and the router's kind."""
    if not layout.router and _child(mlp, "router") is not None:
        _sparsemixer(out)
    elif out.settings.router:
        _deepseek_router(out)
    else:
        _top_r_router(out, layout)
    experts = f"{layout.mlp_child}.experts"
    for key, what in (
        ("token_index", "the token of each pair sorted by expert, perm // r (IndexBackward0)"),
        ("sort_index", "perm, the pairs' order sorted by expert (IndexBackward0 of the routing weights)"),
        ("inverse_index", "the inverse permutation putting the pairs back in order (IndexBackward0)"),
    ):
        out.add(f"{experts}.{key}", experts, what, "b·s·r", "int64", "sequence")
    if layout.clamped_swiglu:
        what = "the expert of each pair sorted, indexing the experts' biases (IndexBackward0)"
        out.add(f"{experts}.expert_index", experts, what, "b·s·r", "int64", "sequence")
    out.add(
        f"{experts}.offsets", experts, "pairs per expert, cumulated (GroupedMmBackward0, both)", "e", "int32", "none"
    )
    out.saved(
        f"{experts}.gate_up.input", experts, "the pairs' hidden states (GroupedMmBackward0)", "b·s·r·h", "sequence"
    )
    act = out.settings.act
    out.saved(
        f"{experts}.gate_up.output",
        experts,
        f"gate_up output: the gate kept by {act}, the up half by the product (one storage)",
        "b·s·r·2·i",
        "tensor",
    )
    if layout.clamped_swiglu:
        for key, what in (
            ("gate_clamped", "the gate clamped to the limit (ClampBackward1 keeps the gate, MulBackward0 this)"),
            ("sigmoid", "sigmoid(alpha·gate) (SigmoidBackward0, MulBackward0)"),
            ("up_plus_one", "the up half clamped, plus one (MulBackward0)"),
            ("glu", "gate·sigmoid(alpha·gate) (MulBackward0)"),
        ):
            out.saved(f"{experts}.{key}", experts, what, "b·s·r·i", "tensor")
    else:
        what = f"{act}(gate), kept by the product (MulBackward0)"
        out.saved(f"{experts}.act_fn.output", experts, what, "b·s·r·i", "tensor")
    out.saved(f"{experts}.down.input", experts, "down input, act(gate)·up (GroupedMmBackward0)", "b·s·r·i", "tensor")
    out.saved(
        f"{experts}.down.output",
        experts,
        "down output, kept by the routing-weight product (MulBackward0)",
        "b·s·r·h",
        "sequence",
    )
    weights = "float32" if out.settings.float32_routing else "compute"
    out.add(
        f"{experts}.routing_weights", experts, "each pair's routing weight (MulBackward0)", "b·s·r", weights, "sequence"
    )
    if out.sizes.j and out.settings.router:  # DeepSeek: on the block's input, not the router's float32 copy
        shared = out.settings.dtype == "float32"  # then the router's input
        _gated_mlp(out, _child(mlp, "shared_experts"), "mlp.shared_experts", "j", shared_input=shared)
    elif out.sizes.j:
        _gated_mlp(out, _child(mlp, "shared_expert"), "mlp.shared_expert", "j", shared_input=True)
        out.saved(
            "mlp.shared_expert_gate.sigmoid",
            "mlp.shared_expert_gate",
            "sigmoid of the shared expert's gate (SigmoidBackward0, MulBackward0)",
            "b·s",
            "sequence",
        )
        out.saved(
            "mlp.shared_expert.output",
            "mlp.shared_expert",
            "the shared expert's output, kept by the gate's product (MulBackward0)",
            "b·s·h",
            "sequence",
        )


# DeepSeek-V2/V3: multi-head latent attention and the routers


def _latent_attention(out: _Builder, attention: Module | None) -> None:
    """DeepSeek's multi-head latent attention: the query through its own projection (V2-Lite) or a latent of width
    q (``q_a_proj``, RMSNorm, ``q_b_proj``); keys and values from a latent of width l (``kv_a_proj_with_mqa``, whose
    last p columns are the rotary key shared by every head, RMSNorm, ``kv_b_proj``). Rotary multiplies the p rope
    dims of query and key by the tables (kept once, outside the layers) and keeps nothing of them; the query
    (nope and rope concatenated) and the key (a new tensor) have d = nope + p dims per head, the value u. Fused
    kernels keep the value as the view it is, a slice of ``kv_b_proj``'s output, so that whole output; so does
    eager attention's matmul when one sequence or one token makes the view foldable to three dims (else it
    copies the value to b·a·s·u). In float32 the key/value latent's norm keeps its input uncopied, a slice of
    ``kv_a_proj_with_mqa``'s output, so that whole output too."""
    latent = _child(attention, "q_a_proj") is not None
    projections = f"{'q_a_proj' if latent else 'q_proj'}/kv_a_proj_with_mqa"
    out.saved(
        f"self_attn.{projections}.input",
        f"self_attn.{projections.split('/')[0]}",
        f"{projections} input, the normalised hidden states (MmBackward0, one storage)",
        "b·s·h",
        "sequence",
    )
    for name, width, projection in (("q_a", "q", "q_b_proj"), ("kv_a", "l", "kv_b_proj")):
        if name == "q_a" and not latent:
            continue
        out.rms_norm(f"self_attn.{name}_layernorm", f"b·s·{width}", "b·s", "sequence")
        if name == "kv_a" and out.settings.dtype == "float32":
            what = (
                "x.to(float32), the view itself: kv_a_proj_with_mqa's output, kept whole (PowBackward0, MulBackward0)"
            )
            base = "self_attn.kv_a_proj_with_mqa"
            _whole_base(out, "self_attn.kv_a_layernorm.input_float32", base, what, "l+p", out.sizes.l + out.sizes.p)
        what = f"{projection} input, the normalised latent (MmBackward0)"
        out.saved(f"self_attn.{projection}.input", f"self_attn.{projection}", what, f"b·s·{width}", "sequence")
    shared = _attention_core(out, "self_attn", upcast_softmax=True, repeat_kv=False, fused=True, value="u")
    kernel, sizes, regime = _kernel(out.settings), out.sizes, out.regime
    if kernel in ("flash", "memory-efficient") or (kernel == "eager" and (regime.one_batch or regime.one_position)):
        what = "value, a view of kv_b_proj's output (nope keys and values of every head), which it keeps whole"
        per_token = sizes.a * (sizes.d - sizes.p + sizes.u)
        _whole_base(out, "self_attn.value", "self_attn.kv_b_proj", what, "a·(d-p+u)", per_token)
    _attention_output(out, shared, "self_attn.o_proj", "MmBackward0", "b·s·a·u", "resid_attn_dropout")


def _whole_base(out: _Builder, key: str, module: str, what: str, width: str, per_token: int) -> None:
    """Replace ``key`` (a view) by its base, the output of the projection ``module`` the view slices, ``width``
    (``per_token`` elements) per token."""
    out.found = [tensor for tensor in out.found if tensor.key != key]
    out.add(key, module, what, f"b·s·({width})", "compute", "tensor", count=lambda sizes: sizes.b * sizes.s * per_token)


def _deepseek_router(out: _Builder) -> None:
    """DeepSeek's router, a float32 Linear (transformers keeps its weight in float32) on the input upcast to
    float32. V2: softmax, top-r by ``greedy`` or ``group_limited_greedy`` (the scores outside the best groups masked
    to zero first). V3 (``noaux_tc``): sigmoid scores, the best groups and experts chosen on the scores plus
    ``e_score_correction_bias`` (nodes whose outputs reach no loss, freed at once: nothing kept), the chosen scores
    gathered, renormalised with ``norm_topk_prob``. Scaling by ``routed_scaling_factor`` keeps nothing; the routing
    weights reach the experts in float32."""
    method = out.settings.router
    if out.settings.dtype == "float32":  # nothing to upcast: the block's input, the shared experts' too
        what = "router and shared experts' input, the normalised hidden states (MmBackward0, one storage)"
        out.saved("mlp.gate.input", "mlp.gate", what, "b·s·h", "sequence")
    else:
        what = "router input upcast to float32 (MmBackward0)"
        out.add("mlp.gate.input_float32", "mlp.gate", what, "b·s·h", "float32", "sequence")
    if method == "noaux_tc":
        what = "sigmoid scores in float32 (SigmoidBackward0, GatherBackward0)"
        out.add("mlp.gate.scores", "mlp.gate", what, "b·s·e", "float32", "sequence")
        what = "top-r expert ids (GatherBackward0)"
        out.add("mlp.gate.top_indices", "mlp.gate", what, "b·s·r", "int64", "sequence")
        _renormalised(out)
        return
    what = "router softmax in float32 (SoftmaxBackward0)"
    out.add("mlp.gate.probabilities", "mlp.gate", what, "b·s·e", "float32", "sequence")
    if method == "group_limited_greedy":
        what = "the experts outside the chosen groups (MaskedFillBackward0)"
        out.add("mlp.gate.group_mask", "mlp.gate", what, "b·s·e", "bool", "sequence")
    out.add("mlp.gate.top_indices", "mlp.gate", "top-r expert ids (TopkBackward0)", "b·s·r", "int64", "sequence")


def _gated_mlp(
    out: _Builder, mlp: Module | None, at: str = "mlp", width: str = "i", *, shared_input: bool = False
) -> None:
    """A SwiGLU MLP at ``at`` of ``width``; ``shared_input``: its input is a storage counted already (the router's)."""
    act, wide = out.settings.act, f"b·s·{width}"
    if _child(mlp, "gate_up_proj") is not None:
        if not shared_input:
            out.saved(
                f"{at}.gate_up_proj.input",
                f"{at}.gate_up_proj",
                "gate_up_proj input (MmBackward0)",
                "b·s·h",
                "sequence",
            )
        out.saved(
            f"{at}.gate_up_proj.output",
            f"{at}.gate_up_proj",
            f"gate_up_proj output: the gate kept by {act}, the up half by the product (one storage)",
            f"b·s·2·{width}",
            "tensor",
        )
        out.saved(
            f"{at}.act_fn.output",
            f"{at}.activation_fn",
            f"{act}(gate), kept by the product (MulBackward0)",
            wide,
            "tensor",
        )
    else:
        if not shared_input:
            out.saved(
                f"{at}.gate_proj/up_proj.input",
                f"{at}.gate_proj",
                "gate_proj/up_proj input (MmBackward0, one storage)",
                "b·s·h",
                "sequence",
            )
        out.saved(f"{at}.act_fn.input", f"{at}.act_fn", f"gate_proj output, the {act} input", wide, "tensor")
        out.saved(
            f"{at}.act_fn.output", f"{at}.act_fn", f"{act}(gate), kept by the product (MulBackward0)", wide, "tensor"
        )
        out.saved(
            f"{at}.up_proj.output",
            f"{at}.up_proj",
            "up_proj output, kept by the product (MulBackward0)",
            wide,
            "tensor",
        )
    out.saved(f"{at}.down_proj.input", f"{at}.down_proj", "down_proj input, act(gate)·up (MmBackward0)", wide, "tensor")


def _plain_activation(out: _Builder, module: str, width: str, *, next_input: str = "") -> bool:
    """What the activation keeps; ``next_input`` names the operation after it (``"Linear"``), which keeps its
    input: True when that input is ReLU's result, counted here (one storage)."""
    act = out.settings.act
    count = ACTIVATION_TENSORS[act]
    if act == "relu":
        shared = f", also the next {next_input}'s input (one storage)" if next_input else ""
        out.saved(f"{module}.output", module, f"relu result (ReluBackward0){shared}", width, "tensor")
        return bool(next_input)
    what = f"{act} input (GeluBackward0)" if count == 1 else f"{act} intermediates, x among them (ACTIVATION_TENSORS)"
    for index in range(count):
        out.saved(f"{module}.saved{index}" if count > 1 else f"{module}.input", module, what, width, "tensor")
    return False


def _plain_mlp(
    out: _Builder,
    first: str,
    what: str,
    act: str,
    second: str,
    dropout: str | None = None,
    *,
    shared_input: bool = False,
    rows: str = "b·s",
) -> None:
    """A Linear (its input kept, unless ``shared_input``: a storage counted already), the activation, a Linear (its
    input, the activation's output, kept: ReLU's result itself when no activation dropout comes between), then the
    mask of the residual's ``dropout`` (None: the caller's): GPT-2's MLP, BERT's intermediate and output, BART's fc1
    and fc2, StarCoder2's MLP; over ``rows`` tokens (SigLIP's pooling head: one per image, ``b``)."""
    if not shared_input:
        out.saved(f"{first}.input", first, what, f"{rows}·h", "sequence")
    dropped = out.settings.activation_dropout > 0
    shared = _plain_activation(out, act, f"{rows}·i", next_input="" if dropped else "Linear")
    if dropped:
        out.mask("activation_dropout.mask", "activation_dropout", f"{rows}·i", "tensor")
    name = second.rsplit(".", 1)[-1]
    if not shared:
        what = f"{name} input, the activation's output (AddmmBackward0)"
        out.saved(f"{second}.input", second, what, f"{rows}·i", "tensor")
    if dropout is not None and out.settings.hidden_dropout > 0:
        out.mask(f"{dropout}.mask", dropout, "b·s·h", "sequence")


class _Gpt2(Record):
    """Where a layer written like GPT-2's (LayerNorm, attention, LayerNorm, MLP, learned positions) differs from
    it, by model type (``GPT2_LIKE``)."""

    attention: str = "attn"
    projections: str = "c_attn"
    """The query/key/value projections under ``attention``: one fused Linear or three separated by ``/``."""
    output: str = "c_proj"
    upcast_softmax: bool = False
    """Eager attention's softmax in float32, cast back to the dtype (GPT-BigCode, GPT-Neo)."""
    float32_scores: bool = False
    """Eager attention's query and key upcast to float32 (GPT-Neo)."""
    mask_argument: bool = True
    """Eager attention gets an additive causal mask as an argument that checkpointing keeps once (GPT-2); GPT-BigCode
    and BLOOM pass it by keyword (not kept), GPT-Neo masks the scores with its own causal buffer."""
    norms: tuple[str, str] = ("ln_1", "ln_2")
    mlp: str = "mlp"
    linears: tuple[str, str] = ("c_fc", "c_proj")
    """The MLP's two Linears under ``mlp``."""
    dropouts: tuple[str, str] = ("attn.resid_dropout", "mlp.dropout")
    """The residual dropouts after the attention and after the MLP."""
    final_norm: str = "ln_f"
    post_norm: bool = False
    """Each LayerNorm after its sub-layer's residual sum, none after the last layer (OpenAI GPT)."""
    checkpointable: bool = True
    """transformers can checkpoint the layers (not OpenAI GPT's: ``activation_checkpointing_enable`` raises)."""
    bool_mask: bool = False
    """MPT fills the scores where a bool causal mask says (``masked_fill``, which keeps it: one storage for every
    layer, inside each checkpointed layer's recompute)."""
    nested_dropouts: bool = False
    """MPT: the dropouts sit in a nested config (``attn_config.attn_pdrop``), read as 0, as its configs ship (the
    plan says so: ``activations-nested-dropouts``)."""
    embedding: str = "wte"
    positions: bool = True
    """A learned position table ``wpe`` (BLOOM has ALiBi biases instead, without gradient)."""
    embedding_norm: str = ""
    """BLOOM's LayerNorm on the word embeddings."""
    qkv_per_head: bool = False
    """The fused projection's output holds each head's query, key and value side by side (BLOOM; GPT-BigCode
    unless multi-query), not the queries, keys and values one after another (GPT-2, MPT, OpenAI GPT)."""
    cache: bool = True
    """The attention passes its key and value through transformers' KV cache (``Settings.use_cache``); OpenAI
    GPT's takes none."""


_ALIBI: Final = _Gpt2(upcast_softmax=True, mask_argument=False, positions=False)
"""BLOOM and MPT: ALiBi biases instead of positions, eager attention only (``SDPA_UNSUPPORTED``), the mask passed by
keyword."""
GPT2_LIKE: Final = {
    "gpt2": _Gpt2(),
    "gpt_bigcode": _Gpt2(upcast_softmax=True, mask_argument=False, qkv_per_head=True),
    "bloom": replace(
        _ALIBI,
        attention="self_attention",
        projections="query_key_value",
        output="dense",
        norms=("input_layernorm", "post_attention_layernorm"),
        linears=("dense_h_to_4h", "dense_4h_to_h"),
        dropouts=("self_attention.dropout_add", "mlp.dropout_add"),
        embedding="word_embeddings",
        embedding_norm="word_embeddings_layernorm",
        qkv_per_head=True,
    ),
    "openai-gpt": _Gpt2(
        mask_argument=False,
        embedding="tokens_embed",
        positions=False,
        final_norm="",
        post_norm=True,
        checkpointable=False,
        cache=False,
    ),
    "mpt": replace(
        _ALIBI,
        projections="Wqkv",
        output="out_proj",
        norms=("norm_1", "norm_2"),
        mlp="ffn",
        linears=("up_proj", "down_proj"),
        dropouts=("resid_attn_dropout", "ffn.dropout"),
        final_norm="norm_f",
        bool_mask=True,
        nested_dropouts=True,
    ),
    "gpt_neo": _Gpt2(
        "attn.attention",
        "q_proj/k_proj/v_proj",
        "out_proj",
        upcast_softmax=True,
        float32_scores=True,
        dropouts=("attn.attention.resid_dropout", "mlp.dropout"),
        mask_argument=False,
    ),
}
"""GPT-2 and the decoders written like it, as transformers writes each."""


def _gpt2_layer(out: _Builder, layout: _Gpt2) -> None:
    attention = layout.attention
    fused = "/" not in layout.projections
    if not layout.post_norm:
        out.layer_norm(layout.norms[0], "b·s·h")
    out.saved(
        f"{attention}.{layout.projections}.input",
        f"{attention}.{layout.projections.split('/')[0]}",
        f"{layout.projections} input, the {'layer input' if layout.post_norm else 'normalised hidden states'} "
        + ("(AddmmBackward0)" if fused else "(MmBackward0, one storage)"),
        "b·s·h",
        "sequence",
    )
    shared = _attention_core(
        out,
        attention,
        upcast_softmax=layout.upcast_softmax,
        repeat_kv=out.sizes.k != out.sizes.a,
        fused=fused,
        float32_scores=layout.float32_scores,
    )
    if fused and _kernel(out.settings) == "eager":
        _fused_views(out, layout)
    _attention_output(out, shared, f"{attention}.{layout.output}", "AddmmBackward0", "b·s·h", layout.dropouts[0])
    out.layer_norm(layout.norms[0] if layout.post_norm else layout.norms[1], "b·s·h")
    first, second = (f"{layout.mlp}.{name}" for name in layout.linears)
    what = f"{layout.linears[0]} input (AddmmBackward0)"
    _plain_mlp(out, first, what, f"{layout.mlp}.act", second, layout.dropouts[1])
    if layout.post_norm:
        out.layer_norm(layout.norms[1], "b·s·h")


def _fused_views(out: _Builder, layout: _Gpt2) -> None:
    """Eager attention's query, and its key and value where no KV cache copies them, are views of the fused
    projection's output: where the matmul's fold keeps them views (``_folds_as_view``), that whole output (queries,
    keys and values of every head) is what they keep, once."""
    sizes = out.sizes
    if not _folds_as_view(out, per_head=layout.qkv_per_head and sizes.k == sizes.a):
        return
    attention, projection = layout.attention, layout.projections
    cached = layout.cache and out.settings.use_cache and not out.checkpointing
    views = "query" if cached else "query, key and value"
    what = f"{views}, views of {projection}'s output, which the matmul's fold keeps whole (BmmBackward0)"
    width, per_token = ("3·h", 3 * sizes.h) if sizes.k == sizes.a else ("h+2·k·d", sizes.h + 2 * sizes.k * sizes.d)
    _whole_base(out, f"{attention}.query", f"{attention}.{projection}", what, width, per_token)
    if not cached:
        out.found = [tensor for tensor in out.found if tensor.key not in (f"{attention}.key", f"{attention}.value")]


# Vision transformers: ViT, DINOv2, CLIP's and SigLIP's vision towers.


class _Vision(Record):
    """The modules of a pre-norm vision transformer layer, as ViT's are named (``VISION``), its stack under the
    base model and its classifier: a LayerNorm, the q/k/v projections, the attention, the output projection and
    the residual's dropout; a LayerNorm, the MLP (two Linears, the activation between), the residual's dropout."""

    stack: str = "layers"
    norm1: str = "layernorm_before"
    projections: str = "attention.q_proj/k_proj/v_proj"
    attention: str = "attention"
    output: str = "attention.o_proj"
    norm2: str = "layernorm_after"
    fc1: str = "mlp.fc1"
    act: str = "mlp.activation_fn"
    fc2: str = "mlp.fc2"
    dropout: str = "dropout"
    mlp_dropout: str = ""
    """The MLP residual's dropout where it is not ``dropout`` (wav2vec 2.0's ``feed_forward.output_dropout``)."""
    embeddings: str = "embeddings"
    patches: str = "embeddings.patch_embeddings.projection"
    table: str = "embeddings.position_embeddings"
    """The position table, a parameter: a row per token, the patches and the class token."""
    class_token: bool = True
    """The tokens are the patches and a class token; without one (SigLIP) the patches alone."""
    pre_norm: str = ""
    """A LayerNorm on the embeddings before the layers (CLIP's ``pre_layrnorm``), "" where none."""
    final_norm: str = "layernorm"
    pooled_norm: bool = False
    """The final LayerNorm reads the class token alone (CLIP's ``post_layernorm`` on the pooled output), not every
    token."""
    projection: str = ""
    """A Linear on the pooled output (``CLIPVisionModelWithProjection``'s ``visual_projection``), where the tree has
    it."""
    pooling: str = ""
    """An attention-pooling head on the normalised output (SigLIP's ``head``, ``vision_use_head``), where the tree
    has it: a learned probe attends to every token (``_attention_pooling``)."""
    upcast_softmax: bool = True
    """Eager attention takes the softmax in float32 (ViT), or in the dtype (DINOv2)."""
    layer_scale: tuple[str, str] = ("", "")
    """The layer scales after the attention and after the MLP (DINOv2's ``layer_scale1/2``), "" where none."""
    head: str = "classifier"
    """The image classifier (the tree's root); without it, no head or loss."""
    head_input: str = "b·s·h"
    """What the classifier's input keeps: the class token, a view of the normalised output (ViT), or the class
    token beside the patches' mean, concatenated (DINOv2: ``b·2·h``)."""

    @property
    def children(self) -> frozenset[str]:
        """The layer's children that hold parameters."""
        paths = (self.norm1, self.projections, self.output, self.norm2, self.fc1, self.fc2, *self.layer_scale)
        return frozenset(path.split(".")[0] for path in paths if path)


_CLIP_VISION: Final = _Vision(
    stack="encoder.layers",
    norm1="layer_norm1",
    projections="self_attn.q_proj/k_proj/v_proj",
    attention="self_attn",
    output="self_attn.out_proj",
    norm2="layer_norm2",
    dropout="",
    patches="embeddings.patch_embedding",
    table="embeddings.position_embedding.weight",
    pre_norm="pre_layrnorm",
    final_norm="post_layernorm",
    pooled_norm=True,
    projection="visual_projection",
)
"""CLIP's vision tower (``CLIPVisionModel``, whose config is a CLIP config's ``vision_config``)."""

VISION: Final = {
    "vit": _Vision(),
    "dinov2": _Vision(
        stack="encoder.layer",
        norm1="norm1",
        norm2="norm2",
        dropout="",
        upcast_softmax=False,
        layer_scale=("layer_scale1", "layer_scale2"),
        head_input="b·2·h",
    ),
    "clip_vision_model": _CLIP_VISION,
    # SigLIP's tower: CLIP's layer under CLIP's names; no class token, no LayerNorm before the layers, post_layernorm
    # over every token, then its attention-pooling head
    "siglip_vision_model": replace(
        _CLIP_VISION, class_token=False, pre_norm="", pooled_norm=False, projection="", pooling="head"
    ),
}
"""The vision transformers modelled, by model type (``clip_vision_model``: ``CLIPVisionModel``;
``siglip_vision_model``: ``SiglipVisionModel``)."""


def _image(tree: Module, stack: str) -> tuple[int, int]:
    """A vision transformer's tokens (its position table's rows: the patches and any class token) and the values
    of one input image (channels × patches × the patch's pixels, read from the patch convolution); (0, 0) when
    they are not found or stochastic depth (``drop_path_rate``) drops layers, which is not modelled."""
    attributes = dict(tree.attributes)
    names = VISION[str(attributes.get("model_type"))]
    drop_path = attributes.get("drop_path_rate")
    if isinstance(drop_path, int | float) and drop_path > 0:
        return 0, 0
    base = stack.removesuffix(names.stack)
    module, _, name = f"{base}{names.table}".rpartition(".")
    table = _param(_at(tree, module), name)
    conv = _param(_at(tree, f"{base}{names.patches}"), "weight")
    if table is None or conv is None or len(table.shape) < 2 or len(conv.shape) != 4:
        return 0, 0
    tokens = table.sizes[-2]  # ViT's (1, tokens, h), CLIP's embedding (tokens, h)
    return tokens, conv.sizes[1] * image_patches(tree, tokens) * conv.sizes[2] * conv.sizes[3]


def image_patches(tree: Module, tokens: int) -> int:
    """The patches among a modelled vision transformer's ``tokens`` (``VISION``): all but its class token, where it
    has one (ViT, DINOv2, CLIP), or all of them (SigLIP)."""
    return tokens - 1 if VISION[str(dict(tree.attributes).get("model_type"))].class_token else tokens


def _vit_layer(out: _Builder, names: _Vision) -> None:
    """A pre-norm vision transformer layer (``names``): LayerNorm, attention, dropout or a layer scale, residual;
    LayerNorm, MLP, dropout or a layer scale, residual."""
    out.layer_norm(names.norm1, "b·s·h")
    first = names.projections.split("/")[0]
    out.saved(
        f"{names.projections}.input",
        first,
        f"{names.projections.rsplit('.', 1)[-1]} input, the normalised hidden states (AddmmBackward0, one storage)",
        "b·s·h",
        "sequence",
    )
    shared = _attention_core(out, names.attention, upcast_softmax=names.upcast_softmax, repeat_kv=False, fused=False)
    _attention_output(out, shared, names.output, "AddmmBackward0", "b·s·h", names.dropout)
    attention_scale, mlp_scale = names.layer_scale
    if attention_scale:
        what = "the attention's output, times lambda1 (MulBackward0)"
        out.saved(f"{attention_scale}.input", attention_scale, what, "b·s·h", "sequence")
    out.layer_norm(names.norm2, "b·s·h")
    what = f"{names.fc1.rsplit('.', 1)[-1]} input, the normalised hidden states (AddmmBackward0)"
    _plain_mlp(out, names.fc1, what, names.act, names.fc2, names.mlp_dropout or names.dropout)
    if mlp_scale:
        what = "the MLP's output, times lambda1 (MulBackward0)"
        out.saved(f"{mlp_scale}.input", mlp_scale, what, "b·s·h", "sequence")


def _vit_model(out: _Builder, base: str, names: _Vision, *, head: bool, projection: bool, pooling: bool) -> None:
    """Outside a vision transformer's layers (at ``base``): the patch convolution keeps the image (b·n values,
    an input in the compute dtype); the class token's concatenation and the position embeddings' sum keep
    nothing; the embeddings' dropout; a LayerNorm before the layers (CLIP); the final LayerNorm, over every token or
    the class token's (CLIP: its input a view keeping the last layer's whole output, b·s·h, a mean and rstd per
    image); the projection of the pooled output (CLIP); the attention-pooling head (SigLIP, ``_attention_pooling``);
    the classifier on the class token, a view that keeps the whole normalised output (b·s·h), and the cross-entropy
    over the v classes, one label per image."""
    patches = f"{base}{names.patches}"
    out.saved(
        f"{patches}.input",
        patches,
        "the image, the patch convolution's input (ConvolutionBackward0)",
        "b·n",
        "sequence",
    )
    if out.settings.hidden_dropout > 0:
        dropout = f"{base}{names.embeddings}.dropout"
        out.mask(f"{dropout}.mask", dropout, "b·s·h", "sequence")
    if names.pre_norm:
        out.layer_norm(f"{base}{names.pre_norm}", "b·s·h")
    final = f"{base}{names.final_norm}"
    if names.pooled_norm:
        what = "the class token's last hidden states, a view keeping all b·s·h (NativeLayerNormBackward0)"
        out.saved(f"{final}.input", final, what, "b·s·h", "sequence")
        out.layer_norm(final, "b·h", input_kept=True, rows="b")
    else:
        out.layer_norm(final, "b·s·h")
    if projection:
        what = "the normalised pooled output (MmBackward0)"
        out.saved(f"{names.projection}.input", names.projection, what, "b·h", "sequence")
    if pooling:
        _attention_pooling(out, f"{base}{names.pooling}", names.fc1, names.act, names.fc2)
    if head:
        what = (
            "the class token's normalised hidden states, a view keeping all b·s·h (AddmmBackward0)"
            if names.head_input == "b·s·h"
            else "the class token beside the patches' mean, concatenated (AddmmBackward0)"
        )
        out.saved(f"{names.head}.input", names.head, what, names.head_input, "sequence")
        _loss(out, upcast=False, head=names.head, rows="b")


def _attention_pooling(out: _Builder, head: str, fc1: str, act: str, fc2: str) -> None:
    """SigLIP's ``SiglipMultiheadAttentionPoolingHead`` at ``head``: its probe, repeated per image, attends to the
    normalised output through ``nn.MultiheadAttention``, whose explicit path (weights asked for) keeps the probe
    and the s tokens as its projections' inputs, the keys and values made contiguous (one b·s·2h storage), the
    scaled query and the softmax's b·a·s result, and out_proj's input; then a LayerNorm and the MLP, one row per
    image (``fc1``, ``act``, ``fc2`` as in the layers)."""
    attention = f"{head}.attention"
    out.saved(f"{attention}.query.input", attention, "the probe repeated per image (AddmmBackward0)", "b·h", "sequence")
    what = "the normalised hidden states, the keys' and values' projection's input (MmBackward0)"
    out.saved(f"{attention}.key_value.input", attention, what, "b·s·h", "sequence")
    what = "keys and values of every head, one contiguous storage (BmmBackward0)"
    out.saved(f"{attention}.key_value", attention, what, "b·s·2·h", "tensor")
    out.saved(f"{attention}.query", attention, "the scaled query (BmmBackward0)", "b·h", "tensor")
    what = "softmax result, also the values' bmm input (SoftmaxBackward0, BmmBackward0)"
    out.saved(f"{attention}.weights", attention, what, "b·a·s", "tensor")
    what = "out_proj input, the heads merged (AddmmBackward0)"
    out.saved(f"{attention}.out_proj.input", f"{attention}.out_proj", what, "b·h", "tensor")
    out.layer_norm(f"{head}.layernorm", "b·h", rows="b")
    what = f"{fc1.rsplit('.', 1)[-1]} input, the normalised pooled output (AddmmBackward0)"
    _plain_mlp(out, f"{head}.{fc1}", what, f"{head}.{act}", f"{head}.{fc2}", rows="b")


class _Seq2Seq(Record):
    """Where a BART-like encoder-decoder differs from BART, by model type (``SEQ2SEQ``); the embedding and final
    LayerNorms are read from the tree."""

    pre_norm: bool
    """LayerNorm before each sub-layer (mBART, Pegasus, Whisper), not after its residual sum (BART, Marian)."""
    positions: str
    """``learned``: an embedding of the position ids + 2 (BART, mBART); ``fixed``: a sinusoidal table without
    gradient, which keeps nothing (Pegasus, Marian); ``indexed``: the encoder's table without gradient, the
    decoder's indexed by (batch, target) position ids (Whisper)."""
    speech: bool = False
    """Whisper: the encoder reads log-mel features through two convolutions (``_speech_front_end``), and the
    attention scales its query and makes it contiguous as (batch, heads, tokens, head_dim)."""
    embedding_norm: bool = False
    """``layernorm_embedding`` after the embeddings (BART, mBART)."""
    final_norm: bool = False
    """A ``layer_norm`` after the encoder's and the decoder's last layer (mBART, Pegasus, Whisper)."""
    head: str = "lm_head"
    """The output projection (Whisper's ``proj_out``)."""
    upcast_softmax: bool = False
    """Eager attention's softmax in float32, cast back to the dtype (OPT)."""


SEQ2SEQ: Final = {
    "bart": _Seq2Seq(pre_norm=False, positions="learned"),
    "mbart": _Seq2Seq(pre_norm=True, positions="learned"),
    "pegasus": _Seq2Seq(pre_norm=True, positions="fixed"),
    "marian": _Seq2Seq(pre_norm=False, positions="fixed"),
    "whisper": _Seq2Seq(pre_norm=True, positions="indexed", speech=True, head="proj_out"),
}
"""The BART-like encoder-decoders modelled, as transformers writes each (whatever ``normalize_before`` says)."""


def _bart_attention(out: _Builder, module: str, norm: str, layout: _Seq2Seq, *, cross: bool = False) -> None:
    """BART's attention and its LayerNorm, before it (``pre_norm``) or after the residual sum: the projections'
    input (for cross-attention only the query's: the keys and values read the encoder's output, kept once outside
    the layers), the attention, the output projection's input, the residual's dropout mask. Whisper's query is
    laid out like a fused projection's slice."""
    pre_norm = layout.pre_norm
    if pre_norm:
        out.layer_norm(norm, "b·s·h")
    projections = "q_proj" if cross else "q_proj/k_proj/v_proj"
    what = (
        "the normalised hidden states" if pre_norm else "the decoder's hidden states" if cross else "the layer's input"
    )
    out.saved(
        f"{module}.{projections}.input",
        f"{module}.q_proj",
        f"{projections} input, {what} (AddmmBackward0{'' if cross else ', one storage'})",
        "b·s·h",
        "sequence",
    )
    keys = "x" if cross else "s"
    shared = _attention_core(
        out, module, upcast_softmax=layout.upcast_softmax, repeat_kv=False, fused=layout.speech, keys=keys
    )
    _attention_output(out, shared, f"{module}.out_proj", "AddmmBackward0", "b·s·h", "dropout")
    if not pre_norm:
        out.layer_norm(norm, "b·s·h")


def _bart_layer(out: _Builder, layout: _Seq2Seq, *, decoder: bool, cross: bool = True) -> None:
    """BART's layer: self-attention (causal in the decoder), in the decoder cross-attention over the encoder's
    output (not called without one, ``cross`` False: the decoder-only ``ForCausalLM``), then fc1, the activation,
    its dropout, fc2; each with dropout, residual and a LayerNorm, after the residual sum (post-norm) or before the
    sub-layer (``pre_norm``)."""
    _bart_attention(out, "self_attn", "self_attn_layer_norm", layout)
    if decoder and cross:
        _bart_attention(out, "encoder_attn", "encoder_attn_layer_norm", layout, cross=True)
    if layout.pre_norm:
        out.layer_norm("final_layer_norm", "b·s·h")
    _plain_mlp(
        out, "fc1", "fc1 input, the normalised hidden states (AddmmBackward0)", "activation_fn", "fc2", "dropout"
    )
    if not layout.pre_norm:
        out.layer_norm("final_layer_norm", "b·s·h")


def _bart_embeddings(out: _Builder, part: str, layout: _Seq2Seq, *, decoder: bool) -> None:
    """``part``: the path of the encoder or the decoder (``model.encoder``). Learned positions: the encoder's
    position ids expanded over the batch, the decoder's not. Whisper's encoder reads log-mel features instead of
    tokens (``_speech_front_end``)."""
    if layout.speech and not decoder:
        _speech_front_end(out, part)
    else:
        out.add(
            f"{part}.embed_tokens.indices",
            f"{part}.embed_tokens",
            "token ids (EmbeddingBackward0)",
            "b·s",
            "int64",
            "none",
        )
    if layout.positions == "learned":
        out.add(
            f"{part}.embed_positions.indices",
            f"{part}.embed_positions",
            "position ids + 2 (EmbeddingBackward0)",
            "s" if decoder else "b·s",
            "int64",
            "none",
        )
    elif layout.positions == "indexed" and decoder:
        out.add(
            f"{part}.embed_positions.indices",
            f"{part}.embed_positions",
            "position ids repeated over the batch, indexing the table (IndexBackward0)",
            "b·s",
            "int64",
            "none",
        )
    if layout.embedding_norm:
        out.layer_norm(f"{part}.layernorm_embedding", "b·s·h")
    if out.settings.hidden_dropout > 0:
        out.mask(f"{part}.dropout.mask", f"{part}.dropout", "b·s·h", "sequence")


def _speech_front_end(out: _Builder, encoder: str) -> None:
    """Whisper's encoder before its layers: ``gelu(conv1(features))`` over the 2·s frames of m mel bins, then
    ``gelu(conv2(·))`` with stride 2 down to the s source positions; each convolution keeps its input
    (ConvolutionBackward0), each GELU its input. The features are an input, kept in the compute dtype."""
    conv1, conv2 = f"{encoder}.conv1", f"{encoder}.conv2"
    out.saved(
        f"{conv1}.input", conv1, "conv1 input, the log-mel features (ConvolutionBackward0)", "b·m·2·s", "sequence"
    )
    out.saved(f"{conv1}.gelu.input", conv1, "conv1 output, the GELU input (GeluBackward0)", "b·h·2·s", "sequence")
    out.saved(f"{conv2}.input", conv2, "conv2 input, gelu(conv1) (ConvolutionBackward0)", "b·h·2·s", "sequence")
    out.saved(f"{conv2}.gelu.input", conv2, "conv2 output, the GELU input (GeluBackward0)", "b·h·s", "sequence")


def _bart_model(source: _Builder, target: _Builder, model: str, layout: _Seq2Seq, *, head: bool) -> None:
    """Outside BART's layers: each side's embeddings (the decoder's token ids are the labels shifted right, a new
    tensor), the final LayerNorms, the encoder's output (the cross-attention keys' and values' input in every
    decoder layer, one storage), then the decoder's output head and loss (``_bart_decoder_model``). ``model``: the
    path holding both (``model.``)."""
    _bart_embeddings(source, f"{model}encoder", layout, decoder=False)
    if layout.final_norm:
        source.layer_norm(f"{model}encoder.layer_norm", "b·s·h")
    source.saved(
        f"{model}encoder.output",
        f"{model}encoder",
        "the encoder's output: k_proj/v_proj input of every cross-attention (AddmmBackward0, one storage)",
        "b·s·h",
        "sequence",
    )
    _bart_decoder_model(target, model, layout, head=head)


def _bart_decoder_model(out: _Builder, model: str, layout: _Seq2Seq, *, head: bool) -> None:
    """Outside the layers of BART's decoder at ``model`` (``model.``): its embeddings, final LayerNorm, the output
    head and the loss on the logits (plus ``final_logits_bias`` in ``ForConditionalGeneration``), not upcast; the
    whole model of the decoder-only ``ForCausalLM``, whose labels are the targets as given."""
    _bart_embeddings(out, f"{model}decoder", layout, decoder=True)
    _checkpointed_mask(out, f"{model}decoder")
    if layout.final_norm:
        out.layer_norm(f"{model}decoder.layer_norm", "b·s·h")
    if head:
        name = layout.head
        out.saved(f"{name}.input", name, f"{name} input, the decoder's output (MmBackward0)", "b·s·h", "sequence")
        _loss(out, upcast=False, head=name)


def _loss(
    out: _Builder,
    *,
    upcast: bool,
    head: str = "lm_head",
    rows: str = "b·s",
    classes: str = "v",
    name: str = "loss",
    targets: str = "labels",
    shifted: bool = True,
) -> None:
    """Cross-entropy on the ``rows``·``classes`` logits of ``head``: log_softmax keeps its result, nll_loss the
    ``rows`` targets and the total weight. transformers' causal-LM loss upcasts the logits to float32 first
    (``logits.float()``) and shifts the labels into a new tensor; the other heads' losses take the logits as they
    are (ModernBERT's masked-LM loss upcasts them too, on the labels as given: not ``shifted``). ``name``: the
    loss's key (a question-answering head has one for the start and one for the end)."""
    dtype = "float32" if upcast else "compute"
    split: Split = "vocab" if classes == "v" else "none"
    logits = f"{rows}·{classes}"
    out.add(
        f"{head}.output",
        head,
        "logits returned in the output (not saved for backward)",
        logits,
        "compute",
        split,
        saved=False,
    )
    out.add(
        f"{name}.log_softmax",
        name,
        f"log_softmax of the logits{' in float32' if upcast else ''} (LogSoftmaxBackward0)",
        logits,
        dtype,
        split,
    )
    if upcast and shifted and out.regime.one_batch:
        # labels padded to s + 1 then sliced [..., 1:]: with one sequence the slice is contiguous already, so
        # .contiguous() copies nothing and the target keeps the padded storage
        out.add(
            f"{name}.target",
            name,
            "shifted labels, a view of the padded ones (NllLossBackward0)",
            "s+1",
            "int64",
            "none",
            count=lambda sizes: sizes.s + 1,
        )
    else:
        what = f"shifted {targets} (NllLossBackward0)" if upcast and shifted else f"{targets} (NllLossBackward0)"
        out.add(f"{name}.target", name, what, rows, "int64", "none")
    out.add(f"{name}.total_weight", name, "total weight, a 0-d tensor (NllLossBackward0)", "1", dtype, "none")


def _checkpointed_mask(out: _Builder, module: str) -> None:
    """With eager attention and checkpointing, the additive causal mask the layers get is an argument of each
    checkpointed layer, kept once (GPT-2, BART's decoder, BERT as a causal LM)."""
    if out.checkpointing and out.settings.attention == "eager":
        what = "the additive causal mask eager attention gets, passed to each checkpointed layer (one storage)"
        out.add("attention_mask", module, what, "b·s·s", "compute", "none")


def _causal_lm_head(out: _Builder) -> None:
    """A causal LM's ``lm_head`` on the final norm's output, the logits' softcapping (Gemma 2), then the loss on
    the upcast logits."""
    out.saved(
        "lm_head.input", "lm_head", "lm_head input, the normalised hidden states (MmBackward0)", "b·s·h", "sequence"
    )
    if out.settings.logit_softcap:
        out.saved(
            "lm_head.softcap",
            "lm_head",
            "tanh(logits / final_logit_softcapping) (TanhBackward0)",
            "b·s·v",
            "vocab",
        )
    _loss(out, upcast=True)


def _llama_model(
    out: _Builder, layout: _Decoder, *, head: bool, one_plus: bool, rotary: tuple[str, ...] = ("",)
) -> None:
    """``rotary``: the layer types with a cos/sin pair of their own (Gemma 3's sliding and full layers), or one
    pair shared by every layer."""
    out.add("embed_tokens.indices", "model.embed_tokens", "token ids (EmbeddingBackward0)", "b·s", "int64", "none")
    if out.settings.embedding_dropout > 0:
        out.mask("model.embedding_dropout.mask", "model.embedding_dropout", "b·s·h", "sequence")
    if not out.checkpointing and not layout.interleaved_rotary:
        for kind in rotary:
            _rotary_tables(out, layout, "model.rotary_emb", f"shared by every {kind + ' ' if kind else ''}layer", kind)
    _decoder_norm(out, layout, "model.norm", one_plus=one_plus)
    if head:
        _causal_lm_head(out)


def _rotary_tables(out: _Builder, layout: _Decoder, module: str, where: str, kind: str = "") -> None:
    """The rotary cos and sin the products keep: s × the rotary dimensions, or × half of them (``half_rotary``);
    ``kind``: what they are computed for (Gemma 3's layer type, GPT-J's key or query), or none."""
    if layout.polar_rotary:
        what = f"rotary rotations e^(i·θ) for the positions in complex64 (MulBackward0), {where}"
        polar = "s·p/2"
        out.add(
            "rotary.freqs_cis", module, what, polar, "complex64", "none", count=lambda sizes: sizes.s * sizes.p // 2
        )
        return
    half = layout.half_rotary
    shape = "s·d/2" if half else "s·p" if out.sizes.p else "s·d"
    for table in ("cos", "sin"):
        out.add(
            f"rotary.{kind + '.' if kind else ''}{table}",
            module,
            f"rotary {table} for the positions (MulBackward0), {where}",
            shape,
            "float32" if layout.float32_rotary else "compute",
            "none",
            count=(lambda sizes: sizes.s * sizes.d // 2) if half else None,
        )


def _gpt2_model(out: _Builder, layout: _Gpt2, *, head: bool) -> None:
    embedding = layout.embedding
    out.add(
        f"{embedding}.indices", f"transformer.{embedding}", "token ids (EmbeddingBackward0)", "b·s", "int64", "none"
    )
    if layout.positions:
        out.add("wpe.indices", "transformer.wpe", "position ids, 1·s (EmbeddingBackward0)", "s", "int64", "none")
    if layout.embedding_norm:
        out.layer_norm(f"transformer.{layout.embedding_norm}", "b·s·h")
    if out.settings.embedding_dropout > 0:
        out.mask("transformer.drop.mask", "transformer.drop", "b·s·h", "sequence")
    if layout.mask_argument:
        _checkpointed_mask(out, "transformer")
    if layout.bool_mask and not out.checkpointing:
        what = "the causal mask, bool, kept by masked_fill (MaskedFillBackward0), one storage for every layer"
        out.add("attention_mask", "transformer", what, "b·s·s", "bool", "none")
    if layout.final_norm:
        out.layer_norm(f"transformer.{layout.final_norm}", "b·s·h")
    if head:
        _causal_lm_head(out)


# BERT and the encoders written like it: RoBERTa, XLM-R, ELECTRA.


class _PostNorm(Record):
    """The modules of a post-norm encoder layer, as BERT's are named: the q/k/v projections, the attention, the
    output projection and its residual's dropout, a LayerNorm after the residual sum, the MLP (two Linears, the
    activation between, the residual's dropout) and the LayerNorm after its residual sum. A dropout None where the
    layer has none."""

    projections: str = "attention.self.query/key/value"
    attention: str = "attention.self"
    output: str = "attention.output.dense"
    output_dropout: str | None = "attention.output.dropout"
    attention_norm: str = "attention.output.LayerNorm"
    fc1: str = "intermediate.dense"
    act: str = "intermediate.intermediate_act_fn"
    fc2: str = "output.dense"
    mlp_dropout: str | None = "output.dropout"
    norm: str = "output.LayerNorm"

    @property
    def children(self) -> frozenset[str]:
        """The layer's children that hold parameters."""
        paths = (self.projections, self.output, self.attention_norm, self.fc1, self.fc2, self.norm)
        return frozenset(path.split(".")[0] for path in paths)


class _Encoder(Record):
    """Where an encoder written like BERT differs from BERT, by model type (``ENCODERS``): its layer's names, its
    embeddings and its pre-training head. The embeddings' width (``embedding_size``) is read from the tree."""

    stack: str = "encoder.layer"
    """The layers' path under the base model (``bert.``)."""
    layer: _PostNorm = _PostNorm()
    positions: str = "buffer"
    """``buffer``: the position ids are a slice of the ``position_ids`` buffer (nothing kept) and the token types
    are gathered at them, 1·s (BERT, ELECTRA); ``padding``: the position ids count from the padding id + 1 per
    token (RoBERTa, XLM-R, MPNet), b·s, and the token types are gathered at those, b·s."""
    token_types: bool = True
    """A token-type table (not DistilBERT's, MPNet's embeddings)."""
    relative_bias: str = ""
    """The relative position bias's table under the base model, looked up once for every layer (MPNet)."""
    checkpointable: bool = True
    """transformers can checkpoint the layers (not ALBERT's, MPNet's: ``activation_checkpointing_enable``
    raises)."""
    project: str = "embeddings_project"
    """The Linear from the embeddings' width w up to h under the base model, present when w ≠ h."""
    head: tuple[str, str, str, str] = (
        "cls.predictions.transform.dense",
        "cls.predictions.transform.transform_act_fn",
        "cls.predictions.transform.LayerNorm",
        "cls.predictions.decoder",
    )
    """The pre-training head: a dense layer, the activation, a LayerNorm ("" for none) and the output projection."""
    head_width: str = "h"
    """The head's width after its dense layer: h, or the embeddings' w (ALBERT, whose decoder is tied to them)."""
    shared: bool = False
    """The stack holds groups of layers whose weights every run shares (ALBERT: ``albert_layer_groups``, each of
    ``inner_group_num`` layers, run ``num_hidden_layers`` times in all); each run keeps its own tensors."""
    binary: bool = False
    """The head predicts one logit per token, trained with ``BCEWithLogitsLoss`` (ELECTRA's discriminator); else
    the masked-LM cross-entropy over the vocabulary."""


ROBERTA_HEAD: Final = ("lm_head.dense", "lm_head.gelu", "lm_head.layer_norm", "lm_head.decoder")
ENCODERS: Final = {
    "bert": _Encoder(),
    "roberta": _Encoder(positions="padding", head=ROBERTA_HEAD),
    "xlm-roberta": _Encoder(positions="padding", head=ROBERTA_HEAD),
    "electra": _Encoder(
        head=(
            "discriminator_predictions.dense",
            "discriminator_predictions.activation",
            "",
            "discriminator_predictions.dense_prediction",
        ),
        binary=True,
    ),
    "distilbert": _Encoder(
        stack="transformer.layer",
        layer=_PostNorm(
            projections="attention.q_lin/k_lin/v_lin",
            attention="attention",
            output="attention.out_lin",
            output_dropout=None,
            attention_norm="sa_layer_norm",
            fc1="ffn.lin1",
            act="ffn.activation",
            fc2="ffn.lin2",
            mlp_dropout="ffn.dropout",
            norm="output_layer_norm",
        ),
        token_types=False,
        head=("vocab_transform", "activation", "vocab_layer_norm", "vocab_projector"),
    ),
    "albert": _Encoder(
        stack="encoder.albert_layer_groups",
        layer=_PostNorm(
            projections="attention.query/key/value",
            attention="attention",
            output="attention.dense",
            output_dropout="attention.output_dropout",
            attention_norm="attention.LayerNorm",
            fc1="ffn",
            act="activation",
            fc2="ffn_output",
            mlp_dropout=None,
            norm="full_layer_layer_norm",
        ),
        project="encoder.embedding_hidden_mapping_in",
        head=("predictions.dense", "predictions.activation", "predictions.LayerNorm", "predictions.decoder"),
        head_width="w",
        shared=True,
        checkpointable=False,
    ),
    "mpnet": _Encoder(
        layer=_PostNorm(
            projections="attention.attn.q/k/v",
            attention="attention.attn",
            output="attention.attn.o",
            output_dropout="attention.dropout",
            attention_norm="attention.LayerNorm",
        ),
        positions="padding",
        token_types=False,
        relative_bias="encoder.relative_attention_bias",
        head=ROBERTA_HEAD,
        checkpointable=False,
    ),
}
"""The encoders written like BERT that are modelled."""


class _Convolution(Record):
    """One layer of a speech encoder's feature encoder (wav2vec 2.0's ``conv_layers``): a Conv1d without padding,
    its norm (``group``: GroupNorm on the first layer, ``layer``: LayerNorm on each, "": none) and GELU."""

    kernel: int
    stride: int
    channels: int
    norm: str

    def frames(self, before: int) -> int:
        return (before - self.kernel) // self.stride + 1


def _frames(samples: int, convolutions: tuple[_Convolution, ...]) -> int:
    """The frames the convolutions make of ``samples`` (0 or less: too few samples for their kernels)."""
    frames = samples
    for convolution in convolutions:
        frames = convolution.frames(frames) if frames > 0 else frames
    return frames


SPEECH_TYPES: Final = frozenset({"wav2vec2", "hubert"})
SPEECH_LAYER: Final = frozenset({"attention", "layer_norm", "feed_forward", "final_layer_norm"})
"""The children of a wav2vec 2.0 (HuBERT) encoder layer, post-norm or pre-norm (``StableLayerNorm``)."""
SPEECH_POST_NORM: Final = _PostNorm(
    projections="attention.q_proj/k_proj/v_proj",
    attention="attention",
    output="attention.out_proj",
    output_dropout="dropout",
    attention_norm="layer_norm",
    fc1="feed_forward.intermediate_dense",
    act="feed_forward.intermediate_act_fn",
    fc2="feed_forward.output_dense",
    mlp_dropout="feed_forward.output_dropout",
    norm="final_layer_norm",
)
"""wav2vec 2.0's post-norm layer (``do_stable_layer_norm`` false), BERT's dataflow."""
SPEECH_PRE_NORM: Final = _Vision(
    stack="encoder.layers",
    norm1="layer_norm",
    projections=SPEECH_POST_NORM.projections,
    output=SPEECH_POST_NORM.output,
    norm2="final_layer_norm",
    fc1=SPEECH_POST_NORM.fc1,
    act=SPEECH_POST_NORM.act,
    fc2=SPEECH_POST_NORM.fc2,
    mlp_dropout="feed_forward.output_dropout",
    upcast_softmax=False,
)
"""wav2vec 2.0's pre-norm layer (``StableLayerNorm``), a vision transformer's dataflow."""


class _Speech(Record):
    """What lies outside a speech encoder's layers, read from the tree and its config (``_speech``)."""

    base: str
    """The base model's path with its dot (``wav2vec2.``), "" for the base model itself."""
    convolutions: tuple[_Convolution, ...]
    projection_norm: bool
    """A LayerNorm before the feature projection (HuBERT's ``feat_proj_layer_norm``; always in wav2vec 2.0)."""
    position_taps: int
    """The positional convolution's kernel (``num_conv_pos_embeddings``)."""
    position_weight: int
    """The positional convolution's weight, h · h/groups · taps values, recomputed by its weight norm each pass."""
    pre_norm: bool
    spec_augment: bool
    """SpecAugment masks frames (``apply_spec_augment``, ``mask_time_prob`` > 0)."""
    feature_mask: bool
    """SpecAugment masks channels too (``mask_feature_prob`` > 0)."""
    head: bool
    """The CTC head (``ForCTC``); the base model has none."""
    mean: bool
    """The CTC loss averaged over the labels (``ctc_loss_reduction`` mean), not summed."""
    layerdrop: float
    """LayerDrop's probability of skipping each layer in training, at random: every layer is counted."""


@per_frozen
def _convolutions(tree: Module, stack: str) -> tuple[_Convolution, ...]:
    """The feature encoder of the wav2vec 2.0 (HuBERT) model whose encoder layers are at ``stack``: its
    convolutions in order; () where there is none or one has padding or dilation (not modelled)."""
    layers = _at(tree, f"{stack.removesuffix('encoder.layers')}feature_extractor.conv_layers")
    found = []
    for layer in layers.children if layers is not None else ():
        conv, norm = _child(layer, "conv"), _child(layer, "layer_norm")
        args = dict(conv.args) if conv is not None else {}
        kernel, stride, channels = args.get("kernel_size"), args.get("stride"), args.get("out_channels")
        plain = args.get("padding") == 0 and args.get("dilation") == 1
        taps = kernel[0] if isinstance(kernel, tuple) and len(kernel) == 1 else None
        if not (plain and isinstance(taps, int) and isinstance(stride, int) and isinstance(channels, int)):
            return ()
        kind = {"GroupNorm": "group", "LayerNorm": "layer"}.get(norm.kind, "?") if norm is not None else ""
        found.extend([_Convolution(taps, stride, channels, kind)] * layer.repeat)
    return () if any(convolution.norm == "?" for convolution in found) else tuple(found)


def _speech(tree: Module, stack: str) -> _Speech | None:
    """The wav2vec 2.0 or HuBERT model whose encoder layers are at ``stack``; None where it holds what is not
    modelled: a head other than CTC's, HuBERT's ``conv_pos_batch_norm``, wav2vec 2.0's ``add_adapter``, a
    convolution with padding or dilation."""
    base = stack.removesuffix("encoder.layers")
    attributes = dict(tree.attributes)
    encoder = _at(tree, f"{base}encoder")
    position = _child(encoder, "pos_conv_embed")
    weight = _at(position, "conv.parametrizations.weight") if position is not None else None
    norms, directions = _param(weight, "original0"), _param(weight, "original1")
    head = tree.kind.endswith("ForCTC")
    convolutions = _convolutions(tree, stack)
    layerdrop = attributes.get("layerdrop")
    if encoder is None or norms is None or directions is None or _child(position, "batch_norm") is not None:
        return None
    if not convolutions or not (head or tree.kind.endswith("Model")) or _at(tree, f"{base}adapter") is not None:
        return None

    def rate(key: str) -> bool:
        value = attributes.get(key)
        return attributes.get("apply_spec_augment") is not False and isinstance(value, float) and value > 0

    return _Speech(
        base=base,
        convolutions=convolutions,
        projection_norm=_at(tree, f"{base}feature_projection.layer_norm") is not None,
        position_taps=norms.sizes[-1],
        position_weight=directions.count,
        pre_norm=encoder.kind.endswith("StableLayerNorm"),
        spec_augment=rate("mask_time_prob"),
        feature_mask=rate("mask_feature_prob"),
        head=head,
        mean=attributes.get("ctc_loss_reduction") == "mean",
        layerdrop=layerdrop if isinstance(layerdrop, float) else 0.0,
    )


def _per_frame(convolutions: tuple[_Convolution, ...], per: int) -> Callable[[_Sizes], int]:
    """The elements of a tensor of ``per`` values for each frame the ``convolutions`` make, over the batch."""
    return lambda sizes: sizes.b * per * _frames(sizes.y, convolutions)


def _feature_encoder(out: _Builder, speech: _Speech) -> None:
    """wav2vec 2.0's convolutions over the raw waveform, each ``gelu(norm(conv(x)))``: each convolution keeps its
    input (the first the waveform, b·y samples, made to require a gradient), a GroupNorm (on the first) its input
    and its mean and rstd per channel, a LayerNorm (on each, over the channels) its input and statistics per
    frame, GELU its input (with checkpointing, which transformers applies to these layers too, only their inputs);
    then the feature projection's LayerNorm, its Linear and dropout."""
    extractor, convolutions = f"{speech.base}feature_extractor.conv_layers", speech.convolutions
    first = f"{extractor}.0.conv"
    out.saved(f"{first}.input", first, "the waveform (ConvolutionBackward0)", "b·y", "sequence")
    for index, convolution in enumerate(convolutions):
        module, channels, frames = f"{extractor}.{index}", convolution.channels, f"f{index + 1}"
        shape, made = f"b·{channels}·{frames}", convolutions[: index + 1]
        if convolution.norm and not out.checkpointing:
            kind, norm = ("LayerNorm" if convolution.norm == "layer" else "GroupNorm"), f"{module}.layer_norm"
            what = f"{kind} input, the convolution's output (Native{kind}Backward0)"
            out.add(f"{norm}.input", norm, what, shape, "compute", "sequence", count=_per_frame(made, channels))
            per_frame = kind == "LayerNorm"  # GroupNorm: one group per channel
            rows = f"b·{frames}" if per_frame else f"b·{channels}"
            stats = "float32" if per_frame and out.settings.kernels == "cuda" else "compute"
            for stat in ("mean", "rstd"):
                count = _per_frame(made, 1) if per_frame else None
                out.add(f"{norm}.{stat}", norm, f"{kind} {stat}", rows, stats, "sequence", count=count)
        what = f"GELU input, the {'norm' if convolution.norm else 'convolution'}'s output (GeluBackward0)"
        count = _per_frame(made, channels)
        if not out.checkpointing:
            out.add(
                f"{module}.activation.input", f"{module}.activation", what, shape, "compute", "sequence", count=count
            )
        if index + 1 < len(convolutions):
            following = f"{extractor}.{index + 1}.conv"
            what = "the GELU's output (ConvolutionBackward0)"
            out.add(f"{following}.input", following, what, shape, "compute", "sequence", count=count)
    projection, features = f"{speech.base}feature_projection", f"b·s·{convolutions[-1].channels}"
    if speech.projection_norm:
        out.layer_norm(f"{projection}.layer_norm", features)
    what = "the normalised features" if speech.projection_norm else "the last convolution's GELU output"
    out.saved(
        f"{projection}.projection.input",
        f"{projection}.projection",
        f"projection input, {what} (AddmmBackward0)",
        features,
        "sequence",
    )
    if out.settings.embedding_dropout > 0:
        out.mask(f"{projection}.dropout.mask", f"{projection}.dropout", "b·s·h", "sequence")


def _speech_model(out: _Builder, speech: _Speech) -> None:
    """Outside a wav2vec 2.0 (HuBERT) encoder's layers: the feature encoder (``_feature_encoder``); SpecAugment's
    masks, bool indices of an in-place ``index_put_`` (IndexPutBackward0); the positional convolution, whose
    weight norm keeps its norms in float32 and whose grouped convolution keeps the normalised weight and its
    input, GELU its output (one frame more where the kernel is even, sliced off by SamePad); the encoder's
    LayerNorm before the layers (post-norm) or after them (pre-norm) and its dropout; the CTC head: dropout, the
    Linear, log_softmax in float32, and ctc_loss's targets, its loss per sequence and its b·s·(2·t + 1) float32
    alphas."""
    _feature_encoder(out, speech)
    base, encoder = speech.base, f"{speech.base}encoder"
    if speech.spec_augment:
        out.add(
            "masked_spec_embed.indices",
            f"{base}masked_spec_embed",
            "SpecAugment's frames (IndexPutBackward0)",
            "b·s",
            "bool",
            "none",
        )
    if speech.feature_mask:
        out.add(
            "masked_features.indices",
            f"{base}masked_spec_embed",
            "SpecAugment's channels, expanded over the frames (IndexPutBackward0)",
            "b·h",
            "bool",
            "none",
        )
    position = f"{encoder}.pos_conv_embed"
    taps = speech.position_taps
    out.add(
        f"{position}.conv.norms",
        f"{position}.conv",
        "the weight norm's norms (WeightNormInterfaceBackward0)",
        str(taps),
        "float32",
        "none",
    )
    out.add(
        f"{position}.conv.weight",
        f"{position}.conv",
        "the normalised weight (ConvolutionBackward0)",
        str(speech.position_weight),
        "compute",
        "tensor",
    )
    out.saved(
        f"{position}.conv.input",
        f"{position}.conv",
        "the projected features, transposed (ConvolutionBackward0)",
        "b·h·s",
        "sequence",
    )
    odd = taps % 2
    out.add(
        f"{position}.activation.input",
        f"{position}.activation",
        "GELU input, the convolution's output" + ("" if odd else " of s + 1 frames, a view of s") + " (GeluBackward0)",
        "b·h·s" if odd else "b·h·(s+1)",
        "compute",
        "sequence",
        count=None if odd else lambda sizes: sizes.b * sizes.h * (sizes.s + 1),
    )
    if not speech.pre_norm:
        out.layer_norm(f"{encoder}.layer_norm", "b·s·h")
    if out.settings.hidden_dropout > 0:
        out.mask(f"{encoder}.dropout.mask", f"{encoder}.dropout", "b·s·h", "sequence")
    if speech.pre_norm:
        out.layer_norm(f"{encoder}.layer_norm", "b·s·h")
    if not speech.head:
        return
    if out.settings.classifier_dropout > 0:
        out.mask("dropout.mask", "dropout", "b·s·h", "sequence")
    out.saved("lm_head.input", "lm_head", "lm_head input, the encoder's output (AddmmBackward0)", "b·s·h", "sequence")
    out.add(
        "lm_head.output",
        "lm_head",
        "logits returned in the output (not saved for backward)",
        "b·s·v",
        "compute",
        "vocab",
        saved=False,
    )
    out.add(
        "loss.log_softmax",
        "loss",
        "log_softmax in float32, ctc_loss's log_probs (LogSoftmaxBackward0)",
        "b·s·v",
        "float32",
        "vocab",
    )
    out.add("loss.target", "loss", "the labels, flattened (CtcLossBackward0)", "b·t", "int64", "none")
    out.add("loss.per_sequence", "loss", "the loss of each sequence (CtcLossBackward0)", "b", "float32", "none")
    out.add(
        "loss.log_alpha",
        "loss",
        "the forward variables, b·s·(2·t + 1) (CtcLossBackward0)",
        "b·s·(2·t+1)",
        "float32",
        "none",
        count=lambda sizes: sizes.b * sizes.s * (2 * sizes.t + 1),
    )
    if speech.mean:
        out.add(
            "loss.target_lengths", "loss", "the label counts, the mean's divisor (DivBackward0)", "b", "float32", "none"
        )


def _not_checkpointable(model_type: str, checkpointing: bool) -> tuple[Assumption, ...]:
    """The note of a checkpointed plan of a BERT-like encoder or a GPT-2-like decoder whose layers transformers
    cannot checkpoint."""
    layout = ENCODERS.get(model_type) or GPT2_LIKE.get(model_type)
    if layout is None or not checkpointing or layout.checkpointable:
        return ()
    return (Assumption.of("activations-not-checkpointable", model_type=model_type),)


def _shared_layer(tree: Module, stack: str, group: Module | None) -> tuple[Module | None, int]:
    """ALBERT's layer (``albert_layers`` of the first group of ``stack``) and how many times a forward pass runs
    one: the encoder's ``num_hidden_layers`` group runs, each of the group's layers."""
    encoder = _at(tree, stack.rpartition(".")[0])
    runs = dict(encoder.attributes).get("num_hidden_layers") if encoder is not None else None
    layers = _child(group, "albert_layers")
    if layers is None or not layers.children or not isinstance(runs, int):
        return None, 0
    return layers.children[0], runs * sum(layer.repeat for layer in layers.children)


def _bert_layer(out: _Builder, names: _PostNorm) -> None:
    """A post-norm encoder layer (``names``): attention, dropout, residual, LayerNorm; MLP, dropout, residual,
    LayerNorm."""
    first = names.projections.split("/")[0]
    out.saved(
        f"{names.projections}.input",
        first,
        f"{names.projections.rsplit('.', 1)[-1]} input, the layer's input (AddmmBackward0, one storage)",
        "b·s·h",
        "sequence",
    )
    shared = _attention_core(out, names.attention, upcast_softmax=False, repeat_kv=False, fused=False)
    _attention_output(out, shared, names.output, "AddmmBackward0", "b·s·h", names.output_dropout)
    out.layer_norm(names.attention_norm, "b·s·h")
    what = f"{names.fc1.rsplit('.', 1)[-1]} input, the normalised attention output (AddmmBackward0)"
    _plain_mlp(out, names.fc1, what, names.act, names.fc2, names.mlp_dropout)
    out.layer_norm(names.norm, "b·s·h")


def _bert_model(out: _Builder, encoder: _Encoder, base: str, *, head: bool, causal: bool = False) -> None:
    """Outside the layers of BERT (at ``base``, ``bert.``): the embeddings' index tensors, LayerNorm and dropout
    at the embedding width w (ELECTRA projects them up to h when w differs), then the pre-training head and its
    loss, not upcast; ``causal``: the decoder classes (``BertLMHeadModel``, ``RobertaForCausalLM``), whose
    layers get a causal mask and whose loss is the causal LM's, upcast to float32 on shifted labels."""
    embeddings = f"{base}embeddings"
    ids = "b·s" if encoder.positions == "padding" else "s"
    out.add(
        "word_embeddings.indices",
        f"{embeddings}.word_embeddings",
        "token ids (EmbeddingBackward0)",
        "b·s",
        "int64",
        "none",
    )
    if encoder.token_types:
        out.add(
            "token_type_embeddings.indices",
            f"{embeddings}.token_type_embeddings",
            f"token type ids gathered from the buffer, {'b·s' if ids == 'b·s' else '1·s'} (EmbeddingBackward0)",
            ids,
            "int64",
            "none",
        )
    if encoder.positions == "padding":
        out.add(
            "position_embeddings.indices",
            f"{embeddings}.position_embeddings",
            "position ids counted from the padding id + 1 (EmbeddingBackward0)",
            "b·s",
            "int64",
            "none",
        )
    if encoder.relative_bias:
        bias = f"{base}{encoder.relative_bias}"
        what = "relative position buckets, one lookup for every layer (EmbeddingBackward0)"
        out.add(f"{encoder.relative_bias}.indices", bias, what, "s·s", "int64", "none")
    width = "w" if out.sizes.w != out.sizes.h else "h"
    out.layer_norm(f"{embeddings}.LayerNorm", f"b·s·{width}")
    if out.settings.hidden_dropout > 0:
        out.mask(f"{embeddings}.dropout.mask", f"{embeddings}.dropout", f"b·s·{width}", "sequence")
    if causal:
        _checkpointed_mask(out, f"{base}encoder")
    if width == "w":
        project = f"{base}{encoder.project}"
        out.saved(f"{project}.input", project, "embeddings_project input (AddmmBackward0)", "b·s·w", "sequence")
    if not head:
        return
    _prediction_head(out, encoder.head, f"b·s·{encoder.head_width}", "the last layer's output")
    decoder = encoder.head[3]
    if encoder.binary:
        out.saved(
            "loss.logits",
            decoder,
            "the logits, one per token (BinaryCrossEntropyWithLogitsBackward0)",
            "b·s",
            "sequence",
        )
        out.add(
            "loss.target", "loss", "labels.float() (BinaryCrossEntropyWithLogitsBackward0)", "b·s", "float32", "none"
        )
    else:
        _loss(out, upcast=causal, head=decoder)


def _prediction_head(out: _Builder, head: tuple[str, str, str, str], wide: str, reads: str) -> None:
    """A pre-training head (``_Encoder.head``) on ``reads``: its dense layer, the activation, its LayerNorm ("" for
    none) and the output projection, up to the logits."""
    dense, act, norm, decoder = head
    out.saved(f"{dense}.input", dense, f"dense input, {reads} (AddmmBackward0)", "b·s·h", "sequence")
    shared = _plain_activation(out, act, wide, next_input="LayerNorm" if norm else "Linear")
    if norm:
        out.layer_norm(norm, wide, input_kept=shared)
    if norm or not shared:
        out.saved(f"{decoder}.input", decoder, "decoder input (AddmmBackward0)", wide, "sequence")


# ModernBERT: a pre-norm encoder without biases, the first layer without its attention norm, rotary positions with
# a base per layer type, global and sliding-window layers, a GeGLU MLP, BERT's prediction head.

MODERNBERT_LAYER: Final = frozenset({"attn", "mlp_norm", "mlp"})
"""The children of ModernBERT's first layer that hold weights (the later ones add ``attn_norm``)."""
MODERNBERT_HEAD: Final = ("head.dense", "head.act", "head.norm", "decoder")


def _modernbert_layer(out: _Builder, later: tuple[str, ...]) -> None:
    """ModernBERT's layer: ``attn_norm`` (an Identity in the first layer, so kept by the ``later`` kinds of
    layers only), the fused ``Wqkv`` (its input the normalised hidden states, the first layer's the embeddings'
    output), rotary on the query and key upcast to float32 (the products keep the model's tables), the attention
    (its value a view of Wqkv's output), ``Wo`` and the residual's dropout (``attention_dropout``), ``mlp_norm``
    and the GeGLU MLP: ``Wi``'s output chunked into the activation's input and the gate, one storage both keep,
    the activation's output the product keeps, the dropout (``mlp_dropout``) and ``Wo``."""
    for kind in later:
        out.only = kind
        out.layer_norm("attn_norm", "b·s·h")
    out.only = ""
    what = "Wqkv input, the normalised hidden states (the first layer's: the embeddings' output) (MmBackward0)"
    out.saved("attn.Wqkv.input", "attn.Wqkv", what, "b·s·h", "sequence")
    shared = _attention_core(out, "attn", upcast_softmax=True, repeat_kv=False, fused=False)
    kernel = _kernel(out.settings)
    if kernel == "flash" or (kernel == "eager" and _folds_as_view(out)):
        what = "value, a view of Wqkv's output, which it keeps whole (queries, keys and values of every head)"
        _whole_base(out, "attn.value", "attn.Wqkv", what, "3·h", 3 * out.sizes.h)
    _attention_output(out, shared, "attn.Wo", "MmBackward0", "b·s·h", "attn.out_drop")
    out.layer_norm("mlp_norm", "b·s·h")
    out.saved("mlp.Wi.input", "mlp.Wi", "Wi input, the normalised hidden states (MmBackward0)", "b·s·h", "sequence")
    act = out.settings.act
    what = f"Wi output: the {act} input and the gate, chunks of one storage kept by {act} and the product"
    out.saved("mlp.Wi.output", "mlp.Wi", what, "b·s·2·i", "tensor")
    out.saved("mlp.act.output", "mlp.act", f"{act}(input), kept by the product (MulBackward0)", "b·s·i", "tensor")
    if out.settings.activation_dropout > 0:
        out.mask("mlp.drop.mask", "mlp.drop", "b·s·i", "tensor")
    out.saved("mlp.Wo.input", "mlp.Wo", "Wo input, act(input)·gate (MmBackward0)", "b·s·i", "tensor")


def _modernbert_model(out: _Builder, types: tuple[str, ...], *, head: bool) -> None:
    """Outside ModernBERT's layers: the token ids, the embeddings' LayerNorm and dropout, a cos/sin pair per layer
    type (each rope base), the final norm, then the prediction head and the masked-LM loss on the logits upcast to
    float32, on the labels as given."""
    out.add(
        "tok_embeddings.indices",
        "model.embeddings.tok_embeddings",
        "token ids (EmbeddingBackward0)",
        "b·s",
        "int64",
        "none",
    )
    out.layer_norm("model.embeddings.norm", "b·s·h")
    if out.settings.embedding_dropout > 0:
        out.mask("model.embeddings.drop.mask", "model.embeddings.drop", "b·s·h", "sequence")
    if not out.checkpointing:
        for kind in types:
            _rotary_tables(out, LLAMA, "model.rotary_emb", f"shared by every {kind} layer", kind)
    out.layer_norm("model.final_norm", "b·s·h")
    if head:
        _prediction_head(out, MODERNBERT_HEAD, "b·s·h", "the final norm's output")
        _loss(out, upcast=True, head="decoder", shifted=False)


# --- task heads: BERT's pooler, sequence-classification, token-classification and question-answering heads, and
# the classification head of BART-like encoder-decoders, each with its cross-entropy loss -------------------------


def _classes(tree: Module, linear: str) -> int | None:
    """The outputs of the classifier at ``linear`` when it takes single-label classes (``problem_type`` unset or
    ``single_label_classification``, more than one label); None otherwise (regression, multi-label: not modelled)."""
    parent, _, name = linear.rpartition(".")
    outputs = _width(_at(tree, parent), name)
    problem = dict(tree.attributes).get("problem_type")
    if outputs is None or outputs < 2 or problem not in (None, "single_label_classification"):
        return None
    return outputs


def _classifier_input(out: _Builder, linear: str, shape: str, dropout: float, *, kept: bool) -> None:
    """The input of the classifier Linear ``linear`` after a dropout: the mask and the dropped tensor, or without
    dropout (an identity) the tensor before it, unless that is ``kept`` already (a tanh's result)."""
    if dropout > 0:
        out.mask(f"{linear}.dropout.mask", linear, shape, "sequence")
    if dropout > 0 or not kept:
        what = "the dropped hidden states" if dropout > 0 else "the hidden states"
        out.saved(
            f"{linear}.input", linear, f"{linear.rsplit('.', 1)[-1]} input, {what} (AddmmBackward0)", shape, "sequence"
        )


def _bert_heads(out: _Builder, tree: Module, base: str, dropout: float) -> tuple[str, int] | None:
    """BERT's heads other than the masked LM's (``_bert_model``), found by their modules: the pooler at ``base``
    (``bert.``; the first token's hidden states, a view that keeps the last layer's whole output, then tanh) with
    the sequence classifier, the token classifier, or the question-answering start and end logits; each with its
    loss. ``dropout``: the classifier's (``classifier_dropout``, else ``hidden_dropout_prob``). The head as the
    plan describes it (``_Walk.head`` and its classes); ("", 0) for none of these (the masked LM's), None for a
    head not modelled (next-sentence prediction, multiple choice, regression or multi-label losses)."""
    if _at(tree, "cls.seq_relationship") is not None:
        return None
    pooled = _at(tree, f"{base}pooler") is not None
    if pooled:
        pooler = f"{base}pooler"
        what = "dense input: the first token's hidden states, a view keeping the last layer's output (AddmmBackward0)"
        out.saved(f"{pooler}.dense.input", f"{pooler}.dense", what, "b·s·h", "sequence")
        what = "tanh result (TanhBackward0)"
        out.saved(f"{pooler}.activation.output", f"{pooler}.activation", what, "b·h", "sequence")
    classifier = next((name for name in ("classifier", "qa_outputs") if _at(tree, name) is not None), None)
    if classifier is None:
        return ("pooler" if pooled else "", 0)
    if classifier == "qa_outputs":
        return _question_answering(out, "the last layer's output")
    classes = _classes(tree, classifier)
    if classes is None:
        return None
    out.sizes = replace(out.sizes, c=classes)
    _classifier_input(out, classifier, "b·h" if pooled else "b·s·h", dropout, kept=pooled)
    _loss(out, upcast=False, head=classifier, rows="b" if pooled else "b·s", classes="c")
    return (f"{'sequence' if pooled else 'token'}-classification", classes)


def _question_answering(out: _Builder, what: str) -> tuple[str, int]:
    """The question-answering head: ``qa_outputs`` (two logits per token, split into the start's and the end's,
    each made contiguous and returned) and a cross-entropy loss over the s positions for each, on the start and
    end positions clamped to 0…s (new tensors)."""
    out.saved("qa_outputs.input", "qa_outputs", f"qa_outputs input, {what} (AddmmBackward0)", "b·s·h", "sequence")
    for end in ("start", "end"):
        targets = f"{end} positions clamped, a new tensor"
        _loss(out, upcast=False, head=f"qa_outputs.{end}", rows="b", classes="s", name=f"loss.{end}", targets=targets)
    return ("question-answering", 0)


def _bart_classification_head(out: _Builder, tree: Module, dropout: float) -> tuple[str, int] | None:
    """BART's classification head: the decoder's hidden states at the input's eos tokens (a bool mask of the
    input ids indexes them, one row per eos; the last per sequence is taken, a view), then dropout, ``dense``, tanh,
    dropout, ``out_proj`` (``dropout``: ``classifier_dropout``) and the loss. Assumes one eos per sequence (with n
    the view keeps the b·n·h rows gathered)."""
    head = "classification_head"
    classes = _classes(tree, f"{head}.out_proj")
    if classes is None:
        return None
    out.sizes = replace(out.sizes, c=classes)
    what = "the input ids' eos tokens, a bool mask (IndexBackward0)"
    out.add(f"{head}.eos_mask", head, what, "b·x", "bool", "none")
    _classifier_input(out, f"{head}.dense", "b·h", dropout, kept=False)
    out.saved(f"{head}.tanh.output", head, "tanh result (TanhBackward0)", "b·h", "sequence")
    _classifier_input(out, f"{head}.out_proj", "b·h", dropout, kept=True)
    _loss(out, upcast=False, head=f"{head}.out_proj", rows="b", classes="c")
    return ("eos-classification", classes)


# GPT-style decoders: OPT; attention and MLP in parallel: GPT-NeoX, GPT-J, CodeGen, Phi-2


class _Parallel(Record):
    """A GPT-style layer whose attention (rotary on the first n channels of each head) and plain MLP both read the
    normalised layer input and add their outputs to it, by model type (``GPT_LIKE``): the names transformers gives
    its modules and where the dataflow differs."""

    norm: str
    attention: str
    projections: str
    """The query/key/value projections under ``attention``: one fused Linear or three separated by ``/``."""
    output: str
    mlp: tuple[str, str]
    """The MLP's two Linears under ``mlp``."""
    dropouts: tuple[str, str]
    """The residual dropouts after the attention and after the MLP."""
    embedding: str
    embedding_dropout: str
    final_norm: str
    mlp_norm: str = ""
    """GPT-NeoX's second LayerNorm before the MLP: on the layer input (``use_parallel_residual``, its input one
    storage with the first's) or on the attention's residual sum (the layers in sequence)."""
    heads_first: bool = False
    """The query is concatenated after rotary as (batch, heads, tokens, head_dim): the CPU flash kernel writes its
    output in that layout, copied before the output projection (as for a fused projection's slice)."""
    float32_scores: bool = False
    """Eager attention's query and key upcast to float32 before their product (GPT-J, CodeGen)."""
    rotary_per_layer: bool = False
    """GPT-J and CodeGen gather sin and cos from a table in each layer and ``repeat_interleave`` them for the key
    and again for the query: four s·p tensors per layer; the others keep one cos and one sin for all layers."""
    value_groups: int | None = None
    """Where the value is a slice of the fused projection's output: 0 where each head holds its query, key and value
    side by side (GPT-NeoX), a view; CodeGen's ``mp_num`` (4) where the output is read as that many groups of
    (query, value, key), whose values ``reshape`` to the heads as a view only where a group is one head (a = 4),
    else a copy. None: the value is its own projection's output (GPT-J, Phi-2)."""
    upcast_softmax: bool = True
    """Eager attention's softmax in float32, cast back to the dtype; Falcon's takes it in the dtype."""
    picked_kv: bool = False
    """Falcon: the key and value heads are picked from the fused output by list indices (``fused_qkv[..., [-2],
    :]``), which IndexBackward0 keeps (one int64 each), and reach the attention with fewer heads than the query
    (multi-query), broadcast by eager's matmul; sdpa gets the causal mask as a tensor."""


_GPTJ: Final = _Parallel(
    "ln_1",
    "attn",
    "q_proj/k_proj/v_proj",
    "out_proj",
    ("fc_in", "fc_out"),
    ("attn.resid_dropout", "mlp.dropout"),
    "wte",
    "drop",
    "ln_f",
    float32_scores=True,
    rotary_per_layer=True,
)
GPT_LIKE: Final = {
    "gpt_neox": _Parallel(
        "input_layernorm",
        "attention",
        "query_key_value",
        "dense",
        ("dense_h_to_4h", "dense_4h_to_h"),
        ("post_attention_dropout", "post_mlp_dropout"),
        "embed_in",
        "emb_dropout",
        "final_layer_norm",
        mlp_norm="post_attention_layernorm",
        heads_first=True,
        value_groups=0,
    ),
    "gptj": _GPTJ,
    "codegen": replace(_GPTJ, projections="qkv_proj", value_groups=4),  # GPT-J's layer with one fused projection
    "phi": _Parallel(
        "input_layernorm",
        "self_attn",
        "q_proj/k_proj/v_proj",
        "dense",
        ("fc1", "fc2"),
        ("resid_dropout", "resid_dropout"),
        "embed_tokens",
        "embed_dropout",
        "final_layernorm",
        heads_first=True,
    ),
    # the new decoder architecture: ln_attn and ln_mlp on the layer input (_parallel_layout), keys and values
    # broadcast to every head, copies
    "falcon": _Parallel(
        "input_layernorm",
        "self_attention",
        "query_key_value",
        "dense",
        ("dense_h_to_4h", "dense_4h_to_h"),
        ("", "dropout_add"),
        "word_embeddings",
        "",
        "ln_f",
        upcast_softmax=False,
        picked_kv=True,
    ),
}
"""The GPT-style decoders with rotary attention and the MLP beside it, as transformers writes each."""


def _parallel_layout(block: Module, model_type: str) -> _Parallel | None:
    """The layout of a GPT-style parallel layer of ``model_type``: Falcon's with its two LayerNorms where the layer
    has them (``ln_attn``, ``ln_mlp``)."""
    layout = GPT_LIKE.get(model_type)
    if layout is not None and _child(block, "ln_attn") is not None:
        return replace(layout, norm="ln_attn", mlp_norm="ln_mlp")
    return layout


def _parallel_layer(out: _Builder, block: Module, layout: _Parallel, *, parallel: bool) -> None:
    """One LayerNorm (or NeoX's two) on the layer input; its output is the input of q/k/v and of the MLP (one
    storage), rotary, the attention, its output projection and residual dropout, the MLP and its dropout."""
    attention = layout.attention
    out.layer_norm(layout.norm, "b·s·h")
    projections = f"{attention}.{layout.projections}"
    readers = "" if layout.mlp_norm else f" and mlp.{layout.mlp[0]}"
    out.saved(
        f"{projections}.input",
        f"{attention}.{layout.projections.split('/')[0]}",
        f"{layout.projections}{readers} input, the normalised hidden states (MmBackward0, one storage)",
        "b·s·h",
        "sequence",
    )
    if layout.picked_kv:
        what = "the key's and value's list indices [-2] and [-1], one int64 each (IndexBackward0)"
        out.add(f"{projections}.indices", projections, what, "2", "int64", "none")
    if layout.rotary_per_layer:
        for operand in ("key", "query"):
            _rotary_tables(out, LLAMA, attention, f"repeat-interleaved for the {operand} in the layer", operand)
    shared = _attention_core(
        out,
        attention,
        upcast_softmax=layout.upcast_softmax,
        repeat_kv=layout.picked_kv and out.sizes.k != out.sizes.a,
        fused=layout.heads_first,
        float32_scores=layout.float32_scores,
        causal_mask=layout.picked_kv,
    )
    _fused_value(out, layout)
    output = f"{attention}.{layout.output}"
    node = "AddmmBackward0" if _param(_at(block, output), "bias") else "MmBackward0"
    _attention_output(out, shared, output, node, "b·s·h", layout.dropouts[0] or None)
    if layout.mlp_norm:
        out.layer_norm(layout.mlp_norm, "b·s·h", input_kept=parallel)
    first, second = (f"mlp.{name}" for name in layout.mlp)
    what = f"{layout.mlp[0]} input, the normalised hidden states (AddmmBackward0)"
    _plain_mlp(out, first, what, "mlp.act", second, layout.dropouts[1], shared_input=not layout.mlp_norm)


def _fused_value(out: _Builder, layout: _Parallel) -> None:
    """The value, a view of the fused projection's output (``value_groups``) that no KV cache copies: the fused
    kernels keep it as it is, eager attention's matmul where its fold is a view (each head's q, k and v side by
    side: ``_folds_as_view`` per head), so that whole output (queries, keys and values of every head), once."""
    sizes = out.sizes
    cached = out.settings.use_cache and not out.checkpointing
    if cached or layout.value_groups not in (0, sizes.a):
        return
    kernel = _kernel(out.settings)
    if kernel in ("flash", "memory-efficient") or (kernel == "eager" and _folds_as_view(out, per_head=True)):
        what = f"value, a view of {layout.projections}'s output, which it keeps whole (no KV cache copies it)"
        projection = f"{layout.attention}.{layout.projections}"
        _whole_base(out, f"{layout.attention}.value", projection, what, "3·h", 3 * sizes.h)


def _parallel_model(out: _Builder, layout: _Parallel, model: str, *, head: bool) -> None:
    """Outside the layers: the token ids, the embedding dropout's mask, the rotary cos and sin shared by every layer
    (not kept by checkpointed layers, which get them as arguments), the final LayerNorm and the head."""
    embedding = f"{model}.{layout.embedding}"
    out.add(f"{embedding}.indices", embedding, "token ids (EmbeddingBackward0)", "b·s", "int64", "none")
    if out.settings.embedding_dropout > 0:
        dropout = f"{model}.{layout.embedding_dropout}"
        out.mask(f"{dropout}.mask", dropout, "b·s·h", "sequence")
    if not layout.rotary_per_layer and not out.checkpointing:
        _rotary_tables(out, LLAMA, f"{model}.rotary_emb", "shared by every layer")
    out.layer_norm(f"{model}.{layout.final_norm}", "b·s·h")
    if head:
        _causal_lm_head(out)


def _opt_model(out: _Builder, decoder: Module | None, *, head: bool) -> None:
    """Outside OPT's layers (BART's encoder layer, causal, with its LayerNorms before or after each sub-layer as
    ``do_layer_norm_before`` says): the token ids and the position ids + 2 counted from the mask (a new b·s
    tensor), no embedding dropout; the word embeddings of width w projected in to h and the final hidden states out
    to w when ``word_embed_proj_dim`` differs from h (350m), the final LayerNorm of the pre-norm models, the head."""
    at = "model.decoder"
    out.add(
        f"{at}.embed_tokens.indices", f"{at}.embed_tokens", "token ids (EmbeddingBackward0)", "b·s", "int64", "none"
    )
    out.add(
        f"{at}.embed_positions.indices",
        f"{at}.embed_positions",
        "position ids + 2, counted from the attention mask (EmbeddingBackward0)",
        "b·s",
        "int64",
        "none",
    )
    projected = out.sizes.w != out.sizes.h
    if projected:
        out.saved(
            f"{at}.project_in.input",
            f"{at}.project_in",
            "project_in input, the word embeddings (MmBackward0)",
            "b·s·w",
            "sequence",
        )
    if _child(decoder, "final_layer_norm") is not None:
        out.layer_norm(f"{at}.final_layer_norm", "b·s·h")
    if projected:
        out.saved(
            f"{at}.project_out.input",
            f"{at}.project_out",
            "project_out input, the last hidden states (MmBackward0)",
            "b·s·h",
            "sequence",
        )
    if head:
        width = "w" if projected else "h"
        out.saved(
            "lm_head.input",
            "lm_head",
            "lm_head input, the final hidden states (MmBackward0)",
            f"b·s·{width}",
            "sequence",
        )
        _loss(out, upcast=True)


def _child(module: Module | None, name: str) -> Module | None:
    if module is None:
        return None
    return next((child for child in module.children if child.name == name), None)


def _at(root: Module, path: str) -> Module | None:
    found: Module | None = root
    for part in path.split(".") if path else ():
        found = _child(found, part)
    return found


def _param(module: Module | None, name: str) -> Param | None:
    return next((param for param in module.params if param.name == name), None) if module else None


def _width(module: Module | None, name: str) -> int | None:
    """The outputs of the linear ``name`` under ``module`` (Conv1D stores its weight in × out)."""
    linear = _child(module, name)
    weight = _param(linear, "weight")
    if linear is None or weight is None or len(weight.shape) != 2 or linear.kind not in LINEAR_KINDS:
        return None
    rows, columns = weight.sizes
    return columns if LINEAR_KINDS[linear.kind] == "in_out" else rows


BART_LAYER: Final = frozenset({"self_attn", "self_attn_layer_norm", "fc1", "fc2", "final_layer_norm"})
"""The children of a BART encoder layer (the decoder's add cross-attention and its norm)."""
T5_FAMILIES: Final = frozenset({"t5", "mt5", "umt5"})
LLAMA_FAMILIES: Final = frozenset(
    {
        "llama",
        "mistral",
        "qwen2",
        "qwen3",
        "gemma",
        "gemma2",
        "gemma3_text",
        "phi3",
        "mixtral",
        "qwen2_moe",
        "qwen3_moe",
        "olmoe",
        "phimoe",
        "granite",
        "smollm3",
        "deepseek_v2",
        "deepseek_v3",
    }
    | DECODERS.keys()
)
SANDWICH_NORMS: Final = frozenset({"pre_feedforward_layernorm", "post_feedforward_layernorm"})
"""Gemma 2/3's norms around the MLP besides the Llama layer's (``post_attention_layernorm`` then normalises the
attention's output)."""


ATTENTION_CHILDREN: Final = frozenset({"q_proj", "k_proj", "v_proj", "qkv_proj", "o_proj", "q_norm", "k_norm"})
"""The children of a Llama-like attention modelled."""
LATENT_ATTENTION: Final = frozenset(
    {"q_proj", "q_a_proj", "q_a_layernorm", "q_b_proj", "kv_a_proj_with_mqa", "kv_a_layernorm", "kv_b_proj", "o_proj"}
)
"""The children of DeepSeek's multi-head latent attention."""


def _experts(mlp: Module | None) -> tuple[int, int, int] | None:
    """A sparse MoE block's experts, each expert's width and the shared expert's width (0: none), or None when
    ``mlp`` is not one: a router ``gate`` and ``experts`` holding ``gate_up_proj`` as experts × 2·width × hidden."""
    weight = _param(_child(mlp, "experts"), "gate_up_proj")
    router = _child(mlp, "gate") or _child(mlp, "router")  # Phi-3.5-MoE, GraniteMoE, gpt-oss: router
    if router is None or weight is None or len(weight.shape) != 3:
        return None
    shared = _child(mlp, "shared_expert") or _child(mlp, "shared_experts")  # DeepSeek: shared_experts
    down = _param(_child(mlp, "experts"), "down_proj")
    transposed = down is not None and len(down.shape) == 3 and weight.sizes[1] == down.sizes[2]  # gpt-oss: e × h × 2i
    width = (weight.sizes[2] if transposed else weight.sizes[1]) // 2
    return weight.sizes[0], width, (_width(shared, "gate_proj") or 0) if shared else 0


def _mlp(block: Module, model_type: str) -> Module | None:
    """The MLP or sparse MoE block of a layer (GraniteMoE's ``block_sparse_moe``)."""
    return _child(block, DECODERS.get(model_type, LLAMA).mlp_child)


def _moe_layers(
    stack: Module, model_type: str
) -> tuple[tuple[int, int, int] | None, Module | None, tuple[tuple[str, int], ...]] | None:
    """The sparse MoE sizes of the stack's layers (None: no MoE), and where dense layers mix in
    (``mlp_only_layers``, ``decoder_sparse_step``) their MLP and the layers of each kind; None when the sparse
    layers differ."""
    runs = [(_experts(_mlp(run, model_type)), run) for run in stack.children]
    found = {experts for experts, _ in runs if experts is not None}
    if len(found) > 1:
        return None
    sparse = next(iter(found), None)
    dense = [run for experts, run in runs if experts is None]
    if sparse is None or not dense:
        return sparse, None, ()
    count = sum(run.repeat for run in dense)
    every = sum(run.repeat for run in stack.children)
    return sparse, _mlp(dense[0], model_type), (("dense", count), ("sparse", every - count))


def _names(block: Module) -> set[str]:
    return {child.name for child in block.children if child.params or child.children}


def _t5_width(block: Module, *, decoder: bool) -> int | None:
    """The feed-forward width of a T5 block (``layer``: self-attention, in the decoder cross-attention, the
    feed-forward, each with its norm), or None when ``block`` is not one."""
    sublayers = _child(block, "layer")
    found = [_names(sublayer) for sublayer in sublayers.children] if sublayers else []
    attention = [{"SelfAttention", "layer_norm"}, *([{"EncDecAttention", "layer_norm"}] if decoder else [])]
    if found != [*attention, {"DenseReluDense", "layer_norm"}] or sublayers is None:
        return None
    mlp = _child(sublayers.children[-1], "DenseReluDense")
    return _width(mlp, "wi") or _width(mlp, "wi_0")


def _structure(block: Module, model_type: str) -> tuple[str, int] | None:
    """The layout of ``block`` and its MLP width, or None when the layer is not one of those modelled."""
    names = _names(block)
    layout = DECODERS.get(model_type, LLAMA)
    if model_type in LLAMA_FAMILIES and names in (layout.children, layout.children | SANDWICH_NORMS):
        if not _names(_child(block, "self_attn") or block) <= (ATTENTION_CHILDREN | LATENT_ATTENTION):
            return None  # StableLM's qk_layernorm: per-head LayerNorms, not modelled
        mlp = _mlp(block, model_type)
        fused = _width(mlp, "gate_up_proj")
        sparse = _experts(mlp)
        plain = _width(mlp, "c_fc")
        width = sparse[1] if sparse else _width(mlp, "gate_proj") or (fused // 2 if fused else plain)
        return ("llama", width) if width else None
    gpt2 = GPT2_LIKE.get(model_type)
    if gpt2 is not None and names == {*gpt2.norms, gpt2.attention.split(".")[0], gpt2.mlp}:
        plain = _width(_child(block, gpt2.mlp), gpt2.linears[0])
        return (model_type, plain) if plain else None
    if model_type in ENCODERS and names == ENCODERS[model_type].layer.children:
        parent, _, name = ENCODERS[model_type].layer.fc1.rpartition(".")
        dense = _width(_at(block, parent), name)
        return ("bert", dense) if dense else None
    if model_type == "modernbert" and names == MODERNBERT_LAYER:
        attention, mlp = _child(block, "attn"), _child(block, "mlp")
        wi = _width(mlp, "Wi")
        fused = attention is not None and _names(attention) == {"Wqkv", "Wo"}
        return ("modernbert", wi // 2) if wi and fused and _names(mlp or block) == {"Wi", "Wo"} else None
    if model_type in VISION and names == VISION[model_type].children:
        parent, _, name = VISION[model_type].fc1.rpartition(".")
        fc1 = _width(_at(block, parent), name)
        return ("vit", fc1) if fc1 else None
    parallel = _parallel_layout(block, model_type)
    if parallel is not None and names == {parallel.norm, parallel.attention, "mlp"} | ({parallel.mlp_norm} - {""}):
        plain = _width(_child(block, "mlp"), parallel.mlp[0])
        attention = _child(block, parallel.attention)
        linears = {*parallel.projections.split("/"), parallel.output}  # Phi's qk_layernorm: not modelled
        return (model_type, plain) if plain and attention and _names(attention) == linears else None
    if model_type in SPEECH_TYPES and names == SPEECH_LAYER:
        fc1 = _width(_child(block, "feed_forward"), "intermediate_dense")
        return ("wav2vec2", fc1) if fc1 else None
    if model_type == "opt" and names == BART_LAYER:
        fc1 = _width(block, "fc1")
        return ("opt", fc1) if fc1 else None
    if model_type in SEQ2SEQ and names == BART_LAYER | {"encoder_attn", "encoder_attn_layer_norm"}:
        fc1 = _width(block, "fc1")
        return ("bart", fc1) if fc1 else None
    if model_type in T5_FAMILIES:
        width = _t5_width(block, decoder=True)
        return ("t5", width) if width else None
    return None


def _layout(tree: Module, model_type: str, part: str) -> tuple[_Seq2Seq, int, int] | None:
    """The layout of the encoder-decoder whose encoder (or, decoder-only, decoder) is at ``part``, with its
    LayerNorms read from the tree, and for a speech encoder its fixed source positions (its position table's rows)
    and mel bins (conv1's input channels), (layout, 0, 0) for a text one; None when a speech encoder lacks them."""
    encoder = _at(tree, part)
    layout = replace(
        SEQ2SEQ[model_type],
        embedding_norm=_child(encoder, "layernorm_embedding") is not None,
        final_norm=_child(encoder, "layer_norm") is not None,
    )
    if not layout.speech:
        return layout, 0, 0
    conv, table = _param(_child(encoder, "conv1"), "weight"), _param(_child(encoder, "embed_positions"), "weight")
    if conv is None or table is None or len(conv.shape) != 3:
        return None
    return layout, table.sizes[0], conv.sizes[1]


def _encoder(tree: Module, decoder: str, width: int, structure: str) -> tuple[str, int] | None:
    """An encoder-decoder's encoder stack beside the decoder's (``model.encoder.layers`` for
    ``model.decoder.layers``) and its layers, when they are BART (or T5) encoder layers of the decoder's MLP
    width."""
    path = decoder.replace("decoder", "encoder")
    stack = _at(tree, path)
    if path == decoder or stack is None or not stack.children:
        return None
    block = stack.children[0]
    if structure == "t5":
        found = _t5_width(block, decoder=False)
    else:
        found = _width(block, "fc1") if _names(block) == BART_LAYER else None
    if found != width:
        return None
    return path, sum(child.repeat for child in stack.children)


def _decoder_stack(tree: Module, dims: TransformerDims) -> tuple[str, int]:
    """The stack whose layers the plan lists and their count: ``dims.stack``, or an encoder-decoder's decoder
    where ``transformer_dimensions`` took the encoder's, the larger stack (``encoder.block`` for
    ``decoder.block``)."""
    path = dims.stack.replace("encoder", "decoder")
    stack = _at(tree, path)
    if path == dims.stack or stack is None or not stack.children:
        return dims.stack, dims.layers
    return path, sum(child.repeat for child in stack.children)


def _settings(root: Module, model_type: str, dtype: str, attention: Attention, kernels: Kernels) -> _Settings:
    values: dict[str, object] = dict(CONFIG_DEFAULTS[model_type])
    values.update(root.attributes)

    def number(*keys: str) -> float:
        found = next((values[key] for key in keys if isinstance(values.get(key), int | float)), 0.0)
        return float(found) if isinstance(found, int | float) else 0.0

    if model_type in T5_FAMILIES:  # one dropout_rate everywhere; "gated-gelu" runs gelu_new
        projection = str(values["feed_forward_proj"])
        rate = number("dropout_rate")
        act = "gelu_new" if projection == "gated-gelu" else projection.split("-")[-1]
        return _Settings(dtype, kernels, attention, act, rate, rate, rate, activation_dropout=rate)
    act_keys = ("hidden_activation", "hidden_act", "activation_function", "activation", "afn")
    act = next((str(values[key]) for key in act_keys if isinstance(values.get(key), str)), "silu")
    act = "gelu_new" if model_type == "openai-gpt" and act == "gelu" else act  # OpenAI GPT's ACT_FNS
    return _Settings(
        dtype=dtype,
        kernels=kernels,
        attention=attention,
        act=act,
        # Falcon's rotary attention applies none (its attention_dropout drops only ALiBi's probabilities)
        attention_dropout=0.0
        if model_type == "falcon"
        else number("attention_dropout", "attn_pdrop", "attention_probs_dropout_prob"),
        hidden_dropout=number(
            "resid_pdrop",
            "hidden_dropout_prob",
            "residual_dropout",
            "hidden_dropout",
            "resid_dropout",
            *(("dropout",) if model_type in {*SEQ2SEQ, "distilbert", "opt"} else ()),
            *(("attention_dropout",) if model_type == "modernbert" else ()),  # its out_drop after Wo
        ),
        embedding_dropout=number(
            "embd_pdrop",
            "embedding_dropout",
            "embed_dropout",
            *(("hidden_dropout",) if model_type == "gpt_neox" else ()),
        ),
        renormalise=model_type == "mixtral" or (values.get("norm_topk_prob") is True and model_type != "deepseek_v2"),
        float32_routing=model_type in ("mixtral", "deepseek_v2", "deepseek_v3", "glm4_moe"),
        activation_dropout=number("mlp_dropout" if model_type == "modernbert" else "activation_dropout")
        if model_type != "opt"
        else 0.0,  # OPT applies none
        clip_qkv=number("clip_qkv") > 0,
        score_softcap=attention == "eager" and number("attn_logit_softcapping") > 0,
        input_jitter=number("input_jitter_noise") > 0,
        logit_softcap=number("final_logit_softcapping") > 0,
        classifier_dropout=number("classifier_dropout", "hidden_dropout_prob"),
        router={"deepseek_v2": str(values.get("topk_method")), "deepseek_v3": "noaux_tc", "glm4_moe": "noaux_tc"}.get(
            model_type, ""
        ),
        use_cache=values.get("use_cache") is not False,
    )


def _speech_settings(tree: Module, settings: _Settings) -> _Settings:
    """A speech encoder's dropouts by its own names: ``hidden_dropout`` in the layers (its config's
    ``hidden_dropout_prob`` is unused), ``feat_proj_dropout`` after the feature projection, ``final_dropout``
    before the CTC head."""
    attributes = dict(tree.attributes)

    def rate(key: str) -> float:
        value = attributes.get(key)
        return float(value) if isinstance(value, float) else 0.0

    return replace(
        settings,
        hidden_dropout=rate("hidden_dropout"),
        embedding_dropout=rate("feat_proj_dropout"),
        classifier_dropout=rate("final_dropout"),
    )


WALKS_KEPT: Final = 64
"""Walks kept per tree (``_walks``): one per set of options and lengths' regime asked."""


class _Walk(Record):
    """What ``_walk`` finds for a tree, some options and a regime of the lengths (``_Regime``, the sliding
    window reached or not): the tensors with their element counts left for the lengths, and what the plan says
    about them."""

    structure: str
    attention: Attention
    """The implementation that runs (eager where the model type cannot run the one asked)."""
    kernel: str
    path: str
    layers: int
    widths: _Widths
    settings: _Settings
    """The config's activation and dropouts, the dtype, attention and kernels."""
    per_layer: tuple[_Term, ...]
    model: tuple[_Term, ...]
    """Outside the layers (``ActivationPlan.model``)."""
    layer_input: _Term
    head: tuple[str, int]
    """The head and its outputs as the assumptions describe it (``_assumptions``): ``output`` (its v outputs and
    loss), ``none``, ``pooler``, or a task head (``sequence-classification`` and its c classes …)."""
    notes: tuple[Assumption, ...]
    """The assumptions after those of ``_assumptions``."""
    kinds: tuple[tuple[str, int], ...]
    encoder: tuple[str, int] | None
    """An encoder-decoder's encoder stack and its layers."""
    encoder_layer: tuple[_Term, ...]
    encoder_input: _Term | None
    window: int
    """An encoder's fixed source length (Whisper's), 0 without one."""
    image: int
    """A vision transformer's image tokens, 0 for another layout."""
    alone: bool


@per_frozen
def _walks(tree: Module, dims: TransformerDims) -> OrderedDict[tuple[object, ...], _Walk | None]:
    """The walks made of ``tree`` so far, by ``activation_plan``'s key (the oldest of ``WALKS_KEPT`` dropped
    first): a new request of the same options and regime evaluates one at its lengths."""
    return OrderedDict()


def _lengths(seq_len: int, source_len: int | None, *, encoder: bool, window: int, image: int) -> tuple[int, int]:
    """The source and target lengths (``_Sizes.s`` and ``t``) asked for: a vision transformer's image tokens
    whatever the sequence; an encoder-decoder's source its fixed window, ``source_len``, or as long as the
    target."""
    if image:
        return image, image
    return (window or source_len or seq_len if encoder else seq_len), seq_len


def activation_plan(
    tree: Module,
    dims: TransformerDims,
    *,
    batch: int,
    seq_len: int,
    dtype: str,
    attention: Attention = "sdpa",
    kernels: Kernels = "cuda",
    checkpointing: bool = False,
    source_len: int | None = None,
) -> ActivationPlan | None:
    """What one training forward pass of ``tree`` keeps for backward, per operation; None when its layers are
    not one of the modelled layouts (the caller falls back to an estimate). An encoder-decoder's decoder runs
    ``seq_len`` target tokens and its encoder ``source_len`` source positions (default: as many).

    ``dtype`` is the compute dtype of the activations (the weights' dtype, or the 16-bit type under mixed
    precision); the layers run in it as when the model is loaded in that dtype.

    The layout's walk (``_walk``) is made once per tree, options and regime of the lengths, which it sees only as
    their classes (each length up to 2: 0, 1 or more; whether the sliding window is reached); each request
    evaluates its tensors at its own lengths."""
    sliding = dims.sliding_window
    convolutions = _convolutions(tree, dims.stack)
    frames = _frames(seq_len, convolutions) if convolutions else seq_len
    if frames < 1 <= seq_len:
        return None  # fewer samples than the convolutions' kernels need
    samples, seq_len = seq_len, max(frames, 0)
    key = (
        dtype,
        attention,
        kernels,
        checkpointing,
        min(batch, 2),
        min(seq_len, 2),
        None if source_len is None else min(source_len, 2),
        sliding is not None and seq_len >= sliding,
    )
    walks = _walks(tree, dims)
    walk = walks.get(key)  # one lookup: another thread may drop the oldest walk meanwhile
    if walk is None and key not in walks:
        walk = _walk(tree, dims, *key)
        if len(walks) >= WALKS_KEPT:
            walks.popitem(last=False)
        walks[key] = walk
    if walk is None:
        return None
    source, target = _lengths(
        seq_len, source_len, encoder=walk.encoder is not None, window=walk.window, image=walk.image
    )
    sizes = _Sizes(**field_values(walk.widths), b=batch, s=source, t=target, y=samples if convolutions else 0)
    encoder_stack = None
    if walk.encoder is not None and walk.encoder_input is not None:
        encoder_layer = tuple(term.at(sizes) for term in walk.encoder_layer)
        encoder_stack = LayerStack(*walk.encoder, source, encoder_layer, walk.encoder_input.at(sizes))
    structure, kernel = walk.structure, walk.kernel
    return ActivationPlan(
        structure=structure,
        attention=walk.attention,
        kernel=kernel,
        kernels=kernels,
        dtype=dtype,
        batch=batch,
        seq_len=target,
        layers=walk.layers,
        per_layer=tuple(term.at(sizes) for term in walk.per_layer),
        model=tuple(term.at(sizes) for term in walk.model),
        checkpointing=checkpointing,
        layer_input=walk.layer_input.at(sizes),
        assumptions=_assumptions(
            structure,
            walk.settings,
            kernel,
            sizes,
            walk.head,
            encoder=encoder_stack,
            source_given=source_len is not None or walk.window > 0,
            alone=walk.alone,
        )
        + walk.notes
        + (_image_tokens(tree, sizes) if structure == "vit" else ())
        + (_speech_frames(tree, dims.stack, sizes) if structure == "wav2vec2" else ()),
        encoder=encoder_stack,
        kinds=walk.kinds,
    )


def _walk(
    tree: Module,
    dims: TransformerDims,
    dtype: str,
    attention: Attention,
    kernels: Kernels,
    checkpointing: bool,
    batch: int,
    seq_len: int,
    source_len: int | None,
    past_window: bool,
) -> _Walk | None:
    """``activation_plan``'s layout recognised and its tensors listed, for lengths of the classes given (``batch``,
    ``seq_len`` and ``source_len`` stand for all those their class holds: they decide only ``_Regime``);
    ``past_window``: the sequence reaches the sliding window. None where the layout is not modelled."""
    model_type = dict(tree.attributes).get("model_type")
    path, layers = _decoder_stack(tree, dims)
    stack = _at(tree, path)
    moe = _moe_layers(stack, str(model_type)) if stack is not None else None
    if not isinstance(model_type, str) or model_type not in CONFIG_DEFAULTS or stack is None or moe is None:
        return None
    sparse, dense, mixed = moe
    block = next((run for run in stack.children if not sparse or _experts(_mlp(run, str(model_type)))), None)
    if block is None:
        return None
    if model_type in ENCODERS and ENCODERS[model_type].shared:
        block, layers = _shared_layer(tree, path, block)
    if block is None:
        return None
    found = _structure(block, model_type)
    if found is None or dims.heads is None or dims.kv_heads is None or dims.head_dim is None:
        return None
    structure, width = found
    requested = attention
    if model_type in {"sdpa": SDPA_UNSUPPORTED, "flash": FLASH_UNSUPPORTED}.get(attention, ()):
        attention = "eager"
    settings = _settings(tree, model_type, dtype, attention, kernels)
    sinks = structure == "llama" and DECODERS.get(model_type, LLAMA).sinks
    if sinks and (attention == "flash" or settings.attention_dropout > 0):
        return None  # the flash kernels with sinks, dropout after the sinks' softmax: not modelled
    gated = structure in ("llama", "modernbert")
    if settings.act not in ACTIVATION_TENSORS or (gated and ACTIVATION_TENSORS[settings.act] != 1):
        return None
    if structure == "t5" and (attention == "flash" or dtype == "float16"):
        return None  # transformers has no flash attention for T5; in float16 it keeps wo in float32 and clamps
    dense_width = _width(dense, "gate_proj") or 0
    if dense is not None and not dense_width:
        return None
    attributes = dict(tree.attributes)
    top = attributes.get("num_experts_per_tok")
    jitter = attributes.get("router_jitter_noise") if model_type != "phimoe" else None  # there: sparsemixer's eps
    if sparse is not None and (not isinstance(top, int) or attributes.get("output_router_logits") or jitter):
        return None  # the load-balancing loss and the router's jitter noise keep more: not modelled
    if attributes.get("clip_qkv") and model_type == "olmoe":
        return None  # OLMoE's in-place clamp of q, k and v: not modelled (OLMo's is)
    experts, _, shared = sparse or (0, 0, 0)
    seq2seq = structure in ("bart", "t5")
    encoder = _encoder(tree, path, width, structure) if seq2seq else None
    model = path[: path.index("decoder")] if seq2seq and "decoder" in path else ""
    alone = structure == "bart" and encoder is None and _at(tree, f"{model}encoder") is None  # ForCausalLM
    part = f"{model}{'decoder' if alone else 'encoder'}"
    found_layout = _layout(tree, model_type, part) if structure == "bart" and (encoder or alone) else None
    if seq2seq and ((encoder is None and not alone) or (structure == "bart" and found_layout is None)):
        return None
    layout, window, mels = found_layout or (None, 0, 0)
    projected = _width(_at(tree, "model.decoder"), "project_out") if structure == "opt" else None
    vocab = dims.vocab or (_width(tree, "lm_head") if structure in ("opt", "wav2vec2") else None)  # OPT's may read w
    parallel = _parallel_layout(block, structure)
    rotary = _rotary_dims(tree, path)
    if parallel and rotary is None:
        return None
    picked = _picked_heads(attributes, dims, attention) if parallel and parallel.picked_kv else None
    image = _image(tree, dims.stack) if structure == "vit" else (0, 0)
    if structure == "vit" and not image[0]:
        return None
    speech = _speech(tree, path) if structure == "wav2vec2" else None
    if structure == "wav2vec2":
        if speech is None:
            return None
        settings = _speech_settings(tree, settings)
    source, target_len = _lengths(seq_len, source_len, encoder=encoder is not None, window=window, image=image[0])
    regime = _Regime(batch == 1, source == 1, target_len > 1)
    widths = _Widths(
        dims.hidden,
        dims.heads,
        dims.kv_heads,
        dims.head_dim,
        width,
        _head_outputs(tree, model_type) if structure in ("bert", "vit") else vocab or 0,
        experts,
        top if isinstance(top, int) and sparse else 0,
        shared,
        dense_width,
        mels,
        _embedding_width(tree, dims) if structure == "bert" else projected or dims.hidden,
        image[1],
        rotary if rotary and rotary < dims.head_dim else 0,
    )
    if picked is not None:  # Falcon: the attention's key/value heads, sdpa's kernel
        if picked < 0:
            return None
        widths = replace(widths, k=picked)
        settings = replace(settings, broadcast_kv=picked != dims.heads)
    q, latent, u = _latent(block, dims)
    if latent:
        if attention == "flash" or settings.router not in ("greedy", "group_limited_greedy", "noaux_tc"):
            return None  # flash_attention_2 with MLA's narrower values, or a router transformers does not run
        widths = replace(widths, q=q, l=latent, u=u)
        settings = replace(settings, unequal_heads=u != widths.d)
    layer = _Builder(widths, settings, checkpointing, regime, target=encoder is not None)
    sliding, types = dims.sliding_window, dims.layer_types
    kinds = mixed
    if structure == "llama" and attention == "sdpa" and past_window:
        if mixed:
            return None  # sliding layers past the window in a MoE stack mixing dense layers: not modelled
        # past the window transformers builds the sliding layers' mask, which sdpa then gets
        kinds = tuple((kind, types.count(kind)) for kind in sorted(set(types)))
        layer.masked = "sliding_attention" if "sliding_attention" in types else ""
        layer.unmasked = tuple(kind for kind, _ in kinds if kind != layer.masked)
    if structure == "modernbert":
        # the first layer (no attention norm) a kind of its own; past the window sdpa gets the sliding layers' mask
        masked = attention == "sdpa" and past_window and "sliding_attention" in types
        head_act = str(attributes.get("classifier_activation", settings.act))
        if attention == "flash" or attributes.get("sparse_prediction") or head_act not in ACTIVATION_TENSORS:
            return None  # flash_attention_2 unpads the batch; the head on the masked tokens only: not modelled
        if tree.kind not in ("ModernBertForMaskedLM", "ModernBertModel") or (masked and types[0] != "full_attention"):
            return None  # the task heads; a first layer that slides past the window: not modelled
        later = tuple(sorted(set(types[1:]))) if masked else ("later",) * (layers > 1)
        kinds = (("first", 1), *((kind, types[1:].count(kind) if masked else layers - 1) for kind in later))
        layer.masked = "sliding_attention" if masked else ""
        layer.unmasked = tuple(kind for kind, _ in kinds if kind != layer.masked)
    notes = []
    if mixed:
        notes.append(
            Assumption.of("activations-dense-layers", dense=mixed[0][1], width=dense_width, sparse=mixed[1][1])
        )
    if layer.masked:
        masking = "activations-sliding-window" if structure == "llama" else "activations-sliding-window-mask"
        notes.append(Assumption.of(masking, window=sliding, kernels=kernels))
    if structure == "modernbert":
        notes.append(Assumption.of("activations-first-layer"))
    if structure == "llama" and DECODERS.get(model_type, LLAMA).clamped_swiglu:
        notes.append(Assumption.of("activations-clamped-swiglu"))
    if attention != requested:
        notes.append(Assumption.of("activations-eager", model_type=model_type, requested=requested))
    outside = _Builder(widths, settings, checkpointing, regime)
    head = vocab is not None
    task: tuple[str, int] | None = ("", 0)  # a task head and its classes (_bert_heads …); None: not modelled
    encoder_layer: tuple[_Term, ...] = ()
    encoder_input = None
    if structure == "llama":
        norm = _child(block, "input_layernorm")
        one_plus = norm is not None and norm.kind.startswith("Gemma")  # GemmaRMSNorm: x·rstd·(1 + weight)
        layer_norm = norm is not None and norm.kind == "LayerNorm"  # Phi-3.5-MoE
        layout_ = DECODERS.get(model_type, LLAMA)
        layout_ = replace(layout_, norm="layer") if layer_norm else layout_
        _llama_layer(layer, block, layout_, one_plus=one_plus, dense=dense)
        types = tuple(sorted(set(dims.layer_types))) if model_type in ROTARY_PER_LAYER_TYPE else ()
        _llama_model(outside, layout_, head=head, one_plus=one_plus, rotary=types or ("",))
    elif structure in GPT2_LIKE:
        _gpt2_layer(layer, GPT2_LIKE[structure])
        _gpt2_model(outside, GPT2_LIKE[structure], head=head)
    elif structure == "bert":
        encoder_type = ENCODERS[model_type]
        _bert_layer(layer, encoder_type.layer)
        base = dims.stack.removesuffix(encoder_type.stack)
        head = _at(tree, encoder_type.head[3]) is not None
        causal = tree.kind.endswith(("ForCausalLM", "LMHeadModel"))
        _bert_model(outside, encoder_type, base, head=head, causal=causal)
        task = _bert_heads(outside, tree, base, settings.classifier_dropout)
        if task and task[0] and model_type != "bert":
            task = None  # the other encoders' pooler and task heads (their own modules): not modelled
    elif structure == "modernbert":
        _modernbert_layer(layer, tuple(kind for kind, _ in kinds[1:]))
        outside.settings = replace(settings, act=str(attributes.get("classifier_activation", settings.act)))
        _modernbert_model(
            outside, tuple(sorted(set(types))) or ("full_attention",), head=_at(tree, "decoder") is not None
        )
    elif structure == "vit":
        names = VISION[model_type]
        _vit_layer(layer, names)
        head = _at(tree, names.head) is not None
        projection = bool(names.projection) and _at(tree, names.projection) is not None
        base = dims.stack.removesuffix(names.stack)
        pooling = bool(names.pooling) and _at(tree, f"{base}{names.pooling}") is not None
        _vit_model(outside, base, names, head=head, projection=projection, pooling=pooling)
    elif speech is not None:
        if speech.pre_norm:
            _vit_layer(layer, SPEECH_PRE_NORM)
        else:
            _bert_layer(layer, SPEECH_POST_NORM)
        _speech_model(outside, speech)
    elif structure == "opt":
        pre_norm = dict(tree.attributes).get("do_layer_norm_before", True) is not False
        _bart_layer(layer, _Seq2Seq(pre_norm=pre_norm, positions="learned", upcast_softmax=True), decoder=False)
        _opt_model(outside, _at(tree, "model.decoder"), head=head)
    elif parallel is not None:
        in_parallel = dict(tree.attributes).get("use_parallel_residual", True) is not False
        _parallel_layer(layer, block, parallel, parallel=in_parallel)
        _parallel_model(outside, parallel, path.rsplit(".", 1)[0], head=head)
    elif alone and layout is not None:
        _bart_layer(layer, layout, decoder=True, cross=False)
        _bart_decoder_model(outside, model, layout, head=head)
    elif encoder is not None:
        source_layer, target = (
            _Builder(widths, settings, checkpointing, regime),
            _Builder(widths, settings, checkpointing, regime, target=True),
        )
        if structure == "t5":
            from paramcount.analysis.planner.activations_t5 import t5_layer, t5_model

            gated = _at(block, "layer.2.DenseReluDense.wi_0") is not None
            own = model_type == "umt5"
            t5_layer(layer, decoder=True, gated=gated, own=own)
            t5_layer(source_layer, decoder=False, gated=gated, own=own)
            t5_model(outside, target, (encoder[1], layers), shared_bias=not own, head=head)
        elif layout is not None:
            _bart_layer(layer, layout, decoder=True)
            _bart_layer(source_layer, layout, decoder=False)
            _bart_model(outside, target, model, layout, head=head)
            if _at(tree, "classification_head") is not None:
                task = _bart_classification_head(target, tree, settings.classifier_dropout)
            elif _at(tree, "qa_outputs") is not None:
                task = _question_answering(target, "the decoder's output")
        outside.found.extend(target.found)
        encoder_layer = tuple(source_layer.found)
        encoder_input = _layer_input(source_layer, encoder[0])
    if task is None:
        return None
    keeper = _Builder(widths, settings, checkpointing, regime, target=encoder is not None)
    kernel = _kernel(settings)
    if structure == "t5" and kernel == "flash":
        kernel = "memory-efficient"  # the relative position bias is an attn_mask, which flash kernels refuse
    return _Walk(
        structure=structure,
        attention=attention,
        kernel=kernel,
        path=path,
        layers=layers,
        widths=widths,
        settings=settings,
        per_layer=tuple(layer.found),
        model=tuple(outside.found),
        layer_input=_layer_input(keeper, path),
        head=task if task[0] else (("output", widths.v) if head else ("none", 0)),
        notes=tuple(notes) + _not_checkpointable(model_type, checkpointing),
        kinds=kinds if layer.masked or mixed or structure == "modernbert" else (),
        encoder=encoder,
        encoder_layer=encoder_layer,
        encoder_input=encoder_input,
        window=window,
        image=image[0],
        alone=alone,
    )


def _picked_heads(attributes: Mapping[str, object], dims: TransformerDims, attention: Attention) -> int:
    """The key/value heads Falcon's attention runs: every head in the new decoder architecture (each group's one
    head broadcast to its queries, a copy), the one head picked for all (multi-query); -1 where it is not modelled:
    ALiBi, the multi-head layout whose q, k and v are views of the fused output, flash_attention_2 (its own
    class)."""
    if attributes.get("alibi") or attention == "flash" or dims.heads is None:
        return -1
    if attributes.get("new_decoder_architecture"):
        return dims.heads
    return 1 if dims.kv_heads == 1 and dims.heads > 1 else -1


def _head_outputs(tree: Module, model_type: str) -> int:
    """The outputs of a BERT-like encoder's head: the vocabulary (ALBERT's decoder, tied to the embeddings), or
    ELECTRA's one logit per token; a vision transformer's classes; 0 without the head."""
    path = ENCODERS[model_type].head[3] if model_type in ENCODERS else VISION[model_type].head
    parent, _, name = path.rpartition(".")
    return _width(_at(tree, parent), name) or 0


def _embedding_width(tree: Module, dims: TransformerDims) -> int:
    """The width of a BERT-like encoder's embeddings (``bert.embeddings.word_embeddings``): h, or ELECTRA's
    ``embedding_size``."""
    base = dims.stack.removesuffix(ENCODERS[str(dict(tree.attributes).get("model_type"))].stack)
    table = _param(_at(tree, f"{base}embeddings.word_embeddings"), "weight")
    return table.sizes[1] if table is not None and len(table.shape) == 2 else dims.hidden


def _rotary_dims(tree: Module, stack: str) -> int | None:
    """The rotary dimensions of each head from the rotary table beside ``stack`` (``model.rotary_emb`` for
    ``model.layers``): twice its frequencies, or the width of GPT-J's sin/cos table; None without one (a rope type
    other than the default)."""
    rotary = _at(tree, stack.rsplit(".", 1)[0] + ".rotary_emb") if "." in stack else None
    for buffer in rotary.buffers if rotary else ():
        if buffer.name == "inv_freq" and len(buffer.shape) == 1:
            return 2 * buffer.sizes[0]
        if buffer.name == "embed_positions" and len(buffer.shape) == 2:
            return buffer.sizes[1]
    return None


def _latent(block: Module, dims: TransformerDims) -> tuple[int, int, int]:
    """Multi-head latent attention's q, l and u (``_Sizes``); zeros for another attention."""
    attention = _child(block, "self_attn")
    if _child(attention, "kv_a_proj_with_mqa") is None or not (dims.kv_lora_rank and dims.heads):
        return 0, 0, 0
    return _width(attention, "q_a_proj") or 0, dims.kv_lora_rank, dims.value_width // dims.heads


def _layer_input(out: _Builder, stack: str) -> _Term:
    """A layer's input hidden states: what gradient checkpointing keeps of each layer of ``stack``."""
    out.add("layer.input", stack, "the layer's input hidden states (checkpoint)", "b·s·h", "compute", "sequence")
    return out.found[-1]


def _assumptions(
    structure: str,
    settings: _Settings,
    kernel: str,
    sizes: _Sizes,
    head: tuple[str, int],
    *,
    encoder: LayerStack | None = None,
    source_given: bool = False,
    alone: bool = False,
) -> tuple[Assumption, ...]:
    run = {"structure": structure, "attention": settings.attention, "kernel": kernel, "dtype": settings.dtype}
    widths = {"hidden": sizes.h, "heads": sizes.a, "kv_heads": sizes.k, "head_dim": sizes.d, "width": sizes.i}
    shape = {"batch": sizes.b, "seq_len": sizes.s, **widths, "embedding_width": sizes.w}
    dropouts = {"attention_dropout": settings.attention_dropout, "hidden_dropout": settings.hidden_dropout}
    notes = [
        Assumption.of("activations-layers", **run, **shape, head=head[0], outputs=head[1]),
        Assumption.of(
            "activations-function",
            function=settings.act,
            **dropouts,
            activation_dropout=settings.activation_dropout,
            bool_masks=settings.kernels == "cuda" and _dropout(settings),
        ),
    ]
    if structure in GPT2_LIKE and GPT2_LIKE[structure].nested_dropouts:
        notes.append(Assumption.of("activations-nested-dropouts"))
    if encoder is not None:
        values = {"encoder_layers": encoder.layers, "source": sizes.s, "mel_bins": sizes.m, "target": sizes.t}
        notes.append(Assumption.of("activations-encoder-decoder", **values, source_given=source_given))
    if alone:
        notes.append(Assumption.of("activations-decoder-alone"))
    if sizes.e:
        shared = {"shared_width": sizes.j, "several_shared": bool(settings.router)}
        notes.append(Assumption.of("activations-moe", experts=sizes.e, per_token=sizes.r, **shared))
    if sizes.l:
        latent = {"query_latent": sizes.q, "kv_latent": sizes.l, "head_dim": sizes.d, "rotary_dims": sizes.p}
        no_flash = settings.unequal_heads and settings.attention == "sdpa"
        notes.append(
            Assumption.of("activations-latent", **latent, value_head_dim=sizes.u, no_flash=no_flash, kernel=kernel)
        )
    if kernel == "memory-efficient" and structure == "t5":
        notes.append(Assumption.of("activations-t5-memory-efficient"))
    elif settings.attention == "flash" or kernel == "flash":
        notes.append(Assumption.of("activations-flash-rng"))
    return tuple(notes)


def _image_tokens(tree: Module, sizes: _Sizes) -> tuple[Assumption, ...]:
    """A vision transformer's tokens: its s image tokens, patches and any class token, from an image of n values."""
    patches = image_patches(tree, sizes.s)
    return (Assumption.of("activations-image-tokens", tokens=sizes.s, patches=patches, image_values=sizes.n),)


def _speech_frames(tree: Module, stack: str, sizes: _Sizes) -> tuple[Assumption, ...]:
    """A speech encoder's s frames from its y samples, its CTC labels and LayerDrop (``_speech``)."""
    speech = _speech(tree, stack)
    layerdrop, ctc = (speech.layerdrop, speech.head) if speech is not None else (0.0, False)
    frames = {"samples": sizes.y, "convolutions": len(_convolutions(tree, stack)), "frames": sizes.s}
    return (Assumption.of("activations-speech", **frames, ctc=ctc, layerdrop=layerdrop),)


def _divided(tensor: SavedTensor, tp: int, sequence_parallel: bool) -> int:
    if tensor.split in ("tensor", "vocab") or (tensor.split == "sequence" and sequence_parallel):
        return -(-tensor.bytes // tp)
    return tensor.bytes


def activation_items(plan: ActivationPlan, *, tp: int = 1, sequence_parallel: bool = False) -> tuple[MemoryItem, ...]:
    """The plan as memory lines on one device: each per-layer tensor × layers (or, with checkpointing, the
    layers' inputs and one layer's tensors while it is recomputed: an encoder-decoder's larger one), then those
    outside the layers. With ``tp`` > 1 the bytes follow Megatron's split (``MEGATRON_SPLIT``), an estimate."""
    exact = tp == 1
    items = []

    def line(label: str, tensor: SavedTensor, copies: int = 1) -> MemoryItem:
        bits = BITS[tensor.dtype] if exact else 0
        bytes_ = copies * _divided(tensor, tp, sequence_parallel)
        # every field given in order (per: one element): the record's positional fast path, ~30 lines a plan
        return MemoryItem(label, copies * tensor.elements, bits, bytes_, 1, "activations", exact)

    stacks = [("encoder ", plan.encoder), ("decoder " if plan.encoder else "", plan.decoder)]
    for name, stack in stacks:
        if stack is None:
            continue
        layers = stack.layers
        if plan.checkpointing:
            kept = stack.layer_input
            label = f"{name}layer inputs kept by checkpointing: {layers} × {kept.shape} ({kept.dtype})"
            items.append(line(label, kept, layers))
        else:
            items.extend(
                line(f"{name}{stack.copies(tensor)} layers × {_label(tensor)}", tensor, stack.copies(tensor))
                for tensor in stack.per_layer
            )
    if plan.checkpointing:
        name, largest = max(
            ((name, stack) for name, stack in stacks if stack is not None), key=lambda found: found[1].per_layer_bytes
        )
        items.extend(line(f"recomputed {name}layer: {_label(tensor)}", tensor) for tensor in largest.largest)
    items.extend(line(_label(tensor), tensor) for tensor in plan.model)
    return tuple(items)


def _label(tensor: SavedTensor) -> str:
    held = "" if tensor.saved else ", held by the model's output, not saved for backward"
    only = f", {tensor.only} layers" if tensor.only else ""
    return f"{tensor.key}: {tensor.shape} ({tensor.dtype}{held}{only})"
