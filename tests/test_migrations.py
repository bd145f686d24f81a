from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from c2b import migrate


def test_the_migrations_build_exactly_the_tables_the_models_declare(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], "models and migrations differ: add a migration (alembic revision)"


def test_the_migrations_downgrade_to_nothing_and_upgrade_again(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/roundtrip.db"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    engine = sa.create_engine(url)
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()
    migrate.upgrade(url)


def test_every_table_whose_ids_key_workflows_keeps_autoincrement_on_sqlite(
    tmp_path: object,
) -> None:
    """SQLite reuses the largest deleted rowid unless a table is AUTOINCREMENT; these ids
    name Temporal workflows, so a migration that rebuilds such a table must keep it."""
    url = f"sqlite:///{tmp_path}/autoincrement.db"
    migrate.upgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type='table'")
        ddl = {row.name: row.sql for row in rows}
    engine.dispose()
    keyed = {
        t.name for t in SQLModel.metadata.tables.values() if t.kwargs.get("sqlite_autoincrement")
    }
    assert keyed >= {"demand_batch", "production_order", "work_order", "style_lifecycle"}
    assert {name for name in keyed if "AUTOINCREMENT" not in ddl[name]} == set()
