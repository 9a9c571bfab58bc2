"""A property of the care projection over random event logs: random versions (deletions too),
starts and stops (deletions, resends, late Dagtekeningen), projected in pages of any size
and in any interleaving of the aggregates, answer every (window, K, gemeente) exactly as a
replay of the whole log does."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.domain import Toewijzing
from projections.regio import laad_regios
from projections.zorgprojectie import ZorgProjectie
from projections.zorgview import InMemoryZorgView
from projections.zorgvragen import Zorgvragen, replay_zorg

REGIO = laad_regios([])["zuid-limburg"]
GEMEENTEN = ["0935", "0938", "0917"]  # Heerlen is excluded from ambulant
BASIS = date(2022, 10, 1)


def _dag(draw, hoogste: int = 540) -> date:
    return BASIS + timedelta(days=draw(st.integers(0, hoogste)))


@st.composite
def toewijzing(draw, nummer: int) -> list[object]:
    t = Toewijzing.registreer(draw(st.sampled_from(GEMEENTEN)), str(nummer))
    begindata = []
    for i in range(draw(st.integers(1, 3))):
        start = _dag(draw, 420)
        dag = _dag(draw)
        soort = draw(st.sampled_from(["open", "eind", "eind", "verwijder"]))
        eind = (None if soort == "open" else start if soort == "verwijder"
                else start + timedelta(days=draw(st.integers(0, 300))))
        t.ontvang_versie(client="c", aanbieder="1", categorie=draw(st.sampled_from(["43", "45", "55"])),
                         code=None, toegewezen_op=datetime.combine(dag, datetime.min.time()),
                         ingangsdatum=start, einddatum=eind,
                         reden_wijziging="13" if soort == "verwijder" else None, volume=None,
                         eenheid=None, frequentie=None, budget=None, dagtekening=dag,
                         bericht_identificatie=str(i + 1))
        begindata.append(start)
    for _ in range(draw(st.integers(0, 4))):
        begin = draw(st.sampled_from(begindata)) + timedelta(days=draw(st.integers(-5, 60)))
        t.ontvang_start(client="c", aanbieder="1", begindatum=begin,
                        status_aanlevering=draw(st.sampled_from(["1", "1", "3"])),
                        dagtekening=begin + timedelta(days=draw(st.integers(0, 120))),
                        bericht_identificatie=str(draw(st.integers(1, 3))))
    for _ in range(draw(st.integers(0, 2))):
        begin = draw(st.sampled_from(begindata))
        eind = begin + timedelta(days=draw(st.integers(0, 200)))
        t.ontvang_stop(client="c", aanbieder="1", begindatum=begin, einddatum=eind,
                       reden_beeindiging=draw(st.sampled_from(["20", "31"])),
                       status_aanlevering=draw(st.sampled_from(["1", "1", "3"])),
                       dagtekening=eind + timedelta(days=draw(st.integers(0, 90))),
                       bericht_identificatie="1")
    return list(t.collect_events())


@st.composite
def eventlog(draw) -> list[object]:
    """Several toewijzingen' events, interleaved at random (each aggregate's in its order)."""
    per_aggregaat = [draw(toewijzing(n)) for n in range(1, draw(st.integers(1, 6)) + 1)]
    rng = random.Random(draw(st.integers(0, 2**16)))
    log: list[object] = []
    while any(per_aggregaat):
        rij = rng.choice([r for r in per_aggregaat if r])
        log.append(rij.pop(0))
    return log


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(eventlog(), st.integers(1, 7), st.data())
def test_projection_equals_replay_for_any_log_pages_window_and_k(events, pagina, data):
    view = InMemoryZorgView()
    projectie = ZorgProjectie(view)
    genummerd = list(enumerate(events, start=1))
    for i in range(0, len(genummerd), pagina):
        deel = genummerd[i:i + pagina]
        projectie.projecteer(deel, deel[-1][0])
    vragen = Zorgvragen(view)
    for _ in range(4):
        van = _dag(data.draw, 500)
        peildatum = van + timedelta(days=data.draw(st.integers(0, 200)))
        k = data.draw(st.one_of(st.none(), st.builds(lambda d: BASIS + timedelta(days=d),
                                                     st.integers(0, 700))))
        gemeente = data.draw(st.sampled_from([None, *GEMEENTEN]))
        assert (vragen.zorgtelling(REGIO, van, peildatum, k, gemeente).als_dict()
                == replay_zorg(events, REGIO, van, peildatum, k, gemeente).als_dict())
