"""A server that is away: say so, try again with backoff, and give up after a bound.

Every long-running process (ingest, projector) keeps one `Uitval` per server it needs. The
first failure is logged at once, every retry says how long the server has been away and when
the next try is, and past the bound the process stops with a sentence (and a non-zero exit
from the CLI), instead of waiting on a pool without a word.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from events.ijw import redact

T = TypeVar("T")


class Onbereikbaar(Exception):
    """A server stayed away longer than the bound; the message says which and what to do."""


def _kort(fout: BaseException) -> str:
    regels = str(fout).strip().splitlines()
    tekst = redact(regels[0][:200]) if regels else ""
    return f"{type(fout).__name__}: {tekst}" if tekst else type(fout).__name__


class Uitval:
    """How long one server has been away, and how long to wait before the next try."""

    def __init__(self, wat: str, grens: float, log: logging.Logger, *, eerste: float = 0.5,
                 hoogste: float = 10.0, klok: Callable[[], float] = time.monotonic) -> None:
        self.wat = wat
        self.grens = grens
        self.log = log
        self.eerste = eerste
        self.hoogste = hoogste
        self.klok = klok
        self._sinds: float | None = None
        self._pogingen = 0

    @property
    def weg_sinds(self) -> float | None:
        """When (by `klok`) the current outage began, or None when the server answers."""
        return self._sinds

    def mislukt(self, fout: BaseException) -> float:
        """Record a failure; returns the seconds to wait, or raises Onbereikbaar past the bound."""
        nu = self.klok()
        if self._sinds is None:
            self._sinds, self._pogingen = nu, 0
        self._pogingen += 1
        weg = nu - self._sinds
        if weg >= self.grens:
            raise Onbereikbaar(
                f"{self.wat} unreachable for {weg:.0f}s ({self._pogingen} attempts, last: "
                f"{_kort(fout)}); giving up. Check that it runs and answers at its address "
                f"(`jeugdstroom up` for the embedded servers), then start this process again"
            ) from fout
        wacht = min(self.hoogste, self.eerste * 2 ** (self._pogingen - 1), self.grens - weg)
        self.log.warning("%s unreachable for %.0fs (attempt %d, %s); next try in %.1fs, giving up "
                         "after %.0fs", self.wat, weg, self._pogingen, _kort(fout), wacht, self.grens)
        return wacht

    def gelukt(self) -> None:
        if self._sinds is not None:
            self.log.warning("%s reachable again after %.0fs", self.wat, self.klok() - self._sinds)
        self._sinds = None
        self._pogingen = 0

    def probeer(self, doe: Callable[[], T], fouten: tuple[type[BaseException], ...],
                slaap: Callable[[float], None] = time.sleep) -> T:
        """`doe()`, tried again with backoff while it fails with one of `fouten`."""
        while True:
            try:
                uitkomst = doe()
            except fouten as fout:
                slaap(self.mislukt(fout))
                continue
            self.gelukt()
            return uitkomst
