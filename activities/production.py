"""Activities of the production-order workflow: design gate, fabric reservation, placement
in the live plan, work orders, completions and shipping. Each is idempotent (keyed by the
order and step) and writes its event in the same transaction as its state change."""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select
from temporalio import activity

from activities.base import (
    SessionFactory,
    add_event,
    add_event_once,
    style_by_code,
    translate_domain_errors,
)
from models.errors import Conflict, InvalidInput, LeaseNotHeld, NotFound
from models.failpoints import failpoint
from models.outcomes import completion_of, rejection_of
from models.rules import fabric_requirement, size_totals, total
from models.schemas import (
    LEASED_STATUSES,
    CheckDesignGateResult,
    CompensateInput,
    CompensationResult,
    CompleteWorkOrderInput,
    CompleteWorkOrderResult,
    CreateWorkOrdersResult,
    DemandLineStatus,
    DesignGateEventInput,
    FabricLateInput,
    FabricPurchase,
    MakeUpInput,
    MakeUpResult,
    NextStepInput,
    NextStepResult,
    PlannedOperation,
    PlanStatus,
    ProductionOrderInput,
    ProductionOrderStatus,
    PurchaseOrderStatus,
    RejectWorkOrderInput,
    RejectWorkOrderResult,
    ReleaseWorkOrderInput,
    ReplanInput,
    ReplanResult,
    ReservationStatus,
    ReserveFabricResult,
    ScheduleOrderResult,
    Shift,
    ShipOrderResult,
    StartOrderResult,
    TechPackStatus,
    WorkOrderStatus,
)
from models.tables import (
    BomLine,
    BuyerTeam,
    DemandLine,
    Fabric,
    FabricPurchaseOrder,
    FabricReservation,
    Factory,
    Plan,
    PlanAssignment,
    ProductionOrder,
    RoutingStep,
    Shipment,
    UTCDateTime,
    WorkCentre,
    WorkOrder,
    live_plan_ids,
)
from optimizer.calendar import closed_also, closed_from_shifts, open_minutes, opened
from optimizer.placement import (
    OperationToPlace,
    Placement,
    PlacementProblem,
    WorkCentreSlot,
    earliest_slot,
    place_order,
    run_minutes,
)

# Good plus defective may exceed the planned quantity by this share (cutting over-allowance).
COMPLETION_TOLERANCE = 0.05
# Attempts of one operation (the first and its make-ups) before a shortfall is accepted.
MAX_ATTEMPTS = 3
TRANSFER_MINUTES = 12 * 60
# How far ahead the live plan knows factory calendars; past it, time is open. A plan a
# year long is a plan that has stopped meaning anything.
CALENDAR_DAYS = 366


def _load_order(session: Session, order_id: int) -> ProductionOrder:
    order = session.get(ProductionOrder, order_id)
    if order is None:
        raise NotFound(f"production order {order_id} not found")
    return order


def routing_of(session: Session, style_code: str) -> list[RoutingStep]:
    """The style's operations in routing order."""
    style = style_by_code(session, style_code)
    return list(
        session.exec(
            select(RoutingStep)
            .where(RoutingStep.style_id == style.id)
            .order_by(col(RoutingStep.seq))
        ).all()
    )


def _live_assignments(
    session: Session, order_id: int
) -> list[tuple[PlanAssignment, WorkCentre, Plan]]:
    """Where the live plan puts the order's operations, in routing order."""
    return list(
        session.exec(
            select(PlanAssignment, WorkCentre, Plan)
            .join(Plan, col(Plan.id) == col(PlanAssignment.plan_id))
            .join(WorkCentre, col(WorkCentre.id) == col(PlanAssignment.work_centre_id))
            .where(Plan.status == PlanStatus.LIVE, PlanAssignment.production_order_id == order_id)
            .order_by(col(PlanAssignment.seq))
        ).all()
    )


def _planned(
    a: PlanAssignment, factory_id: int, kinds: dict[int, str], quantity: int
) -> PlannedOperation:
    return PlannedOperation(
        seq=a.seq,
        operation_kind=kinds[a.seq],
        factory_id=factory_id,
        work_centre_id=a.work_centre_id,
        quantity=quantity,
        start=a.start,
        end=a.end,
    )


def _set_order_status(
    session: Session, order: ProductionOrder, status: ProductionOrderStatus
) -> None:
    if order.status != status:
        order.status = status
        assert order.id is not None
        add_event(session, "production_order", order.id, f"status:{status.value}")


def _require_lease(wo: WorkOrder, holder: str, doing: str) -> None:
    """Only the claimant holding the lease may record an outcome."""
    if wo.status not in LEASED_STATUSES:
        raise LeaseNotHeld(f"work order {wo.id} is {wo.status.value}; claim it before {doing}")
    if wo.lease_holder != holder:
        raise LeaseNotHeld(f"work order {wo.id} is leased to another claimant")


def live_plan_for_update(session: Session) -> Plan:
    """The live plan with its row lock taken: bumping the revision first makes concurrent
    placements queue behind each other on SQLite (write lock) and PostgreSQL (row lock)."""
    bumped = session.execute(
        sa.update(Plan)
        .where(col(Plan.status) == PlanStatus.LIVE)
        .values(revision=col(Plan.revision) + 1)
        .returning(col(Plan.id))
    ).scalar_one_or_none()
    if bumped is None:
        session.add(Plan(version=1, status=PlanStatus.LIVE, source="initial", revision=1))
        session.flush()
    return session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()


@dataclass(frozen=True)
class DefectSpike:
    """When a work centre goes on a quality hold by itself: its latest ``completions``
    completions with ``share`` or more of their pieces defective. (The simulated factories
    average 2 %; one bad lot is a make-up, not a spike.) Set by ``C2B_DEFECT_SPIKE_*``."""

    completions: int = 5
    share: float = 0.2

    def of(self, latest: list[tuple[int, int]]) -> float | None:
        """The defect share of a work centre's ``latest`` completions (good, defective),
        if it is a spike."""
        if len(latest) < self.completions:
            return None
        good, defective = sum(g for g, _ in latest), sum(d for _, d in latest)
        share = defective / (good + defective) if good + defective else 0.0
        return share if share >= self.share else None


