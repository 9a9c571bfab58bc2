"""Guard against the library's insert hanging on large saves (issue 4: seen here at ~7,000 new
aggregates in one save). Ingest commits at most JEUGDSTROOM_INGEST_BATCH_SIZE (<= 1,000)
messages per transaction; this saves three times our largest realistic transaction in a
subprocess with a timeout, so a regression fails the suite instead of hanging it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.settings import Settings

pytestmark = pytest.mark.integration

SCRIPT = """
import sys
from datetime import date, datetime
from eventsourcing.persistence import Tracking
from events.domain import Toewijzing
from services.eventstore.postgres import Gebeurtenissen

store = Gebeurtenissen(sys.argv[1])
aggregates = []
for i in range(int(sys.argv[2])):
    a = Toewijzing.registreer("0935", str(i))
    a.ontvang_versie(client="c" * 64, aanbieder="12345678", categorie="45", code="45A01",
                     toegewezen_op=datetime(2023, 1, 1), ingangsdatum=date(2023, 1, 1),
                     einddatum=None, reden_wijziging=None, volume=None, eenheid=None,
                     frequentie=None, budget=None, dagtekening=date(2023, 1, 1),
                     bericht_identificatie=str(i))
    aggregates.append(a)
print(store.leg_vast(aggregates, tracking=Tracking("nats:guard", 1)))
"""


def test_the_largest_transaction_ingest_makes_does_not_hang(settings):
    assert Settings.model_fields["ingest_batch_size"].metadata[-1].le == 1000
    grootste = 3 * 1000  # three times the batch cap, with one product per message
    result = subprocess.run([sys.executable, "-c", SCRIPT, settings.database_url, str(grootste)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str(2 * grootste)
