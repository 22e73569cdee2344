"""``python -m paramcount`` runs the command line."""

from paramcount.cli import main

raise SystemExit(main())
