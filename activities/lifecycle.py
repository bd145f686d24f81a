"""Activities of the style-lifecycle workflow: record a test batch's sales, propose the
reorder, create the reorder's production order, stop the style. Idempotent: a retry
changes nothing twice, and each writes its event in the same transaction."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select
from temporalio import activity

from activities.base import SessionFactory, add_event, style_by_code, translate_domain_errors
from models.errors import Conflict, InvalidInput, NotFound
from models.queues import production_order_workflow_id
from models.rules import allocate_lines, propose_reorder, run_sizes, size_totals
from models.schemas import (
    SALES_LIFECYCLE_STATUSES,
    CreatedProductionOrder,
    CreateReorderInput,
    DemandLineStatus,
    LifecycleStatus,
    ProductionOrderStatus,
    ProposeReorderInput,
    ReorderProposal,
    SalesReportInput,
    SalesReportResult,
    SetLifecycleStatusInput,
    StopLifecycleInput,
)
from models.tables import DemandLine, ProductionOrder, SalesReport, StyleLifecycle


def _lifecycle(session: Session, lifecycle_id: int) -> StyleLifecycle:
    lifecycle = session.get(StyleLifecycle, lifecycle_id)
    if lifecycle is None:
        raise NotFound(f"style lifecycle {lifecycle_id} not found")
    return lifecycle


def sold_by_size(session: Session, lifecycle_id: int) -> dict[str, int]:
    """Units sold per size over every reported day, in one grouped query."""
    rows = session.execute(
        sa.select(col(SalesReport.size), sa.func.sum(col(SalesReport.units)))
        .where(col(SalesReport.lifecycle_id) == lifecycle_id)
        .group_by(col(SalesReport.size))
    ).all()
    return {size: int(units) for size, units in rows}


def _waiting_lines(session: Session, lifecycle: StyleLifecycle) -> list[DemandLine]:
    """The test batch's customers it could not serve: open lines of its batch and
    style-colour, earliest need-by first."""
    test = session.get(ProductionOrder, lifecycle.test_order_id)
    assert test is not None
    return list(
        session.exec(
            select(DemandLine)
            .where(
                DemandLine.batch_id == test.batch_id,
                DemandLine.style_code == lifecycle.style_code,
                DemandLine.colour == lifecycle.colour,
                DemandLine.status == DemandLineStatus.OPEN,
            )
            .order_by(col(DemandLine.need_by), col(DemandLine.line_no))
        )
    )


class LifecycleActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    @translate_domain_errors
    def record_sales(self, inp: SalesReportInput) -> SalesReportResult:
        """Store a day's units by size; a size already reported for that day is replaced."""
        with self._sessions() as session, session.begin():
            lifecycle = _lifecycle(session, inp.lifecycle_id)
            if lifecycle.status not in SALES_LIFECYCLE_STATUSES:
                raise Conflict(
                    f"lifecycle {lifecycle.id} is {lifecycle.status.value}; it takes no more sales"
                )
            size_run = style_by_code(session, lifecycle.style_code).size_run
            for i, item in enumerate(inp.sizes):
                if item.size not in size_run:
                    raise InvalidInput(
                        f"{item.size!r} is not in the size run {size_run}",
                        field=f"sizes[{i}].size",
                    )
            existing = {
                r.size: r
                for r in session.exec(
                    select(SalesReport).where(
                        SalesReport.lifecycle_id == lifecycle.id, SalesReport.day == inp.day
                    )
                )
            }
            for item in inp.sizes:
                if item.size in existing:
                    existing[item.size].units = item.units
                else:
                    session.add(
                        SalesReport(
                            lifecycle_id=inp.lifecycle_id,
                            day=inp.day,
                            size=item.size,
                            units=item.units,
                        )
                    )
            add_event(
                session,
                "style_lifecycle",
                inp.lifecycle_id,
                "sales_reported",
                actor=inp.actor,
                day=inp.day.isoformat(),
                units=sum(item.units for item in inp.sizes),
            )
            session.flush()
            days = session.exec(
                select(sa.func.count(sa.distinct(col(SalesReport.day)))).where(
                    SalesReport.lifecycle_id == inp.lifecycle_id
                )
            ).one()
            return SalesReportResult(
                lifecycle_id=inp.lifecycle_id,
                status=lifecycle.status,
                days_reported=days,
                units_sold=sum(sold_by_size(session, inp.lifecycle_id).values()),
                window_closes_at=lifecycle.window_closes_at,
            )

    @activity.defn
    @translate_domain_errors
    def set_lifecycle_status(self, inp: SetLifecycleStatusInput) -> None:
        with self._sessions() as session, session.begin():
            lifecycle = _lifecycle(session, inp.lifecycle_id)
            if inp.window_closes_at is not None:
                lifecycle.window_closes_at = inp.window_closes_at
            if lifecycle.status != inp.status:
                lifecycle.status = inp.status
                add_event(session, "style_lifecycle", inp.lifecycle_id, f"status:{inp.status}")

    @activity.defn
    @translate_domain_errors
    def propose_reorder(self, inp: ProposeReorderInput) -> ReorderProposal:
        """Apply the reorder rule to what was sold (models.rules.propose_reorder) and keep
        the proposal on the lifecycle; asked again, it returns the kept one."""
        with self._sessions() as session, session.begin():
            lifecycle = _lifecycle(session, inp.lifecycle_id)
            if lifecycle.proposal is not None:
                return ReorderProposal.model_validate(lifecycle.proposal)
            test = session.get(ProductionOrder, lifecycle.test_order_id)
            assert test is not None
            # What reached the shelves: the good pieces once the order is done.
            received = (
                test.good_quantity if test.status == ProductionOrderStatus.DONE else test.quantity
            )
            style = style_by_code(session, lifecycle.style_code)
            sold = sold_by_size(session, lifecycle.id or 0)
            # In size-run order: ties in the size split go to the smaller size.
            sold = {size: sold[size] for size in style.size_run if size in sold}
            proposal = propose_reorder(
                received, sold, inp.observed_days, style.min_order_qty, inp.settings
            )
            lifecycle.proposal = proposal.model_dump()
            lifecycle.status = LifecycleStatus.AWAITING_DECISION
            add_event(
                session,
                "style_lifecycle",
                inp.lifecycle_id,
                "reorder_proposed",
                quantity=proposal.quantity,
                reason=proposal.reason,
            )
            return proposal

    @activity.defn
    @translate_domain_errors
    def create_reorder(self, inp: CreateReorderInput) -> CreatedProductionOrder:
        """The reorder's production order: the sizes of the proposal (or, for another
        quantity, its size curve), serving first the customers the test batch could not.
        Those it cannot serve either are declined with the reason."""
        with self._sessions() as session, session.begin():
            lifecycle = _lifecycle(session, inp.lifecycle_id)
            if lifecycle.reorder_order_id is not None:
                done = session.get(ProductionOrder, lifecycle.reorder_order_id)
                assert done is not None
                return CreatedProductionOrder(
                    production_order_id=done.id or 0,
                    style_code=done.style_code,
                    colour=done.colour,
                    lifecycle_id=lifecycle.id,
                )
            if lifecycle.status != LifecycleStatus.AWAITING_DECISION:
                raise Conflict(f"lifecycle {lifecycle.id} is {lifecycle.status.value}")
            test = session.get(ProductionOrder, lifecycle.test_order_id)
            assert test is not None
            proposal = ReorderProposal.model_validate(lifecycle.proposal)
            waiting = _waiting_lines(session, lifecycle)
            served, left = allocate_lines([(x.id or 0, x.quantity) for x in waiting], inp.quantity)
            served_ids = set(served)
            served_sizes = size_totals((x.size, x.quantity) for x in waiting if x.id in served_ids)
            # The waiting customers' sizes exactly; the rest as the test batch sold.
            sizes = run_sizes(
                inp.quantity, served_sizes, proposal.size_breakdown or test.size_breakdown
            )
            order = ProductionOrder(
                batch_id=test.batch_id,
                team_id=test.team_id,
                style_code=lifecycle.style_code,
                colour=lifecycle.colour,
                size_breakdown=sizes,
                quantity=inp.quantity,
                due_date=inp.due_date,
                priority=test.priority,
                reorder_round=test.reorder_round + 1,
            )
            session.add(order)
            session.flush()
            assert order.id is not None
            order.workflow_id = production_order_workflow_id(order.id)
            by_id = {x.id: x for x in waiting}
            for line_id in served:
                by_id[line_id].status = DemandLineStatus.IN_PRODUCTION
                by_id[line_id].production_order_id = order.id
                by_id[line_id].reason = None
            for line_id in left:
                by_id[line_id].status = DemandLineStatus.DECLINED
                by_id[line_id].reason = f"beyond the reorder quantity of {inp.quantity}"
            lifecycle.reorder_order_id = order.id
            lifecycle.decision = "accept" if inp.quantity == proposal.quantity else "change"
            lifecycle.status = LifecycleStatus.REORDERED
            add_event(
                session,
                "production_order",
                order.id,
                "created",
                actor=inp.actor,
                lifecycle_id=lifecycle.id,
                quantity=inp.quantity,
                reorder_of=test.id,
                lines=len(served),
            )
            add_event(
                session,
                "style_lifecycle",
                lifecycle.id or 0,
                "reordered",
                actor=inp.actor,
                production_order_id=order.id,
                quantity=inp.quantity,
            )
            return CreatedProductionOrder(
                production_order_id=order.id,
                style_code=order.style_code,
                colour=order.colour,
                lifecycle_id=lifecycle.id,
            )

    @activity.defn
    @translate_domain_errors
    def stop_lifecycle(self, inp: StopLifecycleInput) -> None:
        """Stop the style with the reason; customers still waiting for a reorder are
        declined with it."""
        with self._sessions() as session, session.begin():
            lifecycle = _lifecycle(session, inp.lifecycle_id)
            if lifecycle.status == LifecycleStatus.STOPPED:
                return
            for line in _waiting_lines(session, lifecycle):
                line.status = DemandLineStatus.DECLINED
                line.reason = f"no reorder: {inp.reason}"
            lifecycle.status = LifecycleStatus.STOPPED
            lifecycle.reason = inp.reason
            if inp.declined:
                lifecycle.decision = "decline"
            add_event(session, "style_lifecycle", inp.lifecycle_id, "stopped", reason=inp.reason)
