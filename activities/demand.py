"""Activities of the demand-batch workflow: aggregate demand, record picks, create
production orders, move the batch's status. Idempotent: a retry changes nothing twice."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select
from temporalio import activity

from activities.base import SessionFactory, translate_domain_errors
from models.errors import DomainError, NotFound
from models.queues import production_order_workflow_id, style_lifecycle_workflow_id
from models.rules import (
    allocate_lines,
    earliest_feasible_due,
    fabric_requirement,
    run_sizes,
    size_totals,
)
from models.schemas import (
    ACTIVE_LIFECYCLE_STATUSES,
    AggregateDemandInput,
    AggregateDemandResult,
    AggregateRow,
    BatchStatus,
    CreatedProductionOrder,
    CreateProductionOrdersInput,
    CreateProductionOrdersResult,
    DemandLineStatus,
    NeedByQuantity,
    PersonalisedUnit,
    PickDecision,
    RecordEventInput,
    SetBatchStatusInput,
    SizeQuantity,
    StyleColourDemand,
)
from models.tables import (
    BomLine,
    DemandBatch,
    DemandLine,
    Event,
    Fabric,
    Pick,
    ProductionOrder,
    Style,
    StyleLifecycle,
)


def open_lines_of(batch_id: int) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        col(DemandLine.batch_id) == batch_id,
        col(DemandLine.status) == DemandLineStatus.OPEN,
    )


def demand_totals(batch_id: int) -> sa.Select[str, str, str, int, int, date, Any]:
    """The aggregation's grouped query: per style × colour × size of the batch's open lines,
    pieces, lines, the earliest need-by and the personalised pieces. (bench/intake.py runs
    the same query as the floor the platform is measured against.)"""
    style_colour_size = (
        col(DemandLine.style_code),
        col(DemandLine.colour),
        col(DemandLine.size),
    )
    return (
        sa.select(
            *style_colour_size,
            sa.func.sum(col(DemandLine.quantity)),
            sa.func.count(),
            sa.func.min(col(DemandLine.need_by)),
            sa.func.sum(
                sa.case((col(DemandLine.personalisation).is_(None), 0), else_=1)
                * col(DemandLine.quantity)
            ),
        )
        .where(*open_lines_of(batch_id))
        .group_by(*style_colour_size)
        .order_by(*style_colour_size)
    )


class DemandActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    @translate_domain_errors
    def aggregate_demand(self, inp: AggregateDemandInput) -> AggregateDemandResult:
        """Totals per style × colour × size of the batch's open lines, set-based in the
        database: one grouped query for the totals, one for the need-by distribution, and
        the personalised lines (each its own unit) by an indexed filter. With
        ``then_status``, the batch then takes that status."""
        open_lines = open_lines_of(inp.batch_id)
        totals = demand_totals(inp.batch_id)
        need_by = (
            sa.select(
                col(DemandLine.style_code),
                col(DemandLine.colour),
                col(DemandLine.need_by),
                sa.func.sum(col(DemandLine.quantity)),
            )
            .where(*open_lines)
            .group_by(col(DemandLine.style_code), col(DemandLine.colour), col(DemandLine.need_by))
            .order_by(col(DemandLine.need_by))
        )
        personalised = (
            select(DemandLine)
            .where(*open_lines, col(DemandLine.personalisation).is_not(None))
            .order_by(col(DemandLine.line_no))
        )
        with self._sessions() as session:
            if session.get(DemandBatch, inp.batch_id) is None:
                raise NotFound(f"demand batch {inp.batch_id} not found")
            rows = session.execute(totals).all()
            need_by_rows = session.execute(need_by).all()
            units = [
                PersonalisedUnit(
                    line_no=line.line_no,
                    customer_ref=line.customer_ref,
                    style_code=line.style_code,
                    colour=line.colour,
                    size=line.size,
                    quantity=line.quantity,
                    personalisation=line.personalisation or "",
                )
                for line in session.exec(personalised)
            ]
            codes = {row[0] for row in rows}
            styles = {
                s.code: s for s in session.exec(select(Style).where(col(Style.code).in_(codes)))
            }

            out_rows: list[AggregateRow] = []
            sizes_of: dict[tuple[str, str], list[SizeQuantity]] = defaultdict(list)
            earliest: dict[tuple[str, str], date] = {}
            personal: dict[tuple[str, str], int] = defaultdict(int)
            for style, colour, size, qty, n, first_need_by, personal_qty in rows:
                stock_qty = int(qty) - int(personal_qty)
                if stock_qty:
                    out_rows.append(
                        AggregateRow(
                            style_code=style, colour=colour, size=size, quantity=stock_qty, lines=n
                        )
                    )
                key = (style, colour)
                sizes_of[key].append(SizeQuantity(size=size, quantity=int(qty)))
                earliest[key] = min(earliest.get(key, first_need_by), first_need_by)
                personal[key] += int(personal_qty)
            need_by_of: dict[tuple[str, str], list[NeedByQuantity]] = defaultdict(list)
            for style, colour, day, qty in need_by_rows:
                need_by_of[(style, colour)].append(NeedByQuantity(need_by=day, quantity=int(qty)))

            by_style_colour = []
            today = datetime.now(UTC).date()
            for (style, colour), sizes in sizes_of.items():
                rank = {size: i for i, size in enumerate(styles[style].size_run)}
                sizes.sort(key=lambda s: rank.get(s.size, len(rank)))
                by_style_colour.append(
                    StyleColourDemand(
                        style_code=style,
                        colour=colour,
                        quantity=sum(s.quantity for s in sizes),
                        min_order_qty=styles[style].min_order_qty,
                        earliest_need_by=earliest[(style, colour)],
                        sizes=sizes,
                        personalised_quantity=personal[(style, colour)],
                        need_by=need_by_of[(style, colour)],
                        earliest_feasible_due=earliest_feasible_due(
                            today, _fabric_lead_days(session, styles[style], sizes)
                        ),
                    )
                )
        if inp.then_status is not None:
            with self._sessions() as session, session.begin():
                _set_batch_status(session, inp.batch_id, inp.then_status)
        return AggregateDemandResult(
            batch_id=inp.batch_id,
            rows=out_rows,
            by_style_colour=by_style_colour,
            personalised=units,
        )

    @activity.defn
    @translate_domain_errors
    def create_production_orders(
        self, inp: CreateProductionOrdersInput
    ) -> CreateProductionOrdersResult:
        """Record the picks, create one production order per go-pick and settle every open
        demand line: in production with its order, or declined with the reason. With
        ``then_status``, the batch takes that status in the same transaction."""
        with self._sessions() as session, session.begin():
            created = self._create_production_orders(session, inp)
            if inp.then_status is not None:
                _set_batch_status(session, inp.batch_id, inp.then_status)
            return created

    def _create_production_orders(
        self, session: Session, inp: CreateProductionOrdersInput
    ) -> CreateProductionOrdersResult:
        existing = session.exec(
            select(ProductionOrder).where(ProductionOrder.batch_id == inp.batch_id)
        ).all()
        if existing or session.exec(select(Pick).where(Pick.batch_id == inp.batch_id)).first():
            # A retry after a commit whose answer was lost: return what is there.
            lifecycles = dict(
                session.exec(
                    select(StyleLifecycle.test_order_id, StyleLifecycle.id).where(
                        col(StyleLifecycle.test_order_id).in_([po.id for po in existing])
                    )
                ).all()
            )
            return CreateProductionOrdersResult(
                orders=[
                    CreatedProductionOrder(
                        production_order_id=po.id or 0,
                        style_code=po.style_code,
                        colour=po.colour,
                        lifecycle_id=lifecycles.get(po.id or 0),
                    )
                    for po in existing
                ]
            )
        lines = session.exec(
            select(DemandLine).where(
                DemandLine.batch_id == inp.batch_id,
                DemandLine.status == DemandLineStatus.OPEN,
            )
        ).all()
        by_key: dict[str, list[DemandLine]] = defaultdict(list)
        for line in lines:
            by_key[f"{line.style_code}/{line.colour}"].append(line)

        created: list[CreatedProductionOrder] = []
        for pick in inp.picks:
            key_lines = by_key.pop(pick.key, [])
            demand = size_totals((x.size, x.quantity) for x in key_lines)
            quantity = pick.quantity or sum(demand.values())
            by_rule = pick.key in inp.default_rule_keys
            pick_row = Pick(
                batch_id=inp.batch_id,
                style_code=pick.style_code,
                colour=pick.colour,
                decision=pick.decision,
                quantity=quantity,
                due_date=pick.due_date,
                priority=pick.priority,
                test_batch=pick.test_batch,
                by_default_rule=by_rule,
            )
            session.add(pick_row)
            session.flush()
            if pick.decision == PickDecision.NO_GO:
                reason = "declined by the buyer team's pick"
                for line in key_lines:
                    line.status, line.reason = DemandLineStatus.DECLINED, reason
                continue
            if not demand:
                raise DomainError(f"pick {pick.key} has no open demand", field="picks")
            # A pick smaller than the demand serves whole lines, earliest need-by first.
            key_lines.sort(key=lambda x: (x.need_by, x.line_no))
            by_id = {x.id or 0: x for x in key_lines}
            served_ids, left_ids = allocate_lines(
                [(x.id or 0, x.quantity) for x in key_lines], quantity
            )
            left = [by_id[i] for i in left_ids]
            served = [by_id[i] for i in served_ids]
            due = pick.due_date or min(line.need_by for line in served or left)
            order = ProductionOrder(
                batch_id=inp.batch_id,
                team_id=inp.team_id,
                pick_id=pick_row.id,
                style_code=pick.style_code,
                colour=pick.colour,
                size_breakdown=run_sizes(
                    quantity, size_totals((x.size, x.quantity) for x in served), demand
                ),
                quantity=quantity,
                due_date=due,
                priority=pick.priority,
            )
            session.add(order)
            session.flush()
            assert order.id is not None
            order.workflow_id = production_order_workflow_id(order.id)
            for line in served:
                line.status = DemandLineStatus.IN_PRODUCTION
                line.production_order_id = order.id
            lifecycle_id = None
            if pick.test_batch:
                lifecycle_id = _start_lifecycle(session, inp.team_id, order)
            for line in left:
                if lifecycle_id is not None:
                    # Open until the test batch's reorder serves it or the style stops.
                    line.reason = f"waiting for the reorder decision of lifecycle {lifecycle_id}"
                else:
                    line.status = DemandLineStatus.DECLINED
                    line.reason = f"beyond the picked quantity of {quantity}"
            session.add(
                Event(
                    actor="default-rule" if by_rule else "buyer-team",
                    entity="production_order",
                    entity_id=order.id,
                    kind="created",
                    data={"batch_id": inp.batch_id, "pick": pick.key, "quantity": quantity},
                )
            )
            created.append(
                CreatedProductionOrder(
                    production_order_id=order.id,
                    style_code=order.style_code,
                    colour=order.colour,
                    lifecycle_id=lifecycle_id,
                )
            )
        # What nobody picked and the default rule did not take is declined, with why.
        for key, key_lines in by_key.items():
            reason = (
                "minimum order quantity not met when the pick window closed"
                if key in inp.declined
                else "not picked when the pick window closed"
            )
            for line in key_lines:
                line.status, line.reason = DemandLineStatus.DECLINED, reason
        return CreateProductionOrdersResult(orders=created)

    @activity.defn
    @translate_domain_errors
    def set_batch_status(self, inp: SetBatchStatusInput) -> None:
        with self._sessions() as session, session.begin():
            _set_batch_status(session, inp.batch_id, inp.status)

    @activity.defn
    def record_event(self, inp: RecordEventInput) -> None:
        with self._sessions() as session, session.begin():
            session.add(
                Event(
                    actor=inp.actor,
                    entity=inp.entity,
                    entity_id=inp.entity_id,
                    kind=inp.kind,
                    data=dict(inp.data),
                )
            )


def _start_lifecycle(session: Session, team_id: int, order: ProductionOrder) -> int | None:
    """A style lifecycle to judge this test batch's sales, unless the team already has one
    running for the style-colour (then that one decides, and this batch is only stock)."""
    running = session.exec(
        select(StyleLifecycle).where(
            StyleLifecycle.team_id == team_id,
            StyleLifecycle.style_code == order.style_code,
            StyleLifecycle.colour == order.colour,
            col(StyleLifecycle.status).in_(ACTIVE_LIFECYCLE_STATUSES),
        )
    ).first()
    if running is not None:
        session.add(
            Event(
                actor="system",
                entity="production_order",
                entity_id=order.id or 0,
                kind="lifecycle_already_running",
                data={"lifecycle_id": running.id},
            )
        )
        return None
    lifecycle = StyleLifecycle(
        team_id=team_id,
        style_code=order.style_code,
        colour=order.colour,
        test_order_id=order.id or 0,
    )
    session.add(lifecycle)
    session.flush()
    assert lifecycle.id is not None
    lifecycle.workflow_id = style_lifecycle_workflow_id(lifecycle.id)
    session.add(
        Event(
            actor="system",
            entity="style_lifecycle",
            entity_id=lifecycle.id,
            kind="started",
            data={"test_order_id": order.id, "quantity": order.quantity},
        )
    )
    return lifecycle.id


def _fabric_lead_days(session: Session, style: Style, sizes: list[SizeQuantity]) -> list[int]:
    """Lead times of the style's fabrics whose stock does not cover this demand."""
    breakdown = {s.size: s.quantity for s in sizes}
    short: list[int] = []
    for line in session.exec(select(BomLine).where(BomLine.style_id == style.id)):
        fabric = session.get(Fabric, line.fabric_id)
        if fabric is None:
            continue
        try:
            metres = fabric_requirement(breakdown, line.consumption_by_size, line.wastage_pct)
        except ValueError:
            continue  # the bill of materials is incomplete; the design gate reports it
        if metres > fabric.metres_on_hand:
            short.append(fabric.lead_time_days)
    return short


def _set_batch_status(session: Session, batch_id: int, status: BatchStatus) -> None:
    batch = session.get(DemandBatch, batch_id)
    if batch is None:
        raise NotFound(f"demand batch {batch_id} not found")
    if batch.status != status:
        batch.status = status
        session.add(
            Event(
                actor="system",
                entity="demand_batch",
                entity_id=batch_id,
                kind=f"status:{status.value}",
            )
        )
