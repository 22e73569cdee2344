"""The Report: everything an answer says, as frozen plain data. Renderers read only this.

It holds numbers, names and structured records, never text made for a reader: the reading, the canonical
expression and the verification program are data here and become words and code in ``render/``. The JSON
schema is therefore the JSON renderer's (``render.json.report_dict``), not a method of the Report.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.analysis.counts import Counts
from paramcount.analysis.explain import Explanation
from paramcount.analysis.memory import Assumption, DtypeChoice, DtypeTotal, FormatMemory, TrainingPlan
from paramcount.analysis.readings import Reading
from paramcount.analysis.structure import Block, ModuleRow, RawModule
from paramcount.provenance import Provenance

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from paramcount.analysis.flops import FlopsEstimate
    from paramcount.analysis.measured import ActivationMemory
    from paramcount.analysis.planner import MemoryPlan
    from paramcount.analysis.shapes.types import ShapeReport
    from paramcount.calls import Call, Container, Program

__all__ = ["SECTIONS", "Appearance", "Comparison", "Report"]

SECTIONS = ("explanation", "modules", "code", "training", "appears_in", "variants", "related")
"""The parts of a report computed only when asked for (``Result.report(sections=...)``): the formula per module
and the reading (``explanation``), the module table and where the parameters are (``modules``), the verification
program (``code``), the four training recipes, where a layer appears in the zoo, its variants and related
questions. ``report()`` computes them all unless told otherwise; ``()`` leaves the count, the tensors and memory
(and the plan, shapes and FLOPs asked for): what a counter shows. ``Report.sections`` says which it holds, and the
JSON leaves out the keys of the others (its own name; ``modules`` and ``blocks``; ``memory.training``)."""


class Comparison(Record):
    """A neighbouring configuration and its total (a variant or a related question)."""

    label: str
    expression: Call | Container
    total: int
    delta: int
    note: str = ""


class Appearance(Record):
    """Where a layer's configuration occurs in a zoo model (``exact`` False: same weight, other bias)."""

    model: str
    path: str
    times: int
    expression: str
    total: int
    exact: bool


class Report(Record):
    """Everything one answer says about one tree, as frozen plain data: made by ``Result.report()`` (api.py)
    from the analyses' records, read by every renderer (text, Markdown, HTML, JSON) and the web.

    What was asked and where the tree came from (``query``, ``provenance``, ``kind``, ``expression``); the
    counts and their per-module formulas (``counts``, ``explanation``, ``reading``); memory (``dtypes``,
    ``stored_dtype``, ``parameter_memory``, ``by_dtype``, ``training``, and ``plan`` for the options asked);
    the whole-model structure (``modules``, ``blocks``, ``embedding_parameters``, ``active``); neighbours
    (``variants``, ``related``, ``appears_in``); shapes and compute when asked (``shapes``, ``compute``); and
    ``code`` that rebuilds the tree in PyTorch. ``to_dict()`` is the JSON form.
    """

    query: str
    provenance: Provenance
    """Where the tree came from: the door (``provenance.origin``, the JSON ``origin``) and the source's facts."""
    kind: str
    expression: Call | Container | str
    """The canonical call that builds the same module (an expression, a zoo call); for a config the class
    counted, for a checkpoint the file's name, for a live module its class."""
    counts: Counts
    explanation: Explanation | None
    """The formula per module; None when ``sections`` leaves out ``explanation``."""
    reading: Reading | None
    """What the plain-language paragraph says (its case and numbers); ``render.readings`` writes it. None when
    ``sections`` leaves out ``explanation``."""
    parameter_memory: tuple[FormatMemory, ...]
    stored_parameter_bytes: int
    stored_buffer_bytes: int
    dtypes: tuple[str, ...]
    stored_dtype: DtypeChoice
    """The dtype the parameters are stored in and why: the rule every surface uses (``choose_dtype``)."""
    training: tuple[TrainingPlan, ...]
    variants: tuple[Comparison, ...]
    related: tuple[Comparison, ...]
    modules: tuple[ModuleRow, ...]
    """The module table (empty, with ``blocks``, when ``sections`` leaves out ``modules``)."""
    program: Program | None
    """What the verification program builds with the reference library (None for a live module or a
    checkpoint: nothing to rebuild from, or when ``sections`` leaves out ``code``); ``render.code`` writes it."""
    embedding_parameters: int = 0
    active: int | None = None
    """Parameters used per token (mixture of experts); None for dense models."""
    blocks: tuple[Block, ...] = ()
    appears_in: tuple[Appearance, ...] = ()
    plan: MemoryPlan | None = None
    """The memory plan for the options asked (``--optimizer``, ``--gpu`` …); for configs, inference by default."""
    optimizer: str | None = None
    """The plan's optimizer as its table names it (``AdamW``); None without a plan or an optimizer."""
    shapes: ShapeReport | None = None
    """Output shapes and MACs per module for an input shape (``--input``)."""
    compute: tuple[FlopsEstimate, ...] = ()
    """Forward and training FLOPs per step for ``--seq-len``/``--batch-size`` (estimates, 2·N·D and 6·N·D)."""
    compute_basis: Assumption | None = None
    """With ``--seq-len``, where D is not the tokens asked for: a vision transformer's positions
    (``compute-image-positions``), or why ``compute`` is empty (``compute-no-tokens``: the model reads no tokens)."""
    by_dtype: tuple[DtypeTotal, ...] = ()
    """Tensors, elements and bytes per dtype (for a checkpoint: its data on disk, quantised types included)."""
    sections: tuple[str, ...] = SECTIONS
    """The optional parts this report holds (of ``SECTIONS``); the others were not computed, not found empty."""

    activations: ActivationMemory | None = None
    """Measured by ``summary()`` given an input: what one training step keeps for the backward pass."""
    raw_shapes: tuple[RawModule, ...] = ()
    """Modules whose tensors keep raw shapes (a live module's class the catalog could not build), and why."""
    notes: tuple[str, ...] = ()
    """What the reader must know about how the answer was obtained (a forward that ran on the CPU …)."""
    depth: int = 3
    """How deep the module tables go when the Report displays itself (``summary(depth=…)``)."""

    @property
    def origin(self) -> str:
        """The door: ``expression``, ``zoo``, ``config``, ``module``, or a checkpoint's format (``safetensors``,
        ``gguf``, ``onnx``, ``pytorch``): ``provenance.origin``."""
        return self.provenance.origin

    def __str__(self) -> str:
        """The answer as plain text (``print(paramcount.summary(model))``)."""
        from paramcount.render.text import render_plain

        return render_plain(self, depth=self.depth)

    def __rich__(self) -> object:
        """The answer in colour when rich prints it (``rich.print(report)``)."""
        from paramcount.render.text import rich_text

        return rich_text(self, depth=self.depth)

    def _repr_html_(self) -> str:
        """The answer in a Jupyter notebook, as the web answer page shows it."""
        from paramcount.render.html import notebook_html

        return notebook_html(self, depth=self.depth)

    def to_dict(self) -> dict[str, Any]:
        """The answer as the JSON schema's plain dict (``--json`` prints it): ``render.json.report_dict``."""
        from paramcount.render.json import report_dict

        return report_dict(self)
