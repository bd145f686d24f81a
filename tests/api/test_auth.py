"""Who may call what: a missing or wrong token is 401, a wrong role 403, and another
team's or factory's object is 404 (its existence is not revealed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from api.deps import PrincipalCache
from models.schemas import WorkOrderStatus
from models.tables import ApiToken, WorkCentre, WorkOrder
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import line
from tests.factories import make_order

ENDPOINTS = [
    ("POST", "/v1/demand-batches"),
    ("GET", "/v1/demand-batches/1"),
    ("POST", "/v1/demand-batches/1/picks"),
    ("GET", "/v1/production-orders/1"),
    ("GET", "/v1/factory/work-orders"),
    ("POST", "/v1/factory/work-orders/claim"),
    ("POST", "/v1/factory/work-orders/1/start"),
    ("POST", "/v1/factory/work-orders/1/heartbeat"),
    ("POST", "/v1/factory/work-orders/1/release"),
    ("POST", "/v1/factory/work-orders/1/reject"),
    ("POST", "/v1/factory/work-orders/1/complete"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_endpoint_wants_a_valid_token(
    platform: Platform, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer c2b_not-a-token"}, {"Authorization": "Basic x"}):
        resp = await platform.http.request(method, path, headers=headers)
        assert resp.status_code == 401, (headers, resp.text)
        assert resp.headers["www-authenticate"] == "Bearer"


async def test_a_revoked_token_is_refused(platform: Platform) -> None:
    with platform.session_factory() as s:
        for token in s.exec(select(ApiToken)).all():
            token.revoked_at = datetime.now(UTC)
            s.add(token)
        s.commit()
    resp = await platform.http.get("/v1/factory/work-orders", headers=platform.auth("GZ-KNIT"))
    assert resp.status_code == 401


async def test_roles_are_kept_to_their_endpoints(platform: Platform) -> None:
    as_factory = await platform.http.post(
        "/v1/demand-batches", json={"lines": [line()]}, headers=platform.auth("GZ-KNIT")
    )
    assert as_factory.status_code == 403
    as_buyer = await platform.http.get(
        "/v1/factory/work-orders", headers=platform.auth("team-nova")
    )
    assert as_buyer.status_code == 403
    # An admin has no factory of its own, so it cannot claim as one either.
    as_admin = await platform.http.post(
        "/v1/factory/work-orders/claim", headers=platform.auth("admin")
    )
    assert as_admin.status_code == 403


async def test_another_teams_batch_and_order_are_not_found(platform: Platform) -> None:
    created = await platform.http.post(
        "/v1/demand-batches", json={"lines": [line()]}, headers=platform.auth("team-nova")
    )
    batch_id = created.json()["batch_id"]
    other = platform.auth("team-ridge")
    assert (
        await platform.http.get(f"/v1/demand-batches/{batch_id}", headers=other)
    ).status_code == 404
    picks = {"picks": [{"style": "TS-CREW", "colour": "white"}]}
    resp = await platform.http.post(
        f"/v1/demand-batches/{batch_id}/picks", json=picks, headers=other
    )
    assert resp.status_code == 404

    with platform.session_factory() as s:
        order = make_order(s, _team_of(platform, "team-nova"))
    own = await platform.http.get(
        f"/v1/production-orders/{order.id}", headers=platform.auth("team-nova")
    )
    foreign = await platform.http.get(f"/v1/production-orders/{order.id}", headers=other)
    as_factory = await platform.http.get(
        f"/v1/production-orders/{order.id}", headers=platform.auth("GZ-KNIT")
    )
    assert (own.status_code, foreign.status_code, as_factory.status_code) == (200, 404, 404)


def _team_of(platform: Platform, code: str) -> int:
    from models.tables import BuyerTeam

    with platform.session_factory() as s:
        team = s.exec(select(BuyerTeam).where(BuyerTeam.code == code)).one()
        return team.id or 0


async def test_a_factory_cannot_see_or_touch_another_factorys_work_order(
    platform: Platform, factory_ids: dict[str, int]
) -> None:
    with platform.session_factory() as s:
        order = make_order(s, _team_of(platform, "team-nova"))
        cutting = s.exec(select(WorkCentre).where(WorkCentre.code == "GZ-CUT-1")).one()
        wo = WorkOrder(
            production_order_id=order.id or 0,
            seq=1,
            operation_kind="cut",
            factory_id=factory_ids["GZ-KNIT"],
            work_centre_id=cutting.id or 0,
            quantity=80,
            size_breakdown=order.size_breakdown,
            planned_start=datetime.now(UTC),
            planned_end=datetime.now(UTC),
            status=WorkOrderStatus.RELEASED,
        )
        s.add(wo)
        s.commit()
        wo_id = wo.id
    foreign = platform.auth("NB-WOVEN")
    listed = await platform.http.get("/v1/factory/work-orders", headers=foreign)
    assert listed.json() == {"data": [], "count": 0}
    nothing = await platform.http.post("/v1/factory/work-orders/claim", headers=foreign)
    assert nothing.status_code == 204
    shown = await platform.http.get(f"/v1/factory/work-orders/{wo_id}", headers=foreign)
    assert shown.status_code == 404 and shown.json()["detail"] == f"work order {wo_id} not found"
    actions = [
        ("start", None),
        ("heartbeat", {"progress_quantity": 1}),
        ("release", None),
        ("reject", {"reason": "not ours"}),
        ("complete", {"good": [{"size": "M", "quantity": 1}]}),
    ]
    for action, body in actions:
        resp = await platform.http.post(
            f"/v1/factory/work-orders/{wo_id}/{action}", json=body, headers=foreign
        )
        assert resp.status_code == 404, resp.text
        assert resp.json()["detail"] == f"work order {wo_id} not found"

    owner = platform.auth("GZ-KNIT")
    # Completing without a claim is refused with the reason.
    early = await platform.http.post(
        f"/v1/factory/work-orders/{wo_id}/complete",
        json={"good": [{"size": "M", "quantity": 1}]},
        headers=owner,
    )
    assert early.status_code == 409 and "not claimed" in early.json()["detail"]
    claimed = await platform.http.post("/v1/factory/work-orders/claim", headers=owner)
    assert claimed.status_code == 200 and claimed.json()["id"] == wo_id
    # The lease is held: a second claim finds nothing.
    second = await platform.http.post("/v1/factory/work-orders/claim?wait=0.2", headers=owner)
    assert second.status_code == 204


async def test_a_revoked_token_stops_working_once_its_cache_entry_expires(
    platform: Platform,
) -> None:
    platform.runtime.principals = PrincipalCache(ttl=0.5)
    headers = platform.auth("GZ-KNIT")
    assert (await platform.http.get("/v1/factory/work-orders", headers=headers)).status_code == 200
    with platform.session_factory() as s:
        for token in s.exec(select(ApiToken)).all():
            token.revoked_at = datetime.now(UTC)
            s.add(token)
        s.commit()
    await asyncio.sleep(0.6)
    assert (await platform.http.get("/v1/factory/work-orders", headers=headers)).status_code == 401
