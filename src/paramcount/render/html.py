"""HTML: the same sections as the text and Markdown renderers, as escaped HTML fragments for web pages.

Only formatting happens here. ``render_html`` turns ``sections(report)`` into ``<section>`` elements with
stable ids (``section-memory``, ``section-training`` …); ``answer_html`` and ``answer_text`` write the
one-sentence answer that heads a page and fills its meta description, from the same Report. Links are
the caller's business: ``href(section_key, cell)`` may return a URL for the first cell of a row in the
variants, related-questions and where-it-appears tables.

Every user-visible string passes through ``html.escape`` (``_escape``); the web app's templates add the page around
these fragments (with Jinja's autoescape for everything else).
"""

from __future__ import annotations

from html import escape

from paramcount._cache import per_frozen
from paramcount._words import noun
from paramcount.provenance import FromConfig, FromExpression, FromZoo
from paramcount.render.assumptions import dtype_why, stored_as
from paramcount.render.code import expression_text
from paramcount.render.sections import LIBRARY_HINTS, Code, Hints, Lines, Paragraph, Section, Segment, Table, sections
from paramcount.render.units import binary_size, decimal_size, integer
from paramcount.report import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TypeAlias

    from paramcount.analysis.counts import Counts, TensorRow
    from paramcount.analysis.memory import MemoryItem
    from paramcount.analysis.planner import Fit
    from paramcount.analysis.structure import Block as ShareBlock

__all__ = [
    "Href",
    "answer_html",
    "answer_text",
    "memory_answer_html",
    "memory_answer_text",
    "memory_chart",
    "memory_question",
    "notebook_html",
    "output_answer_html",
    "output_answer_text",
    "output_question",
    "plan_chart",
    "question",
    "render_html",
    "subject",
]

if TYPE_CHECKING:
    Href: TypeAlias = Callable[[str, str], str | None]
"""``href(section_key, cell_text)`` → a URL for that cell, or None to leave it as text."""

LINKED_SECTIONS = frozenset({"variants", "related", "appears"})
"""Sections whose rows name another question (a configuration, a zoo model)."""

MAX_NAMED_TENSORS = 4
"""Tensors named one by one in the answer sentence; beyond this, their number is given."""

_Piece = tuple[str, str | None]
"""A run of answer text and, for a number worth finding in the page, its element id."""


def _escape(text: str) -> str:
    """``html.escape``: most strings of an answer hold none of ``&<>"'``, and five ``in`` tests cost a third of
    its five replacements (a page escapes ~150 strings)."""
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return escape(text)
    return text


def _segment(segment: Segment, element_id: str | None = None) -> str:
    text = _escape(segment.text)
    style = segment.style
    if not style:
        return text
    attributes = f' id="{element_id}"' if element_id else ""
    if style == "total":
        return f'<strong class="total"{attributes}>{text}</strong>'
    return f'<span class="{style}"{attributes}>{text}</span>'


def _paragraph(block: Paragraph, *, headline: bool) -> str:
    parts = []
    for index, segment in enumerate(block.segments):
        element_id = "headline-total" if headline and index == 0 and segment.style == "total" else None
        parts.append(_segment(segment, element_id).replace("\n", "<br>"))
    return "<p>" + "".join(parts).strip() + "</p>"


def _lines(block: Lines) -> str:
    rows = ["".join([_segment(segment) for segment in line]).rstrip() for line in block.lines]
    return '<pre class="lines">' + "\n".join(rows) + "</pre>"


def _table(block: Table, key: str, href: Href | None) -> str:
    """The table's cells escaped, each column's ``<td>`` (right-aligned or not) written once for all its rows, and
    a row's first cell a link where ``href`` gives one (in the sections that name other questions)."""
    width = max(len(block.header), *map(len, block.rows)) if block.rows else len(block.header)
    classes = [' class="num"' if index in block.right_aligned else "" for index in range(width)]
    opening = [f"<td{attribute}>" for attribute in classes]
    # classes and openings cover the longest row and the header: zip stops at the shorter, the row or header
    head = "".join([f'<th scope="col"{c}>{_escape(cell)}</th>' for c, cell in zip(classes, block.header, strict=False)])
    linked = href if href is not None and key in LINKED_SECTIONS else None
    rows = []
    for row in block.rows:
        cells = [f"{start}{_escape(cell.strip())}</td>" for start, cell in zip(opening, row, strict=False)]
        url = linked(key, row[0].strip()) if linked is not None and row else None
        if url:
            cells[0] = f'{opening[0]}<a href="{_escape(url)}">{_escape(row[0].strip())}</a></td>'
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _code(block: Code) -> str:
    return f'<pre class="code"><code class="language-{_escape(block.language)}">{_escape(block.text)}</code></pre>'


