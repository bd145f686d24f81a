"""The life of one production order: design gate, fabric, placement in the plan, work
orders released in routing order, factory completions, shipping.

Deterministic orchestration only: every side effect is an activity. Completions arrive as
an Update whose handler persists them through an activity, so the workflow is the single
writer and no completion is lost between the API and the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

from workflows import search_attributes as sa
from workflows.steps import LOCAL_DB_STEPS, Patches, run_db_step

with workflow.unsafe.imports_passed_through():
    from activities.production import ProductionActivities
    from models.scenarios import PlanChanged
    from models.schemas import (
        CancelOrderInput,
        CancelOrderResult,
        CheckDesignGateResult,
        CompensateInput,
        CompleteWorkOrderInput,
        CompleteWorkOrderResult,
        DesignGateEventInput,
        Disruption,
        DisruptionKind,
        FabricLateInput,
        FactoryDown,
        LeaseExpired,
        MakeUpInput,
        NextStepInput,
        OrderProgress,
        ProductionOrderInput,
        ProductionOrderResult,
        ProductionOrderStatus,
        RejectWorkOrderInput,
        RejectWorkOrderResult,
        ReleaseWorkOrderInput,
        ReplanInput,
        WorkCentreHeld,
    )


A = TypeVar("A")
R = TypeVar("R")

# Orders started before the design gate had its escalation and cancel timers replay
# without them.
DESIGN_GATE_TIMERS = "design-gate-timers"
# Orders started before shortfalls were made up replay without the make-up step.
MAKE_UP_SHORTFALLS = "make-up-shortfalls"
# Orders started before disruptions were re-planned keep waiting on the failed work order.
REPLAN_DISRUPTIONS = "replan-disruptions"
# Orders started before they had search attributes run on without them.
SEARCH_ATTRIBUTES = "search-attributes"
# Orders started before their database steps were batched replay them one by one: the
# start in one activity (start_order), and after each completion its make-up or the next
# release in one (next_step). An order is nine database steps instead of fourteen. Orders
# started since take every earlier patch without asking it (steps.Patches).
BATCHED_STEPS = "batched-steps"


class _Cancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised at the next step or wait after a cancellation; ``run`` compensates."""


