"""The library entry points: text in, ``Result`` out; ``Result.report()`` for the whole explained answer."""

from __future__ import annotations

from dataclasses import dataclass

from paramcount.analysis.counts import Counts, count_tree, module_rows
from paramcount.analysis.explain import explain
from paramcount.analysis.memory import parameter_memory, stored_bytes, training_plans
from paramcount.analysis.readings import reading
from paramcount.analysis.related import Candidate, related_candidates, variant_candidates
from paramcount.analysis.snippet import pytorch_snippet
from paramcount.errors import ParamcountError
from paramcount.expr import parse
from paramcount.layers._registry import expression_of, rebuild
from paramcount.report import Comparison, Report
from paramcount.tree import Module, parameter_count

__all__ = ["Result", "count"]


@dataclass(frozen=True, slots=True)
class Result:
    """What ``count()`` returns: the tree and its counts; ``report()`` adds the explained answer."""

    query: str
    tree: Module
    counts: Counts
    origin: str = "expression"

    @property
    def total(self) -> int:
        return self.counts.total

    @property
    def trainable(self) -> int:
        return self.counts.trainable

    @property
    def non_trainable(self) -> int:
        return self.counts.non_trainable

    @property
    def buffers(self) -> int:
        return self.counts.buffers

    def report(self) -> Report:
        """The complete answer: formula, reading, memory, variants, related questions, code."""
        return build_report(self)

    def to_dict(self) -> dict[str, object]:
        return self.report().to_dict()


def count(text: str) -> Result:
    """Count the parameters of a layer or module expression, e.g. ``count("Conv2d(256, 512, 3)")``.

    Raises ``ParamcountError`` (one subclass per kind of problem) for anything the input gets wrong.
    """
    tree = parse(text)
    return Result(query=text, tree=tree, counts=count_tree(tree))


def _compare(tree: Module, total: int, candidates: tuple[Candidate, ...]) -> tuple[Comparison, ...]:
    found = []
    for candidate in candidates:
        try:
            other = rebuild(tree, candidate.overrides)
        except ParamcountError:
            continue  # a neighbour torch would reject is not worth showing
        other_total = parameter_count(other)
        found.append(
            Comparison(candidate.label, expression_of(other), other_total, other_total - total, candidate.note)
        )
    return tuple(found)


def build_report(result: Result) -> Report:
    tree, counts = result.tree, result.counts
    is_container = tree.kind in ("Sequential", "ModuleList", "ModuleDict")
    parameter_bytes, buffer_bytes = stored_bytes(counts)
    expression = expression_of(tree)
    return Report(
        query=result.query,
        origin=result.origin,
        kind=tree.kind,
        expression=expression,
        counts=counts,
        explanation=explain(tree),
        reading=reading(tree),
        parameter_memory=parameter_memory(counts),
        stored_parameter_bytes=parameter_bytes,
        stored_buffer_bytes=buffer_bytes,
        dtypes=tuple(sorted({row.dtype for row in counts.parameters + counts.buffer_tensors})),
        training=training_plans(counts),
        variants=() if is_container else _compare(tree, counts.total, variant_candidates(tree)),
        related=() if is_container else _compare(tree, counts.total, related_candidates(tree)),
        modules=module_rows(tree),
        code=pytorch_snippet(expression_of(tree, prefix="nn."), counts),
    )
