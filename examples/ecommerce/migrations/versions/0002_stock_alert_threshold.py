"""Add products.stock_alert_threshold, step 1 of 4: the column, nullable.

Adding a NOT NULL column with no value for the existing rows fails, and forcing one in while the table is locked
is how a deploy stalls. The safe way takes four revisions, each committed on its own (env.py sets
``transaction_per_migration``) so no step holds another's locks:

1. this one: the column, nullable, and its CHECK (``>= 0``) created NOT VALID on PostgreSQL (no scan now);
2. ``0003``: backfill the existing rows with a bound statement;
3. ``0004``: a ``IS NOT NULL`` CHECK, NOT VALID on PostgreSQL, so new writes must carry a value;
4. ``0005``: validate both checks (a scan that does not block writes), then ``SET NOT NULL``, which PostgreSQL
   proves from the validated check instead of scanning again under an exclusive lock, and drop the helper check.

Revision ID: 0002_stock_alert_threshold
Revises: 0001_baseline
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_stock_alert_threshold"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite rebuilds the table here: env.py turns foreign keys off around the rebuild and checks them afterwards.
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("stock_alert_threshold", sa.Integer(), nullable=True))
        # integrity-kit: ignore[batch-recreate-cascade] env.py turns SQLite foreign keys off
        batch.create_check_constraint(
            op.f("ck_products_alert_threshold_non_negative"), "stock_alert_threshold >= 0", postgresql_not_valid=True
        )


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint(op.f("ck_products_alert_threshold_non_negative"), type_="check")
        batch.drop_column("stock_alert_threshold")
