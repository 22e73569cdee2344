"""The ordered content of an answer as titled blocks; text, Markdown and HTML only format them."""

from __future__ import annotations

from paramcount._cache import per_frozen
from paramcount._record import Record
from paramcount._words import noun
from paramcount.analysis.explain import Explanation, ModuleFormula, Term
from paramcount.analysis.memory import MemoryItem
from paramcount.analysis.shapes.types import ShapeReport
from paramcount.analysis.structure import ModuleRow
from paramcount.provenance import FromConfig, FromExpression, FromFile, FromModule, FromZoo, WeightDifference
from paramcount.render.assumptions import assumption_text, dtype_reason, dtype_why, stored_as
from paramcount.render.code import expression_text, program_text
from paramcount.render.readings import reading_text
from paramcount.render.units import byte_sizes, integer, sizes_equal
from paramcount.report import Appearance, Comparison, Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.counts import Counts
    from paramcount.analysis.memory import DtypeChoice, DtypeTotal, FormatMemory
    from paramcount.analysis.planner import MemoryPlan
    from paramcount.analysis.structure import Block as ShareBlock
    from paramcount.calls import Call, Container
    from paramcount.provenance import Provenance

__all__ = [
    "CLI_HINTS",
    "LIBRARY_HINTS",
    "WEB_HINTS",
    "Code",
    "Hints",
    "Lines",
    "Paragraph",
    "Section",
    "Segment",
    "Table",
    "sections",
]


class Segment(Record):
    text: str
    style: str = ""


class Paragraph(Record):
    segments: tuple[Segment, ...]


class Lines(Record):
    """Preformatted lines (arithmetic), each a tuple of segments."""

    lines: tuple[tuple[Segment, ...], ...]


class Table(Record):
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    right_aligned: frozenset[int] = frozenset()


class Code(Record):
    text: str
    language: str = "python"


Block = Paragraph | Lines | Table | Code


class Section(Record):
    key: str
    title: str
    blocks: tuple[Block, ...]


class Hints(Record):
    """How the reader of a surface gets what an answer leaves out: every row (``every``, a noun: ``--json``), the
    modules deeper than its tables go (``deeper``, formatted with the depth shown: ``--depth {depth}``) and a
    config's other classes (``architecture``: ``--architecture``)."""

    every: str
    deeper: str
    architecture: str


CLI_HINTS: Final = Hints("--json", "--depth {depth}", "--architecture")
LIBRARY_HINTS: Final = Hints("report.to_dict()", "depth={depth}", "architecture=")
"""What a script's ``print(report)`` and a notebook name: ``Report.to_dict()``, ``summary(depth=…)`` and
``count(…, architecture=…)``."""
WEB_HINTS: Final = Hints("the JSON answer", "depth {depth}", "architecture=")
"""The web's: its JSON answer, and its query parameters (``?architecture=LlamaModel``)."""


MAX_TENSOR_ROWS = 40
"""Longest tensor listing in text; the JSON always has every tensor."""

MAX_FORMULA_MODULES = 12
"""Beyond this many parameter-owning modules the step list is summarised by the module table."""


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


@per_frozen
def _headline(
    expression: Call | Container | str,
    counts: Counts,
    provenance: Provenance,
    notes: tuple[str, ...],
    embedding_parameters: int,
    active: int | None,
    hints: Hints,
) -> Section:
    """The total and the model's facts, once per tree (the planner's reports of one model share them)."""
    segments = [
        Segment(integer(counts.total), "total"),
        Segment(f" {noun(counts.total, 'parameter')}  "),
        Segment(f"({integer(counts.trainable)} trainable · {integer(counts.non_trainable)} frozen)", "muted"),
        Segment("  ·  "),
        Segment(f"{integer(counts.buffers)} buffer {noun(counts.buffers, 'element')}"),
    ]
    if counts.tied:
        segments.append(Segment(f"  ·  {integer(counts.tied)} in tied tensors counted once", "muted"))
    blocks: list[Block] = [Paragraph(tuple(segments))]
    if not isinstance(provenance, FromExpression):
        blocks.append(Paragraph(_model_facts(counts, provenance, embedding_parameters, active, hints)))
    blocks.extend(Paragraph((Segment(note, "muted"),)) for note in notes)
    return Section("answer", expression_text(expression), tuple(blocks))


