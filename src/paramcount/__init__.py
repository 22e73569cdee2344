"""paramcount: exact parameter counts, memory and the arithmetic behind them, from text."""

from paramcount.api import Result, count, from_config, from_module
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
    "from_module",
    "parse",
]