class ProductionActivities:
    def __init__(
        self, session_factory: SessionFactory, defect_spike: DefectSpike | None = None
    ) -> None:
        self._sessions = session_factory
        self._spike = defect_spike or DefectSpike()

    @activity.defn
    @translate_domain_errors
    def start_order(self, inp: ProductionOrderInput) -> StartOrderResult:
        """An order's first steps in one transaction when none of them has to wait: the
        design gate, the fabric reservation, the placement and the work orders, each as
        its own activity below does it. A tech pack not approved stops it after the gate,
        a fabric shortage rolls it back; the workflow then goes step by step from there.
        Asked again, each step finds its work done and returns it."""
        gate: CheckDesignGateResult | None = None
        try:
            with self._sessions() as session, session.begin():
                order = _load_order(session, inp.production_order_id)
                gate = _design_gate(session, order)
                if not gate.approved:
                    return StartOrderResult(gate=gate)
                self._reserve(session, inp.production_order_id)
                _schedule(session, order)
                work_order_ids = _create_work_orders(session, order)
        except _Shortage:
            assert gate is not None
            return StartOrderResult(gate=gate, fabric_short=True)
        failpoint("work_orders_created")  # the fault test's worker dies here
        return StartOrderResult(gate=gate, work_order_ids=work_order_ids)

    @activity.defn
    @translate_domain_errors
    def check_design_gate(self, inp: ProductionOrderInput) -> CheckDesignGateResult:
        """Whether the order's style has an approved tech pack (bill of materials and routing)."""
        with self._sessions() as session:
            return _design_gate(session, _load_order(session, inp.production_order_id))

    @activity.defn
    @translate_domain_errors
    def await_design(self, inp: ProductionOrderInput) -> None:
        """The order waits for its style's tech pack: say so on the order and its trail."""
        with self._sessions() as session, session.begin():
            order = _load_order(session, inp.production_order_id)
            if order.status == ProductionOrderStatus.CREATED:
                _set_order_status(session, order, ProductionOrderStatus.AWAITING_DESIGN)

    @activity.defn
    @translate_domain_errors
    def escalate_design_gate(self, inp: DesignGateEventInput) -> None:
        """The tech pack is overdue: one ``design_gate_escalated`` event for the designers."""
        with self._sessions() as session, session.begin():
            order = _load_order(session, inp.production_order_id)
            add_event_once(
                session,
                "production_order",
                order.id or 0,
                "design_gate_escalated",
                style=order.style_code,
                waited_hours=inp.waited_hours,
            )

    @activity.defn
    @translate_domain_errors
    def cancel_for_design_gate(self, inp: DesignGateEventInput) -> None:
        """No tech pack in time: the order is cancelled as the cancellation saga cancels
        it (nothing was reserved or released yet), its customers' lines declined."""
        with self._sessions() as session, session.begin():
            order = _load_order(session, inp.production_order_id)
            reason = (
                f"the tech pack of {order.style_code} was not approved within "
                f"{inp.waited_hours:g} hours"
            )
            _compensate(session, order, reason, actor="system")

    @activity.defn
    @translate_domain_errors
    def reserve_fabric(self, inp: ProductionOrderInput) -> ReserveFabricResult:
        """Reserve every fabric of the bill of materials, all or nothing. The stock check and
        the decrement are one conditional UPDATE, so two orders racing for the last metres
        cannot both get them. If the stock is short, nothing is reserved and a purchase
        order goes to the supplier of each short fabric (one open purchase per fabric and
        order: asked again, it returns the open ones)."""
        order_id = inp.production_order_id
        try:
            with self._sessions() as session, session.begin():
                return self._reserve(session, order_id)
        except _Shortage as short:
            with self._sessions() as session, session.begin():
                return ReserveFabricResult(
                    reservation_ids=[],
                    metres=0.0,
                    purchase_orders=_purchase(session, order_id, short.needs),
                )

    def _reserve(self, session: Session, order_id: int) -> ReserveFabricResult:
        order = _load_order(session, order_id)
        existing = session.exec(
            select(FabricReservation).where(FabricReservation.production_order_id == order_id)
        ).all()
        if existing:
            return ReserveFabricResult(
                reservation_ids=[r.id or 0 for r in existing],
                metres=sum(r.metres for r in existing),
            )
        style = style_by_code(session, order.style_code)
        bom = session.exec(select(BomLine).where(BomLine.style_id == style.id)).all()
        reservations: list[FabricReservation] = []
        short: list[tuple[int, float]] = []
        for line in bom:
            try:
                metres = fabric_requirement(
                    order.size_breakdown, line.consumption_by_size, line.wastage_pct
                )
            except ValueError as err:
                raise InvalidInput(str(err), field="bill_of_materials") from err
            if short:  # already short: only find out which other fabrics are short too
                fabric = session.get(Fabric, line.fabric_id)
                if fabric is None or fabric.metres_on_hand < metres:
                    short.append((line.fabric_id, metres))
                continue
            taken = session.execute(
                sa.update(Fabric)
                .where(col(Fabric.id) == line.fabric_id, col(Fabric.metres_on_hand) >= metres)
                .values(metres_on_hand=col(Fabric.metres_on_hand) - metres)
                .returning(col(Fabric.id))
            ).scalar_one_or_none()
            if taken is None:
                short.append((line.fabric_id, metres))
                continue
            reservations.append(
                FabricReservation(
                    production_order_id=order_id, fabric_id=line.fabric_id, metres=metres
                )
            )
        if short:
            raise _Shortage(short)  # rolls back the metres taken so far in this transaction
        session.add_all(reservations)
        _set_order_status(session, order, ProductionOrderStatus.FABRIC_RESERVED)
        session.flush()
        add_event(
            session,
            "production_order",
            order_id,
            "fabric_reserved",
            metres=round(sum(r.metres for r in reservations), 3),
        )
        return ReserveFabricResult(
            reservation_ids=[r.id or 0 for r in reservations],
            metres=sum(r.metres for r in reservations),
        )

    @activity.defn
    @translate_domain_errors
    def escalate_fabric_late(self, inp: FabricLateInput) -> None:
        """A purchase is overdue (lead time plus slack): one ``fabric_late`` event."""
        with self._sessions() as session, session.begin():
            order = _load_order(session, inp.production_order_id)
            add_event_once(
                session,
                "production_order",
                order.id or 0,
                "fabric_late",
                purchase_orders=",".join(map(str, inp.purchase_order_ids)),
            )

    @activity.defn
    @translate_domain_errors
    def schedule_order(self, inp: ProductionOrderInput) -> ScheduleOrderResult:
        """Place the order's routing into the live plan at the earliest free slots."""
        with self._sessions() as session, session.begin():
            return _schedule(session, _load_order(session, inp.production_order_id))

    @activity.defn
    @translate_domain_errors
    def create_work_orders(self, inp: ProductionOrderInput) -> CreateWorkOrdersResult:
        """One planned work order per placed operation, at the plan's factory and work centre."""
        with self._sessions() as session, session.begin():
            order = _load_order(session, inp.production_order_id)
            result = CreateWorkOrdersResult(work_order_ids=_create_work_orders(session, order))
        failpoint("work_orders_created")  # the fault test's worker dies here
        return result

    @activity.defn
    def release_work_order(self, inp: ReleaseWorkOrderInput) -> None:
        """Make a planned work order visible to its factory's claim queue."""
        with self._sessions() as session, session.begin():
            _release(session, inp.work_order_id)

    @activity.defn
    @translate_domain_errors
    def record_completion(self, inp: CompleteWorkOrderInput) -> CompleteWorkOrderResult:
        """Persist a factory's completion once. The same idempotency key returns the stored
        answer; any other completion of a completed work order is a conflict."""
        with self._sessions() as session, session.begin():
            wo = session.get(WorkOrder, inp.work_order_id)
            if wo is None or wo.factory_id != inp.factory_id:
                raise NotFound(f"work order {inp.work_order_id} not found")
            good, defective = total(inp.good), total(inp.defective)
            if wo.status == WorkOrderStatus.COMPLETED:
                if inp.idempotency_key is not None and wo.completion_key == inp.idempotency_key:
                    centre = session.get(WorkCentre, wo.work_centre_id)
                    return completion_of(wo, on_hold=centre is not None and centre.on_hold)
                raise Conflict(f"work order {wo.id} is already completed")
            _require_lease(wo, inp.lease_holder, "completing")
            for entry in [*inp.good, *inp.defective]:
                if entry.size not in wo.size_breakdown:
                    raise InvalidInput(
                        f"size {entry.size!r} is not in this order's size run "
                        f"{sorted(wo.size_breakdown)}",
                        field="good",
                    )
            limit = int(wo.quantity * (1 + COMPLETION_TOLERANCE))
            if good + defective > limit:
                raise InvalidInput(
                    f"good {good} + defective {defective} exceeds the planned {wo.quantity} "
                    f"plus {COMPLETION_TOLERANCE:.0%} tolerance ({limit})",
                    field="good",
                )
            wo.status = WorkOrderStatus.COMPLETED
            wo.good_quantity, wo.defective_quantity = good, defective
            wo.good_by_size = size_totals((e.size, e.quantity) for e in inp.good)
            wo.completion_key = inp.idempotency_key
            wo.completed_at = datetime.now(UTC)
            wo.lease_holder, wo.lease_expires_at = None, None
            _free_rest_of_slot(session, wo, wo.completed_at)
            add_event(
                session,
                "work_order",
                wo.id or 0,
                "completed",
                inp.actor or inp.lease_holder,
                good=good,
                defective=defective,
                factory_id=wo.factory_id,
            )
            held = _hold_on_defect_spike(session, wo, self._spike)
            return completion_of(wo, on_hold=held)

    @activity.defn
    @translate_domain_errors
    def plan_make_up(self, inp: MakeUpInput) -> MakeUpResult:
        """A completed work order short of good pieces gets a make-up work order for the
        shortfall, size by size, at the same work centre: a recut for the cutting (new
        panels; the fabric comes out of the cutting over-allowance), a rework for a later
        operation. Planned (``_place_make_up``: in the live plan, at the work centre's
        first free time), not released: the workflow releases it. After
        ``MAX_ATTEMPTS`` attempts of one operation the shortfall is accepted (an event
        says so) and the order goes on with the pieces it has. Asked again, it returns
        the make-up it made."""
        with self._sessions() as session, session.begin():
            return _plan_make_up(session, inp.work_order_id)

    @activity.defn
    @translate_domain_errors
    def next_step(self, inp: NextStepInput) -> NextStepResult:
        """After a completion, in one transaction: the make-up of its shortfall
        (``plan_make_up``) or, when nothing is short, the release of the next operation's
        work order."""
        with self._sessions() as session, session.begin():
            made = _plan_make_up(session, inp.completed_work_order_id)
            if made.work_order_id is not None or inp.next_work_order_id is None:
                return NextStepResult(make_up=made, next_released=False)
            _release(session, inp.next_work_order_id)
            return NextStepResult(make_up=made, next_released=True)

    @activity.defn
    @translate_domain_errors
    def replan_work_order(self, inp: ReplanInput) -> ReplanResult:
        """A disruption (a rejection, a lease run out twice) moves the operation: the failed
        work order is withdrawn if nobody holds it, and a new one is placed at the earliest
        free slot of another eligible work centre, away from every centre that failed this
        operation, in a factory that is not down. Only if there is none does it go back to
        the same centre. The plan's slot moves with it. Asked again, it returns the new one."""
        with self._sessions() as session, session.begin():
            wo = session.get(WorkOrder, inp.work_order_id)
            if wo is None:
                raise NotFound(f"work order {inp.work_order_id} not found")
            again = _next_attempt(session, wo)
            if again is not None:
                return ReplanResult(work_order_id=again.id, work_centre_id=again.work_centre_id)
            movable = (WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED, WorkOrderStatus.REJECTED)
            if wo.status not in movable:
                # Claimed again (or done) since the disruption: it goes on where it is.
                return ReplanResult(work_order_id=None)
            failed = set(
                session.exec(
                    select(WorkOrder.work_centre_id).where(
                        WorkOrder.production_order_id == wo.production_order_id,
                        WorkOrder.seq == wo.seq,
                        col(WorkOrder.status).in_(
                            [WorkOrderStatus.REJECTED, WorkOrderStatus.WITHDRAWN]
                        ),
                    )
                ).all()
            )
            plan = live_plan_for_update(session)
            origin = datetime.now(UTC).replace(second=0, microsecond=0)
            step = next(
                r
                for r in routing_of(
                    session, _load_order(session, wo.production_order_id).style_code
                )
                if r.seq == wo.seq
            )
            all_centres = [
                wc
                for wc in session.exec(select(WorkCentre).order_by(col(WorkCentre.id))).all()
                if wo.operation_kind in wc.operation_kinds
            ]
            in_use = {wc.id for wc in centres_in_use(session)}
            centres = [wc for wc in all_centres if wc.id in in_use]
            others = [wc for wc in centres if wc.id not in failed and wc.id != wo.work_centre_id]
            same = not others
            pool = others or [wc for wc in centres if wc.id == wo.work_centre_id]
            if not pool:
                # Nowhere else, and its own factory is down: it stays, to run when the
                # factory is back (a rejected one is offered there again).
                add_event_once(
                    session,
                    "work_order",
                    wo.id or 0,
                    "no_alternative",
                    reason=inp.reason,
                    operation=wo.operation_kind,
                )
                if wo.status != WorkOrderStatus.REJECTED:
                    return ReplanResult(work_order_id=None)
                pool = [wc for wc in all_centres if wc.id == wo.work_centre_id]
            if wo.status in (WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED):
                wo.status = WorkOrderStatus.WITHDRAWN
                add_event(session, "work_order", wo.id or 0, "withdrawn", reason=inp.reason)
            slot = session.exec(
                select(PlanAssignment).where(
                    PlanAssignment.plan_id == plan.id,
                    PlanAssignment.production_order_id == wo.production_order_id,
                    PlanAssignment.seq == wo.seq,
                )
            ).first()
            applied = next(
                (wc for wc in pool if slot is not None and wc.id == slot.work_centre_id), None
            )
            if applied is not None and slot is not None:
                # An applied scenario moved the operation here (activities.scenarios): the
                # new work order goes where the live plan now has it, from now at the
                # earliest.
                placed = Placement(
                    seq=wo.seq,
                    work_centre_id=applied.id or 0,
                    factory_id=applied.factory_id,
                    start=_minutes(slot.start, origin),
                    end=_minutes(slot.start, origin) + _minutes(slot.end, slot.start),
                )
            else:
                # The failed operation's own slot is given up.
                busy = _busy_minutes(session, plan, origin, skip={(wo.production_order_id, wo.seq)})
                (placed,) = place_order(
                    PlacementProblem(
                        release_minute=0,
                        operations=[
                            OperationToPlace(
                                seq=wo.seq,
                                operation_kind=wo.operation_kind,
                                quantity=wo.quantity,
                                setup_minutes=step.setup_minutes,
                                standard_minutes=step.standard_minutes,
                                eligible=_slots(
                                    pool,
                                    busy,
                                    factory_closed_time(
                                        session, origin, {wc.factory_id for wc in pool}
                                    ),
                                    origin,
                                ),
                            )
                        ],
                    )
                )
            start = origin + timedelta(minutes=placed.start)
            end = origin + timedelta(minutes=placed.end)
            for a in session.exec(
                select(PlanAssignment).where(
                    PlanAssignment.plan_id == plan.id,
                    PlanAssignment.production_order_id == wo.production_order_id,
                    PlanAssignment.seq == wo.seq,
                )
            ).all():
                a.work_centre_id, a.start, a.end = placed.work_centre_id, start, end
            made = WorkOrder(
                production_order_id=wo.production_order_id,
                seq=wo.seq,
                attempt=wo.attempt + 1,
                operation_kind=wo.operation_kind,
                factory_id=placed.factory_id,
                work_centre_id=placed.work_centre_id,
                quantity=wo.quantity,
                size_breakdown=dict(wo.size_breakdown),
                planned_start=start,
                planned_end=end,
            )
            session.add(made)
            session.flush()
            add_event(
                session,
                "production_order",
                wo.production_order_id,
                "replanned",
                work_order_id=made.id,
                instead_of=wo.id,
                work_centre_id=placed.work_centre_id,
                reason=inp.reason,
                same_work_centre=same,
            )
            add_event(session, "work_order", made.id or 0, "created", "system", replaces=wo.id)
            return ReplanResult(
                work_order_id=made.id,
                work_centre_id=placed.work_centre_id,
                same_work_centre=same,
            )

    @activity.defn
    @translate_domain_errors
    def compensate_cancellation(self, inp: CompensateInput) -> CompensationResult:
        """Undo what the order did, latest first, in one transaction (a crash midway
        leaves nothing half undone; the retry does it all). Every step moves rows out of a
        state only they can be in, so running it again undoes nothing twice:

        1. work orders not yet completed are withdrawn, claimed ones included (policy: a
           factory's next heartbeat or completion is refused; what it reported as
           progress stays on the work order's trail);
        2. the order's slots in the live plan are freed;
        3. fabric reservations go back to stock, unless the cutting has completed (then
           the fabric was cut: consumed);
        4. purchases not delivered are cancelled;
        5. the customers' lines are declined with the reason, and the order is cancelled.
        """
        with self._sessions() as session, session.begin():
            order = _load_order(session, inp.production_order_id)
            result = _compensate(session, order, inp.reason, inp.actor)
        failpoint("compensate_cancellation.after_commit")  # the fault test's worker dies here
        return result

    @activity.defn
    @translate_domain_errors
    def record_rejection(self, inp: RejectWorkOrderInput) -> RejectWorkOrderResult:
        """Persist a factory's refusal once, under the same rules as a completion: only the
        lease holder may; the same idempotency key returns the stored answer."""
        with self._sessions() as session, session.begin():
            wo = session.get(WorkOrder, inp.work_order_id)
            if wo is None or wo.factory_id != inp.factory_id:
                raise NotFound(f"work order {inp.work_order_id} not found")
            if wo.status == WorkOrderStatus.REJECTED:
                if inp.idempotency_key is not None and wo.rejection_key == inp.idempotency_key:
                    return rejection_of(wo)
                raise Conflict(f"work order {wo.id} is already rejected")
            _require_lease(wo, inp.lease_holder, "rejecting")
            wo.status = WorkOrderStatus.REJECTED
            wo.rejection_reason, wo.rejection_key = inp.reason, inp.idempotency_key
            wo.lease_holder, wo.lease_expires_at = None, None
            add_event(
                session,
                "work_order",
                wo.id or 0,
                "rejected",
                inp.actor or inp.lease_holder,
                reason=inp.reason,
            )
            return rejection_of(wo)

    @activity.defn
    @translate_domain_errors
    def ship_order(self, inp: ProductionOrderInput) -> ShipOrderResult:
        """Close the order: its customers' lines shipped, fabric consumed, order done."""
        with self._sessions() as session, session.begin():
            order = _load_order(session, inp.production_order_id)
            completed = session.exec(
                select(WorkOrder).where(
                    WorkOrder.production_order_id == order.id,
                    WorkOrder.status == WorkOrderStatus.COMPLETED,
                )
            ).all()
            # The last operation's good pieces, its make-ups included.
            last_seq = max((w.seq for w in completed), default=0)
            good = sum(w.good_quantity or 0 for w in completed if w.seq == last_seq)
            last = [w for w in completed if w.seq == last_seq]
            lines = session.exec(
                select(DemandLine)
                .where(
                    DemandLine.production_order_id == order.id,
                    DemandLine.status == DemandLineStatus.IN_PRODUCTION,
                )
                .order_by(col(DemandLine.need_by), col(DemandLine.line_no))
            ).all()
            shipped, short = _ship_lines(list(lines), last)
            session.add_all(
                Shipment(
                    production_order_id=order.id or 0,
                    demand_line_id=line.id or 0,
                    customer_ref=line.customer_ref,
                    size=line.size,
                    quantity=line.quantity,
                    personalisation=line.personalisation,
                    work_order_ids=sorted(w.id or 0 for w in last),
                )
                for line in lines
                if line.status == DemandLineStatus.SHIPPED
            )
            for res in session.exec(
                select(FabricReservation).where(
                    FabricReservation.production_order_id == order.id,
                    FabricReservation.status == ReservationStatus.RESERVED,
                )
            ).all():
                res.status = ReservationStatus.CONSUMED
            _leave_the_live_plan(session, order.id or 0)
            if order.status != ProductionOrderStatus.DONE:
                order.good_quantity = good
                order.completed_at = datetime.now(UTC)
                _set_order_status(session, order, ProductionOrderStatus.DONE)
                add_event(
                    session,
                    "production_order",
                    order.id or 0,
                    "shipped",
                    lines=shipped,
                    short_lines=short,
                    good=good,
                )
            session.flush()
            # A retry answers as the first run did: the order's shipments, all of them.
            shipments = session.exec(
                select(sa.func.count())
                .select_from(Shipment)
                .where(Shipment.production_order_id == order.id)
            ).one()
            result = ShipOrderResult(shipped_lines=shipments, good_quantity=good)
        failpoint("ship_order.after_commit")  # the fault test's worker dies here
        return result


