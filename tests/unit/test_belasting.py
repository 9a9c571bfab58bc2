"""`jeugdstroom loadtest`'s arithmetic and bounds (the load itself runs by hand, not in CI)."""

from __future__ import annotations

import os
import random

import pytest

from services.dev.belasting import (
    Uitslag,
    alleen_loopback,
    belasting,
    cpu_seconden,
    postgres_pid,
    rss_mb,
    vragen,
)


def test_percentiles_by_nearest_rank_and_the_report_beside_the_targets():
    uitslag = Uitslag("counts", 20, duur=10.0, tijden_ms=[float(i) for i in range(1, 101)],
                      rss_mb=[(0, 100.0), (1000, 120.0)], cpu_s=5.0, db_cpu_s=1.2)
    uitslag.statussen.update({"200": 98, "503": 2})
    assert (uitslag.percentiel(50), uitslag.percentiel(95), uitslag.percentiel(99)) == (50, 95, 99)
    tekst = "\n".join(uitslag.regels())
    assert "100 requests in 10.0 s = 10.0 requests/s" in tekst
    assert "p95 <= 500 ms" in tekst and "target: flat" in tekst
    assert "errors: 2 (503: 2)" in tekst
    assert "50 ms per request" in tekst and "+20 MB" in tekst
    assert "database CPU: 1.2 s = 12 ms per request" in tekst


def test_only_loopback_and_bounded():
    for url in ("http://10.0.0.5:8000", "https://jeugdstroom.example"):
        with pytest.raises(ValueError, match="loopback"):
            alleen_loopback(url)
    alleen_loopback("http://127.0.0.1:8000")
    with pytest.raises(ValueError, match="readers"):
        belasting("http://127.0.0.1:1", "t", "counts", lezers=1000, aantal=1, seconden=1,
                  regio="zuid-limburg", jaren=range(2023, 2024))


def test_questions_are_historic_and_reproducible():
    een = vragen("counts", "zuid-limburg", range(2021, 2024), random.Random(1))
    twee = vragen("counts", "zuid-limburg", range(2021, 2024), random.Random(1))
    paden = [een() for _ in range(20)]
    assert paden == [twee() for _ in range(20)]
    assert all(p.startswith("/api/counts?region=zuid-limburg&peildatum=202") and "known_at=" in p
               for p in paden)


def test_the_servers_memory_and_cpu_are_read_from_proc():
    assert rss_mb(os.getpid()) > 10
    assert cpu_seconden(os.getpid()) > 0


def test_the_embedded_postgres_is_found_by_its_pid_file(tmp_path):
    assert postgres_pid(tmp_path) is None  # none here: no database CPU line
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / "postmaster.pid").write_text("4242\n/data\n")
    assert postgres_pid(tmp_path) == 4242
