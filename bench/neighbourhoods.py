"""Where one CP-SAT model stops paying: live plans of growing size, each solved as one
model and a neighbourhood of orders at a time (``optimizer.lns``), for the same seconds.

The plans are built as the scenario benchmark builds them (``bench.scenario``: ten
factories, orders of the seeded styles placed by the platform's own placement), in a
SQLite file per size, and read back as a scenario reads them (``read_snapshot``,
``build_problem``). The baseline of every size is the greedy dispatcher's plan, which
both searches start from. ``Params.full_model_operations`` is chosen from this.

    c2b bench neighbourhoods [--orders 100,150,200,300,400] [--time-limit 20] [--json]
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from activities.scenarios import build_problem, read_snapshot
from bench.apparel import RESULTS
from bench.scenario import place_live_plan
from c2b import migrate
from c2b.db import make_engine, make_session_factory
from c2b.seed import seed_demo_data
from optimizer import cpsat
from optimizer.greedy import best_dispatch
from optimizer.problem import Params, Problem

WHOLE = 10**9  # full_model_operations that keeps any problem one model
PIECES = 1  # full_model_operations that sends any problem to the neighbourhoods


def live_plan_problem(orders: int, seed: int, directory: Path) -> Problem:
    """The scenario problem of a live plan of ``orders`` placed orders, no edits."""
    url = f"sqlite:///{directory / f'plan-{orders}.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        seed_demo_data(session)
    place_live_plan(make_session_factory(engine), orders, random.Random(seed))
    with Session(engine) as session:
        snapshot = read_snapshot(session, datetime.now(UTC).replace(second=0, microsecond=0))
    engine.dispose()
    return build_problem(snapshot, []).problem


def one_size(problem: Problem, time_limit: float, seed: int) -> dict[str, Any]:
    operations = sum(len(o.operations) for o in problem.orders)
    greedy = best_dispatch(problem, Params())
    row: dict[str, Any] = {"operations": operations, "greedy_objective": greedy.objective}
    for name, threshold in (("whole_model", WHOLE), ("neighbourhoods", PIECES)):
        params = Params(time_limit_s=time_limit, seed=seed, full_model_operations=threshold)
        plan = cpsat.solve(problem, params)
        row[name] = {
            "objective": plan.objective,
            "below_greedy": round(1 - plan.objective / greedy.objective, 3)
            if greedy.objective
            else 0.0,
            "first_solution_s": plan.first_solution_seconds,
            "seconds": plan.seconds,
            "status": plan.status.value,
        }
    row["default_uses"] = (
        "neighbourhoods" if operations > Params().full_model_operations else "whole_model"
    )
    return row


def measure(
    sizes: list[int],
    time_limit: float,
    seed: int = 1,
    say: Callable[[str], None] = lambda _: None,
    out: Path | None = None,
) -> dict[str, Any]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="c2b-bench-nbh-") as tmp:
        for orders in sizes:
            say(f"{orders} orders: placing them into a live plan ...")
            problem = live_plan_problem(orders, seed, Path(tmp))
            say(f"  solving it whole and in neighbourhoods, {time_limit:g} s each ...")
            row = {"orders": orders, **one_size(problem, time_limit, seed)}
            say(
                f"  {row['operations']} operations: greedy {row['greedy_objective']:.0f}, "
                f"whole {row['whole_model']['objective']:.0f}, "
                f"neighbourhoods {row['neighbourhoods']['objective']:.0f}"
            )
            rows.append(row)
    result = {
        "benchmark": "one CP-SAT model against neighbourhoods on live plans of growing size",
        "time_limit_s": time_limit,
        "workers": Params().workers,
        "seed": seed,
        "full_model_operations": Params().full_model_operations,
        "sizes": rows,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = out or RESULTS / "neighbourhoods.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result
