"""The layering rules of STYLE.md 2.2, enforced: import directions and the lazy-import budget."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "paramcount"

# module group → groups it may import from (besides itself): STYLE.md 2.2's table, with each addition justified
ALLOWED = {
    "tree": {"errors", "limits", "dtypes"},
    "errors": set(),
    "limits": set(),
    "dtypes": set(),
    "provenance": set(),  # where a tree came from: plain records the doors return beside the tree
    "calls": set(),  # calls as data: the catalog makes them from a tree, render writes them (a leaf, like provenance)
    # _registry: the name → entry table the layer catalog, the zoo and the HF model types share (imports errors)
    "_registry": {"errors"},
    # layers → dtypes: the storage check reads bits per element from the one dtype table
    "layers": {"tree", "errors", "limits", "dtypes", "_registry", "calls"},
    # expr → zoo: the expression language calls zoo models by name (resnet50(num_classes=10), also nested in
    # a container); the zoo is a second catalog of builders made of layers, importing nothing above layers.
    "expr": {"layers", "tree", "errors", "limits", "zoo", "provenance"},
    # checkpoint readers name the element types they find with the dtype table (a leaf module, like limits)
    "sources": {"layers", "tree", "errors", "limits", "provenance", "dtypes", "_registry"},
    "zoo": {"layers", "tree", "errors", "limits", "_registry"},
    "analysis": {"tree", "dtypes", "errors", "limits"},
    # render: only inside Report's display hooks (__str__, __rich__, _repr_html_), imported when called
    "report": {"analysis", "tree", "provenance", "calls", "render"},
    # render → analysis: the Report's fields are analysis records (types only, never an analysis run).
    "render": {"report", "analysis", "provenance", "calls"},
    # the zoo's layer index joins a door (the zoo's trees) and an analysis (analysis.context) above both;
    # computing it (a build step, never an answer) writes each entry's call with render.code, as answers show it
    "zoo_index": {"analysis", "layers", "tree", "zoo", "render"},
    "api": {
        "analysis",
        "calls",
        "errors",
        "expr",
        "layers",
        "limits",
        "provenance",
        "report",
        "tree",
        "sources",
        "zoo",
        "zoo_index",
    },
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
        # cli → web: `paramcount serve` and `paramcount site` are subcommands of the one command; the web
        # package is imported only when one of them runs, and the web never imports the CLI.
        "web",
    },
    # web → calls: a link's slug is encoded from the call record its text was written from (no parse)
    "web": {
        "api",
        "calls",
        "render",
        "report",
        "errors",
        "limits",
        "layers",
        "zoo",
        "zoo_index",
        "sources",
        "analysis",
        "dtypes",
        "provenance",
        "__init__",
    },
    "__init__": {"api", "errors", "expr", "report", "analysis"},  # analysis: PlanOptions, the planner's input
    "__main__": {"cli"},
    "_record": set(),
    "_lazy": set(),
    "_cache": set(),
    "_words": set(),
}
# Import nothing of paramcount, so every group may use them.
FOUNDATION = {"_record", "_lazy", "_cache", "_words"}


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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(body: list[ast.stmt], modules: set[str]) -> set[str]:
    """The paramcount modules a module imports when it is imported: not in functions, not for type checking."""
    found: set[str] = set()
    for node in body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.If | ast.Try):
            found |= _top_level_imports([*node.body, *node.orelse], modules)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("paramcount"):
            # ``from package import submodule`` is an edge to the submodule; to the package only for its own names.
            module = node.module or ""
            submodules = {f"{module}.{a.name}" for a in node.names} & modules
            found |= submodules | ({module} & modules if len(submodules) < len(node.names) else set())
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
    return found


def test_the_import_graph_has_no_cycles() -> None:
    """Every module can be read after the modules it imports: no two modules import each other, even through
    others (imports inside functions, which run after every module is loaded, are not edges)."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {
        name: _top_level_imports(ast.parse(path.read_text()).body, set(paths)) - {name} for name, path in paths.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import cycle: {' → '.join((*trail[trail.index(name) :], name))}"
        if name not in done:
            for imported in sorted(graph[name]):
                visit(imported, (*trail, name))
            done.add(name)

    for name in sorted(graph):
        visit(name, ())


def test_renderers_import_only_the_records_of_analyses() -> None:
    """render → analysis is for the Report's field types: never an analysis run while rendering."""
    records = {
        "paramcount.analysis.counts",  # Counts and TensorRow: the Report's counts
        "paramcount.analysis.explain",
        "paramcount.analysis.measured",
        "paramcount.analysis.memory",
        "paramcount.analysis.structure",
        "paramcount.analysis.planner",
        "paramcount.analysis.readings",
        "paramcount.analysis.shapes.types",
    }
    found = set()
    for path in (PACKAGE / "render").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("paramcount.analysis"):
                found.add(node.module)
    assert found <= records


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
