"""The solve activity on a plan big enough not to be solved at once (150 orders over ten
factories, placed as the platform places them): it heartbeats and stores its progress
while it searches, and stopped from outside it keeps its best plan."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.scenarios import SolverActivities
from bench.scenario import place_live_plan
from c2b.db import SessionFactory
from models.scenarios import ScenarioStatus
from models.schemas import PlanStatus
from models.tables import Plan, Scenario
from tests.api.conftest import Platform, running_platform
from tests.api.test_buyer_flow import eventually
from tests.held import HeldSolve
from tests.workflows.test_demand_batch_workflow import replays


def busy_plan(session_factory: SessionFactory, orders: int) -> None:
    place_live_plan(session_factory, orders, random.Random(3))


def new_scenario(session: Session, time_limit_s: float) -> int:
    live = session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()
    scenario = Scenario(
        created_by="test",
        base_plan_version=live.version,
        base_revision=live.revision,
        time_limit_s=time_limit_s,
    )
    session.add(scenario)
    session.commit()
    return scenario.id or 0


async def test_a_stopped_solve_keeps_its_best_plan(session_factory: SessionFactory) -> None:
    busy_plan(session_factory, 150)
    with session_factory() as s:
        scenario_id = new_scenario(s, time_limit_s=60)
    heartbeats: list[Any] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: heartbeats.append(details)
    started = time.monotonic()
    solving = asyncio.ensure_future(
        env.run(SolverActivities(session_factory).solve_scenario, scenario_id)
    )

    def progress() -> dict[str, Any] | None:
        with session_factory() as s:
            row = s.get(Scenario, scenario_id)
            assert row is not None
            return row.progress if row.status == ScenarioStatus.SOLVING else None

    while (p := progress()) is None:
        assert time.monotonic() - started < 30, "no progress stored"
        await asyncio.sleep(0.2)
    # The best plan so far is there from the first report: the one a stop keeps.
    assert p["objective"] is not None
    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await solving
    stopped_after = time.monotonic() - started
    assert stopped_after < 40  # well before its 60 s
    assert heartbeats and heartbeats[-1][0]["objective"] is not None
    with session_factory() as s:
        row = s.get(Scenario, scenario_id)
        assert row is not None
        assert row.status == ScenarioStatus.DONE and row.stopped_early
        assert row.kpis is not None and row.greedy_kpis is not None
        assert row.kpis["objective"] <= row.greedy_kpis["objective"]
        placed = {(a[0], a[1]) for a in row.assignments}
        assert len(placed) == len(row.assignments) >= 150 * 3


async def test_a_planner_stops_a_long_solve_and_applies_its_best_plan(
    platform: Platform,
) -> None:
    busy_plan(platform.session_factory, 120)
    http, planner = platform.http, platform.auth("planner")
    r = await http.post("/v1/scenarios", json={"time_limit_s": 120}, headers=planner)
    assert r.status_code == 202, r.text
    path = f"/v1/scenarios/{r.json()['id']}"

    async def searching() -> bool:
        body = (await http.get(path, headers=planner)).json()
        return body["status"] == "solving" and (body["progress"] or {}).get("objective") is not None

    await eventually(searching, timeout=60)
    stopped = await http.post(f"{path}/cancel", headers=planner)
    assert stopped.status_code == 200, stopped.text
    asked = time.monotonic()

    async def kept() -> dict[str, Any] | None:
        body: dict[str, Any] = (await http.get(path, headers=planner)).json()
        return body if body["status"] == "done" else None

    body = await eventually(kept, timeout=30)
    # The stop reaches the solve with its next heartbeat, sent every second (it was 16 s).
    assert time.monotonic() - asked < 8
    assert body["stopped_early"] and body["progress"]["elapsed_s"] < 100
    applied = await http.post(f"{path}/apply", headers=planner)
    assert applied.status_code == 200, applied.text
    assert applied.json()["plan_version"] == 2


async def test_a_scenario_that_reads_done_is_applied_before_its_workflow_hears_of_it(
    dev_server_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    db_url: str,
) -> None:
    """The solve stores the plan (the scenario reads "done", and the page offers Apply)
    a moment before its workflow hears that the solve ended. An apply in that moment
    waits for it, instead of a 409 "is solving" (which a test run met once)."""
    held = HeldSolve(session_factory)
    async with running_platform(
        dev_server_env, session_factory, session, db_url, solver=held
    ) as platform:
        busy_plan(platform.session_factory, 20)
        http, planner = platform.http, platform.auth("planner")
        r = await http.post("/v1/scenarios", json={"time_limit_s": 2}, headers=planner)
        assert r.status_code == 202, r.text
        path = f"/v1/scenarios/{r.json()['id']}"
        assert await asyncio.to_thread(held.stored.wait, 60)
        assert (await http.get(path, headers=planner)).json()["status"] == "done"

        applying = asyncio.ensure_future(http.post(f"{path}/apply", headers=planner))
        await asyncio.sleep(1.0)
        assert not applying.done()  # waiting for the workflow to hear the solve end
        held.release.set()
        applied = await applying
        assert applied.status_code == 200, applied.text
        assert applied.json()["plan_version"] == 2

        # Its history (the apply waited: a patch marker) replays on today's code.
        handle = platform.env.client.get_workflow_handle(f"scenario-{r.json()['id']}")
        assert await handle.result() == "applied"
        history = await handle.fetch_history()
        await replays(history, "scenario_apply_waited")
