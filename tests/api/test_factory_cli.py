"""``c2b factory``: a factory floor works an order's first operation from the command
line, against the real API in-process, its worker on the dev server and the database
(the ``c2b`` fixture of conftest runs the commands)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.api.conftest import Platform
from tests.api.test_demand_cli import released_order


async def test_a_factory_claims_starts_and_completes_a_work_order(
    platform: Platform, c2b: Callable[..., Any]
) -> None:
    order = await released_order(platform)
    first = next(w for w in order["work_orders"] if w["status"] == "released")
    token = platform.tokens[first["factory_code"]]
    token_name = f"demo:{first['factory_code']}"

    listed = await c2b("factory", "work", token=token)
    assert listed.exit_code == 0, listed.output
    assert re.search(r"\b1 work order\b(?!s)", listed.output)
    for shown in ("TS-CREW/white", first["work_centre_code"], first["operation_kind"]):
        assert shown in listed.output

    claimed = await c2b("factory", "claim", "--wait", "5", token=token)
    assert claimed.exit_code == 0, claimed.output
    assert f"work order {first['id']}" in claimed.output and "until" in claimed.output
    wo = str(first["id"])
    assert (await c2b("factory", "start", wo, token=token)).exit_code == 0
    beat = await c2b("factory", "heartbeat", wo, "--done", "60", token=token)
    assert beat.exit_code == 0 and "60 done, lease until" in beat.output

    # Only the defects are given: the good pieces are the planned ones less them.
    done = await c2b("factory", "complete", wo, "--defective", "M=2", token=token)
    assert done.exit_code == 0, done.output
    assert f"work order {wo} completed: 118 good, 2 defective" in done.output
    # The same command again (its answer was lost, say) is answered as the first.
    again = await c2b("factory", "complete", wo, "--defective", "M=2", token=token)
    assert again.exit_code == 0 and "118 good, 2 defective" in again.output
    other = await c2b("factory", "complete", wo, "--defective", "M=3", token=token)
    assert other.exit_code == 1 and f"409 work order {wo} is already completed" in other.output

    trail = await c2b("factory", "show", wo, token=token)
    assert trail.exit_code == 0, trail.output
    for kind in ("claimed", "started", "completed"):  # each by the factory's token
        assert re.search(rf"{kind} +{re.escape(token_name)}", trail.output), trail.output
    assert "118 / 2" in trail.output
    detail = await platform.http.get(
        f"/v1/production-orders/{order['id']}", headers=platform.auth("team-nova")
    )
    recorded = next(w for w in detail.json()["work_orders"] if w["id"] == first["id"])
    assert (recorded["good_quantity"], recorded["defective_quantity"]) == (118, 2)


async def test_bad_input_and_refusals_are_named(
    platform: Platform, c2b: Callable[..., Any]
) -> None:
    order = await released_order(platform)
    first = next(w for w in order["work_orders"] if w["status"] == "released")
    token, wo = platform.tokens[first["factory_code"]], str(first["id"])

    unclaimed = await c2b("factory", "complete", wo, token=token)
    assert unclaimed.exit_code == 1
    assert f"409 work order {wo} is released, not claimed" in unclaimed.output
    assert (await c2b("factory", "claim", token=token)).exit_code == 0

    malformed = await c2b("factory", "complete", wo, "--good", "S20", token=token)
    assert malformed.exit_code == 2
    assert "--good" in malformed.output and "'S20' is not SIZE=PIECES" in malformed.output
    foreign_size = await c2b("factory", "complete", wo, "--defective", "XXL=1", token=token)
    assert foreign_size.exit_code == 2
    assert "--defective" in foreign_size.output and "size XXL is not in" in foreign_size.output
    too_many = await c2b("factory", "complete", wo, "--good", "M=500", token=token)
    assert too_many.exit_code == 1 and "422" in too_many.output  # the API's own check

    other_factory = await c2b("factory", "show", wo, token=platform.tokens["NB-WOVEN"])
    assert other_factory.exit_code == 1
    assert f"404 work order {wo} not found" in other_factory.output
    nothing = await c2b("factory", "claim", "--wait", "0.3", token=platform.tokens["NB-WOVEN"])
    assert nothing.exit_code == 0 and "nothing to claim within 0.3 s" in nothing.output
