"""Bounded reading of a Hugging Face ``config.json`` and typed access with key paths in every error.

The text is parsed by the JSON reader every file door shares (``sources._bounded.parse_json``): at most
``MAX_CONFIG_BYTES``, ``NaN``/``Infinity`` refused, nesting depth checked. Sizes must be real ints (``True`` is
not a size, although ``isinstance(True, int)``).
"""

from __future__ import annotations

from paramcount.errors import ConfigError
from paramcount.limits import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_LAYERS
from paramcount.sources._bounded import parse_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["Config", "parse_config_text"]


def parse_config_text(text: str | bytes, source: str = "config.json") -> dict[str, Any]:
    """Parse config text safely into a dict, or raise ``ConfigError``/``LimitError``."""
    return parse_json(text, source=source, max_bytes=MAX_CONFIG_BYTES, max_depth=MAX_CONFIG_DEPTH)


_MISSING = object()


class Config:
    """Typed, validated access to one (sub-)config. Every error names the key path and the model type."""

    __slots__ = ("data", "model_type", "prefix", "source")

    def __init__(self, data: Mapping[str, Any], model_type: str, source: str = "config.json", prefix: str = "") -> None:
        self.data = data
        self.model_type = model_type
        self.source = source
        self.prefix = prefix

    def path(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {message}", key_path=self.path(key))

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _value(self, key: str, default: object) -> object:
        value = self.data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise self.fail(key, f"key '{self.path(key)}' is missing (needed for model_type '{self.model_type}')")
            return default
        return value

    def size(self, key: str, default: int | object = _MISSING, *, minimum: int = 1, maximum: int | None = None) -> int:
        """A size: a real int (not a bool, not a float) in ``[minimum, maximum]``."""
        value = self._value(key, default)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # some configs write 4096.0
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"'{self.path(key)}' must be an integer, got {value!r:.40}")
        if value < minimum:
            relation = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise self.fail(key, f"'{self.path(key)}' must be {relation}, got {value}")
        if value >= 2**48 or (maximum is not None and value > maximum):
            limit = maximum if maximum is not None else 2**48 - 1
            raise self.fail(key, f"'{self.path(key)}' is {value:,}; the limit is {limit:,}")
        return value

    def layers(self, key: str, default: int | object = _MISSING) -> int:
        """A count of repeated blocks (layers, experts), capped by ``MAX_LAYERS``."""
        return self.size(key, default, minimum=0, maximum=MAX_LAYERS)

    def flag(self, key: str, default: bool | object = _MISSING) -> bool:
        value = self._value(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"'{self.path(key)}' must be true or false, got {value!r:.40}")
        return value

    def number(self, key: str, default: float | object = _MISSING) -> float:
        value = self._value(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"'{self.path(key)}' must be a number, got {value!r:.40}")
        return float(value)

    def text(self, key: str, default: str | object = _MISSING) -> str:
        value = self._value(key, default)
        if not isinstance(value, str):
            raise self.fail(key, f"'{self.path(key)}' must be a string, got {value!r:.40}")
        return value

    def sizes(self, key: str, default: list[int] | object = _MISSING) -> list[int]:
        value = self._value(key, default)
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise self.fail(key, f"'{self.path(key)}' must be a list of integers, got {value!r:.40}")
        return list(value)

    def raw(self, key: str, default: object = None) -> object:
        """The value as written (for keys with free-form values, such as ``rope_scaling``)."""
        return self.data.get(key, default)

    def sub(self, key: str, model_type: str | None = None) -> Config:
        """A nested config (``text_config``, ``vision_config``)."""
        value = self._value(key, _MISSING)
        if not isinstance(value, dict):
            raise self.fail(key, f"'{self.path(key)}' must be an object, got {value!r:.40}")
        return Config(
            value, model_type or str(value.get("model_type", self.model_type)), self.source, f"{self.path(key)}."
        )
