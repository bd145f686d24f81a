"""notify listeners when a work order is released (PostgreSQL only)

Every path that makes a work order claimable (release, give-back, lease expiry) fires
pg_notify('c2b_work_released', factory_id) on commit; API processes LISTEN and wake the
factories' long-polls. SQLite has no NOTIFY: the API polls there (api/notifier.py).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION c2b_notify_work_released() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('c2b_work_released', NEW.factory_id::text);
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER work_order_released
        AFTER INSERT OR UPDATE OF status ON work_order
        FOR EACH ROW WHEN (NEW.status = 'released')
        EXECUTE FUNCTION c2b_notify_work_released()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS work_order_released ON work_order")
    op.execute("DROP FUNCTION IF EXISTS c2b_notify_work_released()")
