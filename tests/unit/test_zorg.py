"""Actual care (JW305/JW307): toegewezen niet gestart and tijd tot start, on the pure core."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from projections.zorg import (
    Start,
    Stop,
    bereken_zorg,
    eerste_starts,
    geldende_meldingen,
    mediaan,
    percentiel,
)
from tests.unit.test_geld import HEERLEN, MAASTRICHT, MEERSSEN, REGIO, versie

PEIL = date(2023, 12, 31)


def start(nr: int, begin: date, *, status: str = "1", dagtekening: date | None = None,
          identificatie: str = "1", gemeente: str = MAASTRICHT) -> Start:
    return Start(gemeente, str(nr), begin, status, dagtekening or begin, identificatie)


def seg(telling, segment_id):
    return next(s.cijfers for s in telling.segmenten if s.segment == segment_id)


def zorg(versies, starts=(), *, van=date(2023, 1, 1), peildatum=PEIL, k=date(2024, 6, 30), **kw):
    return bereken_zorg(list(versies), list(starts), REGIO, van, peildatum, k, **kw)


# -- starts and their deletion --------------------------------------------------------------


def test_a_deletion_removes_the_earlier_start_with_the_same_key():
    gestart = start(1, date(2023, 2, 1), dagtekening=date(2023, 2, 3))
    weg = start(1, date(2023, 2, 1), status="3", dagtekening=date(2023, 2, 10), identificatie="2")
    assert eerste_starts([gestart, weg], date(2023, 2, 9)) == {(MAASTRICHT, 1): date(2023, 2, 1)}
    assert eerste_starts([weg, gestart], date(2023, 2, 10)) == {}


def test_a_start_sent_again_after_its_deletion_counts_again():
    meldingen = [start(1, date(2023, 2, 1), dagtekening=date(2023, 2, 3)),
                 start(1, date(2023, 2, 1), status="3", dagtekening=date(2023, 2, 10)),
                 start(1, date(2023, 2, 1), dagtekening=date(2023, 3, 1))]
    assert eerste_starts(meldingen, date(2023, 3, 1)) == {(MAASTRICHT, 1): date(2023, 2, 1)}


def test_a_deletion_of_another_begindatum_deletes_nothing():
    meldingen = [start(1, date(2023, 2, 1)), start(1, date(2023, 2, 5), status="3")]
    assert eerste_starts(meldingen, date(2023, 3, 1)) == {(MAASTRICHT, 1): date(2023, 2, 1)}


def test_the_first_start_is_the_earliest_in_force():
    meldingen = [start(1, date(2023, 3, 1)), start(1, date(2023, 2, 1)),
                 start(1, date(2023, 2, 1), status="3", dagtekening=date(2023, 2, 20))]
    assert eerste_starts(meldingen, date(2023, 2, 19)) == {(MAASTRICHT, 1): date(2023, 2, 1)}
    assert eerste_starts(meldingen, date(2023, 3, 2)) == {(MAASTRICHT, 1): date(2023, 3, 1)}


def test_the_same_day_the_larger_identificatie_decides():
    gestart = start(1, date(2023, 2, 1), identificatie="10")
    weg = start(1, date(2023, 2, 1), status="3", identificatie="9")
    assert eerste_starts([weg, gestart], date(2023, 2, 1)) == {(MAASTRICHT, 1): date(2023, 2, 1)}


def test_stops_follow_the_same_rule():
    stop = Stop(MAASTRICHT, "1", date(2023, 2, 1), date(2023, 5, 1), "20", "1", date(2023, 5, 2))
    weg = Stop(MAASTRICHT, "1", date(2023, 2, 1), date(2023, 5, 1), "20", "3", date(2023, 5, 9))
    assert geldende_meldingen([stop, weg], date(2023, 5, 8)) == [stop] and stop.is_tijdelijk
    assert geldende_meldingen([stop, weg], date(2023, 5, 9)) == []


# -- toegewezen, niet gestart ---------------------------------------------------------------


def test_toegewezen_niet_gestart_after_start_termijn_days():
    # reference date: the peildatum (before K); 30 days before it: 2023-12-01
    precies = versie(1, date(2023, 12, 1))
    te_kort = versie(2, date(2023, 12, 2))
    gestart = versie(3, date(2023, 1, 1))
    afgelopen = versie(4, date(2023, 1, 1), date(2023, 12, 30))
    loopt_tot_peildatum = versie(5, date(2023, 1, 1), PEIL)
    c = seg(zorg([precies, te_kort, gestart, afgelopen, loopt_tot_peildatum],
                 [start(3, date(2023, 1, 5))]), "ambulant")
    assert c.toegewezen_niet_gestart == 2  # precies and loopt_tot_peildatum


def test_a_start_known_only_after_k_or_after_the_reference_date_does_not_count():
    v = versie(1, date(2023, 1, 1))
    laat_bekend = start(1, date(2023, 1, 10), dagtekening=date(2023, 7, 1))
    assert seg(zorg([v], [laat_bekend], k=date(2023, 6, 30)), "ambulant").toegewezen_niet_gestart == 1
    assert seg(zorg([v], [laat_bekend], k=date(2023, 7, 1)), "ambulant").toegewezen_niet_gestart == 0
    na_de_peildatum = start(1, date(2024, 1, 10))
    assert seg(zorg([v], [na_de_peildatum]), "ambulant").toegewezen_niet_gestart == 1


def test_the_reference_date_is_min_k_peildatum():
    v = versie(1, date(2023, 3, 1))
    assert seg(zorg([v], k=date(2023, 3, 30)), "ambulant").toegewezen_niet_gestart == 0
    assert seg(zorg([v], k=date(2023, 3, 31)), "ambulant").toegewezen_niet_gestart == 1


def test_excluded_deleted_and_unmapped_toewijzingen_are_in_no_figure():
    excluded = versie(1, date(2023, 1, 1), gemeente=HEERLEN)
    deleted = [versie(2, date(2023, 1, 1)),
               versie(2, date(2023, 1, 1), date(2023, 1, 1), reden="13", toegewezen=date(2023, 2, 1))]
    unmapped = versie(3, date(2023, 1, 1), categorie="55")
    t = zorg([excluded, *deleted, unmapped],
             [start(1, date(2023, 1, 3), gemeente=HEERLEN), start(2, date(2023, 1, 3)),
              start(3, date(2023, 1, 3))])
    assert t.totaal.toegewezen_niet_gestart == 0 and t.totaal.gestart == 0


# -- tijd tot start -------------------------------------------------------------------------


def test_tijd_tot_start_median_and_p90_per_segment():
    versies = [versie(nr, date(2023, 3, 1)) for nr in range(1, 11)]
    dagen = [0, 1, 2, 3, 4, 5, 6, 7, 8, 30]
    starts = [start(nr, date(2023, 3, 1) + timedelta(days=d)) for nr, d in zip(range(1, 11), dagen,
                                                                                strict=True)]
    c = seg(zorg(versies, starts), "ambulant")
    assert (c.gestart, c.tijd_tot_start_mediaan, c.tijd_tot_start_p90) == (10, Decimal("4.5"), 8)
    assert seg(zorg(versies, starts), "wonen").tijd_tot_start_mediaan is None


def test_a_start_before_the_ingangsdatum_counts_as_zero_days():
    c = seg(zorg([versie(1, date(2023, 3, 1))], [start(1, date(2023, 2, 20))]), "ambulant")
    assert (c.tijd_tot_start_mediaan, c.tijd_tot_start_p90) == (Decimal(0), 0)


def test_only_toewijzingen_whose_first_start_lies_in_the_window():
    versies = [versie(1, date(2022, 12, 1)), versie(2, date(2023, 1, 1), categorie="43")]
    starts = [start(1, date(2022, 12, 20)), start(1, date(2023, 1, 10)), start(2, date(2023, 1, 11))]
    t = zorg(versies, starts)
    assert seg(t, "ambulant").gestart == 0  # its first start lies in 2022
    assert (seg(t, "wonen").gestart, seg(t, "wonen").tijd_tot_start_mediaan) == (1, Decimal(10))
    assert t.totaal.gestart == 1


def test_one_gemeente_and_the_contract_shape():
    versies = [versie(1, date(2023, 1, 1)), versie(2, date(2023, 1, 1), gemeente=MEERSSEN)]
    t = zorg(versies, [start(1, date(2023, 1, 4))], gemeente=MEERSSEN)
    assert t.totaal.toegewezen_niet_gestart == 1 and t.totaal.gestart == 0
    d = t.als_dict()
    assert list(d) == ["region", "from", "peildatum", "known_at", "gemeente", "segments", "totaal",
                       "warnings"]
    assert list(d["segments"][0]) == ["segment", "toegewezen_niet_gestart", "gestart",
                                      "tijd_tot_start_mediaan", "tijd_tot_start_p90", "stops",
                                      "tijdelijke_stops"]


# -- stops ------------------------------------------------------------------------------------


def stop(nr: int, begin: date, eind: date, reden: str = "31", *, status: str = "1",
         dagtekening: date | None = None) -> Stop:
    return Stop(MAASTRICHT, str(nr), begin, eind, reden, status, dagtekening or eind, "1")


def test_stops_in_the_window_known_at_k_per_segment_and_temporary_ones():
    versies = [versie(1, date(2023, 1, 1)), versie(2, date(2023, 1, 1), categorie="43"),
               versie(3, date(2023, 1, 1), categorie="55")]  # 3: unmapped, in no figure
    stops = [stop(1, date(2023, 1, 2), date(2023, 3, 1), "20"),
             stop(1, date(2023, 4, 1), date(2023, 9, 1)),
             stop(2, date(2023, 1, 2), date(2022, 12, 31)),  # ends before the window
             stop(2, date(2023, 1, 5), date(2023, 6, 1), dagtekening=date(2024, 7, 1)),  # after K
             stop(3, date(2023, 1, 2), date(2023, 6, 1)),
             stop(1, date(2023, 4, 1), date(2023, 9, 1), status="3", dagtekening=date(2023, 9, 2))]
    t = zorg(versies, stops=stops, k=date(2023, 9, 1))
    assert (seg(t, "ambulant").stops, seg(t, "ambulant").tijdelijke_stops) == (2, 1)
    assert seg(t, "wonen").stops == 0 and (t.totaal.stops, t.totaal.tijdelijke_stops) == (2, 1)
    # the deletion known on 2 Sep removes the definitive stop; a stop does not start care
    later = zorg(versies, stops=stops, k=date(2023, 12, 31))
    assert (later.totaal.stops, later.totaal.tijdelijke_stops) == (1, 1)
    assert seg(later, "ambulant").toegewezen_niet_gestart == 1


@pytest.mark.parametrize(("waarden", "med", "p90"), [
    ([], None, None), ([5], Decimal(5), 5), ([1, 2], Decimal("1.5"), 2),
    (list(range(1, 21)), Decimal("10.5"), 18), ([3, 1, 2], Decimal(2), 3),
])
def test_median_and_nearest_rank_percentile(waarden, med, p90):
    assert mediaan(waarden) == med and percentiel(waarden, 90) == p90
