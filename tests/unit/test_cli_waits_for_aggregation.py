"""The buyer's command line sends a pick again when the API says Retry-After (a batch
still being aggregated), for as long as it was told it may wait, and no longer."""

from __future__ import annotations

import httpx
import pytest
import typer

import c2b.demand_cli as demand_cli

STILL = {"detail": "batch 7 is still being aggregated; retry in a moment"}
PICKED = {"accepted": ["TS-CREW/white"], "window_open": True}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """An API that answers the first pick 409 + Retry-After: 1 and the second 200; the
    requests it got, in order. (The real API's side: tests/api/test_buyer_flow.py.)"""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(409, json=STILL, headers={"Retry-After": "1"})
        return httpx.Response(200, json=PICKED)

    def client(api_url: str | None, token: str) -> httpx.Client:
        return httpx.Client(base_url="http://api", transport=httpx.MockTransport(answer))

    monkeypatch.setattr(demand_cli, "api_client", client)
    return seen


def test_a_pick_told_to_retry_is_sent_again_when_the_api_says(api: list[httpx.Request]) -> None:
    body = {"picks": [{"style": "TS-CREW", "colour": "white"}]}
    result = demand_cli.call_api(None, "t", "POST", "/v1/demand-batches/7/picks", 5, json=body)
    assert result == PICKED
    assert [r.content for r in api] == [api[0].content] * 2


def test_without_time_to_wait_the_409_is_the_answer(
    api: list[httpx.Request], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit):
        demand_cli.call_api(None, "t", "POST", "/v1/demand-batches/7/picks", 0, json={})
    assert len(api) == 1
    assert "409 batch 7 is still being aggregated" in capsys.readouterr().out
