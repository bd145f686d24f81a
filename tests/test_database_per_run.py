"""CI's PostgreSQL pass gets a database of its own on the server DATABASE_URL names, so
two runs against one server (CI and a developer's, or two CI jobs) cannot drop each
other's tables; databases left by killed runs are dropped by the next run."""

from __future__ import annotations

import os
import subprocess  # nosec B404: a process that has ended, for a pid no one has
import sys

import pytest
import sqlalchemy as sa

from c2b.db import make_engine
from tests.conftest import _drop_stale_runs, in_one_pass


@pytest.fixture
def server(db_url: str) -> sa.engine.URL:
    in_one_pass(db_url, "postgresql", "a database per run is a PostgreSQL matter")
    return sa.engine.make_url(os.environ["DATABASE_URL"])


def databases(admin: sa.Engine) -> set[str]:
    with admin.connect() as conn:
        return set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())


def test_the_run_uses_a_database_of_its_own(db_url: str, server: sa.engine.URL) -> None:
    own = sa.engine.make_url(db_url).database
    assert own is not None and own != server.database
    assert own.startswith(f"{server.database}_run_{os.getpid()}_")
    engine = make_engine(db_url)
    try:
        assert own in databases(engine)
    finally:
        engine.dispose()


def test_a_killed_runs_database_is_dropped_and_a_live_ones_kept(server: sa.engine.URL) -> None:
    dead_pid = _pid_of_an_ended_process()
    prefix = f"{server.database}_run_"
    dead, live = f"{prefix}{dead_pid}_aaaaaa", f"{prefix}{os.getpid()}_bbbbbb"
    admin = make_engine(server.render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            for name in (dead, live):
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            _drop_stale_runs(conn, prefix)
        left = databases(admin)
        assert dead not in left and live in left
    finally:
        with admin.connect() as conn:
            for name in (dead, live):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _pid_of_an_ended_process() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])  # nosec B603
    proc.wait()
    return proc.pid
