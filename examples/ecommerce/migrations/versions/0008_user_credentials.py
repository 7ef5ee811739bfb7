"""Users get credentials: users.password_hash and users.token_version.

Why one revision here when products.stock_alert_threshold took four (0002-0005): the value every existing row
needs is a constant the database can supply itself, so no row has to be written.

- ``password_hash`` is added NOT NULL with the constant server default ``'!'`` ("no password set": no argon2 hash
  equals it, so nobody can log in as an existing user until a password is set). PostgreSQL 11+ stores a constant
  default in the catalog and adds the column without rewriting the table; MariaDB 10.3+ adds it instantly. There is
  no backfill, so there is no UPDATE to hold the DDL lock for.
- ``token_version`` the same way, with ``0``; its CHECK (``>= 0``) is created NOT VALID on PostgreSQL (no scan
  under this lock) and validated after the DDL has committed, in an autocommit block, under a lock that lets reads
  and writes go on.

On SQLite batch mode rebuilds ``users``; env.py turns foreign keys off around the rebuild (carts cascade from users)
and checks them afterwards.

Revision ID: 0008_user_credentials
Revises: 0007_validate_reservations
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_user_credentials"
down_revision = "0007_validate_reservations"
branch_labels = None
depends_on = None

CHECK = "ck_users_token_version_non_negative"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=False, server_default="!"))
        batch.add_column(sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"))
        # integrity-kit: ignore[batch-recreate-cascade] env.py turns SQLite foreign keys off
        batch.create_check_constraint(op.f(CHECK), "token_version >= 0", postgresql_not_valid=True)
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(f"ALTER TABLE users VALIDATE CONSTRAINT {CHECK}")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.drop_column("token_version")
        batch.drop_column("password_hash")
