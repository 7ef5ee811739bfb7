"""Add products.stock_alert_threshold, step 4 of 4: validate, then NOT NULL.

``VALIDATE CONSTRAINT`` scans the table holding a lock that lets reads and writes go on. ``SET NOT NULL`` then
finds a validated ``IS NOT NULL`` check and skips its own scan (PostgreSQL 12+), so the exclusive lock is brief;
the helper check has done its job and goes. Other engines have no NOT VALID constraints: their checks were
enforced when created, and there is nothing to validate.

Revision ID: 0005_alert_threshold_not_null
Revises: 0004_alert_threshold_check
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_alert_threshold_not_null"
down_revision = "0004_alert_threshold_check"
branch_labels = None
depends_on = None

HELPER_CHECK = "ck_products_stock_alert_threshold_not_null"
DEFAULT_THRESHOLD = 5


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE products VALIDATE CONSTRAINT {HELPER_CHECK}")
        op.execute("ALTER TABLE products VALIDATE CONSTRAINT ck_products_alert_threshold_non_negative")
    with op.batch_alter_table("products") as batch:
        # integrity-kit: ignore[batch-recreate-cascade] env.py turns SQLite foreign keys off
        batch.alter_column(
            "stock_alert_threshold", existing_type=sa.Integer(), nullable=False,
            server_default=str(DEFAULT_THRESHOLD),
        )
        batch.drop_constraint(op.f(HELPER_CHECK), type_="check")


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.create_check_constraint(op.f(HELPER_CHECK), "stock_alert_threshold IS NOT NULL",
                                      postgresql_not_valid=True)
        batch.alter_column("stock_alert_threshold", existing_type=sa.Integer(), nullable=True, server_default=None)
