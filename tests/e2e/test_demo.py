"""``c2b demo`` as a newcomer runs it, faster: the week runs through, a factory goes down
and a scenario is applied around it, every order ships, and the lead times and URLs are
printed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import CLI

pytestmark = pytest.mark.e2e


def test_the_demo_week_runs_through(tmp_path: Path, db_url: str) -> None:
    if db_url.startswith("postgresql"):
        # The demo makes its own embedded SQLite stack whatever DATABASE_URL says: the
        # SQLite pass of CI has run this very test already.
        pytest.skip("the demo runs on its own SQLite; run in the SQLite pass")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # its own SQLite
    env.update({"C2B_DATA_DIR": str(tmp_path), "COLUMNS": "160"})
    run = subprocess.run(
        [*CLI, "demo", "--speed", "20000", "--no-keep"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    assert "team-nova: batch 1, 4 lines, picked 3 styles" in out
    assert "NB-WOVEN goes down" in out
    assert "applied: live plan version" in out or "the plan kept moving" in out
    assert "chain lead time of 6 shipped orders" in out
    assert "first_operation_to_last_operation" in out
    assert "planners' page:" in out and "/planner" in out and "Temporal UI:" in out
