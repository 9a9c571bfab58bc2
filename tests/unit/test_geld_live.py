"""The live money answers the projector keeps: after every page, the stored answer of each live
money question a reader asked is the one computed from the money view, and the reader answers
from it without reading the view's lines; an answer behind the view is not used."""

from __future__ import annotations

from datetime import date

import pytest

from projections.geldview import InMemoryGeldView, kosten_uit_rij
from projections.geldvragen import Geldvragen, kosten_op
from projections.projectie import GeldProjectie
from services.projector.runner import ververs_live_geld
from tests.unit.test_geld_projectie import HEERLEN, MAASTRICHT, REGIO, _eventlog

VENSTERS = [(date(2023, 1, 1), date(2023, 12, 31)), (date(2023, 1, 1), date(2023, 6, 30))]


class _Telt(InMemoryGeldView):
    """Counts the reads of lines: a stored live answer needs none."""

    def __init__(self) -> None:
        super().__init__()
        self.gelezen = 0

    def sommen_op(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.gelezen += 1
        return super().sommen_op(*args, **kwargs)


@pytest.mark.parametrize("pagina", [1, 4])
def test_after_every_page_the_stored_live_answer_is_the_computed_one(pagina):
    view = _Telt()
    projectie = GeldProjectie(view)
    vragen = Geldvragen(view)
    vandaag = date.today()
    live = [(van, pd, gemeente) for van, pd in VENSTERS for gemeente in (None, MAASTRICHT, HEERLEN)]
    for van, pd, gemeente in live:  # asked before anything is projected: registered
        vragen.kostentelling(REGIO, van, pd, None, gemeente)
    genummerd = list(enumerate(_eventlog(), start=1))
    for i in range(0, len(genummerd), pagina):
        deel = genummerd[i:i + pagina]
        projectie.projecteer(deel, deel[-1][0])
        assert ververs_live_geld(view, [REGIO]) == len(live)
        for van, pd, gemeente in live:
            bewaard = view.live_telling((REGIO.id, van, pd, gemeente, vandaag))
            assert bewaard is not None and bewaard[0] == view.positie()
            berekend = kosten_op(view, REGIO, van, pd, vandaag, gemeente)
            assert kosten_uit_rij(bewaard[1]) == berekend, (deel[-1][0], van, pd, gemeente)
            vragen.vergeet_tellingen()
            gelezen = view.gelezen
            assert vragen.kostentelling(REGIO, van, pd, None, gemeente).als_dict() == berekend.als_dict()
            assert view.gelezen == gelezen  # answered from the stored row
        assert ververs_live_geld(view, [REGIO]) == 0  # nothing moved: nothing to answer again


def test_a_stored_answer_behind_the_view_is_not_used():
    view = InMemoryGeldView()
    projectie = GeldProjectie(view)
    vragen = Geldvragen(view)
    van, pd = VENSTERS[0]
    vragen.kostentelling(REGIO, van, pd, None)
    genummerd = list(enumerate(_eventlog(), start=1))
    projectie.projecteer(genummerd[:3], 3)
    ververs_live_geld(view, [REGIO])
    projectie.projecteer(genummerd[3:], len(genummerd))  # moved on, not answered again yet
    verwacht = kosten_op(view, REGIO, van, pd, date.today())
    assert vragen.kostentelling(REGIO, van, pd, None).als_dict() == verwacht.als_dict()
    assert kosten_uit_rij(view.live_telling((REGIO.id, van, pd, None, date.today()))[1]) != verwacht


def test_other_breakdowns_and_historic_questions_are_not_registered():
    view = InMemoryGeldView()
    vragen = Geldvragen(view)
    van, pd = VENSTERS[0]
    vragen.kostentelling(REGIO, van, pd, None, per="maand")
    vragen.kostentelling(REGIO, van, pd, date(2024, 1, 1))
    assert view.te_verversen(view.positie(), date.today()) == []