def _design_gate(session: Session, order: ProductionOrder) -> CheckDesignGateResult:
    style = style_by_code(session, order.style_code)
    has_routing = bool(routing_of(session, style.code))
    approved = style.tech_pack_status == TechPackStatus.APPROVED and has_routing
    team = session.get(BuyerTeam, order.team_id)
    return CheckDesignGateResult(
        style_code=style.code, approved=approved, team_code=team.code if team else ""
    )


def _schedule(session: Session, order: ProductionOrder) -> ScheduleOrderResult:
    """Place the order's routing into the live plan at the earliest free slots; a retry
    finds it placed and leaves the plan as it is."""
    order_id = order.id or 0
    routing = routing_of(session, order.style_code)
    kinds = {r.seq: r.operation_kind for r in routing}
    placed = _live_assignments(session, order_id)
    if not placed:
        plan = live_plan_for_update(session)
        # Under the plan's lock: an overlapping attempt may have placed it meanwhile.
        placed = _live_assignments(session, order_id)
    if placed:
        # A retry: the order is in the plan already, which is left as it is.
        return ScheduleOrderResult(
            plan_version=placed[0][2].version,
            operations=[_planned(a, wc.factory_id, kinds, order.quantity) for a, wc, _ in placed],
        )
    if not routing:
        raise InvalidInput(f"style {order.style_code} has no routing", field="routing")
    placed_now = place_into_plan(session, plan, order, routing)
    planned = [_planned(a, factory_id, kinds, order.quantity) for a, factory_id in placed_now]
    _set_order_status(session, order, ProductionOrderStatus.SCHEDULED)
    add_event(
        session,
        "production_order",
        order_id,
        "scheduled",
        plan_version=plan.version,
        operations=len(planned),
        finish=planned[-1].end.isoformat(),
    )
    return ScheduleOrderResult(plan_version=plan.version, operations=planned)


