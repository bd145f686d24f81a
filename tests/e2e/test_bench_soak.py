"""The soak benchmark, ten seconds of it, over its real processes: every kind of request
is made and timed, none fails, and every process's memory is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import in_one_pass
from tests.e2e.conftest import run_benchmark

pytestmark = pytest.mark.e2e


def test_a_short_soak_times_every_endpoint_and_reports_memory(tmp_path: Path, db_url: str) -> None:
    in_one_pass(db_url, "sqlite", "seconds of load say nothing about the database")
    # 15 s: a batch needs its pick, three operations and shipping, each a poll or two
    # apart; 9 s (0.15 min) once shipped no batch in a CI run on a loaded machine.
    # Factories working 0.2 s a work order, as many as ever shipped a batch in these 15 s.
    args = ["--minutes", "0.25", "--warm-up", "1", "--intake-rate", "3", "--scenario-every", "5"]
    args += ["--pollers", "2", "--work-seconds", "0.2"]
    result = run_benchmark("soak", args, db_url, tmp_path / "soak.json")
    assert result["errors"] == 0, result["error_samples"]
    for endpoint in (
        "POST /v1/demand-batches",
        "POST /v1/demand-batches/{id}/picks",
        "POST /v1/factory/work-orders/claim",
        "POST /v1/factory/work-orders/{id}/complete",
        "POST /v1/scenarios",
        "bare GET /work-orders/{id}",
    ):
        assert result["endpoints"][endpoint]["requests"] > 0, endpoint
    assert set(result["rss"]) == {"temporal", "worker", "solver", "api"}
    assert all(m["start_mb"] > 0 and m["end_mb"] > 0 for m in result["rss"].values())
    assert result["batches_shipped"] > 0
