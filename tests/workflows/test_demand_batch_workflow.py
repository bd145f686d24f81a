"""The batch workflow on Temporal's time-skipping server with the real activities and a
real database: the 48-hour pick window passes in well under a second."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from c2b.worker import WORKFLOWS, sandbox_runner
from models.schemas import (
    DemandBatchInput,
    DemandLineStatus,
    LifecycleSettings,
    PickItem,
    SubmitPicksInput,
)
from models.tables import DemandLine, Pick, ProductionOrder, StyleLifecycle
from tests.factories import make_batch
from workflows.demand_batch import DemandBatchWorkflow

HISTORIES = Path(__file__).parent / "histories"


async def start_batch(
    client: Client,
    task_queue: str,
    batch_id: int,
    team_id: int,
    lifecycle: LifecycleSettings | None = None,
) -> WorkflowHandle:  # type: ignore[type-arg]
    return await client.start_workflow(
        DemandBatchWorkflow.run,
        DemandBatchInput(
            batch_id=batch_id,
            team_id=team_id,
            pick_window_hours=48,
            lifecycle=lifecycle or LifecycleSettings(),
        ),
        id=f"demand-batch-{batch_id}-{uuid.uuid4()}",
        task_queue=task_queue,
    )


def replayer() -> Replayer:
    return Replayer(
        workflows=WORKFLOWS,
        workflow_runner=sandbox_runner(),
        data_converter=pydantic_data_converter,
    )


async def replays(history: WorkflowHistory, name: str) -> None:
    """``history`` replays on the current workflow code; with ``C2B_RECORD_HISTORIES`` set
    it is saved first as ``histories/<name>.json``, for the replay test of every saved one."""
    if os.environ.get("C2B_RECORD_HISTORIES"):
        (HISTORIES / f"{name}.json").write_text(history.to_json())
    await replayer().replay_workflow(history)


def mixed_batch(session: Session, team_id: int) -> int:
    """Crew tees over their MOQ of 100, zip hoodies under their MOQ of 80."""
    batch = make_batch(
        session,
        team_id,
        [
            {"size": "S", "quantity": 50},
            {"size": "M", "quantity": 70},
            {"style_code": "HD-ZIP", "colour": "grey", "size": "L", "quantity": 10},
        ],
    )
    assert batch.id is not None
    return batch.id


@pytest.fixture
async def mixed_batch_workflow(
    time_skipping_env: WorkflowEnvironment, worker_queue: str, session: Session, team_id: int
) -> AsyncIterator[WorkflowHandle]:  # type: ignore[type-arg]
    """The batch workflow of a mixed batch, running on the test's worker."""
    batch_id = mixed_batch(session, team_id)
    handle = await start_batch(time_skipping_env.client, worker_queue, batch_id, team_id)
    yield handle
    await handle.terminate("test over")
    await end_children(time_skipping_env, session)


async def end_children(env: WorkflowEnvironment, session: Session) -> None:
    """End what a terminated batch started: its test batches' lifecycles (they outlive
    it by design) and its production orders. Left running, their timers and their tasks
    on this test's task queue, which no worker polls any more, stop the time-skipping
    server from skipping time in later tests."""
    session.expire_all()
    ids = [row.workflow_id for row in session.exec(select(StyleLifecycle))]
    ids += [row.workflow_id for row in session.exec(select(ProductionOrder))]
    for workflow_id in ids:
        try:
            await env.client.get_workflow_handle(workflow_id or "").terminate("test over")
        except RPCError:
            pass  # finished already


async def test_when_nobody_picks_the_default_rule_goes_where_the_moq_is_met(
    time_skipping_env: WorkflowEnvironment,
    mixed_batch_workflow: WorkflowHandle,  # type: ignore[type-arg]
    session: Session,
) -> None:
    handle = mixed_batch_workflow
    await time_skipping_env.sleep(timedelta(hours=49))
    progress = await handle.query(DemandBatchWorkflow.progress)
    assert len(progress.production_order_ids) == 1

    session.expire_all()
    order = session.get(ProductionOrder, progress.production_order_ids[0])
    assert order is not None and order.style_code == "TS-CREW"
    assert order.size_breakdown == {"S": 50, "M": 70} and order.quantity == 120
    picks = session.exec(select(Pick)).all()
    assert [(p.style_code, p.by_default_rule) for p in picks] == [("TS-CREW", True)]
    lines = session.exec(select(DemandLine).order_by(col(DemandLine.line_no))).all()
    assert [line.status for line in lines] == [
        DemandLineStatus.IN_PRODUCTION,
        DemandLineStatus.IN_PRODUCTION,
        DemandLineStatus.DECLINED,
    ]
    assert lines[2].reason == "minimum order quantity not met when the pick window closed"


async def test_a_test_batch_pick_is_honoured_and_a_no_go_declines_its_lines(
    time_skipping_env: WorkflowEnvironment,
    mixed_batch_workflow: WorkflowHandle,  # type: ignore[type-arg]
    session: Session,
) -> None:
    handle = mixed_batch_workflow
    picks = SubmitPicksInput(
        picks=[
            PickItem.model_validate(
                {"style": "TS-CREW", "colour": "white", "quantity": 24, "test_batch": True}
            ),
            PickItem.model_validate({"style": "HD-ZIP", "colour": "grey", "decision": "no_go"}),
        ],
        close_window=True,
    )
    # Sent at once: the pick waits in the workflow until the batch is aggregated.
    result = await handle.execute_update(DemandBatchWorkflow.submit_picks, picks)
    assert result.window_open is False

    with pytest.raises(WorkflowUpdateFailedError) as closed:
        await handle.execute_update(DemandBatchWorkflow.submit_picks, picks)
    assert "the pick window is closed" in str(closed.value.cause)

    await time_skipping_env.sleep(timedelta(seconds=5))
    session.expire_all()
    order = session.exec(select(ProductionOrder)).one()
    # A test batch of 24 keeps the demand's 50:70 size curve.
    assert order.quantity == 24 and order.size_breakdown == {"S": 10, "M": 14}
    declined = session.exec(
        select(DemandLine).where(DemandLine.status == DemandLineStatus.DECLINED)
    ).one()
    assert declined.reason == "declined by the buyer team's pick"

    history = await handle.fetch_history()
    await replays(history, "demand_batch_picks")


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_saved_histories_replay_on_the_current_workflow_code(path: Path) -> None:
    """A change that would break running workflows fails here: guard it with
    ``workflow.patched`` and record a new history."""
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await replayer().replay_workflow(history)
