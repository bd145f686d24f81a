"""Tracing through real processes: with ``C2B_TRACING=file:PATH`` one HTTP request, the
workflow it starts and that workflow's activities are one trace across the API and the
worker, and ``c2b trace show`` prints it as a tree."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from c2b.tokens import issue_demo_tokens
from c2b.tracing import read_spans, render_trace
from tests.api.test_buyer_flow import line
from tests.conftest import in_one_pass
from tests.e2e.conftest import CLI

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def sqlite_pass(db_url: str) -> None:
    """Before the stack starts: spans do not depend on the database."""
    in_one_pass(db_url, "sqlite", "spans do not depend on the database")


@pytest.fixture
def spans_file(tmp_path: Path) -> Path:
    return tmp_path / "spans.jsonl"


@pytest.fixture
def stack_env(stack_env: dict[str, str], spans_file: Path) -> dict[str, str]:
    return {**stack_env, "C2B_TRACING": f"file:{spans_file}"}


def trace_of_request(spans_file: Path, route: str, wanted: set[str]) -> tuple[str, list[str]]:
    """The trace whose root is the request to ``route``, once it holds spans named like
    each of ``wanted`` (the processes export every half second)."""
    deadline = time.monotonic() + 30
    lines: list[str] = []
    while time.monotonic() < deadline:
        spans: list[dict[str, Any]] = read_spans(spans_file) if spans_file.exists() else []
        roots = [s for s in spans if s["name"] == f"POST {route}" and s["parent_id"] is None]
        if roots:
            trace_id = roots[0]["context"]["trace_id"]
            lines = render_trace(spans, trace_id)
            if all(any(w in line for line in lines) for w in wanted):
                return trace_id, lines
        time.sleep(0.5)
    raise AssertionError(f"no complete trace of POST {route} in {spans_file}:\n" + "\n".join(lines))


def test_a_request_its_workflow_and_activities_are_one_trace(
    processes: str, engine: sa.Engine, spans_file: Path, stack_env: dict[str, str]
) -> None:
    with Session(engine) as session:
        tokens = {t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(session)}
    buyer = {"Authorization": f"Bearer {tokens['team-nova']}"}
    resp = httpx.post(
        f"{processes}/v1/demand-batches", json={"lines": [line()]}, headers=buyer, timeout=30
    )
    assert resp.status_code == 201, resp.text

    wanted = {
        "StartWorkflow:DemandBatchWorkflow",
        "RunWorkflow:DemandBatchWorkflow",
        "RunActivity:",
    }
    trace_id, lines = trace_of_request(spans_file, "/v1/demand-batches", wanted)
    # The root is the API's; the workflow and its activities are the worker's.
    assert lines[0].startswith("POST /v1/demand-batches  [c2b-api,")
    assert any("RunWorkflow:DemandBatchWorkflow" in x and "c2b-worker" in x for x in lines)
    assert any("RunActivity:" in x and "c2b-worker" in x for x in lines)

    shown = subprocess.run(
        [*CLI, "trace", "show", str(spans_file), "--trace-id", trace_id],
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert f"trace {trace_id}" in shown.stdout
    assert "RunWorkflow:DemandBatchWorkflow" in shown.stdout
