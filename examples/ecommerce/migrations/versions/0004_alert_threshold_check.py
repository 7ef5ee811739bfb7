"""Add products.stock_alert_threshold, step 3 of 4: a CHECK that new rows carry a value.

NOT VALID on PostgreSQL: from now on every write must satisfy it, but the rows already there are not scanned
while the table is locked. 0005 validates it without blocking writes.

Revision ID: 0004_alert_threshold_check
Revises: 0003_backfill_alert_threshold
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0004_alert_threshold_check"
down_revision = "0003_backfill_alert_threshold"
branch_labels = None
depends_on = None

HELPER_CHECK = "ck_products_stock_alert_threshold_not_null"


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        # integrity-kit: ignore[batch-recreate-cascade] env.py turns SQLite foreign keys off
        batch.create_check_constraint(
            op.f(HELPER_CHECK), "stock_alert_threshold IS NOT NULL", postgresql_not_valid=True
        )


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint(op.f(HELPER_CHECK), type_="check")
