"""shipped and cancelled orders' slots leave the live plan

From now on an order's slots leave the live plan when it ships (a cancellation already
freed them). The slots that closed orders left in the live plan before this are history,
which the plans it superseded and the orders' work orders keep: they are deleted here
once, so that the live plan holds the open orders' slots only.

Downgrade deletes nothing and restores nothing: the slots were history no reader used.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 03:50:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM plan_assignment"
        " WHERE plan_id IN (SELECT id FROM plan WHERE status = 'live')"
        " AND production_order_id IN"
        " (SELECT id FROM production_order WHERE status IN ('done', 'cancelled'))"
    )


def downgrade() -> None:
    pass
