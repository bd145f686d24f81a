"""factory overtime: extra open periods a planner applied with a scenario

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 17:35:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('factory', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overtime', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('factory', schema=None) as batch_op:
        batch_op.drop_column('overtime')
