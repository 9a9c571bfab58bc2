"""Validation in worker processes gives exactly what validation in-process gives."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal

from events.gemeenten import GemeenteRegister
from events.ijw import Afgewezen, XsdSchemas, lees_kop
from services.ingest.validatie import BerichtLezer, Lezers, StreamBericht
from tests.conftest import CBS_FILES, INGESTED_EXAMPLES, XSD_DIR, example


def _berichten() -> list[StreamBericht]:
    goed = [StreamBericht(i, lees_kop(example(naam)).subject, example(naam))
            for i, naam in enumerate(INGESTED_EXAMPLES, start=1)]
    return [*goed, StreamBericht(99, "ijw.0363.jw301", b"<not xml"),
            StreamBericht(100, "", b"", ontbreekt=True)]


def _vergelijkbaar(uitkomsten: list) -> list:
    return [u.reden if isinstance(u, Afgewezen) else u for u in uitkomsten]


def test_parsed_messages_and_rejections_survive_the_trip_between_processes():
    lezer = BerichtLezer(GemeenteRegister.from_csv(CBS_FILES), XsdSchemas(XSD_DIR))
    uitkomsten = lezer.lees_alle(_berichten())
    terug = pickle.loads(pickle.dumps(uitkomsten))  # noqa: S301 - our own bytes
    assert _vergelijkbaar(terug) == _vergelijkbaar(uitkomsten)
    assert sum(isinstance(u, Afgewezen) for u in terug) == 2


def test_worker_processes_validate_as_this_process_does_even_after_one_dies():
    lezer = BerichtLezer(GemeenteRegister.from_csv(CBS_FILES), XsdSchemas(XSD_DIR))
    verwacht = _vergelijkbaar(lezer.lees_alle(_berichten()))

    async def scenario() -> tuple[list, list]:
        lezers = Lezers(lezer, processen=2)
        try:
            eerst = _vergelijkbaar(await lezers.lees_alle(_berichten()))
            for pid in list(lezers._pool._processes):  # type: ignore[union-attr]
                os.kill(pid, signal.SIGKILL)  # as the OOM killer would
            daarna = _vergelijkbaar(await lezers.lees_alle(_berichten()))
            return eerst, daarna
        finally:
            lezers.sluit()

    eerst, daarna = asyncio.run(scenario())
    assert eerst == verwacht
    assert daarna == verwacht
