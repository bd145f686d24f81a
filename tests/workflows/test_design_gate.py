"""The design gate on the time-skipping server, with the real activities and a real
database: an order for a style whose tech pack is still a draft waits, is escalated after
24 hours, goes on when the designers approve, and is cancelled after 120 hours."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.schemas import (
    DemandLineStatus,
    ProductionOrderInput,
    ProductionOrderStatus,
    TechPackStatus,
)
from models.tables import DemandLine, Event, ProductionOrder, Style
from tests.factories import make_order
from tests.workflows.test_demand_batch_workflow import replays
from workflows.production_order import ProductionOrderWorkflow


@pytest.fixture
def chino_order(session: Session, team_id: int) -> ProductionOrder:
    """80 chinos (a style whose tech pack is a draft), serving one customer line."""
    order = make_order(
        session,
        team_id,
        style_code="TR-CHINO",
        colour="khaki",
        size_breakdown={"30": 40, "32": 40},
        quantity=80,
    )
    line = session.exec(select(DemandLine).where(DemandLine.batch_id == order.batch_id)).one()
    line.style_code, line.colour, line.size, line.quantity = "TR-CHINO", "khaki", "30", 80
    line.status, line.production_order_id = DemandLineStatus.IN_PRODUCTION, order.id
    session.commit()
    return order


@pytest.fixture
async def gate(
    time_skipping_env: WorkflowEnvironment, worker_queue: str, chino_order: ProductionOrder
) -> AsyncIterator[WorkflowHandle]:  # type: ignore[type-arg]
    handle = await time_skipping_env.client.start_workflow(
        ProductionOrderWorkflow.run,
        ProductionOrderInput(production_order_id=chino_order.id or 0),
        id=f"production-order-{chino_order.id}-{uuid.uuid4()}",
        task_queue=worker_queue,
    )
    yield handle
    try:
        await handle.terminate("test over")
    except Exception:  # noqa: BLE001 - it finished
        pass


def events(session: Session, order: ProductionOrder) -> list[str]:
    session.expire_all()
    return [
        e.kind
        for e in session.exec(
            select(Event).where(Event.entity == "production_order", Event.entity_id == order.id)
        )
    ]


def approve(session: Session) -> None:
    style = session.exec(select(Style).where(Style.code == "TR-CHINO")).one()
    style.tech_pack_status = TechPackStatus.APPROVED
    session.commit()


async def status_of(handle: WorkflowHandle) -> ProductionOrderStatus:  # type: ignore[type-arg]
    return (await handle.query(ProductionOrderWorkflow.progress)).status


async def until_in_production(
    env: WorkflowEnvironment,
    handle: WorkflowHandle,  # type: ignore[type-arg]
) -> None:
    """Past the gate, fabric, scheduling and work orders take a few activity round trips."""
    for _ in range(100):
        if await status_of(handle) == ProductionOrderStatus.IN_PRODUCTION:
            return
        await env.sleep(timedelta(seconds=1))
    raise AssertionError(f"still {await status_of(handle)}")


async def test_an_overdue_tech_pack_is_escalated_and_the_approval_lets_the_order_go_on(
    time_skipping_env: WorkflowEnvironment,
    gate: WorkflowHandle,  # type: ignore[type-arg]
    chino_order: ProductionOrder,
    session: Session,
) -> None:
    await time_skipping_env.sleep(timedelta(hours=23))
    assert await status_of(gate) == ProductionOrderStatus.AWAITING_DESIGN
    assert "design_gate_escalated" not in events(session, chino_order)
    await time_skipping_env.sleep(timedelta(hours=2))
    assert events(session, chino_order).count("design_gate_escalated") == 1

    approve(session)
    await gate.signal(ProductionOrderWorkflow.tech_pack_approved)
    await until_in_production(time_skipping_env, gate)
    assert "cancelled" not in events(session, chino_order)
    history = await gate.fetch_history()
    await replays(history, "production_order_design_gate")


async def test_an_approval_whose_signal_was_lost_is_found_at_the_deadline(
    time_skipping_env: WorkflowEnvironment,
    gate: WorkflowHandle,  # type: ignore[type-arg]
    chino_order: ProductionOrder,
    session: Session,
) -> None:
    await time_skipping_env.sleep(timedelta(hours=1))
    approve(session)  # committed, but no signal arrives
    await time_skipping_env.sleep(timedelta(hours=24))
    await until_in_production(time_skipping_env, gate)
    assert "design_gate_escalated" not in events(session, chino_order)


async def test_no_tech_pack_in_120_hours_cancels_the_order_and_declines_its_lines(
    time_skipping_env: WorkflowEnvironment,
    gate: WorkflowHandle,  # type: ignore[type-arg]
    chino_order: ProductionOrder,
    session: Session,
) -> None:
    await time_skipping_env.sleep(timedelta(hours=121))
    result = await gate.result()
    assert result.status == ProductionOrderStatus.CANCELLED and result.shipped_lines == 0
    session.expire_all()
    order = session.get(ProductionOrder, chino_order.id)
    assert order is not None and order.status == ProductionOrderStatus.CANCELLED
    line = session.exec(
        select(DemandLine).where(DemandLine.production_order_id == chino_order.id)
    ).one()
    assert line.status == DemandLineStatus.DECLINED
    assert line.reason == (
        f"production order {chino_order.id} was cancelled: "
        "the tech pack of TR-CHINO was not approved within 120 hours"
    )
    kinds = events(session, chino_order)
    assert kinds.index("design_gate_escalated") < kinds.index("cancelled")
