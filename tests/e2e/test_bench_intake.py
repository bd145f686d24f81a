"""The intake benchmark, small, over its real processes: every figure is there, and the
platform's aggregate holds every piece of the CSV (the benchmark checks it and fails
otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import in_one_pass
from tests.e2e.conftest import run_benchmark

pytestmark = pytest.mark.e2e


def test_the_intake_benchmark_reports_every_figure(tmp_path: Path, db_url: str) -> None:
    in_one_pass(db_url, "sqlite", "the benchmark's own runs cover both (bench/results)")
    args = ["--lines", "2000", "--repeat", "2"]
    result = run_benchmark("intake", args, db_url, tmp_path / "intake.json")
    assert result["lines"] == 2000 and len(result["samples"]["seconds"]) == 2
    assert 0 < result["baseline_seconds"] and 0 < result["upload_seconds"] <= result["seconds"]
    assert result["ratio"] == pytest.approx(
        result["baseline_seconds"] / result["seconds"], abs=0.01
    )
