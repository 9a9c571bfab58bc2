"""Data quality end to end: messages that break named iJw rules (written by the writer) go
through NATS and ingest, are still ingested, and leave their findings in `ijw_bevinding`;
`jeugdstroom kwaliteit` and `/api/kwaliteit` report them with the cross-message rules, and the
route answers only the roles that may read them."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import date

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from events.ijw_schrijven import schrijf
from services import bootstrap
from services.cli import app as cli
from services.toegang.tokens import maak_token
from tests.integration.helpers import (
    cli_env,
    event_topics,
    ingest_until_caught_up,
    publish,
    tracking_position,
)
from tests.unit.test_ijw_schrijven import declaratie, start, toewijzing

pytestmark = pytest.mark.integration

MAASTRICHT, HEERLEN = "0935", "0917"


def _berichten() -> list[tuple[str, bytes, str]]:
    goed = toewijzing()
    gebroken = replace(goed, kop=replace(goed.kop, identificatie="2"))
    decl = declaratie()
    laat = replace(decl, kop=replace(decl.kop, identificatie="L1", dagtekening=date(2025, 6, 2)),
                   declaratienummer="L2025",
                   prestaties=tuple(replace(p, referentienummer=f"L{i}", vorig_referentienummer=None,
                                            toewijzingnummer="424242")
                                    for i, p in enumerate(decl.prestaties[:1])),
                   totaal_bedrag=decl.prestaties[0].bedrag)
    gestart = start()
    los = replace(gestart, kop=replace(gestart.kop, identificatie="S2"),
                  producten=(replace(gestart.producten[0], toewijzingnummer="777777"),))
    return [("ijw.0935.jw301", schrijf(goed), "a"),
            ("ijw.0935.jw301", schrijf(gebroken, breek=frozenset({"CS338"})), "b"),
            ("ijw.0935.jw323", schrijf(decl), "c"),
            ("ijw.0935.jw323", schrijf(laat), "d"),
            ("ijw.0935.jw305", schrijf(gestart), "e"),  # starts a toewijzing of the JW301
            ("ijw.0935.jw305", schrijf(los), "f")]  # a start for a toewijzing nobody sent


def test_findings_are_stored_reported_and_guarded(settings, monkeypatch):
    asyncio.run(publish(settings, _berichten()))
    asyncio.run(ingest_until_caught_up(settings))
    projector = bootstrap.projector(settings, settings.database_url)
    projector.volg(tot_bij=True)
    projector.store.close()

    with psycopg.connect(settings.database_url) as conn:
        rijen = conn.execute("SELECT stream_seq, regel, bericht, gemeente, aanbieder, dagtekening "
                             "FROM ijw_bevinding ORDER BY stream_seq").fetchall()
        afgewezen = conn.execute("SELECT count(*) FROM ijw_afwijzing").fetchone()[0]
    assert (2, "CS338", "jw301", MAASTRICHT, "99990001", date(2024, 3, 5)) in rijen
    assert not any(seq == 1 and regel == "CS338" for seq, regel, *_ in rijen)
    assert afgewezen == 0  # the broken message was ingested all the same
    assert tracking_position(settings) == 6 and event_topics(settings)

    for naam, waarde in cli_env(settings, JEUGDSTROOM_STATE_DIR=str(settings.state_dir)).items():
        monkeypatch.setenv(naam, waarde)
    uit = CliRunner().invoke(cli, ["kwaliteit", "--region", "zuid-limburg", "--format", "json"])
    assert uit.exit_code == 0, uit.output
    rapport = json.loads(uit.output)
    regels = {r["rule"]: r for r in rapport["rules"]}
    assert regels["CS338"]["stream_seqs"] == [2] and regels["CS338"]["examined"] == 2
    assert regels["CS338"]["share_pct"] == 50.0
    assert regels["JS01"]["with_finding"] == 1  # the late line names an unknown toewijzing
    assert regels["JS02"]["with_finding"] == 1 and regels["JS02"]["examined"] == 4
    assert regels["JS04"]["with_finding"] == 1 and regels["JS04"]["examined"] == 2
    assert regels["JS04"]["stream_seqs"] == []  # a cross-message finding names no sequence
    assert rapport["messages"] == 6
    tabel = CliRunner().invoke(cli, ["kwaliteit", "--region", "zuid-limburg",
                                     "--gemeente", "Maastricht"])
    assert tabel.exit_code == 0 and "CS338" in tabel.output and "999900006" not in tabel.output

    web = TestClient(bootstrap.api(settings, settings.database_url))

    def met(*rollen: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + maak_token(settings.state_dir, list(rollen),
                                                        minuten=5, sub="kwaliteit")}

    route = "/api/kwaliteit?region=zuid-limburg"
    assert web.get(route).status_code == 401
    eigen = web.get(f"{route}&gemeente={MAASTRICHT}", headers=met(f"gemeente:{MAASTRICHT}"))
    assert eigen.status_code == 200 and eigen.json()["rules"][0]["rule"] in regels
    for vraag in ("", f"&gemeente={MAASTRICHT}"):
        assert web.get(route + vraag, headers=met(f"gemeente:{HEERLEN}")).status_code == 403
    assert web.get(route, headers=met("regio:zuid-limburg")).status_code == 200
    assert web.get(route, headers=met("auditor:zuid-limburg")).status_code == 200
    assert web.get(route, headers=met("subscriber")).status_code == 403
    assert web.get("/api/kwaliteit?region=een-10-voor-de-jeugd",
                   headers=met("regio:zuid-limburg")).status_code == 403
    csv = web.get(f"{route}&format=csv", headers=met("regio:zuid-limburg"))
    assert csv.status_code == 200 and "rule,CS338,1,2,50.0,,2" in csv.text
    pagina = web.get("/kwaliteit?region=zuid-limburg", headers=met("regio:zuid-limburg"))
    assert pagina.status_code == 200 and "CS338" in pagina.text and "JS02" in pagina.text
    assert web.get("/kwaliteit?region=zuid-limburg",
                   headers=met(f"gemeente:{MAASTRICHT}")).status_code == 403
