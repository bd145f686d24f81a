"""Small pure business rules shared by activities and the API."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from models.schemas import SizeQuantity


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
