"""Planners' scenarios through the API, on the dev server with a real worker and a real
solver worker: run, progress, compare, apply (the plan moves, work orders follow), an
apply over orders placed since, the 409 when that collides or another plan was applied,
cancel, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio.exceptions import ApplicationError

from activities.production import factory_closed_time
from activities.scenarios import ScenarioActivities
from models.scenarios import ApplyInput
from models.schemas import PlanStatus, ProductionOrderStatus, WorkOrderStatus
from models.tables import (
    Event,
    Factory,
    Plan,
    PlanAssignment,
    ProductionOrder,
    Scenario,
    WorkCentre,
    WorkOrder,
)
from optimizer.calendar import next_open
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, line, pick_and_close, submit
from tests.api.test_completion_race import claim
from tests.factories import short_shifts_everywhere, slots_outside_shifts
from tests.workflows.test_demand_batch_workflow import replays


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
    # Nothing changed since the solve: the apply moves what the diff said it would.
    assert (result["operations_kept"], result["orders_placed_again"]) == (0, [])
    assert result["operations_moved"] == body["diff"]["operations_moved"]
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
    await replays(history, "scenario_applied")


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


async def test_down_periods_and_capacity_applied_stay_for_the_placements_after(
    platform: Platform,
) -> None:
    """Applied, a scenario's factory and work-centre down periods go into the calendars and
    its capacity into the work centre: the next order is placed around them."""
    http, planner = platform.http, platform.auth("planner")
    first = await order_in_production(platform)
    cut = released_cut(platform, first)
    down = factory_code(platform, cut.factory_id)
    with platform.session_factory() as s:
        other = s.exec(select(WorkCentre).where(WorkCentre.factory_id != cut.factory_id)).first()
        assert other is not None
    now = datetime.now(UTC)
    month = {"start": now.isoformat(), "end": (now + timedelta(days=30)).isoformat()}
    edits = [
        {"kind": "factory_down", "factory": down, **month},
        {"kind": "work_centre_down", "work_centre": other.code, **month},
        {"kind": "capacity", "work_centre": other.code, "capacity": 3},
    ]
    r = await http.post("/v1/scenarios", json={"edits": edits, "time_limit_s": 2}, headers=planner)
    assert r.status_code == 202, r.text
    await finished(platform, r.json()["id"])
    applied = await http.post(f"/v1/scenarios/{r.json()['id']}/apply", headers=planner)
    assert applied.status_code == 200, applied.text
    period = [now.isoformat(), (now + timedelta(days=30)).isoformat()]
    with platform.session_factory() as s:
        factory = s.get(Factory, cut.factory_id)
        centre = s.get(WorkCentre, other.id)
        assert factory is not None and centre is not None
        assert factory.downtime == [period] and centre.downtime == [period]
        assert centre.capacity == 3
        kinds = {
            (e.entity, e.kind) for e in s.exec(select(Event)).all() if e.actor == "demo:planner"
        }
        assert {
            ("factory", "downtime"),
            ("work_centre", "downtime"),
            ("work_centre", "capacity"),
        } <= kinds

    later = await order_in_production(platform, style="TS-LONG")
    _, slots = live_plan_slots(platform)
    with platform.session_factory() as s:
        centres = s.exec(select(WorkCentre)).all()
        at_down = {wc.id for wc in centres if wc.factory_id == cut.factory_id}
    for (order_id, _), (wc_id, start, _end) in slots.items():
        if order_id == later and start < now + timedelta(days=30):
            assert wc_id not in at_down | {other.id}, (wc_id, start)


async def test_a_planner_reads_the_calendar_and_withdraws_what_was_applied(
    platform: Platform,
) -> None:
    http, planner = platform.http, platform.auth("planner")
    cut = released_cut(platform, await order_in_production(platform))
    busy = factory_code(platform, cut.factory_id)  # the live plan works there
    with platform.session_factory() as s:
        line = s.exec(select(WorkCentre).where(WorkCentre.factory_id == cut.factory_id)).first()
        idle = s.exec(select(Factory).where(Factory.id != cut.factory_id)).first()
        assert line is not None and idle is not None
        now = datetime.now(UTC).replace(microsecond=0)
        shifts_only = factory_closed_time(s, now)[idle.id or 0]
    start, end = now + timedelta(days=7), now + timedelta(days=8)
    week = {"start": start.isoformat(), "end": end.isoformat()}
    edits = [
        {"kind": "factory_down", "factory": idle.code, **week},
        {"kind": "work_centre_down", "work_centre": line.code, **week},
        {"kind": "overtime", "factory": busy, **week},
    ]
    r = await http.post("/v1/scenarios", json={"edits": edits, "time_limit_s": 2}, headers=planner)
    assert r.status_code == 202, r.text
    await finished(platform, r.json()["id"])
    applied = await http.post(f"/v1/scenarios/{r.json()['id']}/apply", headers=planner)
    assert applied.status_code == 200, applied.text

    def periods(listed: list[dict[str, str]]) -> list[tuple[datetime, datetime]]:
        return [
            (datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"])) for p in listed
        ]

    with platform.session_factory() as s:
        assert factory_closed_time(s, now)[idle.id or 0] != shifts_only
    down = (await http.get(f"/v1/factories/{idle.code}/calendar", headers=planner)).json()
    assert periods(down["downtime"]) == [(start, end)] and down["overtime"] == []
    mine = (await http.get(f"/v1/factories/{busy}/calendar", headers=planner)).json()
    assert periods(mine["overtime"]) == [(start, end)]
    assert {code: periods(p) for code, p in mine["work_centre_downtime"].items()} == {
        line.code: [(start, end)]
    }

    # Refused, each naming what is wrong; nothing changes.
    cases = [
        (idle.code, {"kind": "downtime", **week, "work_centre": line.code}, 422, "work_centre"),
        (busy, {"kind": "overtime", **week, "work_centre": line.code}, 422, "work_centre"),
        (idle.code, {"kind": "overtime", **week}, 404, f"{idle.code} has no overtime"),
        ("NOPE", {"kind": "downtime", **week}, 404, "factory NOPE"),
    ]
    for code, body, status, said in cases:
        refused = await http.post(
            f"/v1/factories/{code}/calendar/withdraw", json=body, headers=planner
        )
        assert refused.status_code == status, (body, refused.text)
        assert said in refused.text, refused.text

    # Overtime the live plan works in is refused until that work moves.
    with platform.session_factory() as s, s.begin():
        plan = s.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()
        slot = s.exec(
            select(PlanAssignment)
            .join(WorkCentre, col(WorkCentre.id) == col(PlanAssignment.work_centre_id))
            .where(PlanAssignment.plan_id == plan.id, WorkCentre.factory_id == cut.factory_id)
        ).first()
        assert slot is not None
        was = (slot.start, slot.end)
        slot.start, slot.end = start + timedelta(hours=1), start + timedelta(hours=2)
        where = f"order {slot.production_order_id} operation {slot.seq}"
    overtime = {"kind": "overtime", **week}
    url = f"/v1/factories/{busy}/calendar/withdraw"
    worked = await http.post(url, json=overtime, headers=planner)
    assert worked.status_code == 409, worked.text
    assert where in worked.json()["detail"]
    with platform.session_factory() as s, s.begin():
        moved = s.get(PlanAssignment, slot.id)
        assert moved is not None
        moved.start, moved.end = was

    for code, body in [
        (busy, overtime),
        (busy, {"kind": "downtime", **week, "work_centre": line.code}),
        (idle.code, {"kind": "downtime", **week}),
    ]:
        done = await http.post(
            f"/v1/factories/{code}/calendar/withdraw", json=body, headers=planner
        )
        assert done.status_code == 200, done.text
    mine = (await http.get(f"/v1/factories/{busy}/calendar", headers=planner)).json()
    assert mine["overtime"] == [] and mine["work_centre_downtime"] == {}
    with platform.session_factory() as s:
        row = s.get(Factory, idle.id)
        assert row is not None and row.downtime == []
        # The placements see the day as its shifts say again.
        assert factory_closed_time(s, now)[idle.id or 0] == shifts_only
        withdrawn = s.exec(select(Event).where(col(Event.kind).like("%_withdrawn"))).all()
        assert sorted(e.kind for e in withdrawn) == [
            "downtime_withdrawn",
            "downtime_withdrawn",
            "overtime_withdrawn",
        ]
        assert {e.actor for e in withdrawn} == {"demo:planner"}


def live_plan_slots(p: Platform) -> tuple[Plan, dict[tuple[int, int], tuple[int, Any, Any]]]:
    with p.session_factory() as s:
        plan = s.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()
        rows = s.exec(select(PlanAssignment).where(PlanAssignment.plan_id == plan.id)).all()
        return plan, {
            (a.production_order_id, a.seq): (a.work_centre_id, a.start, a.end) for a in rows
        }


async def test_a_scenario_applies_over_orders_placed_since_and_keeps_them_where_they_are(
    platform: Platform,
) -> None:
    http, planner = platform.http, platform.auth("planner")
    await order_in_production(platform)
    r = await http.post("/v1/scenarios", json={"time_limit_s": 2}, headers=planner)
    assert r.status_code == 202, r.text
    scenario_id = r.json()["id"]
    assert (await finished(platform, scenario_id))["live_changes_since"] == 0
    later = await order_in_production(platform, style="TS-LONG")  # the plan moves
    seen = (await http.get(f"/v1/scenarios/{scenario_id}", headers=planner)).json()
    assert seen["live_changes_since"] >= 1  # placed: one change at least
    _, before = live_plan_slots(platform)
    placed_since = {key: slot for key, slot in before.items() if key[0] == later}
    assert placed_since

    applied = await http.post(f"/v1/scenarios/{scenario_id}/apply", headers=planner)
    assert applied.status_code == 200, applied.text
    assert applied.json()["operations_kept"] == len(placed_since)
    plan, after = live_plan_slots(platform)
    assert plan.source == f"scenario {scenario_id}"
    assert {key: slot for key, slot in after.items() if key[0] == later} == placed_since
    assert after.keys() == before.keys()
    with platform.session_factory() as s:
        event = s.exec(select(Event).where(Event.entity == "plan", Event.kind == "applied")).one()
        assert event.data["operations_kept"] == len(placed_since)


async def test_closed_orders_slots_are_history_that_scenarios_neither_read_nor_carry(
    platform: Platform,
) -> None:
    """A shipped order's slots leave the live plan as it ships; a closed order's slots
    still there (a ship racing an apply copies them into the new plan) are left out of a
    scenario's snapshot (a snapshot of every slot the platform ever planned grew with every
    order shipped: the hour-long soak's solver grew by 0.9 MB a scenario), and the plan it
    applies carries the open orders' slots only."""
    http, planner = platform.http, platform.auth("planner")
    open_order = await order_in_production(platform)
    closed = await order_in_production(platform, style="TS-LONG")
    with platform.session_factory() as s:
        order = s.get(ProductionOrder, closed)
        assert order is not None
        order.status = ProductionOrderStatus.DONE  # closed, its slots left in the live plan
        s.add(order)
        s.commit()
    _, before = live_plan_slots(platform)
    assert {o for o, _ in before} == {open_order, closed}  # still in the live plan

    r = await http.post("/v1/scenarios", json={"time_limit_s": 2}, headers=planner)
    assert r.status_code == 202, r.text
    scenario_id = r.json()["id"]
    await finished(platform, scenario_id)
    with platform.session_factory() as s:
        scenario = s.get(Scenario, scenario_id)
        assert scenario is not None
        assert {order_id for order_id, *_ in scenario.base_slots} == {open_order}

    applied = await http.post(f"/v1/scenarios/{scenario_id}/apply", headers=planner)
    assert applied.status_code == 200, applied.text
    _, after = live_plan_slots(platform)
    assert after.keys() == {key for key in before if key[0] == open_order}


