from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, func, select

import api.errors as api_errors
from models.tables import DemandBatch, DemandLine
from tests.api.conftest import Platform
from tests.factories import make_batch, need_by

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


async def pick_and_close(p: Platform, batch_id: int, *picks: dict[str, Any]) -> None:
    """The team's picks with the window closed at once, once the batch is aggregated."""
    await aggregate_of(p, batch_id)
    r = await p.http.post(
        f"/v1/demand-batches/{batch_id}/picks",
        json={"picks": list(picks), "close_window": True},
        headers=p.auth("team-nova"),
    )
    assert r.status_code == 200, r.text


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


async def test_concurrent_retries_with_one_idempotency_key_make_one_batch(
    platform: Platform,
) -> None:
    """Sent at once (a client that timed out and retried), each saved in its own thread:
    the database's unique key picks one, and every answer is that batch."""
    headers = {**platform.auth("team-nova"), "Idempotency-Key": "batch-2026-11-30-race"}
    answers = await asyncio.gather(
        *(
            platform.http.post("/v1/demand-batches", json={"lines": [line()]}, headers=headers)
            for _ in range(6)
        )
    )
    assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
    assert len({a.json()["batch_id"] for a in answers}) == 1
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
        ({"content": b"x", "headers": {**auth, "Content-Type": "image/png"}}, 415),
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
    limit = platform.runtime.config.max_body_bytes
    huge = HEADER + "x" * limit
    resp = await platform.http.post(
        "/v1/demand-batches",
        content=huge.encode(),
        headers={**platform.auth("team-nova"), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 413
    assert f"{limit} bytes" in resp.json()["detail"]


async def test_a_field_the_csv_reader_cannot_take_is_a_4xx_naming_its_line(
    platform: Platform,
) -> None:
    body = HEADER + "C-1,TS-CREW," + "x" * 200_000 + ",M,3,,2026-12-20,web,EU\n"
    resp = await platform.http.post(
        "/v1/demand-batches",
        content=body.encode(),
        headers={**platform.auth("team-nova"), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "line 2" and "field larger" in resp.json()["detail"]


async def test_a_control_character_in_a_field_is_rejected_with_its_line(
    platform: Platform,
) -> None:
    body = HEADER + f"C-1,TS-CREW,white,M,3,A\0B,{need_by().isoformat()},web,EU\n"
    resp = await platform.http.post(
        "/v1/demand-batches",
        content=body.encode(),
        headers={**platform.auth("team-nova"), "Content-Type": "text/csv"},
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"]["rejected_lines"] == [
        {
            "line": 2,
            "field": "personalisation",
            "reason": "contains a control character (NUL, tab, escape, ...)",
        }
    ]


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


async def aggregate_of(platform: Platform, batch_id: int) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        r = await platform.http.get(
            f"/v1/demand-batches/{batch_id}/aggregate", headers=platform.auth("team-nova")
        )
        if r.status_code == 409:
            assert r.headers["Retry-After"] == "1" and "still being aggregated" in r.text
            return None
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    result: dict[str, Any] = await eventually(ready)
    return result


async def test_the_aggregate_keeps_personalised_units_apart_and_spreads_need_by(
    platform: Platform,
) -> None:
    lines = [
        line(quantity=40),
        line(customer_ref="C-2", quantity=25, need_by=need_by(30).isoformat()),
        line(customer_ref="C-3", quantity=1, personalisation="ANNA"),
        line(customer_ref="C-4", size="L", quantity=10),
    ]
    batch = (await submit(platform, {"lines": lines})).json()
    aggregate = await aggregate_of(platform, batch["batch_id"])

    # Stock units per size: the personalised piece is not in the M row.
    assert [(r["size"], r["quantity"], r["lines"]) for r in aggregate["rows"]] == [
        ("L", 10, 1),
        ("M", 65, 3),
    ]
    assert [(u["line_no"], u["personalisation"]) for u in aggregate["personalised"]] == [
        (3, "ANNA")
    ]
    (tee,) = aggregate["by_style_colour"]
    assert tee["quantity"] == 76 and tee["personalised_quantity"] == 1
    assert tee["min_order_qty"] == 100 and sum(s["quantity"] for s in tee["sizes"]) == 76
    assert [(d["need_by"], d["quantity"]) for d in tee["need_by"]] == [
        (need_by().isoformat(), 51),
        (need_by(30).isoformat(), 25),
    ]
    assert tee["earliest_feasible_due"] >= need_by(3).isoformat()


async def test_a_due_date_before_the_earliest_feasible_one_is_refused(platform: Platform) -> None:
    batch = (await submit(platform, {"lines": [line()]})).json()
    aggregate = await aggregate_of(platform, batch["batch_id"])
    feasible = aggregate["by_style_colour"][0]["earliest_feasible_due"]
    too_soon = need_by(1).isoformat()
    assert too_soon < feasible
    resp = await platform.http.post(
        f"/v1/demand-batches/{batch['batch_id']}/picks",
        json={"picks": [{"style": "TS-CREW", "colour": "white", "due_date": too_soon}]},
        headers=platform.auth("team-nova"),
    )
    assert resp.status_code == 422
    assert f"before the earliest feasible date {feasible}" in resp.json()["detail"]


async def test_every_line_has_a_state_and_the_quantities_add_up(platform: Platform) -> None:
    http, buyer = platform.http, platform.auth("team-nova")
    lines = [
        line(quantity=60),
        line(customer_ref="C-2", size="S", quantity=50),
        line(customer_ref="C-3", style="HD-ZIP", colour="grey", size="L", quantity=7),
    ]
    resp = await submit(platform, {"lines": lines}, params={"on_error": "accept_valid"})
    batch_id = resp.json()["batch_id"]
    await aggregate_of(platform, batch_id)
    picked = await http.post(
        f"/v1/demand-batches/{batch_id}/picks",
        json={"picks": [{"style": "TS-CREW", "colour": "white"}], "close_window": True},
        headers=buyer,
    )
    assert picked.status_code == 200, picked.text

    async def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await http.get(f"/v1/demand-batches/{batch_id}", headers=buyer)
        ).json()
        return body if body["lines_by_status"]["open"] == 0 else None

    detail = await eventually(settled)
    q = detail["quantities"]
    assert q["accepted"] == 117 and q["accepted"] == q["picked"] + q["declined"] + q["open"]
    assert (q["picked"], q["declined"], q["open"]) == (110, 7, 0)

    page = (await http.get(f"/v1/demand-batches/{batch_id}/lines", headers=buyer)).json()
    assert page["total"] == 3
    states = {(x["line_no"], x["status"]) for x in page["lines"]}
    assert states == {(1, "in_production"), (2, "in_production"), (3, "declined")}
    declined = (
        await http.get(
            f"/v1/demand-batches/{batch_id}/lines", params={"status": "declined"}, headers=buyer
        )
    ).json()
    assert [x["reason"] for x in declined["lines"]] == [
        "minimum order quantity not met when the pick window closed"
    ]
    assert all(x["production_order_id"] for x in page["lines"] if x["status"] == "in_production")


async def orphaned_batch(platform: Platform) -> int:
    """A batch whose workflow id names a workflow on a task queue nobody polls: a worker
    down, as its queries see it."""
    resp = await submit(platform, {"lines": [line()]})
    assert resp.status_code == 201, resp.text
    batch_id: int = resp.json()["batch_id"]
    orphan = f"orphan-batch-{batch_id}-{time.time_ns()}"
    await platform.env.client.start_workflow(
        "DemandBatchWorkflow", id=orphan, task_queue=f"nobody-{orphan}"
    )
    with platform.session_factory() as s:
        row = s.get(DemandBatch, batch_id)
        assert row is not None
        row.workflow_id = orphan
        s.add(row)
        s.commit()
    return batch_id


async def test_no_worker_to_answer_a_query_costs_a_read_seconds_not_half_a_minute(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker down (or restarting) must not hang the buyer's pages for the server's 30 s:
    the batch comes back from the database without the workflow's progress, and the
    aggregate, which only the workflow has, is a 503 that says why. (The limit is 1 s here
    instead of 5, to keep the suite short; without it each read takes the 30 s.)"""
    monkeypatch.setattr(api_errors, "QUERY_TIMEOUT", timedelta(seconds=1))
    batch_id = await orphaned_batch(platform)
    headers = platform.auth("team-nova")
    started = time.monotonic()
    r = await platform.http.get(f"/v1/demand-batches/{batch_id}", headers=headers)
    assert time.monotonic() - started < 10
    assert r.status_code == 200, r.text
    assert r.json()["progress"] is None and r.json()["lines_by_status"]["open"] == 1

    started = time.monotonic()
    r = await platform.http.get(f"/v1/demand-batches/{batch_id}/aggregate", headers=headers)
    assert time.monotonic() - started < 10
    assert r.status_code == 503 and "did not answer" in r.json()["detail"], r.text


async def test_a_pick_before_the_batch_reads_picking_is_told_to_retry(
    platform: Platform, session: Session, team_id: int
) -> None:
    """Answered from the batch's status, without waiting on a workflow that is still
    aggregating (for a large batch, seconds): 409 with Retry-After. From "picking" on, the
    workflow takes the pick (tests/workflows/test_pick_after_aggregation_commits.py)."""
    batch = make_batch(session, team_id)  # received; no workflow aggregates it
    session.commit()
    r = await platform.http.post(
        f"/v1/demand-batches/{batch.id}/picks",
        json={"picks": [{"style": "TS-CREW", "colour": "white"}]},
        headers=platform.auth("team-nova"),
    )
    assert r.status_code == 409 and r.headers["Retry-After"] == "1"
    assert r.json()["detail"] == f"batch {batch.id} is still being aggregated; retry in a moment"
