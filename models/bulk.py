"""Many rows into one table, in the caller's transaction, as fast as the database allows.

PostgreSQL gets ``COPY ... FROM STDIN``: at 100,000 demand lines it takes about a third of
the time of an ``executemany`` (bench/intake.py). Other databases (SQLite) get the
``executemany``, which is already their fastest path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlmodel import SQLModel


def insert_rows(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``model``'s table. Columns the rows
    leave out get their scalar defaults, as an ORM insert would give them."""
    if not rows:
        return
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), list(rows))
        return
    given = list(rows[0])
    defaults = {
        c.name: c.default.arg
        for c in table.columns
        if c.name not in given and isinstance(c.default, sa.ColumnDefault) and c.default.is_scalar
    }
    names = given + list(defaults)
    # The columns' own bind processing (an enum to its value, JSON to text, ...).
    dialect = connection.dialect
    processors = [table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    tail = list(defaults.values())
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[name] for name in given] + tail
            copy.write_row(
                [
                    v if p is None or v is None else p(v)
                    for v, p in zip(values, processors, strict=True)
                ]
            )
