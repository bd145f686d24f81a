from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.production import MAX_ATTEMPTS, ProductionActivities, factory_closed_time
from activities.scenarios import read_snapshot
from c2b.db import SessionFactory
from models.schemas import (
    CompensateInput,
    CompleteWorkOrderInput,
    DemandLineStatus,
    MakeUpInput,
    PlanStatus,
    ProductionOrderInput,
    ProductionOrderStatus,
    ReleaseWorkOrderInput,
    SizeQuantity,
    WorkOrderStatus,
)
from models.tables import (
    BomLine,
    DemandLine,
    Event,
    Fabric,
    FabricPurchaseOrder,
    FabricReservation,
    Plan,
    PlanAssignment,
    ProductionOrder,
    RoutingStep,
    Shipment,
    Style,
    WorkCentre,
    WorkOrder,
)
from optimizer.calendar import next_open, open_minutes
from optimizer.placement import run_minutes
from tests.factories import make_order, make_work_order, short_shifts_everywhere


def tee_fabric(session: Session) -> Fabric:
    style = session.exec(select(Style).where(Style.code == "TS-CREW")).one()
    bom = session.exec(select(BomLine).where(BomLine.style_id == style.id)).one()
    fabric = session.get(Fabric, bom.fabric_id)
    assert fabric is not None
    return fabric


