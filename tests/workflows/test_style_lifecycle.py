"""A test batch's lifecycle on the time-skipping server, with the real activities and a real
database: two weeks of sales and three days of silence pass in seconds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models.schemas import (
    DemandLineStatus,
    LifecycleSettings,
    LifecycleStatus,
    PickItem,
    ReorderDecision,
    ReorderDecisionInput,
    SalesReportInput,
    SizeUnits,
    SubmitPicksInput,
)
from models.tables import DemandLine, ProductionOrder, StyleLifecycle
from tests.workflows.test_demand_batch_workflow import (
    end_children,
    mixed_batch,
    replays,
    start_batch,
)
from workflows.demand_batch import DemandBatchWorkflow
from workflows.style_lifecycle import StyleLifecycleWorkflow

TEST_BATCH = SubmitPicksInput(
    picks=[
        PickItem.model_validate(
            {"style": "TS-CREW", "colour": "white", "quantity": 24, "test_batch": True}
        )
    ],
    close_window=True,
)


@pytest.fixture
def settings() -> LifecycleSettings:
    return LifecycleSettings()


@pytest.fixture
async def lifecycle(
    time_skipping_env: WorkflowEnvironment,
    worker_queue: str,
    session: Session,
    team_id: int,
    settings: LifecycleSettings,
) -> AsyncIterator[WorkflowHandle]:  # type: ignore[type-arg]
    """The lifecycle a test batch of 24 crew tees (demand: S 50, M 70) started."""
    batch_id = mixed_batch(session, team_id)
    batch = await start_batch(
        time_skipping_env.client, worker_queue, batch_id, team_id, lifecycle=settings
    )
    await batch.execute_update(DemandBatchWorkflow.submit_picks, TEST_BATCH)
    row = None
    for _ in range(200):
        session.expire_all()
        row = session.exec(select(StyleLifecycle)).first()
        if row is not None:
            break
        await time_skipping_env.sleep(timedelta(milliseconds=50))
    assert row is not None and row.workflow_id is not None
    handle = time_skipping_env.client.get_workflow_handle_for(
        StyleLifecycleWorkflow.run, row.workflow_id
    )
    yield handle
    for h in (handle, batch):
        try:
            await h.terminate("test over")
        except Exception:  # noqa: BLE001 - already finished
            pass
    await end_children(time_skipping_env, session)


async def report(
    env: WorkflowEnvironment,
    handle: WorkflowHandle,  # type: ignore[type-arg]
    days_ago: int,
    **units: int,
) -> int:
    day = (await env.get_current_time()).date() - timedelta(days=days_ago)
    result = await handle.execute_update(
        StyleLifecycleWorkflow.report_sales,
        SalesReportInput(day=day, sizes=[SizeUnits(size=s, units=u) for s, u in units.items()]),
    )
    return result.units_sold


def waiting_lines(session: Session) -> list[DemandLine]:
    session.expire_all()
    return list(
        session.exec(
            select(DemandLine)
            .where(DemandLine.style_code == "TS-CREW")
            .order_by(col(DemandLine.line_no))
        )
    )


async def test_sales_of_a_test_batch_become_a_reorder_when_the_team_accepts(
    time_skipping_env: WorkflowEnvironment,
    lifecycle: WorkflowHandle,  # type: ignore[type-arg]
    session: Session,
) -> None:
    env, handle = time_skipping_env, lifecycle
    # Neither crew-tee line (50 and 70 pieces) fits in 24: both wait for the reorder.
    assert [x.status for x in waiting_lines(session)] == [DemandLineStatus.OPEN] * 2

    assert await report(env, handle, 0, S=2, M=4) == 6
    # A re-sent report for the same day replaces the first: counted once.
    assert await report(env, handle, 0, S=6, M=10) == 16
    progress = await handle.query(StyleLifecycleWorkflow.progress)
    assert progress.status == LifecycleStatus.OBSERVING and progress.proposal is None

    await env.sleep(timedelta(days=14, minutes=1))
    progress = await handle.query(StyleLifecycleWorkflow.progress)
    assert progress.status == LifecycleStatus.AWAITING_DECISION
    proposal = progress.proposal
    assert proposal is not None
    # 16 of 24 sold in 14 days: 28 days need 32, 8 in stock: 24, raised to the MOQ of 100.
    assert (proposal.quantity, proposal.units_sold, proposal.received) == (100, 16, 24)
    assert proposal.size_breakdown == {"S": 38, "M": 62}

    with pytest.raises(WorkflowUpdateFailedError) as late:
        await report(env, handle, 0, S=1)
    assert "observation window closed" in str(late.value.cause)

    answer = await handle.execute_update(
        StyleLifecycleWorkflow.decide, ReorderDecisionInput(decision=ReorderDecision.ACCEPT)
    )
    assert answer.quantity == 100
    await env.sleep(timedelta(seconds=5))

    session.expire_all()
    row = session.exec(select(StyleLifecycle)).one()
    assert row.status == LifecycleStatus.REORDERED and row.decision == "accept"
    reorder = session.get(ProductionOrder, row.reorder_order_id)
    assert reorder is not None and reorder.reorder_round == 1
    # The waiting S line's 50 pieces exactly; the other 50 as the test batch sold (38:62).
    assert reorder.quantity == 100 and reorder.size_breakdown == {"S": 69, "M": 31}
    # The reorder serves the S line (50) first-come; the M line (70) no longer fits.
    lines = waiting_lines(session)
    assert [(x.status, x.production_order_id) for x in lines] == [
        (DemandLineStatus.IN_PRODUCTION, reorder.id),
        (DemandLineStatus.DECLINED, None),
    ]
    assert lines[1].reason == "beyond the reorder quantity of 100"

    history = await handle.fetch_history()
    await replays(history, "style_lifecycle_reorder")


async def test_a_proposal_nobody_answers_stops_the_style_and_declines_who_waited(
    time_skipping_env: WorkflowEnvironment,
    lifecycle: WorkflowHandle,  # type: ignore[type-arg]
    session: Session,
) -> None:
    env, handle = time_skipping_env, lifecycle
    await report(env, handle, 0, M=20)
    await env.sleep(timedelta(days=14, minutes=1))
    await env.sleep(timedelta(hours=72, minutes=1))
    result = await handle.result()
    assert result.status == LifecycleStatus.STOPPED
    assert result.reason == "no decision on the proposed reorder within 72 hours"
    session.expire_all()
    row = session.exec(select(StyleLifecycle)).one()
    assert row.status == LifecycleStatus.STOPPED and row.reason == result.reason
    assert {(x.status, x.reason) for x in waiting_lines(session)} == {
        (DemandLineStatus.DECLINED, f"no reorder: {result.reason}")
    }


@pytest.mark.parametrize("settings", [LifecycleSettings(sales_wait_days=5)])
async def test_a_style_that_never_sells_stops_after_the_wait(
    time_skipping_env: WorkflowEnvironment,
    lifecycle: WorkflowHandle,  # type: ignore[type-arg]
    settings: LifecycleSettings,
) -> None:
    await time_skipping_env.sleep(timedelta(days=5, minutes=1))
    result = await lifecycle.result()
    assert result.status == LifecycleStatus.STOPPED
    assert result.reason == "no sales reported within 5 days"


async def test_decisions_are_checked_before_they_are_taken(
    time_skipping_env: WorkflowEnvironment,
    lifecycle: WorkflowHandle,  # type: ignore[type-arg]
) -> None:
    env, handle = time_skipping_env, lifecycle

    async def refused(decision: ReorderDecisionInput) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await handle.execute_update(StyleLifecycleWorkflow.decide, decision)
        return str(caught.value.cause)

    accept = ReorderDecisionInput(decision=ReorderDecision.ACCEPT)
    assert "there is no proposal to decide" in await refused(accept)
    with pytest.raises(WorkflowUpdateFailedError) as future:
        await report(env, handle, -1, M=1)
    assert "is in the future" in str(future.value.cause)

    await report(env, handle, 0, M=1)  # 1 of 24: far below the sell-through threshold
    await env.sleep(timedelta(days=14, minutes=1))
    assert "nothing was proposed" in await refused(accept)
    assert "quantity" in await refused(ReorderDecisionInput(decision=ReorderDecision.CHANGE))
    changed = await handle.execute_update(
        StyleLifecycleWorkflow.decide,
        ReorderDecisionInput(decision=ReorderDecision.CHANGE, quantity=60),
    )
    assert changed.quantity == 60
    assert "there is no proposal to decide" in await refused(accept)
