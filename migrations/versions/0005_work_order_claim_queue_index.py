"""work order claim queue index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 00:55:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A factory's claim queue in plan order: the claim's candidate is one index entry.
    op.create_index(
        'ix_work_order_claim_queue',
        'work_order',
        ['factory_id', 'status', 'planned_start', 'id'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_work_order_claim_queue', table_name='work_order')