def _model_facts(
    counts: Counts, provenance: Provenance, embedding_parameters: int, active: int | None, hints: Hints
) -> tuple[Segment, ...]:
    parts = []
    if isinstance(provenance, FromConfig):
        parts.append(f"{provenance.architecture} (model_type {provenance.model_type})")
        if provenance.quantization is not None:
            others = f", other tensors {provenance.torch_dtype}" if provenance.torch_dtype is not None else ""
            parts.append(f"stored as {provenance.quantization}{others}")
        elif provenance.torch_dtype is not None:
            parts.append(f"stored as {provenance.torch_dtype}")
    elif isinstance(provenance, FromZoo):
        parts.append(f"zoo model {provenance.model}")
    elif isinstance(provenance, FromFile):
        parts.append(_checkpoint_facts(provenance.format, dict(provenance.facts())))
    facts = dict(provenance.facts()) if isinstance(provenance, FromModule) else {}
    if "adapter_parameters" in facts:
        adapters = int(facts["adapter_parameters"])
        base = int(facts["base_parameters"])
        parts.append(f"peft {facts['peft_type']}: {integer(adapters)} adapter + {integer(base)} base parameters")
    if embedding_parameters:
        parts.append(f"{integer(counts.total - embedding_parameters)} excluding embeddings")
    if active is not None:
        parts.append(f"{integer(active)} active per token")
    if counts.tied:
        parts.append(f"{integer(counts.total + counts.tied)} if the tied tensors were separate")
    segments = [Segment(" · ".join(parts), "muted")]
    facts = dict(provenance.facts()) if isinstance(provenance, FromFile) else {}
    if "config_parameters" in facts:
        agrees = facts.get("config_agrees", "")
        segments.append(
            Segment(
                f"\n  config.json ({facts.get('config_architecture', '?')}): "
                f"{integer(int(facts['config_parameters']))} parameters; agrees with the weights: {agrees}",
                "muted",
            )
        )
    elif "config_model_type" in facts:
        segments.append(
            Segment(
                f"\n  config.json: model_type {facts['config_model_type']!r} has no formulas in paramcount; "
                "counted exactly from the weights",
                "muted",
            )
        )
    elif "config_json" in facts:
        segments.append(Segment(f"\n  config.json: {facts['config_json']}", "muted"))
    if isinstance(provenance, FromConfig) and provenance.weights:
        segments.append(Segment(_hub_weights(dict(provenance.facts())), "muted"))
    if isinstance(provenance, FromFile | FromConfig):
        segments.extend(Segment(line, "muted") for line in _differences(provenance.differences, hints))
    if isinstance(provenance, FromFile):
        segments.extend(Segment(line, "muted") for line in _sections(provenance))
    if isinstance(provenance, FromConfig) and provenance.other_classes:
        others = ", ".join(provenance.other_classes)
        segments.append(Segment(f"\n  also countable with {hints.architecture}: {others}", "muted"))
    return tuple(segments)


SHOWN_DIFFERENCES = 10
"""Differences between config.json and the weights listed in the text; the JSON lists every one."""


def _hub_weights(facts: dict[str, str]) -> str:
    """``weights (safetensors, 2 files): 128,000 parameters; agree with config.json: yes`` for a hub id whose
    weights were compared with its config, or why they were not."""
    if "weights_parameters" not in facts:
        return f"\n  weights: {facts.get('weights', '?')}"
    files = int(facts["weights_files"])
    return (
        f"\n  weights ({facts['weights_format']}, {files} {noun(files, 'file')}): "
        f"{integer(int(facts['weights_parameters']))} parameters; agree with config.json: {facts['weights_agree']}"
    )


def _differences(differences: tuple[WeightDifference, ...], hints: Hints) -> list[str]:
    """``missing  model.layers.3.mlp.up_proj.weight  config (96, 64)``, one line per difference."""
    shown = differences[:SHOWN_DIFFERENCES]
    configs = ["" if row.config_shape is None else f"config {_shape(row.config_shape)}" for row in shown]
    names = max((len(row.name) for row in shown), default=0)
    wide = max(map(len, configs), default=0)
    lines = []
    for row, config in zip(shown, configs, strict=True):  # in columns: the names and the config's shapes padded
        weights = "" if row.weights_shape is None else f"weights {_shape(row.weights_shape)} {row.weights_dtype}"
        cells = [f"{row.difference:<7}", f"{row.name:<{names}}", *([f"{config:<{wide}}"] if wide else []), weights]
        lines.append("\n    " + "  ".join(cells).rstrip())
    hidden = len(differences) - SHOWN_DIFFERENCES
    if hidden > 0:
        lines.append(f"\n    … {hidden:,} more ({hints.every} lists every one)")
    return lines


def _sections(provenance: FromFile) -> list[str]:
    """``optimizer state, not counted: 1,376 B in 12 tensors (exp_avg 680 B, exp_avg_sq 680 B, step 16 B)``."""
    lines = []
    for section, title in (("optimizer", "optimizer state"), ("other", "other entries")):
        rows = [row for row in provenance.sections if row.section == section]
        if rows:
            size, tensors = sum(row.bytes for row in rows), sum(row.tensors for row in rows)
            groups = ", ".join(f"{row.group} {integer(row.bytes)} B" for row in rows)
            counted = f"{integer(tensors)} {noun(tensors, 'tensor')}"
            lines.append(f"\n  {title}, not counted: {integer(size)} B in {counted} ({groups})")
    return lines


