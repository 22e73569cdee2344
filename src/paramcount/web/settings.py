"""What one web app instance is allowed to do: every bound on a request, in one frozen object.

``create_app(Settings(...))`` takes it; ``paramcount serve`` builds it from its flags; tests pass their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from paramcount.limits import MAX_EXPRESSION_CHARS, MAX_UPLOAD_BYTES

__all__ = ["Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    max_query_chars: int = MAX_EXPRESSION_CHARS
    """Longest expression, zoo call or hub id accepted (the library's own cap by default)."""
    max_config_chars: int = 60_000
    """Longest pasted ``config.json`` text accepted (published configs are a few kB)."""
    max_body_bytes: int = 262_144
    """Largest request body read; larger bodies are refused with 413 before they are read."""
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    """Largest body of ``POST /api/file`` and ``/fragments/file`` (a checkpoint's first bytes), in its place."""
    timeout_seconds: float = 5.0
    """Longest a request may wait for, and spend in, the library (503 when busy, 504 when slow)."""
    cache_size: int = 512
    """Answers kept in memory (each a small frozen Report)."""
    depth: int = 3
    """Deepest level of the module table on pages."""
    base_url: str | None = None
    """Absolute origin for canonical links and the sitemap (``https://example.org``); the request's own
    origin when None."""

    def __post_init__(self) -> None:
        sizes = {
            "max_query_chars": self.max_query_chars,
            "max_config_chars": self.max_config_chars,
            "max_body_bytes": self.max_body_bytes,
            "max_upload_bytes": self.max_upload_bytes,
            "cache_size": self.cache_size,
            "depth": self.depth,
        }
        for name, value in sizes.items():
            if value < 0:
                raise ValueError(f"Settings.{name} must not be negative, got {value}")
        if not self.timeout_seconds > 0:
            raise ValueError("Settings.timeout_seconds must be positive")
