"""The read side's questions, shared by the CLI, the HTTP API and the live updates: validate
what is asked, then answer it from the flow view (counts, monthly series, gemeenten side by
side, the difference between two knowledge times, replay, CSV). Plain reads of the view,
like cosmicpython's `views.py`: nothing here writes or knows the projector."""

from __future__ import annotations

import copy
import csv
import io
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from projections.flow import (
    FLOW,
    Classificatie,
    Episode,
    Telling,
    Wijziging,
    aandeel,
    classificeer_op,
    episodes,
    tel,
    verschillen,
)
from projections.projectie import uit_eventlog
from projections.regio import Regio
from projections.view import FlowView, live_antwoord, telling_uit_rij

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
            f"onbekende regio '{regio_id}': kies uit {', '.join(sorted(regios))} "
            "of voeg het regiobestand toe met --region-config", onbekend=True)
    return regios[regio_id]


JAREN = range(1900, 9001)  # questions outside these years are typing errors, not history


def redelijk(d: date | None, naam: str) -> date | None:
    if d is not None and d.year not in JAREN:
        raise OngeldigeVraag(f"{naam} {d.isoformat()} ligt buiten de jaren "
                             f"{JAREN.start}-{JAREN.stop - 1}: controleer het jaar")
    return d


MAANDNAMEN = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
              "september", "oktober", "november", "december")


