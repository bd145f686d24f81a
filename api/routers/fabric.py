"""Fabric purchases: what is on order for production orders whose stock was short, and
the deliveries that end their wait. For planners (and admins), who receive the
suppliers' delivery notes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.service import RPCError

from api.deps import PlannerDep, ReleasingRoute, SessionDep, TemporalDep, read_and_release
from api.errors import temporal_unavailable, temporal_unreachable
from models.errors import Conflict, NotFound
from models.queues import production_order_workflow_id
from models.schemas import PurchaseOrderStatus, RowId
from models.tables import Event, Fabric, FabricPurchaseOrder, ProductionOrder
from workflows.production_order import ProductionOrderWorkflow

router = APIRouter(tags=["fabric"], route_class=ReleasingRoute)


class PurchaseOrderPublic(BaseModel):
    id: int
    production_order_id: int
    fabric_code: str
    supplier: str
    metres: float
    status: PurchaseOrderStatus
    ordered_at: datetime
    expected_at: datetime
    delivered_at: datetime | None
    metres_delivered: float | None
    delivery_ref: str | None


class DeliveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purchase_order_id: RowId
    metres: float = Field(gt=0, le=1_000_000, description="Metres received.")
    delivery_ref: str = Field(
        min_length=1,
        max_length=100,
        description="The supplier's delivery note: sent again, it counts once.",
    )


class DeliveryResult(BaseModel):
    purchase_order: PurchaseOrderPublic
    metres_on_hand: float
    # Whether the waiting order's workflow was told (it also retries at its deadline).
    order_notified: bool


def _public(po: FabricPurchaseOrder, fabric: Fabric) -> PurchaseOrderPublic:
    return PurchaseOrderPublic(**po.model_dump(exclude={"fabric_id"}), fabric_code=fabric.code)


def _deliver(session: Session, delivery: DeliveryIn) -> tuple[int, int] | None:
    """One conditional UPDATE takes the purchase from ordered to delivered: of two
    deliveries racing for it, one wins (and gets its fabric id and order id back)."""
    row = session.execute(
        sa.update(FabricPurchaseOrder)
        .where(
            col(FabricPurchaseOrder.id) == delivery.purchase_order_id,
            col(FabricPurchaseOrder.status) == PurchaseOrderStatus.ORDERED,
        )
        .values(
            status=PurchaseOrderStatus.DELIVERED,
            delivered_at=datetime.now(UTC),
            metres_delivered=delivery.metres,
            delivery_ref=delivery.delivery_ref,
        )
        .returning(col(FabricPurchaseOrder.fabric_id), col(FabricPurchaseOrder.production_order_id))
    ).one_or_none()
    return None if row is None else (row[0], row[1])


@router.get("/v1/fabric-purchase-orders", response_model=list[PurchaseOrderPublic])
def list_purchase_orders(
    principal: PlannerDep,
    session: SessionDep,
    po_status: Annotated[PurchaseOrderStatus | None, Query(alias="status")] = None,
) -> list[PurchaseOrderPublic]:
    """Fabric purchases, oldest first; ``status=ordered`` lists what is still to come."""
    query = select(FabricPurchaseOrder, Fabric).where(
        col(FabricPurchaseOrder.fabric_id) == col(Fabric.id)
    )
    if po_status is not None:
        query = query.where(FabricPurchaseOrder.status == po_status)
    rows = session.exec(query.order_by(col(FabricPurchaseOrder.id))).all()
    return [_public(po, fabric) for po, fabric in rows]


def _record(
    session: Session, delivery: DeliveryIn, actor: str
) -> tuple[PurchaseOrderPublic, float, str]:
    """The delivery recorded (its metres into stock once); the purchase as it stands, the
    fabric's stock and the waiting order's workflow id."""
    # Only the delivery that wins the purchase adds its metres: the stock grows once.
    try:
        won = _deliver(session, delivery)
    except IntegrityError as err:
        session.rollback()
        raise Conflict(
            f"delivery note {delivery.delivery_ref!r} was recorded for another purchase order",
            field="delivery_ref",
        ) from err
    if won is not None:
        fabric_id, order_id = won
        session.execute(
            sa.update(Fabric)
            .where(col(Fabric.id) == fabric_id)
            .values(metres_on_hand=col(Fabric.metres_on_hand) + delivery.metres)
        )
        session.add(
            Event(
                actor=actor,
                entity="production_order",
                entity_id=order_id,
                kind="fabric_delivered",
                data={"purchase_order_id": delivery.purchase_order_id, "metres": delivery.metres},
            )
        )
        session.commit()
    po = session.get(FabricPurchaseOrder, delivery.purchase_order_id)
    if po is None:
        raise NotFound(
            f"fabric purchase order {delivery.purchase_order_id} not found",
            field="purchase_order_id",
        )
    if po.status == PurchaseOrderStatus.CANCELLED:
        raise Conflict(f"purchase order {po.id} was cancelled", field="purchase_order_id")
    if po.delivery_ref != delivery.delivery_ref:
        raise Conflict(
            f"purchase order {po.id} was delivered already (note {po.delivery_ref})",
            field="purchase_order_id",
        )
    fabric = session.get(Fabric, po.fabric_id)
    assert fabric is not None
    result = _public(po, fabric)
    on_hand = fabric.metres_on_hand
    order = session.get(ProductionOrder, po.production_order_id)
    workflow_id = (order.workflow_id if order else None) or production_order_workflow_id(
        po.production_order_id
    )
    return result, on_hand, workflow_id


@router.post(
    "/v1/fabric-deliveries",
    response_model=DeliveryResult,
    responses={409: {"description": "The purchase was delivered under another note, or cancelled"}},
)
async def record_delivery(
    delivery: DeliveryIn, principal: PlannerDep, session: SessionDep, client: TemporalDep
) -> DeliveryResult:
    """A supplier's delivery for a purchase: the metres go into stock and the production
    order waiting for them tries its reservation again."""
    result, on_hand, workflow_id = await read_and_release(
        session, _record, delivery, principal.name
    )
    handle = client.get_workflow_handle_for(ProductionOrderWorkflow.run, workflow_id)
    try:
        await handle.signal(ProductionOrderWorkflow.fabric_delivered)
        notified = True
    except RPCError as err:
        if temporal_unreachable(err):  # a re-sent delivery counts once and signals again
            raise temporal_unavailable(err) from err
        notified = False
    return DeliveryResult(purchase_order=result, metres_on_hand=on_hand, order_notified=notified)
