"""``paramcount serve`` and ``paramcount site build``: argument parsing only; the work is in app.py and site.py.

Both need the ``web`` extra; without it they print one sentence saying how to install it and return 1
(httpx's habit for its optional CLI). This module imports nothing heavy at import time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from paramcount.web.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["app_from_environment", "serve_main", "site_main"]

INSTALL_HINT = (
    "paramcount: the web app needs the web extra: pip install 'paramcount[web]' "
    "(in a source checkout: pip install -e '.[web]')\n"
)
SETTINGS_VARIABLE = "PARAMCOUNT_WEB_SETTINGS"
"""How ``serve --workers N`` hands its settings to the worker processes uvicorn starts."""

DEFAULT_TIMEOUT_SECONDS = Settings().timeout_seconds

SERVE_EXAMPLES = """\
examples:
  paramcount serve                      # http://127.0.0.1:8000
  paramcount serve --port 8080 --workers 4
  paramcount serve --host 0.0.0.0 --base-url https://params.example.org
"""

SITE_BASE_URL = "http://127.0.0.1:8000"
SITE_EXAMPLES = """\
examples:
  paramcount site build public
  paramcount site build public --base-url https://params.example.org
"""


def _web_available() -> bool:
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _command_parser(command: str, description: str, examples: str) -> argparse.ArgumentParser:
    """The parser of ``paramcount <command>``, its examples shown as written."""
    return argparse.ArgumentParser(
        prog=f"paramcount {command}",
        description=description,
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _serve_parser() -> argparse.ArgumentParser:
    parser = _command_parser(
        "serve", "Start the web app: the Parameter Counter, answer pages and the JSON API.", SERVE_EXAMPLES
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    parser.add_argument("--base-url", help="public origin for canonical links and the sitemap (default: the request's)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds per answer (default 5)")
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (off by default: a proxy in front logs them)"
    )
    return parser


def app_from_environment() -> FastAPI:
    """The app factory uvicorn's worker processes call (settings come from ``serve`` via the environment)."""
    from paramcount.web.app import create_app

    raw = os.environ.get(SETTINGS_VARIABLE)
    return create_app(Settings(**json.loads(raw)) if raw else Settings())


def serve_main(argv: list[str]) -> int:
    """``paramcount serve [--host H] [--port P] [--workers N]``."""
    arguments = _serve_parser().parse_args(argv)
    if not _web_available():
        sys.stderr.write(INSTALL_HINT)
        return 1
    import uvicorn

    from paramcount.web.server import PROTOCOL

    settings = {"base_url": arguments.base_url, "timeout_seconds": arguments.timeout}
    Settings(**settings)  # validate before starting workers
    os.environ[SETTINGS_VARIABLE] = json.dumps(settings)
    uvicorn.run(
        "paramcount.web.commands:app_from_environment",
        factory=True,
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        log_level="info",
        access_log=arguments.access_log,
        http=PROTOCOL,  # TCP_NODELAY on every connection (see paramcount.web.server)
    )
    return 0


def _site_parser() -> argparse.ArgumentParser:
    description = "Write the answer pages for the curated questions as a static site."
    parser = _command_parser("site", description, SITE_EXAMPLES)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser(
        "build",
        help="write the static site into DIR",
        description=description,
        epilog=SITE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("directory", metavar="DIR", type=Path, help="folder to write (created if missing)")
    build.add_argument(
        "--base-url",
        default=SITE_BASE_URL,
        help=f"public origin for canonical links and the sitemap (default {SITE_BASE_URL})",
    )
    return parser


def site_main(argv: list[str]) -> int:
    """``paramcount site build DIR [--base-url URL]``."""
    arguments = _site_parser().parse_args(argv)
    try:
        import jinja2  # noqa: F401
    except ImportError:
        sys.stderr.write(INSTALL_HINT)
        return 1
    from paramcount.web.site import build_site

    summary = build_site(arguments.directory, base_url=arguments.base_url)
    for reason in summary.skipped:
        sys.stderr.write(f"paramcount: skipped {reason}\n")
    sys.stdout.write(
        f"wrote {summary.pages:,} answer pages ({summary.files:,} files) to {arguments.directory} "
        f"in {summary.seconds:.1f} s\n"
    )
    return 2 if summary.skipped else 0
