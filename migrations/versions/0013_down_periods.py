"""down periods: a factory's or a work centre's, kept when a planner applies a scenario

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 20:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('factory', 'work_centre'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column('downtime', sa.JSON(), nullable=False, server_default='[]')
            )


def downgrade() -> None:
    for table in ('work_centre', 'factory'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('downtime')
