"""Stock reservations and idempotent payments.

``products.reserved`` counts units held for unpaid orders (available = stock - reserved); ``stock_reservations``
records who holds them until when; ``payments`` records each attempt under a unique idempotency key. The new
column gets a server default, so existing rows are valid (0 reserved) the moment it exists; its checks are created
NOT VALID on PostgreSQL and validated by 0007, so no scan happens under this revision's lock.

Revision ID: 0006_stock_reservations
Revises: 0005_alert_threshold_not_null
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_stock_reservations"
down_revision = "0005_alert_threshold_not_null"
branch_labels = None
depends_on = None


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("reserved", sa.Integer(), nullable=False, server_default="0"))
        # integrity-kit: ignore[batch-recreate-cascade] env.py turns SQLite foreign keys off
        batch.create_check_constraint(op.f("ck_products_reserved_non_negative"), "reserved >= 0",
                                      postgresql_not_valid=True)
        batch.create_check_constraint(op.f("ck_products_stock_not_below_reserved"), "reserved <= stock",
                                      postgresql_not_valid=True)

    op.create_table(
        "stock_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_stock_reservations"),
        sa.UniqueConstraint("order_id", "product_id", name="uq_stock_reservations_order_id_product_id"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_stock_reservations_order_id_orders",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name="fk_stock_reservations_product_id_products",
                                ondelete="RESTRICT"),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_reservations_quantity_positive")),
        sa.CheckConstraint("status IN ('active', 'converted', 'released')",
                           name=op.f("ck_stock_reservations_status_known")),
    )
    op.create_index("ix_stock_reservations_product_id", "stock_reservations", ["product_id"])
    op.create_index("ix_stock_reservations_status_expires_at", "stock_reservations", ["status", "expires_at"])

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("gateway_reference", sa.String(100), nullable=True),
        sa.Column("failure_reason", sa.String(255), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("idempotency_key", name="uq_payments_idempotency_key"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_payments_order_id_orders",
                                ondelete="RESTRICT"),
        sa.CheckConstraint("status IN ('processing', 'succeeded', 'declined')", name=op.f("ck_payments_status_known")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_payments_amount_non_negative")),
    )
    op.create_index("ix_payments_order_id", "payments", ["order_id"])


def downgrade() -> None:
    op.drop_table("payments")
    op.drop_table("stock_reservations")
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint(op.f("ck_products_stock_not_below_reserved"), type_="check")
        batch.drop_constraint(op.f("ck_products_reserved_non_negative"), type_="check")
        batch.drop_column("reserved")
