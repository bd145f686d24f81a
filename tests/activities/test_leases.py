from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from activities.leases import LeaseActivities
from c2b.db import SessionFactory
from models.schemas import ExpireLeasesInput, WorkOrderStatus
from models.tables import Event, WorkOrder
from tests.factories import make_order, make_work_order


def test_only_lapsed_leases_go_back_to_the_queue_and_each_expiry_counts_once(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    order = make_order(session, team_id)
    past, future = datetime.now(UTC) - timedelta(seconds=1), datetime.now(UTC) + timedelta(hours=1)
    lapsed = make_work_order(
        session,
        order,
        status=WorkOrderStatus.STARTED,
        lease_holder="token-1",
        lease_expires_at=past,
        progress_quantity=12,
    )
    live = make_work_order(
        session,
        order,
        seq=2,
        status=WorkOrderStatus.CLAIMED,
        lease_holder="token-2",
        lease_expires_at=future,
    )
    sweep = LeaseActivities(session_factory).expire_leases

    first = sweep(ExpireLeasesInput())
    assert [(e.work_order_id, e.expiries) for e in first.expired] == [(lapsed.id, 1)]
    assert sweep(ExpireLeasesInput()).expired == []  # nothing twice

    session.expire_all()
    back = session.get(WorkOrder, lapsed.id)
    assert back is not None and back.status == WorkOrderStatus.RELEASED
    assert (back.lease_holder, back.lease_expires_at, back.progress_quantity) == (None, None, None)
    still = session.get(WorkOrder, live.id)
    assert still is not None and still.status == WorkOrderStatus.CLAIMED
    events = session.exec(select(Event).where(Event.kind == "lease_expired")).all()
    assert [(e.entity_id, e.data) for e in events] == [(lapsed.id, {"expiries": 1})]
