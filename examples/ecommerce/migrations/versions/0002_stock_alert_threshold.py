"""Add products.stock_alert_threshold the safe way.

Three steps instead of one ``ADD COLUMN ... NOT NULL``: adding a NOT NULL column without a value for existing rows
fails (or, with a default, rewrites the table under a lock on some engines). So: add it nullable, backfill with a
bound statement, then tighten it to NOT NULL and add its CHECK once every row has a value.

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

DEFAULT_THRESHOLD = 5


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("stock_alert_threshold", sa.Integer(), nullable=True))

    # SQLAlchemy 2.x refuses plain SQL strings; a text() with its value bound on the statement (not passed at
    # execute time) also renders correctly in offline `alembic upgrade --sql` mode.
    op.execute(
        sa.text(
            "UPDATE products SET stock_alert_threshold = :threshold WHERE stock_alert_threshold IS NULL"
        ).bindparams(threshold=DEFAULT_THRESHOLD)
    )

    with op.batch_alter_table("products") as batch:
        batch.alter_column(
            "stock_alert_threshold",
            existing_type=sa.Integer(),
            nullable=False,
            server_default=str(DEFAULT_THRESHOLD),
        )
        batch.create_check_constraint(op.f("ck_products_alert_threshold_non_negative"), "stock_alert_threshold >= 0")


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint(op.f("ck_products_alert_threshold_non_negative"), type_="check")
        batch.drop_column("stock_alert_threshold")