def lees_datum(tekst: str, naam: str) -> date:
    """A date written JJJJ-MM-DD; a date that does not exist (2023-02-30) is called that, not
    a format error."""
    delen = tekst.strip().split("-")
    if len(delen) != 3 or not all(d.isdigit() for d in delen) or len(delen[0]) != 4:
        raise OngeldigeVraag(f"{naam} '{tekst}' is geen datum: schrijf JJJJ-MM-DD, "
                             "bijvoorbeeld 2023-12-31")
    jaar, maand, dag = (int(d) for d in delen)
    if jaar < 1:
        raise OngeldigeVraag(f"{naam} '{tekst}' bestaat niet: het jaar 0 bestaat niet")
    if not 1 <= maand <= 12:
        raise OngeldigeVraag(f"{naam} '{tekst}' bestaat niet: een jaar heeft 12 maanden "
                             "(schrijf JJJJ-MM-DD)")
    volgende = date(jaar + maand // 12, maand % 12 + 1, 1) if jaar < 9999 or maand < 12 else None
    dagen = (volgende - timedelta(days=1)).day if volgende else 31
    if not 1 <= dag <= dagen:
        raise OngeldigeVraag(f"{naam} '{tekst}' bestaat niet: {MAANDNAMEN[maand - 1]} {jaar} "
                             f"heeft {dagen} dagen")
    return date(jaar, maand, dag)


def venster(regio: Regio, peildatum: date, van: date | None, gemeente: str | None) -> tuple[date, date]:
    """The window [from, peildatum]; `from` defaults to 1 January of the peildatum's year.
    A gemeente, when given, must be one of the region's (by name or code, see `kies_gemeente`)."""
    redelijk(peildatum, "peildatum")
    redelijk(van, "from")
    start = van or date(peildatum.year, 1, 1)
    if peildatum < start:
        raise OngeldigeVraag(
            f"peildatum {peildatum} ligt vóór het begin {start}: het venster is "
            "[from, peildatum], kies een peildatum op of na het begin")
    kies_gemeente(regio, gemeente)
    return start, peildatum


def kies_gemeente(regio: Regio, gemeente: str | None) -> str | None:
    """The CBS code of a gemeente of the region, asked by code (`0935`, `935`) or by name
    (`Maastricht`, any case); None stays None (the whole region)."""
    if gemeente is None or not gemeente.strip():
        return None
    gevraagd = gemeente.strip()
    if gevraagd.isdigit() and gevraagd.zfill(4) in regio.gemeenten:
        return gevraagd.zfill(4)
    for code, naam in regio.gemeenten.items():
        if naam.casefold() == gevraagd.casefold():
            return code
    keuzes = ", ".join(f"{naam} ({code})" for code, naam in
                       sorted(regio.gemeenten.items(), key=lambda cn: cn[1]))
    raise OngeldigeVraag(f"gemeente '{gevraagd}' hoort niet bij regio {regio.id} ({regio.naam}): "
                         f"kies een naam of code uit {keuzes}")


VER_IN_DE_TOEKOMST = 366  # a knowledge date more than this many days ahead is a typing error


def twijfels(peildatum: date, bekend_op: date | None, vandaag: date) -> list[str]:
    """Warnings for a question that can be answered but is probably not what was meant."""
    result = []
    if peildatum > vandaag:
        result.append(f"de peildatum {peildatum.isoformat()} ligt in de toekomst: de cijfers "
                      "tellen alleen wat nu al bekend is en kunnen nog veranderen")
    if bekend_op is not None and bekend_op < peildatum:
        result.append(f"bekend op {bekend_op.isoformat()} ligt vóór de peildatum "
                      f"{peildatum.isoformat()}: berichten over de dagen daarna kunnen nog niet "
                      "meetellen, dus de cijfers zijn onvolledig")
    if bekend_op is not None and bekend_op > vandaag + timedelta(days=VER_IN_DE_TOEKOMST):
        result.append(f"bekend op {bekend_op.isoformat()} ligt meer dan een jaar in de toekomst: "
                      "er is nog niets bekend dat vandaag niet bekend is; bedoelde u een ander jaar?")
    return result


def _met_twijfels(telling: Telling) -> Telling:
    for w in twijfels(telling.peildatum, telling.k, date.today()):
        if w not in telling.waarschuwingen:
            telling.waarschuwingen.append(w)
    return telling


@dataclass(frozen=True)
class Maand:
    """One month of one segment: inflow and uitstroom in the month, in zorg on its last day."""

    maand: str  # YYYY-MM
    segment: str
    instroom_totaal: int | None  # all five inflow categories (`alle_instroom`), not `instroom`
    uitstroom: int | None
    in_zorg: int


def maanden(van: str, tot: str) -> list[tuple[date, date]]:
    """[first day, last day] of every month from `van` to `tot` (YYYY-MM), at most 120."""
    try:
        eerste = date.fromisoformat(van + "-01")
        laatste = date.fromisoformat(tot + "-01")
    except ValueError:
        raise OngeldigeVraag(f"maanden schrijft u JJJJ-MM (YYYY-MM), bijvoorbeeld 2023-01, "
                             f"niet '{van}'/'{tot}'") from None
    redelijk(eerste, "from_month")
    redelijk(laatste, "to_month")
    if laatste < eerste:
        raise OngeldigeVraag(f"de laatste maand {tot} ligt vóór de eerste maand {van}")
    result = []
    while eerste <= laatste:
        volgende = (eerste.replace(day=28) + timedelta(days=4)).replace(day=1)
        result.append((eerste, volgende - timedelta(days=1)))
        eerste = volgende
    if len(result) > 120:
        raise OngeldigeVraag("vraag hoogstens 120 maanden tegelijk")
    return result


def tel_op(view: FlowView, regio: Regio, van: date, peildatum: date, k: date,
           gemeente: str | None, k_getoond: date | None) -> Telling:
    """Count a window at K from the view's periods: what every flow question computes, and
    what the projector stores for the live questions (`FlowView.bewaar_live`)."""
    return view.tellingen_op(regio, k, van, peildatum, [gemeente], k_getoond)[0]


class Leeskant:
    """The flow figures from a flow view, for every reader."""

    def __init__(self, view: FlowView, laatste: Callable[[], int] | None = None) -> None:
        """`laatste` gives the event store's last position, for how far behind the view is."""
        self.view = view
        self.laatste = laatste
        self._tellingen: OrderedDict[tuple[object, ...], Telling] = OrderedDict()
        self._laatste_dag: dict[str, tuple[int, date | None]] = {}
        self._laatste_peildatum: dict[tuple[str, date], tuple[int, date | None]] = {}

    def laatste_dag(self, regio: Regio) -> date | None:
        """The last Dagtekening that changed the region's figures (None: no data yet)."""
        positie = self.view.positie()
        bewaard = self._laatste_dag.get(regio.id)
        if bewaard is None or bewaard[0] != positie:
            bewaard = (positie, self.view.laatste_dag(regio.id))
            self._laatste_dag[regio.id] = bewaard
        return bewaard[1]

    def laatste_peildatum(self, regio: Regio, vandaag: date) -> date | None:
        """The peildatum a first view opens on: the end of the last month in which one of the
        region's allocations (as known now) started, at most today (None: no data)."""
        positie = self.view.positie()
        sleutel = (regio.id, vandaag)
        bewaard = self._laatste_peildatum.get(sleutel)
        if bewaard is None or bewaard[0] != positie:
            start = self.view.laatste_start(regio.id, vandaag)
            einde = None if start is None else min(
                (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1), vandaag)
            bewaard = (positie, einde)
            if len(self._laatste_peildatum) >= 64:  # a key per region and day: bounded
                self._laatste_peildatum.clear()
            self._laatste_peildatum[sleutel] = bewaard
        return bewaard[1]

    def stand(self, regio: Regio) -> Stand:
        """How current the figures are: last message date, projection position, lag."""
        positie = self.view.positie()
        laatste = self.laatste() if self.laatste else None
        return Stand(self.laatste_dag(regio), positie,
                     None if laatste is None else max(laatste - positie, 0))

    def telling(self, regio: Regio, van: date, peildatum: date, bekend_op: date | None,
                gemeente: str | None = None) -> Telling:
        """The figures for a window as known at a date; None means now (the live figures).

        The same question asked again before the projection moved (and on the same day,
        which "now" and provisional uitstroom depend on) is answered from memory: the
        dashboard and API ask the live figures over and over, and a position read is a
        fraction of a millisecond where counting all allocations is tens."""
        positie = self.view.positie()
        sleutel = (regio.id, van, peildatum, bekend_op, gemeente, date.today(), positie)
        if sleutel in self._tellingen:
            self._tellingen.move_to_end(sleutel)
            return copy.deepcopy(self._tellingen[sleutel])
        k = bekend_op or date.today()
        telling = None
        if bekend_op is None:  # live: the projector keeps the answer when it has caught up
            rij = live_antwoord(self.view, (regio.id, van, peildatum, gemeente, k), positie)
            telling = telling_uit_rij(rij) if rij is not None else None
        telling = _met_twijfels(telling or tel_op(self.view, regio, van, peildatum, k, gemeente,
                                                  bekend_op))
        self._tellingen[sleutel] = copy.deepcopy(telling)
        if len(self._tellingen) > TELLINGEN_IN_GEHEUGEN:
            self._tellingen.popitem(last=False)
        return telling

    def vergeet_tellingen(self) -> None:
        """Answer the next questions from the view (the bench's cold measurement)."""
        self._tellingen.clear()

    def tijdreeks(self, regio: Regio, van: str, tot: str, bekend_op: date | None,
                  gemeente: str | None = None) -> list[Maand]:
        """Monthly instroom totaal (all inflow), uitstroom and in zorg per segment, at K."""
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
        regio_telling, *tellingen = (_met_twijfels(t) for t in self.view.tellingen_op(
            regio, k, van, peildatum, [None, *sorted(regio.gemeenten)], bekend_op))
        return regio_telling, tellingen

    def zorgduur(self, regio: Regio, van: date, peildatum: date, bekend_op: date | None,
                 gemeente: str | None = None) -> dict[str, Zorgduur]:
        """Per segment with flow figures: the zorgduur of the episodes as known at K (see
        `zorgduur_per_segment`). Episodes need every allocation up to the peildatum."""
        k = bekend_op or date.today()
        classificaties = [p.classificatie for p in self.view.perioden_op(
            regio.id, k, date(JAREN.start, 1, 1), peildatum)]
        return zorgduur_per_segment(classificaties, regio, van, peildatum, gemeente)

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
    return _met_twijfels(tel(classificeer_op(uit_eventlog(events), regio, k), regio, van, peildatum,
                             k, gemeente, k_getoond=bekend_op))


@dataclass(frozen=True)
class Stand:
    """How current the figures are ("stand per")."""

    laatste_bericht: date | None  # the last Dagtekening that changed the region's figures
    positie: int  # the event log position the projection has reached
    achter: int | None  # events in the store not yet projected (None: unknown here)


@dataclass(frozen=True)
class Zorgduur:
    """The zorgduur of one segment's episodes (DOMAIN.md, Other figures), in days.

    `afgesloten`: episodes whose uitstroom lies in the window; mediaan and p90 over them
    (nearest rank, whole days; None when there are none). `lopend`: episodes that started on
    or before the peildatum and have no uitstroom on or before it. `aandeel_lopend`: lopend
    / (afgesloten + lopend), None when both are 0."""

    segment: str
    afgesloten: int
    mediaan: int | None
    p90: int | None
    lopend: int
    aandeel_lopend: float | None


def rangwaarde(waarden: Sequence[int], p: int) -> int | None:
    """The p-th percentile by nearest rank: the smallest value with at least p% at or below it."""
    if not waarden:
        return None
    gesorteerd = sorted(waarden)
    rang = max(-(-p * len(gesorteerd) // 100), 1)  # ceil(p/100 * n), at least 1
    return gesorteerd[rang - 1]


def zorgduur_per_segment(classificaties: Iterable[Classificatie], regio: Regio, van: date,
                         peildatum: date, gemeente: str | None = None) -> dict[str, Zorgduur]:
    """Zorgduur per segment with flow figures for the window, from the classifications at K.
    An episode belongs to the gemeente of its first allocation."""
    per_segment: dict[str, list[Episode]] = {s.id: [] for s in regio.segmenten if s.flow}
    for e in episodes(classificaties):
        if e.segment in per_segment and (gemeente is None or e.allocaties[0][0] == gemeente):
            per_segment[e.segment].append(e)
    result = {}
    for segment, lijst in per_segment.items():
        duren = [e.zorgduur for e in lijst
                 if e.eind is not None and e.zorgduur is not None and van <= e.eind <= peildatum]
        lopend = sum(1 for e in lijst if e.start <= peildatum and (e.eind is None or e.eind > peildatum))
        result[segment] = Zorgduur(segment, len(duren), rangwaarde(duren, 50), rangwaarde(duren, 90),
                                   lopend, aandeel(lopend, len(duren) + lopend))
    return result


DEFINITIES = "jeugdstroom 0.1.0, stroomregels volgens DOMAIN.md"

LABELS = {"instroom": "instroom", "stapeling": "stapeling", "doorstroom": "doorstroom",
          "recidive": "recidive", "hernieuwde_instroom": "hernieuwde instroom",
          "uitstroom": "uitstroom", "uitstroom_voorlopig": "w.v. voorlopige uitstroom",
          "in_zorg": "in zorg op peildatum", "unieke_jeugdigen": "unieke jeugdigen",
          "instroom_totaal": "totale instroom"}  # all five inflow categories together


def label(tekst: str) -> str:
    """A figure's or a `beschrijf` state's readable Dutch label: `hernieuwde_instroom+uitstroom`
    reads "hernieuwde instroom + uitstroom"."""
    vast = {"-": "niet geteld", "unmapped": "zonder segment",
            "in window": "in het venster, zonder in- of uitstroom"}
    if tekst in vast:
        return vast[tekst]
    hoofd, _, rest = tekst.partition(" (")
    delen = " + ".join(LABELS.get(d, d.replace("_", " ")) for d in hoofd.split("+"))
    return delen + (f" (segment {rest}" if rest else "")


@dataclass
class Uitvoer:
    """One exported table: a header block saying what was asked, the columns, the rows and a
    footer. CSV and xlsx are written from the same object."""

    naam: str  # file name without extension
    kop: list[tuple[str, str]]
    kolommen: list[str]
    rijen: list[list[object]]
    voet: list[str]

    def als_csv(self) -> str:
        out = io.StringIO()
        # the header block and footer are comment lines as they are, not CSV fields: a
        # reader skips lines starting with # (pandas: comment="#")
        out.writelines(f"# {sleutel}: {waarde}\n" for sleutel, waarde in self.kop)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.kolommen)
        writer.writerows(["" if w is None else w for w in rij] for rij in self.rijen)
        out.writelines(f"# {regel}\n" for regel in self.voet)
        return out.getvalue()


def kopblok(regio: Regio, van: date | str, peildatum: date | str, bekend_op: date | None,
            gemeente: str | None, min_cel: int | None) -> list[tuple[str, str]]:
    """Region, window, peildatum, knowledge date, gemeente, definitions and suppression rule."""
    return [
        ("regio", f"{regio.naam} ({regio.id})"),
        ("venster", f"{van} t/m {peildatum}"),
        ("peildatum", str(peildatum)),
        ("bekend op", bekend_op.isoformat() if bekend_op else f"nu ({date.today().isoformat()})"),
        ("gemeente", f"{regio.gemeenten[gemeente]} ({gemeente})" if gemeente
         else "alle gemeenten van de regio"),
        ("definities", f"{DEFINITIES}; n={regio.n}, m={regio.m}, history_start="
         f"{regio.history_start.isoformat()}"),
        ("onderdrukking", f"cellen van 1 tot {min_cel} staan als <{min_cel} (publicatie)" if min_cel
         else "geen: exacte aantallen, niet voor publicatie"),
    ]


def als_csv(telling: Telling, *, min_cel: int | None = None, regio: Regio | None = None) -> str:
    """The counts table as CSV. With `min_cel` (publication), cells below it read `<min_cel`
    (zero stays zero) and a footer says so; without it, the exact figures for the region's
    own users. With `regio`, a header block (lines starting with #) says what was asked."""
    return uitvoer_telling(telling, regio, min_cel=min_cel).als_csv()


def uitvoer_telling(telling: Telling, regio: Regio | None, *, min_cel: int | None = None) -> Uitvoer:
    rijen: list[list[object]] = [[s.segment, s.naam, *(_cel(getattr(s, v), min_cel) for v in VELDEN)]
                                 for s in telling.segmenten]
    rijen.append(["totaal", "unieke jeugdigen", *[""] * (len(VELDEN) - 1),
                  _cel(telling.totaal_unieke_jeugdigen, min_cel)])
    voet = [f"waarschuwing: {w}" for w in telling.waarschuwingen]
    if min_cel is not None:
        voet.append(f"cellen van 1 tot {min_cel} staan als <{min_cel}, zodat geen kind herkenbaar "
                    "is; n.v.t. = geen stroomcijfers voor dit segment")
    kop = kopblok(regio, telling.van, telling.peildatum, telling.k, telling.gemeente, min_cel) \
        if regio else []
    return Uitvoer(f"{telling.regio}-{telling.peildatum}{'-publicatie' if min_cel else ''}", kop,
                   ["segment", "name", *VELDEN], rijen, voet)


def uitvoer_diff(regio: Regio, een: Telling, twee: Telling, wijzigingen: Sequence[Wijziging]) -> Uitvoer:
    """The difference between two knowledge dates: per segment and figure, then the allocations."""
    rijen: list[list[object]] = []
    for a, b in zip(een.segmenten, twee.segmenten, strict=True):
        for v in VELDEN:
            oud, nieuw = getattr(a, v), getattr(b, v)
            rijen.append(["figuur", a.segment, v, oud, nieuw,
                          None if oud is None or nieuw is None else nieuw - oud, "", "", ""])
    for w in wijzigingen:
        rijen.append(["toewijzing", w.segment or "", f"{w.gemeentecode}:{w.toewijzingnummer}", w.oud,
                      w.nieuw, "", w.oorzaak, w.datum.isoformat() if w.datum else "", w.wat])
    kop = kopblok(regio, een.van, een.peildatum, een.k, een.gemeente, None)
    kop[3] = ("bekend op", f"{een.k} (toen) tegenover {twee.k or 'nu'}")
    return Uitvoer(f"{regio.id}-verschil-{een.peildatum}", kop,
                   ["soort", "segment", "figuur_of_toewijzing", "k1", "k2", "verschil", "bericht",
                    "dagtekening", "wat_veranderde"], rijen,
                   ["bericht: JW301 gemeentecode:identificatie die de stand bij k2 maakte"])


def _cel(waarde: int | None, min_cel: int | None) -> int | str:
    if waarde is None:
        return "n.v.t."
    if min_cel is not None and 0 < waarde < min_cel:
        return f"<{min_cel}"
    return waarde
