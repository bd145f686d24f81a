"""A pick sent once the batch reads "picking" is taken, even while the workflow has not yet
seen the end of its aggregation step.

The aggregation's local activity commits the batch's new status before the workflow gets
its result. If the step outlasts the workflow task (a loaded machine, a slow database),
the worker completes the task holding the activity open, and an update sent meanwhile
reaches a workflow that has no aggregate yet. Here the step is held open on purpose and
the workflow task timeout is one second, so that window is always there: on the real dev
server, with the real activities."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import Session
from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.testing import WorkflowEnvironment

from c2b.db import SessionFactory
from c2b.worker import build_worker
from models.schemas import (
    BatchStatus,
    DemandBatchInput,
    LifecycleSettings,
    PickItem,
    SubmitPicksInput,
    SubmitPicksResult,
)
from models.tables import DemandBatch
from tests.factories import make_batch
from tests.held import HELD_FOR, HeldAggregation
from tests.workflows.test_demand_batch_workflow import replays
from workflows.demand_batch import DemandBatchWorkflow

Held = tuple[WorkflowHandle, HeldAggregation, int]  # type: ignore[type-arg]


@pytest.fixture
async def held(
    dev_server_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    team_id: int,
) -> AsyncIterator[Held]:
    """A batch of crew tees whose workflow runs on a worker with the held aggregation,
    with a one-second workflow task timeout; entered once the aggregation committed."""
    demand = HeldAggregation(session_factory)
    task_queue = f"test-{uuid.uuid4()}"
    batch = make_batch(session, team_id, [{"size": "S", "quantity": 60}, {"quantity": 60}])
    assert batch.id is not None
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(
            dev_server_env.client, session_factory, task_queue, executor, demand=demand
        ):
            handle = await dev_server_env.client.start_workflow(
                DemandBatchWorkflow.run,
                DemandBatchInput(
                    batch_id=batch.id,
                    team_id=team_id,
                    pick_window_hours=48,
                    lifecycle=LifecycleSettings(),
                ),
                id=f"demand-batch-{batch.id}-{uuid.uuid4()}",
                task_queue=task_queue,
                task_timeout=timedelta(seconds=1),
            )
            try:
                assert await asyncio.to_thread(demand.committed.wait, HELD_FOR)
                yield handle, demand, batch.id
            finally:
                demand.release.set()
                await handle.terminate("test over")


async def pick_while_held(
    handle: WorkflowHandle,  # type: ignore[type-arg]
    demand: HeldAggregation,
    style: str,
    colour: str,
) -> WorkflowUpdateHandle[SubmitPicksResult]:
    """A pick sent while the aggregation step is held open, once the workflow has taken or
    refused it (a refusal is raised by ``result()``); then the step is let go."""
    pick = PickItem.model_validate({"style": style, "colour": colour})
    update = await handle.start_update(
        DemandBatchWorkflow.submit_picks,
        SubmitPicksInput(picks=[pick], close_window=False),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    assert not demand.release.is_set()  # answered with the step still open
    demand.release.set()
    return update


async def test_a_pick_sent_once_the_batch_reads_picking_waits_for_the_aggregate(
    held: Held, session: Session
) -> None:
    handle, demand, batch_id = held
    session.expire_all()
    batch = session.get(DemandBatch, batch_id)
    assert batch is not None and batch.status == BatchStatus.PICKING
    # The workflow has no aggregate yet; the pick is not refused for it.
    update = await pick_while_held(handle, demand, "TS-CREW", "white")
    result = await update.result()
    assert result.accepted == ["TS-CREW/white"] and result.window_open
    progress = await handle.query(DemandBatchWorkflow.progress)
    assert [p.key for p in progress.picks] == ["TS-CREW/white"]

    # The history of a pick that waited replays on the current code (and, saved,
    # on every later version: test_demand_batch_workflow.py replays the folder).
    history = await handle.fetch_history()
    await replays(history, "demand_batch_pick_waited")


async def test_a_pick_that_waited_is_still_checked_against_the_aggregate(held: Held) -> None:
    handle, demand, _ = held
    update = await pick_while_held(handle, demand, "HD-ZIP", "grey")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await update.result()
    assert "HD-ZIP/grey has no open demand in this batch" in str(refused.value.cause)
    progress = await handle.query(DemandBatchWorkflow.progress)
    assert progress.picks == []
