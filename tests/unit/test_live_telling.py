"""The live answers the projector keeps: after every page it projects, the stored answer of
each live question a reader asked is the answer counted from the view's periods, and the
reader answers from it without counting."""

from __future__ import annotations

from datetime import date

import pytest

from projections.projectie import FlowProjectie
from projections.regio import laad_regios
from projections.view import InMemoryFlowView, telling_uit_rij
from projections.vragen import Leeskant, tel_op
from services.projector.runner import ververs_live
from tests.unit.test_projectie_in_geheugen import HEERLEN, MAASTRICHT, _eventlog

REGIO = laad_regios([])["zuid-limburg"]
VENSTERS = [(date(2023, 1, 1), date(2023, 12, 31)), (date(2023, 1, 1), date(2023, 6, 30))]


class _Telt(InMemoryFlowView):
    """Counts the reads of periods: a stored live answer needs none."""

    def __init__(self) -> None:
        super().__init__()
        self.gelezen = 0

    def perioden_op(self, *args):  # type: ignore[no-untyped-def]
        self.gelezen += 1
        return super().perioden_op(*args)


@pytest.mark.parametrize("pagina", [1, 3])
def test_after_every_page_the_stored_live_answer_is_the_counted_one(pagina):
    view = _Telt()
    projectie = FlowProjectie(view, [REGIO])
    leeskant = Leeskant(view)
    vandaag = date.today()
    vragen = [(van, pd, gemeente) for van, pd in VENSTERS for gemeente in (None, MAASTRICHT, HEERLEN)]
    for van, pd, gemeente in vragen:  # asked before anything is projected: registered
        leeskant.telling(REGIO, van, pd, None, gemeente)
    genummerd = list(enumerate(_eventlog(), start=1))
    for i in range(0, len(genummerd), pagina):
        deel = genummerd[i:i + pagina]
        projectie.projecteer(deel, deel[-1][0])
        assert ververs_live(projectie) == len(vragen)
        for van, pd, gemeente in vragen:
            bewaard = view.live_telling((REGIO.id, van, pd, gemeente, vandaag))
            assert bewaard is not None and bewaard[0] == view.positie()
            geteld = tel_op(view, REGIO, van, pd, vandaag, gemeente, None)
            assert telling_uit_rij(bewaard[1]) == geteld, (deel[-1][0], van, pd, gemeente)
            leeskant.vergeet_tellingen()
            gelezen = view.gelezen
            assert leeskant.telling(REGIO, van, pd, None, gemeente).als_dict() == geteld.als_dict()
            assert view.gelezen == gelezen  # answered from the stored row
        assert ververs_live(projectie) == 0  # nothing moved: nothing to answer again


def test_a_stored_answer_behind_the_view_is_not_used():
    view = InMemoryFlowView()
    projectie = FlowProjectie(view, [REGIO])
    leeskant = Leeskant(view)
    van, pd = VENSTERS[0]
    leeskant.telling(REGIO, van, pd, None)
    genummerd = list(enumerate(_eventlog(), start=1))
    projectie.projecteer(genummerd[:2], 2)
    ververs_live(projectie)
    projectie.projecteer(genummerd[2:], len(genummerd))  # moved on, not answered again yet
    verwacht = tel_op(view, REGIO, van, pd, date.today(), None, None)
    assert leeskant.telling(REGIO, van, pd, None).als_dict() == verwacht.als_dict()
    assert telling_uit_rij(view.live_telling((REGIO.id, van, pd, None, date.today()))[1]) != verwacht
