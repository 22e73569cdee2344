"""The shipped table of which module declares each catalog kind (``paramcount.layers._families``) is
current; ``pytest --update-golden`` rewrites it. A lookup imports only the family it needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import paramcount.layers._families as families
from paramcount.layers._registry import CATALOG, known_layers

HEADER = '''"""Which family module declares each catalog kind, so looking up ``Conv2d`` imports ``conv`` alone instead
of all eleven families (a few milliseconds of every answer's start-up).

Generated from the declarations: ``tests/layers/test_families.py`` checks it and ``pytest --update-golden``
rewrites it. A kind missing here still resolves: the lookup then loads the whole catalog.
"""

FAMILIES: dict[str, tuple[str, ...]] = {
'''


def _declared() -> dict[str, list[str]]:
    known_layers()  # loads every family
    table: dict[str, list[str]] = {}
    for kind, spec in CATALOG.entries.items():
        table.setdefault(spec.builder.__module__.rsplit(".", 1)[1], []).append(kind)
    return {module: sorted(kinds) for module, kinds in sorted(table.items())}


def _render(table: dict[str, list[str]]) -> str:
    """The module's text, laid out as ``ruff format`` lays it out."""
    lines = []
    for module, kinds in table.items():
        if len(kinds) == 1:
            lines.append(f'    "{module}": ("{kinds[0]}",),')
        else:
            lines += [f'    "{module}": (', *(f'        "{kind}",' for kind in kinds), "    ),"]
    return HEADER + "\n".join(lines) + "\n}\n"


def test_shipped_table_is_current(request: pytest.FixtureRequest) -> None:
    path = Path(families.__file__)
    current = _render(_declared())
    if request.config.getoption("--update-golden"):
        path.write_text(current, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == current


def test_a_lookup_imports_only_its_family() -> None:
    code = (
        "import sys\n"
        "import paramcount\n"
        "from paramcount.layers import lookup\n"
        "before = set(sys.modules)\n"
        "lookup('Conv2d')\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "['paramcount.layers._families', 'paramcount.layers.conv']"
