"""Every boundary of DOMAIN.md's flow rules, on the pure core (no servers)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from projections.flow import (
    Allocatie,
    Categorie,
    Versie,
    classificeer,
    classificeer_op,
    geldende_versies,
    tel,
)
from projections.regio import laad_regios

ZL = laad_regios()["zuid-limburg"]
MAASTRICHT, MEERSSEN, HEERLEN = "0935", "0938", "0917"
D0 = date(2022, 6, 30)


def alloc(nr: int, start: date, eind: date | None, *, client: str = "c1", segment: str | None = "wonen",
          gemeente: str = MAASTRICHT) -> Allocatie:
    return Allocatie((gemeente, nr), client, segment, start, eind)


def by_nr(classificaties) -> dict[int, object]:
    return {c.allocatie.sleutel[1]: c for c in classificaties}


@pytest.mark.parametrize(("delta", "expected"), [
    (-15, Categorie.STAPELING), (-14, Categorie.DOORSTROOM), (-13, Categorie.DOORSTROOM),
    (0, Categorie.DOORSTROOM), (1, Categorie.DOORSTROOM), (13, Categorie.DOORSTROOM),
    (14, Categorie.DOORSTROOM), (15, Categorie.RECIDIVE), (179, Categorie.RECIDIVE),
    (180, Categorie.RECIDIVE), (181, Categorie.HERNIEUWDE_INSTROOM),
    (400, Categorie.HERNIEUWDE_INSTROOM),
])
def test_delta_boundaries(delta, expected):
    result = by_nr(classificeer([alloc(1, date(2020, 1, 1), D0),
                                 alloc(2, D0 + timedelta(days=delta), None)], 14, 180))
    assert result[1].categorie == Categorie.INSTROOM
    assert result[2].categorie == expected and result[2].delta == delta


def test_open_ended_predecessor_is_stapeling():
    result = by_nr(classificeer([alloc(1, date(2020, 1, 1), None),
                                 alloc(2, date(2023, 1, 1), None)], 14, 180))
    assert result[2].categorie == Categorie.STAPELING and result[2].delta is None


def test_two_predecessors_the_later_end_decides():
    result = by_nr(classificeer([
        alloc(1, date(2020, 1, 1), date(2021, 1, 31)),   # ends 300 days before
        alloc(2, date(2020, 6, 1), date(2021, 11, 20)),  # ends 10 days before: decides
        alloc(3, date(2021, 11, 30), None),
    ], 14, 180))
    assert result[3].categorie == Categorie.DOORSTROOM and result[3].voorganger == (MAASTRICHT, 2)


def test_two_starts_on_the_same_day_smaller_key_comes_first():
    result = by_nr(classificeer([alloc(8, date(2022, 1, 1), date(2022, 12, 31)),
                                 alloc(7, date(2022, 1, 1), date(2022, 3, 31))], 14, 180))
    assert result[7].categorie == Categorie.INSTROOM
    assert result[8].categorie == Categorie.STAPELING and result[8].delta == -89
    # key order is numeric: 10 comes after 9
    result = by_nr(classificeer([alloc(10, date(2022, 1, 1), None),
                                 alloc(9, date(2022, 1, 1), None)], 14, 180))
    assert result[9].categorie == Categorie.INSTROOM and result[10].categorie == Categorie.STAPELING


def test_other_segments_and_clients_are_not_predecessors():
    result = by_nr(classificeer([alloc(1, date(2022, 1, 1), date(2022, 3, 1)),
                                 alloc(2, date(2022, 3, 5), None, segment="ambulant"),
                                 alloc(3, date(2022, 3, 5), None, client="c2")], 14, 180))
    assert {c.categorie for c in result.values()} == {Categorie.INSTROOM}


def test_a_move_between_gemeenten_of_the_region_is_doorstroom_attributed_to_the_new_one():
    classificaties = classificeer([alloc(1, date(2022, 1, 1), date(2022, 3, 1), gemeente=MAASTRICHT),
                                   alloc(2, date(2022, 3, 6), None, gemeente=MEERSSEN)], 14, 180)
    meerssen = tel(classificaties, ZL, date(2022, 1, 1), date(2022, 12, 31), date(2023, 6, 1),
                   MEERSSEN)
    maastricht = tel(classificaties, ZL, date(2022, 1, 1), date(2022, 12, 31), date(2023, 6, 1),
                     MAASTRICHT)
    wonen = {t.segment: t for t in meerssen.segmenten}["wonen"]
    assert (wonen.instroom, wonen.doorstroom, wonen.in_zorg) == (0, 1, 1)
    wonen = {t.segment: t for t in maastricht.segmenten}["wonen"]
    assert (wonen.instroom, wonen.doorstroom, wonen.uitstroom) == (1, 0, 0)


def test_uitstroom_needs_no_continuation_within_n_days():
    end = date(2022, 5, 31)
    for gap, uitstroom in [(14, False), (15, True)]:
        result = by_nr(classificeer([alloc(1, date(2022, 1, 1), end),
                                     alloc(2, end + timedelta(days=gap), None)], 14, 180))
        assert result[1].uitstroom is uitstroom


def test_two_ending_on_the_same_day_give_one_uitstroom_for_the_larger_key():
    classificaties = classificeer([
        alloc(5, date(2022, 1, 1), date(2022, 5, 31), gemeente=MEERSSEN),
        alloc(3, date(2022, 2, 1), date(2022, 5, 31), gemeente=MAASTRICHT),
    ], 14, 180)
    assert [c.allocatie.sleutel for c in classificaties if c.uitstroom] == [(MEERSSEN, 5)]
    assert (MEERSSEN, 5) > (MAASTRICHT, 3)


def test_overlapping_allocation_that_ends_later_blocks_uitstroom():
    result = by_nr(classificeer([alloc(1, date(2022, 1, 1), date(2022, 5, 31)),
                                 alloc(2, date(2021, 1, 1), date(2022, 9, 30))], 14, 180))
    assert not result[1].uitstroom and result[2].uitstroom


def test_provisional_uitstroom_depends_on_k():
    [c] = classificeer([alloc(1, date(2022, 1, 1), date(2022, 12, 20))], 14, 180)
    assert c.is_voorlopig(14, date(2023, 1, 2))       # 20 Dec + 14 = 3 Jan > K
    assert not c.is_voorlopig(14, date(2023, 1, 3))   # E + n == K: definitive


def _v(nr: str, start: date, eind: date | None, *, dagtekening: date, toegewezen: datetime,
       client: str = "c1", categorie: str = "43", code: str = "43A01", reden: str | None = None,
       ident: str = "1", gemeente: str = MAASTRICHT) -> Versie:
    return Versie(gemeente, nr, client, categorie, code, toegewezen, start, eind, reden,
                  dagtekening, ident)


def _cat(versies, k: date) -> dict[str, Categorie | None]:
    return {c.allocatie.sleutel[1]: c.categorie for c in classificeer_op(versies, ZL, k)}


def test_counting_version_is_the_latest_toewijzingsdatum_known_at_k():
    v1 = _v("1", date(2022, 1, 1), date(2022, 12, 31), dagtekening=date(2022, 1, 2),
            toegewezen=datetime(2022, 1, 2, 9))
    v2 = _v("1", date(2022, 1, 1), date(2022, 6, 30), dagtekening=date(2022, 7, 1),
            toegewezen=datetime(2022, 7, 1, 9))
    assert geldende_versies([v2, v1], date(2022, 6, 30))[(MAASTRICHT, 1)] is v1
    assert geldende_versies([v2, v1], date(2022, 7, 1))[(MAASTRICHT, 1)] is v2
    # arriving later does not make an older version count
    older_late = _v("1", date(2022, 1, 1), date(2023, 12, 31), dagtekening=date(2022, 8, 1),
                    toegewezen=datetime(2021, 12, 1, 9))
    assert geldende_versies([v1, v2, older_late], date(2022, 9, 1))[(MAASTRICHT, 1)] is v2


def test_version_tie_breaks_on_dagtekening_then_identificatie():
    t = datetime(2022, 1, 1, 12)
    a = _v("1", date(2022, 1, 1), None, dagtekening=date(2022, 1, 2), toegewezen=t, ident="9")
    b = _v("1", date(2022, 2, 1), None, dagtekening=date(2022, 1, 3), toegewezen=t, ident="1")
    c = _v("1", date(2022, 3, 1), None, dagtekening=date(2022, 1, 3), toegewezen=t, ident="10")
    assert geldende_versies([a, b, c], date(2022, 2, 1))[(MAASTRICHT, 1)] is c


def test_a_predecessor_shortened_after_its_successor_was_classified():
    p1 = _v("1", date(2022, 1, 1), date(2022, 12, 31), dagtekening=date(2022, 1, 1),
            toegewezen=datetime(2022, 1, 1, 9))
    s = _v("2", date(2022, 6, 1), None, dagtekening=date(2022, 5, 20),
           toegewezen=datetime(2022, 5, 20, 9), ident="2")
    p2 = _v("1", date(2022, 1, 1), date(2022, 5, 25), dagtekening=date(2022, 6, 10),
            toegewezen=datetime(2022, 6, 10, 9), ident="3")
    assert _cat([p1, s, p2], date(2022, 6, 1))[2] == Categorie.STAPELING
    assert _cat([p1, s, p2], date(2022, 6, 10))[2] == Categorie.DOORSTROOM


def test_a_back_dated_predecessor_arriving_after_its_successor():
    s = _v("2", date(2022, 6, 1), None, dagtekening=date(2022, 5, 20),
           toegewezen=datetime(2022, 5, 20, 9), ident="2")
    p = _v("1", date(2022, 1, 1), date(2022, 5, 28), dagtekening=date(2022, 7, 1),
           toegewezen=datetime(2022, 7, 1, 9), ident="3")
    assert _cat([s, p], date(2022, 6, 30)) == {2: Categorie.INSTROOM}
    assert _cat([s, p], date(2022, 7, 1)) == {1: Categorie.INSTROOM, 2: Categorie.DOORSTROOM}


def test_a_deletion_removes_the_toewijzing_everywhere_until_a_newer_version():
    p = _v("1", date(2022, 1, 1), date(2022, 5, 28), dagtekening=date(2022, 1, 1),
           toegewezen=datetime(2022, 1, 1, 9))
    s = _v("2", date(2022, 6, 1), None, dagtekening=date(2022, 5, 20),
           toegewezen=datetime(2022, 5, 20, 9), ident="2")
    weg = _v("1", date(2022, 1, 1), date(2022, 1, 1), reden="13", dagtekening=date(2022, 7, 1),
             toegewezen=datetime(2022, 7, 1, 9), ident="3")
    ouder = _v("1", date(2022, 1, 1), date(2022, 5, 28), dagtekening=date(2022, 7, 5),
               toegewezen=datetime(2021, 12, 1, 9), ident="4")
    nieuwer = _v("1", date(2022, 1, 1), date(2022, 5, 30), dagtekening=date(2022, 8, 1),
                 toegewezen=datetime(2022, 8, 1, 9), ident="5")
    alle = [p, s, weg, ouder, nieuwer]
    assert _cat(alle, date(2022, 6, 30)) == {1: Categorie.INSTROOM, 2: Categorie.DOORSTROOM}
    assert _cat(alle, date(2022, 7, 1)) == {2: Categorie.INSTROOM}   # deleted: not a predecessor
    assert _cat(alle, date(2022, 7, 10)) == {2: Categorie.INSTROOM}  # an older version never undoes it
    assert _cat(alle, date(2022, 8, 1)) == {1: Categorie.INSTROOM, 2: Categorie.DOORSTROOM}
    # RedenWijziging 13 with another Einddatum is an ordinary version
    gewoon = _v("1", date(2022, 1, 1), date(2022, 2, 1), reden="13", dagtekening=date(2022, 7, 1),
                toegewezen=datetime(2022, 7, 1, 9), ident="3")
    assert _cat([p, s, gewoon], date(2022, 7, 1))[1] == Categorie.INSTROOM


def test_exclusions_remove_the_allocation_before_classification_and_from_every_figure():
    heerlen_amb = _v("1", date(2022, 1, 1), None, categorie="45", code="45A01",
                     dagtekening=date(2022, 1, 1), toegewezen=datetime(2022, 1, 1, 9),
                     gemeente=HEERLEN)
    classificaties = classificeer_op([heerlen_amb], ZL, date(2022, 12, 31))
    assert classificaties == []
    telling = tel(classificaties, ZL, date(2022, 1, 1), date(2022, 12, 31), date(2022, 12, 31))
    assert telling.unmapped_toewijzingen == 0 and telling.totaal_unieke_jeugdigen == 0


def test_unmapped_product_is_reported_when_it_overlaps_the_window():
    landelijk = _v("1", date(2022, 3, 1), date(2022, 4, 1), categorie="55", code="55A11",
                   dagtekening=date(2022, 1, 1), toegewezen=datetime(2022, 1, 1, 9))
    later = _v("2", date(2023, 3, 1), None, categorie="55", code="55A11",
               dagtekening=date(2022, 1, 1), toegewezen=datetime(2022, 1, 1, 9))
    classificaties = classificeer_op([landelijk, later], ZL, date(2023, 1, 1))
    telling = tel(classificaties, ZL, date(2022, 1, 1), date(2022, 12, 31), date(2023, 1, 1))
    assert telling.unmapped_toewijzingen == 1
    assert all(s.instroom == 0 for s in telling.segmenten if s.flow)


def test_segment_without_flow_shows_none_and_children_are_unique_across_segments():
    classificaties = classificeer([
        alloc(1, date(2022, 2, 1), date(2022, 2, 10), segment="crisis"),
        alloc(2, date(2022, 2, 11), None, segment="wonen"),
        alloc(3, date(2022, 3, 1), None, segment="wonen", client="c2"),
    ], 14, 180)
    telling = tel(classificaties, ZL, date(2022, 1, 1), date(2022, 12, 31), date(2023, 1, 1))
    crisis = {t.segment: t for t in telling.segmenten}["crisis"]
    assert crisis.instroom is None and crisis.uitstroom is None and crisis.unieke_jeugdigen == 1
    assert telling.totaal_unieke_jeugdigen == 2
    assert telling.als_dict()["segments"][3]["instroom"] is None


def test_window_starting_less_than_m_days_after_history_start_warns():
    early = tel([], ZL, date(2019, 3, 1), date(2019, 12, 31), date(2020, 1, 1))
    late = tel([], ZL, date(2020, 1, 1), date(2020, 12, 31), date(2021, 1, 1))
    assert early.waarschuwingen and "instroom kan te hoog zijn" in early.waarschuwingen[0]
    assert late.waarschuwingen == []


def test_peildatum_before_from_is_an_error():
    with pytest.raises(ValueError, match="lies before"):
        tel([], ZL, date(2022, 12, 31), date(2022, 1, 1), date(2023, 1, 1))


def test_zorgduur_per_episode():
    from projections.flow import episodes

    classificaties = classificeer([
        alloc(1, date(2022, 1, 1), date(2022, 3, 31)),            # instroom: episode 1
        alloc(2, date(2022, 4, 5), date(2022, 6, 30)),            # doorstroom: episode 1
        alloc(3, date(2022, 5, 1), date(2022, 5, 31)),            # stapeling: episode 1
        alloc(4, date(2022, 10, 1), None),                        # recidive: episode 2, ongoing
        alloc(5, date(2022, 2, 1), date(2022, 2, 28), client="c2"),  # another client
    ], 14, 180)
    result = sorted(episodes(classificaties), key=lambda e: (e.client, e.start))
    assert [(e.client, e.allocaties, e.zorgduur) for e in result] == [
        ("c1", ((MAASTRICHT, 1), (MAASTRICHT, 2), (MAASTRICHT, 3)), 181),  # 1 Jan..30 Jun
        ("c1", ((MAASTRICHT, 4),), None),
        ("c2", ((MAASTRICHT, 5),), 28),
    ]


def test_einddatum_9999_12_31_is_a_far_end_not_a_crash():
    [c] = classificeer([alloc(1, date(2022, 1, 1), date(9999, 12, 31))], 14, 180)
    assert c.uitstroom and c.is_voorlopig(14, date(2030, 1, 1))  # E + n lies after K


def test_segments_unknown_to_the_region_file_warn_instead_of_failing():
    telling = tel(classificeer([alloc(1, date(2022, 2, 1), None, segment="oud-segment")], 14, 180),
                  ZL, date(2022, 1, 1), date(2022, 12, 31), date(2023, 1, 1))
    assert "project --rebuild" in telling.waarschuwingen[-1]
