"""Steps and leaf rules shared by the dataflows of Hugging Face transformers' model classes
(``decoders.py``, ``encoders.py``, ``seq2seq.py``), each as ``forward`` in
``transformers/models/<family>/modeling_<family>.py`` (transformers 5.24) reads it, for a forward pass without a
cache (a prefill, or a training step): the input is token ids of shape (batch, sequence).

Attention is counted as the eager implementation computes it (``attn_implementation="eager"``): ``Q·Kᵀ`` and
``attention·V`` as matrix products over every query and key position, with key/value heads expanded to the
query heads (``repeat_kv``); a causal or sliding-window mask is applied to the full product, so it changes no
count (``ShapeReport.masked_macs`` says how much of it falls on causally masked positions). Rotary embeddings
multiply elementwise in 5.24 (no matrix product). Mixture-of-experts layers count each token through its
``num_experts_per_tok`` routed experts (transformers' eager experts loop runs each expert on its own tokens
only), plus the router's logits and any shared expert.

Kinds are registered per family prefix: transformers copies one class per family (``LlamaAttention``,
``Qwen2Attention`` …), and the families that share a computation share a dataflow. torchvision's Swin and MaxViT
attention (``vision.py``) is the same fused computation as ``fused_attention``'s, and uses it.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.analysis.flops import macs_step
from paramcount.analysis.shapes.common import NotModelledError, elements, int_arg
from paramcount.analysis.shapes.flow import (
    Map,
    Step,
    Tally,
    add,
    attention,
    child_of,
    dataflow,
    last_size,
    member,
    merge_heads,
    param_sizes,
    reshape,
    run,
    split_heads,
)
from paramcount.analysis.shapes.types import Flow, Outcome, ShapeStep, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.flow import Values
    from paramcount.analysis.shapes.types import Call, Rule, Shape

__all__ = [
    "ANSWER_SPAN",
    "LAST_TOKEN_SCORE",
    "POOLED_CLASSIFIER",
    "TOKEN_CLASSIFIER",
    "Flat",
    "Unflat",
    "conv1d",
    "embedding_subclass",
    "expert_products",
    "experts",
    "fits",
    "heads",
    "hidden_first_experts",
    "in_features",
    "last_token",
    "parallel_layer",
    "parameterless_norm",
    "post_norm",
    "pre_norm",
    "pre_norm_layer",
    "residual",
    "rms_norm",
    "rotary",
    "router",
    "self_attention",
    "split",
    "start_end",
    "tokens",
]

# --- steps of the transformers models ------------------------------------------------------------------------


class _Tokens(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        if flow is not None and len(flow.shape) != 2:
            raise call.fail(f"expects token ids of shape (batch, sequence), got {format_shape(flow.shape)}")


def tokens() -> Step:
    """The model's input is token ids, (batch, sequence)."""
    return _Tokens()


class _Fits(Step):
    table: str
    offset: int

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow, table = values["x0"], child_of(call.module, self.table)
        if flow is None or table is None or len(flow.shape) < 2:
            return
        rows = int_arg(table, "num_embeddings")
        length = flow.shape[1]
        if length + self.offset > rows:
            offset = f" + {self.offset} (the offset of its positions)" if self.offset else ""
            failure = call.fail(f"reads positions 0 to {length - 1}{offset} from {self.table}, which has {rows} rows; "
                                f"the sequence length {length} is too long")  # fmt: skip
            failure.positions = rows - self.offset
            raise failure


def fits(table: str, offset: int = 0) -> Step:
    """A learned position table (``wpe``, ``position_embeddings``) must hold every position of the sequence:
    torch's embedding lookup refuses an index past its rows."""
    return _Fits(table, offset)


