"""The claims benchmark, small, over its real processes: its figures are there and its
checks against the database and the workflows come out clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import in_one_pass
from tests.e2e.conftest import run_benchmark

pytestmark = pytest.mark.e2e


def test_the_claims_benchmark_reports_every_figure_and_loses_nothing(
    tmp_path: Path, db_url: str
) -> None:
    in_one_pass(db_url, "sqlite", "the benchmark's own runs cover both (bench/results)")
    args = ["--pollers", "8", "--work-orders", "80", "--factories", "4", "--orders", "1"]
    result = run_benchmark("claims", args, db_url, tmp_path / "claims.json")
    assert result["claims"] == 80 + result["paced_claims"] and result["unclaimed"] == 0
    assert result["completions"] == 3 and result["completion_orders_done"] == 1
    assert result["double_claims"] == result["lost_completions"] == result["double_counted"] == 0
    for key in ("claims_per_s", "claim_p50_ms", "claim_p99_ms", "baseline_per_s", "ratio"):
        assert result[key] > 0, key
