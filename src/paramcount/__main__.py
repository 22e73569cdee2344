"""``python -m paramcount`` runs the command line."""

from paramcount.cli import run

raise SystemExit(run())
