"""The orchestration benchmark's checks and workload: the duplicate check finds what it
claims to find, and orders are split into batches as asked."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from activities.base import add_event
from bench.orchestration import STYLE_COLOURS, batch_sizes, duplicates
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


def test_orders_go_into_batches_of_the_size_asked_the_last_one_the_rest() -> None:
    assert batch_sizes(7, 3) == [3, 3, 1]
    assert batch_sizes(6, 3) == [3, 3]
    assert batch_sizes(4, 1) == [1, 1, 1, 1]
    with pytest.raises(ValueError, match=f"1 to {len(STYLE_COLOURS)}"):
        batch_sizes(10, len(STYLE_COLOURS) + 1)
