"""Compute: MACs and FLOPs per module under a stated convention, and the standard training estimates.

Why a convention at all: "FLOPs" is counted three different ways in the wild (MACs called FLOPs, 2 × MACs,
or every elementwise op too). paramcount counts what ``torch.utils.flop_counter.FlopCounterMode`` counts,
so a number here can be checked against torch on a real forward pass:

- only matrix products and convolutions (``mm``, ``addmm``, ``bmm``, ``baddbmm``, ``convolution``, the
  attention products): 2 FLOPs per multiply-accumulate (torch/utils/flop_counter.py: ``mm_flop`` is
  ``m * n * k * 2``, ``conv_flop_count`` ends in ``* 2``);
- bias additions are not counted (``addmm_flop`` is ``mm_flop`` of the product alone), nor activations,
  normalisation, pooling, softmax, dropout, embedding lookups, padding or resampling.

Where our count and FlopCounterMode's differ on the CPU (torch 2.13), the cause is a kernel that
FlopCounterMode has no formula for, not a different convention; tests/analysis/test_flops.py pins each:

- ``LSTM`` without ``proj_size`` runs oneDNN's ``mkldnn_rnn_layer``, which FlopCounterMode counts as 0;
  with oneDNN disabled (or with ``proj_size``) torch runs the gate matmuls as ``addmm`` and the counts agree.
- ``TransformerEncoderLayer`` calls ``scaled_dot_product_attention``, whose CPU kernel
  (``_scaled_dot_product_flash_attention_for_cpu``) FlopCounterMode counts as 0; with the math backend
  (``SDPBackend.MATH``) the two attention products appear as ``bmm`` and the counts agree.
- In eval mode without gradients, ``TransformerEncoderLayer`` with ``batch_first=True`` takes torch's fused
  fast path (``_transformer_encoder_layer_fwd``), which FlopCounterMode also counts as 0.
- ``Bilinear`` (``_trilinear``) is counted as 0 by FlopCounterMode; paramcount does not model it (two inputs).

The training estimate ``6 · N · D`` is Kaplan et al. 2020, "Scaling Laws for Neural Language Models"
(arXiv:2001.08361), §2.1, Table 1: forward ≈ 2·N FLOPs per token, backward ≈ twice the forward; Hoffmann et
al. 2022 ("Chinchilla", arXiv:2203.15556) use the same ``C ≈ 6ND``. It ignores attention's
sequence-length term and is an estimate, labelled as one.
"""

from __future__ import annotations

import math

from paramcount._cache import per_tree
from paramcount._record import Record
from paramcount.analysis.memory import Assumption
from paramcount.analysis.shapes.types import ShapeReport, ShapeStep
from paramcount.errors import ParamcountError
from paramcount.tree import Module, iter_modules_collapsed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "FLOPS_PER_MAC",
    "MATMUL_CONVENTION",
    "FlopsEstimate",
    "FlopsReport",
    "ModuleFlops",
    "estimated_tokens",
    "flops",
    "forward_estimate",
    "forward_flops",
    "image_positions",
    "macs_step",
    "training_estimate",
    "training_flops",
]

FLOPS_PER_MAC: Final = 2
"""One multiply-accumulate is a multiplication and an addition (FlopCounterMode's ``* 2``)."""

MATMUL_CONVENTION: Final = (
    "matmul FLOPs (the torch.utils.flop_counter.FlopCounterMode convention): matrix products and "
    "convolutions only, 2 FLOPs per multiply-accumulate; bias additions, activations, normalisation, pooling, "
    "softmax and other elementwise operations are not counted"
)

_CONVOLUTIONS: Final = frozenset({"Conv1d", "Conv2d", "Conv3d"})
"""Layers that read channels over a grid (an image, a signal, a volume): a model whose first layer is one reads no
token ids."""

TRAINING_SOURCE: Final = (
    "Kaplan et al. 2020, Scaling Laws for Neural Language Models (arXiv:2001.08361), §2.1; "
    "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models (arXiv:2203.15556)"
)


class ModuleFlops(Record):
    """One row of a ``ShapeReport`` seen as compute. ``macs``/``flops`` per copy, children included."""

    path: str
    kind: str
    times: int
    macs: int | None
    flops: int | None


