"""paramcount: exact parameter counts, memory and the arithmetic behind them, from text.

``count(text)`` (or ``from_config``, ``from_module``) gives a ``Result``; ``Result.report(PlanOptions(…),
input_shape=…)`` the whole answer with a memory plan, FLOPs and output shapes (the README's Python API).
``summary(model, input_size=…)`` is that answer for a live ``nn.Module``, measured on the meta device.

The library's names load on first use (PEP 562), so ``import paramcount`` costs almost nothing and the command
line can set itself up (see ``cli.main``) before the parser and the analyses are imported.
"""

from paramcount._lazy import lazy_exports
from paramcount.errors import (
    ArgumentError,
    CheckpointError,
    ConfigError,
    ExpressionError,
    LimitError,
    ParamcountError,
    QueryError,
    ShapeError,
    UnknownNameError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.analysis.planner.options import PlanOptions
    from paramcount.api import Result, count, from_config, from_config_text, from_file, from_module, summary
    from paramcount.expr import parse
    from paramcount.report import Report

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "CheckpointError",
    "ConfigError",
    "ExpressionError",
    "LimitError",
    "ParamcountError",
    "PlanOptions",
    "QueryError",
    "Report",
    "Result",
    "ShapeError",
    "UnknownNameError",
    "__version__",
    "count",
    "from_config",
    "from_config_text",
    "from_file",
    "from_module",
    "parse",
    "summary",
]

_HOMES = {
    "PlanOptions": "paramcount.analysis.planner.options",
    "Result": "paramcount.api",
    "count": "paramcount.api",
    "from_config": "paramcount.api",
    "from_config_text": "paramcount.api",
    "from_file": "paramcount.api",
    "from_module": "paramcount.api",
    "parse": "paramcount.expr",
    "summary": "paramcount.api",
    "Report": "paramcount.report",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(globals(), _HOMES)
