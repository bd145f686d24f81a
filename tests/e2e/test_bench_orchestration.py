"""The orchestration benchmark, small, over its real processes: every order ships, its
figures are there, and nothing is found twice in the database afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import in_one_pass
from tests.e2e.conftest import run_benchmark

pytestmark = pytest.mark.e2e


def test_the_orchestration_benchmark_ships_every_order_and_finds_no_duplicate(
    tmp_path: Path, db_url: str
) -> None:
    in_one_pass(
        db_url,
        "sqlite",
        "the benchmark's harness; the benchmark itself is run on PostgreSQL for bench/results",
    )
    # Batches of 3, 3 and 1 orders: several orders per batch, and one alone.
    args = ["--orders", "7", "--orders-per-batch", "3", "--concurrency", "3", "--trivial", "20"]
    result = run_benchmark("orchestration", args, db_url, tmp_path / "orchestration.json")
    assert result["orders"] == 7 and result["lines_by_status"] == {"shipped": 7}
    assert result["duplicates"] == 0 and set(result["duplicates_by_kind"].values()) == {0}
    for key in ("orders_per_s", "trivial_wf_per_s", "ratio", "pick_to_pollable_p99_s"):
        assert result[key] > 0, key
    assert result["pick_to_pollable_p50_s"] <= result["pick_to_pollable_p99_s"]
    # Every batch is submitted and picked once, every order's three work orders completed.
    requests = result["requests_per_order"]
    assert requests["POST /v1/demand-batches 201"] == round(3 / 7, 2)
    assert requests["POST /v1/demand-batches/{batch_id}/picks 200"] == round(3 / 7, 2)
    assert requests["POST /v1/factory/work-orders/{wo_id}/complete 200"] == 3