async def an_order_in_the_scenarios_way(p: Platform) -> tuple[int, int, int, str, int]:
    """A scenario solved, then an order placed since on the very slot the scenario gives
    the first order's operation (moved there in the database: the placement's own choice
    depends on the seed data). (scenario id, first order, its seq, the centre, later order)."""
    first = await order_in_production(p)
    r = await p.http.post("/v1/scenarios", json={"time_limit_s": 2}, headers=p.auth("planner"))
    scenario_id = r.json()["id"]
    await finished(p, scenario_id)
    later = await order_in_production(p, style="TS-LONG")
    with p.session_factory() as s, s.begin():
        scenario = s.get(Scenario, scenario_id)
        assert scenario is not None and scenario.origin is not None
        _, seq, code, start, end = next(a for a in scenario.assignments if a[0] == str(first))
        centre = s.exec(select(WorkCentre).where(WorkCentre.code == code)).one()
        centre.capacity = 1
        plan = s.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()
        mine = s.exec(
            select(PlanAssignment)
            .where(PlanAssignment.plan_id == plan.id, PlanAssignment.production_order_id == later)
            .order_by(col(PlanAssignment.seq))
        ).first()
        assert mine is not None
        mine.work_centre_id = centre.id or 0
        mine.start = scenario.origin + timedelta(minutes=start)
        mine.end = scenario.origin + timedelta(minutes=end)
    return scenario_id, first, seq, code, later


