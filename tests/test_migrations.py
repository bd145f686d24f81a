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


def test_closed_orders_slots_leave_the_live_plan_once_and_superseded_plans_keep_theirs(
    tmp_path: object,
) -> None:
    """Migration 0016: the slots closed orders left in the live plan before shipping
    removed them are deleted; open orders' slots and superseded plans stay."""
    url = f"sqlite:///{tmp_path}/history.db"
    migrate.upgrade(url, "0015")
    engine = sa.create_engine(url)  # plain SQLite: no foreign keys enforced, fewer rows
    with engine.begin() as conn:
        sql = conn.exec_driver_sql
        for order_id, status in [(1, "done"), (2, "cancelled"), (3, "in_production")]:
            sql(
                "INSERT INTO production_order (id, batch_id, team_id, style_code, colour,"
                " size_breakdown, quantity, priority, status, good_quantity, created_at,"
                f" reorder_round) VALUES ({order_id}, 1, 1, 'S', 'c{order_id}', '{{}}', 10, 1,"
                f" '{status}', 0, '2026-11-01', 0)"
            )
        sql(
            "INSERT INTO plan (id, version, status, source, revision, created_at) VALUES"
            " (1, 1, 'superseded', 'x', 0, '2026-11-01'), (2, 2, 'live', 'x', 0, '2026-11-02')"
        )
        for plan_id in (1, 2):
            for order_id in (1, 2, 3):
                sql(
                    "INSERT INTO plan_assignment (plan_id, production_order_id, seq,"
                    f' work_centre_id, start, "end") VALUES ({plan_id}, {order_id}, 1, 1,'
                    " '2026-11-01', '2026-11-02')"
                )
    migrate.upgrade(url)
    with engine.connect() as conn:
        left = conn.exec_driver_sql(
            "SELECT plan_id, production_order_id FROM plan_assignment ORDER BY 1, 2"
        ).all()
    engine.dispose()
    assert [tuple(row) for row in left] == [(1, 1), (1, 2), (1, 3), (2, 3)]
