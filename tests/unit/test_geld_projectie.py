"""The money projection and its questions against the in-memory money view, in milliseconds:
pages of events in, exactly the figures of a replay of the whole log out, at every knowledge
time, gemeente and breakdown. Late declarations and late rejections change the answers only
for K on or after their Dagtekening."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from events.domain import Declaratie, Declaratieregel, Toewijzing
from projections.geldview import InMemoryGeldView, geldperioden
from projections.geldvragen import Geldvragen, als_csv_geld, replay_geld
from projections.projectie import GeldProjectie, geld_uit_eventlog
from projections.regio import laad_regios

REGIO = laad_regios([])["zuid-limburg"]
MAASTRICHT, MEERSSEN, HEERLEN = "0935", "0938", "0917"
AANBIEDER = "12345678"


def _versie(t: Toewijzing, client: str, code: str, start: date, eind: date | None,
            dagtekening: date, ident: str, *, reden: str | None = None, budget: int | None = None,
            omvang: tuple[int, str, str] | None = None) -> None:
    volume, eenheid, frequentie = omvang or (None, None, None)
    t.ontvang_versie(client=client, aanbieder=AANBIEDER, categorie=code[:2], code=code,
                     toegewezen_op=datetime.combine(dagtekening, datetime.min.time()),
                     ingangsdatum=start, einddatum=eind, reden_wijziging=reden, volume=volume,
                     eenheid=eenheid, frequentie=frequentie, budget=budget,
                     dagtekening=dagtekening, bericht_identificatie=ident)


def _regel(ref: str, nummer: str, maand: date, bedrag: int, *, client: str = "A",
           vorig: str | None = None, code: str = "45A01") -> Declaratieregel:
    eind = (maand.replace(day=28))
    return Declaratieregel(client=client, referentienummer=ref, vorig_referentienummer=vorig,
                           toewijzingnummer=nummer, categorie=code[:2], code=code, begindatum=maand,
                           einddatum=eind, geleverd_volume=1, eenheid="04", tarief=None,
                           bedrag=bedrag, retourcodes=())


def _declaratie(gemeente: str, ident: str, dagtekening: date,
                regels: list[Declaratieregel]) -> Declaratie:
    d = Declaratie.open(gemeente, AANBIEDER, ident, dagtekening)
    d.dien_in(declaratienummer=ident, periode_begin=min(r.begindatum for r in regels),
              periode_eind=max(r.einddatum for r in regels),
              totaal_bedrag=sum(r.bedrag for r in regels), regels=tuple(regels),
              dagtekening=dagtekening, bericht_identificatie=ident)
    return d


def _eventlog() -> list[object]:
    """Ambulant with an Omvang, shortened late; Wonen with a budget, deleted later; an
    ambulant toewijzing in Heerlen (excluded there); lines: a correction, a resent JW323, a
    copy dated earlier that arrives later, a late declaration outside the shortened period,
    a late rejection, lines without a toewijzing."""
    a = Toewijzing.registreer(MAASTRICHT, "1")
    _versie(a, "A", "45A01", date(2023, 1, 1), date(2023, 12, 31), date(2022, 12, 20), "11",
            omvang=(4, "04", "2"))
    b = Toewijzing.registreer(MEERSSEN, "2")
    _versie(b, "B", "43A09", date(2023, 2, 1), date(2023, 7, 31), date(2023, 1, 25), "12",
            budget=1_000_000)
    c = Toewijzing.registreer(HEERLEN, "3")
    _versie(c, "C", "45A01", date(2023, 1, 1), None, date(2023, 1, 2), "13", omvang=(2, "04", "2"))
    feb, mrt, dec = date(2023, 2, 1), date(2023, 3, 1), date(2023, 12, 1)
    d1 = _declaratie(MAASTRICHT, "501", date(2023, 3, 5), [
        _regel("r1", "1", feb, 10_000), _regel("x1", "999", feb, 7_000), _regel("x2", "X1", feb, 300)])
    d2 = _declaratie(MEERSSEN, "502", date(2023, 3, 6), [
        _regel("r2", "2", feb, 50_000, client="B", code="43A09"),
        _regel("r3", "2", mrt, 40_000, client="B", code="43A09")])
    d3 = _declaratie(HEERLEN, "503", date(2023, 3, 7), [_regel("r4", "3", feb, 8_000, client="C")])
    correctie = _declaratie(MAASTRICHT, "601", date(2023, 5, 10), [
        _regel("r1c", "1", feb, -10_000, vorig="r1"), _regel("r1n", "1", feb, 12_000)])
    opnieuw = _declaratie(MAASTRICHT, "502", date(2023, 3, 20), [_regel("r1", "1", feb, 10_000)])
    eerder = _declaratie(MAASTRICHT, "499", date(2023, 3, 1), [_regel("r1", "1", feb, 9_999)])
    laat = _declaratie(MAASTRICHT, "701", date(2024, 2, 10), [_regel("r5", "1", dec, 15_000)])
    _versie(a, "A", "45A01", date(2023, 1, 1), date(2023, 6, 30), date(2023, 8, 1), "21",
            omvang=(4, "04", "2"))
    _versie(b, "B", "43A09", date(2023, 2, 1), date(2023, 2, 1), date(2023, 9, 15), "22", reden="13")
    d2.beantwoord(retourcodes=(), totaal_ingediend=90_000, totaal_toegekend=40_000,
                  afgewezen_regels=(_regel("r2", "2", feb, 50_000, client="B", code="43A09"),),
                  dagtekening=date(2024, 1, 15), bericht_identificatie="801")
    return [e for agg in (a, b, c, d1, d2, d3, correctie, opnieuw, eerder, laat)
            for e in agg.collect_events()]


KS = [date(2023, 3, 1), date(2023, 3, 5), date(2023, 3, 6), date(2023, 6, 1), date(2023, 8, 1),
      date(2023, 9, 15), date(2023, 12, 31), date(2024, 1, 14), date(2024, 1, 15),
      date(2024, 2, 10), None]


def _geprojecteerd(events: list[object], pagina: int) -> InMemoryGeldView:
    view = InMemoryGeldView()
    projectie = GeldProjectie(view)
    genummerd = list(enumerate(events, start=1))
    for i in range(0, len(genummerd), pagina):
        deel = genummerd[i:i + pagina]
        projectie.projecteer(deel, deel[-1][0])
    return view


@pytest.mark.parametrize("pagina", [1, 3, 100])
def test_projection_in_pages_equals_the_replay_at_every_knowledge_time(pagina):
    events = _eventlog()
    vragen = Geldvragen(_geprojecteerd(events, pagina))
    van, peildatum = date(2023, 1, 1), date(2023, 12, 31)
    for k in KS:
        for gemeente in (None, MAASTRICHT, MEERSSEN, HEERLEN):
            for per in ("segment", "gemeente", "maand", "aanbieder", "product"):
                projectie = vragen.kostentelling(REGIO, van, peildatum, k, gemeente, per)  # type: ignore[arg-type]
                opnieuw = replay_geld(events, REGIO, van, peildatum, k, gemeente, per)  # type: ignore[arg-type]
                assert projectie.als_dict() == opnieuw.als_dict(), (k, gemeente, per)
                assert projectie.ongekoppeld_per_gemeente == opnieuw.ongekoppeld_per_gemeente
                assert projectie.buiten_scope == opnieuw.buiten_scope
    # a window that starts later: toewijzingen that a line names but that do not overlap it
    for k in KS:
        assert (vragen.kostentelling(REGIO, date(2023, 12, 1), peildatum, k).als_dict()
                == replay_geld(events, REGIO, date(2023, 12, 1), peildatum, k).als_dict())


def _segment(telling, segment: str) -> dict:
    return {s.segment: s.cijfers for s in telling.segmenten}[segment]


def test_late_declarations_and_rejections_count_from_their_dagtekening_on():
    vragen = Geldvragen(_geprojecteerd(_eventlog(), 4))
    van, peildatum = date(2023, 1, 1), date(2023, 12, 31)

    def telling(k: date):
        return vragen.kostentelling(REGIO, van, peildatum, k)

    # the copy dated 1 March counts (it arrived last in the log, but is known first)
    assert _segment(telling(date(2023, 3, 1)), "ambulant").gedeclareerd == 9_999
    assert _segment(telling(date(2023, 3, 20)), "ambulant").gedeclareerd == 9_999
    # the correction: credit of the original line plus a new debit
    assert _segment(telling(date(2023, 5, 10)), "ambulant").gedeclareerd == 9_999 - 10_000 + 12_000
    # the late rejection counts from its Dagtekening on, in Wonen while the toewijzing lives
    assert _segment(telling(date(2023, 6, 1)), "wonen").afgewezen == 0
    # deleted on 15 September: its lines are ongekoppeld from then on
    assert telling(date(2023, 9, 14)).ongekoppeld == 7_300
    assert telling(date(2023, 9, 15)).ongekoppeld == 7_300 + 90_000
    assert telling(date(2024, 1, 14)).ongekoppeld_per_gemeente[MEERSSEN] == 90_000
    # the late declaration: only for K on or after its Dagtekening, outside the shortened period
    voor, na = telling(date(2024, 2, 9)), telling(date(2024, 2, 10))
    assert _segment(na, "ambulant").gedeclareerd - _segment(voor, "ambulant").gedeclareerd == 15_000
    assert _segment(na, "ambulant").buiten_toewijzingsperiode == 15_000
    # Heerlen buys ambulant itself: its lines are out of scope, not ongekoppeld
    assert telling(date(2024, 2, 10)).buiten_scope == 8_000


def test_a_rejection_known_only_after_k_does_not_count_at_k():
    events = _eventlog()
    # keep the toewijzing alive: drop the deletion, so the rejection shows in Wonen
    events = [e for e in events if not (isinstance(e, Toewijzing.VersieOntvangen)
                                        and e.reden_wijziging == "13")]
    vragen = Geldvragen(_geprojecteerd(events, 5))
    van, peildatum = date(2023, 1, 1), date(2023, 12, 31)
    assert _segment(vragen.kostentelling(REGIO, van, peildatum, date(2024, 1, 14)), "wonen").afgewezen == 0
    bij = _segment(vragen.kostentelling(REGIO, van, peildatum, date(2024, 1, 15)), "wonen")
    assert (bij.afgewezen, bij.toegekend) == (50_000, 40_000)


def test_knowledge_periods_follow_the_counting_version_and_leave_a_gap_for_a_deletion():
    versies, _, _ = geld_uit_eventlog(_eventlog())
    meerssen = [v for v in versies if v.gemeentecode == MEERSSEN]
    perioden = geldperioden(meerssen)
    assert [(p.bekend_vanaf, p.bekend_tot) for p in perioden] == [
        (date(2023, 1, 25), date(2023, 9, 15))]  # deleted from 15 September: no period
    maastricht = geldperioden([v for v in versies if v.gemeentecode == MAASTRICHT])
    assert [(p.bekend_vanaf, p.bekend_tot, p.versie.einddatum) for p in maastricht] == [
        (date(2022, 12, 20), date(2023, 8, 1), date(2023, 12, 31)),
        (date(2023, 8, 1), None, date(2023, 6, 30))]


def test_publication_csv_suppresses_the_amounts_of_small_cells():
    vragen = Geldvragen(_geprojecteerd(_eventlog(), 100))
    telling = vragen.kostentelling(REGIO, date(2023, 1, 1), date(2023, 12, 31), date(2023, 6, 1))
    open_csv = als_csv_geld(telling)
    gepubliceerd = als_csv_geld(telling, min_cel=10)
    assert "9999" not in gepubliceerd.replace("99990", "") and "2000" not in gepubliceerd.split("#")[0]
    assert "<10" in gepubliceerd and "suppressed" in gepubliceerd
    assert "11999" in open_csv  # 9,999 - 10,000 + 12,000: the exact figures for own users


def test_a_page_already_projected_is_refused():
    view = InMemoryGeldView()
    projectie = GeldProjectie(view)
    events = list(enumerate(_eventlog(), start=1))
    projectie.projecteer(events[:2], 2)
    with pytest.raises(ValueError, match="already projected"):
        projectie.projecteer(events[:2], 2)


def test_live_money_updates_carry_what_changed_and_nothing_when_nothing_did():
    from services.projector.updates import TOTAAL, GeldUpdate, geld_veranderd

    vragen = Geldvragen(_geprojecteerd(_eventlog(), 100))
    van, peildatum = date(2023, 1, 1), date(2023, 12, 31)
    toen = vragen.kostentelling(REGIO, van, peildatum, date(2023, 3, 20))
    updates = geld_veranderd({}, [toen], 7)
    assert {u.segment for u in updates} == {s.id for s in REGIO.segmenten} | {TOTAAL}
    vorige = {u.kv_key: {**u.figures, "ongekoppeld": u.ongekoppeld} for u in updates}
    assert geld_veranderd(vorige, [toen], 8) == []
    later = geld_veranderd(vorige, [vragen.kostentelling(REGIO, van, peildatum, date(2023, 5, 10))], 9)
    ambulant = next(u for u in later if u.segment == "ambulant")
    assert "gedeclareerd" in ambulant.changed and ambulant.figures["gedeclareerd"] == 11_999
    assert GeldUpdate.model_validate_json(ambulant.model_dump_json(by_alias=True)) == ambulant


def test_diff_names_the_lines_and_the_messages_behind_a_money_change():
    vragen = Geldvragen(_geprojecteerd(_eventlog(), 100))
    van, peildatum = date(2023, 1, 1), date(2023, 12, 31)
    een, twee, regels = vragen.verschil(REGIO, van, peildatum, date(2023, 3, 20), date(2024, 2, 10))
    per_regel = {r.referentienummer: r for r in regels}
    assert per_regel["r5"].oud == "onbekend" and per_regel["r5"].oorzaak.startswith("JW323 701")
    assert per_regel["r1c"].nieuw == "ambulant, toegekend"
    assert per_regel["r2"].nieuw == "ongekoppeld, afgewezen"  # deleted, then rejected
    assert "r1" not in per_regel and "x1" not in per_regel  # unchanged lines are not named
    assert twee.ongekoppeld - een.ongekoppeld == 90_000
