"""The chaos benchmark, small, over its real processes: the worker, the API and the Temporal
dev server are each killed (SIGKILL) and restarted while orders flow, and afterwards
nothing is lost, doubled or stuck."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import in_one_pass
from tests.e2e.conftest import run_benchmark

pytestmark = pytest.mark.e2e


def test_orders_survive_each_process_being_killed_and_nothing_is_lost_or_doubled(
    tmp_path: Path, db_url: str
) -> None:
    in_one_pass(db_url, "sqlite", "both databases ran the 300-order chaos (bench/results)")
    # One round of kills, about two seconds apart: each process once, while 12 orders flow.
    args = ["--orders", "12", "--concurrency", "4", "--kill-every", "2", "--rounds", "1"]
    args += ["--stuck-after", "90"]
    result = run_benchmark("chaos", args, db_url, tmp_path / "chaos.json")
    assert result["kills_by_process"] == {"worker": 1, "api": 1, "temporal": 1}, result
    assert result["production_orders"] == 12
    assert result["lines_by_status"] == {"shipped": 12}
    zero = ("lost_lines", "duplicate_work_orders", "double_counted_completions", "stuck_orders")
    assert {key: result[key] for key in zero} == dict.fromkeys(zero, 0), result
    assert 0 < result["recovery_p50_s"] <= result["recovery_p99_s"]
