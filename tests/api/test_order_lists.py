"""Listing: a buyer team's batches and production orders, and a planner's view of every
team's orders with the live plan's finish and how late it is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, select

from models.rules import due_end
from models.schemas import PlanStatus, ProductionOrderStatus
from models.tables import BuyerTeam, Plan, PlanAssignment, ProductionOrder, WorkCentre
from tests.api.conftest import Platform
from tests.factories import make_order


def team(session: Session, code: str) -> int:
    return session.exec(select(BuyerTeam).where(BuyerTeam.code == code)).one().id or 0


async def ids(platform: Platform, who: str, url: str) -> tuple[int, list[int]]:
    r = await platform.http.get(url, headers=platform.auth(who))
    assert r.status_code == 200, r.text
    body = r.json()
    rows = body["orders"] if "orders" in body else body["batches"]
    return body["total"], [row["id"] if "id" in row else row["batch_id"] for row in rows]


async def test_a_team_lists_its_own_batches_and_orders_newest_first(platform: Platform) -> None:
    with platform.session_factory() as s:
        nova, ridge = team(s, "team-nova"), team(s, "team-ridge")
        first = make_order(s, nova)
        done = make_order(
            s, nova, style_code="HD-ZIP", colour="grey", status=ProductionOrderStatus.DONE
        )
        theirs = make_order(s, ridge)
    orders = "/v1/production-orders"
    assert await ids(platform, "team-nova", orders) == (2, [done.id, first.id])
    assert await ids(platform, "team-nova", f"{orders}?status=done") == (1, [done.id])
    assert await ids(platform, "team-nova", f"{orders}?style=HD-ZIP") == (1, [done.id])
    assert await ids(platform, "team-nova", f"{orders}?batch_id={first.batch_id}") == (
        1,
        [first.id],
    )
    assert await ids(platform, "team-nova", f"{orders}?limit=1&offset=1") == (2, [first.id])
    # Another team's batch is not a filter into its orders.
    assert await ids(platform, "team-nova", f"{orders}?batch_id={theirs.batch_id}") == (0, [])
    assert await ids(platform, "planner", orders) == (3, [theirs.id, done.id, first.id])

    batches = "/v1/demand-batches"
    assert await ids(platform, "team-nova", batches) == (2, [done.batch_id, first.batch_id])
    assert await ids(platform, "team-ridge", batches) == (1, [theirs.batch_id])
    assert await ids(platform, "team-nova", f"{batches}?status=picking") == (0, [])
    assert await ids(platform, "admin", f"{batches}?status=received&limit=2") == (
        3,
        [theirs.batch_id, done.batch_id],
    )


async def test_bad_filters_and_other_roles_are_refused_by_name(platform: Platform) -> None:
    http = platform.http
    r = await http.get("/v1/production-orders?status=shipped-ish", headers=platform.auth("planner"))
    assert r.status_code == 422 and "status" in r.text
    r = await http.get("/v1/production-orders?limit=0", headers=platform.auth("planner"))
    assert r.status_code == 422 and "limit" in r.text
    r = await http.get("/v1/production-orders", headers=platform.auth("GZ-KNIT"))
    assert r.status_code == 403
    assert r.json()["detail"] == "production orders are listed for buyer teams, planners and admins"
    r = await http.get("/v1/demand-batches?status=nope", headers=platform.auth("team-nova"))
    assert r.status_code == 422 and "status" in r.text
    r = await http.get("/v1/demand-batches", headers=platform.auth("planner"))
    assert r.status_code == 403


def plan_to_finish(session: Session, order: ProductionOrder, finish: datetime) -> None:
    """Two operations of ``order`` in the live plan, the second ending at ``finish``."""
    plan = session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one_or_none()
    if plan is None:
        plan = Plan(version=1, source="test", revision=1)
        session.add(plan)
        session.flush()
    centre = session.exec(select(WorkCentre)).first()
    assert plan.id is not None and centre is not None and centre.id is not None
    for seq, (start, end) in enumerate(
        [
            (finish - timedelta(hours=9), finish - timedelta(hours=5)),
            (finish - timedelta(hours=4), finish),
        ],
        start=1,
    ):
        session.add(
            PlanAssignment(
                plan_id=plan.id,
                production_order_id=order.id or 0,
                seq=seq,
                work_centre_id=centre.id,
                start=start,
                end=end,
            )
        )
    session.commit()


async def test_late_lists_the_open_orders_the_live_plan_finishes_after_their_due_date(
    platform: Platform,
) -> None:
    due = date.today() + timedelta(days=5)
    end_of_due = due_end(due)
    with platform.session_factory() as s:
        nova = team(s, "team-nova")
        on_time, late, later, over = (
            make_order(s, nova, due_date=due, style_code=style)
            for style in ("TS-CREW", "HD-ZIP", "TS-LONG", "PL-CLASSIC")
        )
        over.status = ProductionOrderStatus.DONE  # finished: no longer in the plan's future
        s.add(over)
        s.commit()
        plan_to_finish(s, on_time, end_of_due - timedelta(hours=2))
        plan_to_finish(s, late, end_of_due + timedelta(hours=5))
        plan_to_finish(s, later, end_of_due + timedelta(hours=30))
        plan_to_finish(s, over, end_of_due + timedelta(hours=50))

    r = await platform.http.get("/v1/production-orders?late=true", headers=platform.auth("planner"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2
    assert [(o["id"], o["hours_late"]) for o in body["orders"]] == [
        (later.id, 30.0),
        (late.id, 5.0),
    ]
    finish = datetime.fromisoformat(body["orders"][0]["planned_finish"])
    assert finish == (end_of_due + timedelta(hours=30)).astimezone(UTC)

    # The order itself and its batch say the same.
    nova = platform.auth("team-nova")
    detail = (await platform.http.get(f"/v1/production-orders/{later.id}", headers=nova)).json()
    assert (detail["planned_finish"], detail["hours_late"]) == (
        body["orders"][0]["planned_finish"],
        30.0,
    )
    batch = await platform.http.get(f"/v1/demand-batches/{later.batch_id}", headers=nova)
    assert batch.status_code == 200, batch.text
    [brief] = batch.json()["production_orders"]
    assert (brief["id"], brief["hours_late"], brief["due_date"]) == (later.id, 30.0, str(due))

    every = (
        await platform.http.get("/v1/production-orders", headers=platform.auth("team-nova"))
    ).json()
    by_id = {o["id"]: o for o in every["orders"]}
    assert by_id[on_time.id]["hours_late"] == 0.0
    assert by_id[on_time.id]["planned_finish"] is not None
    assert by_id[over.id]["planned_finish"] is None and by_id[over.id]["hours_late"] == 0.0
