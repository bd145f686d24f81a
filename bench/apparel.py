"""Reproducible apparel scheduling problems at scale, from the figures in
``../shared/APPAREL-DATA.md``, and the benchmark that plans them.

An order is one style, colour and quantity (100-300 pieces: C2B first runs are 100-200;
a bigger order comes as lots of at most 300, so that each operation fits in a day's two
shifts).
Its routing is cut, optionally print, sew, optionally embroider, finish, pack (4-6
operations). Each operation can run at 2-5 work centres of its kind spread over the
factories; minutes are setup + quantity x minutes per piece for that centre:
- cutting: 30-90 min per lay plus 0.3-1.0 min per piece;
- printing / embroidery: 20-60 min setup plus 0.5-3 min per piece, on 2-4 heads;
- sewing: the garment's SMV (T-shirt 5-7 ... trousers 25-35) on a line of 20-40 operators
  at 60-80 % efficiency;
- finishing and packing: 1-4 min per piece for a team of 6-12.
Factories work two 8-hour shifts (6:00-22:00) Monday to Saturday; some close on a
public holiday. Orders arrive (fabric in, design approved) at about 39 a day, close to
what the cutting rooms (one per factory, the bottleneck) can take; each is due 1-4 days
after its release; weights 1-3 (a marketplace promise is worth more than a restock).

With ``--max-lots 2`` (or more) an order of 200 pieces or more may go through its routing
as lots of at least 100 (``optimizer.lots``); each lot pays the setup again.

    c2b bench schedule --orders N [--time-limit 60] [--workers 2] [--seed 1]
                       [--max-lots 1] [--json]
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from optimizer.calendar import closed_intervals
from optimizer.check import violations
from optimizer.cpsat import solve
from optimizer.greedy import dispatch
from optimizer.problem import Mode, Operation, Order, Params, Problem, Weights, WorkCentre

RESULTS = Path(__file__).parent / "results"
DAY = 24 * 60

# garment: (SMV low, SMV high)
GARMENTS = {
    "t-shirt": (5, 7),
    "polo": (10, 12),
    "blouse": (12, 16),
    "skirt": (10, 15),
    "hoodie": (15, 20),
    "shirt": (18, 25),
    "dress": (20, 30),
    "jeans": (22, 30),
    "trousers": (25, 35),
}
ORDERS_PER_DAY = 30
KINDS = ("cut", "print", "sew", "embroider", "finish", "pack")


def _factories(rng: random.Random, days: int) -> list[WorkCentre]:
    centres = []
    for f in range(rng.randint(8, 12)):
        factory = f"F{f + 1:02d}"
        # Two 8-hour shifts (6:00-22:00), Monday to Saturday; a few factories also close
        # on one public holiday.
        holidays = frozenset({rng.randint(1, days - 1)}) if rng.random() < 0.3 else frozenset()
        closed = closed_intervals([(360, 1320)], days, holidays=holidays)
        counts = {
            "cut": 1,
            "print": rng.randint(0, 1),
            "sew": rng.randint(2, 4),
            "embroider": rng.randint(0, 1),
            "finish": 1,
            "pack": 1,
        }
        for kind, n in counts.items():
            for i in range(n):
                centres.append(
                    WorkCentre(id=f"{factory}-{kind}-{i + 1}", factory=factory, closed=closed)
                )
    return centres


def _per_piece(kind: str, smv: float, rng: random.Random) -> tuple[float, float]:
    """(setup minutes, minutes per piece) of one work centre for one operation."""
    if kind == "cut":
        return rng.uniform(30, 90), rng.uniform(0.3, 1.0)
    if kind in ("print", "embroider"):
        return rng.uniform(20, 60), rng.uniform(0.5, 3.0) / rng.randint(2, 4)
    if kind == "sew":
        return 20.0, smv / (rng.randint(20, 40) * rng.uniform(0.6, 0.8))
    return 10.0, rng.uniform(1.0, 4.0) / rng.randint(6, 12)


MIN_LOT = 100


def make_order(
    order_id: str, rng: random.Random, by_kind: dict[str, list[str]], release_days: float
) -> Order:
    garment = rng.choice(list(GARMENTS))
    smv = rng.uniform(*GARMENTS[garment])
    quantity = rng.choice([100, 150, 200, 200, 250, 300])
    kinds = ["cut"]
    if rng.random() < 0.5 and by_kind["print"]:
        kinds.append("print")
    kinds.append("sew")
    if rng.random() < 0.3 and by_kind["embroider"]:
        kinds.append("embroider")
    kinds += ["finish", "pack"]
    operations = []
    for kind in kinds:
        eligible = rng.sample(by_kind[kind], k=min(len(by_kind[kind]), rng.randint(2, 5)))
        modes = []
        for centre in eligible:
            setup, per_piece = _per_piece(kind, smv, rng)
            minutes = round(setup + quantity * per_piece)
            modes.append(
                Mode(work_centre=centre, minutes=minutes, setup_minutes=min(round(setup), minutes))
            )
        operations.append(Operation(name=kind, modes=modes))
    release = rng.randint(0, int(release_days * DAY))
    return Order(
        id=order_id,
        operations=operations,
        release=release,
        due=release + rng.randint(DAY, 4 * DAY),
        weight=rng.choice([1, 1, 2, 3]),
        # With --max-lots above 1, orders of 200 pieces and more may go as lots of 100.
        quantity=quantity,
        min_lot=MIN_LOT,
    )


def arrival_days(n_orders: int) -> float:
    """Orders arrive over this many days: about 39 a day keeps the cutting rooms (the
    bottleneck: one per factory, two shifts, six days) some 95 % busy, so orders queue
    and priorities matter."""
    return max(1.0, n_orders / ORDERS_PER_DAY)


def centres_by_kind(centres: list[WorkCentre]) -> dict[str, list[str]]:
    """Work-centre ids per operation kind (ids read ``<factory>-<kind>-<n>``)."""
    return {k: [c.id for c in centres if f"-{k}-" in c.id] for k in KINDS}


def calendar_days(n_orders: int) -> int:
    """Calendars long enough for the arrivals plus the slowest plan's tail."""
    return int(arrival_days(n_orders)) + 60


