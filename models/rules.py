"""Small pure business rules shared by activities and the API."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from models.schemas import LifecycleSettings, ReorderProposal, SizeQuantity


def split_proportionally(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total`` pieces over sizes in proportion to ``weights`` (largest remainder),
    so a test batch smaller than demand keeps the demand's size curve and adds up exactly."""
    if total < 0:
        raise ValueError("total must not be negative")
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        raise ValueError("weights must sum to a positive number")
    exact = {size: total * w / weight_sum for size, w in weights.items()}
    result = {size: int(v) for size, v in exact.items()}
    short = total - sum(result.values())
    # Hand the remaining pieces to the largest fractional parts; ties by size order given.
    order = sorted(weights, key=lambda s: (-(exact[s] - result[s]), list(weights).index(s)))
    for size in order[:short]:
        result[size] += 1
    return result


def size_totals(pieces: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Pieces per size, sizes in the order first seen (split_proportionally breaks ties by
    that order)."""
    totals: dict[str, int] = {}
    for size, quantity in pieces:
        totals[size] = totals.get(size, 0) + quantity
    return totals


def run_sizes(quantity: int, served: dict[str, int], curve: dict[str, int]) -> dict[str, int]:
    """The sizes of a run of ``quantity`` pieces: exactly what the customers it serves
    ordered (``served``), and the rest spread over ``curve`` (the demand's or the sales'
    size curve). A run that serves every line of its demand is that demand."""
    rest = quantity - sum(served.values())
    if rest < 0:
        raise ValueError(f"the run of {quantity} is smaller than the lines it serves")
    sizes = dict(served)
    if rest and sum(curve.values()) > 0:
        for size, n in split_proportionally(rest, curve).items():
            sizes[size] = sizes.get(size, 0) + n
    return {size: n for size, n in sizes.items() if n}


def fabric_requirement(
    breakdown: dict[str, int], consumption_by_size: dict[str, float], wastage_pct: float
) -> float:
    """Metres of fabric: Σ quantity per size × consumption per size × (1 + wastage)."""
    missing = sorted(set(breakdown) - set(consumption_by_size))
    if missing:
        raise ValueError(f"no fabric consumption for sizes {missing}")
    net = sum(qty * consumption_by_size[size] for size, qty in breakdown.items())
    return round(net * (1 + wastage_pct / 100.0), 3)


def total(quantities: list[SizeQuantity]) -> int:
    return sum(q.quantity for q in quantities)


def hash_token(token: str) -> str:
    """Tokens are stored as SHA-256: they are long random strings, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


# Cut, sew and finish take at least a day each, even for a test batch of ten.
MIN_PRODUCTION_DAYS = 3


def earliest_feasible_due(today: date, short_fabric_lead_days: list[int]) -> date:
    """The earliest due date a pick may ask for: the minimum production time, after the
    longest lead time of a fabric whose stock does not cover the demand."""
    return today + timedelta(days=MIN_PRODUCTION_DAYS + max(short_fabric_lead_days, default=0))


def allocate_lines(lines: list[tuple[int, int]], quantity: int) -> tuple[list[int], list[int]]:
    """Which customer lines a run of ``quantity`` pieces serves: whole lines only (a line is
    one customer's promise), in the order given (earliest need-by first), each taken while
    it still fits. Returns the ids served and the ids left over."""
    served: list[int] = []
    left: list[int] = []
    room = quantity
    for line_id, line_quantity in lines:
        if line_quantity <= room:
            served.append(line_id)
            room -= line_quantity
        else:
            left.append(line_id)
    return served, left


def propose_reorder(
    received: int,
    sold_by_size: dict[str, int],
    observed_days: float,
    min_order_qty: int,
    settings: LifecycleSettings,
) -> ReorderProposal:
    """The reorder a test batch has earned, from its sell-through.

    - sell-through = units sold / pieces received; the daily rate = units sold / days
      observed;
    - below ``settings.min_sell_through`` nothing is proposed: the style did not sell;
    - otherwise the proposal covers ``settings.cover_days`` of sales at the daily rate,
      less the pieces still in stock, raised to the style's minimum order quantity, and
      split over sizes in proportion to what each size sold;
    - if the stock left covers those days, nothing is proposed;
    - no proposal exceeds ``settings.max_reorder_factor`` times the pieces received.
    """
    sold = sum(sold_by_size.values())
    sell_through = sold / received if received > 0 else 0.0
    daily_rate = sold / observed_days if observed_days > 0 else 0.0
    facts = (
        f"sold {sold} of {received} in {observed_days:g} days "
        f"({daily_rate:.1f} a day, sell-through {sell_through:.0%})"
    )

    def proposal(quantity: int, why: str) -> ReorderProposal:
        weights = {size: units for size, units in sold_by_size.items() if units > 0}
        return ReorderProposal(
            quantity=quantity,
            size_breakdown=split_proportionally(quantity, weights) if quantity else {},
            received=received,
            units_sold=sold,
            observed_days=observed_days,
            daily_rate=round(daily_rate, 3),
            sell_through=round(sell_through, 4),
            reason=f"{facts}: {why}",
        )

    if sold == 0 or sell_through < settings.min_sell_through:
        return proposal(
            0, f"below the {settings.min_sell_through:.0%} sell-through a reorder needs"
        )
    in_stock = max(received - sold, 0)
    need = math.ceil(daily_rate * settings.cover_days) - in_stock
    if need <= 0:
        return proposal(
            0, f"the {in_stock} pieces in stock cover {settings.cover_days} days of sales"
        )
    quantity = max(need, min_order_qty)
    why = (
        f"{settings.cover_days} days of sales need {math.ceil(daily_rate * settings.cover_days)}"
        f" pieces, {in_stock} are in stock"
    )
    if quantity > need:
        why += f"; raised from {need} to the minimum order quantity of {min_order_qty}"
    cap = math.floor(received * settings.max_reorder_factor)
    if quantity > cap:
        why += f"; capped at {settings.max_reorder_factor:g} times the {received} received"
        quantity = cap if cap >= min_order_qty else 0
    return proposal(quantity, why)


def due_end(due_date: date) -> datetime:
    """When an order due on ``due_date`` becomes late: the end of that day, UTC."""
    return datetime.combine(due_date, time(), UTC) + timedelta(days=1)


def hours_late(finish: datetime, due_date: date | None) -> float:
    """Hours ``finish`` lies past the end of the due date (0.0 on time or without one)."""
    return hours_past(finish, due_end(due_date) if due_date is not None else None)


def hours_past(finish: datetime, due: datetime | None) -> float:
    """Hours ``finish`` lies past ``due``, to a tenth (0.0 on time or without one)."""
    if due is None or finish <= due:
        return 0.0
    return round((finish - due).total_seconds() / 3600, 1)
