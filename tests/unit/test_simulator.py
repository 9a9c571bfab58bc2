"""The traffic simulator: valid, reproducible, messy on purpose, and of the right size."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from lxml import etree

from events.ijw import (
    Afgewezen,
    Antwoordbericht,
    Declaratiebericht,
    Toewijzingbericht,
    lees_bericht,
)
from events.kwaliteit import controleer
from events.verwerking import ijw_records
from services.dev.simulator import (
    Ruis,
    SegmentProfiel,
    SimulatieProfiel,
    SimulatieResultaat,
    bestandsnaam,
    simulatie_profiel,
    simuleer,
    zuid_limburg_profiel,
)

KLEIN = SimulatieProfiel(
    gemeenten=["0935", "0917"],
    aanbieders=["99990001", "99990002", "99990003"],
    segmenten=[
        SegmentProfiel("Ambulant", [("45", "45A01"), ("45", "45A12")], instroom_per_jaar=12,
                       gemiddelde_duur_dagen=120, p_doorstroom=0.2, p_stapeling=0.2,
                       p_recidive=0.2, p_hernieuwd=0.1),
        SegmentProfiel("Wonen", [("43", "43A09"), ("44", "44A01")], instroom_per_jaar=4,
                       gemiddelde_duur_dagen=400, p_doorstroom=0.3, p_stapeling=0.1,
                       p_recidive=0.1, p_hernieuwd=0.0),
    ],
    ruis=Ruis(aandeel_einde_gecorrigeerd=0.3, aandeel_laat=0.2, aandeel_verwijderd=0.2,
              aandeel_dubbel=0.1, aantal_ongeldig=4, aandeel_niet_gestart=0.1),
)
JAREN = range(2022, 2024)
HORIZON = date(2024, 4, 30)


@pytest.fixture(scope="module")
def simulatie(tmp_path_factory) -> tuple[SimulatieResultaat, Path]:
    out = tmp_path_factory.mktemp("sim") / "berichten"
    return simuleer(KLEIN, JAREN, seed=7, out=out), out


@pytest.fixture(scope="module")
def gelezen(simulatie, register, schemas) -> tuple[list, list[Afgewezen]]:
    _, out = simulatie
    berichten, afgewezen = [], []
    for path in sorted(out.iterdir()):
        try:
            berichten.append(lees_bericht(path.read_bytes(), register, schemas))
        except Afgewezen as fout:
            afgewezen.append(fout)
    return berichten, afgewezen


def test_every_valid_file_passes_and_every_broken_one_is_rejected(simulatie, gelezen):
    resultaat, out = simulatie
    berichten, afgewezen = gelezen
    assert len(berichten) + len(afgewezen) == resultaat.totaal == len(list(out.iterdir()))
    assert len(afgewezen) == resultaat.ongeldig == 4
    redenen = " ".join(fout.reden for fout in afgewezen)
    for soort in ("Client/Bsn: not a valid BSN", "Ingangsdatum: not valid against the XSD",
                  "Header/Afzender: '0000' is not a gemeentecode", "not well-formed"):
        assert soort in redenen


def test_the_result_counts_what_was_written(simulatie, gelezen):
    resultaat, out = simulatie
    berichten, _ = gelezen
    per_soort = Counter(path.name.split("-")[1] for path in out.iterdir())
    assert per_soort == resultaat.bestanden and min(per_soort.values()) > 0
    inhoud = Counter(path.read_bytes() for path in out.iterdir())
    assert sum(n - 1 for n in inhoud.values()) == resultaat.duplicaten > 0
    assert resultaat.ijw_records == sum(ijw_records(b) for b in set(berichten))
    toewijzingen = {(b.kop.gemeentecode, p.toewijzingnummer)
                    for b in berichten if isinstance(b, Toewijzingbericht) for p in b.producten}
    assert len(toewijzingen) == resultaat.toewijzingen


def test_names_follow_arrival_and_no_dagtekening_lies_beyond_the_horizon(simulatie, gelezen):
    _, out = simulatie
    berichten, _ = gelezen
    namen = sorted(path.name for path in out.iterdir())
    assert namen[0].startswith("000001-") and namen[-1].endswith(".xml")
    assert all(b.kop.dagtekening <= HORIZON for b in berichten)
    for b in berichten:
        if isinstance(b, Declaratiebericht):
            maanden = (b.kop.dagtekening.year - b.periode_begin.year) * 12 + (
                b.kop.dagtekening.month - b.periode_begin.month)
            # a month is declared 1-6 months later; a correction up to 3 months after that
            assert 1 <= maanden <= (9 if b.declaratienummer.startswith("C") else 6)
            assert b.totaal_bedrag == sum(p.bedrag for p in b.prestaties)


def test_numbers_are_unique_per_gemeente_and_identificatie_per_sender(gelezen):
    berichten, _ = gelezen
    toewijzing: dict[tuple[str, str], tuple] = {}
    for b in berichten:
        if isinstance(b, Toewijzingbericht):
            for p in b.producten:
                eigen = (b.bsn, p.ingangsdatum)
                assert toewijzing.setdefault((b.kop.gemeentecode, p.toewijzingnummer), eigen) == eigen
    verzonden = {(b.kop.afzender, b.kop.identificatie): b for b in berichten}
    assert len(verzonden) == len(set(verzonden.values()))


def test_the_mess_is_there(gelezen):
    berichten, _ = gelezen
    versies: dict[tuple[str, str], list] = {}
    laat = 0
    for b in berichten:
        if isinstance(b, Toewijzingbericht):
            eigen = max(b.producten, key=lambda p: (p.toewijzingsdatum, p.toewijzingstijd))
            laat += b.kop.dagtekening - eigen.toewijzingsdatum >= timedelta(days=14)
            for p in b.producten:
                versies.setdefault((b.kop.gemeentecode, p.toewijzingnummer), []).append(p)
    assert laat > 0
    alle = [p for lijst in versies.values() for p in lijst]
    assert any(p.is_verwijdering for p in alle)
    gecorrigeerd = [lijst for lijst in versies.values()
                    if len({p.einddatum for p in lijst if not p.is_verwijdering}) > 1]
    assert gecorrigeerd
    assert any(len(b.producten) > 1 for b in berichten if isinstance(b, Toewijzingbericht))


def bestanden(map_: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in map_.iterdir()}


def test_same_seed_same_files_other_seed_other_files(simulatie, tmp_path):
    _, out = simulatie
    stappen: list[int] = []
    simuleer(KLEIN, JAREN, seed=7, out=tmp_path / "nog", voortgang=stappen.append)
    simuleer(KLEIN, JAREN, seed=8, out=tmp_path / "anders")
    assert bestanden(tmp_path / "nog") == bestanden(out)
    assert bestanden(tmp_path / "anders") != bestanden(out)
    assert sum(stappen) == len(bestanden(out))


def test_a_directory_with_files_of_another_run_is_refused(simulatie):
    _, out = simulatie
    with pytest.raises(FileExistsError, match="empty directory"):
        simuleer(KLEIN, JAREN, seed=7, out=out)


@pytest.fixture
def snelle_map(tmp_path) -> Iterator[Path]:
    """tmpfs when the machine has one: this test measures the simulator, not the disk."""
    if not Path("/dev/shm").is_dir():
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir="/dev/shm") as pad:
        yield Path(pad)


def test_zuid_limburg_allocations_per_year_have_the_size_of_the_0_meting(snelle_map, register):
    """Allocations starting in the year: instroom times allocations per client, per segment."""
    profiel = zuid_limburg_profiel()
    regio = {g.code for g in register.actueel().values() if g.jeugdzorgregio == "Zuid-Limburg"}
    assert sorted(profiel.gemeenten) == sorted(regio) and len(regio) == 16
    simuleer(profiel, range(2022, 2023), seed=1, out=snelle_map)
    segment = {product: s.naam for s in profiel.segmenten for product in s.producten}
    segment[("44", None)] = "Wonen"  # a budget goes with a product without code (CD041)
    laatste: dict[tuple[str, str], tuple] = {}
    for path in snelle_map.glob("*-jw301-*.xml"):
        try:
            bericht = lees_bericht(path.read_bytes(), register)
        except Afgewezen:
            continue
        assert isinstance(bericht, Toewijzingbericht)
        for p in bericht.producten:
            sleutel = (bericht.kop.gemeentecode, p.toewijzingnummer)
            rang = (p.toewijzingsdatum, p.toewijzingstijd)
            if sleutel not in laatste or rang > laatste[sleutel][0]:
                laatste[sleutel] = (rang, p)
    gestart = Counter(segment[p.product.categorie, p.product.code] for _, p in laatste.values()
                      if p.ingangsdatum.year == 2022 and not p.is_verwijdering)
    for s in profiel.segmenten:
        vervolg = s.p_doorstroom + s.p_stapeling + s.p_recidive + s.p_hernieuwd
        verwacht = s.instroom_per_jaar / (1 - vervolg)
        assert 0.6 * verwacht <= gestart[s.naam] <= 1.5 * verwacht, (s.naam, gestart[s.naam], verwacht)
    assert gestart["Ambulant"] > gestart["Wonen"] > gestart["GIK-J + gedwongen kader"] > gestart["Crisis"]


def test_every_configured_region_gets_a_profile(tmp_path, register):
    from projections.regio import laad_regios

    regios = laad_regios()
    assert simulatie_profiel(regios["zuid-limburg"]) == zuid_limburg_profiel()
    een10 = simulatie_profiel(regios["een-10-voor-de-jeugd"])
    assert set(een10.gemeenten) == set(regios["een-10-voor-de-jeugd"].gemeenten)
    klein = replace(een10, segmenten=[replace(s, instroom_per_jaar=3) for s in een10.segmenten])
    simuleer(klein, range(2023, 2024), 5, tmp_path)
    for bestand in sorted(tmp_path.glob("*-jw301-*.xml"))[:50]:
        try:
            bericht = lees_bericht(bestand.read_bytes(), register)
        except Afgewezen:
            continue  # the deliberately invalid ones
        for p in bericht.producten:
            assert regios["een-10-voor-de-jeugd"].segment_voor(
                bericht.kop.gemeentecode, p.product.categorie, p.product.code, p.ingangsdatum)


def test_file_names_sort_in_publishing_order_beyond_a_million_files():
    """`publish` sends a directory's files sorted by name: that must be the simulated order."""
    totaal = 3_300_000
    volgorde = [1, 2, 99_999, 100_001, 999_999, 1_000_000, 1_000_001, totaal]
    namen = [bestandsnaam(seq, totaal, "jw301", "0935") for seq in volgorde]
    assert sorted(namen) == namen
    assert bestandsnaam(7, 20_408, "jw305", "0917") == "000007-jw305-0917.xml"  # as before