def generate(n_orders: int, seed: int = 1) -> Problem:
    rng = random.Random(seed)
    centres = _factories(rng, calendar_days(n_orders))
    by_kind = centres_by_kind(centres)
    days = arrival_days(n_orders)
    orders = [make_order(f"o{i + 1}", rng, by_kind, days) for i in range(n_orders)]
    return Problem(work_centres=centres, orders=orders)


def measure(
    n_orders: int,
    time_limit_s: float,
    workers: int,
    seed: int = 1,
    say: Callable[[str], None] = lambda _: None,
    insert_time_limit_s: float = 4.5,
    out: Path | None = None,
    max_lots: int = 1,
) -> dict[str, Any]:
    problem = generate(n_orders, seed)
    n_ops = sum(len(o.operations) for o in problem.orders)
    say(
        f"{n_orders} orders, {n_ops} operations, {len(problem.work_centres)} work centres in "
        f"{len({c.factory for c in problem.work_centres})} factories"
    )
    params = Params(time_limit_s=time_limit_s, workers=workers, seed=seed, max_lots=max_lots)
    t0 = time.monotonic()
    greedy = dispatch(problem, params)
    greedy_s = time.monotonic() - t0
    say(f"greedy: weighted tardiness {greedy.kpis.weighted_tardiness:.0f} in {greedy_s:.2f} s")

    def show(p: Any) -> None:
        say(f"  {p.seconds:6.1f} s  objective {p.objective}  bound {p.best_bound}")

    plan = solve(problem, params, on_progress=show)
    for made in (greedy, plan):
        broken = violations(problem, made)
        if broken:
            raise AssertionError(f"a plan breaks invariants: {broken[:3]}")
    say(f"cp-sat: weighted tardiness {plan.kpis.weighted_tardiness:.0f}, status {plan.status}")

    # One more order arrives: plan it into the plan in force, moving as little as may be.
    rng = random.Random(seed + 1)
    by_kind = centres_by_kind(problem.work_centres)
    newcomer = make_order("new", rng, by_kind, arrival_days(n_orders))
    insertion = problem.model_copy(
        update={"orders": [*problem.orders, newcomer], "previous": plan.assignments}
    )
    insert_params = Params(
        time_limit_s=insert_time_limit_s,
        workers=workers,
        seed=seed,
        max_lots=max_lots,
        weights=Weights(weighted_tardiness=1.0, plan_changes=1000.0),
    )
    inserted = solve(insertion, insert_params)
    if violations(insertion, inserted):
        raise AssertionError("the insertion's plan breaks invariants")
    say(f"insertion: {inserted.terms['plan_changes']:.0f} operations moved")

    greedy_wt = greedy.kpis.weighted_tardiness
    cpsat_wt = plan.kpis.weighted_tardiness
    result = {
        "benchmark": "apparel orders planned by CP-SAT against the greedy dispatcher",
        "orders": n_orders,
        "operations": n_ops,
        "work_centres": len(problem.work_centres),
        "factories": len({c.factory for c in problem.work_centres}),
        "seed": seed,
        "max_lots": max_lots,
        "split_orders": len({a.order for a in plan.assignments if a.lot}),
        "time_limit_s": time_limit_s,
        "workers": workers,
        "greedy_seconds": round(greedy_s, 3),
        "first_feasible_s": plan.first_solution_seconds,
        "greedy_weighted_tardiness": greedy_wt,
        "cpsat_weighted_tardiness": cpsat_wt,
        "improvement": round(1 - cpsat_wt / greedy_wt, 3) if greedy_wt else 0.0,
        "greedy_on_time_pct": round(greedy.kpis.on_time_pct, 1),
        "cpsat_on_time_pct": round(plan.kpis.on_time_pct, 1),
        "status": plan.status.value,
        "gap": round(plan.gap, 3),
        "seconds": plan.seconds,
        "insert_seconds": inserted.seconds,
        "moved_fraction": round(inserted.terms["plan_changes"] / len(plan.assignments), 4),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    lotted = f"-lots{max_lots}" if max_lots > 1 else ""
    out = out or RESULTS / f"schedule-{n_orders}{lotted}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result
