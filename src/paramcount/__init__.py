"""paramcount: exact parameter counts, memory and the arithmetic behind them, from text."""

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

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "CheckpointError",
    "ConfigError",
    "ExpressionError",
    "LimitError",
    "ParamcountError",
    "ShapeError",
    "UnknownNameError",
    "__version__",
]