def _checkpoint_facts(format: str, facts: dict[str, str]) -> str:
    """``gguf file (llama, 32 blocks), 1 file of 4,920,733,728 B`` from a checkpoint's header facts."""
    described = [facts[key] for key in ("architecture",) if key in facts]
    blocks = [facts[key] for key in facts if key.endswith(".block_count")]  # the file's metadata: any value
    described.extend(f"{count} block" + ("" if count == "1" else "s") for count in blocks)
    inside = f" ({', '.join(described)})" if described else ""
    files = int(facts.get("files", "1"))
    size = f", {files} {noun(files, 'file')} of {integer(int(facts['file_bytes']))} B" if "file_bytes" in facts else ""
    if "external_data" in facts:  # an ONNX model's tensor data in files beside it, described, never opened
        size += f"; tensor data outside it: {facts['external_data']}"
    return f"{format} checkpoint{inside}{size}"


@per_frozen
def _tensors(counts: Counts, kind: str, hints: Hints) -> Section:
    """The tensor listing, once per tree's counts (the planner's reports of one model share them)."""
    show_trainable = counts.non_trainable > 0
    show_dtype = any(row.dtype != "float32" for row in counts.parameters)
    header = ["tensor", "shape", "count", "formula"]
    if show_trainable:
        header.append("trainable")
    if show_dtype:
        header.append("dtype")
    rows = []
    for row in counts.parameters[:MAX_TENSOR_ROWS]:
        cells = [row.name, _shape(row.shape), integer(row.count), " × ".join(row.symbols) or "1"]
        if show_trainable:
            cells.append("yes" if row.trainable else "no")
        if show_dtype:
            cells.append(row.dtype)
        rows.append(tuple(cells))
    blocks: list[Block] = []
    if rows:
        blocks.append(Table(tuple(header), tuple(rows), frozenset({2})))
    else:
        blocks.append(Paragraph((Segment(f"{kind} has no parameters."),)))
    if len(counts.parameters) > MAX_TENSOR_ROWS:
        hidden = len(counts.parameters) - MAX_TENSOR_ROWS
        blocks.append(Paragraph((Segment(f"… and {hidden:,} more tensors ({hints.every} lists them all)", "muted"),)))
    if counts.buffer_tensors:
        buffer_rows = tuple(
            (row.name, _shape(row.shape), integer(row.count), row.dtype) for row in counts.buffer_tensors
        )
        blocks.append(Paragraph((Segment("Buffers (saved state, not parameters):", "muted"),)))
        blocks.append(Table(("buffer", "shape", "count", "dtype"), buffer_rows, frozenset({2})))
    if counts.tied_tensors:
        tied_rows = tuple((row.name, row.tied_to, integer(row.count)) for row in counts.tied_tensors)
        blocks.append(Paragraph((Segment("Shared tensors, counted once (as torch does):", "muted"),)))
        blocks.append(Table(("tensor", "same tensor as", "count"), tied_rows, frozenset({2})))
    return Section("tensors", "Tensors", tuple(blocks))


def _single_module_steps(formula: ModuleFormula) -> tuple[tuple[Segment, ...], ...]:
    """Symbols, numbers, then each distinct term evaluated, then the total; identical terms (an LSTM's
    forward and reverse weights) are shown once with their multiplicity."""
    groups: dict[str, list[Term]] = {}
    for term in formula.terms:
        groups.setdefault(term.substituted, []).append(term)
    labels = [group[0].name + (f" (+{len(group) - 1} alike)" if len(group) > 1 else "") for group in groups.values()]
    width = max(len("parameters"), *(len(label) for label in labels))
    lines: list[tuple[Segment, ...]] = [(Segment(f"{'parameters':<{width}} = "), Segment(formula.symbolic, "symbol"))]
    if formula.substituted != formula.symbolic:  # a checkpoint's sizes have no names: the numbers are the symbols
        lines.append((Segment(f"{'':<{width}} = "), Segment(formula.substituted)))
    for label, group in zip(labels, groups.values(), strict=True):
        term = group[0]
        factors = " × ".join(integer(f) for f in term.factors)
        steps = ""
        if len(term.factors) > 1:
            steps = f"{factors} = " if term.substituted == factors else f"{term.substituted} = {factors} = "
        lines.append((Segment(f"{label:<{width}} = {steps}"), Segment(integer(term.value), "number")))
    values = " + ".join(
        (f"{len(group)} × " if len(group) > 1 else "") + integer(group[0].value) for group in groups.values()
    )
    tail = f"{values} = " if len(formula.terms) > 1 else ""
    lines.append((Segment(f"{'total':<{width}} = {tail}"), Segment(integer(formula.subtotal), "total")))
    return tuple(lines)


