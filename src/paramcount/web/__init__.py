"""The web app (the ``web`` extra): the interactive Parameter Counter, answer pages, a JSON API and a
static export. ``paramcount.web.app.create_app`` builds the app; ``paramcount serve`` and ``paramcount site
build`` are in ``paramcount.web.commands``. Importing this package imports nothing heavy."""
