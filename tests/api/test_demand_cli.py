"""``c2b demand order`` and ``c2b demand cancel``: what a buyer team reads and undoes
from the command line, against the real API in-process, its worker on the dev server
and the database (the ``c2b`` fixture of conftest runs the commands)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, line, pick_and_close, submit


async def released_order(platform: Platform) -> dict[str, Any]:
    """A crew-tee order of 120 pieces whose first work order is released."""
    http, buyer = platform.http, platform.auth("team-nova")
    batch_id = (await submit(platform, {"lines": [line(quantity=120)]})).json()["batch_id"]
    await pick_and_close(platform, batch_id, {"style": "TS-CREW", "colour": "white"})

    async def released() -> dict[str, Any] | None:
        batch = (await http.get(f"/v1/demand-batches/{batch_id}", headers=buyer)).json()
        if not batch["production_orders"]:
            return None
        order_id = batch["production_orders"][0]["id"]
        full = (await http.get(f"/v1/production-orders/{order_id}", headers=buyer)).json()
        return full if any(w["status"] == "released" for w in full["work_orders"]) else None

    found: dict[str, Any] = await eventually(released)
    return found


async def test_a_team_reads_its_order_with_where_each_operation_runs(
    platform: Platform, c2b: Callable[..., Any]
) -> None:
    order = await released_order(platform)
    first = order["work_orders"][0]
    assert first["factory_code"] and first["work_centre_code"]  # the API names them

    shown = await c2b("demand", "order", str(order["id"]), token=platform.tokens["team-nova"])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert f"production order {order['id']}" in out and "TS-CREW/white" in out
    assert "120" in out and order["status"] in out
    for w in order["work_orders"]:  # every operation, where it runs and its state
        assert w["operation_kind"] in out and w["work_centre_code"] in out
    assert "fabric_reserved" in out  # the latest of the trail
    assert "reserved" in out  # the fabric


async def test_an_order_of_another_team_or_none_is_refused_by_name(
    platform: Platform, c2b: Callable[..., Any]
) -> None:
    order = await released_order(platform)
    other = await c2b("demand", "order", str(order["id"]), token=platform.tokens["team-ridge"])
    assert other.exit_code == 1
    assert f"404 production order {order['id']} not found" in other.output


async def test_a_team_cancels_an_order_and_is_told_what_was_undone(
    platform: Platform, c2b: Callable[..., Any]
) -> None:
    order = await released_order(platform)
    token = platform.tokens["team-nova"]
    no_reason = await c2b("demand", "cancel", str(order["id"]), token=token)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output

    cancelled = await c2b(
        "demand", "cancel", str(order["id"]), "--reason", "customers withdrew", token=token
    )
    assert cancelled.exit_code == 0, cancelled.output
    out = cancelled.output
    assert f"production order {order['id']} is cancelled" in out
    open_statuses = ("planned", "released", "claimed", "started")
    withdrawn = sum(w["status"] in open_statuses for w in order["work_orders"])
    assert f"{withdrawn} work orders withdrawn" in out
    assert "1 customer lines declined" in out
    detail = (
        await platform.http.get(
            f"/v1/production-orders/{order['id']}", headers=platform.auth("team-nova")
        )
    ).json()
    assert detail["status"] == "cancelled"

    again = await c2b("demand", "cancel", str(order["id"]), "--reason", "twice", token=token)
    assert again.exit_code == 1
    assert "409" in again.output and "can no longer be cancelled" in again.output