@per_frozen
def _steps(explanation: Explanation) -> Section:
    """How the total adds up, once per explanation (one per tree)."""
    formulas = explanation.modules
    lines: list[tuple[Segment, ...]] = []
    if not formulas:
        return Section("formula", "How it adds up", (Paragraph((Segment("total = 0 (no parameters)"),)),))
    if len(formulas) == 1 and formulas[0].times == 1:
        return Section("formula", "How it adds up", (Lines(_single_module_steps(formulas[0])),))
    shown = formulas[:MAX_FORMULA_MODULES]
    labels = [f"{formula.path or '(root)'} ({formula.kind})" for formula in shown]
    width = max(map(len, labels))
    for label, formula in zip(labels, shown, strict=True):
        times = f" × {formula.times}" if formula.times > 1 else ""
        lines.append(
            (
                Segment(f"{label:<{width}}  "),
                Segment(formula.symbolic, "symbol"),
                Segment(f" = {formula.substituted} = " if formula.substituted != formula.symbolic else " = "),
                Segment(integer(formula.subtotal), "number"),
                Segment(times),
            )
        )
    if len(formulas) > len(shown):
        lines.append((Segment(f"… and {len(formulas) - len(shown)} more modules (see the module table)", "muted"),))
    parts = " + ".join(
        integer(f.subtotal) + (f" × {f.times}" if f.times > 1 else "") for f in formulas[:MAX_FORMULA_MODULES]
    )
    if len(formulas) <= MAX_FORMULA_MODULES:
        lines.append((Segment(f"total = {parts} = "), Segment(integer(explanation.total), "total")))
    else:
        lines.append((Segment("total = "), Segment(integer(explanation.total), "total")))
    return Section("formula", "How it adds up", (Lines(tuple(lines)),))


def _memory(report: Report) -> Section:
    return _parameter_memory(
        report.parameter_memory,
        report.dtypes,
        report.stored_dtype,
        report.stored_parameter_bytes,
        report.stored_buffer_bytes,
        report.counts,
        report.provenance,
        report.by_dtype,
    )


@per_frozen
def _parameter_memory(
    memory: tuple[FormatMemory, ...],
    dtypes: tuple[str, ...],
    stored_dtype: DtypeChoice,
    parameter_bytes: int,
    buffer_bytes: int,
    counts: Counts,
    provenance: Provenance,
    by_dtype: tuple[DtypeTotal, ...],
) -> Section:
    """The parameters' memory in each format and as stored, once per tree (the planner's reports share it)."""
    rows = tuple((m.format, *byte_sizes(m.bytes), m.note) for m in memory)
    blocks: list[Block] = [Table(("format", "bytes", "decimal", "binary", ""), rows, frozenset({1, 2, 3}))]
    if dtypes != ("float32",) or stored_dtype.dtype != "float32" or counts.buffers:
        stored = sizes_equal(parameter_bytes + buffer_bytes)
        blocks.append(
            Paragraph(
                (
                    Segment(
                        f"Stored in {stored_as(stored_dtype)} ({dtype_why(stored_dtype)}): "
                        f"parameters {integer(parameter_bytes)} B"
                        f" + buffers {integer(buffer_bytes)} B"
                        f" = {stored}"
                    ),
                )
            )
        )
    if isinstance(provenance, FromFile):
        blocks.append(
            Paragraph((Segment("Stored in the checkpoint (tensor data as the file holds it, shared data once):"),))
        )
        rows = tuple(
            (
                row.dtype,
                integer(row.tensors),
                integer(row.count),
                integer(row.bytes),
                _bits_per_element(row.bytes, row.count),
            )
            for row in by_dtype
        )
        blocks.append(
            Table(("dtype", "tensors", "elements", "bytes", "bits per element"), rows, frozenset({1, 2, 3, 4}))
        )
    return Section("memory", "Memory of the parameters", tuple(blocks))


def _bits_per_element(size: int, count: int) -> str:
    """``4.5`` for Q4_K (144 bytes per 256 elements), ``6.5625`` for Q6_K (210 per 256): to four decimals, which
    every ggml type's block needs (an even number of bytes per 256 elements is a multiple of 1/16 bit)."""
    if not count:
        return ""
    return f"{8 * size / count:.4f}".rstrip("0").rstrip(".")


def _rate(item: MemoryItem) -> str:
    """``1,180,160 × 4 B = `` for a plain rate; blank for lines without one (activations, mixed dtypes)."""
    if not item.bits:
        return ""
    if item.per == 1 and item.bits % 8 == 0:
        return f"{integer(item.count)} × {item.bits // 8} B = "
    return f"{integer(item.count)} × {item.bits}/{8 * item.per} B = "


