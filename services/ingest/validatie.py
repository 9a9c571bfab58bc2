"""Validation of stream messages, in worker processes beside the writing.

Validation is pure CPU and the larger part of ingest's work, so it runs in a spawn worker
process on the other core while the previous batch is written. Plain data in and out.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from events.gemeenten import GemeenteRegister
from events.ijw import Afgewezen, Bericht, Probleem, XsdSchemas, lees_bericht
from events.kwaliteit import Bevinding
from services.opstart import na_opstart

log = logging.getLogger("jeugdstroom.ingest")

SUBJECT = re.compile(r"^ijw\.([^.]+)\.([^.]+)$")


@dataclass(frozen=True)
class StreamBericht:
    """One message as stored in the stream: its sequence, subject and raw XML."""

    seq: int
    subject: str
    data: bytes
    ontbreekt: bool = False  # the stream no longer holds it: recorded, not silently skipped
    ontvangen: date | None = None  # when the stream stored it: a Dagtekening cannot be later


class Gelezen(NamedTuple):
    """A validated message with its data-quality findings (a tuple: cheap to pickle)."""

    bericht: Bericht
    bevindingen: tuple[Bevinding, ...] = ()


class BerichtLezer:
    """Validates stream messages: plain data in and out, so it can run in a worker process.

    `regels`: also try each accepted message against the single-message iJw rules
    (events/kwaliteit.py); their findings travel with the message, it is ingested all the same."""

    def __init__(self, register: GemeenteRegister, schemas: XsdSchemas | None,
                 *, regels: bool = True) -> None:
        self.register = register
        self.schemas = schemas
        self.regels = regels

    def lees(self, bericht: StreamBericht, bevindingen: list[Bevinding] | None = None) -> Bericht:
        """Validate one message, including that its subject names its gemeente and type;
        its findings are added to `bevindingen` when given."""
        if bericht.ontbreekt:
            raise Afgewezen([Probleem("stream", "this sequence is no longer in the stream "
                                      "(removed by its limits or a purge): nothing to ingest")])
        match = SUBJECT.match(bericht.subject)
        if not match:
            raise Afgewezen([Probleem(
                "subject", f"'{bericht.subject}' is not ijw.<gemeentecode>.<bericht>"
            )])
        gemeente, soort = match.groups()
        problemen = []
        if not re.fullmatch(r"\d{4}", gemeente):
            problemen.append(Probleem(
                "subject", f"'{gemeente}' in {bericht.subject} is not a 4-digit gemeentecode"
            ))
        try:
            gelezen = lees_bericht(
                bericht.data, self.register, self.schemas,
                subject_gemeente=None if problemen else gemeente, ontvangen=bericht.ontvangen,
                bevindingen=bevindingen,
            )
        except Afgewezen as afgewezen:
            raise Afgewezen(problemen + afgewezen.problemen) from None
        if gelezen.kop.bericht != soort:
            problemen.append(Probleem(
                "subject",
                f"the subject says {soort.upper()} but the message is a "
                f"{gelezen.kop.bericht.upper()}; publish it to {gelezen.kop.subject}",
            ))
        if problemen:
            raise Afgewezen(problemen)
        return gelezen

    def lees_alle(self, berichten: Sequence[StreamBericht]) -> list[Gelezen | Afgewezen]:
        """Each message validated with its findings, or the reason it is not."""
        uitkomsten: list[Gelezen | Afgewezen] = []
        for bericht in berichten:
            bevindingen: list[Bevinding] | None = [] if self.regels else None
            try:
                gelezen = self.lees(bericht, bevindingen)
                uitkomsten.append(Gelezen(gelezen, tuple(bevindingen) if bevindingen else ()))
            except Afgewezen as afgewezen:
                uitkomsten.append(afgewezen)
        return uitkomsten


_lezer_van_dit_proces: BerichtLezer | None = None  # set in each validation worker process
_PR_SET_PDEATHSIG = 1


def _sterf_met_ouder(ouder: int) -> None:
    """End this worker when the ingest process that started it ends, however it ends.

    A pool's workers only notice a parent that shut the pool down; a SIGKILLed ingest left
    them (and multiprocessing's resource tracker, which lives until they are gone) running.
    On Linux the kernel sends SIGKILL on the parent's death (prctl PDEATHSIG); everywhere a
    thread also checks once a second that the parent is still the parent."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the thread below still ends it
    if os.getppid() != ouder:  # it died before prctl took effect
        os._exit(1)

    def waak() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != ouder:
                os._exit(1)

    threading.Thread(target=waak, name="ouder-wacht", daemon=True).start()


def _start_lezer(lezer: BerichtLezer, ouder: int | None = None) -> None:
    global _lezer_van_dit_proces
    if ouder is not None:
        _sterf_met_ouder(ouder)
    _lezer_van_dit_proces = lezer
    na_opstart()


def _lees_in_lezer(berichten: Sequence[StreamBericht]) -> list[Gelezen | Afgewezen]:
    assert _lezer_van_dit_proces is not None
    return _lezer_van_dit_proces.lees_alle(berichten)


class Lezers:
    """Validation in worker processes, so that it runs on another core than the writing.

    With no worker processes it runs in a thread of this process (the same results). A
    worker that dies (killed, out of memory) costs no message: its batch is validated here
    and a new pool is started."""

    def __init__(self, lezer: BerichtLezer, processen: int) -> None:
        self.lezer = lezer
        self.processen = processen
        self._pool = self._nieuwe_pool()

    def _nieuwe_pool(self) -> ProcessPoolExecutor | None:
        if not self.processen:
            return None
        # spawn, not fork: this process already runs threads (connection pools, asyncio)
        return ProcessPoolExecutor(self.processen, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_lezer, initargs=(self.lezer, os.getpid()))

    async def lees_alle(self, berichten: Sequence[StreamBericht]) -> list[Gelezen | Afgewezen]:
        if not berichten:
            return []
        if self._pool is None:
            return await asyncio.to_thread(self.lezer.lees_alle, berichten)
        loop = asyncio.get_running_loop()
        delen = [list(berichten[i::self.processen]) for i in range(self.processen)]
        try:
            gelezen = await asyncio.gather(
                *(loop.run_in_executor(self._pool, _lees_in_lezer, deel) for deel in delen if deel))
        except BrokenProcessPool:
            log.warning("a validation worker process died; validating this batch here and "
                        "starting new workers")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._nieuwe_pool()
            return await asyncio.to_thread(self.lezer.lees_alle, berichten)
        uitkomsten: list[Gelezen | Afgewezen] = [None] * len(berichten)  # type: ignore[list-item]
        for i, deel in enumerate(gelezen):
            uitkomsten[i::self.processen] = deel
        return uitkomsten

    def sluit(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