def test_fabric_is_reserved_once_even_when_the_activity_is_retried(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    acts = ProductionActivities(session_factory)
    order = make_order(session, team_id)
    before = tee_fabric(session).metres_on_hand
    first = ActivityEnvironment().run(
        acts.reserve_fabric, ProductionOrderInput(production_order_id=order.id or 0)
    )
    again = ActivityEnvironment().run(
        acts.reserve_fabric, ProductionOrderInput(production_order_id=order.id or 0)
    )
    assert again == first
    session.expire_all()
    assert tee_fabric(session).metres_on_hand == pytest.approx(before - first.metres)
    # 20 S + 40 M + 20 L of a ~1.1 m tee plus 7% wastage
    assert 90 < first.metres < 100


def test_two_orders_racing_for_the_last_metres_cannot_both_get_them(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    acts = ProductionActivities(session_factory)
    orders = [make_order(session, team_id) for _ in range(2)]
    fabric = tee_fabric(session)
    fabric.metres_on_hand = 150.0  # enough for one order of ~95 m, not two
    session.add(fabric)
    session.commit()

    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def reserve(order_id: int) -> None:
        barrier.wait()
        result = acts.reserve_fabric(ProductionOrderInput(production_order_id=order_id))
        outcomes.append("reserved" if result.reservation_ids else "purchased")

    threads = [threading.Thread(target=reserve, args=(o.id,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["purchased", "reserved"]
    session.expire_all()
    reserved = session.exec(select(FabricReservation)).all()
    assert len(reserved) == 1
    assert tee_fabric(session).metres_on_hand == pytest.approx(150.0 - reserved[0].metres)


def test_a_shortage_reserves_nothing_and_buys_the_fabric_once(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    order = make_order(session, team_id)
    fabric = tee_fabric(session)
    fabric.metres_on_hand = 1.0
    session.add(fabric)
    session.commit()
    acts = ProductionActivities(session_factory)
    inp = ProductionOrderInput(production_order_id=order.id or 0)
    first = acts.reserve_fabric(inp)
    again = acts.reserve_fabric(inp)  # a retry, or the order trying before the delivery
    assert first.reservation_ids == [] == again.reservation_ids
    drop = {"purchase_orders": {"__all__": {"due_in_hours"}}}
    assert again.model_dump(exclude=drop) == first.model_dump(exclude=drop)  # the same purchase
    (po,) = first.purchase_orders
    assert po.fabric_code == fabric.code and 90 < po.metres < 100
    lead = po.expected_at - datetime.now(UTC)
    assert timedelta(days=fabric.lead_time_days) - timedelta(minutes=1) < lead
    session.expire_all()
    assert tee_fabric(session).metres_on_hand == 1.0  # nothing was taken
    assert session.exec(select(FabricPurchaseOrder)).one().supplier == fabric.supplier
    refreshed = session.get(ProductionOrder, order.id)
    assert refreshed is not None and refreshed.status == ProductionOrderStatus.AWAITING_FABRIC


def test_scheduled_orders_never_share_a_work_centre_at_the_same_time(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    acts = ProductionActivities(session_factory)
    orders = [make_order(session, team_id) for _ in range(3)]
    plans = [
        acts.schedule_order(ProductionOrderInput(production_order_id=o.id or 0)) for o in orders
    ]
    for plan in plans:
        ops = plan.operations
        assert [o.operation_kind for o in ops] == ["cut", "sew", "finish"]
        assert all(a.end <= b.start for a, b in zip(ops, ops[1:], strict=False))
    rows = session.exec(select(PlanAssignment).order_by(col(PlanAssignment.start))).all()
    by_centre: dict[int, list[PlanAssignment]] = {}
    for a in rows:
        by_centre.setdefault(a.work_centre_id, []).append(a)
    for assignments in by_centre.values():
        for a, b in zip(assignments, assignments[1:], strict=False):
            assert a.end <= b.start
    # Scheduling again returns the same placement rather than adding another, and leaves
    # the live plan's revision alone: nothing changed.
    session.expire_all()
    revision = session.exec(select(Plan.revision)).one()
    again = acts.schedule_order(ProductionOrderInput(production_order_id=orders[0].id or 0))
    assert again.operations == plans[0].operations
    assert len(session.exec(select(PlanAssignment)).all()) == 9
    session.expire_all()
    assert session.exec(select(Plan.revision)).one() == revision


def assert_in_shifts(session: Session) -> int:
    """Every slot of the live plan starts in open time and holds exactly its operation's
    minutes in its factory's shifts; returns how many slots pause over closed time."""
    session.expire_all()
    origin = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    closed = factory_closed_time(session, origin)
    centres = {wc.id: wc for wc in session.exec(select(WorkCentre)).all()}
    paused = 0
    for slot in session.exec(select(PlanAssignment)).all():
        order = session.get(ProductionOrder, slot.production_order_id)
        assert order is not None
        step = session.exec(
            select(RoutingStep)
            .join(Style, col(Style.id) == col(RoutingStep.style_id))
            .where(Style.code == order.style_code, RoutingStep.seq == slot.seq)
        ).one()
        centre = centres[slot.work_centre_id]
        latest = session.exec(
            select(WorkOrder)
            .where(WorkOrder.production_order_id == order.id, WorkOrder.seq == slot.seq)
            .order_by(col(WorkOrder.attempt).desc())
        ).first()
        quantity = latest.quantity if latest is not None else order.quantity
        work = run_minutes(step.setup_minutes, step.standard_minutes, quantity, centre.efficiency)
        shut = closed[centre.factory_id]
        start, end = (int((t - origin).total_seconds() // 60) for t in (slot.start, slot.end))
        assert next_open(shut, start) == start, f"{slot} starts in closed time"
        assert open_minutes(shut, start, end) == work, f"{slot} does not hold {work} minutes"
        paused += end - start > work
    return paused


def test_the_live_plan_works_in_shifts_only_and_pauses_over_closed_time(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    """DESIGN: a plan never puts work outside the factory's working hours. Orders, a
    make-up and the operations it moves all start in a shift, and run across the nights."""
    short_shifts_everywhere(session)
    acts, cut = claimed_work_order(session_factory, session, team_id)
    for _ in range(2):
        acts.schedule_order(
            ProductionOrderInput(production_order_id=make_order(session, team_id).id or 0)
        )
    assert assert_in_shifts(session) > 0
    acts.record_completion(completion(cut))  # 22 short: a recut
    made = acts.plan_make_up(MakeUpInput(work_order_id=cut.id or 0))
    assert made.work_order_id is not None
    assert assert_in_shifts(session) > 0
    for wo in session.exec(select(WorkOrder)).all():
        slot = live_slot(session, wo)
        if wo.status == WorkOrderStatus.PLANNED or wo.id == made.work_order_id:
            assert (wo.planned_start, wo.planned_end) == (slot.start, slot.end)


def claimed_work_order(
    session_factory: SessionFactory, session: Session, team_id: int
) -> tuple[ProductionActivities, WorkOrder]:
    acts = ProductionActivities(session_factory)
    order = make_order(session, team_id)
    inp = ProductionOrderInput(production_order_id=order.id or 0)
    acts.schedule_order(inp)
    ids = acts.create_work_orders(inp).work_order_ids
    return acts, released_and_claimed(acts, session, ids[0])


def released_and_claimed(acts: ProductionActivities, session: Session, wo_id: int) -> WorkOrder:
    """The work order released by its activity, then claimed under the lease "token-1"."""
    acts.release_work_order(ReleaseWorkOrderInput(work_order_id=wo_id))
    session.expire_all()
    wo = session.get(WorkOrder, wo_id)
    assert wo is not None and wo.status == WorkOrderStatus.RELEASED
    wo.status, wo.lease_holder = WorkOrderStatus.CLAIMED, "token-1"
    session.add(wo)
    session.commit()
    return wo


def live_slot(session: Session, wo: WorkOrder) -> PlanAssignment:
    """The live plan's slot of the work order's operation, read afresh."""
    session.expire_all()
    return session.exec(
        select(PlanAssignment).where(
            PlanAssignment.production_order_id == wo.production_order_id,
            PlanAssignment.seq == wo.seq,
        )
    ).one()


def every_other_cutting_table_busy(
    acts: ProductionActivities, session: Session, team_id: int
) -> None:
    """One more order placed per cutting table but one: with a table just freed, the
    next order's cut can only go there."""
    cutting = {c.id for c in session.exec(select(WorkCentre)).all() if "cut" in c.operation_kinds}
    for _ in range(len(cutting) - 1):
        other = make_order(session, team_id)
        acts.schedule_order(ProductionOrderInput(production_order_id=other.id or 0))


def order_slots(session: Session, order_id: int) -> list[PlanAssignment]:
    """The order's slots in the live plan, in routing order, read afresh."""
    session.expire_all()
    return list(
        session.exec(
            select(PlanAssignment)
            .where(PlanAssignment.production_order_id == order_id)
            .order_by(col(PlanAssignment.seq))
        ).all()
    )


def completion(
    wo: WorkOrder, key: str | None = "k1", holder: str = "token-1", **kw: object
) -> CompleteWorkOrderInput:
    fields: dict[str, object] = {
        "work_order_id": wo.id,
        "factory_id": wo.factory_id,
        "lease_holder": holder,
        "good": [SizeQuantity(size="S", quantity=20), SizeQuantity(size="M", quantity=38)],
        "defective": [SizeQuantity(size="M", quantity=2)],
        "idempotency_key": key,
        **kw,
    }
    return CompleteWorkOrderInput.model_validate(fields)


def test_a_completion_counts_once_and_a_retry_gets_the_same_answer(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    acts, wo = claimed_work_order(session_factory, session, team_id)
    first = acts.record_completion(completion(wo))
    assert (first.good_quantity, first.defective_quantity) == (58, 2)
    assert acts.record_completion(completion(wo)) == first
    with pytest.raises(ApplicationError, match="already completed") as caught:
        acts.record_completion(completion(wo, key="another"))
    assert caught.value.type == "Conflict"
    events = session.exec(
        select(Event).where(Event.entity == "work_order", Event.kind == "completed")
    ).all()
    assert len(events) == 1


def test_a_completion_frees_the_rest_of_its_slot_for_the_next_order(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    """A factory done early gives the plan back the time it did not use: the slot ends at
    the completion, and the next order can be placed on that work centre at once."""
    acts, wo = claimed_work_order(session_factory, session, team_id)
    every_other_cutting_table_busy(acts, session, team_id)

    planned_end = live_slot(session, wo).end
    acts.record_completion(completion(wo))
    freed = live_slot(session, wo)
    done = session.get(WorkOrder, wo.id)
    assert done is not None and done.completed_at is not None
    assert freed.start <= freed.end == done.completed_at < planned_end

    late = make_order(session, team_id)
    placed = acts.schedule_order(ProductionOrderInput(production_order_id=late.id or 0))
    cut = placed.operations[0]
    assert cut.work_centre_id == wo.work_centre_id
    assert cut.start < planned_end  # without the freed time it waits for a cut to end


def test_an_operation_done_before_its_planned_start_keeps_no_time_ahead(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    acts, cut = claimed_work_order(session_factory, session, team_id)
    acts.record_completion(completion(cut))
    sew = session.exec(
        select(WorkOrder).where(
            WorkOrder.production_order_id == cut.production_order_id, WorkOrder.seq == 2
        )
    ).one()
    sew = released_and_claimed(acts, session, sew.id or 0)
    assert sew.planned_start > datetime.now(UTC)
    acts.record_completion(completion(sew, key="k2"))
    slot = live_slot(session, sew)
    done = session.get(WorkOrder, sew.id)
    assert done is not None
    assert slot.start == slot.end == done.completed_at


def test_a_make_up_takes_its_own_slot_and_the_rest_of_its_order_moves_behind_it(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    """A recut is work on its cutting table: the live plan must hold it, after what that
    table already has to do, or the next order is placed on top of it. The order's later
    operations cannot start before it ends, so their slots and work orders move too."""
    acts, cut = claimed_work_order(session_factory, session, team_id)
    every_other_cutting_table_busy(acts, session, team_id)
    acts.record_completion(completion(cut))  # 58 good of 80: 22 short
    # The freed table takes the next order at once.
    late = make_order(session, team_id)
    (late_cut, *_) = acts.schedule_order(
        ProductionOrderInput(production_order_id=late.id or 0)
    ).operations
    assert late_cut.work_centre_id == cut.work_centre_id

    made = acts.plan_make_up(MakeUpInput(work_order_id=cut.id or 0))
    session.expire_all()
    recut = session.get(WorkOrder, made.work_order_id)
    assert recut is not None and recut.work_centre_id == cut.work_centre_id
    assert recut.planned_start >= late_cut.end  # after the table's next order, not on it
    slot = live_slot(session, cut)
    assert (slot.start, slot.end) == (recut.planned_start, recut.planned_end)

    sew = session.exec(
        select(WorkOrder).where(
            WorkOrder.production_order_id == cut.production_order_id, WorkOrder.seq == 2
        )
    ).one()
    sew_slot = live_slot(session, sew)
    assert sew_slot.start >= recut.planned_end
    assert (sew.planned_start, sew.planned_end) == (sew_slot.start, sew_slot.end)
    later = order_slots(session, cut.production_order_id)
    assert all(a.end <= b.start for a, b in itertools.pairwise(later))
    # A scenario plans the cut's 22 missing pieces, where the live plan has the recut.
    (open_order,) = [
        o
        for o in read_snapshot(session, datetime.now(UTC)).orders
        if o.id == cut.production_order_id
    ]
    first = open_order.steps[0]
    assert (first.state, first.quantity) == ("open", 22)
    assert first.planned == (cut.work_centre_id, recut.planned_start, recut.planned_end)
    # Asked again, it returns the same make-up and moves nothing more.
    planned = [(a.start, a.end) for a in later]
    assert acts.plan_make_up(MakeUpInput(work_order_id=cut.id or 0)) == made
    assert [(a.start, a.end) for a in order_slots(session, cut.production_order_id)] == planned


@pytest.mark.parametrize(
    ("change", "error_type", "needle"),
    [
        ({"holder": "token-2"}, "LeaseNotHeld", "another claimant"),
        ({"good": [SizeQuantity(size="XXXL", quantity=1)]}, "InvalidInput", "size run"),
        ({"good": [SizeQuantity(size="M", quantity=500)]}, "InvalidInput", "tolerance"),
    ],
)
def test_a_completion_is_refused_with_the_reason(
    session_factory: SessionFactory,
    session: Session,
    team_id: int,
    change: dict[str, object],
    error_type: str,
    needle: str,
) -> None:
    acts, wo = claimed_work_order(session_factory, session, team_id)
    holder = str(change.pop("holder", "token-1"))
    with pytest.raises(ApplicationError, match=needle) as caught:
        acts.record_completion(completion(wo, holder=holder, **change))
    assert caught.value.type == error_type and caught.value.non_retryable


def test_a_shortfall_is_made_up_size_by_size_until_the_attempts_run_out(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    acts = ProductionActivities(session_factory)
    order = make_order(session, team_id)  # S 20, M 40, L 20
    cut = make_work_order(
        session,
        order,
        status=WorkOrderStatus.COMPLETED,
        good_quantity=74,
        good_by_size={"S": 20, "M": 36, "L": 18},
    )
    made = acts.plan_make_up(MakeUpInput(work_order_id=cut.id or 0))
    assert made.kind == "recut" and made.quantity == 6
    assert acts.plan_make_up(MakeUpInput(work_order_id=cut.id or 0)) == made  # a retry
    session.expire_all()
    recut = session.get(WorkOrder, made.work_order_id)
    assert recut is not None and recut.size_breakdown == {"M": 4, "L": 2}
    assert (recut.attempt, recut.status) == (2, WorkOrderStatus.PLANNED)

    # The last attempt still short: accepted once, no further make-up.
    last = make_work_order(
        session,
        order,
        attempt=MAX_ATTEMPTS,
        status=WorkOrderStatus.COMPLETED,
        quantity=6,
        size_breakdown={"M": 4, "L": 2},
        good_by_size={"M": 4},
    )
    assert acts.plan_make_up(MakeUpInput(work_order_id=last.id or 0)).work_order_id is None
    assert acts.plan_make_up(MakeUpInput(work_order_id=last.id or 0)).work_order_id is None
    kinds = session.exec(select(Event.kind).where(Event.entity_id == order.id)).all()
    assert kinds.count("shortfall_accepted:1") == 1

    whole = make_work_order(
        session,
        order,
        seq=2,
        status=WorkOrderStatus.COMPLETED,
        good_by_size={"S": 20, "M": 40, "L": 20},
    )
    assert acts.plan_make_up(MakeUpInput(work_order_id=whole.id or 0)).work_order_id is None


def test_the_compensation_undoes_every_step_once_however_often_it_runs(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    acts = ProductionActivities(session_factory)
    order = make_order(session, team_id)
    inp = ProductionOrderInput(production_order_id=order.id or 0)
    before = tee_fabric(session).metres_on_hand
    reserved = acts.reserve_fabric(inp)
    acts.schedule_order(inp)
    acts.create_work_orders(inp)
    session.expire_all()
    first, second, third = session.exec(
        select(WorkOrder)
        .where(WorkOrder.production_order_id == order.id)
        .order_by(col(WorkOrder.seq))
    ).all()
    first.status = WorkOrderStatus.CLAIMED  # a factory is cutting: withdrawn too (the policy)
    second.status = WorkOrderStatus.RELEASED
    line = session.exec(select(DemandLine).where(DemandLine.batch_id == order.batch_id)).one()
    line.status, line.production_order_id = DemandLineStatus.IN_PRODUCTION, order.id
    session.add(
        FabricPurchaseOrder(
            production_order_id=order.id or 0,
            fabric_id=tee_fabric(session).id or 0,
            supplier="x",
            metres=5,
            expected_at=datetime.now(UTC),
        )
    )
    session.commit()

    cancel = CompensateInput(production_order_id=order.id or 0, reason="customer left", actor="t")
    done = acts.compensate_cancellation(cancel)
    assert done.withdrawn_work_orders == 3 and done.freed_plan_slots == 3
    assert done.released_metres == pytest.approx(reserved.metres) and done.consumed_metres == 0
    assert done.cancelled_purchase_orders == 1 and done.declined_lines == 1
    again = acts.compensate_cancellation(cancel)  # a retry after a crash: nothing twice
    assert again.model_dump() == {
        "withdrawn_work_orders": 0,
        "freed_plan_slots": 0,
        "released_metres": 0.0,
        "consumed_metres": 0.0,
        "cancelled_purchase_orders": 0,
        "declined_lines": 0,
    }
    session.expire_all()
    assert tee_fabric(session).metres_on_hand == pytest.approx(before)
    assert {w.status for w in session.exec(select(WorkOrder))} == {WorkOrderStatus.WITHDRAWN}
    refreshed = session.get(ProductionOrder, order.id)
    assert refreshed is not None and refreshed.status == ProductionOrderStatus.CANCELLED
    kinds = session.exec(select(Event.kind).where(Event.entity == "production_order")).all()
    assert kinds.count("cancelled") == 1
    declined = session.get(DemandLine, line.id)
    assert declined is not None and declined.reason == (
        f"production order {order.id} was cancelled: customer left"
    )


def test_shipping_covers_whole_lines_with_the_good_pieces_and_declines_what_is_short(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    order = make_order(session, team_id)
    for n, (size, quantity) in enumerate([("M", 30), ("M", 30), ("S", 20)], start=10):
        session.add(
            DemandLine(
                batch_id=order.batch_id,
                line_no=n,
                customer_ref=f"C-{n}",
                style_code="TS-CREW",
                colour="white",
                size=size,
                quantity=quantity,
                need_by=datetime.now(UTC).date() + timedelta(days=n),
                channel="web",
                region="EU",
                status=DemandLineStatus.IN_PRODUCTION,
                production_order_id=order.id,
            )
        )
    session.commit()
    # The last operation (its first attempt and a make-up) made 40 M and 20 S.
    for attempt, good in [(1, {"M": 35, "S": 20}), (2, {"M": 5})]:
        make_work_order(
            session,
            order,
            seq=3,
            attempt=attempt,
            status=WorkOrderStatus.COMPLETED,
            good_quantity=sum(good.values()),
            good_by_size=good,
        )
    result = ProductionActivities(session_factory).ship_order(
        ProductionOrderInput(production_order_id=order.id or 0)
    )
    assert (result.shipped_lines, result.good_quantity) == (2, 60)
    session.expire_all()
    lines = session.exec(
        select(DemandLine)
        .where(DemandLine.production_order_id == order.id)
        .order_by(col(DemandLine.line_no))
    ).all()
    assert [(x.customer_ref, x.status) for x in lines] == [
        ("C-10", DemandLineStatus.SHIPPED),
        ("C-11", DemandLineStatus.DECLINED),
        ("C-12", DemandLineStatus.SHIPPED),
    ]
    assert lines[1].reason == (
        "short at production: 10 good pieces of size M were left for this line of 30"
    )
    # Each shipped line is one shipment, traced to the work orders that made its pieces.
    last_ops = session.exec(select(WorkOrder.id).where(WorkOrder.seq == 3)).all()
    shipments = session.exec(select(Shipment).order_by(col(Shipment.id))).all()
    assert [(s.demand_line_id, s.customer_ref, s.size, s.quantity) for s in shipments] == [
        (lines[0].id, "C-10", "M", 30),
        (lines[2].id, "C-12", "S", 20),
    ]
    assert all(sorted(s.work_order_ids) == sorted(last_ops) for s in shipments)
    # Shipping again (a retried activity) ships nothing twice and answers the same.
    again = ProductionActivities(session_factory).ship_order(
        ProductionOrderInput(production_order_id=order.id or 0)
    )
    assert (again.shipped_lines, again.good_quantity) == (2, 60)
    assert len(session.exec(select(Shipment)).all()) == 2


def test_a_shipped_order_leaves_the_live_plan_and_the_history_keeps_it(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    """Its slots are history once it ships: they leave the live plan (which every
    placement, scenario, order list and the planning page read), and stay in the plans
    it superseded and on its work orders (planned start and end)."""
    acts = ProductionActivities(session_factory)
    shipped, other = make_order(session, team_id), make_order(session, team_id)
    for order in (shipped, other):
        acts.schedule_order(ProductionOrderInput(production_order_id=order.id or 0))
    acts.create_work_orders(ProductionOrderInput(production_order_id=shipped.id or 0))
    live = session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()
    earlier = Plan(version=live.version - 1, status=PlanStatus.SUPERSEDED, source="test")
    session.add(earlier)
    session.flush()
    session.add(
        PlanAssignment(
            plan_id=earlier.id or 0,
            production_order_id=shipped.id or 0,
            seq=1,
            work_centre_id=session.exec(select(WorkCentre.id)).first() or 0,
            start=datetime.now(UTC) - timedelta(days=2),
            end=datetime.now(UTC) - timedelta(days=1),
        )
    )
    session.commit()

    def slots(plan: Plan, order: ProductionOrder) -> int:
        return len(
            session.exec(
                select(PlanAssignment).where(
                    PlanAssignment.plan_id == plan.id,
                    PlanAssignment.production_order_id == order.id,
                )
            ).all()
        )

    assert slots(live, shipped) == slots(live, other) == 3
    for _ in range(2):  # a retried activity removes nothing more
        acts.ship_order(ProductionOrderInput(production_order_id=shipped.id or 0))
        session.expire_all()
        assert (slots(live, shipped), slots(live, other), slots(earlier, shipped)) == (0, 3, 1)
    work_orders = session.exec(
        select(WorkOrder).where(WorkOrder.production_order_id == shipped.id)
    ).all()
    assert work_orders and all(w.planned_start < w.planned_end for w in work_orders)