def _item_lines(items: tuple[MemoryItem, ...], *, rates: bool = True) -> list[tuple[Segment, ...]]:
    """One line per item (``rates`` False for per-device shares, whose bytes are split, not the count)."""
    width = max(len(item.label) for item in items)
    lines: list[tuple[Segment, ...]] = []
    for item in items:
        estimate = "  (estimate)" if not item.exact else ""
        rate = _rate(item) if rates else ""
        # the style given, not left to its default: a record given every field is built on its quick path
        lines.append((Segment(f"  {item.label:<{width}}  {rate}{integer(item.bytes)} B{estimate}", ""),))
    lines.append((Segment(f"  {'total':<{width}}  "), Segment(sizes_equal(sum(item.bytes for item in items)), "total")))
    return lines


def _training(report: Report) -> Section:
    # Assumptions are compared by their fields, read once (a record's hash and equality read them every time).
    keyed = [[((a.kind, a.values), a) for a in plan.assumptions] for plan in report.training]
    shared = set.intersection(*({key for key, _ in plan} for plan in keyed)) if keyed else set()
    blocks: list[Block] = []
    said: dict[object, tuple[Segment]] = {}  # each distinct assumption's line, written once (recipes repeat them)
    for plan, assumptions in zip(report.training, keyed, strict=True):
        lines: list[tuple[Segment, ...]] = [(Segment(plan.name, "heading"),), *_item_lines(plan.items)]
        for key, a in assumptions:
            if key not in shared:
                line = said.get(key)
                if line is None:
                    line = said[key] = (Segment(f"  ({assumption_text(a)})", "muted"),)
                lines.append(line)
        blocks.append(Lines(tuple(lines)))
    common = [a for key, a in (keyed[0] if keyed else ()) if key in shared]
    if common:
        blocks.append(Lines(tuple((Segment(f"({assumption_text(a)})", "muted"),) for a in common)))
    return Section("training", "Training memory (weights, gradients, optimizer states)", tuple(blocks))


MAX_SHAPE_STEPS = 6
"""Layers whose output-size arithmetic is written out step by step (the first ones of the network)."""


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "?" if shape is None else "(" + ", ".join(map(str, shape)) + ")"


def _depth(path: str) -> int:
    return path.count(".") + 1 if path else 0


def _shapes(report: Report, depth: int, hints: Hints) -> Section | None:
    shapes = report.shapes
    if shapes is None:
        return None
    rows = []
    for module in shapes.modules:
        if _depth(module.path) > depth:
            continue
        if module.status != "modelled" and module.input_shape is None:
            shown = module.status.replace("_", " ")
        else:
            shown = f"{_shape_text(module.input_shape)} → {_shape_text(module.output_shape)}"
        macs = "" if module.macs is None else integer(module.macs)
        label = (module.path or "(root)") + (f" ×{module.times}" if module.times > 1 else "")
        rows.append((label, module.kind, shown, macs))
    blocks: list[Block] = [Table(("module", "type", "shape", "MACs"), tuple(rows), frozenset({3}))]
    stepped = [module for module in shapes.modules if module.steps][:MAX_SHAPE_STEPS]
    for module in stepped:
        lines: list[tuple[Segment, ...]] = [(Segment(f"{module.path or module.kind} ({module.kind})", "heading"),)]
        for step in module.steps:
            name = f"{step.name} = " if step.name else ""
            lines.append(
                (Segment(f"  {name}{step.symbolic} = {step.substituted} = "), Segment(integer(step.value), "number"))
            )
        blocks.append(Lines(tuple(lines)))
    complete = "" if shapes.is_complete else " (a lower bound: some modules are not modelled)"
    convention = shapes.convention[:1].upper() + shapes.convention[1:]  # a sentence of its own (the data: a clause)
    summary = (
        f"Output {_shape_text(shapes.output_shape)}; {integer(shapes.total_macs)} MACs = "
        f"{integer(shapes.total_flops)} FLOPs per forward pass{complete}. {convention}."
    )
    if any(_depth(module.path) > depth for module in shapes.modules):
        summary += (
            f" Deeper modules hidden ({hints.deeper.format(depth=depth)}); their MACs are in their parents' rows."
        )
    blocks.append(Paragraph((Segment(summary, "muted"),)))
    blocks.extend(_training_compute(shapes))
    return Section("shapes", f"Shapes and compute for input {_shape_text(shapes.input_shape)}", tuple(blocks))