class FlopsReport(Record):
    """The compute of one forward pass: per module and in total, with the convention as data."""

    per_module: tuple[ModuleFlops, ...]
    total_macs: int
    total_flops: int
    convention: str
    is_complete: bool
    """False when some module is not modelled: the totals are then lower bounds."""


class FlopsEstimate(Record):
    """A labelled rule-of-thumb figure: ``flops = symbolic = substituted``, with its source."""

    flops: int
    symbolic: str
    substituted: str
    source: str
    label: str = "estimate"


def flops(report: ShapeReport) -> FlopsReport:
    """The compute view of a shape report (MACs and FLOPs per module and in total).

    Args:
        report: what ``paramcount.analysis.shapes.propagate`` returned.

    Returns:
        A ``FlopsReport`` under ``MATMUL_CONVENTION``.
    """
    rows = tuple(
        ModuleFlops(module.path, module.kind, module.times, module.macs, module.flops) for module in report.modules
    )
    return FlopsReport(rows, report.total_macs, report.total_flops, report.convention, report.is_complete)


def macs_step(symbols: tuple[str, ...], values: tuple[int, ...]) -> tuple[int, ShapeStep]:
    """MACs as a product of named factors, with its arithmetic: ``N·out_features·in_features``."""
    total = math.prod(values)
    step = ShapeStep("·".join(symbols), "·".join(str(value) for value in values), total, "MACs")
    return total, step


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParamcountError(f"{name} must be a non-negative integer, got {value!r}")


def training_flops(parameters: int, tokens: int) -> int:
    """Training compute ≈ 6 · N · D FLOPs (forward 2·N·D + backward 4·N·D), Kaplan et al. 2020.

    Args:
        parameters: N, the parameters used per token: all of them for a dense model, the *active* ones for
            a mixture of experts (Kaplan et al. count non-embedding parameters; say which you pass).
        tokens: D, the number of training tokens.

    Returns:
        The estimate in FLOPs (an int; it is a rule of thumb, not an exact count).

    Raises:
        ParamcountError: a negative or non-integer argument.
    """
    return training_estimate(parameters, tokens).flops


def forward_flops(parameters: int, tokens: int) -> int:
    """Forward (inference) compute ≈ 2 · N · D FLOPs: one multiply-accumulate per parameter per token.

    Args:
        parameters: N, the parameters used per token (active parameters for a mixture of experts).
        tokens: D, the number of tokens processed.

    Returns:
        The estimate in FLOPs.

    Raises:
        ParamcountError: a negative or non-integer argument.
    """
    return forward_estimate(parameters, tokens).flops


def training_estimate(parameters: int, tokens: int, *, which: str = "", symbol: str = "N") -> FlopsEstimate:
    """``training_flops`` with its formula, numbers and source, for a report. ``which`` says what N counts
    ("non-embedding parameters"); ``symbol`` names it in the formula (``N_all`` beside Kaplan's ``N``)."""
    return _estimate(6, parameters, tokens, "training compute", which, symbol)


def forward_estimate(parameters: int, tokens: int, *, which: str = "", symbol: str = "N") -> FlopsEstimate:
    """``forward_flops`` with its formula, numbers and source, for a report (``which``, ``symbol``: as for
    ``training_estimate``)."""
    return _estimate(2, parameters, tokens, "forward compute", which, symbol)


def _estimate(factor: int, parameters: int, tokens: int, what: str, which: str, symbol: str) -> FlopsEstimate:
    _check_count("parameters", parameters)
    _check_count("tokens", tokens)
    counted = f", {symbol} = {which}" if which else ""
    return FlopsEstimate(
        flops=factor * parameters * tokens,
        symbolic=f"{factor} · {symbol} · D",
        substituted=f"{factor} · {parameters} · {tokens}",
        source=TRAINING_SOURCE,
        label=f"{what} ≈ {factor} · {symbol} · D{counted} (estimate)",
    )


