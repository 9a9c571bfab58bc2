"""Data-quality findings: carried with the validated message, mapped to stored rows, and
aggregated into the report (in memory, no database)."""

from __future__ import annotations

import pickle
from datetime import date

from events.gemeenten import GemeenteRegister
from events.ijw import XsdSchemas
from events.ijw_schrijven import schrijf
from events.kwaliteit import Bevinding
from projections.kwaliteit import als_csv_rijen, als_json, rapport, samenvatting
from projections.kwaliteitvragen import Rij, Telling
from services.eventstore.postgres import Berichttelling, Bevindingrij
from services.ingest.handler import berichttellingen, bevindingrijen
from services.ingest.validatie import BerichtLezer, Gelezen, StreamBericht
from tests.conftest import CBS_FILES, XSD_DIR
from tests.unit.test_ijw_schrijven import BSN_A, start, toewijzing


def _lezer(regels: bool = True) -> BerichtLezer:
    return BerichtLezer(GemeenteRegister.from_csv(CBS_FILES), XsdSchemas(XSD_DIR), regels=regels)


def _stroom() -> list[StreamBericht]:
    return [StreamBericht(1, "ijw.0935.jw301", schrijf(toewijzing())),
            StreamBericht(2, "ijw.0935.jw301", schrijf(toewijzing(), breek=frozenset({"CS338",
                                                                                        "TR006"}))),
            StreamBericht(3, "ijw.0935.jw305", schrijf(start()))]


def test_findings_travel_with_the_message_and_survive_pickling():
    uit = _lezer().lees_alle(_stroom())
    assert all(isinstance(u, Gelezen) for u in uit)
    terug = pickle.loads(pickle.dumps(uit))  # noqa: S301 - our own bytes
    regels = [sorted({b.regel for b in u.bevindingen}) for u in terug]
    assert {"CS338", "TR006"} <= set(regels[1])
    assert not {"CS338", "TR006"} & set(regels[0])
    assert terug[1].bericht == uit[1].bericht


def test_rules_off_means_no_findings():
    assert all(u.bevindingen == () for u in _lezer(regels=False).lees_alle(_stroom()))


def test_stored_rows_hold_rule_path_and_message_not_personal_values():
    gelezen = _lezer().lees_alle(_stroom())[1]
    rijen = bevindingrijen(42, gelezen)
    assert rijen and {r.regel for r in rijen} >= {"CS338", "TR006"}
    for r in rijen:
        assert (r.stream_seq, r.bericht, r.gemeente, r.aanbieder, r.dagtekening) == (
            42, "jw301", "0935", "99990001", date(2024, 3, 5))
        assert str(BSN_A) not in repr(r) and "999900006" not in repr(r)


def test_messages_are_counted_per_gemeente_provider_type_and_month():
    gelezen = [u.bericht for u in _lezer().lees_alle(_stroom())]
    assert berichttellingen(gelezen) == [
        Berichttelling("0935", "99990001", "jw301", date(2024, 3, 1), 2),
        Berichttelling("0935", "99990001", "jw305", date(2024, 3, 1), 1)]


def _rij(seq: int, regel: str, gemeente: str = "0935", aanbieder: str = "A",
         dag: date = date(2024, 3, 5), bericht: str = "jw301") -> Rij:
    return Rij(seq, regel, "Bericht/Client", "", bericht, gemeente, aanbieder, dag)


def test_report_counts_messages_not_findings_and_puts_the_worst_rule_first():
    bevindingen = [_rij(1, "CS338"), _rij(1, "TR006"), _rij(2, "CS338"),
                   _rij(1, "CS338") ._replace(pad="Bericht/Client/Contact[2]"),
                   _rij(7, "CS139", gemeente="0917", aanbieder="B", dag=date(2024, 4, 2),
                        bericht="jw305")]
    tellingen = [Telling("0935", "A", "jw301", date(2024, 3, 1), 10),
                 Telling("0917", "B", "jw305", date(2024, 4, 1), 4),
                 Telling("0917", "B", "jw301", date(2024, 4, 1), 6)]
    r = rapport(bevindingen, tellingen)
    assert (r.berichten, r.met_bevinding, r.aandeel) == (20, 3, 15.0)
    cs338, tr006 = next(g for g in r.regels if g.regel == "CS338"), next(
        g for g in r.regels if g.regel == "TR006")
    assert (cs338.berichten, cs338.onderzocht, cs338.aandeel) == (2, 16, 12.5)
    assert cs338.stream_seqs == [1, 2] and cs338.per_maand == {"2024-03": 2}
    assert tr006.berichten == 1
    cs139 = next(g for g in r.regels if g.regel == "CS139")
    assert cs139.onderzocht == 20 and cs139.aandeel == 5.0  # CS139: JW301, JW305 and JW307
    assert [g.regel for g in r.regels] == ["CS338", "TR006", "CS139"]
    gemeenten = {p.code: p for p in r.gemeenten}
    assert (gemeenten["0935"].met_bevinding, gemeenten["0935"].aandeel) == (2, 20.0)
    assert gemeenten["0935"].ergste_regel == "CS338"
    assert [(m.maand, m.berichten, m.met_bevinding) for m in r.maanden] == [
        ("2024-03", 10, 2), ("2024-04", 10, 1)]
    json = als_json(r)
    assert json["rules"][0]["rule"] == "CS338" and json["share_pct"] == 15.0
    assert ["rule", "CS338", 2, 16, 12.5, "", "1 2"] in als_csv_rijen(r)
    assert "Maastricht (0935): 2 van 10 (20.0%), meest: CS338" in "\n".join(
        samenvatting(r, {"0935": "Maastricht"}))


def test_cross_message_findings_have_a_share_of_what_they_examined():
    kruis = [Rij(0, "JS02", "JW323 D1 ToewijzingNummer 5", "", "jw323", "0935", "A",
                 date(2024, 3, 9)),
             Rij(0, "JS02", "JW323 D2 ToewijzingNummer 6", "", "jw323", "0935", "A",
                 date(2024, 3, 9))]
    r = rapport([], [Telling("0935", "A", "jw323", date(2024, 3, 1), 3)], kruis, {"JS02": 8})
    [js02] = r.regels
    assert (js02.berichten, js02.onderzocht, js02.aandeel, js02.stream_seqs) == (2, 8, 25.0, [])
    assert r.met_bevinding == 0  # the messages' own share counts single-message findings only


def test_the_stored_row_type_matches_the_report_input():
    b = Bevinding("CS338", "Bericht/Client", "x")
    rij = Bevindingrij(1, b.regel, b.pad, b.toelichting, "jw301", "0935", "A", date(2024, 1, 1))
    assert rapport([rij], []).regels[0].regel == "CS338"


def test_the_rules_find_the_same_with_the_parsers_child_index_as_without():
    """lees_bericht hands the rules its child index; what they find must not depend on it."""
    from lxml import etree

    from events.ijw import lees_bericht
    from events.ijw_schrijven import BREEKBAAR
    from events.kwaliteit import controleer

    register, schemas = GemeenteRegister.from_csv(CBS_FILES), XsdSchemas(XSD_DIR)
    for regel in sorted(BREEKBAAR["jw301"]):
        data = schrijf(toewijzing(), breek=frozenset({regel}))
        met_index: list[Bevinding] = []
        lees_bericht(data, register, schemas, bevindingen=met_index)
        root = etree.fromstring(data)
        assert sorted(map(str, met_index)) == sorted(map(str, controleer(root, "jw301"))), regel
        assert regel in {b.regel for b in met_index}