def _training_compute(shapes: ShapeReport) -> list[Block]:
    training = shapes.training
    if training is None:
        return []
    lines = [
        f"Training step: forward {integer(training.forward)} + backward {integer(training.backward)} = "
        f"{integer(training.total)} FLOPs",
    ]
    if training.recompute:
        lines.append(
            f"With gradient checkpointing: + {integer(training.recompute)} recomputed = "
            f"{integer(training.total_checkpointed)} FLOPs"
        )
    if shapes.tokens is not None and training.forward_per_token is not None:
        per_token = f"Per token ({integer(shapes.tokens)} tokens): {integer(training.forward_per_token)} FLOPs forward"
        if training.total_per_token is not None:
            per_token += f", {integer(training.total_per_token)} training"
        lines.append(per_token)
    notes = (
        "Backward: each product's gradient for each operand that needs one, as autograd computes it (2× the "
        "forward inside the network; the first layer's input needs none)."
    )
    if training.recompute:
        notes += (
            " Gradient checkpointing recomputes the forward of each layer of the layer stack up to its last saved "
            "tensor, as torch's checkpoint does by default (early stop): a last product after which nothing saves "
            "a tensor is not run again."
        )
    if shapes.masked_macs:
        notes += (
            " Causal attention is counted over all positions, as eager attention and FlopCounterMode compute it; "
            f"{integer(shapes.masked_macs)} of those MACs multiply masked positions, which a kernel that skips "
            "masked blocks (FlashAttention) does not compute."
        )
    return [Lines(tuple((Segment(line),) for line in lines)), Paragraph((Segment(notes, "muted"),))]


def _activations(report: Report) -> Section | None:
    measured = report.activations
    if measured is None:
        return None
    tensors = measured.saved_tensors
    lines = (
        (
            Segment(f"saved for the backward pass ({integer(tensors)} {noun(tensors, 'tensor')}): "),
            Segment(sizes_equal(measured.saved_bytes), "total"),
        ),
        (
            Segment(
                f"torchinfo's forward/backward pass size (2 × layer outputs): {sizes_equal(measured.torchinfo_bytes)}"
            ),
        ),
        (Segment(f"input: {byte_sizes(measured.input_bytes)[0]}"),),
    )
    note = (
        f"Measured on {measured.device}: the distinct storages autograd kept during one forward pass in train mode, "
        "parameters excluded. torchinfo adds up the outputs of the layers that hold parameters and doubles "
        "them; it misses what parameter-free layers save (activation inputs, pooling indices, attention "
        "probabilities, dropout masks), counts outputs nothing keeps, and counts a tensor two layers share twice."
    )
    blocks: tuple[Block, ...] = (Lines(lines), Paragraph((Segment(note, "muted"),)))
    return Section("activations", "Activation memory (measured)", blocks)


def _raw_shapes(report: Report) -> Section | None:
    if not report.raw_shapes:
        return None
    rows = tuple((raw.path or "(root)", raw.kind, raw.reason) for raw in report.raw_shapes)
    note = Paragraph(
        (Segment("Their tensors are counted exactly, but without formulas, shapes rules or variants.", "muted"),)
    )
    return Section("raw", "Modules with raw shapes", (Table(("module", "type", "why"), rows), note))


def _compute(report: Report) -> Section | None:
    basis = report.compute_basis
    if not report.compute:
        if basis is None:
            return None
        reason = assumption_text(basis)
        return Section(
            "compute", "Compute per step", (Paragraph((Segment(f"{reason[0].upper()}{reason[1:]}.", "muted"),)),)
        )
    lines = []
    for estimate in report.compute:
        lines.append(
            (
                Segment(f"{estimate.symbolic} = {estimate.substituted} = "),
                Segment(integer(estimate.flops), "total"),
                Segment(f"  ({estimate.label})", "muted"),
            )
        )
    tokens = "D its tokens" if basis is None else assumption_text(basis)
    note = Paragraph(
        (
            Segment(
                f"Per step of one batch, {tokens}; N counts the parameters used per token (the active ones for "
                "mixture-of-experts models) without the embedding tables, as Kaplan et al. do. "
                f"{report.compute[0].source}",
                "muted",
            ),
        )
    )
    return Section("compute", "Compute per step", (Lines(tuple(lines)), note))


def _plan_dtype(choice: DtypeChoice) -> str:
    """ "bfloat16 (bfloat16: the dtype the config stores)", or the quantised layout a config names and why."""
    if choice.quantization is None:
        return f"{choice.dtype} ({dtype_reason(choice)})"
    return f"{stored_as(choice)} ({dtype_why(choice)})"