def _section(section: Section, href: Href | None) -> str:
    key = section.key
    parts = [
        f'<section class="answer-section" id="section-{key}" aria-labelledby="title-{key}">',
        f'<h2 id="title-{key}">{_escape(section.title)}</h2>',
    ]
    for index, block in enumerate(section.blocks):
        if isinstance(block, Paragraph):
            parts.append(_paragraph(block, headline=key == "answer" and index == 0))
        elif isinstance(block, Lines):
            parts.append(_lines(block))
        elif isinstance(block, Table):
            parts.append(_table(block, key, href))
        elif isinstance(block, Code):
            parts.append(_code(block))
    parts.append("</section>")
    return "\n".join(parts)


def render_html(report: Report, *, depth: int = 3, href: Href | None = None, hints: Hints = LIBRARY_HINTS) -> str:
    """Every section of the answer as HTML, in the order the text renderer prints them; on the web the module
    table folds (``<details>``), where the parameters are is a bar chart, and repeated layers' tensors are
    one row each (every tensor a click away)."""
    found: list[str] = []
    for section in sections(report, depth=depth, hints=hints):
        if section.key == "tensors":
            html = _tensor_section(section, report.counts)
        elif section.key == "modules":
            html = _module_section(section)
        elif section.key in PER_TREE_SECTIONS:
            html = _tree_section(section)
        elif section.key == "blocks":
            html = _share_section(report.blocks, report.counts)
        else:
            html = _section(section, href)
        found.append(html)
    return "\n".join(found)


# The sections rendered once per tree below hold no links (none is in LINKED_SECTIONS), so they are rendered
# without ``href`` and the same HTML serves every page of the tree, whatever its links.


@per_frozen
def _module_section(section: Section) -> str:
    """The module table, folded; once per tree's table (``sections`` gives it once per tree)."""
    return _folded(_section(section, None), "Module tree", opened=True)


PER_TREE_SECTIONS = frozenset({"answer", "formula", "memory"})
"""Sections that ``sections`` builds once per tree (the total and the model's facts, how the total adds up, the
parameters' memory) and that are written as they are."""


@per_frozen
def _tree_section(section: Section) -> str:
    """A section of ``PER_TREE_SECTIONS``, once per section (``sections`` gives it once per tree)."""
    return _section(section, None)


def _folded(section_html: str, summary: str, *, opened: bool) -> str:
    """A section's body (everything after its heading) inside ``<details>``."""
    head, _, body = section_html.partition("</h2>\n")
    body = body.removesuffix("</section>")
    state = " open" if opened else ""
    return f"{head}</h2>\n<details{state}><summary>{_escape(summary)}</summary>\n{body}</details>\n</section>"


@per_frozen
def _share_section(blocks: tuple[ShareBlock, ...], counts: Counts) -> str:
    """Where the parameters are: one bar per top-level block (its share of the total), numbers beside it; once
    per tree's blocks."""
    total = counts.total or 1
    rows = []
    for block in blocks:
        if not block.parameters:
            continue
        share = block.parameters / total
        label = block.path + (f" ×{block.times}" if block.times > 1 else "")
        bar = (
            f'<svg class="share" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
            f'<rect x="0" y="0" width="{100 * share:.2f}" height="10"></rect></svg>'
        )
        rows.append(
            f'<tr data-parameters="{block.parameters}"><td>{_escape(label)}</td><td class="bar">{bar}</td>'
            f'<td class="num">{integer(block.parameters)}</td><td class="num">{100 * share:.1f}%</td></tr>'
        )
    return (
        '<section class="answer-section" id="section-blocks" aria-labelledby="title-blocks">\n'
        '<h2 id="title-blocks">Where the parameters are</h2>\n'
        '<div class="table-wrap"><table class="shares"><thead><tr><th scope="col">block</th>'
        '<th scope="col">share of the parameters</th><th scope="col" class="num">parameters</th>'
        f'<th scope="col" class="num">share</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>\n</section>'
    )


