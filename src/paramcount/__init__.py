"""paramcount: exact parameter counts, memory and the arithmetic behind them, from text.

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
    ShapeError,
    UnknownNameError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.api import Result, count, from_config, from_file, from_module
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
    "Report",
    "Result",
    "ShapeError",
    "UnknownNameError",
    "__version__",
    "count",
    "from_config",
    "from_file",
    "from_module",
    "parse",
]

_HOMES = {
    "Result": "paramcount.api",
    "count": "paramcount.api",
    "from_config": "paramcount.api",
    "from_file": "paramcount.api",
    "from_module": "paramcount.api",
    "parse": "paramcount.expr",
    "Report": "paramcount.report",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(globals(), _HOMES)
