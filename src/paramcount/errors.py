"""The one exception tree of paramcount.

Everything the user's input can cause is a ``ParamcountError``; anything else escaping the library is a
bug. ``str(error)`` is always one line: ``<where>: <what is wrong>[; <what is allowed or what to do>]``.
What to do may be an option of ``paramcount.count`` (a ``Remedy``): ``str(error)`` names its keyword argument
(``via_transformers=True``), and ``error.worded(options)`` names it as another surface offers it (the command
line's ``--via-transformers``), or leaves it out where that surface has no such option (the web).

    ParamcountError(ValueError)  .column: where in the query (1-based), or None; .to_dict()
    ├── ExpressionError      syntax not allowed or malformed
    ├── LimitError           a cap was exceeded; .what, .limit, .actual
    ├── UnknownNameError     layer, zoo model, dtype …; .name, .suggestions
    ├── ArgumentError        a layer argument or value rejected; .layer, .argument
    ├── ConfigError          a model config problem; .key_path
    ├── CheckpointError      a checkpoint header problem; .format, .offset
    ├── ShapeError           shape propagation; .module_path
    └── QueryError           a query refused before counting (the web: empty, a path, an option that
                             does not apply)
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    Message = str | tuple["str | Remedy", ...]
    """An error's text: one string, or strings and the remedies between them."""

__all__ = [
    "ArgumentError",
    "CheckpointError",
    "ConfigError",
    "ExpressionError",
    "LimitError",
    "ParamcountError",
    "QueryError",
    "Remedy",
    "ShapeError",
    "UnknownNameError",
    "did_you_mean",
    "expect_type",
    "short_repr",
]


class Remedy:
    """A part of an error's message naming an option of ``paramcount.count`` that the user can give: ``option``,
    its keyword argument (a switch), where ``{}`` stands in ``text``. ``str(error)`` names it ``option=True``; a
    surface names it from its ``options`` (an option's keyword argument to what that surface calls it), and one
    without it says ``otherwise`` instead ("" leaves the part out)."""

    __slots__ = ("option", "otherwise", "text")

    def __init__(self, option: str, text: str, otherwise: str = "") -> None:
        self.option = option
        self.text = text
        self.otherwise = otherwise

    def worded(self, options: Mapping[str, str] | None) -> str:
        name = f"{self.option}=True" if options is None else options.get(self.option)
        return self.otherwise if name is None else self.text.replace("{}", name)


class ParamcountError(ValueError):
    """Base class: the input was rejected. The message is one line; with a ``column`` (1-based, counted in
    characters over the whole query) it starts with ``column N:``. ``parts`` is the message as given: strings and
    the ``Remedy`` parts that each surface words (``worded``)."""

    def __init__(self, message: Message, *, column: int | None = None) -> None:
        self.parts = (message,) if isinstance(message, str) else message
        self.column = column
        text = self.worded(None)
        super().__init__(text)
        self.message = text

    def __str__(self) -> str:
        return self.message

    def worded(self, options: Mapping[str, str] | None) -> str:
        """The message with each remedy named from ``options`` (a surface's: ``Remedy.worded``); None names
        the keyword arguments of ``paramcount.count``, as ``str(error)`` does."""
        text = "".join(part if isinstance(part, str) else part.worded(options) for part in self.parts)
        return text if self.column is None else f"column {self.column}: {text}"

    def to_dict(self, options: Mapping[str, str] | None = None) -> dict[str, str | int | None]:
        """The error as every surface reports it (``--json``, ``--batch`` lines, the web API), its remedies named
        from ``options`` (``worded``): ``{"type": "ExpressionError", "message": "column 7: …", "column": 7}``."""
        return {"type": type(self).__name__, "message": self.worded(options), "column": self.column}


class ExpressionError(ParamcountError):
    """The expression text is malformed or uses syntax outside the whitelist."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message, column=column)


class LimitError(ParamcountError):
    """A size, depth, count or time cap was exceeded before any work was done."""

    def __init__(
        self, what: str, limit: int, actual: int | None = None, *, unit: str = "", column: int | None = None
    ) -> None:
        suffix = f" {unit}" if unit else ""
        if actual is None:
            message = f"{what} exceeds the limit of {limit:,}{suffix}"
        else:
            message = f"{what} is {actual:,}{suffix}; the limit is {limit:,}{suffix}"
        super().__init__(message, column=column)
        self.what = what
        self.limit = limit
        self.actual = actual


class UnknownNameError(ParamcountError):
    """A name (layer, model, dtype …) is not known; carries the closest known names."""

    def __init__(
        self, message: Message, name: str, suggestions: tuple[str, ...] = (), *, column: int | None = None
    ) -> None:
        super().__init__(message, column=column)
        self.name = name
        self.suggestions = suggestions


class ArgumentError(ParamcountError):
    """A layer rejected an argument, the way torch would."""

    def __init__(self, layer: str, message: str, argument: str | None = None) -> None:
        super().__init__(f"{layer}: {message}")
        self.layer = layer
        self.argument = argument


class ConfigError(ParamcountError):
    """A model configuration is missing a key or holds a bad value."""

    def __init__(self, message: Message, key_path: str | None = None) -> None:
        super().__init__(message)
        self.key_path = key_path


class CheckpointError(ParamcountError):
    """A checkpoint header is malformed or unsupported."""

    def __init__(self, message: str, format: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.format = format
        self.offset = offset


class ShapeError(ParamcountError):
    """An input shape does not fit a module; names the module where it happened."""

    def __init__(self, message: str, module_path: str) -> None:
        super().__init__(f"{module_path}: {message}" if module_path else message)
        self.module_path = module_path
        self.positions: int | None = None
        """When the sequence is longer than a learned position table holds: the longest sequence it holds."""


class QueryError(ParamcountError):
    """A query was refused before counting: empty, a path where paths are not read (the web app), an
    option that does not apply to it."""


def did_you_mean(names: tuple[str, ...] | list[str]) -> str:
    """``"; did you mean 'a', 'b' or 'c'?"`` for close matches, or ``""`` when there are none."""
    quoted = [repr(name) for name in names]
    if not quoted:
        return ""
    either = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"; did you mean {either}?"


def short_repr(value: object) -> str:
    """A user value for a message: ``repr`` truncated to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def expect_type(argument: str, value: object, kinds: type | tuple[type, ...], what: str) -> None:
    """An ``ArgumentError`` naming ``argument`` when ``value`` is not of ``kinds``: an entry point's argument is
    typed, but a notebook passes whatever it holds (``count(5)``, ``count(model)``), and the error must be one line
    of ours, not a ``TypeError`` from inside. A module given where text is read is pointed to its own door."""
    if isinstance(value, kinds):
        return
    hint = ""
    if hasattr(value, "named_parameters"):
        hint = "; for a torch.nn.Module, call paramcount.from_module() or paramcount.summary()"
    raise ArgumentError(argument, f"must be {what}, got {type(value).__name__} {short_repr(value)}{hint}", argument)
