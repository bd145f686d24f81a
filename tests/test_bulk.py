"""The bulk insert on the configured database (COPY on PostgreSQL, executemany on SQLite)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session, col, select

from models.bulk import insert_rows
from models.schemas import DemandLineStatus
from models.tables import DemandLine, Event
from tests.factories import make_batch

TRICKY = 'a "quoted", back\\slash, comma; ünïcødé 名前 \\N'


def test_rows_arrive_whole_with_defaults_for_left_out_columns(
    session: Session, team_id: int
) -> None:
    batch = make_batch(session, team_id)
    rows = [
        {
            "batch_id": batch.id,
            "line_no": 10 + n,
            "customer_ref": f"C-{n}",
            "style_code": "TS-CREW",
            "colour": "white",
            "size": "M",
            "quantity": n,
            "personalisation": TRICKY if n == 2 else None,
            "need_by": date(2026, 12, 20),
            "channel": "web",
            "region": "EU",
        }
        for n in (1, 2, 3)
    ]
    insert_rows(session, DemandLine, rows)
    # A JSON column and a UTC timestamp go through their columns' own bind processing.
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    event = {"actor": "bulk", "entity": "e", "entity_id": 1, "kind": "k", "data": {"x": [1]}}
    insert_rows(session, Event, [{**event, "at": at}])
    session.commit()

    lines = session.exec(
        select(DemandLine)
        .where(DemandLine.batch_id == batch.id, col(DemandLine.line_no) > 10)
        .order_by(col(DemandLine.line_no))
    ).all()
    assert [(x.line_no, x.quantity, x.status) for x in lines] == [
        (11, 1, DemandLineStatus.OPEN),
        (12, 2, DemandLineStatus.OPEN),
        (13, 3, DemandLineStatus.OPEN),
    ]
    assert lines[1].personalisation == TRICKY and lines[0].personalisation is None
    stored = session.exec(select(Event).where(Event.actor == "bulk")).one()
    assert stored.data == {"x": [1]} and stored.at == at


def test_no_rows_is_a_no_op(session: Session) -> None:
    insert_rows(session, Event, [])
