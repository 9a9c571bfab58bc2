"""The care questions, shared by the CLI, the HTTP API and the dashboard: one read of the care
view (`projections.zorgview`), then the care rules (`projections.zorg`) on what it returns.
Replay computes the same from the event log alone.
"""

from __future__ import annotations

import copy
import csv
import io
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date

from projections.regio import Regio
from projections.zorg import Zorgtelling, bereken_zorg
from projections.zorgprojectie import zorg_uit_eventlog
from projections.zorgview import ZorgView

TELLINGEN_IN_GEHEUGEN = 64

ZORGVELDEN = ("toegewezen_niet_gestart", "gestart", "tijd_tot_start_mediaan",
              "tijd_tot_start_p90", "stops", "tijdelijke_stops")


class Zorgvragen:
    """The care figures from a care view, for every reader.

    The same question asked again before the view moved (and on the same day: "now" depends
    on it) is answered from memory, as the money questions are: a year of a region is a few
    thousand toewijzingen to place in segments (~0.3 s), and the dashboard asks it on every
    page."""

    def __init__(self, view: ZorgView) -> None:
        self.view = view
        self._tellingen: OrderedDict[tuple[object, ...], Zorgtelling] = OrderedDict()

    def zorgtelling(self, regio: Regio, van: date, peildatum: date, bekend_op: date | None,
                    gemeente: str | None = None) -> Zorgtelling:
        """The care figures for a window as known at a date; None means now."""
        if peildatum < van:
            raise ValueError(f"peildatum {peildatum} lies before from {van}")
        sleutel = (regio.id, van, peildatum, bekend_op, gemeente, date.today(), self.view.positie())
        if sleutel in self._tellingen:
            self._tellingen.move_to_end(sleutel)
            return copy.deepcopy(self._tellingen[sleutel])
        k = bekend_op or date.today()
        g = self.view.gegevens_op([gemeente] if gemeente else regio.gemeenten, k, van, peildatum,
                                  regio.start_termijn)
        telling = bereken_zorg(g.versies, g.starts, regio, van, peildatum, k, gemeente,
                               stops=g.stops, k_getoond=bekend_op)
        self._tellingen[sleutel] = copy.deepcopy(telling)
        if len(self._tellingen) > TELLINGEN_IN_GEHEUGEN:
            self._tellingen.popitem(last=False)
        return telling


def replay_zorg(events: Iterable[object], regio: Regio, van: date, peildatum: date,
                bekend_op: date | None, gemeente: str | None = None) -> Zorgtelling:
    """The care figures from the event log alone, recomputed from scratch with the same rules."""
    versies, starts, stops = zorg_uit_eventlog(events)
    return bereken_zorg(versies, starts, regio, van, peildatum, bekend_op or date.today(),
                        gemeente, stops=stops, k_getoond=bekend_op)


def zorgrijen(telling: Zorgtelling) -> list[dict[str, object]]:
    """The table rows of a care question (per segment, then "totaal"), as in the JSON."""
    return [*(s.als_dict() for s in telling.segmenten),
            {"segment": "totaal", **telling.totaal.als_dict()}]


def als_csv_zorg(telling: Zorgtelling) -> str:
    """The care table as CSV; an empty cell is n.v.t. (no start in the window)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["segment", *ZORGVELDEN])
    for rij in zorgrijen(telling):
        writer.writerow([rij["segment"], *("" if rij[v] is None else rij[v] for v in ZORGVELDEN)])
    return out.getvalue()