def _plan(report: Report) -> Section | None:
    plan = report.plan
    if plan is None:
        return None
    mode = "training" if plan.mode == "training" else "inference"
    blocks: list[Block] = [
        Paragraph((Segment(f"{mode.capitalize()} in {_plan_dtype(plan.dtype_choice)}.", "muted"),)),
        Lines(tuple(_item_lines(plan.items))),
    ]
    if plan.devices > 1:
        most = " (the most any one holds: ZeRO's shards can differ)" if plan.options.zero else ""
        blocks.append(Paragraph((Segment(f"Per device, on each of {plan.devices} devices{most}:"),)))
        blocks.append(Lines(tuple(_item_lines(plan.per_device, rates=False))))
    fit = plan.fit
    if fit is not None:
        verdict = "fits" if fit.fits else "does not fit"
        room = f"{byte_sizes(abs(fit.headroom_bytes))[2]} {'free' if fit.headroom_bytes >= 0 else 'short'}"
        need = ""
        if not fit.fits:
            if fit.devices_needed is not None:
                need = f"; needs {fit.devices_needed} devices as planned"
            if fit.devices_needed_fully_sharded is not None:
                need += f", {fit.devices_needed_fully_sharded} fully sharded (ZeRO-3/FSDP)"
        device = fit.accelerator
        memory = f"{byte_sizes(device.memory_bytes)[2]} {'as reported' if device.reported else 'as sold'}"
        blocks.append(Paragraph((Segment(f"{device.name} ({memory}): {verdict}, {room}{need}.", "total"),)))
    blocks.extend(_kv_blocks(plan))
    blocks.append(Lines(tuple((Segment(f"({assumption_text(a)})", "muted"),) for a in plan.assumptions)))
    return Section("plan", "Memory plan" + ("" if plan.exact else " (includes estimates)"), tuple(blocks))


def _kv_blocks(plan: MemoryPlan) -> list[Block]:
    """The expanded form of a latent cache, and how many tokens fit on the GPU."""
    blocks: list[Block] = []
    expanded = plan.kv_cache_expanded
    if expanded is not None:
        exact, decimal, _ = byte_sizes(expanded.bytes)
        blocks.append(Paragraph((Segment(f"KV cache expanded per head, as {expanded.runtime}: {exact} = {decimal}."),)))
    capacity = plan.kv_capacity
    if capacity is None:
        return blocks
    batch = f"a batch of {integer(capacity.batch)}"
    if capacity.free_bytes <= 0:
        context = f"no room for a KV cache: the rest needs {byte_sizes(-capacity.free_bytes)[1]} more"
    elif capacity.max_context is None:
        reasons: dict[tuple[str, ...], str] = {
            ("window",): "every layer slides",
            ("states",): "every layer keeps fixed-size states",
        }
        why = reasons.get(capacity.bounded_by, "every layer slides or keeps fixed-size states")
        context = f"any context fits for {batch}: {why}, so the cache stops growing"
        if capacity.seq_len is not None and capacity.max_batch is not None:
            context += f"; {integer(capacity.max_batch)} sequences of {integer(capacity.seq_len)} tokens"
    else:
        limit = "" if capacity.position_limit is None else "the most its learned position table holds; "
        if capacity.configured_context is not None:
            limit = f"more than the config's max_position_embeddings, {integer(capacity.configured_context)}; "
        context = (
            f"up to {integer(capacity.max_context)} tokens of context for {batch} "
            f"({limit}{integer(capacity.max_tokens or 0)} tokens cached)"
        )
        if capacity.seq_len is not None and capacity.max_batch is not None:
            context += f"; {integer(capacity.max_batch)} sequences of {integer(capacity.seq_len)} tokens"
    if capacity.free_bytes > 0:
        context = f"{byte_sizes(capacity.free_bytes)[1]} free beside the rest; {context}"
    blocks.append(
        Paragraph(
            (
                Segment(f"KV cache on {capacity.accelerator} (an estimate): {context}."),
                Segment(f" Not included: {'; '.join(capacity.not_included)}.", "muted"),
            )
        )
    )
    return blocks


def _comparisons(key: str, title: str, items: tuple[Comparison, ...], delta: bool) -> Section:
    rows = []
    for item in items:
        change = f"{item.delta:+,}" if delta else ""
        rows.append(
            (expression_text(item.expression), integer(item.total), change, item.note)
            if delta
            else (expression_text(item.expression), integer(item.total))
        )
    header = ("configuration", "parameters", "change", "") if delta else ("question", "parameters")
    return Section(key, title, (Table(header, tuple(rows), frozenset({1, 2})),))


@per_frozen
def _modules(modules: tuple[ModuleRow, ...], counts: Counts, depth: int, hints: Hints) -> Section:
    """The module table to ``depth``, once per tree's table (and depth)."""
    total = counts.total or 1
    rows = []
    for row in modules:
        if row.depth > depth:
            continue
        name = row.path.rsplit(".", 1)[-1] if row.path else "(root)"
        label = "  " * row.depth + name + (f" (×{row.times})" if row.times > 1 and _repeat_starts_here(row) else "")
        share = 100 * row.total * row.times / total
        trainable = "" if not row.total else ("yes" if row.trainable == row.total else integer(row.trainable))
        rows.append((label, row.kind, integer(row.total), f"{share:.1f}%", trainable))
    table = Table(("module", "type", "parameters", "share", "trainable"), tuple(rows), frozenset({2, 3, 4}))
    notes = []
    if any(row.depth > depth for row in modules):
        notes.append(f"deeper modules hidden ({hints.deeper.format(depth=depth)})")
    if any(row.times > 1 for row in modules):
        notes.append("a repeated block is listed once, with its count and its parameters per copy")
    if not notes:
        return Section("modules", "Modules", (table,))
    note = Paragraph((Segment("; ".join(notes).capitalize() + ".", "muted"),))
    return Section("modules", "Modules", (table, note))


