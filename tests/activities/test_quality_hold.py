"""A defect spike puts a work centre on a quality hold: nothing new is placed there and a
re-planned operation goes elsewhere (activities.production)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from activities.production import DefectSpike, ProductionActivities
from c2b.db import SessionFactory
from models.schemas import (
    CompleteWorkOrderInput,
    CompleteWorkOrderResult,
    MakeUpInput,
    ProductionOrderInput,
    ReplanInput,
    SizeQuantity,
    WorkOrderStatus,
)
from models.tables import Event, PlanAssignment, WorkCentre, WorkOrder
from tests.factories import make_order, make_work_order


@pytest.mark.parametrize(
    ("latest", "spike"),
    [
        ([(80, 20)] * 4, None),  # four completions are not yet a pattern
        ([(80, 20)] * 5, 0.2),  # a fifth of the pieces, five times running
        ([(81, 19)] * 5, None),
        ([(100, 0)] * 4 + [(0, 100)], 0.2),  # one lot all bad among good ones: still a fifth
        ([(0, 0)] * 5, None),
    ],
)
def test_a_spike_is_five_completions_with_a_fifth_of_their_pieces_defective(
    latest: list[tuple[int, int]], spike: float | None
) -> None:
    assert DefectSpike().of(latest) == spike


def test_the_rule_is_the_operators_to_set() -> None:
    assert DefectSpike(completions=3, share=0.1).of([(90, 10)] * 3) == 0.1
    assert DefectSpike(completions=3, share=0.1).of([(90, 10)] * 2) is None


def completion_input(wo: WorkOrder, defective: int) -> CompleteWorkOrderInput:
    """The completion of an 80-piece cut with ``defective`` pieces of size M defective."""
    return CompleteWorkOrderInput(
        work_order_id=wo.id or 0,
        factory_id=wo.factory_id,
        lease_holder="token-1",
        good=[
            SizeQuantity(size="S", quantity=20),
            SizeQuantity(size="M", quantity=40 - defective),
        ],
        defective=[SizeQuantity(size="M", quantity=defective)] if defective else [],
        idempotency_key=f"k-{wo.id}",
    )


def complete_at(
    acts: ProductionActivities, session: Session, team_id: int, centre: str, defective: int
) -> tuple[WorkOrder, CompleteWorkOrderResult]:
    """A claimed cut of a new 80-piece order at ``centre``, completed with ``defective``
    pieces of size M defective, and the completion's answer."""
    order = make_order(session, team_id)
    wo = make_work_order(
        session, order, centre, status=WorkOrderStatus.CLAIMED, lease_holder="token-1"
    )
    return wo, acts.record_completion(completion_input(wo, defective))


def test_a_defect_spike_holds_the_work_centre_and_work_goes_elsewhere(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    acts = ProductionActivities(session_factory)
    completions = DefectSpike().completions
    for _ in range(completions):
        _, fine = complete_at(acts, session, team_id, "NB-CUT-1", defective=1)  # 1 in 61
        assert not fine.work_centre_on_hold
    for n in range(completions):
        session.expire_all()
        held = session.exec(select(WorkCentre).where(WorkCentre.code == "GZ-CUT-1")).one()
        assert held.on_hold is False, f"held after {n} bad completions"
        last, answer = complete_at(acts, session, team_id, "GZ-CUT-1", defective=20)  # 20 in 60
    assert answer.work_centre_on_hold  # the fifth said so
    session.expire_all()
    centres = {wc.code: wc for wc in session.exec(select(WorkCentre)).all()}
    assert centres["GZ-CUT-1"].on_hold and not centres["NB-CUT-1"].on_hold
    spike = session.exec(select(Event).where(Event.kind == "defect_spike")).one()
    assert (spike.entity_id, spike.data["share"]) == (centres["GZ-CUT-1"].id, 0.333)
    assert len(spike.data["work_orders"]) == completions
    # The recut of the lot that showed the spike is cut elsewhere.
    recut = acts.plan_make_up(MakeUpInput(work_order_id=last.id or 0))
    assert recut.kind == "recut" and recut.work_order_id is not None
    made = session.get(WorkOrder, recut.work_order_id)
    assert made is not None and made.work_centre_id != centres["GZ-CUT-1"].id
    table = session.get(WorkCentre, made.work_centre_id)
    assert table is not None and "cut" in table.operation_kinds

    # New orders' cuts are placed elsewhere (three cutting tables: with the held one in
    # use, one of three orders would go there) ...
    cuts = []
    for _ in range(3):
        order = make_order(session, team_id)
        acts.schedule_order(ProductionOrderInput(production_order_id=order.id or 0))
        cuts.append(
            session.exec(
                select(PlanAssignment).where(
                    PlanAssignment.production_order_id == order.id, PlanAssignment.seq == 1
                )
            ).one()
        )
    assert {c.work_centre_id for c in cuts}.isdisjoint({centres["GZ-CUT-1"].id})
    # ... and a released cut re-planned away from its own table does not go there either.
    waiting = make_work_order(session, make_order(session, team_id), "NB-CUT-1")
    moved = acts.replan_work_order(
        ReplanInput(work_order_id=waiting.id or 0, reason="rejected: test")
    )
    assert moved.work_order_id is not None
    again = session.get(WorkOrder, moved.work_order_id)
    assert again is not None
    assert again.work_centre_id not in (centres["GZ-CUT-1"].id, centres["NB-CUT-1"].id)


def test_a_clean_completion_can_complete_a_spike_and_says_so(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    """Four lots a third defective, then a clean one: the five still hold a fifth of their
    pieces defective, so the clean completion is the one that holds the centre, and its
    answer says so (the API then tells the orders with work there to move it)."""
    acts = ProductionActivities(session_factory)
    for _ in range(DefectSpike().completions - 1):
        _, bad = complete_at(acts, session, team_id, "GZ-CUT-1", defective=20)
        assert not bad.work_centre_on_hold
    wo, clean = complete_at(acts, session, team_id, "GZ-CUT-1", defective=0)
    assert clean.work_centre_on_hold and clean.defective_quantity == 0
    session.expire_all()
    centre = session.exec(select(WorkCentre).where(WorkCentre.code == "GZ-CUT-1")).one()
    assert centre.on_hold
    # Asked again (a retried activity whose first answer was lost), it answers the same.
    assert acts.record_completion(completion_input(wo, defective=0)) == clean