def test_every_valid_file_meets_the_single_message_ijw_rules(simulatie, register, schemas):
    """CS338 (no Frequentie 1 with Eenheid 14), CD076 (per week needs an Einddatum), TR302 (a
    product once per overlapping period in a JW301) and every other rule `controleer` knows."""
    _, out = simulatie
    bevindingen = []
    for path in sorted(out.iterdir()):
        data = path.read_bytes()
        try:
            lees_bericht(data, register, schemas)
        except Afgewezen:
            continue  # the deliberately broken ones
        soort = path.name.split("-")[1]
        bevindingen.extend((path.name, b.regel) for b in controleer(etree.fromstring(data), soort))
    assert bevindingen == []


def test_money_traffic_has_budgets_corrections_answers_and_mistakes(gelezen):
    berichten, _ = gelezen
    toegewezen = [p for b in berichten if isinstance(b, Toewijzingbericht) for p in b.producten]
    assert any(p.budget for p in toegewezen)
    assert {p.omvang.frequentie for p in toegewezen if p.omvang} >= {"2", "4"}
    declaraties = [b for b in berichten if isinstance(b, Declaratiebericht)]
    regels = [p for b in declaraties for p in b.prestaties]
    credits = [p for p in regels if p.bedrag < 0]
    assert credits and all(p.vorig_referentienummer for p in credits)
    referenties = {p.referentienummer for p in regels}
    assert all(p.vorig_referentienummer in referenties for p in credits)
    nummers = {p.toewijzingnummer for p in toegewezen}
    assert any(p.toewijzingnummer not in nummers for p in regels)  # a line without a toewijzing
    antwoorden = [b for b in berichten if isinstance(b, Antwoordbericht)]
    gedeclareerd = {(b.kop.afzender, b.kop.identificatie, b.kop.dagtekening): b for b in declaraties}
    for a in antwoorden:  # every answer names a JW323 that was sent, and only its lines
        d = gedeclareerd[(a.kop.ontvanger, a.declaratie_identificatie, a.declaratie_dagtekening)]
        assert {p.referentienummer for p in a.prestaties} <= {p.referentienummer for p in d.prestaties}
        assert a.kop.dagtekening > d.kop.dagtekening
    afgewezen = sum(len(a.prestaties) for a in antwoorden)
    assert 0 < afgewezen < 0.1 * len(regels)


