"""schemathesis against the running platform: every endpoint of the app's own OpenAPI
schema, with a buyer's, a factory's and an admin's token and with a token of nobody. No answer may
be a 5xx or break the schema the app publishes.

The run is bounded for CI (``C2B_FUZZ_EXAMPLES`` examples per operation, 6 by default); a
longer run is ``C2B_FUZZ_EXAMPLES=200 C2B_FUZZ_SUMMARY=fuzz.txt pytest tests/e2e/test_fuzz.py``
(docs/operations.md).
Another team's or factory's objects are out of reach by tests/api/test_auth.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from c2b.tokens import issue_demo_tokens
from tests.conftest import in_one_pass

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = int(os.environ.get("C2B_FUZZ_EXAMPLES", "6"))
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
# Whose tokens fuzz: a buyer team (intake and picks need a team's scope), a factory (the
# factory protocol is a factory's alone), an admin (every planner's and designer's
# operation, by the same code), then nobody's token (a missing one is refused before any
# parsing: tests/api/test_auth.py). The invalid token goes last: after 30 of them the
# address is refused (429) for a minute.
PRINCIPALS = ["team-nova", "GZ-KNIT", "admin", "nobody"]


@pytest.fixture(autouse=True)
def postgresql_pass(db_url: str) -> None:
    """Before the stack starts: fuzzed against the production database only."""
    in_one_pass(db_url, "postgresql", "fuzzed against the production database, 4-byte ids")


def schemathesis(url: str, token: str | None, report: Path) -> subprocess.CompletedProcess[str]:
    st = Path(sys.executable).parent / "st"
    args = [
        str(st),
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "20261130",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    if token is not None:
        args += ["--header", f"Authorization: Bearer {token}"]
    # In the test's own directory: schemathesis keeps files where it runs.
    return subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=report.parent)


def summary(output: str) -> str:
    """The run's closing lines (its summary), for the failure message and the log."""
    lines = output.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if re.search(r"SUMMARY", line)), -25)
    return "\n".join(lines[start:])


def test_every_endpoint_survives_fuzzing_with_every_role(
    processes: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        tokens = {t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(session)}
    tokens["nobody"] = "c2b_" + "x" * 43
    failures, summaries = [], []
    for principal in PRINCIPALS:
        token = tokens[principal] if principal else None
        run = schemathesis(processes, token, tmp_path / f"{principal or 'none'}.xml")
        summaries.append(f"--- schemathesis as {principal or 'no token'}\n{summary(run.stdout)}")
        if run.returncode != 0:
            failures.append(f"as {principal or 'no token'}:\n{run.stdout[-6000:]}{run.stderr}")
    if os.environ.get("C2B_FUZZ_SUMMARY"):  # the documented longer run keeps its summaries
        Path(os.environ["C2B_FUZZ_SUMMARY"]).write_text("\n\n".join(summaries) + "\n")
    assert not failures, "\n\n".join(failures)