def estimated_tokens(
    tree: Module, seq_len: int, batch: int, *, images: int | None = None, plan_reads_sequence: bool = False
) -> tuple[int, Assumption | None]:
    """D of the token estimates (``2·N·D``, ``6·N·D``) for ``batch`` sequences of ``seq_len`` tokens, and why D
    is not their product where it is not.

    A model whose input is token ids (``SEQUENCE_INPUTS``), or whose first layer reads vectors (a transformer or
    recurrent layer, a checkpoint's embedding table), runs the tokens asked for. One whose first layer is a
    convolution reads an image or a signal, whose positions the input decides: a vision transformer runs its
    image's patches and any class token (the activation planner's count; ``images`` of them, the batch of an input
    shape given, else ``batch``), any other (a CNN, an audio model's feature encoder) gets no estimate (D = 0).
    ``plan_reads_sequence``: the memory plan took ``seq_len`` as its sequence (an activation estimate), which the
    reason then says."""
    first = _image_layer(tree)
    if first is None:
        return seq_len * batch, None
    positions, patches = _image_positions(tree)
    if positions:
        images = batch if images is None else images
        basis = Assumption.of(
            "compute-image-positions", positions=positions, patches=patches, images=images, seq_len=seq_len
        )
        return positions * images, basis
    path, layer = first
    channels = next((param.shape[1].value for param in layer.params if param.name == "weight"), 0)
    reason = Assumption.of(
        "compute-no-tokens",
        model=tree.kind,
        layer=path or "the root",
        layer_kind=layer.kind,
        channels=channels,
        seq_len=seq_len,
        plan_reads_sequence=plan_reads_sequence,
    )
    return 0, reason


def _image_layer(tree: Module) -> tuple[str, Module] | None:
    """The first layer of a model that reads an image or a signal (a convolution, not token ids), else None."""
    from paramcount.analysis.shapes.propagate import SEQUENCE_INPUTS  # the shapes import this module

    first = _first_layer(tree)
    return None if tree.kind in SEQUENCE_INPUTS or first is None or first[1].kind not in _CONVOLUTIONS else first


def image_positions(tree: Module) -> tuple[int, int]:
    """The positions per image that the layers of a model reading an image run, and the image's patches among them
    (``_image_positions``), whatever the sequence length asked for; (0, 0) for a model that reads tokens, or one
    whose positions are not known."""
    return _image_positions(tree) if _image_layer(tree) is not None else (0, 0)


def _first_layer(tree: Module) -> tuple[str, Module] | None:
    """The first layer holding parameters in torch's module order: the one that reads the input."""
    return next(
        ((path, module) for path, module, _ in iter_modules_collapsed(tree) if module.params and not module.children),
        None,
    )


@per_tree
def _image_positions(tree: Module) -> tuple[int, int]:
    """The positions a vision transformer's layers run per image, its patches and any class token (its position
    table's rows), and its patches: as the activation planner counts them (ViT, DINOv2, CLIP's tower), or a CLIP or
    SigLIP vision tower's (``embeddings`` with a ``position_embedding`` table and a convolution ``patch_embedding``
    before its ``encoder.layers``, a ``class_embedding`` where it has a class token); (0, 0) for any other model."""
    from paramcount.analysis.planner import transformer_dimensions
    from paramcount.analysis.planner.activations import activation_plan, image_patches

    dims = transformer_dimensions(tree)
    plan = None if dims is None else activation_plan(tree, dims, batch=1, seq_len=1, dtype="float32")
    if plan is not None and plan.structure == "vit":
        return plan.seq_len, image_patches(tree, plan.seq_len)
    if dims is None or not dims.stack.endswith("encoder.layers"):
        return 0, 0
    embeddings: Module | None = tree
    for name in (*dims.stack.removesuffix("encoder.layers").split(".")[:-1], "embeddings"):
        embeddings = next((child for child in embeddings.children if child.name == name), None) if embeddings else None
    if embeddings is None:
        return 0, 0
    parts = {child.name: child for child in embeddings.children}
    table, patches = parts.get("position_embedding"), parts.get("patch_embedding")
    if table is None or patches is None or patches.kind not in _CONVOLUTIONS:
        return 0, 0
    rows = next((param.shape[0].value for param in table.params if param.name == "weight"), 0)
    class_token = any(param.name == "class_embedding" for param in embeddings.params)
    return rows, rows - class_token
