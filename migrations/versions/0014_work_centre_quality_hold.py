"""work centre quality hold: set by a defect spike or a planner, released by a planner

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 20:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('work_centre', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('on_hold', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        'ix_work_order_centre_completions', 'work_order', ['work_centre_id', 'completed_at']
    )


def downgrade() -> None:
    op.drop_index('ix_work_order_centre_completions', table_name='work_order')
    with op.batch_alter_table('work_centre', schema=None) as batch_op:
        batch_op.drop_column('on_hold')
