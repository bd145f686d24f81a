"""Planners' scenarios through the API, on the dev server with a real worker and a real
solver worker: run, progress, compare, apply (the plan moves, work orders follow), the
409 when the live plan moved, cancel, and bad input."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio.exceptions import ApplicationError

from activities.production import factory_closed_time
from activities.scenarios import ScenarioActivities
from models.scenarios import ApplyInput
from models.schemas import PlanStatus, WorkOrderStatus
from models.tables import Event, Factory, Plan, Scenario, WorkCentre, WorkOrder
from optimizer.calendar import next_open
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, line, pick_and_close, submit
from tests.factories import short_shifts_everywhere, slots_outside_shifts
from tests.workflows.test_demand_batch_workflow import HISTORIES, replayer


async def order_in_production(p: Platform, style: str = "TS-CREW", quantity: int = 120) -> int:
    """A batch of one style picked at once: the id of its production order, once its
    first work order is released."""
    colour = "white"
    batch_id = (
        await submit(p, {"lines": [line(style=style, colour=colour, quantity=quantity)]})
    ).json()["batch_id"]
    await pick_and_close(p, batch_id, {"style": style, "colour": colour})

    async def released() -> int | None:
        with p.session_factory() as s:
            rows = s.exec(
                select(WorkOrder).where(WorkOrder.status == WorkOrderStatus.RELEASED)
            ).all()
            ids = {w.production_order_id for w in rows}
        detail = (
            await p.http.get(f"/v1/demand-batches/{batch_id}", headers=p.auth("team-nova"))
        ).json()
        for order in detail["production_orders"]:
            if order["id"] in ids:
                return int(order["id"])
        return None

    return int(await eventually(released))


async def finished(p: Platform, scenario_id: int) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        r = await p.http.get(f"/v1/scenarios/{scenario_id}", headers=p.auth("planner"))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        assert body["status"] not in ("failed", "cancelled"), body
        return body if body["status"] == "done" else None

    result: dict[str, Any] = await eventually(done, timeout=60)
    return result


def released_cut(p: Platform, order_id: int) -> WorkOrder:
    with p.session_factory() as s:
        return s.exec(
            select(WorkOrder).where(
                WorkOrder.production_order_id == order_id,
                WorkOrder.status == WorkOrderStatus.RELEASED,
            )
        ).one()


def factory_code(p: Platform, factory_id: int) -> str:
    with p.session_factory() as s:
        factory = s.get(Factory, factory_id)
        assert factory is not None
        return factory.code


async def test_a_scenario_runs_compares_and_applies_and_work_follows_the_plan(
    platform: Platform,
) -> None:
    http, planner = platform.http, platform.auth("planner")
    with platform.session_factory() as s:
        short_shifts_everywhere(s)  # whenever it runs, work meets closed time
    order_id = await order_in_production(platform)
    cut = released_cut(platform, order_id)
    down = factory_code(platform, cut.factory_id)
    now = datetime.now(UTC)
    request = {
        "name": f"{down} down for a month",
        "edits": [
            {
                "kind": "factory_down",
                "factory": down,
                "start": now.isoformat(),
                "end": (now + timedelta(days=30)).isoformat(),
            }
        ],
        "time_limit_s": 5,
    }
    r = await http.post("/v1/scenarios", json=request, headers=planner)
    assert r.status_code == 202, r.text
    scenario_id = r.json()["id"]
    assert r.json()["status"] == "queued"

    body = await finished(platform, scenario_id)
    assert body["progress"]["elapsed_s"] >= 0
    assert body["kpis"]["objective"] <= body["greedy_kpis"]["objective"]
    assert body["live_kpis"] is not None
    with platform.session_factory() as s:
        scenario = s.get(Scenario, scenario_id)
        assert scenario is not None
        centres = {wc.code: wc for wc in s.exec(select(WorkCentre)).all()}
        at_down = {wc.code for wc in centres.values() if wc.factory_id == cut.factory_id}
        # Nothing of this order runs at the factory while it is down.
        mine = [a for a in scenario.assignments if a[0] == str(order_id)]
        assert mine and all(a[2] not in at_down for a in mine if a[3] < 30 * 24 * 60)
        new_cut = next(a for a in mine if a[1] == cut.seq)
    assert body["diff"]["operations_moved"] >= 1

    compare = await http.get(f"/v1/scenarios/compare?ids={scenario_id}", headers=planner)
    assert compare.status_code == 200, compare.text
    plans = [row["plan"] for row in compare.json()["rows"]]
    assert plans == ["live plan", request["name"], f"{request['name']}: greedy baseline"]

    applied = await http.post(f"/v1/scenarios/{scenario_id}/apply", headers=planner)
    assert applied.status_code == 200, applied.text
    result = applied.json()
    assert result["work_orders_replaced"] == 1
    assert result["orders_notified"] == [order_id]
    with platform.session_factory() as s:
        live = s.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()
        assert (live.version, live.source) == (result["plan_version"], f"scenario {scenario_id}")
        event = s.exec(select(Event).where(Event.entity == "plan", Event.kind == "applied")).one()
        assert event.actor == "demo:planner" and event.data["scenario_id"] == scenario_id
        # The applied plan works in the factories' shifts, as the placed one did.
        assert slots_outside_shifts(s) == []

    async def replaced() -> WorkOrder | None:
        with platform.session_factory() as s:
            rows = s.exec(
                select(WorkOrder)
                .where(WorkOrder.production_order_id == order_id, WorkOrder.seq == cut.seq)
                .order_by(col(WorkOrder.attempt))
            ).all()
        return rows[-1] if len(rows) == 2 and rows[-1].status == "released" else None

    made = await eventually(replaced)
    with platform.session_factory() as s:
        old = s.get(WorkOrder, cut.id)
        assert old is not None and old.status == WorkOrderStatus.WITHDRAWN
    assert made.work_centre_id == centres[new_cut[2]].id
    # Applied once: a second apply is refused.
    assert (
        await http.post(f"/v1/scenarios/{scenario_id}/apply", headers=planner)
    ).status_code == 409

    # The scenario's workflow has ended; its history replays on today's code.
    handle = platform.env.client.get_workflow_handle(f"scenario-{scenario_id}")
    assert await handle.result() == "applied"
    history = await handle.fetch_history()
    if os.environ.get("C2B_RECORD_HISTORIES"):
        (HISTORIES / "scenario_applied.json").write_text(history.to_json())
    await replayer().replay_workflow(history)


async def test_overtime_opens_closed_hours_and_stays_in_the_calendar_once_applied(
    platform: Platform,
) -> None:
    http, planner = platform.http, platform.auth("planner")
    with platform.session_factory() as s:
        short_shifts_everywhere(s)  # open 00-02, 06-08, 12-14 and 18-20 UTC
    await order_in_production(platform)
    with platform.session_factory() as s:
        knit = s.exec(select(Factory).where(Factory.code == "GZ-KNIT")).one()
        origin = datetime.now(UTC).replace(second=0, microsecond=0)
        night = next(a for a, _ in factory_closed_time(s, origin)[knit.id or 0] if a > 0)
    start = origin + timedelta(minutes=night)
    period = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    r = await http.post(
        "/v1/scenarios",
        json={"edits": [{"kind": "overtime", "factory": "GZ-KNIT", **period}], "time_limit_s": 2},
        headers=planner,
    )
    assert r.status_code == 202, r.text
    await finished(platform, r.json()["id"])
    applied = await http.post(f"/v1/scenarios/{r.json()['id']}/apply", headers=planner)
    assert applied.status_code == 200, applied.text
    with platform.session_factory() as s:
        knit = s.exec(select(Factory).where(Factory.code == "GZ-KNIT")).one()
        assert knit.overtime == [[start.isoformat(), (start + timedelta(hours=2)).isoformat()]]
        event = s.exec(
            select(Event).where(Event.entity == "factory", Event.kind == "overtime")
        ).one()
        assert event.actor == "demo:planner"
        # The next placement sees the two hours open; the other factories stay closed then.
        closed = factory_closed_time(s, origin)
        assert next_open(closed[knit.id or 0], night) == night
        others = [f for f in closed if f != knit.id]
        assert all(next_open(closed[f], night) > night for f in others)
        assert slots_outside_shifts(s) == []


async def test_apply_is_refused_when_the_live_plan_moved_since(platform: Platform) -> None:
    http, planner = platform.http, platform.auth("planner")
    await order_in_production(platform)
    r = await http.post("/v1/scenarios", json={"time_limit_s": 2}, headers=planner)
    assert r.status_code == 202, r.text
    scenario_id = r.json()["id"]
    await finished(platform, scenario_id)
    await order_in_production(platform, style="TS-LONG")  # the plan moves
    refused = await http.post(f"/v1/scenarios/{scenario_id}/apply", headers=planner)
    assert refused.status_code == 409, refused.text
    assert "live plan moved" in refused.json()["detail"]
    with platform.session_factory() as s:
        assert s.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one().source != (
            f"scenario {scenario_id}"
        )
    # Dropped, it cannot be applied either.
    cancelled = await http.post(f"/v1/scenarios/{scenario_id}/cancel", headers=planner)
    assert cancelled.status_code == 200, cancelled.text

    async def dropped() -> bool:
        r = await http.get(f"/v1/scenarios/{scenario_id}", headers=planner)
        return bool(r.json()["status"] == "cancelled")

    await eventually(dropped)
    again = await http.post(f"/v1/scenarios/{scenario_id}/apply", headers=planner)
    assert again.status_code == 409


async def test_bad_scenarios_are_refused_with_the_edit_named(platform: Platform) -> None:
    http, planner = platform.http, platform.auth("planner")
    now = datetime.now(UTC)
    period = {"start": now.isoformat(), "end": (now + timedelta(days=1)).isoformat()}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"edits": [{"kind": "factory_down", "factory": "NOPE", **period}]}, 422, "edits[0]"),
        (
            {"edits": [{"kind": "work_centre_down", "work_centre": "XX-1", **period}]},
            422,
            "unknown work centre",
        ),
        (
            {
                "edits": [
                    {
                        "kind": "factory_down",
                        "factory": "GZ-KNIT",
                        "start": period["end"],
                        "end": period["start"],
                    }
                ]
            },
            422,
            "is not after start",
        ),
        (
            {
                "edits": [
                    {
                        "kind": "rush",
                        "style": "TS-CREW",
                        "colour": "mauve",
                        "quantity": 10,
                        "due": period["end"],
                    }
                ]
            },
            422,
            "colour 'mauve'",
        ),
        (
            {"edits": [{"kind": "due_date", "production_order_id": 999999, "due": period["end"]}]},
            422,
            "not open",
        ),
        ({"edits": [{"kind": "teleport"}]}, 422, "teleport"),
        (
            {"edits": [{"kind": "overtime", "factory": "GZ-KNITS", **period}]},
            422,
            "unknown factory 'GZ-KNITS'",
        ),
        ({"time_limit_s": 0}, 422, "time_limit_s"),
        ({"weights": {"tardiness": 1}}, 422, "tardiness"),
    ]
    for body, code, says in cases:
        r = await http.post("/v1/scenarios", json=body, headers=planner)
        assert r.status_code == code, (body, r.text)
        assert says in r.text, (body, r.text)
    assert (
        await http.post("/v1/scenarios", json={}, headers=platform.auth("team-nova"))
    ).status_code == 403
    assert (await http.get("/v1/scenarios/999999", headers=planner)).status_code == 404
    assert (await http.get("/v1/scenarios/compare?ids=x", headers=planner)).status_code == 422
    with platform.session_factory() as s:
        assert s.exec(select(Scenario)).first() is None  # nothing half-made


async def test_the_apply_step_itself_refuses_a_plan_that_moved_under_it(
    platform: Platform,
) -> None:
    """The API's early check can race a change to the plan: the apply activity checks
    again under the plan's lock."""
    http, planner = platform.http, platform.auth("planner")
    await order_in_production(platform)
    r = await http.post("/v1/scenarios", json={"time_limit_s": 2}, headers=planner)
    scenario_id = r.json()["id"]
    await finished(platform, scenario_id)
    await order_in_production(platform, style="TS-LONG")
    with pytest.raises(ApplicationError, match="live plan moved") as err:
        ScenarioActivities(platform.session_factory).apply_scenario(
            ApplyInput(scenario_id=scenario_id, actor="test")
        )
    assert err.value.type == "Conflict" and err.value.non_retryable
    with platform.session_factory() as s:
        assert s.exec(select(Plan).where(Plan.source == f"scenario {scenario_id}")).first() is None
