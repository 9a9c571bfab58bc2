"""The read side's questions, shared by the CLI, the HTTP API and the live updates: validate
what is asked, then answer it from the flow view (counts, monthly series, gemeenten side by
side, the difference between two knowledge times, replay, CSV). Plain reads of the view,
like cosmicpython's `views.py`: nothing here writes or knows the projector."""

from __future__ import annotations

import copy
import csv
import io
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from projections.flow import FLOW, Telling, Wijziging, aandeel, classificeer_op, tel, verschillen
from projections.projectie import uit_eventlog
from projections.regio import Regio
from projections.view import FlowView

TELLINGEN_IN_GEHEUGEN = 256  # answered questions kept (a few KB each)

VELDEN = [*FLOW, "in_zorg", "unieke_jeugdigen"]


class OngeldigeVraag(ValueError):
    """A question that cannot be answered; the message says what to ask instead."""

    def __init__(self, message: str, *, onbekend: bool = False) -> None:
        super().__init__(message)
        self.onbekend = onbekend  # True: the thing asked for does not exist (HTTP 404)


def kies_regio(regios: dict[str, Regio], regio_id: str) -> Regio:
    if regio_id not in regios:
        raise OngeldigeVraag(
            f"unknown region '{regio_id}': choose one of {', '.join(sorted(regios))} "
            "or add its file with --region-config", onbekend=True)
    return regios[regio_id]


JAREN = range(1900, 9001)  # questions outside these years are typing errors, not history


def redelijk(d: date | None, naam: str) -> date | None:
    if d is not None and d.year not in JAREN:
        raise OngeldigeVraag(f"{naam} {d.isoformat()} is outside the years "
                             f"{JAREN.start}-{JAREN.stop - 1}: check the year")
    return d


def venster(regio: Regio, peildatum: date, van: date | None, gemeente: str | None) -> tuple[date, date]:
    """The window [from, peildatum]; `from` defaults to 1 January of the peildatum's year."""
    redelijk(peildatum, "peildatum")
    redelijk(van, "from")
    start = van or date(peildatum.year, 1, 1)
    if peildatum < start:
        raise OngeldigeVraag(
            f"--peildatum {peildatum} lies before --from {start}: the window is [from, peildatum]")
    if gemeente is not None and gemeente not in regio.gemeenten:
        raise OngeldigeVraag(f"gemeente {gemeente} is not in region {regio.id}: choose one of "
                             f"{', '.join(sorted(regio.gemeenten))}")
    return start, peildatum


@dataclass(frozen=True)
class Maand:
    """One month of one segment: inflow and uitstroom in the month, in zorg on its last day."""

    maand: str  # YYYY-MM
    segment: str
    instroom: int | None  # all five inflow categories: every allocation that started
    uitstroom: int | None
    in_zorg: int


def maanden(van: str, tot: str) -> list[tuple[date, date]]:
    """[first day, last day] of every month from `van` to `tot` (YYYY-MM), at most 120."""
    try:
        eerste = date.fromisoformat(van + "-01")
        laatste = date.fromisoformat(tot + "-01")
    except ValueError:
        raise OngeldigeVraag(f"months are written YYYY-MM, e.g. 2023-01, not '{van}'/'{tot}'") from None
    redelijk(eerste, "from_month")
    redelijk(laatste, "to_month")
    if laatste < eerste:
        raise OngeldigeVraag(f"the last month {tot} lies before the first month {van}")
    result = []
    while eerste <= laatste:
        volgende = (eerste.replace(day=28) + timedelta(days=4)).replace(day=1)
        result.append((eerste, volgende - timedelta(days=1)))
        eerste = volgende
    if len(result) > 120:
        raise OngeldigeVraag("ask for at most 120 months at once")
    return result