def place_into_plan(
    session: Session, plan: Plan, order: ProductionOrder, routing: list[RoutingStep]
) -> list[tuple[PlanAssignment, int]]:
    """The order's routing at the earliest free slots of ``plan`` from now, in the open
    time of work centres in use (their factory up, no quality hold): its slots, added to
    the session, each with its factory's id. The caller holds the plan's lock."""
    origin = datetime.now(UTC).replace(second=0, microsecond=0)
    centres = centres_in_use(session)
    busy = _busy_minutes(session, plan, origin)
    closed = factory_closed_time(session, origin, {wc.factory_id for wc in centres})
    operations = []
    for step in routing:
        eligible = _slots(
            [wc for wc in centres if step.operation_kind in wc.operation_kinds],
            busy,
            closed,
            origin,
        )
        if not eligible:
            raise InvalidInput(
                f"no work centre can do operation {step.operation_kind!r}",
                field="routing",
            )
        operations.append(
            OperationToPlace(
                seq=step.seq,
                operation_kind=step.operation_kind,
                quantity=order.quantity,
                setup_minutes=step.setup_minutes,
                standard_minutes=step.standard_minutes,
                eligible=eligible,
            )
        )
    placements = place_order(
        PlacementProblem(release_minute=0, transfer_minutes=TRANSFER_MINUTES, operations=operations)
    )
    assignments = [
        PlanAssignment(
            plan_id=plan.id or 0,
            production_order_id=order.id or 0,
            seq=pl.seq,
            work_centre_id=pl.work_centre_id,
            start=origin + timedelta(minutes=pl.start),
            end=origin + timedelta(minutes=pl.end),
        )
        for pl in placements
    ]
    session.add_all(assignments)
    return [(a, pl.factory_id) for a, pl in zip(assignments, placements, strict=True)]


