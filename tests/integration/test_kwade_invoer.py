"""Hostile and impossible input through the real path: rejected with a sentence, at once,
never retried as an internal error, and `rejected replay` answers without a traceback."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from typer.testing import CliRunner

from services import bootstrap
from services.cli import app
from tests.ijw_factory import Toewijzing, jw301
from tests.integration.helpers import event_topics, ingest_until_caught_up, publish

pytestmark = pytest.mark.integration

XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE Bericht [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Bericht xmlns="http://www.istandaarden.nl/ijw/3_2/jw301/schema"><Header>&xxe;</Header></Bericht>
"""


def _bericht(ident: str, dagtekening: date) -> bytes:
    versie = Toewijzing("7", "45", "45A12", date(2024, 1, 1), None, date(2023, 12, 20))
    return jw301(gemeente="0935", aanbieder="12345678", identificatie=ident,
                 dagtekening=dagtekening, client_bsn="999900006", toewijzingen=[versie])


def test_dtd_and_impossible_dagtekening_are_rejected_with_their_reason(settings):
    asyncio.run(publish(settings, [
        ("ijw.0935.jw301", XXE, None),
        ("ijw.0935.jw301", _bericht("1", date(2030, 1, 2)), None),
        ("ijw.0935.jw301", _bericht("2", date(1900, 1, 1)), None),
        ("ijw.0935.jw301", _bericht("3", date(2024, 1, 2)), None),
    ]))
    asyncio.run(ingest_until_caught_up(settings))
    store = bootstrap.event_store(settings.database_url)
    xxe, toekomst, oud = store.afwijzingen()
    assert "DTD and entities are not allowed in iJw messages" in xxe.reden
    assert xxe.pogingen == 1 and "internal error" not in xxe.reden
    assert "Dagtekening 2030-01-02" in toekomst.reden and "future" in toekomst.reden
    assert "Dagtekening 1900-01-01" in oud.reden
    assert "999900006" not in " ".join(a.reden for a in (xxe, toekomst, oud))
    assert event_topics(settings)["Toewijzing.VersieOntvangen"] == 1  # only the good one
    store.close()

    env = {"JEUGDSTROOM_NATS_URL": settings.nats_url,
           "JEUGDSTROOM_DATABASE_URL": settings.database_url,
           "JEUGDSTROOM_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value()}
    result = CliRunner().invoke(app, ["rejected", "replay", str(xxe.stream_seq)], env=env)
    assert result.exit_code == 1
    assert "still rejected" in result.output and "DTD" in result.output
    assert "Traceback" not in result.output
