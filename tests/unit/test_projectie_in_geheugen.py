"""The flow projection and the questions against the in-memory view, in milliseconds: pages
of events in, the same figures out as a replay of the whole log, at every knowledge time."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from events.domain import Toewijzing
from projections.projectie import FlowProjectie
from projections.regio import laad_regios
from projections.view import InMemoryFlowView
from projections.vragen import Leeskant, replay

REGIO = laad_regios([])["zuid-limburg"]
MAASTRICHT, HEERLEN = "0935", "0917"


def _versie(t: Toewijzing, client: str, code: str, start: date, eind: date | None,
            dagtekening: date, ident: str, reden: str | None = None) -> None:
    t.ontvang_versie(client=client, aanbieder="12345678", categorie=code[:2], code=code,
                     toegewezen_op=datetime.combine(dagtekening, datetime.min.time()),
                     ingangsdatum=start, einddatum=eind, reden_wijziging=reden, volume=None,
                     eenheid=None, frequentie=None, budget=None, dagtekening=dagtekening,
                     bericht_identificatie=ident)


def _eventlog() -> list[object]:
    """Two clients: a doorstroom within Wonen, a late shortening, a deletion, and a move
    between gemeenten (doorstroom, not instroom)."""
    a = Toewijzing.registreer(MAASTRICHT, "1")
    _versie(a, "A", "43A09", date(2023, 1, 10), date(2023, 5, 31), date(2023, 1, 5), "11")
    b = Toewijzing.registreer(HEERLEN, "2")
    _versie(b, "A", "43A10", date(2023, 6, 5), None, date(2023, 6, 1), "12")
    _versie(a, "A", "43A09", date(2023, 1, 10), date(2023, 3, 31), date(2024, 2, 1), "13")
    c = Toewijzing.registreer(MAASTRICHT, "3")
    _versie(c, "B", "45A12", date(2023, 2, 1), date(2023, 8, 31), date(2023, 1, 20), "14")
    _versie(c, "B", "45A12", date(2023, 2, 1), date(2023, 2, 1), date(2023, 9, 1), "15", "13")
    return [e for t in (a, b, c) for e in t.collect_events()]


@pytest.mark.parametrize("pagina", [1, 2, 100])
def test_projection_in_pages_equals_the_replay_at_every_knowledge_time(pagina):
    events = _eventlog()
    view = InMemoryFlowView()
    projectie = FlowProjectie(view, [REGIO])
    genummerd = list(enumerate(events, start=1))
    for i in range(0, len(genummerd), pagina):
        deel = genummerd[i:i + pagina]
        projectie.projecteer(deel, deel[-1][0])
    assert view.positie() == len(events)
    leeskant = Leeskant(view)
    for k in (date(2023, 1, 5), date(2023, 6, 30), date(2023, 12, 31), date(2024, 3, 1), None):
        for gemeente in (None, MAASTRICHT, HEERLEN):
            projectie_telling = leeskant.telling(REGIO, date(2023, 1, 1), date(2023, 12, 31), k, gemeente)
            opnieuw = replay(events, REGIO, date(2023, 1, 1), date(2023, 12, 31), k, gemeente)
            assert projectie_telling.als_dict() == opnieuw.als_dict(), (k, gemeente)


def test_the_move_between_gemeenten_is_doorstroom_and_the_shortening_shows_in_diff():
    events = _eventlog()
    view = InMemoryFlowView()
    FlowProjectie(view, [REGIO]).projecteer(list(enumerate(events, start=1)), len(events))
    leeskant = Leeskant(view)
    wonen = {s.segment: s for s in leeskant.telling(
        REGIO, date(2023, 1, 1), date(2023, 12, 31), date(2023, 12, 31)).segmenten}["wonen"]
    assert (wonen.instroom, wonen.doorstroom, wonen.uitstroom) == (1, 1, 0)
    _, twee, wijzigingen = leeskant.diff(REGIO, date(2023, 1, 1), date(2023, 12, 31),
                                           date(2023, 12, 31), date(2024, 3, 1))
    # shortened to 31 March: the Heerlen allocation now starts 66 days later, so it is
    # recidive, and the shortened one no longer has a follow-up within n days: uitstroom
    assert [(w.gemeentecode, w.toewijzingnummer, w.oud, w.nieuw) for w in wijzigingen] == [
        (HEERLEN, 2, "doorstroom+in_zorg", "recidive+in_zorg"),
        (MAASTRICHT, 1, "instroom", "instroom+uitstroom")]
    assert {s.segment: s.recidive for s in twee.segmenten}["wonen"] == 1


def test_a_page_already_projected_is_refused():
    view = InMemoryFlowView()
    projectie = FlowProjectie(view, [REGIO])
    events = list(enumerate(_eventlog(), start=1))
    projectie.projecteer(events[:2], 2)
    with pytest.raises(ValueError, match="already projected"):
        projectie.projecteer(events[:2], 2)
