"""A scenario applied over a live plan that moved on while it solved (activities.rebase):
every case here is small enough to check by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from activities.rebase import Key, Slot, rebase
from models.errors import Conflict
from models.tables import WorkCentre

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
TRANSFER = timedelta(hours=12)
CENTRES = {
    1: WorkCentre(id=1, factory_id=1, code="PY-CUT", name="cut", capacity=1),
    2: WorkCentre(id=2, factory_id=1, code="PY-SEW", name="sew", capacity=2),
    3: WorkCentre(id=3, factory_id=2, code="GZ-CUT", name="cut", capacity=1),
}


def slot(centre: int, start_h: float, end_h: float) -> Slot:
    return Slot(centre, T0 + timedelta(hours=start_h), T0 + timedelta(hours=end_h))


def test_nothing_moved_since_means_the_scenario_plan_whole() -> None:
    base = {(1, 0): slot(1, 0, 2), (1, 1): slot(2, 2, 6)}
    planned = {(1, 0): slot(3, 0, 2), (1, 1): slot(2, 14, 18)}
    rebased = rebase(base, dict(base), planned, CENTRES, TRANSFER)
    assert rebased.slots == planned
    assert rebased.kept == []


def test_an_order_placed_since_keeps_its_slot_beside_the_scenario() -> None:
    base = {(1, 0): slot(1, 0, 2)}
    live = {**base, (2, 0): slot(1, 2, 4)}  # placed while the scenario solved
    planned = {(1, 0): slot(3, 0, 2)}  # the scenario moves order 1 to Guangzhou
    rebased = rebase(base, live, planned, CENTRES, TRANSFER)
    assert rebased.slots == {(1, 0): slot(3, 0, 2), (2, 0): slot(1, 2, 4)}
    assert rebased.kept == [(2, 0)]


def test_an_operation_changed_since_keeps_its_live_slot_not_the_scenarios() -> None:
    base = {(1, 0): slot(1, 0, 2), (2, 0): slot(1, 2, 4)}
    live = {(1, 0): slot(1, 0, 1), (2, 0): slot(1, 2, 4)}  # order 1's cut finished early
    planned = {(1, 0): slot(1, 0, 2), (2, 0): slot(3, 2, 4)}
    rebased = rebase(base, live, planned, CENTRES, TRANSFER)
    assert rebased.slots == {(1, 0): slot(1, 0, 1), (2, 0): slot(3, 2, 4)}
    assert rebased.kept == [(1, 0)]


def test_an_order_cancelled_since_is_not_brought_back() -> None:
    base = {(1, 0): slot(1, 0, 2), (2, 0): slot(1, 2, 4)}
    live = {(2, 0): slot(1, 2, 4)}
    planned = {(1, 0): slot(1, 0, 2), (2, 0): slot(1, 2, 4)}
    assert rebase(base, live, planned, CENTRES, TRANSFER).slots == {(2, 0): slot(1, 2, 4)}


def test_a_slot_placed_since_where_the_scenario_puts_other_work_is_refused_by_name() -> None:
    base = {(1, 0): slot(3, 0, 2)}
    live = {**base, (2, 0): slot(1, 1, 3)}  # placed on the cutting table the scenario uses
    planned = {(1, 0): slot(1, 0, 2)}
    with pytest.raises(Conflict) as refused:
        rebase(base, live, planned, CENTRES, TRANSFER)
    message = refused.value.message
    assert "PY-CUT" in message and "order 2 operation 0" in message
    assert "order 1 operation 0" in message


def test_capacity_counts_parallel_lines() -> None:
    base = {(1, 1): slot(2, 0, 4)}
    live = {**base, (2, 1): slot(2, 1, 5)}
    planned = {(1, 1): slot(2, 0, 4)}
    # Two sewing lines: one order each at once is fine.
    assert rebase(base, live, planned, CENTRES, TRANSFER).kept == [(2, 1)]
    live[(3, 1)] = slot(2, 2, 3)
    with pytest.raises(Conflict, match="PY-SEW would run 3 operations at once"):
        rebase(base, live, planned, CENTRES, TRANSFER)


def test_routing_order_across_kept_and_scenario_slots_is_checked_with_transfers() -> None:
    base = {(1, 0): slot(1, 0, 2), (1, 1): slot(2, 2, 6)}
    # Order 1's cut was re-planned to Guangzhou since, ending at hour 4.
    live = {(1, 0): slot(3, 2, 4), (1, 1): slot(2, 2, 6)}
    planned = {(1, 0): slot(1, 0, 2), (1, 1): slot(2, 8, 12)}
    # The scenario's sewing at 8 is 4 h after the cut in another factory, not 12.
    with pytest.raises(Conflict, match="order 1 operation 1 .* before order 1 operation 0"):
        rebase(base, live, planned, CENTRES, TRANSFER)
    planned[(1, 1)] = slot(2, 16, 20)
    assert rebase(base, live, planned, CENTRES, TRANSFER).slots == {
        (1, 0): slot(3, 2, 4),
        (1, 1): slot(2, 16, 20),
    }


def test_an_empty_slot_blocks_nothing() -> None:
    base = {(1, 0): slot(1, 0, 2)}
    live = {(1, 0): slot(1, 0, 0), (2, 0): slot(1, 0, 2)}  # done at once; then order 2
    planned = {(1, 0): slot(1, 0, 2)}
    assert rebase(base, live, planned, CENTRES, TRANSFER).kept == [(1, 0), (2, 0)]


def test_an_order_placed_since_that_collides_is_left_out_to_be_placed_again() -> None:
    base = {(1, 0): slot(3, 0, 2)}
    live = {**base, (2, 0): slot(1, 1, 3), (2, 1): slot(2, 3, 6), (3, 0): slot(1, 4, 5)}
    planned = {(1, 0): slot(1, 0, 2)}  # the scenario takes PY-CUT from 0 to 2
    rebased = rebase(base, live, planned, CENTRES, TRANSFER, movable={2, 3})
    # Order 2 collides and goes whole, both operations; order 3 does not and stays.
    assert rebased.again == [2]
    assert rebased.slots == {(1, 0): slot(1, 0, 2), (3, 0): slot(1, 4, 5)}
    assert rebased.kept == [(3, 0)]
    # Not movable (its cut was claimed): the same collision is refused.
    with pytest.raises(Conflict, match="order 2 operation 0"):
        rebase(base, live, planned, CENTRES, TRANSFER, movable={3})


def test_an_order_placed_since_in_a_period_the_scenario_takes_down_is_placed_again() -> None:
    base = {(1, 0): slot(3, 0, 2)}
    live = {**base, (2, 0): slot(1, 30, 32), (3, 0): slot(1, 50, 52)}
    planned = {(1, 0): slot(3, 0, 2)}
    down = {1: [(T0 + timedelta(hours=24), T0 + timedelta(hours=48))]}  # PY-CUT, day two
    rebased = rebase(base, live, planned, CENTRES, TRANSFER, movable={2, 3}, down=down)
    assert rebased.again == [2]
    assert (3, 0) in rebased.slots
    # Its work claimed, it stays where it is: the factory-down flow deals with it.
    held = rebase(base, live, planned, CENTRES, TRANSFER, movable={3}, down=down)
    assert held.again == [] and held.slots[(2, 0)] == slot(1, 30, 32)


@st.composite
def moved_plans(
    draw: st.DrawFn,
) -> tuple[dict[Key, Slot], dict[Key, Slot], dict[Key, Slot], set[int]]:
    """A base the scenario saw, the scenario's plan of it (its own, without overlaps), and a
    live plan since: some of the base changed, orders added, some orders gone."""

    def slots_of(orders: list[int], lanes: int) -> dict[Key, Slot]:
        out: dict[Key, Slot] = {}
        free = dict.fromkeys(CENTRES, 0.0)
        for order in orders:
            ready = 0.0
            for seq in range(draw(st.integers(1, 3))):
                centre = draw(st.sampled_from(sorted(CENTRES)))
                start = max(ready, free[centre]) + draw(st.integers(0, 3))
                length = draw(st.integers(1, 4))
                out[(order, seq)] = slot(centre, start, start + length)
                free[centre] = start + length if lanes == 1 else free[centre]
                ready = start + length + (TRANSFER.total_seconds() / 3600)
        return out

    base_orders = list(range(1, draw(st.integers(1, 5)) + 1))
    base = slots_of(base_orders, 1)
    planned = (
        {
            k: s._replace(start=s.start + timedelta(hours=1), end=s.end + timedelta(hours=1))
            for k, s in base.items()
        }
        if draw(st.booleans())
        else dict(base)
    )
    live = {
        k: s for k, s in base.items() if k[0] not in draw(st.sets(st.sampled_from(base_orders)))
    }
    for key in draw(st.sets(st.sampled_from(sorted(live)))) if live else []:
        live[key] = live[key]._replace(end=live[key].start)  # finished at once
    new = slots_of(list(range(100, 100 + draw(st.integers(0, 4)))), 1)
    live |= new
    movable = {o for o, _ in new if draw(st.booleans())}
    return base, live, planned, movable


@settings(max_examples=200, deadline=None)
@given(moved_plans())
def test_a_rebase_either_refuses_or_keeps_every_rule(
    plans: tuple[dict[Key, Slot], dict[Key, Slot], dict[Key, Slot], set[int]],
) -> None:
    base, live, planned, movable = plans
    try:
        rebased = rebase(base, live, planned, CENTRES, TRANSFER, movable=movable)
    except Conflict:
        event("refused")
        return
    again = set(rebased.again)
    event(f"placed again: {bool(again)}, kept: {bool(rebased.kept)}")
    assert again <= movable
    # Every live operation is planned once: the scenario's slot if untouched, else its own,
    # unless its order is to be placed again; nothing of a cancelled order comes back.
    for key, now in live.items():
        if key[0] in again:
            assert key not in rebased.slots
        elif key in planned and base.get(key) == now:
            assert rebased.slots[key] == planned[key]
        else:
            assert rebased.slots[key] == now
    assert set(rebased.slots) <= set(live)
    # No work centre with a kept slot runs more than its capacity at once.
    kept = set(rebased.kept)
    for centre in {rebased.slots[k].work_centre for k in kept}:
        items = sorted(
            (s.start, s.end)
            for s in rebased.slots.values()
            if s.work_centre == centre and s.end > s.start
        )
        for i, (start, _) in enumerate(items):
            running = sum(1 for a, b in items[: i + 1] if b > start)
            assert running <= CENTRES[centre].capacity
