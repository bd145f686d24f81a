"""Cancelling a production order over HTTP on the real dev server."""

from __future__ import annotations

from typing import Any

from models.tables import Factory
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, line, pick_and_close, submit


async def test_the_team_cancels_an_order_in_production_and_everything_is_undone(
    platform: Platform,
) -> None:
    http, buyer = platform.http, platform.auth("team-nova")
    batch_id = (await submit(platform, {"lines": [line(quantity=120)]})).json()["batch_id"]
    await pick_and_close(platform, batch_id, {"style": "TS-CREW", "colour": "white"})

    async def order() -> dict[str, Any] | None:
        detail = (await http.get(f"/v1/demand-batches/{batch_id}", headers=buyer)).json()
        return detail["production_orders"][0] if detail["production_orders"] else None

    async def released() -> dict[str, Any] | None:
        o = await order()
        if o is None:
            return None
        full = (await http.get(f"/v1/production-orders/{o['id']}", headers=buyer)).json()
        return full if any(w["status"] == "released" for w in full["work_orders"]) else None

    running = await eventually(released)
    with platform.session_factory() as s:
        holder = s.get(Factory, running["work_orders"][0]["factory_id"])
        assert holder is not None
    factory = platform.auth(holder.code)
    claimed = await http.post("/v1/factory/work-orders/claim", headers=factory)
    assert claimed.status_code == 200, claimed.text
    url = f"/v1/production-orders/{running['id']}/cancel"
    body = {"reason": "the customers withdrew"}
    assert (await http.post(url, json=body, headers=platform.auth("GZ-KNIT"))).status_code == 404
    other_team = await http.post(url, json=body, headers=platform.auth("team-ridge"))
    assert other_team.status_code == 404
    no_reason = await http.post(url, json={"reason": ""}, headers=buyer)
    assert no_reason.status_code == 422

    accepted = await http.post(url, json=body, headers=buyer)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"production_order_id": running["id"], "accepted": True}

    async def cancelled() -> dict[str, Any] | None:
        r = await http.get(f"/v1/production-orders/{running['id']}", headers=buyer)
        full: dict[str, Any] = r.json()
        return full if full["status"] == "cancelled" else None

    final = await eventually(cancelled)
    assert {w["status"] for w in final["work_orders"]} == {"withdrawn"}
    assert [r["status"] for r in final["reservations"]] == ["released"]
    assert final["stages"][-1]["status"] == "cancelled"
    lines = (await http.get(f"/v1/demand-batches/{batch_id}/lines", headers=buyer)).json()
    assert [(x["status"], x["reason"]) for x in lines["lines"]] == [
        ("declined", f"production order {running['id']} was cancelled: the customers withdrew")
    ]
    again = await http.post(url, json=body, headers=buyer)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"production order {running['id']} is cancelled; it can no longer be cancelled"
    )
    # The factory that held the first work order hears that it was withdrawn.
    wo_url = f"/v1/factory/work-orders/{claimed.json()['id']}"
    done = await http.post(
        f"{wo_url}/complete", json={"good": [{"size": "M", "quantity": 120}]}, headers=factory
    )
    assert done.status_code == 409, done.text
    assert "was withdrawn" in done.json()["detail"]
    beat = await http.post(f"{wo_url}/heartbeat", headers=factory)
    assert beat.status_code == 409 and "was withdrawn" in beat.json()["detail"]
    # Its list shows that one withdrawn, not the operations it was never given.
    listed = await http.get("/v1/factory/work-orders?status=withdrawn", headers=factory)
    assert [w["id"] for w in listed.json()["data"]] == [claimed.json()["id"]]
    with platform.session_factory() as s:
        factory = s.get(Factory, final["work_orders"][0]["factory_id"])
        assert factory is not None
    claim = await http.post("/v1/factory/work-orders/claim", headers=platform.auth(factory.code))
    assert claim.status_code == 204  # withdrawn work is never handed out
