"""The orchestration benchmark's duplicate check finds what it claims to find."""

from __future__ import annotations

from sqlmodel import Session

from activities.base import add_event
from bench.orchestration import duplicates
from tests.factories import make_order, make_work_order


def test_the_duplicate_check_counts_a_second_work_order_and_a_repeated_event(
    session: Session, team_id: int
) -> None:
    order = make_order(session, team_id)
    first = make_work_order(session, order, seq=1)
    make_work_order(session, order, seq=2)
    add_event(session, "work_order", first.id or 0, "released")
    session.commit()
    assert duplicates(session) == dict.fromkeys(
        ("work_orders", "work_order_events", "reservations", "shipments"), 0
    )

    make_work_order(session, order, seq=1, attempt=2)  # a second work order of operation 1
    add_event(session, "work_order", first.id or 0, "released")  # released twice
    session.commit()
    found = duplicates(session)
    assert (found["work_orders"], found["work_order_events"]) == (1, 1)