class _Split(Step):
    source: str
    targets: tuple[str, ...]
    first_from: str
    """A child that reads the first part: its width is the first part's (Phi-3's ``o_proj`` gives the query
    width, DeepSeek's ``kv_a_layernorm`` the compressed key/value width); the rest is split evenly. Empty:
    every part is equal."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values[self.source]
        if flow is None:
            values.update(dict.fromkeys(self.targets))
            return
        width = flow.shape[-1]
        parts = len(self.targets)
        if self.first_from:
            first = in_features(call, self.first_from)
            rest, remainder = divmod(width - first, parts - 1)
            widths = (first, *(rest for _ in range(parts - 1)))
        else:
            widths = tuple(width // parts for _ in range(parts))
            remainder = width % parts
        if remainder or min(widths) < 0:
            raise call.fail(f"cannot split width {width} into {', '.join(self.targets)}")
        for target, size in zip(self.targets, widths, strict=True):
            values[target] = Flow((*flow.shape[:-1], size), grad=flow.grad)


def split(source: str, *targets: str, first_from: str = "") -> Step:
    """``source.split(…, dim=-1)`` (a fused q/k/v projection) or ``.chunk(n, dim=-1)``."""
    return _Split(source, targets, first_from)


def in_features(call: Call, name: str) -> int:
    """The width child ``name`` reads: a linear layer's ``in_features``, a norm's weight size."""
    child = child_of(call.module, name)
    if child is None:
        raise NotModelledError(f"it has no member {name!r}")
    return int_arg(child, "in_features") if child.args else last_size(child)


def _last(call: Call, shape: Shape) -> Shape:
    if len(shape) != 3:
        raise call.fail(f"pools the last token of a (batch, sequence, labels) output, got {shape}")
    return (shape[0], shape[2])


def last_token() -> Step:
    """``logits[arange(batch), last_non_pad_token]``: a sequence classifier scores every token, keeps one."""
    return reshape(_last)


class _StartEnd(Map):
    def map(self, call: Call, flow: Flow) -> Flow:
        if flow.shape[-1] != 2:
            raise call.fail(f"splits its logits into start and end, got {format_shape(flow.shape)}")
        shape = flow.shape[:-1]
        return Flow(shape, (("end_logits", shape),), grad=flow.grad)


class _Choices(Map):
    def map(self, call: Call, flow: Flow) -> Flow:
        if len(flow.shape) != 3:
            raise call.fail(f"expects token ids (batch, choices, sequence), got {format_shape(flow.shape)}")
        return Flow((flow.shape[0] * flow.shape[1], flow.shape[2]))


class _PerChoice(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow, ids = values["x"], values["x0"]
        if flow is not None and ids is not None:
            if flow.shape != (elements(ids.shape[:2]), 1):
                raise call.fail(f"reads one logit per choice, got {format_shape(flow.shape)}")
            values["x"] = Flow(ids.shape[:2], grad=flow.grad)


LAST_TOKEN_SCORE: Final = (run("score"), last_token())
"""A decoder's sequence classifier: ``score`` on every token, then the last non-pad token's logits."""
TOKEN_CLASSIFIER: Final = (run("classifier"),)
"""A token classifier: ``classifier(dropout(hidden))`` on every token."""


def start_end() -> Step:
    """``logits.split(1, dim=-1)``, squeezed: question answering's (…, 2) scores as start and end logits."""
    return _StartEnd("x", "x")


ANSWER_SPAN: Final = (run("qa_outputs"), start_end())
"""Extractive question answering: ``qa_outputs`` scores every token (…, 2), split into start and end logits."""
POOLED_CLASSIFIER: Final = (member("pooler_output"), run("classifier"))
"""``classifier(dropout(outputs.pooler_output))``: BERT's pooler (the first token, dense, tanh), then a Linear."""


def heads(prefix: str, base: str, **layouts: tuple[Step, ...]) -> dict[str, Rule]:
    """The rules of ``<prefix><head>`` for each head that ``layouts`` names (``ForSequenceClassification=…``): the
    token ids (batch, sequence) through ``self.<base>``, then the head's steps. ``ForMultipleChoice`` reads token
    ids (batch, choices, sequence), as transformers documents it: flattened to (batch·choices, sequence) for the
    base model, its one logit per sequence viewed as (batch, choices)."""
    rules: dict[str, Rule] = {}
    for head, steps in layouts.items():
        if head == "ForMultipleChoice":
            rules[prefix + head] = dataflow(_Choices("x0", "x"), run(base), *steps, _PerChoice())
        else:
            rules[prefix + head] = dataflow(tokens(), run(base), *steps)
    return rules


def residual(*modules: str) -> tuple[Step, ...]:
    """``x = x + modules[-1](…modules[0](x))``: a residual branch, its modules in turn (an empty name is a module
    the family does not have)."""
    first, *rest = (name for name in modules if name)
    return (run(first, "x", "y"), *(run(name, "y") for name in rest), add("x", "x", "y", what="add the residual"))


def pre_norm(*sublayers: tuple[str, ...]) -> tuple[Step, ...]:
    """``x = x + sublayer(norm(x))`` for each ``(norm, sublayer, …)`` in turn: a pre-norm layer's residual stream
    (the modules after the norm run in order: OPT's ``fc1``, ``fc2``; DINOv2's attention, then its layer scale)."""
    return tuple(step for modules in sublayers for step in residual(*modules))


