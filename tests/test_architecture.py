"""The layering rules of STYLE.md 2.2, enforced: import directions and the lazy-import budget."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "paramcount"

# module group → groups it may import from (besides itself)
ALLOWED = {
    "tree": {"errors", "limits", "dtypes"},
    "errors": set(),
    "limits": set(),
    "dtypes": set(),
    "layers": {"tree", "errors", "limits"},
    "expr": {"layers", "tree", "errors", "limits", "zoo"},
    "sources": {"layers", "tree", "errors", "limits"},
    "zoo": {"layers", "tree", "errors", "limits", "sources", "analysis"},
    "analysis": {"tree", "dtypes", "errors", "limits"},
    # render: only inside Report's display hooks (__str__, __rich__, _repr_html_), imported when called
    "report": {"analysis", "tree", "render"},
    "render": {"report", "analysis"},
    "api": {"analysis", "errors", "expr", "layers", "limits", "report", "tree", "sources", "zoo"},
    "cli": {
        "api",
        "dtypes",
        "errors",
        "limits",
        "render",
        "report",
        "__init__",
        "layers",
        "zoo",
        "sources",
        "analysis",
        "web",
    },
    "web": {
        "api",
        "render",
        "report",
        "errors",
        "limits",
        "layers",
        "zoo",
        "sources",
        "analysis",
        "dtypes",
        "__init__",
    },
    "__init__": {"api", "errors", "expr", "report", "analysis"},  # analysis: PlanOptions, the planner's input
    "__main__": {"cli"},
    "_record": set(),
    "_lazy": set(),
}
# Import nothing of paramcount, so every group may use them.
FOUNDATION = {"_record", "_lazy"}


def _group(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("paramcount"):
            parts = node.module.split(".")
            found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("paramcount."))
    return found


def test_import_directions() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        group = _group(path)
        for imported in _imports(path) - {group} - FOUNDATION:
            if imported not in ALLOWED[group]:
                violations.append(f"{path.relative_to(PACKAGE)} imports paramcount.{imported}")
    assert violations == []


HEAVY = ["torch", "transformers", "numpy", "rich", "jinja2", "fastapi", "onnx", "gguf", "safetensors"]
# Standard-library modules that cost a millisecond or more to import, with what they pull in: the answer
# path imports the parser's (ast, with collections, enum and functools) and does without the others
# (see benchmarks/RESULTS.md).
PARSER_STDLIB = ["ast", "collections", "enum", "functools"]
SLOW_STDLIB = ["argparse", "dataclasses", "difflib", "inspect", "json", "pathlib", "re", "shutil", "typing"]


def test_counting_imports_nothing_heavy() -> None:
    code = (
        "import sys, paramcount\n"
        "paramcount.count('nn.Sequential(nn.Conv2d(3, 8, 3), nn.LSTM(8, 16))').report()\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "needed"),
    [
        (["Conv2d(256, 512, 3)"], []),
        (["--markdown", "MultiheadAttention(768, 12)"], []),
        # the JSON output needs json, which imports re
        (["--json", "nn.Sequential(nn.Conv2d(3, 8, 3), nn.LSTM(8, 16))"], ["json", "re"]),
    ],
)
def test_a_cli_answer_imports_no_slow_standard_module(argv: list[str], needed: list[str]) -> None:
    """The whole answer (parse, report, render) as the command prints it, in a fresh interpreter."""
    code = (
        "import io, sys\n"
        "from paramcount.cli import main\n"
        f"sys.stdout = io.StringIO(); code = main({argv!r}); sys.stdout = sys.__stdout__\n"
        f"print(code, [m for m in {HEAVY + PARSER_STDLIB + SLOW_STDLIB!r} if m in sys.modules])"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == f"0 {PARSER_STDLIB + needed!r}"
