"""The work-order pull protocol: claims, leases, heartbeats, giving work back, expiry."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from activities.leases import LeaseActivities
from api.routers.factories import MadeWhere, _try_claim
from c2b.db import SessionFactory
from c2b.tokens import create_token
from models.schemas import DisruptionKind, ExpireLeasesInput, Role, WorkOrderStatus
from models.tables import Event, Factory, PlanAssignment, WorkCentre, WorkOrder
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, submit_and_pick
from tests.factories import make_order, make_work_order
from workflows.production_order import ProductionOrderWorkflow


def released_work_order(session: Session, team_id: int, **overrides: object) -> WorkOrder:
    return make_work_order(session, make_order(session, team_id), **overrides)


def test_many_concurrent_claimers_get_one_work_order_exactly_once(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    wo = released_work_order(session, team_id)
    claimers, winners = 16, []
    barrier = threading.Barrier(claimers)

    def claim(n: int) -> None:
        with session_factory() as own:  # each claimer its own connection, as API workers
            barrier.wait()
            got = _try_claim(own, wo.factory_id, f"token-{n}", timedelta(minutes=15))
            if got is not None:
                winners.append((got.id, n))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(claimers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(winners) == 1 and winners[0][0] == wo.id
    session.expire_all()
    held = session.get(WorkOrder, wo.id)
    assert held is not None and held.status == WorkOrderStatus.CLAIMED
    assert held.lease_holder == f"token-{winners[0][1]}"


def test_a_factory_marked_down_claims_nothing_until_it_is_up_again(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    # The work order is still released there: its order's re-plan has not moved it yet.
    wo = released_work_order(session, team_id)
    factory = session.get(Factory, wo.factory_id)
    assert factory is not None
    factory.is_down = True
    session.commit()
    with session_factory() as own:
        assert _try_claim(own, wo.factory_id, "token-1", timedelta(minutes=15)) is None
    factory.is_down = False
    session.commit()
    with session_factory() as own:
        got = _try_claim(own, wo.factory_id, "token-1", timedelta(minutes=15))
    assert got is not None and got.id == wo.id


def test_work_at_a_held_work_centre_is_not_handed_out_until_it_is_released(
    session_factory: SessionFactory, session: Session, team_id: int
) -> None:
    """A work centre on a quality hold claims nothing, though its orders may not have moved
    the work away yet; the factory's work elsewhere is still handed out, first in plan
    order behind the held one."""
    now = datetime.now(UTC)
    at_held = released_work_order(session, team_id, planned_start=now)
    elsewhere = released_work_order(
        session, team_id, work_centre_code="GZ-SEW-1", planned_start=now + timedelta(hours=1)
    )
    centre = session.get(WorkCentre, at_held.work_centre_id)
    assert centre is not None and at_held.factory_id == elsewhere.factory_id
    centre.on_hold = True
    session.commit()

    def claim() -> int | None:
        with session_factory() as own:
            got = _try_claim(own, at_held.factory_id, "token-1", timedelta(minutes=15))
        return None if got is None else got.id

    assert claim() == elsewhere.id
    assert claim() is None
    centre.on_hold = False
    session.commit()
    assert claim() == at_held.id


async def test_every_answer_says_what_to_make_and_on_which_line(
    platform: Platform, session: Session, team_id: int
) -> None:
    """A factory never reads production orders, so its work orders carry the style, the
    colour and the work centre's code: the claim, the list and each change of state."""
    order = make_order(session, team_id, style_code="TS-LONG", colour="navy")
    wo = make_work_order(session, order, work_centre_code="GZ-SEW-1", operation_kind="sew")
    auth, url = platform.auth("GZ-KNIT"), "/v1/factory/work-orders"
    what = {"style_code": "TS-LONG", "colour": "navy", "work_centre_code": "GZ-SEW-1"}

    claimed = (await platform.http.post(f"{url}/claim", headers=auth)).json()
    listed = (await platform.http.get(url, headers=auth)).json()["data"][0]
    started = (await platform.http.post(f"{url}/{wo.id}/start", headers=auth)).json()
    for answer in (claimed, listed, started):
        assert {k: answer[k] for k in what} == what and answer["id"] == wo.id


