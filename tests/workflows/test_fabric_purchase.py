"""Short fabric on the time-skipping server, with the real activities and a real database:
the order buys it, waits, escalates once when the purchase is overdue, and goes on when
the delivery arrives."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from models.schemas import ProductionOrderInput, ProductionOrderStatus, PurchaseOrderStatus
from models.tables import FabricPurchaseOrder
from tests.activities.test_production_activities import tee_fabric
from tests.factories import make_order
from tests.workflows.test_demand_batch_workflow import replayer
from tests.workflows.test_design_gate import events, status_of, until_in_production
from workflows import search_attributes
from workflows.production_order import ProductionOrderWorkflow


async def test_short_fabric_is_bought_escalated_when_late_and_used_when_delivered(
    time_skipping_env: WorkflowEnvironment, worker_queue: str, session: Session, team_id: int
) -> None:
    env = time_skipping_env
    order = make_order(session, team_id)
    fabric = tee_fabric(session)
    fabric.metres_on_hand = 1.0
    session.commit()
    lead_days = fabric.lead_time_days
    handle = await env.client.start_workflow(
        ProductionOrderWorkflow.run,
        ProductionOrderInput(production_order_id=order.id or 0),
        id=f"production-order-{order.id}-{uuid.uuid4()}",
        task_queue=worker_queue,
    )
    try:
        await env.sleep(timedelta(hours=1))
        assert await status_of(handle) == ProductionOrderStatus.AWAITING_FABRIC
        assert "fabric_ordered" in events(session, order)
        # The status is a search attribute too, for the Temporal UI.
        attrs = (await handle.describe()).typed_search_attributes
        assert attrs.get(search_attributes.ORDER_STATUS) == "awaiting_fabric"
        assert attrs.get(search_attributes.ORDER_ID) == order.id

        # The lead time passes, then the 48 h of slack: one escalation, still waiting.
        await env.sleep(timedelta(days=lead_days, hours=47))
        assert "fabric_late" not in events(session, order)
        await env.sleep(timedelta(hours=2))
        assert events(session, order).count("fabric_late") == 1
        assert await status_of(handle) == ProductionOrderStatus.AWAITING_FABRIC

        # The delivery (as POST /v1/fabric-deliveries records it), then its signal.
        session.expire_all()
        po = session.exec(select(FabricPurchaseOrder)).one()
        po.status, po.delivered_at = PurchaseOrderStatus.DELIVERED, datetime.now(UTC)
        po.metres_delivered = po.metres
        tee_fabric(session).metres_on_hand += po.metres
        session.commit()
        await handle.signal(ProductionOrderWorkflow.fabric_delivered)
        await until_in_production(env, handle)
        assert "fabric_reserved" in events(session, order)
        assert tee_fabric(session).metres_on_hand == pytest.approx(1.0)  # all went to the order
        await replayer().replay_workflow(await handle.fetch_history())
    finally:
        await handle.terminate("test over")
