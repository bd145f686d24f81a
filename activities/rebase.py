"""A scenario applied over a live plan that moved on while it solved.

A scenario solves a snapshot of the live plan, and a solve takes seconds to minutes. In that
time orders keep being placed, operations re-planned, made up and finished early, so the live
plan a planner applies to is rarely the one the scenario saw. Refusing every such apply
would leave a busy planner nothing to apply at all.

So the apply rebases: every operation still where the snapshot had it takes the scenario's
slot; every operation placed or changed since keeps its live slot, because something
happened to it that the scenario did not know. Where the two collide (a work centre would
run more operations at once than its capacity, or an order's operations would leave routing
order, with the transfer between factories):
- an order placed since, whose work nobody holds yet (``movable``), is left out, to be
  placed again around the rest as any new order is; so is one placed since in a period
  the scenario takes a work centre ``down``;
- anything else is refused (Conflict), naming the collision.
Operations the snapshot had and the live plan no longer has (their order was cancelled) are
not brought back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from models.errors import Conflict
from models.tables import WorkCentre

Key = tuple[int, int]  # (production order id, routing seq)


class Slot(NamedTuple):
    work_centre: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Rebased:
    slots: dict[Key, Slot]
    kept: list[Key]  # operations placed or changed since the snapshot: live slots kept
    again: list[int]  # orders placed since that collided: to place again (not in slots)


class _Collision(Exception):
    def __init__(self, message: str, keys: list[Key]) -> None:
        super().__init__(message)
        self.message, self.keys = message, keys


def rebase(
    base: Mapping[Key, Slot],
    live: Mapping[Key, Slot],
    planned: Mapping[Key, Slot],
    centres: Mapping[int, WorkCentre],
    transfer: timedelta,
    movable: Collection[int] = (),
    down: Mapping[int, list[tuple[datetime, datetime]]] | None = None,
) -> Rebased:
    """The scenario's ``planned`` slots over the ``live`` plan, given the ``base`` the
    scenario saw; orders in ``movable`` that collide, or have a slot in a work centre's
    ``down`` period, are left out to be placed again. Raises Conflict naming the first
    other collision."""
    kept = {key for key, now in live.items() if base.get(key) != now}
    slots = {
        key: planned[key] if key in planned and key not in kept else now
        for key, now in live.items()
    }
    down = down or {}
    again = {
        key[0]
        for key in kept
        if key[0] in movable
        and any(
            a < slots[key].end and slots[key].start < b
            for a, b in down.get(slots[key].work_centre, [])
        )
    }
    _leave_out(slots, kept, again)
    while True:
        try:
            _check_capacity(slots, kept, centres)
            _check_routing(slots, kept, centres, transfer)
        except _Collision as collision:
            orders = {o for o, s in collision.keys if o in movable and (o, s) in kept}
            if not orders:
                raise Conflict(collision.message) from None
            _leave_out(slots, kept, orders)
            again |= orders
        else:
            return Rebased(slots, sorted(kept), sorted(again))


def _leave_out(slots: dict[Key, Slot], kept: set[Key], orders: set[int]) -> None:
    for key in [k for k in slots if k[0] in orders]:
        del slots[key]
        kept.discard(key)


def _check_capacity(
    slots: Mapping[Key, Slot], kept: set[Key], centres: Mapping[int, WorkCentre]
) -> None:
    """Only work centres with a kept slot can collide: the rest is the scenario's own plan,
    checked when it was made."""
    crowded = {slots[key].work_centre for key in kept}
    by_centre: dict[int, list[tuple[Key, Slot]]] = defaultdict(list)
    for key, s in slots.items():
        if s.work_centre in crowded and s.end > s.start:
            by_centre[s.work_centre].append((key, s))
    for centre_id, items in by_centre.items():
        centre = centres[centre_id]
        running: list[tuple[Key, Slot]] = []
        for key, s in sorted(items, key=lambda item: (item[1].start, item[0])):
            running = [r for r in running if r[1].end > s.start] + [(key, s)]
            if len(running) > centre.capacity:
                raise _Collision(
                    f"{centre.code} would run {len(running)} operations at once from "
                    f"{_at(s.start)}: " + ", ".join(_named(k, kept) for k, _ in running),
                    [k for k, _ in running],
                )


def _check_routing(
    slots: Mapping[Key, Slot],
    kept: set[Key],
    centres: Mapping[int, WorkCentre],
    transfer: timedelta,
) -> None:
    """Orders with both kept and scenario slots: each operation after its predecessor's
    end, plus the transfer when they are in different factories."""
    mixed = {order for order, _ in kept} & {order for order, _ in slots.keys() - kept}
    steps: dict[int, list[Key]] = defaultdict(list)
    for key in sorted(slots):
        if key[0] in mixed:
            steps[key[0]].append(key)
    for keys in steps.values():
        for before, after in zip(keys, keys[1:], strict=False):
            first, then = slots[before], slots[after]
            moves = centres[first.work_centre].factory_id != centres[then.work_centre].factory_id
            ready = first.end + (transfer if moves else timedelta(0))
            if then.start < ready:
                moving = f", plus {transfer} to move between factories" if moves else ""
                raise _Collision(
                    f"{_named(after, kept)} would start at {_at(then.start)}, before "
                    f"{_named(before, kept)} ends at {_at(first.end)}{moving}",
                    [before, after],
                )


def _named(key: Key, kept: set[Key]) -> str:
    whose = "placed or changed since the scenario's snapshot" if key in kept else "the scenario's"
    return f"order {key[0]} operation {key[1]} ({whose})"


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
