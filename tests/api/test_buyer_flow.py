from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlmodel import func, select

from models.tables import DemandBatch, DemandLine
from tests.api.conftest import Platform
from tests.factories import need_by

HEADER = "customer_ref,style,colour,size,quantity,personalisation,need_by,channel,region\n"


def line(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_ref": "C-1",
        "style": "TS-CREW",
        "colour": "white",
        "size": "M",
        "quantity": 60,
        "need_by": need_by().isoformat(),
        "channel": "web",
        "region": "EU",
        **overrides,
    }


async def eventually(
    probe: Callable[[], Awaitable[Any]], timeout: float = 30.0, interval: float = 0.1
) -> Any:
    """Poll until ``probe`` returns something truthy; fail with its last answer."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out; last answer: {last!r}")


async def submit_and_pick(platform: Platform, quantity: int = 60) -> int:
    """A one-line crew-tee batch, picked with the window closed at once; its batch id."""
    http, buyer = platform.http, platform.auth("team-nova")
    created = await http.post(
        "/v1/demand-batches", json={"lines": [line(quantity=quantity)]}, headers=buyer
    )
    batch_id: int = created.json()["batch_id"]

    async def picked() -> bool:
        r = await http.post(
            f"/v1/demand-batches/{batch_id}/picks",
            json={"picks": [{"style": "TS-CREW", "colour": "white"}], "close_window": True},
            headers=buyer,
        )
        return r.status_code == 200

    await eventually(picked)
    return batch_id


def count_batches(p: Platform) -> int:
    with p.session_factory() as s:
        return s.exec(select(func.count()).select_from(DemandBatch)).one()


async def submit(p: Platform, body: Any, **kw: Any) -> httpx.Response:
    return await p.http.post("/v1/demand-batches", json=body, headers=p.auth("team-nova"), **kw)


async def test_a_json_batch_is_saved_and_its_workflow_aggregates_it(platform: Platform) -> None:
    lines = [line(), line(customer_ref="C-2", size="L", quantity=30)]
    resp = await submit(platform, {"lines": lines})
    assert resp.status_code == 201, resp.text
    batch = resp.json()
    assert batch["accepted_lines"] == 2 and batch["rejected_lines"] == []

    async def picking() -> Any:
        r = await platform.http.get(
            f"/v1/demand-batches/{batch['batch_id']}", headers=platform.auth("team-nova")
        )
        body = r.json()
        return body if body["progress"] and body["progress"]["status"] == "picking" else None

    detail = await eventually(picking)
    assert detail["lines_by_status"]["open"] == 2
    assert detail["progress"]["window_closes_at"] is not None


async def test_one_bad_line_rejects_the_batch_and_names_line_and_field(platform: Platform) -> None:
    resp = await submit(platform, {"lines": [line(), line(customer_ref="C-2", size="XXXL")]})
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert detail["rejected_lines"] == [
        {
            "line": 2,
            "field": "size",
            "reason": "'XXXL' is not in the size run ['XS', 'S', 'M', 'L', 'XL', 'XXL']",
        }
    ]
    assert count_batches(platform) == 0


async def test_accept_valid_saves_good_lines_and_keeps_the_rejected_ones(
    platform: Platform,
) -> None:
    resp = await submit(
        platform,
        {"lines": [line(), line(customer_ref="C-2", quantity=-1)]},
        params={"on_error": "accept_valid"},
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["accepted_lines"] == 1
    assert body["rejected_lines"][0]["line"] == 2
    assert body["rejected_lines"][0]["field"] == "quantity"
    with platform.session_factory() as s:
        assert s.exec(select(func.count()).select_from(DemandLine)).one() == 1


async def test_a_retry_with_the_same_idempotency_key_creates_nothing(platform: Platform) -> None:
    headers = {**platform.auth("team-nova"), "Idempotency-Key": "batch-2026-11-22-a"}
    first = await platform.http.post(
        "/v1/demand-batches", json={"lines": [line()]}, headers=headers
    )
    again = await platform.http.post(
        "/v1/demand-batches", json={"lines": [line()]}, headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert count_batches(platform) == 1


async def test_csv_arrives_as_a_body_or_as_an_upload(platform: Platform) -> None:
    csv_text = HEADER + f"C-9,TS-CREW,black,S,12,,{need_by().isoformat()},web,EU\n"
    as_body = await platform.http.post(
        "/v1/demand-batches",
        content=csv_text.encode(),
        headers={**platform.auth("team-nova"), "Content-Type": "text/csv"},
    )
    as_upload = await platform.http.post(
        "/v1/demand-batches",
        files={"file": ("demand.csv", csv_text.encode(), "text/csv")},
        headers=platform.auth("team-nova"),
    )
    assert as_body.status_code == as_upload.status_code == 201
    assert as_body.json()["accepted_lines"] == as_upload.json()["accepted_lines"] == 1


async def test_malformed_bodies_get_a_4xx_that_says_where(platform: Platform) -> None:
    auth = platform.auth("team-nova")
    cases = [
        ({"content": b"{not json", "headers": {**auth, "Content-Type": "application/json"}}, 422),
        ({"content": b"", "headers": {**auth, "Content-Type": "text/csv"}}, 422),
        ({"content": b"\xff\xfe", "headers": {**auth, "Content-Type": "text/csv"}}, 422),
        ({"content": b"x", "headers": {**auth, "Content-Type": "image/png"}}, 422),
        ({"json": {"lines": []}, "headers": auth}, 422),
        ({"json": {"lines": "nope"}, "headers": auth}, 422),
        ({"json": {"lines": [line()], "pick_window_hours": 0}, "headers": auth}, 422),
    ]
    for kwargs, status in cases:
        resp = await platform.http.post("/v1/demand-batches", **kwargs)
        assert resp.status_code == status, (kwargs, resp.text)
        assert resp.json()["detail"] and resp.json()["field"], resp.text
    assert count_batches(platform) == 0


async def test_an_oversized_body_gets_413_with_the_limit(platform: Platform) -> None:
    huge = HEADER + "x" * 6_000_000
    resp = await platform.http.post(
        "/v1/demand-batches",
        content=huge.encode(),
        headers={**platform.auth("team-nova"), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 413
    assert "5000000 bytes" in resp.json()["detail"]


async def test_a_pick_for_a_style_outside_the_batch_is_refused_synchronously(
    platform: Platform,
) -> None:
    batch = (await submit(platform, {"lines": [line()]})).json()
    url = f"/v1/demand-batches/{batch['batch_id']}/picks"

    async def answer() -> httpx.Response | None:
        r = await platform.http.post(
            url,
            json={"picks": [{"style": "HD-ZIP", "colour": "grey"}]},
            headers=platform.auth("team-nova"),
        )
        return None if "aggregated" in r.text else r

    resp = await eventually(answer)
    assert resp.status_code == 422
    assert "HD-ZIP/grey has no open demand in this batch" in resp.json()["detail"]