def test_what_a_claim_makes_is_read_once_per_order_and_kept_bounded(
    session: Session, team_id: int
) -> None:
    tee, polo = make_order(session, team_id), make_order(session, team_id, colour="navy")
    cut, sew = (
        session.exec(select(WorkCentre).where(WorkCentre.code == code)).one()
        for code in ("GZ-CUT-1", "GZ-SEW-1")
    )
    statements: list[str] = []

    def counted(*args: Any) -> None:
        statements.append(args[2])

    kept = MadeWhere(size=1)
    sa.event.listen(session.get_bind(), "before_cursor_execute", counted)
    try:
        tee_at_cut = kept.of(session, tee.id or 0, cut.id or 0)
        again = kept.of(session, tee.id or 0, cut.id or 0)
        assert len(statements) == 1  # the second answer came from memory
        assert (
            tee_at_cut
            == again
            == {
                "style_code": "TS-CREW",
                "colour": "white",
                "work_centre_code": "GZ-CUT-1",
            }
        )
        assert kept.of(session, polo.id or 0, sew.id or 0)["colour"] == "navy"
        assert list(kept.orders) == [polo.id]  # full at one order: it started again
        assert kept.centres == {cut.id: "GZ-CUT-1", sew.id: "GZ-SEW-1"}
        assert kept.of(session, tee.id or 0, sew.id or 0)["work_centre_code"] == "GZ-SEW-1"
        assert len(statements) == 3
    finally:
        sa.event.remove(session.get_bind(), "before_cursor_execute", counted)


async def test_one_work_order_in_full_with_its_trail(
    platform: Platform, session: Session, team_id: int
) -> None:
    order = make_order(session, team_id, due_date=datetime(2027, 3, 5).date())
    wo = make_work_order(session, order)
    auth, url = platform.auth("GZ-KNIT"), f"/v1/factory/work-orders/{wo.id}"
    await platform.http.post("/v1/factory/work-orders/claim", headers=auth)
    await platform.http.post(f"{url}/start", headers=auth)

    shown = await platform.http.get(url, headers=auth)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["id"], body["status"], body["style_code"]) == (wo.id, "started", "TS-CREW")
    assert body["style_name"] and body["due_date"] == "2027-03-05"
    assert body["size_breakdown"] == {"S": 20, "M": 40, "L": 20}
    claimed, started = body["trail"]
    assert (claimed["kind"], started["kind"]) == ("claimed", "started")
    # The trail names the token's holder as the one who claimed, and the lease's holder.
    assert claimed["actor"] == started["actor"] == "demo:GZ-KNIT"
    assert claimed["data"]["lease_holder"].startswith("token-")
    missing = await platform.http.get("/v1/factory/work-orders/999999", headers=auth)
    assert missing.status_code == 404 and missing.json()["detail"] == "work order 999999 not found"


async def test_a_heartbeat_extends_the_lease_and_records_progress(
    platform: Platform, session: Session, team_id: int
) -> None:
    wo = released_work_order(session, team_id)
    auth = platform.auth("GZ-KNIT")
    claimed = (await platform.http.post("/v1/factory/work-orders/claim", headers=auth)).json()
    url = f"/v1/factory/work-orders/{wo.id}/heartbeat"
    beat = await platform.http.post(url, json={"progress_quantity": 30}, headers=auth)
    assert beat.status_code == 200, beat.text
    assert beat.json()["progress_quantity"] == 30
    assert beat.json()["lease_expires_at"] > claimed["lease_expires_at"]
    bare = await platform.http.post(url, headers=auth)  # a body is optional
    assert bare.status_code == 200 and bare.json()["progress_quantity"] == 30

    too_much = await platform.http.post(url, json={"progress_quantity": 81}, headers=auth)
    assert too_much.status_code == 422 and too_much.json()["field"] == "progress_quantity"


async def test_giving_work_back_puts_it_in_the_queue_without_counting_an_expiry(
    platform: Platform, session: Session, team_id: int
) -> None:
    wo = released_work_order(session, team_id)
    auth = platform.auth("GZ-KNIT")
    await platform.http.post("/v1/factory/work-orders/claim", headers=auth)
    back = await platform.http.post(f"/v1/factory/work-orders/{wo.id}/release", headers=auth)
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "released" and back.json()["lease_expiries"] == 0
    again = await platform.http.post("/v1/factory/work-orders/claim", headers=auth)
    assert again.status_code == 200 and again.json()["id"] == wo.id
    # Only the holder may give it back or heartbeat; without a lease that is a 409.
    twice = await platform.http.post(f"/v1/factory/work-orders/{wo.id}/release", headers=auth)
    assert twice.status_code == 200
    stray = await platform.http.post(f"/v1/factory/work-orders/{wo.id}/heartbeat", headers=auth)
    assert stray.status_code == 409 and "not claimed" in stray.json()["detail"]


