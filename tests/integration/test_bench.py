"""`jeugdstroom bench` runs from a fresh install and prints every figure and ratio. A smoke
test at the smallest size: the targets themselves live in the benchmark, not here."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.runtime import EmbeddedRuntime

pytestmark = pytest.mark.integration


def test_bench_prints_all_figures_and_a_stable_json_document(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "--sizes", "2000", "--baseline-events", "500",
              "--json", str(tmp_path / "bench.json")],
        env={"JEUGDSTROOM_STATE_DIR": str(tmp_path / "state")})
    assert result.exit_code == 0, result.output
    for figure in ("ingest end to end", "rebuild", "query historic", "query live", "peak RSS",
                   "(a) raw COPY", "(b) save() per message", "(b) library per-event runner",
                   "(c) plain SQL", "growth: ingest", "growth: rebuild", "first after a change",
                   "money historic", "money live", "SQL gedeclareerd", "1 / 2 partitions"):
        assert figure in result.stdout
    document = json.loads((tmp_path / "bench.json").read_text())
    assert document["schema_version"] == 2 and document["targets"]["ingest_records_per_s"] == 20_000
    [run] = document["runs"]
    assert run["events"] > 1000 and run["ijw_records"] > 0
    assert run["analyst_sql_agrees"] is True  # plain SQL gives our inflow counts
    assert run["money_sql_agrees"] is True  # and our gedeclareerd per segment
    assert set(run["money_query_historic_ms"]) == set(run["money_query_live_ms"]) == {"p50", "p95", "p99"}
    assert set(run["query_historic_ms"]) == set(run["query_live_cold_ms"]) == {"p50", "p95", "p99"}
    assert run["peak_rss_mb"]["ingest"] > 0
    assert run["ingest_rules_on_records_per_s"] > 0 and run["ingest_rules_off_records_per_s"] > 0
    # the CPU per message is the figure a shared machine does not swing
    assert run["ingest_rules_on_cpu_us_per_message"] > 0
    assert run["ingest_rules_off_cpu_us_per_message"] > 0
    # the bench's traffic is conformant (iJw 3.2 from 2021): the rules pass measures the rules
    assert run["ingest_rules_findings"] == run["ingest_rules_messages_with_findings"] == 0
    assert "findings stored with rules on" in result.stdout
    # one partition against two, on the same stream of two regions
    assert run["partitions_ijw_records"] > 0
    assert run["partitions_1_records_per_s"] > 0 and run["partitions_2_records_per_s"] > 0
    assert run["partitions_1_cpu_us_per_message"] > 0 and run["partitions_2_cpu_us_per_message"] > 0
    # and it leaves nothing running behind
    assert EmbeddedRuntime(tmp_path / "state" / "bench" / "servers").endpoints() is None