def _tensor_groups(counts: Counts) -> list[tuple[str, TensorRow, int]]:
    """The parameter tensors with repeated layers folded: ``model.layers.0-31.self_attn.q_proj.weight`` once
    with its copies (consecutive indices, same shape and dtype); other tensors as they are."""
    groups: dict[tuple[object, ...], list[tuple[int, TensorRow]]] = {}
    for row in counts.parameters:
        parts = row.name.split(".")
        index = next((i for i, part in enumerate(parts) if part.isdigit()), None)
        if index is None:
            key: tuple[object, ...] = (row.name,)
            number = 0
        else:
            key = (".".join(parts[:index]), ".".join(parts[index + 1 :]), row.shape, row.dtype, row.trainable)
            number = int(parts[index])
        groups.setdefault(key, []).append((number, row))
    found: list[tuple[str, TensorRow, int]] = []
    for key, members in groups.items():
        numbers = [number for number, _ in members]
        consecutive = numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        if len(key) == 1 or len(members) == 1 or not consecutive:
            found.extend((row.name, row, 1) for _, row in members)
        else:
            prefix, suffix = str(key[0]), str(key[1])
            name = f"{prefix + '.' if prefix else ''}{numbers[0]}-{numbers[-1]}{'.' + suffix if suffix else ''}"
            found.append((name, members[0][1], len(members)))
    return found


