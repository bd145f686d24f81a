"""The designers' approval over HTTP on the real dev server: an order for a draft tech pack
waits at the design gate until ``POST /v1/styles/{code}/tech-pack/approve``."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from models.schemas import TechPackStatus
from models.tables import Style
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, line, pick_and_close, submit

APPROVE = "/v1/styles/{}/tech-pack/approve"


async def test_only_designers_approve_and_only_a_complete_tech_pack(platform: Platform) -> None:
    http = platform.http
    buyer = await http.post(APPROVE.format("TR-CHINO"), headers=platform.auth("team-nova"))
    assert buyer.status_code == 403
    unknown = await http.post(APPROVE.format("NOPE"), headers=platform.auth("designer"))
    assert unknown.status_code == 404 and unknown.json()["field"] == "code"
    with platform.session_factory() as s:
        s.add(
            Style(code="SK-NEW", name="New skirt", garment="skirt", size_run=["S"], colours=["red"])
        )
        s.commit()
    empty = await http.post(APPROVE.format("SK-NEW"), headers=platform.auth("designer"))
    assert empty.status_code == 409
    assert empty.json()["detail"] == (
        "the tech pack of SK-NEW has no routing and no bill of materials; it cannot be approved"
    )


async def test_an_order_waiting_at_the_design_gate_goes_on_when_the_designer_approves(
    platform: Platform,
) -> None:
    http, buyer = platform.http, platform.auth("team-nova")
    chinos = line(style="TR-CHINO", colour="khaki", size="32", quantity=80)
    batch_id = (await submit(platform, {"lines": [chinos]})).json()["batch_id"]
    await pick_and_close(platform, batch_id, {"style": "TR-CHINO", "colour": "khaki"})

    async def order_in(*states: str) -> dict[str, Any] | None:
        detail = (await http.get(f"/v1/demand-batches/{batch_id}", headers=buyer)).json()
        orders = detail["production_orders"]
        return orders[0] if orders and orders[0]["status"] in states else None

    waiting = await eventually(lambda: order_in("awaiting_design"))
    approved = await http.post(APPROVE.format("TR-CHINO"), headers=platform.auth("designer"))
    assert approved.status_code == 200, approved.text
    assert approved.json() == {
        "style_code": "TR-CHINO",
        "tech_pack_status": "approved",
        "released_orders": [waiting["id"]],
    }
    await eventually(lambda: order_in("in_production"))
    with platform.session_factory() as s:
        style = s.exec(select(Style).where(Style.code == "TR-CHINO")).one()
        assert style.tech_pack_status == TechPackStatus.APPROVED
    again = await http.post(APPROVE.format("TR-CHINO"), headers=platform.auth("designer"))
    assert again.status_code == 200 and again.json()["released_orders"] == []
    trail = (await http.get(f"/v1/production-orders/{waiting['id']}", headers=buyer)).json()
    kinds = [e["kind"] for e in trail["events"]]
    assert kinds.index("status:awaiting_design") < kinds.index("status:in_production")
