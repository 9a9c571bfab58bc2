"""The counts summed in SQL (`PostgresFlowView.tellingen_op`) are exactly `flow.tel` over the
periods the view returns (`perioden_op`): `tel` is the specification, the SQL its fast form.

Simulated traffic of Zuid-Limburg (a twentieth of its size, with late corrections and
deletions), classified with one product rule left out so that some allocations are unmapped,
stored in a real PostgreSQL, then counted both ways for many random windows, knowledge dates
(around the window's end, for provisional uitstroom) and gemeenten: the whole region, each
gemeente (also those a segment excludes), all of them in one read, and once with a region
file that lacks a segment the periods still name."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from events.ijw import Afgewezen, Toewijzingbericht, lees_bericht
from projections.flow import Periode, Versie, tel, tijdlijn
from projections.regio import Regio
from services import bootstrap
from services.dev.simulator import simuleer, zuid_limburg_profiel

pytestmark = pytest.mark.integration

JAREN = range(2022, 2024)


def _versies(map_, register) -> list[Versie]:
    """The JW301 versions of the simulated files, the client as a pseudonym (no BSN kept)."""
    versies = []
    for pad in sorted(map_.glob("*jw301*.xml")):
        try:
            bericht = lees_bericht(pad.read_bytes(), register)
        except Afgewezen:
            continue  # the simulator's broken copies
        assert isinstance(bericht, Toewijzingbericht)
        kop = bericht.kop
        client = hashlib.sha256(bericht.bsn.waarde.encode()).hexdigest()[:16]
        for p in bericht.producten:
            versies.append(Versie(
                kop.gemeentecode, p.toewijzingnummer, client,
                p.product.categorie if p.product else None, p.product.code if p.product else None,
                datetime.combine(p.toewijzingsdatum, p.toewijzingstijd), p.ingangsdatum,
                p.einddatum, p.reden_wijziging, kop.dagtekening, kop.identificatie))
    return versies


def _zonder_een_regel(regio: Regio) -> Regio:
    """The region without Wonen's rule for categorie 44: the simulator's 44A01 allocations
    are unmapped (segment None)."""
    segmenten = tuple(
        s.model_copy(update={"regels": tuple(r for r in s.regels if r.categorie != "44")})
        if s.id == "wonen" else s for s in regio.segmenten)
    return regio.model_copy(update={"segmenten": segmenten})


@pytest.fixture
def view_met_simulatie(settings, register, tmp_path):
    regio = bootstrap.regios(settings)["zuid-limburg"]
    profiel = zuid_limburg_profiel()
    profiel = replace(profiel, ruis=replace(profiel.ruis, aandeel_laat_gecorrigeerd=0.3),
                      segmenten=[replace(s, instroom_per_jaar=max(s.instroom_per_jaar // 20, 8))
                                 for s in profiel.segmenten])
    simuleer(profiel, JAREN, seed=11, out=tmp_path / "sim")
    per_client: dict[str, list[Versie]] = defaultdict(list)
    for v in _versies(tmp_path / "sim", register):
        per_client[v.client].append(v)
    indeling = _zonder_een_regel(regio)
    perioden: list[Periode] = []
    for client, versies in per_client.items():
        perioden.extend(tijdlijn(versies, indeling, {client}))
    store = bootstrap.event_store(settings.database_url)
    view = bootstrap.flow_view(store)
    with view.schrijf(1) as schrijver:
        schrijver.vervang_perioden(regio.id, sorted(per_client), perioden)
    yield view, regio, perioden
    store.close()


def test_the_sql_sums_are_tel_over_the_periods(view_met_simulatie):
    view, regio, perioden = view_met_simulatie
    # the data exercise every branch of tel
    assert any(p.classificatie.allocatie.segment is None for p in perioden)
    assert any(p.classificatie.uitstroom for p in perioden)
    assert not all(s.flow for s in regio.segmenten)
    rnd = random.Random(3)  # reproducible questions
    gemeenten = sorted(regio.gemeenten)
    gezien = defaultdict(int)
    for i in range(240):
        van = date(2021, 10, 1) + timedelta(days=rnd.randrange(900))
        peildatum = van + timedelta(days=rnd.choice((0, 1, 30, 90, 181, 365, 500)))
        k = peildatum + timedelta(days=rnd.randrange(-40, 400))
        vraag: list[str | None] = ([None, *gemeenten] if i % 5 == 0 else
                                   [rnd.choice([None, *gemeenten])])
        k_getoond = None if i % 7 == 0 else k
        sql = view.tellingen_op(regio, k, van, peildatum, vraag, k_getoond)
        classificaties = [p.classificatie for p in view.perioden_op(regio.id, k, van, peildatum)]
        spec = [tel(classificaties, regio, van, peildatum, k, g, k_getoond=k_getoond)
                for g in vraag]
        assert [t.als_dict() for t in sql] == [t.als_dict() for t in spec], (van, peildatum, k, vraag)
        for t in sql:
            gezien["unmapped"] += t.unmapped_toewijzingen > 0
            gezien["voorlopig"] += any(s.uitstroom_voorlopig for s in t.segmenten)
            gezien["definitief"] += any((s.uitstroom or 0) > (s.uitstroom_voorlopig or 0)
                                        for s in t.segmenten)
            gezien["leeg"] += t.totaal_unieke_jeugdigen == 0
    assert min(gezien.values()) > 0, gezien  # every case came up


def test_a_segment_the_region_file_lost_is_counted_and_named_as_tel_does(view_met_simulatie):
    view, regio, _ = view_met_simulatie
    ouder = regio.model_copy(update={"segmenten": regio.segmenten[1:]})
    van, peildatum, k = date(2023, 1, 1), date(2023, 12, 31), date(2024, 3, 1)
    for vraag in ([None], ["0935"], [None, *sorted(regio.gemeenten)]):
        sql = view.tellingen_op(ouder, k, van, peildatum, vraag, k)
        classificaties = [p.classificatie for p in view.perioden_op(regio.id, k, van, peildatum)]
        assert [t.als_dict() for t in sql] == [
            tel(classificaties, ouder, van, peildatum, k, g, k_getoond=k).als_dict() for g in vraag]
        if vraag[0] is None:
            assert regio.segmenten[0].id in sql[0].waarschuwingen[-1]