def _create_work_orders(session: Session, order: ProductionOrder) -> list[int]:
    """One planned work order per placed operation; a retry returns the ones made."""
    existing = session.exec(
        select(WorkOrder)
        .where(WorkOrder.production_order_id == order.id)
        .order_by(col(WorkOrder.seq))
    ).all()
    if existing:
        return [w.id or 0 for w in existing]
    rows = _live_assignments(session, order.id or 0)
    if not rows:
        raise Conflict(f"production order {order.id} is not in the live plan")
    kinds = {r.seq: r.operation_kind for r in routing_of(session, order.style_code)}
    work_orders = [
        WorkOrder(
            production_order_id=order.id or 0,
            seq=a.seq,
            operation_kind=kinds[a.seq],
            factory_id=wc.factory_id,
            work_centre_id=wc.id or 0,
            quantity=order.quantity,
            size_breakdown=dict(order.size_breakdown),
            planned_start=a.start,
            planned_end=a.end,
        )
        for a, wc, _plan in rows
    ]
    session.add_all(work_orders)
    session.flush()
    for wo in work_orders:
        add_event(
            session,
            "work_order",
            wo.id or 0,
            "created",
            production_order_id=order.id,
            factory_id=wo.factory_id,
        )
    _set_order_status(session, order, ProductionOrderStatus.IN_PRODUCTION)
    return [w.id or 0 for w in work_orders]


def _release(session: Session, work_order_id: int) -> None:
    """Make a planned work order visible to its factory's claim queue (once)."""
    released = session.execute(
        sa.update(WorkOrder)
        .where(
            col(WorkOrder.id) == work_order_id,
            col(WorkOrder.status) == WorkOrderStatus.PLANNED,
        )
        .values(status=WorkOrderStatus.RELEASED, released_at=datetime.now(UTC))
        .returning(col(WorkOrder.id))
    ).scalar_one_or_none()
    if released is not None:
        add_event(session, "work_order", work_order_id, "released")