class Leeskant:
    """The flow figures from a flow view, for every reader."""

    def __init__(self, view: FlowView) -> None:
        self.view = view
        self._tellingen: OrderedDict[tuple[object, ...], Telling] = OrderedDict()

    def telling(self, regio: Regio, van: date, peildatum: date, bekend_op: date | None,
                gemeente: str | None = None) -> Telling:
        """The figures for a window as known at a date; None means now (the live figures).

        The same question asked again before the projection moved (and on the same day,
        which "now" and provisional uitstroom depend on) is answered from memory: the
        dashboard and API ask the live figures over and over, and a position read is a
        fraction of a millisecond where counting all allocations is tens."""
        sleutel = (regio.id, van, peildatum, bekend_op, gemeente, date.today(), self.view.positie())
        if sleutel in self._tellingen:
            self._tellingen.move_to_end(sleutel)
            return copy.deepcopy(self._tellingen[sleutel])
        k = bekend_op or date.today()
        perioden = self.view.perioden_op(regio.id, k, van, peildatum)
        telling = tel([p.classificatie for p in perioden], regio, van, peildatum, k,
                      gemeente, k_getoond=bekend_op)
        self._tellingen[sleutel] = copy.deepcopy(telling)
        if len(self._tellingen) > TELLINGEN_IN_GEHEUGEN:
            self._tellingen.popitem(last=False)
        return telling

    def vergeet_tellingen(self) -> None:
        """Answer the next questions from the view (the bench's cold measurement)."""
        self._tellingen.clear()

    def tijdreeks(self, regio: Regio, van: str, tot: str, bekend_op: date | None,
                  gemeente: str | None = None) -> list[Maand]:
        """Monthly instroom (all inflow), uitstroom and in zorg per segment, as known at K."""
        periode = maanden(van, tot)
        k = bekend_op or date.today()
        classificaties = [p.classificatie for p in self.view.perioden_op(
            regio.id, k, periode[0][0], periode[-1][1])]
        reeks = []
        for begin, eind in periode:
            telling = tel(classificaties, regio, begin, eind, k, gemeente)
            for s in telling.segmenten:
                reeks.append(Maand(begin.strftime("%Y-%m"), s.segment, s.alle_instroom,
                                   s.uitstroom, s.in_zorg))
        return reeks

    def regio_en_gemeenten(self, regio: Regio, van: date, peildatum: date,
                           bekend_op: date | None) -> tuple[Telling, list[Telling]]:
        """The region's counts and every gemeente's, from one read of the view."""
        k = bekend_op or date.today()
        classificaties = [p.classificatie for p in self.view.perioden_op(
            regio.id, k, van, peildatum)]
        return (tel(classificaties, regio, van, peildatum, k, k_getoond=bekend_op),
                [tel(classificaties, regio, van, peildatum, k, code, k_getoond=bekend_op)
                 for code in sorted(regio.gemeenten)])

    def diff(self, regio: Regio, van: date, peildatum: date, k1: date, k2: date,
             gemeente: str | None = None) -> tuple[Telling, Telling, list[Wijziging]]:
        """The figures at K1 and K2, and the allocations behind the difference."""
        wijzigingen = verschillen(
            k1, self.view.perioden_op(regio.id, k1, van, peildatum),
            self.view.perioden_op(regio.id, k2, van, peildatum), van, peildatum, gemeente)
        return (self.telling(regio, van, peildatum, k1, gemeente),
                self.telling(regio, van, peildatum, k2, gemeente), wijzigingen)


def aandeel_in_regio(gemeente: Telling, regio: Telling) -> dict[str, float | None]:
    """Per segment: the gemeente's share of the region's unieke jeugdigen."""
    totaal = {s.segment: s.unieke_jeugdigen for s in regio.segmenten}
    return {s.segment: aandeel(s.unieke_jeugdigen, totaal[s.segment]) for s in gemeente.segmenten}


def replay(events: Iterable[object], regio: Regio, van: date, peildatum: date,
           bekend_op: date | None, gemeente: str | None = None) -> Telling:
    """The figures from the event log alone, recomputed from scratch with the same rules."""
    k = bekend_op or date.today()
    return tel(classificeer_op(uit_eventlog(events), regio, k), regio, van, peildatum, k,
               gemeente, k_getoond=bekend_op)


def als_csv(telling: Telling, *, min_cel: int | None = None) -> str:
    """The counts table as CSV. With `min_cel` (publication), cells below it read `<min_cel`
    (zero stays zero) and a footer says so; without it, the exact figures for the region's
    own users."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["segment", "name", *VELDEN])
    for s in telling.segmenten:
        writer.writerow([s.segment, s.naam, *(_cel(getattr(s, v), min_cel) for v in VELDEN)])
    writer.writerow(["totaal", "unieke jeugdigen", *[""] * (len(VELDEN) - 1),
                     _cel(telling.totaal_unieke_jeugdigen, min_cel)])
    if min_cel is not None:
        writer.writerow([f"# cells from 1 to {min_cel - 1} are shown as <{min_cel} so that no "
                         "child can be recognised; n.v.t. = no flow figures for this segment"])
    return out.getvalue()


def _cel(waarde: int | None, min_cel: int | None) -> str:
    if waarde is None:
        return "n.v.t."
    if min_cel is not None and 0 < waarde < min_cel:
        return f"<{min_cel}"
    return str(waarde)