def post_norm(*sublayers: tuple[str, ...]) -> tuple[Step, ...]:
    """``x = norm(x + sublayer(x))`` for each ``(sublayer, …, norm)`` in turn: a post-norm layer."""
    return tuple(step for *modules, norm in sublayers for step in (*residual(*modules), run(norm)))


# --- rules of leaves that the modelling code defines ------------------------------------------------------------


def rms_norm(call: Call, flow: Flow) -> Outcome:
    """``LlamaRMSNorm`` and its copies (Gemma's ``1 + weight``, T5's ``T5LayerNorm``): normalise the last
    dimension, the size of ``weight``."""
    size = last_size(call.module)
    if not flow.shape or flow.shape[-1] != size:
        raise call.fail(f"normalises a last dimension of {size} (its weight), got {format_shape(flow.shape)}")
    return Outcome(Flow(flow.shape, grad=flow.grad))


def conv1d(call: Call, flow: Flow) -> Outcome:
    """GPT-2's ``Conv1D``: ``addmm(bias, x.view(-1, nx), weight)`` with weight (nx, nf) — a linear layer with
    the weight transposed."""
    inputs, outputs = param_sizes(call.module, "weight")
    if not flow.shape or flow.shape[-1] != inputs:
        raise call.fail(f"expects {inputs} input features (nx, the last dimension), got {format_shape(flow.shape)}")
    rows = elements(flow.shape[:-1])
    macs, step = macs_step(("rows", "nx", "nf"), (rows, inputs, outputs))
    return Outcome(Flow((*flow.shape[:-1], outputs)), macs, (step,), "rows = product of the leading dimensions")


def rotary(call: Call, flow: Flow) -> Outcome:
    """``LlamaRotaryEmbedding.forward``: ``position_ids[..., None] * inv_freq``, concatenated with itself, cos
    and sin: (1, L, 2·len(inv_freq)) each; elementwise, no MACs."""
    frequencies = [buffer for buffer in call.module.buffers if buffer.name.endswith("inv_freq")]
    if not frequencies:
        raise NotModelledError("it has no inv_freq buffer")
    shape = (*flow.shape, 2 * frequencies[0].sizes[0])
    return Outcome(Flow(shape, (("sin", shape),)), 0, (), "cos and sin of the positions times inv_freq")


def experts(call: Call, flow: Flow) -> Outcome:
    """Fused experts (``MixtralExperts`` and its copies): each of the T tokens runs through ``experts_per_token``
    experts, each ``gate_up_proj`` (2·I × H) then ``down_proj`` (H × I); transformers' eager loop gathers each
    expert's tokens, so exactly T·k token-expert pairs are multiplied."""
    return _experts(call, flow, hidden_first=False)


def hidden_first_experts(call: Call, flow: Flow) -> Outcome:
    """``GptOssExperts``: the same loop over the routed tokens with the weights stored the other way round,
    ``gate_up_proj`` (H × 2·I) and ``down_proj`` (I × H), multiplied as ``x @ weight`` (plus a bias per expert)."""
    return _experts(call, flow, hidden_first=True)


def _experts(call: Call, flow: Flow, *, hidden_first: bool) -> Outcome:
    attributes = dict(call.module.attributes)
    count, active = attributes.get("num_experts"), attributes.get("experts_per_token")
    if not isinstance(count, int) or not isinstance(active, int):
        raise NotModelledError("its num_experts and experts_per_token are not known")
    macs, step = expert_products(call, flow, active, "experts_per_token", hidden_first=hidden_first)
    call.saved(0)  # each expert's output times its routing weight saves both, after the last product
    return Outcome(Flow(flow.shape), macs, (step,), f"{active} of {count} experts per token (the active count)")


def expert_products(call: Call, flow: Flow, passes: int, what: str, *, hidden_first: bool) -> tuple[int, ShapeStep]:
    """The MACs of ``passes`` (named ``what``) expert passes per row of the (rows, hidden) input through
    ``gate_up_proj`` and ``down_proj``, and the step that shows them."""
    sizes = param_sizes(call.module, "gate_up_proj")[1:]
    hidden, double_width = sizes if hidden_first else sizes[::-1]
    if len(flow.shape) != 2 or flow.shape[1] != hidden:
        raise call.fail(f"expects (tokens, {hidden}) hidden states, got {format_shape(flow.shape)}")
    width = double_width // 2
    macs, step = macs_step(
        ("tokens", what, "(2·intermediate·hidden + hidden·intermediate)"), (flow.shape[0], passes, 3 * width * hidden)
    )
    return macs, replace(step, name="MACs (routed experts)")


