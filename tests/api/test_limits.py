"""The HTTP edge's limits on the real app: an oversized body is refused before a route
reads it, a client presenting invalid tokens is slowed down, and CORS stays closed unless
origins are configured."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator

import httpx
from sqlmodel import select

from api.deps import Runtime
from api.limits import AuthFailureLimiter
from api.main import create_app
from models.tables import DemandBatch
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import line


def client_for(runtime: Runtime, address: str = "10.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def with_config(platform: Platform, **changes: object) -> Runtime:
    config = dataclasses.replace(platform.runtime.config, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(
        platform.runtime, config=config, auth_failures=AuthFailureLimiter(max_failures=3)
    )


def batches(platform: Platform) -> int:
    with platform.session_factory() as s:
        return len(s.exec(select(DemandBatch)).all())


async def test_a_body_over_the_limit_is_refused_whole(platform: Platform) -> None:
    runtime = with_config(platform, max_body_bytes=2_000)
    body = json.dumps({"lines": [line(customer_ref=f"C-{i}") for i in range(40)]}).encode()
    assert len(body) > 2_000
    async with client_for(runtime) as http:
        announced = await http.post(
            "/v1/demand-batches",
            content=body,
            headers={**platform.auth("team-nova"), "Content-Type": "application/json"},
        )

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read to find out
            for at in range(0, len(body), 500):
                yield body[at : at + 500]

        streamed = await http.post(
            "/v1/demand-batches",
            content=chunks(),
            headers={**platform.auth("team-nova"), "Content-Type": "application/json"},
        )
        small = await http.post(
            "/v1/demand-batches", json={"lines": [line()]}, headers=platform.auth("team-nova")
        )
    for resp in (announced, streamed):
        assert resp.status_code == 413, resp.text
        assert resp.json() == {
            "detail": "the request body is larger than the limit of 2000 bytes",
            "field": "body",
        }
    assert small.status_code == 201, small.text
    assert batches(platform) == 1  # only the small one


async def test_a_client_with_too_many_invalid_tokens_waits(platform: Platform) -> None:
    runtime = with_config(platform)
    bad = {"Authorization": "Bearer c2b_guess"}
    async with client_for(runtime, "10.0.0.9") as scanner, client_for(runtime) as other:
        answers = [
            (await scanner.get("/v1/factory/work-orders", headers=bad)).status_code
            for _ in range(4)
        ]
        # Refused whatever it presents now, its own valid token too...
        valid = await scanner.get("/v1/factory/work-orders", headers=platform.auth("GZ-KNIT"))
        # ...while another address is not held back, and a missing token is not a guess.
        elsewhere = await other.get("/v1/factory/work-orders", headers=platform.auth("GZ-KNIT"))
        missing = await scanner.get("/v1/factory/work-orders")
    assert answers == [401, 401, 401, 429]
    assert valid.status_code == 429
    assert valid.json()["detail"] == "too many invalid tokens from this address; try again later"
    assert 1 <= int(valid.headers["Retry-After"]) <= 60
    assert elsewhere.status_code == 200
    assert missing.status_code == 401


async def test_cors_is_closed_unless_origins_are_configured(platform: Platform) -> None:
    preflight = {
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    async with client_for(with_config(platform)) as closed:
        refused = await closed.options("/v1/demand-batches", headers=preflight)
        plain = await closed.get("/health", headers={"Origin": "https://shop.example"})
    opened = with_config(platform, cors_origins=("https://shop.example",))
    async with client_for(opened) as open_:
        allowed = await open_.options("/v1/demand-batches", headers=preflight)
        other = await open_.options(
            "/v1/demand-batches", headers={**preflight, "Origin": "https://evil.example"}
        )
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in plain.headers
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "access-control-allow-origin" not in other.headers