async def test_a_lapsed_lease_is_refused_then_reclaimed_by_someone_else(
    platform: Platform, session: Session, team_id: int
) -> None:
    wo = released_work_order(session, team_id)
    first = platform.auth("GZ-KNIT")
    second_token = create_token(session, Role.FACTORY, wo.factory_id, "GZ-KNIT night shift")
    second = {"Authorization": f"Bearer {second_token.token}"}
    await platform.http.post("/v1/factory/work-orders/claim", headers=first)

    with platform.session_factory() as s:  # the factory went quiet for longer than the lease
        lapsed = s.get(WorkOrder, wo.id)
        assert lapsed is not None
        lapsed.lease_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        s.add(lapsed)
        s.commit()

    done = {"good": [{"size": "M", "quantity": 40}]}
    late = await platform.http.post(
        f"/v1/factory/work-orders/{wo.id}/complete", json=done, headers=first
    )
    assert late.status_code == 409 and "ran out" in late.json()["detail"]
    nothing_yet = await platform.http.post("/v1/factory/work-orders/claim", headers=second)
    assert nothing_yet.status_code == 204  # lapsed but not yet swept back

    LeaseActivities(platform.session_factory).expire_leases(ExpireLeasesInput())
    reclaimed = await platform.http.post("/v1/factory/work-orders/claim", headers=second)
    assert reclaimed.status_code == 200 and reclaimed.json()["id"] == wo.id
    assert reclaimed.json()["lease_expiries"] == 1
    stale = await platform.http.post(f"/v1/factory/work-orders/{wo.id}/heartbeat", headers=first)
    assert stale.status_code == 409 and "another claimant" in stale.json()["detail"]


async def claim_from_a_running_order(platform: Platform) -> dict[str, Any]:
    """Submit and pick a batch, then claim its order's first work order as GZ-KNIT."""
    http = platform.http
    await submit_and_pick(platform)
    claim = await http.post(
        "/v1/factory/work-orders/claim?wait=20", headers=platform.auth("GZ-KNIT")
    )
    assert claim.status_code == 200, claim.text
    wo: dict[str, Any] = claim.json()
    return wo


async def test_a_rejection_is_recorded_once_and_reaches_the_order_as_a_disruption(
    platform: Platform,
) -> None:
    wo = await claim_from_a_running_order(platform)
    auth = platform.auth("GZ-KNIT")
    url = f"/v1/factory/work-orders/{wo['id']}/reject"
    reason = {"reason": "cutting table down for repair"}

    first = await platform.http.post(url, json=reason, headers={**auth, "Idempotency-Key": "r1"})
    assert first.status_code == 200, first.text
    assert first.json()["reason"] == "cutting table down for repair"
    again = await platform.http.post(url, json=reason, headers={**auth, "Idempotency-Key": "r1"})
    assert again.status_code == 200 and again.json() == first.json()
    other = await platform.http.post(url, json=reason, headers={**auth, "Idempotency-Key": "r2"})
    assert other.status_code == 409 and "already rejected" in other.json()["detail"]
    done = await platform.http.post(
        f"/v1/factory/work-orders/{wo['id']}/complete",
        json={"good": [{"size": "M", "quantity": 1}]},
        headers=auth,
    )
    assert done.status_code == 409

    handle = platform.env.client.get_workflow_handle_for(
        ProductionOrderWorkflow.run, f"production-order-{wo['production_order_id']}"
    )
    progress = await handle.query(ProductionOrderWorkflow.progress)
    assert [(d.kind, d.work_order_id, d.detail) for d in progress.disruptions] == [
        (DisruptionKind.REJECTED, wo["id"], "cutting table down for repair")
    ]
    with platform.session_factory() as s:
        events = s.exec(
            select(Event).where(Event.entity_id == wo["id"], Event.kind == "rejected")
        ).all()
    assert len(events) == 1 and events[0].actor == "demo:GZ-KNIT"  # the token's name