def _repeat_starts_here(row: ModuleRow) -> bool:
    last = row.path.rsplit(".", 1)[-1]
    return "-" in last


BAR_WIDTH = 30


@per_frozen
def _share_chart(blocks: tuple[ShareBlock, ...], counts: Counts) -> Section:
    """Where the parameters are, as bars of text, once per tree's blocks."""
    total = counts.total or 1
    labels = [block.path + (f" ×{block.times}" if block.times > 1 else "") for block in blocks]
    width = max(len(label) for label in labels)
    lines = []
    for label, block in zip(labels, blocks, strict=True):
        if not block.parameters:
            continue
        share = block.parameters / total
        filled = round(share * BAR_WIDTH)
        bar = "█" * filled + "·" * (BAR_WIDTH - filled)
        lines.append(
            (
                Segment(f"{label:<{width}}  "),
                Segment(bar, "number"),
                Segment(f"  {integer(block.parameters):>15}  {100 * share:5.1f}%"),
            )
        )
    return Section("blocks", "Where the parameters are", (Lines(tuple(lines)),))


MAX_APPEARANCES = 12


def _appearances(report: Report, hints: Hints) -> Section:
    groups: dict[tuple[bool, str, str], list[Appearance]] = {}
    for appearance in report.appears_in:
        groups.setdefault((not appearance.exact, appearance.model, appearance.expression), []).append(appearance)
    rows = []
    for (_, model, expression), members in sorted(groups.items())[:MAX_APPEARANCES]:
        first = members[0]
        places = sum(member.times for member in members)
        where = first.path if places == 1 else f"{first.path} (+{places - 1} more)"
        match = "exact" if first.exact else f"same weight, {integer(first.total)} parameters"
        rows.append((model, where, expression, match))
    blocks: list[Block] = [Table(("model", "module", "as built there", "match"), tuple(rows))]
    exact = sum(1 for key in groups if not key[0])
    summary = f"In {exact} zoo models exactly, {len(groups) - exact} with a different bias"
    if len(groups) > len(rows):
        summary += f"; {len(groups) - len(rows)} more in {hints.every}"
    blocks.append(
        Paragraph(
            (
                Segment(
                    summary + ". Computed from the zoo's trees; stride and padding hold no "
                    "parameters, so they may differ.",
                    "muted",
                ),
            )
        )
    )
    return Section("appears", "Where this layer appears", tuple(blocks))


def sections(report: Report, *, depth: int = 3, hints: Hints = LIBRARY_HINTS) -> tuple[Section, ...]:
    """The answer's sections in reading order; ``depth`` limits the module table, ``hints`` names how the
    surface's reader gets what is left out. A layer leads with its tensors and formula; a whole model with its
    module table and where its parameters are."""
    structure = []
    if len(report.modules) > 1:
        structure.append(_modules(report.modules, report.counts, depth, hints))
    if len(report.blocks) > 1:
        structure.append(_share_chart(report.blocks, report.counts))
    steps = [] if report.explanation is None else [_steps(report.explanation)]
    reading = (
        []
        if report.reading is None
        else [Section("reading", "In plain words", (Paragraph((Segment(reading_text(report.reading)),)),))]
    )
    headline = _headline(
        report.expression,
        report.counts,
        report.provenance,
        report.notes,
        report.embedding_parameters,
        report.active,
        hints,
    )
    from_expression = isinstance(report.provenance, FromExpression)
    if from_expression:
        found = [headline, _tensors(report.counts, report.kind, hints), *steps, *reading, *structure]
    else:
        found = [headline, *structure, *steps, _tensors(report.counts, report.kind, hints)]
    found.extend(
        section
        for section in (_raw_shapes(report), _shapes(report, depth, hints), _activations(report), _compute(report))
        if section is not None
    )
    found.append(_memory(report))
    plan = _plan(report)
    if plan is not None:
        found.append(plan)
    if (from_expression or plan is None) and "training" in report.sections:
        found.append(_training(report))
    if report.appears_in:
        found.append(_appearances(report, hints))
    if report.variants:
        found.append(_comparisons("variants", "Variants", report.variants, delta=True))
    verify = (
        "Verify with torchvision"
        if isinstance(report.provenance, FromZoo)
        else "Verify with transformers"
        if isinstance(report.provenance, FromConfig)
        else "Verify with PyTorch"
    )
    code = program_text(report)
    if code:
        found.append(Section("code", verify, (Code(code),)))
    if report.related:
        found.append(_comparisons("related", "Related questions", report.related, delta=False))
    return tuple(found)