@workflow.defn
class ProductionOrderWorkflow:
    def __init__(self) -> None:
        self._order_id = 0
        self._status = ProductionOrderStatus.CREATED
        self._work_orders: list[int] = []
        self._released: set[int] = set()
        self._completed: dict[int, CompleteWorkOrderResult] = {}
        self._tech_pack_approved = False
        self._fabric_delivered = False
        self._disruptions: list[Disruption] = []
        self._cancel: CancelOrderInput | None = None
        self._replanned: set[int] = set()
        self._shipping = False
        self._indexed = False
        # Asked in the first activation, before any handler or the run can need it.
        self._patches = Patches(
            BATCHED_STEPS,
            included=(
                LOCAL_DB_STEPS,
                DESIGN_GATE_TIMERS,
                MAKE_UP_SHORTFALLS,
                REPLAN_DISRUPTIONS,
                SEARCH_ATTRIBUTES,
            ),
        )

    @workflow.run
    async def run(self, inp: ProductionOrderInput) -> ProductionOrderResult:
        self._order_id = inp.production_order_id
        try:
            return await self._produce(inp)
        except _Cancelled:
            return await self._compensate()

    async def _produce(self, inp: ProductionOrderInput) -> ProductionOrderResult:
        if self._patches(BATCHED_STEPS):
            started = await self._db(ProductionActivities.start_order, inp)
            if started.work_order_ids:  # nothing had to wait: reserved, placed, work orders made
                self._status = ProductionOrderStatus.IN_PRODUCTION
                self._index(started.gate)
                self._work_orders = started.work_order_ids
                return await self._execute_and_ship(inp)
            self._index(started.gate)
            if not started.gate.approved and not await self._wait_for_design(inp):
                return await self._finish(good=0, shipped_lines=0)
        elif not await self._pass_design_gate(inp):
            return await self._finish(good=0, shipped_lines=0)
        await self._reserve_fabric(inp)
        self._set_status(ProductionOrderStatus.FABRIC_RESERVED)
        self._stop_if_cancelled()
        await self._db(ProductionActivities.schedule_order, inp)
        self._set_status(ProductionOrderStatus.SCHEDULED)
        self._stop_if_cancelled()
        created = await self._db(ProductionActivities.create_work_orders, inp)
        self._work_orders = created.work_order_ids
        self._set_status(ProductionOrderStatus.IN_PRODUCTION)
        return await self._execute_and_ship(inp)

    async def _execute_and_ship(self, inp: ProductionOrderInput) -> ProductionOrderResult:
        await self._execute_in_routing_order()
        self._stop_if_cancelled()
        self._shipping = True  # from here a cancellation is refused
        shipped = await self._db(ProductionActivities.ship_order, inp)
        self._set_status(ProductionOrderStatus.DONE)
        return await self._finish(shipped.good_quantity, shipped.shipped_lines)

    async def _finish(self, good: int, shipped_lines: int) -> ProductionOrderResult:
        """Let updates in flight finish, then end with the order's outcome."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ProductionOrderResult(
            production_order_id=self._order_id,
            status=self._status,
            good_quantity=good,
            shipped_lines=shipped_lines,
        )

    def _index(self, gate: CheckDesignGateResult) -> None:
        """Give the order its search attributes (workflows/search_attributes.py)."""
        if not self._patches(SEARCH_ATTRIBUTES):
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.ORDER_ID.value_set(self._order_id),
            sa.STYLE.value_set(gate.style_code),
            sa.ORDER_STATUS.value_set(self._status.value),
        ]
        if gate.team_code:
            updates.append(sa.BUYER_TEAM.value_set(gate.team_code))
        workflow.upsert_search_attributes(updates)
        self._indexed = True

    async def _db(self, method: Callable[[Any, A], R], arg: A) -> R:
        """A database step (``steps.run_db_step``) with this run's patches."""
        return await run_db_step(method, arg, self._patches)

    def _set_status(self, status: ProductionOrderStatus) -> None:
        """The workflow's view of the order's status, and its search attribute."""
        self._status = status
        if self._indexed:
            workflow.upsert_search_attributes([sa.ORDER_STATUS.value_set(status.value)])

    def _stop_if_cancelled(self) -> None:
        if self._cancel is not None:
            raise _Cancelled

    def _cancelled(self) -> bool:
        return self._cancel is not None

    async def _compensate(self) -> ProductionOrderResult:
        """The cancellation saga: one idempotent activity undoes every step so far, latest
        first (activities.production.ProductionActivities.compensate_cancellation)."""
        assert self._cancel is not None
        await self._db(
            ProductionActivities.compensate_cancellation,
            CompensateInput(
                production_order_id=self._order_id,
                reason=self._cancel.reason,
                actor=self._cancel.actor,
            ),
        )
        self._set_status(ProductionOrderStatus.CANCELLED)
        return await self._finish(good=0, shipped_lines=0)

    async def _pass_design_gate(self, inp: ProductionOrderInput) -> bool:
        """True once the style's tech pack is approved; False if the order was cancelled
        because it was not approved in time."""
        gate = await self._db(ProductionActivities.check_design_gate, inp)
        self._index(gate)
        return gate.approved or await self._wait_for_design(inp)

    async def _wait_for_design(self, inp: ProductionOrderInput) -> bool:
        """The tech pack is not approved: wait for it, escalate, and in the end cancel.
        True once approved, False if cancelled for want of it."""
        if not self._patches(DESIGN_GATE_TIMERS):
            await workflow.wait_condition(lambda: self._tech_pack_approved or self._cancelled())
            self._stop_if_cancelled()
            return True
        await self._db(ProductionActivities.await_design, inp)
        self._set_status(ProductionOrderStatus.AWAITING_DESIGN)
        settings = inp.design_gate
        if await self._approved_within(inp, settings.escalate_hours):
            return True
        await self._db(
            ProductionActivities.escalate_design_gate,
            DesignGateEventInput(
                production_order_id=inp.production_order_id,
                waited_hours=settings.escalate_hours,
            ),
        )
        if await self._approved_within(inp, settings.cancel_hours - settings.escalate_hours):
            return True
        await self._db(
            ProductionActivities.cancel_for_design_gate,
            DesignGateEventInput(
                production_order_id=inp.production_order_id, waited_hours=settings.cancel_hours
            ),
        )
        self._set_status(ProductionOrderStatus.CANCELLED)
        return False

    async def _reserve_fabric(self, inp: ProductionOrderInput) -> None:
        """Reserve the fabric; while the stock is short, wait for the purchases to arrive
        (a ``fabric_delivered`` signal per delivery) and try again. A purchase overdue by
        its lead time plus the slack escalates once; the order keeps waiting.

        (Before purchases existed a shortage failed the activity and so the order; no
        running order can replay into this loop, so it needs no patch.)"""
        while True:
            result = await self._db(ProductionActivities.reserve_fabric, inp)
            if not result.purchase_orders:
                return
            self._set_status(ProductionOrderStatus.AWAITING_FABRIC)
            self._fabric_delivered = False
            due_in = max(po.due_in_hours for po in result.purchase_orders)
            wait = timedelta(hours=due_in + inp.fabric_slack_hours)
            try:
                await workflow.wait_condition(
                    lambda: self._fabric_delivered or self._cancelled(), timeout=wait
                )
            except TimeoutError:
                await self._db(
                    ProductionActivities.escalate_fabric_late,
                    FabricLateInput(
                        production_order_id=inp.production_order_id,
                        purchase_order_ids=[po.purchase_order_id for po in result.purchase_orders],
                    ),
                )
                await workflow.wait_condition(lambda: self._fabric_delivered or self._cancelled())
            self._stop_if_cancelled()

    async def _approved_within(self, inp: ProductionOrderInput, hours: float) -> bool:
        """Wait up to ``hours`` for the approval signal; at the deadline ask the database
        too, in case the API committed an approval but its signal was lost."""
        try:
            await workflow.wait_condition(
                lambda: self._tech_pack_approved or self._cancelled(),
                timeout=timedelta(hours=hours),
            )
            self._stop_if_cancelled()
            return True
        except TimeoutError:
            gate = await self._db(ProductionActivities.check_design_gate, inp)
            return gate.approved

    async def _execute_in_routing_order(self) -> None:
        # A work order is released only when its predecessor's output is there.
        if not self._patches(BATCHED_STEPS):
            for wo_id in list(self._work_orders):
                completed = await self._release_and_wait(wo_id)
                if self._patches(MAKE_UP_SHORTFALLS):
                    await self._make_up_shortfall(completed)
            return
        routing = list(self._work_orders)
        released = False
        for wo_id, next_wo_id in zip(routing, [*routing[1:], None], strict=True):
            completed = await self._release_and_wait(wo_id, released=released)
            released = await self._next_step(completed, next_wo_id)

    async def _next_step(self, completed: int, next_wo_id: int | None) -> bool:
        """After a completion: its make-ups until nothing is short (or the attempts run
        out), each with its completion awaited; then the next operation's release, in the
        same activity as the last check. True if the next work order was released."""
        while True:
            self._stop_if_cancelled()
            if next_wo_id is not None:
                self._released.add(next_wo_id)  # see _release_and_wait
            step = await self._db(
                ProductionActivities.next_step,
                NextStepInput(completed_work_order_id=completed, next_work_order_id=next_wo_id),
            )
            made = step.make_up.work_order_id
            if made is None:
                return step.next_released
            if next_wo_id is not None:  # not released: its predecessor is being made up
                self._released.discard(next_wo_id)
            self._work_orders.append(made)
            completed = await self._release_and_wait(made)

    async def _release_and_wait(self, wo_id: int, *, released: bool = False) -> int:
        """Release the work order (unless ``released`` already) and wait for its
        completion, re-planning it elsewhere if it is disrupted; the id of the work order
        that completed."""
        self._stop_if_cancelled()
        # Counted as released before the activity reports back: once it commits, a
        # factory may claim and complete the work order before that report arrives.
        # (No command changes, so running workflows replay as before.)
        self._released.add(wo_id)
        if not released:
            await self._db(
                ProductionActivities.release_work_order,
                ReleaseWorkOrderInput(work_order_id=wo_id),
            )
        done = self._completion_of(wo_id)
        await workflow.wait_condition(
            lambda: done() or self._cancelled() or self._disruption_of(wo_id) is not None
        )
        self._stop_if_cancelled()
        disruption = self._disruption_of(wo_id)
        if done() or disruption is None:
            return wo_id
        self._replanned.add(wo_id)
        if not self._patches(REPLAN_DISRUPTIONS):
            await workflow.wait_condition(lambda: done() or self._cancelled())
            self._stop_if_cancelled()
            return wo_id
        replaced = await self._db(
            ProductionActivities.replan_work_order,
            ReplanInput(work_order_id=wo_id, reason=f"{disruption.kind}: {disruption.detail}"),
        )
        if replaced.work_order_id is None:  # taken up again after all: it goes on there
            await workflow.wait_condition(lambda: done() or self._cancelled())
            self._stop_if_cancelled()
            return wo_id
        self._work_orders.append(replaced.work_order_id)
        return await self._release_and_wait(replaced.work_order_id)

    def _disruption_of(self, wo_id: int) -> Disruption | None:
        """A rejection or second lease expiry of this work order not yet re-planned."""
        if wo_id in self._replanned:
            return None
        return next((d for d in self._disruptions if d.work_order_id == wo_id), None)

    async def _make_up_shortfall(self, wo_id: int) -> None:
        """Fewer good pieces than planned: a recut or rework for the shortfall, and its
        own shortfall in turn, until none is left or the attempts run out; only then does
        the next operation start."""
        current = wo_id
        while True:
            made = await self._db(
                ProductionActivities.plan_make_up, MakeUpInput(work_order_id=current)
            )
            if made.work_order_id is None:
                return
            self._work_orders.append(made.work_order_id)
            current = await self._release_and_wait(made.work_order_id)

    def _completion_of(self, wo_id: int) -> Callable[[], bool]:
        return lambda: wo_id in self._completed

    @workflow.update
    def cancel(self, inp: CancelOrderInput) -> CancelOrderResult:
        """Cancel the order at whatever step it is: the run stops at its next step or wait
        and compensates. A second cancellation is accepted and changes nothing."""
        if self._cancel is None:
            self._cancel = inp
        return CancelOrderResult(production_order_id=self._order_id, accepted=True)

    @cancel.validator
    def _validate_cancel(self, inp: CancelOrderInput) -> None:
        if self._shipping or self._status in (
            ProductionOrderStatus.DONE,
            ProductionOrderStatus.CANCELLED,
        ):
            raise ApplicationError(
                f"production order {self._order_id} is {self._status.value}"
                + (" and shipping" if self._shipping else "")
                + "; it can no longer be cancelled",
                type="Conflict",
            )

    @workflow.signal
    def tech_pack_approved(self) -> None:
        self._tech_pack_approved = True

    @workflow.signal
    def fabric_delivered(self) -> None:
        """A purchase for this order arrived: try the reservation again."""
        self._fabric_delivered = True

    @workflow.signal
    def factory_down(self, down: FactoryDown) -> None:
        """A planner marked a factory down: its work orders of this order are disrupted
        and re-planned elsewhere when the order reaches them (or at once, if it waits on
        one of them)."""
        self._disrupt(
            DisruptionKind.FACTORY_DOWN,
            down.work_order_ids,
            f"{down.factory_code} is down: {down.reason}",
        )

    @workflow.signal
    def work_centre_held(self, held: WorkCentreHeld) -> None:
        """A work centre went on a quality hold (a defect spike, or a planner): its work
        orders of this order are re-planned elsewhere, as for a factory down."""
        self._disrupt(
            DisruptionKind.QUALITY_HOLD,
            held.work_order_ids,
            f"{held.work_centre_code} is on a quality hold: {held.reason}",
        )

    @workflow.signal
    def plan_changed(self, change: PlanChanged) -> None:
        """A planner applied a scenario that moves these released work orders elsewhere:
        each that nobody has claimed yet is withdrawn and made again where the live plan
        now has it (``ProductionActivities.replan_work_order``)."""
        self._disrupt(
            DisruptionKind.PLAN_CHANGED,
            change.work_order_ids,
            f"plan version {change.plan_version} moves it",
        )

    def _disrupt(self, kind: DisruptionKind, work_order_ids: list[int], detail: str) -> None:
        """Note a disruption of each work order, once per kind."""
        known = {(d.kind, d.work_order_id) for d in self._disruptions}
        for wo_id in work_order_ids:
            if (kind, wo_id) not in known:
                self._disruptions.append(Disruption(kind=kind, work_order_id=wo_id, detail=detail))

    @workflow.signal
    def lease_expired(self, lease: LeaseExpired) -> None:
        """A work order's lease ran out a second time: a disruption, re-planned away from
        the failing work centre."""
        self._disruptions.append(
            Disruption(
                kind=DisruptionKind.LEASE_EXPIRED_TWICE,
                work_order_id=lease.work_order_id,
                detail=f"lease ran out {lease.expiries} times",
            )
        )

    @workflow.update
    async def complete_work_order(self, inp: CompleteWorkOrderInput) -> CompleteWorkOrderResult:
        """A factory's completion: persisted by an activity, then counted here once."""
        result = await self._db(ProductionActivities.record_completion, inp)
        self._completed.setdefault(inp.work_order_id, result)
        return result

    @complete_work_order.validator
    def _validate_completion(self, inp: CompleteWorkOrderInput) -> None:
        self._validate_outcome(inp.work_order_id)

    @workflow.update
    async def reject_work_order(self, inp: RejectWorkOrderInput) -> RejectWorkOrderResult:
        """A factory refuses a work order: persisted by an activity, then a disruption."""
        result = await self._db(ProductionActivities.record_rejection, inp)
        self._disrupt(DisruptionKind.REJECTED, [inp.work_order_id], result.reason)
        return result

    @reject_work_order.validator
    def _validate_rejection(self, inp: RejectWorkOrderInput) -> None:
        self._validate_outcome(inp.work_order_id)

    def _validate_outcome(self, work_order_id: int) -> None:
        """A completion or rejection must be for one of this order's released work orders."""
        if self._cancel is not None:
            raise ApplicationError(
                f"production order {self._order_id} was cancelled; its work orders are withdrawn",
                type="Conflict",
            )
        if work_order_id not in self._work_orders:
            raise ApplicationError(
                f"work order {work_order_id} does not belong to production order {self._order_id}",
                type="NotFound",
            )
        if work_order_id not in self._released:
            raise ApplicationError(
                f"work order {work_order_id} is not released yet", type="Conflict"
            )

    @workflow.query
    def progress(self) -> OrderProgress:
        return OrderProgress(
            production_order_id=self._order_id,
            status=self._status,
            work_order_ids=list(self._work_orders),
            completed_work_order_ids=sorted(self._completed),
            disruptions=list(self._disruptions),
        )
