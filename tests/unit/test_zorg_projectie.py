"""The care projection and its questions against the in-memory care view: pages of events in,
exactly the figures of a replay of the whole log out, at every knowledge time, window and
gemeente. A start deleted by StatusAanlevering 3 counts only until the deletion's Dagtekening;
a late start changes the answers only from its own Dagtekening on."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from events.domain import Toewijzing
from projections.regio import laad_regios
from projections.zorgprojectie import ZorgProjectie, zorg_uit_eventlog
from projections.zorgview import InMemoryZorgView, meldingperioden, zorgperioden
from projections.zorgvragen import Zorgvragen, als_csv_zorg, replay_zorg

REGIO = laad_regios([])["zuid-limburg"]
MAASTRICHT, MEERSSEN, HEERLEN = "0935", "0938", "0917"
AANBIEDER = "12345678"


def _versie(t: Toewijzing, client: str, code: str, start: date, eind: date | None,
            dagtekening: date, ident: str, *, reden: str | None = None) -> None:
    t.ontvang_versie(client=client, aanbieder=AANBIEDER, categorie=code[:2], code=code,
                     toegewezen_op=datetime.combine(dagtekening, datetime.min.time()),
                     ingangsdatum=start, einddatum=eind, reden_wijziging=reden, volume=None,
                     eenheid=None, frequentie=None, budget=None, dagtekening=dagtekening,
                     bericht_identificatie=ident)


def _start(t: Toewijzing, begin: date, dagtekening: date, ident: str, status: str = "1") -> None:
    t.ontvang_start(client="x", aanbieder=AANBIEDER, begindatum=begin, status_aanlevering=status,
                    dagtekening=dagtekening, bericht_identificatie=ident)


def _stop(t: Toewijzing, begin: date, eind: date, reden: str, dagtekening: date, ident: str,
          status: str = "1") -> None:
    t.ontvang_stop(client="x", aanbieder=AANBIEDER, begindatum=begin, einddatum=eind,
                   reden_beeindiging=reden, status_aanlevering=status, dagtekening=dagtekening,
                   bericht_identificatie=ident)


def _eventlog() -> list[object]:
    """Ambulant A started after 9 days, its start deleted and sent again with another date;
    Wonen B never started; ambulant C started late (JW305 dated months later), stopped for a
    while (20) and for good; D in Meerssen deleted in-band; E in Heerlen (excluded); F a
    landelijk product (unmapped); G allocated in 2022 and started in 2023."""
    a = Toewijzing.registreer(MAASTRICHT, "1")
    _versie(a, "A", "45A01", date(2023, 1, 1), None, date(2022, 12, 20), "11")
    b = Toewijzing.registreer(MAASTRICHT, "2")
    _versie(b, "B", "43A01", date(2023, 2, 1), date(2023, 12, 31), date(2023, 1, 25), "12")
    c = Toewijzing.registreer(MAASTRICHT, "3")
    _versie(c, "C", "45A01", date(2023, 3, 1), None, date(2023, 2, 20), "13")
    d = Toewijzing.registreer(MEERSSEN, "4")
    _versie(d, "D", "45A01", date(2023, 1, 1), None, date(2023, 1, 1), "14")
    e = Toewijzing.registreer(HEERLEN, "5")
    _versie(e, "E", "45A01", date(2023, 1, 1), None, date(2023, 1, 1), "15")
    f = Toewijzing.registreer(MAASTRICHT, "6")
    _versie(f, "F", "55A11", date(2023, 1, 1), None, date(2023, 1, 1), "16")
    g = Toewijzing.registreer(MAASTRICHT, "7")
    _versie(g, "G", "45A01", date(2022, 11, 1), None, date(2022, 10, 25), "17")
    _start(a, date(2023, 1, 10), date(2023, 1, 12), "101")
    _start(a, date(2023, 1, 10), date(2023, 4, 1), "102", status="3")  # deleted ...
    _start(a, date(2023, 1, 20), date(2023, 4, 1), "103")  # ... and sent with another date
    _start(c, date(2023, 3, 31), date(2023, 7, 1), "104")  # 30 days, known in July
    _stop(c, date(2023, 3, 31), date(2023, 5, 31), "20", date(2023, 6, 5), "201")
    _stop(c, date(2023, 6, 15), date(2023, 11, 30), "31", date(2024, 1, 20), "202")
    _start(c, date(2023, 6, 15), date(2023, 6, 20), "105")
    _start(d, date(2023, 1, 5), date(2023, 1, 6), "106")
    _versie(d, "D", "45A01", date(2023, 1, 1), date(2023, 1, 1), date(2023, 8, 1), "18", reden="13")
    _start(e, date(2023, 1, 2), date(2023, 1, 3), "107")
    _start(f, date(2023, 1, 2), date(2023, 1, 3), "108")
    _start(g, date(2023, 2, 1), date(2023, 2, 1), "109")
    _start(g, date(2023, 2, 1), date(2023, 2, 1), "109")  # resent the same day: nothing new
    return [ev for agg in (a, b, c, d, e, f, g) for ev in agg.collect_events()]


KS = [date(2022, 12, 31), date(2023, 1, 12), date(2023, 3, 31), date(2023, 4, 1),
      date(2023, 6, 5), date(2023, 7, 1), date(2023, 8, 1), date(2023, 12, 31),
      date(2024, 1, 20), None]


def _geprojecteerd(events: list[object], pagina: int) -> InMemoryZorgView:
    view = InMemoryZorgView()
    projectie = ZorgProjectie(view)
    genummerd = list(enumerate(events, start=1))
    for i in range(0, len(genummerd), pagina):
        deel = genummerd[i:i + pagina]
        projectie.projecteer(deel, deel[-1][0])
    return view


@pytest.mark.parametrize("pagina", [1, 4, 100])
def test_projection_in_pages_equals_the_replay_at_every_knowledge_time(pagina):
    events = _eventlog()
    vragen = Zorgvragen(_geprojecteerd(events, pagina))
    for van, peildatum in ((date(2023, 1, 1), date(2023, 12, 31)),
                           (date(2023, 4, 1), date(2023, 6, 30)),
                           (date(2023, 1, 1), date(2023, 1, 31))):
        for k in KS:
            for gemeente in (None, MAASTRICHT, MEERSSEN, HEERLEN):
                projectie = vragen.zorgtelling(REGIO, van, peildatum, k, gemeente)
                opnieuw = replay_zorg(events, REGIO, van, peildatum, k, gemeente)
                assert projectie.als_dict() == opnieuw.als_dict(), (van, peildatum, k, gemeente)


def _ambulant(telling):
    return next(s.cijfers for s in telling.segmenten if s.segment == "ambulant")


def test_a_deleted_start_and_a_late_start_count_from_their_dagtekening():
    vragen = Zorgvragen(_geprojecteerd(_eventlog(), 3))
    van, peildatum = date(2023, 1, 1), date(2023, 12, 31)

    def ambulant(k: date):
        return _ambulant(vragen.zorgtelling(REGIO, van, peildatum, k))

    # 31 March: A started on 10 Jan (9 days), G on 1 Feb (92 days); D (Meerssen) on 5 Jan
    # (4 days); C's start of 31 March is not known yet, and C (1 March) is 30 days old:
    # toegewezen, niet gestart; the day before it was not yet
    maart = ambulant(date(2023, 3, 31))
    assert (maart.gestart, maart.tijd_tot_start_p90, maart.toegewezen_niet_gestart) == (3, 92, 1)
    assert ambulant(date(2023, 3, 30)).toegewezen_niet_gestart == 0
    # 1 April: A's start of 10 Jan is deleted, the one of 20 Jan counts (19 days); C is still
    # toegewezen, niet gestart
    april = ambulant(date(2023, 4, 1))
    assert (april.gestart, april.tijd_tot_start_mediaan, april.toegewezen_niet_gestart) == (
        3, Decimal(19), 1)
    # 1 July: C's late start (30 days) is known; 1 Aug: D is deleted, and its start with it
    assert ambulant(date(2023, 7, 1)).toegewezen_niet_gestart == 0
    augustus = ambulant(date(2023, 8, 1))
    assert (augustus.gestart, augustus.tijd_tot_start_mediaan) == (3, Decimal(30))
    # the stops: the temporary one from 5 June, the definitive one from 20 Jan 2024
    assert (augustus.stops, augustus.tijdelijke_stops) == (1, 1)
    assert _ambulant(vragen.zorgtelling(REGIO, van, peildatum, date(2024, 1, 20))).stops == 2


def test_knowledge_periods_of_a_start_its_deletion_and_a_version_deletion():
    versies, starts, _ = zorg_uit_eventlog(_eventlog())
    a = [s for s in starts if s.toewijzingnummer == "1" and s.begindatum == date(2023, 1, 10)]
    assert [(p.bekend_vanaf, p.bekend_tot) for p in meldingperioden(a)] == [
        (date(2023, 1, 12), date(2023, 4, 1))]
    d = zorgperioden([v for v in versies if v.gemeentecode == MEERSSEN])
    assert [(p.bekend_vanaf, p.bekend_tot) for p in d] == [(date(2023, 1, 1), date(2023, 8, 1))]


def test_the_csv_has_a_row_per_segment_and_the_total():
    vragen = Zorgvragen(_geprojecteerd(_eventlog(), 100))
    regels = als_csv_zorg(vragen.zorgtelling(REGIO, date(2023, 1, 1), date(2023, 12, 31),
                                             date(2023, 8, 1))).splitlines()
    assert regels[0] == ("segment,toegewezen_niet_gestart,gestart,tijd_tot_start_mediaan,"
                         "tijd_tot_start_p90,stops,tijdelijke_stops")
    assert regels[-1].startswith("totaal,1,3,30.0,92,1,1")  # B (wonen) never started
    assert len(regels) == len(REGIO.segmenten) + 2


def test_a_page_already_projected_is_refused():
    projectie = ZorgProjectie(InMemoryZorgView())
    events = list(enumerate(_eventlog(), start=1))
    projectie.projecteer(events[:2], 2)
    with pytest.raises(ValueError, match="already projected"):
        projectie.projecteer(events[:2], 2)


def test_a_question_asked_again_is_answered_from_memory_until_the_view_moves():
    events = list(enumerate(_eventlog(), start=1))
    view = InMemoryZorgView()
    projectie = ZorgProjectie(view)
    projectie.projecteer(events[:-6], events[-7][0])
    vragen = Zorgvragen(view)
    van, peildatum = date(2023, 1, 1), date(2023, 12, 31)
    eerst = vragen.zorgtelling(REGIO, van, peildatum, None)
    eerst.segmenten.clear()  # a reader changing its copy changes nothing stored
    voor = vragen.zorgtelling(REGIO, van, peildatum, None).als_dict()
    assert voor["segments"]
    projectie.projecteer(events[-6:], events[-1][0])
    na = vragen.zorgtelling(REGIO, van, peildatum, None).als_dict()
    assert na != voor and na == replay_zorg(_eventlog(), REGIO, van, peildatum, None).als_dict()
