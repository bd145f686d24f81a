"""indexes for the live plan's reads that history slowed: slots ahead, order status

The placement's read of the slots still ahead read every slot of the live plan, which
kept the slots of every order shipped since it was applied (bench/history.py); and the
reads of the open orders looked for a few among orders that are mostly done.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 03:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_plan_assignment_plan_end', 'plan_assignment', ['plan_id', 'end'])
    # Its first column serves every read by plan alone.
    op.drop_index('ix_plan_assignment_plan_id', table_name='plan_assignment')
    op.create_index('ix_production_order_status', 'production_order', ['status'])


def downgrade() -> None:
    op.drop_index('ix_production_order_status', table_name='production_order')
    op.create_index('ix_plan_assignment_plan_id', 'plan_assignment', ['plan_id'])
    op.drop_index('ix_plan_assignment_plan_end', table_name='plan_assignment')
