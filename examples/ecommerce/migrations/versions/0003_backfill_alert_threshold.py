"""Add products.stock_alert_threshold, step 2 of 4: backfill the existing rows.

A data-only revision, committed on its own so the UPDATE never runs while an earlier revision's DDL lock is held.

Revision ID: 0003_backfill_alert_threshold
Revises: 0002_stock_alert_threshold
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_backfill_alert_threshold"
down_revision = "0002_stock_alert_threshold"
branch_labels = None
depends_on = None

DEFAULT_THRESHOLD = 5


def upgrade() -> None:
    # SQLAlchemy 2.x refuses plain SQL strings; a text() with its value bound on the statement (not passed at
    # execute time) also renders correctly in offline `alembic upgrade --sql` mode.
    op.execute(
        sa.text(
            "UPDATE products SET stock_alert_threshold = :threshold WHERE stock_alert_threshold IS NULL"
        ).bindparams(threshold=DEFAULT_THRESHOLD)
    )


def downgrade() -> None:
    pass  # the values go with the column when 0002 is downgraded; NULLing them here would only cost a table scan
