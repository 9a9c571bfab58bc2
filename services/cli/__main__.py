"""`python -m services.cli`: the same app as the `jeugdstroom` command."""

from services.cli import app

app()