def router(call: Call, flow: Flow) -> Outcome:
    """A top-k router: ``F.linear(hidden_states, weight)`` gives the logits (T, experts); the top-k choice and
    its weights are not products."""
    experts, hidden = param_sizes(call.module, "weight")
    if not flow.shape or flow.shape[-1] != hidden:
        raise call.fail(f"expects {hidden} features, got {format_shape(flow.shape)}")
    rows = elements(flow.shape[:-1])
    macs, step = macs_step(("tokens", "hidden", "experts"), (rows, hidden, experts))
    return Outcome(Flow((*flow.shape[:-1], experts)), macs, (replace(step, name="MACs (router logits)"),))


class Flat(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        if flow is not None:
            values["x"] = Flow((elements(flow.shape[:-1]), flow.shape[-1]), grad=flow.grad)


def _unflat(call: Call, values: Values) -> None:
    flow, shape = values["x"], values["x0"]
    if flow is not None and shape is not None:
        values["x"] = Flow(shape.shape, grad=flow.grad)


class Unflat(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        _unflat(call, values)


def self_attention(
    query: str,
    key: str,
    value: str,
    output: str,
    *,
    norms: tuple[str, str] = ("", ""),
    causal: bool = True,
    note: str = "",
) -> Rule:
    """q, k, v projections of the input (per-head norms when the module has them), attention (causal, or over
    every position for an encoder), output projection."""
    steps: list[Step] = [run(query, "x0", "q"), run(key, "x0", "k"), run(value, "x0", "v")]
    for name, tensor in zip(norms, ("q", "k"), strict=True):
        if name:
            steps += [split_heads(tensor, name), run(name, tensor, optional=True), merge_heads(tensor, name)]
    return dataflow(*steps, attention(causal=causal), run(output), note=note)


def fused_attention(
    projection: str, output: str, *, order: str = "qkv", first_from: str = "", causal: bool = True, note: str = ""
) -> Rule:
    """One projection of the input split into query, key and value (``order``: how its output lays them out;
    ``first_from`` as in ``split``), attention (causal, or over every position for an encoder), output
    projection."""
    steps = (run(projection), split("x", *order, first_from=first_from), attention(causal=causal), run(output))
    return dataflow(*steps, note=note)


def pre_norm_layer(
    norm1: str, attention_: str, norm2: str, mlp: str, *, after: tuple[str, str] = ("", ""), note: str = ""
) -> Rule:
    """``x + attention(norm1(x))``, then ``x + mlp(norm2(x))``: the pre-norm transformer layer. ``after`` names
    the norms some families apply to a sublayer's output before its residual (Gemma 2/3's sandwich, GLM-4);
    an empty name is a norm the family does not have (OLMo 2 normalises only after)."""
    return dataflow(*pre_norm((norm1, attention_, after[0]), (norm2, mlp, after[1])), note=note)


def parallel_layer(norms: tuple[str, str], attention_: str, mlp: str, *, note: str, norms_first: bool = False) -> Rule:
    """``x + attention(norm1(x)) + mlp(norm2(x))``: attention and MLP side by side on the same input (one norm
    when both names are the same); ``norms_first``: both norms run before either sublayer."""
    first, second = norms
    if first == second:
        steps = [run(first, "x0", "h"), run(attention_, "h", "a"), run(mlp, "h", "m")]
    elif norms_first:
        steps = [run(first, "x0", "h"), run(second, "x0", "g"), run(attention_, "h", "a"), run(mlp, "g", "m")]
    else:
        steps = [run(first, "x0", "h"), run(attention_, "h", "a"), run(second, "x0", "g"), run(mlp, "g", "m")]
    return dataflow(*steps, add("x", "a", "m"), add("x", "x", "x0", what="add the residual"), note=note)


def parameterless_norm(call: Call, flow: Flow) -> Outcome:
    """``OlmoLayerNorm``: ``F.layer_norm`` without weight or bias over the last dimension; no MACs."""
    return Outcome(Flow(flow.shape, grad=flow.grad))


def embedding_subclass(call: Call, flow: Flow) -> Outcome:
    """A subclass of ``nn.Embedding`` (Gemma's scaled embedding multiplies by a scalar: no MACs)."""
    return Outcome(Flow((*flow.shape, int_arg(call.module, "embedding_dim"))), 0, (), "the input holds token ids")
