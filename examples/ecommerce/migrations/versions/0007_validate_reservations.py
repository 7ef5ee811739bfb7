"""Validate the reservation checks 0006 created NOT VALID.

On PostgreSQL ``VALIDATE CONSTRAINT`` scans products with a lock that lets reads and writes go on. Other engines
enforced the checks when 0006 created them: there is nothing to do there.

Revision ID: 0007_validate_reservations
Revises: 0006_stock_reservations
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0007_validate_reservations"
down_revision = "0006_stock_reservations"
branch_labels = None
depends_on = None

CHECKS = ("ck_products_reserved_non_negative", "ck_products_stock_not_below_reserved")


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for name in CHECKS:
            op.execute(f"ALTER TABLE products VALIDATE CONSTRAINT {name}")


def downgrade() -> None:
    pass  # a validated constraint cannot be made NOT VALID again, and need not be: 0006's downgrade drops it
