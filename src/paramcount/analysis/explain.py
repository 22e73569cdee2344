"""The formula, derived from the tensor shapes: symbols, then numbers, then step by step to the total.

Every ``Dim`` carries its symbol and its arithmetic, so a parameter's term is the product of its dims; a
module's formula is the sum of its terms (identical terms grouped: ``2 × (4·hidden_size × input_size)``).
Nothing here is written per layer type.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.tree import Module, Param, iter_modules_collapsed

__all__ = ["Explanation", "ModuleFormula", "Term", "explain"]


class Term(Record):
    """One parameter tensor: ``name = symbolic = substituted = factors… = value``."""

    name: str
    symbolic: str
    substituted: str
    factors: tuple[int, ...]
    value: int


class ModuleFormula(Record):
    """The terms of one module that owns parameters; ``symbolic`` groups identical terms. A module that
    stands for ``times`` identical copies (``layers.0-5``) is explained once; ``subtotal`` is per copy."""

    path: str
    kind: str
    terms: tuple[Term, ...]
    symbolic: str
    substituted: str
    subtotal: int
    times: int


class Explanation(Record):
    modules: tuple[ModuleFormula, ...]
    total: int


def _product(symbols: list[str]) -> str:
    return " × ".join(symbols) if symbols else "1"


def _term(param: Param) -> Term:
    symbolic = [dim.symbol if dim.precedence < 2 else f"({dim.symbol})" for dim in param.shape]
    substituted = [dim.arithmetic if dim.precedence < 2 else f"({dim.arithmetic})" for dim in param.shape]
    return Term(
        name=param.name,
        symbolic=_product(symbolic),
        substituted=_product(substituted),
        factors=param.sizes,
        value=param.count,
    )


def _grouped(parts: list[str]) -> str:
    """``a + a + b`` → ``2 × (a) + b`` (keeping first-appearance order)."""
    counts: dict[str, int] = {}
    for part in parts:
        counts[part] = counts.get(part, 0) + 1
    rendered = []
    for part, times in counts.items():
        if times == 1:
            rendered.append(part)
        else:
            wrapped = part if " × " not in part else f"({part})"
            rendered.append(f"{times} × {wrapped}")
    return " + ".join(rendered) if rendered else "0"


def explain(root: Module) -> Explanation:
    """Formulas of every module that owns (untied) parameters, in ``named_modules()`` order."""
    formulas = []
    for path, module, times in iter_modules_collapsed(root):
        terms = tuple(_term(param) for param in module.params if param.tied_to is None)
        if not terms:
            continue
        formulas.append(
            ModuleFormula(
                path=path,
                kind=module.kind,
                terms=terms,
                symbolic=_grouped([term.symbolic for term in terms]),
                substituted=_grouped([term.substituted for term in terms]),
                subtotal=sum(term.value for term in terms),
                times=times,
            )
        )
    return Explanation(modules=tuple(formulas), total=sum(formula.subtotal * formula.times for formula in formulas))