def _free_rest_of_slot(session: Session, wo: WorkOrder, done_at: datetime) -> None:
    """A completed operation's slot in the live plan ends when it was done: a factory that
    finishes early gives the work centre's time back to the orders placed after it.

    It also keeps placements cheap: ``_busy_minutes`` reads only the slots still ahead,
    and without this every operation ever completed early stayed ahead in the plan (at
    1,000 orders a placement read 3,000 slots: a quarter of the worker's Python time in
    bench/orchestration.py, by py-spy). The plan's revision is left alone: scenarios take
    done operations out of their problem, so none is based on this slot."""
    session.execute(
        sa.update(PlanAssignment)
        .where(
            col(PlanAssignment.plan_id).in_(live_plan_ids()),
            col(PlanAssignment.production_order_id) == wo.production_order_id,
            col(PlanAssignment.seq) == wo.seq,
            col(PlanAssignment.end) > done_at,
        )
        .values(
            start=sa.case(
                (col(PlanAssignment.start) > done_at, sa.literal(done_at, UTCDateTime())),
                else_=col(PlanAssignment.start),
            ),
            end=done_at,
        )
        # No PlanAssignment object is loaded in this session: nothing to synchronise.
        .execution_options(synchronize_session=False)
    )


def _leave_the_live_plan(session: Session, order_id: int) -> int:
    """An order's slots leave the live plan as it ships or is cancelled; how many. A
    shipped order's are history, which the plans it superseded and its work orders
    (planned start and end) keep. Left in, they piled up until the next scenario was
    applied, and every read of the live plan (placements, scenarios, order lists, the
    planning page) grew with them (bench/history.py). It leaves the plan's revision
    alone, as a completion's trimmed slot does: a scenario's apply rebases over orders
    gone from the live plan since its snapshot (a cancellation takes the plan's lock
    before it calls this)."""
    return len(
        session.execute(
            sa.delete(PlanAssignment)
            .where(
                col(PlanAssignment.plan_id).in_(live_plan_ids()),
                col(PlanAssignment.production_order_id) == order_id,
            )
            .returning(col(PlanAssignment.id))
            .execution_options(synchronize_session=False)
        ).all()
    )


def _next_attempt(session: Session, wo: WorkOrder) -> WorkOrder | None:
    """The work order made after ``wo`` for the same operation (a make-up or a re-plan)."""
    return session.exec(
        select(WorkOrder).where(
            WorkOrder.production_order_id == wo.production_order_id,
            WorkOrder.seq == wo.seq,
            WorkOrder.attempt == wo.attempt + 1,
        )
    ).first()


def _plan_make_up(session: Session, work_order_id: int) -> MakeUpResult:
    """The make-up of a completed work order's shortfall (``plan_make_up``)."""
    wo = session.get(WorkOrder, work_order_id)
    if wo is None:
        raise NotFound(f"work order {work_order_id} not found")
    if wo.status != WorkOrderStatus.COMPLETED:
        raise Conflict(f"work order {wo.id} is {wo.status.value}, not completed")
    good = wo.good_by_size or {}
    short = {
        size: planned - good.get(size, 0)
        for size, planned in wo.size_breakdown.items()
        if planned > good.get(size, 0)
    }
    quantity = sum(short.values())
    if not quantity:
        return MakeUpResult(work_order_id=None)
    kind = "recut" if wo.seq == 1 else "rework"
    made = _next_attempt(session, wo)
    if made is not None:
        return MakeUpResult(work_order_id=made.id, kind=kind, quantity=made.quantity)
    if wo.attempt >= MAX_ATTEMPTS:
        add_event_once(
            session,
            "production_order",
            wo.production_order_id,
            f"shortfall_accepted:{wo.seq}",
            work_order_id=wo.id,
            short=quantity,
        )
        return MakeUpResult(work_order_id=None)
    start, end, moved, centre = _place_make_up(session, wo, quantity)
    made = WorkOrder(
        production_order_id=wo.production_order_id,
        seq=wo.seq,
        attempt=wo.attempt + 1,
        operation_kind=wo.operation_kind,
        factory_id=centre.factory_id,
        work_centre_id=centre.id or 0,
        quantity=quantity,
        size_breakdown=short,
        planned_start=start,
        planned_end=end,
    )
    session.add(made)
    session.flush()
    add_event(
        session,
        "production_order",
        wo.production_order_id,
        kind,
        work_order_id=made.id,
        of_work_order=wo.id,
        quantity=quantity,
        start=start.isoformat(),
        moved_operations=moved,
    )
    add_event(session, "work_order", made.id or 0, "created", "system", **{kind: wo.id})
    return MakeUpResult(work_order_id=made.id, kind=kind, quantity=quantity)


def _place_make_up(
    session: Session, wo: WorkOrder, quantity: int
) -> tuple[datetime, datetime, list[int], WorkCentre]:
    """When and where a make-up of ``quantity`` pieces of ``wo``'s operation runs: on the
    same work centre (or, if that is on a quality hold or its factory down, on the one
    in use that finishes it first), at its first free time from now in the live plan, so
    that later placements do not put work on top of it. The operation's slot in the live
    plan moves there. The order's later operations cannot start before it ends (plus a
    transfer between factories): those that would are moved behind it, each on its own
    work centre, with their work orders (planned, not yet released). Returns the
    make-up's start and end, the operations moved and its work centre."""
    order = _load_order(session, wo.production_order_id)
    routing = {r.seq: r for r in routing_of(session, order.style_code)}
    step = routing.get(wo.seq)
    plan = live_plan_for_update(session)
    origin = datetime.now(UTC).replace(second=0, microsecond=0)
    # This order's own slots are the ones being placed: they block nothing here.
    busy = _busy_minutes(session, plan, origin, skip={(order.id or 0, seq) for seq in routing})
    candidates = _make_up_centres(session, wo)
    slots = {a.seq: (a, wc) for a, wc, _plan in _live_assignments(session, order.id or 0)}
    closed = factory_closed_time(
        session,
        origin,
        {c.factory_id for c in candidates} | {wc.factory_id for _, wc in slots.values()},
    )

    def first_slot(centre: WorkCentre) -> tuple[int, int]:
        shut = centre_closed_time(closed, centre, origin)
        length = (
            run_minutes(step.setup_minutes, step.standard_minutes, quantity, centre.efficiency)
            if step is not None
            else max(1, open_minutes(shut, *_span(wo.planned_start, wo.planned_end, origin)))
        )
        return earliest_slot(busy.get(centre.id or 0, []), shut, 0, length)

    (start, end), centre = min(
        ((first_slot(c), c) for c in candidates), key=lambda found: (found[0][1], found[1].id)
    )
    made_start, made_end = origin + timedelta(minutes=start), origin + timedelta(minutes=end)
    ready, factory_id = end, centre.factory_id
    if wo.seq in slots:
        own, _ = slots[wo.seq]
        own.work_centre_id, own.start, own.end = centre.id or 0, made_start, made_end
    moved = []
    for seq in sorted(s for s in slots if s > wo.seq):
        slot, at_centre = slots[seq]
        if at_centre.factory_id != factory_id:
            ready += TRANSFER_MINUTES
        if slot.start >= origin + timedelta(minutes=ready):
            break  # it and the ones after it were placed behind each other already
        later_step, shut = routing.get(seq), centre_closed_time(closed, at_centre, origin)
        work = (
            run_minutes(
                later_step.setup_minutes,
                later_step.standard_minutes,
                order.quantity,
                at_centre.efficiency,
            )
            if later_step is not None
            else max(1, open_minutes(shut, *_span(slot.start, slot.end, origin)))
        )
        at, until = earliest_slot(busy.get(slot.work_centre_id, []), shut, ready, work)
        slot.start, slot.end = origin + timedelta(minutes=at), origin + timedelta(minutes=until)
        for later in session.exec(
            select(WorkOrder).where(
                WorkOrder.production_order_id == wo.production_order_id,
                WorkOrder.seq == seq,
                WorkOrder.status == WorkOrderStatus.PLANNED,
            )
        ).all():
            later.planned_start, later.planned_end = slot.start, slot.end
        moved.append(seq)
        ready, factory_id = until, at_centre.factory_id
    return made_start, made_end, moved, centre


