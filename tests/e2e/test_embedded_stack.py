"""End to end through real processes: the Temporal dev server, ``c2b worker`` and ``c2b api``
over HTTP, and ``c2b dev`` (what ``make run`` runs) started, stopped and started again."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from c2b.tokens import issue_demo_tokens
from tests.api.test_buyer_flow import line
from tests.api.test_walking_skeleton import assert_trail_shows_every_step, drive_batch_to_done
from tests.conftest import in_one_pass
from tests.e2e.conftest import CLI

pytestmark = pytest.mark.e2e


async def test_the_walking_skeleton_runs_through_real_processes_over_http(
    processes: str, engine: sa.Engine
) -> None:
    with Session(engine) as session:
        tokens = {t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(session)}
        codes = dict(session.execute(sa.text("SELECT id, code FROM factory")).all())
    auth = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    async with httpx.AsyncClient(base_url=processes, timeout=30) as http:
        health = (await http.get("/health")).json()
        assert health["database"]["ok"] and health["temporal"]["ok"]
        final = await drive_batch_to_done(http, auth, codes)
    assert_trail_shows_every_step(final)


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_dev(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``c2b dev`` and wait until it says the platform is up (in this run's output)."""
    offset = log.stat().st_size if log.exists() else 0

    def output() -> str:
        return log.read_bytes()[offset:].decode(errors="replace")

    with log.open("ab") as out:
        proc = subprocess.Popen([*CLI, "dev"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if "platform is up" in output():
            return proc, f"http://127.0.0.1:{env['C2B_API_PORT']}"
        assert proc.poll() is None, output()
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(output())


def ctrl_c(proc: subprocess.Popen[bytes]) -> set[int]:
    children = children_of(proc.pid)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    return children


def test_make_run_stops_every_process_on_ctrl_c_and_keeps_the_data(
    stack_env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    in_one_pass(db_url, "sqlite", "make run is the embedded default, whatever DATABASE_URL")
    env = {k: v for k, v in stack_env.items() if k != "DATABASE_URL"}  # the embedded default
    log = tmp_path / "dev.log"
    proc, url = run_dev(env, log)
    first_start = log.read_text()
    assert "seeded demo data" in first_start and "Temporal UI: http://" in first_start
    assert f"{url}/docs" in first_start
    assert (Path(env["C2B_DATA_DIR"]) / "c2b.db").exists()
    assert (Path(env["C2B_DATA_DIR"]) / "temporal.db").exists()

    token = subprocess.run(
        [*CLI, "token", "create", "--role", "buyer", "--scope", "1", "--name", "e2e"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{url}/v1/demand-batches", json={"lines": [line()]}, headers=auth, timeout=30
    )
    assert created.status_code == 201, created.text
    batch_id = created.json()["batch_id"]

    children = ctrl_c(proc)
    assert len(children) == 4  # temporal, worker, solver, api
    assert not [pid for pid in children if alive(pid)]

    proc, url = run_dev(env, log)
    try:
        assert log.read_text().count("database found: keeping its data") == 1
        # The batch is still there, and its workflow (in the dev server's SQLite file)
        # resumes after the restart and opens the pick window.
        deadline = time.monotonic() + 30
        while True:
            again = httpx.get(f"{url}/v1/demand-batches/{batch_id}", headers=auth, timeout=30)
            assert again.status_code == 200, again.text
            body = again.json()
            assert body["accepted_lines"] == 1
            if (body["progress"] or {}).get("status") == "picking":
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
    finally:
        ctrl_c(proc)


def test_no_process_outlives_make_run_even_when_it_is_killed(
    stack_env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    in_one_pass(db_url, "sqlite", "make run is the embedded default, whatever DATABASE_URL")
    env = {k: v for k, v in stack_env.items() if k != "DATABASE_URL"}
    proc, _ = run_dev(env, tmp_path / "dev.log")
    children = children_of(proc.pid)
    assert len(children) == 4
    proc.kill()  # no chance to clean up: the children must notice by themselves
    proc.wait()
    deadline = time.monotonic() + 30
    while [pid for pid in children if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if alive(pid)]