async def test_an_order_placed_since_in_the_scenarios_way_is_placed_again_around_it(
    platform: Platform,
) -> None:
    scenario_id, first, seq, code, later = await an_order_in_the_scenarios_way(platform)
    applied = await platform.http.post(
        f"/v1/scenarios/{scenario_id}/apply", headers=platform.auth("planner")
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["orders_placed_again"] == [later]
    live, after = live_plan_slots(platform)
    with platform.session_factory() as s:
        centre = s.exec(select(WorkCentre).where(WorkCentre.code == code)).one()
        event = s.exec(
            select(Event).where(Event.entity_id == later, Event.kind == "placed_again")
        ).one()
        assert event.data["scenario_id"] == scenario_id
    on_centre = sorted(slot[1:] for slot in after.values() if slot[0] == centre.id)
    assert all(a[1] <= b[0] for a, b in zip(on_centre, on_centre[1:], strict=False))
    later_steps = sorted((k[1], v) for k, v in after.items() if k[0] == later)
    assert all(a[1][2] <= b[1][1] for a, b in zip(later_steps, later_steps[1:], strict=False))
    assert live.source == f"scenario {scenario_id}"


async def test_apply_is_refused_when_what_changed_since_collides_and_is_held(
    platform: Platform,
) -> None:
    """The order in the scenario's way has its work claimed by its factory: it cannot move,
    so the apply names the collision and changes nothing."""
    scenario_id, first, seq, code, later = await an_order_in_the_scenarios_way(platform)
    cut = released_cut(platform, later)
    factory = platform.auth(factory_code(platform, cut.factory_id))
    for _ in range(3):  # the factory's other released work comes first, if it has any
        if (await claim(platform, factory))["id"] == cut.id:
            break
    refused = await platform.http.post(
        f"/v1/scenarios/{scenario_id}/apply", headers=platform.auth("planner")
    )
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "collides with the scenario's plan" in detail and code in detail
    assert f"order {first} operation {seq}" in detail and f"order {later} operation" in detail
    with platform.session_factory() as s:
        assert s.exec(select(Plan).where(Plan.source == f"scenario {scenario_id}")).first() is None


async def test_apply_is_refused_once_another_plan_was_applied(platform: Platform) -> None:
    http, planner = platform.http, platform.auth("planner")
    await order_in_production(platform)
    ids = []
    for _ in range(2):
        r = await http.post("/v1/scenarios", json={"time_limit_s": 2}, headers=planner)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    for scenario_id in ids:
        await finished(platform, scenario_id)
    applied = await http.post(f"/v1/scenarios/{ids[0]}/apply", headers=planner)
    assert applied.status_code == 200, applied.text
    refused = await http.post(f"/v1/scenarios/{ids[1]}/apply", headers=planner)
    assert refused.status_code == 409, refused.text
    assert "live plan moved" in refused.json()["detail"]
    stale = (await http.get(f"/v1/scenarios/{ids[1]}", headers=planner)).json()
    assert stale["status"] == "done" and stale["live_changes_since"] is None
    with platform.session_factory() as s:
        assert s.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one().source == (
            f"scenario {ids[0]}"
        )
    # Dropped, it cannot be applied either.
    cancelled = await http.post(f"/v1/scenarios/{ids[1]}/cancel", headers=planner)
    assert cancelled.status_code == 200, cancelled.text

    async def dropped() -> bool:
        r = await http.get(f"/v1/scenarios/{ids[1]}", headers=planner)
        return bool(r.json()["status"] == "cancelled")

    await eventually(dropped)
    again = await http.post(f"/v1/scenarios/{ids[1]}/apply", headers=planner)
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
    """The API's early check can race another apply: the apply activity checks again
    under the plan's lock."""
    http, planner = platform.http, platform.auth("planner")
    await order_in_production(platform)
    ids = []
    for _ in range(2):
        r = await http.post("/v1/scenarios", json={"time_limit_s": 2}, headers=planner)
        ids.append(r.json()["id"])
    for scenario_id in ids:
        await finished(platform, scenario_id)
    steps = ScenarioActivities(platform.session_factory)
    steps.apply_scenario(ApplyInput(scenario_id=ids[0], actor="test"))
    with pytest.raises(ApplicationError, match="live plan moved") as err:
        steps.apply_scenario(ApplyInput(scenario_id=ids[1], actor="test"))
    assert err.value.type == "Conflict" and err.value.non_retryable
    with platform.session_factory() as s:
        assert s.exec(select(Plan).where(Plan.source == f"scenario {ids[1]}")).first() is None