@per_frozen
def _tensor_section(section: Section, counts: Counts) -> str:
    """The tensor table with repeated layers folded into one row each, and every tensor behind a ``<details>``;
    unchanged when nothing repeats. Once per tree's tensors (``sections`` gives their section once per tree)."""
    section_html = _section(section, None)
    groups = _tensor_groups(counts)
    if len(groups) == len(counts.parameters):
        return section_html
    rows = "".join(
        f"<tr><td>{_escape(name)}{f' ×{copies}' if copies > 1 else ''}</td><td>{_escape(_shape_text(row.shape))}</td>"
        f'<td class="num">{integer(row.count)}</td><td class="num">{integer(row.count * copies)}</td></tr>'
        for name, row, copies in groups
    )
    table = (
        '<div class="table-wrap"><table id="tensors-folded"><thead><tr><th scope="col">tensor</th>'
        '<th scope="col">shape</th><th scope="col" class="num">count</th><th scope="col" class="num">all copies</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )
    every = "".join(
        f'<tr><td>{_escape(row.name)}</td><td>{_escape(_shape_text(row.shape))}</td><td class="num">'
        f"{integer(row.count)}</td></tr>"
        for row in counts.parameters
    )
    count = integer(len(counts.parameters))
    expanded = (
        f'<details id="tensors-all"><summary>Every tensor ({count})</summary><div class="table-wrap"><table>'
        '<thead><tr><th scope="col">tensor</th><th scope="col">shape</th><th scope="col" class="num">count</th>'
        f"</tr></thead><tbody>{every}</tbody></table></div></details>"
    )
    head, _, rest = section_html.partition("</h2>\n")
    notes = rest[rest.index("</table></div>") + len("</table></div>") :] if "</table></div>" in rest else ""
    notes = "\n".join(line for line in notes.split("\n") if "more tensors" not in line)
    return f"{head}</h2>\n{table}\n{expanded}{notes}"


NOTEBOOK_STYLE = (
    ".paramcount-answer{font-family:system-ui,sans-serif;line-height:1.45}"
    ".paramcount-answer .answer{background:#eef4fb;padding:.6rem .9rem;border-radius:4px}"
    ".paramcount-answer .total{color:#1a7f37}.paramcount-answer .muted{color:#6a737d}"
    ".paramcount-answer table{border-collapse:collapse;font-size:.85rem}"
    ".paramcount-answer th,.paramcount-answer td{padding:.2rem .6rem;border-bottom:1px solid #e1e4e8;text-align:left}"
    ".paramcount-answer .num{text-align:right;font-variant-numeric:tabular-nums}"
    ".paramcount-answer pre{background:#f5f7f9;padding:.6rem;overflow-x:auto}"
)
"""The web page's look for the answer's elements, scoped to the answer so a notebook's own style is untouched."""


def notebook_html(report: Report, *, depth: int = 3) -> str:
    """The answer sentence and every section, as the web answer page shows them, for Jupyter's
    ``_repr_html_`` (one self-contained fragment: its style travels with it)."""
    body = render_html(report, depth=depth)
    return f'<div class="paramcount-answer"><style>{NOTEBOOK_STYLE}</style>{answer_html(report)}\n{body}</div>'


def subject(report: Report) -> str:
    """What the question is about: the canonical call, the zoo model, or the hub id and its class."""
    provenance = report.provenance
    if isinstance(provenance, FromConfig):
        return f"{provenance.location or 'this config.json'} ({report.kind})"
    if isinstance(provenance, FromZoo):
        return expression_text(report.expression).removesuffix("()")
    return expression_text(report.expression)


def _who(report: Report) -> str:
    """The hub id of a config read from one, else the subject."""
    location = report.provenance.location
    return location if isinstance(report.provenance, FromConfig) and location is not None else subject(report)


def question(report: Report) -> str:
    """``How many parameters does Conv2d(256, 512, 3) have?``"""
    return f"How many parameters does {_who(report)} have?"


def _sizes(value: int, prefix: str) -> list[_Piece]:
    return [
        (f"{integer(value)} bytes", f"{prefix}-bytes"),
        (" (", None),
        (decimal_size(value), f"{prefix}-decimal"),
        (", ", None),
        (binary_size(value), f"{prefix}-binary"),
        (")", None),
    ]


def _tensor_pieces(report: Report) -> list[_Piece]:
    rows = report.counts.parameters
    if not rows or len(rows) > MAX_NAMED_TENSORS:
        return [] if not rows else [(f" in {integer(len(rows))} tensors", None)]
    named = [f"{row.name} {integer(row.count)}" for row in rows]
    joined = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
    return [(f": {joined}", None)]


@per_frozen
def _pieces(report: Report) -> tuple[_Piece, ...]:
    """The answer sentence's runs, once per report: a page writes the sentence as HTML and as text (its meta
    description) from the same report."""
    counts = report.counts
    pieces: list[_Piece] = [(f"{subject(report)} has ", None), (integer(counts.total), "total")]
    pieces.append((f" {noun(counts.total, 'parameter')}", None))
    if counts.non_trainable:
        pieces += [(" (", None), (integer(counts.trainable), "trainable"), (" trainable, ", None)]
        pieces += [(integer(counts.non_trainable), "frozen"), (" frozen)", None)]
    pieces += _tensor_pieces(report)
    if not isinstance(report.provenance, FromExpression) and report.embedding_parameters:
        pieces.append((f"; {integer(counts.total - report.embedding_parameters)} excluding embeddings", None))
    if report.active is not None:
        pieces += [("; ", None), (integer(report.active), "active"), (" active per token", None)]
    if counts.tied:
        pieces.append((f"; {integer(counts.tied)} in tied tensors are counted once", None))
    pieces.append((".", None))
    if counts.total:
        stored = report.stored_dtype
        take = "the parameter takes" if counts.total == 1 else "the parameters take"
        pieces.append((f" Stored as {stored_as(stored)} ({dtype_why(stored)}), {take} ", None))
        pieces += _sizes(report.stored_parameter_bytes, "parameter")
        pieces.append((".", None))
    if report.training and counts.trainable:
        plan = report.training[0]
        pieces.append((f" Training ({plan.name}) holds ", None))  # "AdamW, float32": a name, not a clause
        pieces += _sizes(plan.bytes, "training")
        pieces.append((" of weights, gradients and optimizer states, before activations.", None))
    return tuple(pieces)


def answer_html(report: Report) -> str:
    """The answer in one paragraph, its numbers in elements with stable ids (``total``, ``parameter-bytes``…)."""
    return _html(_pieces(report), "answer")


def answer_text(report: Report) -> str:
    """The same sentence as plain text (a page's meta description)."""
    return "".join(text for text, _ in _pieces(report))


# ---- memory and output-size answers


_CATEGORIES = (
    ("weights", "weights"),
    ("gradients", "gradients"),
    ("optimizer", "optimizer states"),
    ("buffers", "buffers"),
    ("activations", "activations"),
    ("kv_cache", "KV cache"),
    ("", "other"),
)
"""Memory item categories in the order a plan lists them, with the words used for them."""

CHART_WIDTH = 640
"""Width of the plan chart's drawing (it scales to the page; heights are in the same units)."""


def _activity(report: Report) -> str:
    """``train with AdamW in bf16 mixed precision, sequence length 2,048`` — what the plan is for."""
    plan = report.plan
    if plan is None:
        return "run"
    options = plan.options
    if plan.mode == "inference":
        words = "run" + (f" in {options.quantization}" if options.quantization else f" in {plan.dtype}")
    else:
        optimizer = report.optimizer or "an optimizer"
        if options.lora_rank is not None:
            method = f"QLoRA ({options.quantization}, rank {options.lora_rank})" if options.quantization else None
            words = f"fine-tune with {method or f'LoRA (rank {options.lora_rank})'} and {optimizer}"
        else:
            words = f"train with {optimizer}"
        words += f" in {options.mixed_precision} mixed precision" if options.mixed_precision else f" in {plan.dtype}"
    if options.seq_len is not None:
        words += f", sequence length {integer(options.seq_len)}" + (
            f" × batch {integer(options.batch)}" if options.batch > 1 else ""
        )
    if plan.devices > 1:
        words += f", on {integer(plan.devices)} devices"
    return words


def memory_question(report: Report) -> str:
    """``How much memory does meta-llama/Llama-3.1-8B need to train with AdamW in bf16 mixed precision?``"""
    return f"How much memory does {_who(report)} need to {_activity(report)}?"


def output_question(report: Report) -> str:
    """``What does Conv2d(3, 64, 3) output for a 1×3×256×256 input?``"""
    shape = report.shapes.input_shape if report.shapes is not None else ()
    return f"What does {subject(report)} output for a {'×'.join(map(str, shape))} input?"


def _category_totals(items: tuple[MemoryItem, ...]) -> list[tuple[str, str, int]]:
    """(category, words, bytes) in plan order, for the categories present."""
    totals = dict.fromkeys((category for category, _ in _CATEGORIES), 0)
    for item in items:  # one pass over the items (a plan's activations are one item per operation)
        totals[item.category] += item.bytes
    return [(category, words, totals[category]) for category, words in _CATEGORIES if totals[category]]


def _by_category(report: Report) -> list[tuple[str, str, int]]:
    """(category, words, bytes per device) in plan order, for the categories present."""
    return [] if report.plan is None else _category_totals(report.plan.per_device)


@per_frozen
def _memory_pieces(report: Report) -> tuple[_Piece, ...]:
    """The memory answer's runs, once per report (written as HTML and as text, as ``_pieces``)."""
    plan = report.plan
    if plan is None:
        return ((f"{_who(report)} has no memory plan.", None),)
    pieces: list[_Piece] = [(f"{_who(report)} needs ", None), *_sizes(plan.total_bytes, "memory-total")]
    pieces.append((f" to {_activity(report)}", None))
    parts = [f"{words} {decimal_size(total)}" for _, words, total in _by_category(report)]
    if plan.devices == 1 and parts:
        pieces.append((": " + ", ".join(parts), None))
    pieces.append(("." if plan.exact else " (activations are an estimate).", None))
    if plan.devices > 1:
        most = " at most" if plan.options.zero else ""  # ZeRO's shards are uneven: the largest device's
        pieces += [(f" Each of the {integer(plan.devices)} devices holds{most} ", None)]
        pieces += [*_sizes(plan.per_device_bytes, "per-device"), (": " + ", ".join(parts) + ".", None)]
    fit = plan.fit
    if fit is not None:
        basis = "as reported" if fit.accelerator.reported else "as sold"
        device = f" On an {fit.accelerator.name} ({binary_size(fit.accelerator.memory_bytes)} {basis})"
        if fit.fits:
            pieces += [
                (f"{device} it fits, with ", None),
                (binary_size(fit.headroom_bytes), "fit"),
                (" to spare.", None),
            ]
        else:
            pieces += [(f"{device} it does not fit: ", None), (binary_size(-fit.headroom_bytes), "fit")]
            needed = f"; {integer(fit.devices_needed)} devices as planned" if fit.devices_needed else ""
            pieces.append((f" short{needed}.", None))
    return tuple(pieces)


def _output_pieces(report: Report) -> list[_Piece]:
    shapes = report.shapes
    if shapes is None:
        return [(f"{subject(report)} was given no input shape.", None)]
    given = _shape_text(shapes.input_shape)
    if shapes.output_shape is None:
        return [(f"{subject(report)}: the output for a {given} input is not modelled", None), (".", None)]
    pieces: list[_Piece] = [
        (f"{subject(report)} turns a {given} input into ", None),
        (_shape_text(shapes.output_shape), "output-shape"),
        (", with ", None),
        (integer(shapes.total_macs), "macs"),
        (" multiply-accumulates = ", None),
        (integer(shapes.total_flops), "flops"),
        (" FLOPs per forward pass", None),
    ]
    pieces.append(("." if shapes.is_complete else " (a lower bound: some modules are not modelled).", None))
    return pieces


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _html(pieces: Sequence[_Piece], element_id: str) -> str:
    parts = [f'<strong id="{key}">{_escape(text)}</strong>' if key else _escape(text) for text, key in pieces]
    return f'<p class="answer" id="{element_id}">' + "".join(parts) + "</p>"


def memory_answer_html(report: Report, *, element_id: str = "answer") -> str:
    """The memory answer in one paragraph; numbers in elements with ids (``memory-total-bytes`` …)."""
    return _html(_memory_pieces(report), element_id)


def memory_answer_text(report: Report) -> str:
    return "".join(text for text, _ in _memory_pieces(report))


def output_answer_html(report: Report) -> str:
    """The output-size answer in one paragraph (``output-shape``, ``macs``, ``flops``)."""
    return _html(_output_pieces(report), "answer")


def output_answer_text(report: Report) -> str:
    return "".join(text for text, _ in _output_pieces(report))


def _bar(category: str, words: str, total: int, x: float, width: float) -> tuple[str, str]:
    name = _escape(category or "other")
    sizes = f"{integer(total)} bytes ({decimal_size(total)}, {binary_size(total)})"
    rect = (
        f'<rect class="part-{name}" x="{x:.1f}" y="8" width="{width:.1f}" height="28" data-bytes="{total}">'
        f"<title>{_escape(words)}: {sizes}</title></rect>"
    )
    item = (
        f'<li data-category="{name}" data-bytes="{total}"><span class="swatch part-{name}"></span>'
        f"{_escape(words)} {sizes}</li>"
    )
    return rect, item


def _stacked_bar(parts: list[tuple[str, str, int]], total: int, fit: Fit | None, title: str) -> str:
    """One stacked bar of ``parts`` (category, words, bytes), against ``fit``'s accelerator when there is one; an
    inline SVG (attributes only, no inline style) with the bytes in words beside it (figcaption and legend)."""
    capacity = fit.accelerator.memory_bytes if fit is not None else 0
    scale = CHART_WIDTH / max(total, capacity, 1)
    bars, legend, x = [], [], 0.0
    for category, words, size in parts:
        rect, item = _bar(category, words, size, x, size * scale)
        bars.append(rect)
        legend.append(item)
        x += size * scale
    if fit is not None:
        marker = min(capacity * scale, CHART_WIDTH - 1.5)
        bars.append(f'<line class="capacity" x1="{marker:.1f}" x2="{marker:.1f}" y1="0" y2="44"></line>')
        device = _escape(fit.accelerator.name)
        legend.append(
            f'<li data-category="capacity" data-bytes="{capacity}"><span class="swatch capacity"></span>{device} '
            f"memory {integer(capacity)} bytes ({binary_size(capacity)})</li>"
        )
    caption = f"{title}: {integer(total)} bytes ({decimal_size(total)}, {binary_size(total)})"
    return (
        f'<figure class="chart" id="memory-chart" data-bytes="{total}"><svg viewBox="0 0 {CHART_WIDTH} 44" '
        f'role="img" aria-label="{_escape(caption)}" preserveAspectRatio="none">{"".join(bars)}</svg>'
        f'<figcaption>{_escape(caption)}</figcaption><ul class="legend">{"".join(legend)}</ul></figure>'
    )


def plan_chart(report: Report) -> str:
    """The memory each device holds, by category, against the accelerator's memory when one was named."""
    categories = _by_category(report)
    plan = report.plan
    if plan is None or not categories:
        return ""
    return _stacked_bar(categories, plan.per_device_bytes, plan.fit, "Memory per device")


def memory_chart(report: Report) -> str:
    """The memory chart of any answer: the plan's (``plan_chart``) when there is one, else the first training
    recipe's items (``memory.training[0].items``: weights, gradients, optimizer states); empty when neither
    applies."""
    if report.plan is not None:
        return plan_chart(report)
    if not report.training or not report.counts.trainable:
        return ""
    recipe = report.training[0]
    parts = [(str(item.category), item.label, item.bytes) for item in recipe.items if item.bytes]  # as in the JSON
    return _stacked_bar(parts, recipe.bytes, None, f"Training memory with {recipe.name}")