async def test_a_rejection_needs_the_lease_and_a_reason(
    platform: Platform, session: Session, team_id: int
) -> None:
    wo = released_work_order(session, team_id)
    auth = platform.auth("GZ-KNIT")
    url = f"/v1/factory/work-orders/{wo.id}/reject"
    unclaimed = await platform.http.post(url, json={"reason": "no capacity"}, headers=auth)
    assert unclaimed.status_code == 409 and "not claimed" in unclaimed.json()["detail"]
    empty = await platform.http.post(url, json={"reason": ""}, headers=auth)
    assert empty.status_code == 422 and "reason" in str(empty.json()["detail"])


async def test_the_work_order_list_filters_and_pages(
    platform: Platform, session: Session, team_id: int
) -> None:
    first, second = make_order(session, team_id), make_order(session, team_id)
    cut = make_work_order(session, first)
    make_work_order(session, first, seq=2, operation_kind="sew", work_centre_code="GZ-SEW-1")
    make_work_order(session, second, status=WorkOrderStatus.COMPLETED)
    auth, url = platform.auth("GZ-KNIT"), "/v1/factory/work-orders"

    async def ids(**params: object) -> tuple[list[int], int]:
        body = (await platform.http.get(url, params=params, headers=auth)).json()
        return [w["id"] for w in body["data"]], body["count"]

    everything, count = await ids()
    assert count == 2 and cut.id in everything  # the completed one is not listed by default
    assert await ids(production_order_id=first.id, operation_kind="cut") == ([cut.id], 1)
    assert (await ids(status="completed"))[1] == 1
    page, total = await ids(limit=1, offset=1)
    assert len(page) == 1 and total == 2 and page[0] != everything[0]
    bad = await platform.http.get(url, params={"limit": 0}, headers=auth)
    assert bad.status_code == 422


async def test_a_rejected_work_order_is_replanned_at_another_work_centre_and_goes_on(
    platform: Platform,
) -> None:
    wo = await claim_from_a_running_order(platform)
    http = platform.http
    rejected = await http.post(
        f"/v1/factory/work-orders/{wo['id']}/reject",
        json={"reason": "cutting table down for repair"},
        headers=platform.auth("GZ-KNIT"),
    )
    assert rejected.status_code == 200, rejected.text

    async def replacement() -> dict[str, Any] | None:
        r = await http.get(
            f"/v1/production-orders/{wo['production_order_id']}", headers=platform.auth("planner")
        )
        order: dict[str, Any] = r.json()
        new = [w for w in order["work_orders"] if w["seq"] == 1 and w["id"] != wo["id"]]
        return order if new and new[0]["status"] == "released" else None

    order = await eventually(replacement)
    old, new = [w for w in order["work_orders"] if w["seq"] == 1]
    assert old["status"] == "rejected" and new["work_centre_id"] != old["work_centre_id"]
    replanned = [e for e in order["events"] if e["kind"] == "replanned"]
    assert replanned[0]["data"]["reason"] == "rejected: cutting table down for repair"
    with platform.session_factory() as s:
        factory = s.get(Factory, new["factory_id"])
        assert factory is not None
        slot = s.exec(
            select(PlanAssignment).where(
                PlanAssignment.production_order_id == wo["production_order_id"],
                PlanAssignment.seq == 1,
            )
        ).one()
        assert slot.work_centre_id == new["work_centre_id"]  # the plan moved with it

    # The new work centre's factory takes it, and the order goes on to sewing.
    auth = platform.auth(factory.code)
    claim = await http.post("/v1/factory/work-orders/claim?wait=10", headers=auth)
    assert claim.status_code == 200 and claim.json()["id"] == new["id"]
    good = [{"size": s, "quantity": q} for s, q in claim.json()["size_breakdown"].items()]
    done = await http.post(
        f"/v1/factory/work-orders/{new['id']}/complete", json={"good": good}, headers=auth
    )
    assert done.status_code == 200, done.text

    async def sewing() -> bool:
        r = await http.get(
            f"/v1/production-orders/{wo['production_order_id']}", headers=platform.auth("planner")
        )
        return any(w["seq"] == 2 and w["status"] == "released" for w in r.json()["work_orders"])

    assert await eventually(sewing)