def test_a_share_of_messages_breaks_named_rules_and_is_still_valid(simulatie, register, schemas,
                                                                    tmp_path):
    """--breek-aandeel: the same traffic, a share of it breaking the named rules (findings,
    not rejections); without it the files are those of the conformant run."""
    resultaat, _ = simulatie
    gebroken = simuleer(KLEIN, JAREN, seed=7, out=tmp_path / "b", breek_aandeel=0.3,
                        breek_regels=frozenset({"CS338", "TR358"}))
    assert set(gebroken.gebroken) <= {"CS338", "TR358"} and sum(gebroken.gebroken.values()) > 0
    assert gebroken.bestanden == resultaat.bestanden and gebroken.ongeldig == resultaat.ongeldig
    gevonden: Counter[str] = Counter()
    for path in sorted((tmp_path / "b").iterdir()):
        bevindingen: list = []
        try:
            lees_bericht(path.read_bytes(), register, schemas, bevindingen=bevindingen)
        except Afgewezen:
            continue
        gevonden.update({b.regel for b in bevindingen} & {"CS338", "TR358"})
    assert gevonden["CS338"] >= gebroken.gebroken.get("CS338", 0) > 0
    assert gevonden["TR358"] >= gebroken.gebroken.get("TR358", 0)
    with pytest.raises(ValueError, match="cannot break CS999"):
        simuleer(KLEIN, JAREN, seed=7, out=tmp_path / "c", breek_aandeel=0.1,
                 breek_regels=frozenset({"CS999"}))
