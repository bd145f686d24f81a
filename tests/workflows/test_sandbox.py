"""Where workflows run: the platform's worker outside Temporal's sandbox (for throughput),
every worker of the test suite inside it (so a workflow that reads the clock or does I/O
still fails a test)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

with workflow.unsafe.imports_passed_through():  # the sandbox imports this module again
    from c2b.db import SessionFactory
    from c2b.settings import Settings
    from c2b.worker import build_worker, workflow_runner


@workflow.defn
class WhereAmI:
    @workflow.run
    async def run(self) -> bool:
        return workflow.unsafe.in_sandbox()


@pytest.mark.parametrize("sandboxed", [True, False])
async def test_the_runner_puts_workflows_in_the_sandbox_or_not(
    time_skipping_env: WorkflowEnvironment, sandboxed: bool
) -> None:
    queue = f"test-{uuid.uuid4()}"
    async with Worker(
        time_skipping_env.client,
        task_queue=queue,
        workflows=[WhereAmI],
        workflow_runner=workflow_runner(sandboxed),
    ):
        in_sandbox = await time_skipping_env.client.execute_workflow(
            WhereAmI.run,
            id=f"where-{queue}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=30),
        )
    assert in_sandbox is sandboxed


async def test_the_platform_runs_workflows_outside_the_sandbox_and_the_tests_inside_it(
    monkeypatch: pytest.MonkeyPatch,
    time_skipping_env: WorkflowEnvironment,
    session_factory: SessionFactory,
) -> None:
    monkeypatch.delenv("C2B_WORKFLOW_SANDBOX", raising=False)
    assert Settings().workflow_sandbox is False
    monkeypatch.setenv("C2B_WORKFLOW_SANDBOX", "true")
    assert Settings().workflow_sandbox is True
    # build_worker, which every test worker goes through, keeps the sandbox by default.
    with ThreadPoolExecutor(max_workers=1) as executor:
        worker = build_worker(time_skipping_env.client, session_factory, "unused", executor)
    assert isinstance(worker.config()["workflow_runner"], SandboxedWorkflowRunner)


async def test_the_workflow_cache_is_sized_by_the_settings(
    monkeypatch: pytest.MonkeyPatch,
    time_skipping_env: WorkflowEnvironment,
    session_factory: SessionFactory,
) -> None:
    monkeypatch.delenv("C2B_MAX_CACHED_WORKFLOWS", raising=False)
    assert Settings().max_cached_workflows == 1000  # the SDK's own default
    monkeypatch.setenv("C2B_MAX_CACHED_WORKFLOWS", "50")
    size = Settings().max_cached_workflows
    with ThreadPoolExecutor(max_workers=1) as executor:
        worker = build_worker(
            time_skipping_env.client,
            session_factory,
            "unused-cache",
            executor,
            max_cached_workflows=size,
        )
    assert worker.config()["max_cached_workflows"] == 50