def centres_in_use(session: Session) -> list[WorkCentre]:
    """The work centres new work may go to: their factory up, no quality hold."""
    return list(
        session.exec(
            select(WorkCentre)
            .join(Factory, col(Factory.id) == col(WorkCentre.factory_id))
            .where(col(Factory.is_down).is_(False), col(WorkCentre.on_hold).is_(False))
            .order_by(col(WorkCentre.id))
        ).all()
    )


def _make_up_centres(session: Session, wo: WorkOrder) -> list[WorkCentre]:
    """Where a make-up of ``wo`` may go: its own work centre while that is in use; else
    every work centre in use that does the operation (or its own, if there is none)."""
    own = session.exec(select(WorkCentre).where(WorkCentre.id == wo.work_centre_id)).one()
    in_use = centres_in_use(session)
    if any(wc.id == own.id for wc in in_use):
        return [own]
    return [wc for wc in in_use if wo.operation_kind in wc.operation_kinds] or [own]


def _hold_on_defect_spike(session: Session, wo: WorkOrder, rule: DefectSpike) -> bool:
    """After a completion, clean or not: a defect spike at its work centre puts the centre
    on a quality hold (``WorkCentre.on_hold``), with a ``defect_spike`` event. Whether the
    centre is on hold now: the completion's answer says so, and the API then tells the
    orders with unclaimed work there to move it (``api.routers.planning``)."""
    centre = session.get(WorkCentre, wo.work_centre_id)
    if centre is None or centre.on_hold:
        return centre is not None
    session.flush()
    latest = session.execute(
        sa.select(
            col(WorkOrder.id), col(WorkOrder.good_quantity), col(WorkOrder.defective_quantity)
        )
        .where(
            col(WorkOrder.work_centre_id) == centre.id,
            col(WorkOrder.status) == WorkOrderStatus.COMPLETED,
        )
        .order_by(col(WorkOrder.completed_at).desc(), col(WorkOrder.id).desc())
        .limit(rule.completions)
    ).all()
    share = rule.of([(good or 0, bad or 0) for _, good, bad in latest])
    if share is None:
        return False
    centre.on_hold = True
    add_event(
        session,
        "work_centre",
        centre.id or 0,
        "defect_spike",
        share=round(share, 3),
        work_orders=[wo_id for wo_id, _, _ in latest],
    )
    return True


def _ship_lines(lines: list[DemandLine], last: list[WorkOrder]) -> tuple[int, int]:
    """Hand the last operation's good pieces to the customers' lines, size by size, whole
    lines, earliest need-by first. A line the pieces do not cover (a shortfall accepted
    after the make-ups ran out) is declined with the reason, never marked shipped.
    Completions from before sizes were recorded cover every line, as they always did."""
    if any(w.good_by_size is None for w in last):
        for line in lines:
            line.status = DemandLineStatus.SHIPPED
        return len(lines), 0
    left = size_totals(item for w in last for item in (w.good_by_size or {}).items())
    shipped = short = 0
    for line in lines:
        if left.get(line.size, 0) >= line.quantity:
            left[line.size] -= line.quantity
            line.status = DemandLineStatus.SHIPPED
            shipped += 1
        else:
            line.status = DemandLineStatus.DECLINED
            line.reason = (
                f"short at production: {left.get(line.size, 0)} good pieces of size "
                f"{line.size} were left for this line of {line.quantity}"
            )
            short += 1
    return shipped, short


def _compensate(
    session: Session, order: ProductionOrder, reason: str, actor: str
) -> CompensationResult:
    """The cancellation saga's undo, in the caller's transaction (see
    ProductionActivities.compensate_cancellation)."""
    order_id = order.id or 0
    withdrawn = (
        session.execute(
            sa.update(WorkOrder)
            .where(
                col(WorkOrder.production_order_id) == order_id,
                col(WorkOrder.status).in_(
                    [WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED, *LEASED_STATUSES]
                ),
            )
            .values(status=WorkOrderStatus.WITHDRAWN, lease_holder=None, lease_expires_at=None)
            .returning(col(WorkOrder.id))
        )
        .scalars()
        .all()
    )
    for wo_id in withdrawn:
        add_event(session, "work_order", wo_id, "withdrawn", actor, reason=reason)
    live_plan_for_update(session)  # takes the plan's lock by bumping its revision
    freed = _leave_the_live_plan(session, order_id)
    cut = session.exec(
        select(WorkOrder).where(
            WorkOrder.production_order_id == order_id,
            WorkOrder.seq == 1,
            WorkOrder.status == WorkOrderStatus.COMPLETED,
        )
    ).first()
    released = consumed = 0.0
    for res in session.exec(
        select(FabricReservation).where(
            FabricReservation.production_order_id == order_id,
            FabricReservation.status == ReservationStatus.RESERVED,
        )
    ).all():
        if cut is not None:
            res.status = ReservationStatus.CONSUMED
            consumed += res.metres
            continue
        res.status = ReservationStatus.RELEASED
        released += res.metres
        session.execute(
            sa.update(Fabric)
            .where(col(Fabric.id) == res.fabric_id)
            .values(metres_on_hand=col(Fabric.metres_on_hand) + res.metres)
        )
    cancelled_pos = len(
        session.execute(
            sa.update(FabricPurchaseOrder)
            .where(
                col(FabricPurchaseOrder.production_order_id) == order_id,
                col(FabricPurchaseOrder.status) == PurchaseOrderStatus.ORDERED,
            )
            .values(status=PurchaseOrderStatus.CANCELLED)
            .returning(col(FabricPurchaseOrder.id))
        ).all()
    )
    lines = session.exec(
        select(DemandLine).where(
            DemandLine.production_order_id == order_id,
            DemandLine.status == DemandLineStatus.IN_PRODUCTION,
        )
    ).all()
    for line in lines:
        line.status = DemandLineStatus.DECLINED
        line.reason = f"production order {order_id} was cancelled: {reason}"
    result = CompensationResult(
        withdrawn_work_orders=len(withdrawn),
        freed_plan_slots=freed,
        released_metres=round(released, 3),
        consumed_metres=round(consumed, 3),
        cancelled_purchase_orders=cancelled_pos,
        declined_lines=len(lines),
    )
    if order.status != ProductionOrderStatus.CANCELLED:
        _set_order_status(session, order, ProductionOrderStatus.CANCELLED)
        add_event(
            session,
            "production_order",
            order_id,
            "cancelled",
            actor,
            reason=reason,
            **result.model_dump(),
        )
    return result


