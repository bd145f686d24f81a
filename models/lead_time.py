"""Chain lead time of a production order, from demand intake to shipment, read from its
event trail; and the hand-offs between the customer and the factory floor. Pure: the
API reads the rows, this measures them.

Milestones (each the first time it happened): the batch's intake, the pick (the order's
creation), fabric ready (reserved), the first operation (a factory started work), the
last operation (the last completion) and the shipment. Starting a work order is optional
in the factory protocol: of an order none of whose work orders was reported started, the
first claim marks the first operation (a factory took the work), so the stages still
add up to the total. Hand-offs count each time the
work passes to another party: customer → buyer team (intake), buyer team → platform
(the pick), platform → fabric supplier → platform (a purchase, two), platform → the
first factory, factory → another factory between operations, and the last factory →
the customer (shipment).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

MILESTONES = ("intake", "pick", "fabric_ready", "first_operation", "last_operation", "shipped")

# The traditional chain's steps, each a hand-off (DESIGN.md, APPAREL-DATA.md): months.
TRADITIONAL_CHAIN = (
    "brand",
    "design",
    "sample",
    "order fair",
    "distributor order",
    "production",
    "retail",
)


class TrailEvent(BaseModel):
    """The part of an event the lead time needs."""

    at: datetime
    entity: str
    kind: str
    factory_id: int | None = None


class OrderLeadTime(BaseModel):
    at: dict[str, datetime | None]
    # Hours between consecutive milestones that both happened, and intake to the last one.
    hours: dict[str, float]
    hand_offs: int


def lead_time(
    intake_at: datetime, picked_at: datetime, trail: Sequence[TrailEvent]
) -> OrderLeadTime:
    """The milestones, stage hours and hand-offs of one order from its trail (its own
    events and its work orders', in time order)."""
    at: dict[str, datetime | None] = dict.fromkeys(MILESTONES)
    at["intake"], at["pick"] = intake_at, picked_at
    factories: list[int] = []
    purchased = False
    first_claim: datetime | None = None
    for e in sorted(trail, key=lambda x: x.at):
        if e.entity == "production_order" and e.kind == "fabric_reserved":
            at["fabric_ready"] = at["fabric_ready"] or e.at
        elif e.entity == "production_order" and e.kind == "fabric_ordered":
            purchased = True
        elif e.entity == "production_order" and e.kind == "shipped":
            at["shipped"] = at["shipped"] or e.at
        elif e.entity == "work_order" and e.kind == "started":
            at["first_operation"] = at["first_operation"] or e.at
        elif e.entity == "work_order" and e.kind == "claimed":
            first_claim = first_claim or e.at
        elif e.entity == "work_order" and e.kind == "completed":
            at["last_operation"] = e.at
            if e.factory_id is not None and (not factories or factories[-1] != e.factory_id):
                factories.append(e.factory_id)
    at["first_operation"] = at["first_operation"] or first_claim
    hours: dict[str, float] = {}
    for before, after in zip(MILESTONES, MILESTONES[1:], strict=False):
        start, end = at[before], at[after]
        if start is not None and end is not None:
            hours[f"{before}_to_{after}"] = round((end - start).total_seconds() / 3600, 3)
    reached = [t for t in at.values() if t is not None]
    hours["total"] = round((max(reached) - intake_at).total_seconds() / 3600, 3)
    hand_offs = 2 + (2 if purchased else 0) + len(factories) + (1 if at["shipped"] else 0)
    return OrderLeadTime(at=at, hours=hours, hand_offs=hand_offs)
