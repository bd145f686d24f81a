"""Lease expiry: work orders whose claimant let the lease run out go back to the queue.

Idempotent: a lease that has already been returned is not touched again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col
from temporalio import activity

from activities.base import SessionFactory, translate_domain_errors
from models.schemas import (
    LEASED_STATUSES,
    ExpireLeasesInput,
    ExpireLeasesResult,
    LeaseExpired,
    WorkOrderStatus,
)
from models.tables import Event, WorkOrder


class LeaseActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    @translate_domain_errors
    def expire_leases(self, inp: ExpireLeasesInput) -> ExpireLeasesResult:
        """Return every work order with a lapsed lease to the queue, counting the expiry.
        One conditional UPDATE: a heartbeat or completion that wins the race keeps it."""
        now = datetime.now(UTC)
        with self._sessions() as session, session.begin():
            rows = session.execute(
                sa.update(WorkOrder)
                .where(
                    col(WorkOrder.status).in_(LEASED_STATUSES),
                    col(WorkOrder.lease_expires_at) <= now,
                )
                .values(
                    status=WorkOrderStatus.RELEASED,
                    lease_holder=None,
                    lease_expires_at=None,
                    progress_quantity=None,
                    lease_expiries=col(WorkOrder.lease_expiries) + 1,
                )
                .returning(
                    col(WorkOrder.id),
                    col(WorkOrder.production_order_id),
                    col(WorkOrder.lease_expiries),
                )
            ).all()
            expired = [
                LeaseExpired(work_order_id=wo_id, production_order_id=po_id, expiries=n)
                for wo_id, po_id, n in rows
            ]
            session.add_all(
                Event(
                    actor="lease-sweeper",
                    entity="work_order",
                    entity_id=e.work_order_id,
                    kind="lease_expired",
                    data={"expiries": e.expiries},
                )
                for e in expired
            )
        return ExpireLeasesResult(expired=expired)
