"""A buyer team's day with ``c2b demand`` against the real processes: upload a CSV, see the
rejects of a bad one, and follow the batch through its pick window to the default rule
and its production orders."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from c2b.tokens import issue_demo_tokens
from tests.e2e.conftest import CLI
from tests.factories import need_by

pytestmark = [
    pytest.mark.e2e,
    # Skipped before its processes start (in_one_pass would start them first).
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").startswith("postgresql"),
        reason="runs in the sqlite pass only: a client of the API over HTTP, whose own "
        "tests run on both databases",
    ),
]
HEADER = "customer_ref,style,colour,size,quantity,personalisation,need_by,channel,region\n"


def demand(processes: str, engine: sa.Engine, *args: str) -> subprocess.CompletedProcess[str]:
    with Session(engine) as session:
        token = next(t.token for t in issue_demo_tokens(session) if t.name == "demo:team-nova")
    env = {**os.environ, "C2B_TOKEN": token, "C2B_API_URL": processes, "COLUMNS": "200"}
    return subprocess.run(
        [*CLI, "demand", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_csv_goes_from_upload_through_the_default_rule_to_production(
    processes: str, engine: sa.Engine, tmp_path: Path
) -> None:
    day = need_by().isoformat()
    good = tmp_path / "week-48.csv"
    good.write_text(
        HEADER
        + f"C-1,TS-CREW,white,M,60,,{day},web,EU\n"
        + f"C-2,TS-CREW,white,S,50,,{day},app,EU\n"
        + f"C-3,HD-ZIP,grey,L,10,,{day},store,EU\n"
    )
    first = demand(processes, engine, "submit", str(good), "--pick-window-hours", "0.002")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 lines accepted" in first.stdout
    batch_id = first.stdout.split("batch ", 1)[1].split(":", 1)[0]
    again = demand(processes, engine, "submit", str(good))
    assert again.returncode == 0 and f"batch {batch_id}:" in again.stdout  # same file: same batch

    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + f"C-1,TS-CREW,purple,M,3,,{day},web,EU\nC-2,TS-CREW\n")
    refused = demand(processes, engine, "submit", str(bad))
    assert refused.returncode == 1
    assert "2 of 2 lines were rejected" in refused.stdout
    assert (
        "'purple' is not offered" in refused.stdout and "2 fields, header has 9" in refused.stdout
    )

    # The 7-second pick window closes by itself: the default rule makes the crew tees
    # (110 >= MOQ 100) and declines the zip hoodies (10 < MOQ 80).
    deadline = time.monotonic() + 90
    while True:
        status = demand(processes, engine, "status", batch_id)
        assert status.returncode == 0, status.stdout + status.stderr
        if "2 in_production, 1 declined" in status.stdout:
            break
        assert time.monotonic() < deadline, status.stdout
        time.sleep(1)
    assert "120 accepted = 110 picked + 10 declined + 0 open" in status.stdout
    assert "TS-CREW" in status.stdout and "100 met" in status.stdout

    missing = demand(processes, engine, "status", "999999")
    assert missing.returncode == 1 and "demand batch 999999 not found" in missing.stdout

    # The team finds what it may order, its batches and their orders without remembering
    # their ids.
    catalogue = demand(processes, engine, "styles")
    assert catalogue.returncode == 0, catalogue.stdout + catalogue.stderr
    assert "TS-CREW" in catalogue.stdout and "XS S M L XL" in catalogue.stdout
    listed = demand(processes, engine, "batches", "--status", "picked", "--status", "done")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert f"│ {batch_id} " in listed.stdout
    made = demand(processes, engine, "orders", "--batch", batch_id)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "1 of 1 production orders" in made.stdout and "TS-CREW/white" in made.stdout
    wrong = demand(processes, engine, "orders", "--status", "sewn")
    assert wrong.returncode == 2 and "sewn" in wrong.stdout + wrong.stderr


def test_a_test_batch_is_picked_and_its_sales_reported_from_the_command_line(
    processes: str, engine: sa.Engine, tmp_path: Path
) -> None:
    day = need_by().isoformat()
    csv = tmp_path / "trial.csv"
    csv.write_text(HEADER + f"C-1,TS-CREW,black,M,60,,{day},web,EU\n")
    submitted = demand(processes, engine, "submit", str(csv))
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    batch_id = submitted.stdout.split("batch ", 1)[1].split(":", 1)[0]

    # Sent at once: the command waits while the batch is still being aggregated.
    picked = demand(
        processes,
        engine,
        "pick",
        batch_id,
        "TS-CREW",
        "black",
        "--quantity",
        "20",
        "--test-batch",
        "--close",
    )
    assert picked.returncode == 0, picked.stdout
    assert "picked TS-CREW/black; the pick window is closed" in picked.stdout

    deadline = time.monotonic() + 60
    while True:  # the lifecycle starts once the batch has made its orders
        sold = demand(processes, engine, "sales", "TS-CREW", "black", "S=3", "M=9")
        if sold.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sold.returncode == 0, sold.stdout
    assert "12 units over 1 days" in sold.stdout

    shown = demand(processes, engine, "lifecycle", "TS-CREW")
    assert shown.returncode == 0 and "observing" in shown.stdout and "M:9" in shown.stdout
    early = demand(processes, engine, "reorder", "TS-CREW", "black", "accept")
    assert early.returncode == 1 and "no proposal to decide" in early.stdout
    bad = demand(processes, engine, "sales", "TS-CREW", "black", "M:9")
    assert bad.returncode == 2 and "SIZE=COUNT" in bad.stdout
