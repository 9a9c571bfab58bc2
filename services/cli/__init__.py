"""The `jeugdstroom` command: one entry point, its commands grouped by audience.

`beheer` for the operator on call, `analist` for analysts and auditors, `ontwikkel` for
simulated traffic, the demo and the bench."""

from services.cli import (  # noqa: F401  (they register their commands)
    analist,
    beheer,
    belasting,
    chaos,
    kwaliteit,
    ontwikkel,
    toegang,
)
from services.cli.basis import app

__all__ = ["app"]
