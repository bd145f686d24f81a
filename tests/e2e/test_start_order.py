"""A worker started before its Temporal server waits for it instead of dying: a process
supervisor (``c2b dev``, docker-compose) starts them together, and on a busy machine the
dev server can take seconds to listen."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus

from c2b.devstack import free_port
from c2b.temporal_client import connect_temporal
from tests.e2e.conftest import CLI, dev_server_args, spawn, stop
from workflows.leases import SWEEPER_WORKFLOW_ID

pytestmark = pytest.mark.e2e


async def test_a_client_without_wait_is_refused_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="connect"):
        await connect_temporal(f"127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 5


async def test_a_worker_started_first_waits_for_the_server_and_then_works(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    worker = spawn(logs, "worker", [*CLI, "worker"], stack_env)
    procs = [worker]
    try:
        time.sleep(3)
        assert worker.poll() is None, (logs / "worker.log").read_text()
        procs.append(
            spawn(logs, "temporal", dev_server_args(stack_env, tmp_path / "t.db"), stack_env)
        )
        client = await connect_temporal(stack_env["TEMPORAL_ADDRESS"], wait_seconds=30)
        # The worker's first act once connected is to start the lease sweeper.
        deadline = time.monotonic() + 30
        while True:
            try:
                described = await client.get_workflow_handle(SWEEPER_WORKFLOW_ID).describe()
                break
            except Exception:
                assert time.monotonic() < deadline, (logs / "worker.log").read_text()
                time.sleep(0.5)
        assert described.status == WorkflowExecutionStatus.RUNNING
        assert worker.poll() is None
        assert "not answering yet" in (logs / "worker.log").read_text()
    finally:
        stop(procs)
