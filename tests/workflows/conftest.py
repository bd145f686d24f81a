"""A real worker (real activities, real database) on the time-skipping server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.testing import WorkflowEnvironment

from c2b.db import SessionFactory
from c2b.worker import build_worker


@pytest.fixture
async def worker_queue(
    time_skipping_env: WorkflowEnvironment, session_factory: SessionFactory
) -> AsyncIterator[str]:
    task_queue = f"test-{uuid.uuid4()}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(time_skipping_env.client, session_factory, task_queue, executor):
            yield task_queue
