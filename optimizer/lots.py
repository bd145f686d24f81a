"""Lot splitting: a big order goes through its routing as a few lots, so that two work
centres (two factories, even) can sew it at once, and its cutting can hand the first lot
on while it cuts the second.

An order with a ``quantity`` and a ``min_lot`` is split before the solve into
``Params.max_lots`` near-equal lots of at least ``min_lot`` pieces (fewer if the order is
too small for that many). Each lot is an order of its own in the model (``Order.lot_of``
names the customer order), with its own routing chain: lot k of an operation follows lot
k of the operation before. A lot takes its work centre's setup again plus its share of
the run time, rounded up to the minute. The solver chooses where and when each lot runs,
the same work centre back to back included; the due date, tardiness and lead time stay
the customer order's (the last lot's finish), so splitting never changes what is
measured, only what is possible. An order the plan in force (or its frozen part) already
has keeps the lots it has there: split the same way, or whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optimizer.problem import Assignment, LateOrder, Mode, Operation, Order, Problem

SEPARATOR = "#"


def lot_sizes(quantity: int, min_lot: int, max_lots: int) -> list[int]:
    """Near-equal lots of at least ``min_lot``, at most ``max_lots`` of them; one lot of
    the whole quantity when the order cannot or need not be split."""
    if quantity <= 0 or min_lot <= 0 or max_lots <= 1:
        return [quantity]
    n = max(1, min(max_lots, quantity // min_lot))
    base, extra = divmod(quantity, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def lot_minutes(mode: Mode, lot: int, quantity: int) -> int:
    """A lot's minutes on the mode's work centre: the whole setup, and the run time in
    proportion to its pieces, rounded up."""
    if quantity <= 0 or lot == quantity:
        return mode.minutes
    run = mode.minutes - mode.setup_minutes
    return mode.setup_minutes + math.ceil(run * lot / quantity)


@dataclass(frozen=True)
class Lots:
    """The problem with its big orders split, and where each lot came from."""

    problem: Problem
    # lot order id -> (customer order id, lot index, pieces)
    origin: dict[str, tuple[str, int, int]]


def split(problem: Problem, max_lots: int) -> Lots | None:
    """``problem`` with every order that can be split replaced by its lots; None if no
    order is split (the problem is solved as it is)."""
    # Lots a plan in force (or the frozen part of it) already has for each order.
    pinned: dict[str, set[int]] = {}
    for a in [*problem.frozen, *problem.previous]:
        pinned.setdefault(a.order, set()).add(a.lot)
    ids = {o.id for o in problem.orders}
    orders: list[Order] = []
    origin: dict[str, tuple[str, int, int]] = {}
    for order in problem.orders:
        sizes = lot_sizes(order.quantity, order.min_lot, max_lots)
        planned = pinned.get(order.id)
        if len(sizes) == 1 or (planned is not None and planned != set(range(len(sizes)))):
            # Not split, or already planned otherwise: it stays whole.
            orders.append(order)
            continue
        for k, size in enumerate(sizes):
            lot_id = f"{order.id}{SEPARATOR}{k}"
            if lot_id in ids:
                raise ValueError(f"order {lot_id!r} clashes with the name of a lot of {order.id}")
            origin[lot_id] = (order.id, k, size)
            orders.append(
                order.model_copy(
                    update={
                        "id": lot_id,
                        "quantity": size,
                        "min_lot": 0,
                        "lot_of": order.id,
                        "operations": [
                            Operation(
                                name=op.name,
                                modes=[
                                    m.model_copy(
                                        update={"minutes": lot_minutes(m, size, order.quantity)}
                                    )
                                    for m in op.modes
                                ],
                            )
                            for op in order.operations
                        ],
                    }
                )
            )
    if not origin:
        return None
    lot_ids = {(order, lot): lid for lid, (order, lot, _) in origin.items()}

    def renamed(items: list[Assignment]) -> list[Assignment]:
        return [
            a.model_copy(update={"order": lot_ids[(a.order, a.lot)], "lot": 0, "quantity": 0})
            if (a.order, a.lot) in lot_ids
            else a
            for a in items
        ]

    return Lots(
        problem=problem.model_copy(
            update={
                "orders": orders,
                "frozen": renamed(problem.frozen),
                "previous": renamed(problem.previous),
            }
        ),
        origin=origin,
    )


def merge(problem: Problem, lots: Lots, assignments: list[Assignment]) -> list[Assignment]:
    """The lots' assignments under their customer order's id, numbered and counted."""
    quantity = {o.id: o.quantity for o in problem.orders}
    merged = []
    for a in assignments:
        order, lot, pieces = lots.origin.get(a.order, (a.order, 0, quantity.get(a.order, 0)))
        merged.append(a.model_copy(update={"order": order, "lot": lot, "quantity": pieces}))
    return merged


def merge_late(lots: Lots, late: list[LateOrder]) -> list[LateOrder]:
    """One explanation per late customer order: its latest lot's, said of the lot."""
    latest: dict[str, LateOrder] = {}
    for item in late:
        order, lot, _ = lots.origin.get(item.order, (item.order, 0, 0))
        if item.order in lots.origin:
            item = item.model_copy(
                update={
                    "order": order,
                    "reasons": [f"its lot {lot} is the last to finish", *item.reasons],
                }
            )
        if order not in latest or item.finish > latest[order].finish:
            latest[order] = item
    return list(latest.values())