class _Shortage(Exception):
    """Raised inside the reservation's transaction to roll it back: (fabric id, metres)."""

    def __init__(self, needs: list[tuple[int, float]]) -> None:
        super().__init__(f"short of {len(needs)} fabrics")
        self.needs = needs


def _purchase(
    session: Session, order_id: int, needs: list[tuple[int, float]]
) -> list[FabricPurchase]:
    """The open purchase of each short fabric for this order, made if there is none."""
    order = _load_order(session, order_id)
    purchases = []
    for fabric_id, metres in needs:
        fabric = session.get(Fabric, fabric_id)
        if fabric is None:
            raise NotFound(f"fabric {fabric_id} not found", field="bill_of_materials")
        po = session.exec(
            select(FabricPurchaseOrder).where(
                FabricPurchaseOrder.production_order_id == order_id,
                FabricPurchaseOrder.fabric_id == fabric_id,
                FabricPurchaseOrder.status == PurchaseOrderStatus.ORDERED,
            )
        ).first()
        if po is None:
            po = FabricPurchaseOrder(
                production_order_id=order_id,
                fabric_id=fabric_id,
                supplier=fabric.supplier,
                metres=metres,
                expected_at=datetime.now(UTC) + timedelta(days=fabric.lead_time_days),
            )
            session.add(po)
            session.flush()
            add_event(
                session,
                "production_order",
                order_id,
                "fabric_ordered",
                purchase_order_id=po.id,
                fabric=fabric.code,
                metres=metres,
                on_hand=fabric.metres_on_hand,
                expected_at=po.expected_at.isoformat(),
            )
        purchases.append(
            FabricPurchase(
                purchase_order_id=po.id or 0,
                fabric_code=fabric.code,
                metres=po.metres,
                expected_at=po.expected_at,
                due_in_hours=max(0.0, (po.expected_at - datetime.now(UTC)).total_seconds() / 3600),
            )
        )
    _set_order_status(session, order, ProductionOrderStatus.AWAITING_FABRIC)
    return purchases


def plan_slot_rows(plan: Plan) -> sa.Select[int, int, int, datetime, datetime]:
    """The select of ``plan``'s slots as rows (production order id, seq, work centre id,
    start, end), to narrow with more conditions. Columns, not ORM objects: the plan grows
    with every open order, and building an object per slot was most of a placement's time
    (bench/orchestration.py)."""
    return sa.select(
        col(PlanAssignment.production_order_id),
        col(PlanAssignment.seq),
        col(PlanAssignment.work_centre_id),
        col(PlanAssignment.start),
        col(PlanAssignment.end),
    ).where(col(PlanAssignment.plan_id) == plan.id)


def _busy_minutes(
    session: Session, plan: Plan, origin: datetime, skip: Container[tuple[int, int]] = ()
) -> dict[int, list[tuple[int, int]]]:
    """Per work centre, the live plan's slots still ahead of ``origin``, in minutes from it;
    ``skip`` leaves out the slots of those (order, seq)."""
    busy: dict[int, list[tuple[int, int]]] = {}
    # A slot ending within the first minute is (0, 0) in whole minutes, which blocks
    # nothing: left out, so the slots just freed by completions are not read at all.
    ahead = origin + timedelta(minutes=1)
    for order_id, seq, work_centre_id, start, end in session.execute(
        plan_slot_rows(plan).where(col(PlanAssignment.end) >= ahead)
    ).all():
        if (order_id, seq) in skip:
            continue
        busy.setdefault(work_centre_id, []).append((_minutes(start, origin), _minutes(end, origin)))
    return busy


def _slots(
    centres: list[WorkCentre],
    busy: dict[int, list[tuple[int, int]]],
    closed: dict[int, list[tuple[int, int]]],
    origin: datetime,
) -> list[WorkCentreSlot]:
    return [
        WorkCentreSlot(
            work_centre_id=wc.id or 0,
            factory_id=wc.factory_id,
            efficiency=wc.efficiency,
            busy=busy.get(wc.id or 0, []),
            closed=centre_closed_time(closed, wc, origin),
        )
        for wc in centres
    ]


def centre_closed_time(
    factory_closed: dict[int, list[tuple[int, int]]], wc: WorkCentre, origin: datetime
) -> list[tuple[int, int]]:
    """A work centre's closed time: its factory's (``factory_closed_time``) and its own
    down periods."""
    return closed_also(factory_closed.get(wc.factory_id, []), period_minutes(wc.downtime, origin))


def factory_closed_time(
    session: Session, origin: datetime, factory_ids: Iterable[int] | None = None
) -> dict[int, list[tuple[int, int]]]:
    """Per factory, its closed time (outside its shifts, and its holidays, less the overtime
    applied, and its down periods applied) in minutes from ``origin`` for ``CALENDAR_DAYS``
    days: what the live plan places around."""
    query = select(Factory)
    if factory_ids is not None:
        query = query.where(col(Factory.id).in_(set(factory_ids)))
    return {
        factory.id or 0: closed_also(
            opened(
                closed_from_shifts(
                    [Shift.model_validate(s) for s in factory.shifts],
                    factory.timezone,
                    [date.fromisoformat(d) for d in factory.holidays],
                    origin,
                    CALENDAR_DAYS,
                ),
                period_minutes(factory.overtime, origin),
            ),
            period_minutes(factory.downtime, origin),
        )
        for factory in session.exec(query).all()
    }


def period_minutes(periods: list[list[str]], origin: datetime) -> list[tuple[int, int]]:
    """Overtime or down periods (ISO datetimes) in minutes from ``origin``; those over
    before it are left out."""
    spans = (
        (_minutes(datetime.fromisoformat(a), origin), _minutes(datetime.fromisoformat(b), origin))
        for a, b in periods
    )
    return [(a, b) for a, b in spans if b > a]


def _span(start: datetime, end: datetime, origin: datetime) -> tuple[int, int]:
    return _minutes(start, origin), _minutes(end, origin)


def _minutes(at: datetime, origin: datetime) -> int:
    return max(0, int((at - origin).total_seconds() // 60))
