"""The claims benchmark, small, over its real processes: its figures are there and its
checks against the database and the workflows come out clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_the_claims_benchmark_reports_every_figure_and_loses_nothing(
    tmp_path: Path, db_url: str
) -> None:
    env = {**os.environ}
    env.pop("DATABASE_URL", None)
    if db_url.startswith("postgresql"):
        env["DATABASE_URL"] = db_url  # the benchmark makes its own database on that server
    out = tmp_path / "claims.json"
    args = ["--pollers", "8", "--work-orders", "80", "--factories", "4", "--orders", "1"]
    run = subprocess.run(
        [sys.executable, "-m", "c2b", "bench", "claims", *args, "--json", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result == json.loads(out.read_text())
    assert result["claims"] == 80 + result["paced_claims"] and result["unclaimed"] == 0
    assert result["completions"] == 3 and result["completion_orders_done"] == 1
    assert result["double_claims"] == result["lost_completions"] == result["double_counted"] == 0
    for key in ("claims_per_s", "claim_p50_ms", "claim_p99_ms", "baseline_per_s", "ratio"):
        assert result[key] > 0, key
