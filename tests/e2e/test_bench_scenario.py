"""The scenario benchmark, small, over its real processes (c2b dev with its solver): the
scenario ends with a plan, it applies over orders placed since, and every figure is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import in_one_pass
from tests.e2e.conftest import run_benchmark

pytestmark = pytest.mark.e2e


def test_the_scenario_benchmark_reports_every_figure(tmp_path: Path, db_url: str) -> None:
    in_one_pass(db_url, "sqlite", "the benchmark's own runs cover both (bench/results)")
    args = ["--orders", "40", "--time-limit", "3", "--placed-since", "5"]
    result = run_benchmark("scenario", args, db_url, tmp_path / "scenario.json")
    assert result["status"] == "done" and result["orders"] == 40
    assert result["operations"] >= 80
    assert 0 < result["first_result_s"] <= result["request_to_done_s"]
    assert result["progress_updates"] >= 2
    assert result["max_progress_gap_s"] is not None and result["max_progress_gap_s"] > 0
    assert result["objective"] <= result["greedy_objective"]
    assert result["direct_first_plan_s"] > 0
    assert result["first_result_vs_direct"] == pytest.approx(
        result["first_result_s"] / result["direct_first_plan_s"], rel=0.05
    )
    # The apply over the 5 orders placed after the snapshot: each kept or placed again.
    assert result["apply_status"] == 200 and result["placed_since"] == 5
    assert result["orders_placed_again"] <= 5 and result["operations_kept"] >= 0
    assert result["operations_kept"] + result["orders_placed_again"] > 0
    assert result["apply_vs_one_placement"] == pytest.approx(
        result["apply_s"] / result["one_placement_s"], rel=0.05
    )
