"""Fixes as safe migrations, for the audited engine: SQL to run and the Alembic ``op.*`` form of the same steps.

PostgreSQL gets the forms that do not block writes for long (constraints ``NOT VALID`` then ``VALIDATE``, indexes
``CONCURRENTLY``); SQLite, which cannot alter constraints, gets Alembic's batch mode (a table rebuild).
"""

from __future__ import annotations

from functools import lru_cache

from integrity_kit.audit.model import Finding, Fix
from integrity_kit.schema import Column, Table
from integrity_kit.schema.models import dialect_for

MAX_NAME = 63  # PostgreSQL's identifier limit, the shortest of the three
# Evidence that counts rows standing in the way of a fix: adding the constraint fails until they are dealt with.
BLOCKING_EVIDENCE = ("orphan_rows", "duplicate_groups", "null_rows", "violating_rows", "mismatched_rows")


def blocking_rows(finding: Finding) -> dict[str, int]:
    """The non-zero counts of rows that stand in the way of ``finding``'s fix, by evidence key."""
    return {key: finding.evidence[key] for key in BLOCKING_EVIDENCE if finding.evidence.get(key)}


def describe_blocking(blocking: dict[str, int]) -> str:
    return ", ".join(f"{count} {key.replace('_', ' ')}" for key, count in blocking.items())


def cleanup_statements(finding: Finding) -> list[str]:
    """The data-changing statements (DELETE, UPDATE) of the finding's fix: decisions for a person, never run as a
    side effect of a migration."""
    if finding.fix is None:
        return []
    return [line for line in finding.fix.sql.splitlines() if line.upper().startswith(("DELETE", "UPDATE"))]


def constraint_name(prefix: str, table: str, columns: tuple[str, ...] | list[str], suffix: str = "") -> str:
    name = "_".join([prefix, table, *columns] + ([suffix] if suffix else []))
    return name[:MAX_NAME]


@lru_cache(maxsize=8)
def _preparer(dialect: str):
    return dialect_for(dialect).identifier_preparer


def quote(dialect: str, name: str) -> str:
    return _preparer(dialect).quote(name)


def qualified_table(dialect: str, table: Table) -> str:
    name = quote(dialect, table.name)
    return f"{quote(dialect, table.schema)}.{name}" if table.schema else name


def _columns(dialect: str, columns) -> str:
    return ", ".join(quote(dialect, column) for column in columns)


def py_list(values) -> str:
    return "[" + ", ".join(repr(value) for value in values) + "]"


def schema_kw(table: Table) -> str:
    return f", schema={table.schema!r}" if table.schema else ""


def add_foreign_key(dialect: str, table: Table, columns: tuple[str, ...], target: Table,
                    target_columns: tuple[str, ...], index_too: bool = False) -> Fix:
    name = constraint_name("fk", table.name, columns, target.name)
    t = qualified_table(dialect, table)
    references = f"{qualified_table(dialect, target)} ({_columns(dialect, target_columns)})"
    op_args = f"{name!r}, {table.name!r}, {target.name!r}, {py_list(columns)}, {py_list(target_columns)}"
    sql, alembic = [], []
    if index_too:
        index_fix = create_index(dialect, table, columns)
        sql.append(index_fix.sql)
        alembic.append(index_fix.alembic)
    if dialect == "postgresql":
        sql += [f"ALTER TABLE {t} ADD CONSTRAINT {quote(dialect, name)} FOREIGN KEY ({_columns(dialect, columns)}) "
                f"REFERENCES {references} NOT VALID;",
                f"ALTER TABLE {t} VALIDATE CONSTRAINT {quote(dialect, name)};"]
        alembic += [f"op.create_foreign_key({op_args}, postgresql_not_valid=True)",
                    "# next revision:",
                    f'op.execute("ALTER TABLE {table.name} VALIDATE CONSTRAINT {name}")']
    elif dialect == "sqlite":
        sql.append(f"-- SQLite cannot add a foreign key to an existing table: rebuild {table.name} with it "
                   "(Alembic batch mode, with PRAGMA foreign_keys=OFF around the rebuild)")
        alembic.append(f"with op.batch_alter_table({table.name!r}) as batch:\n"
                       f"    batch.create_foreign_key({name!r}, {target.name!r}, {py_list(columns)}, "
                       f"{py_list(target_columns)})")
    else:
        sql.append(f"ALTER TABLE {t} ADD CONSTRAINT {quote(dialect, name)} FOREIGN KEY "
                   f"({_columns(dialect, columns)}) REFERENCES {references};")
        alembic.append(f"op.create_foreign_key({op_args})")
    return Fix("\n".join(sql), "\n".join(alembic))


def create_index(dialect: str, table: Table, columns: tuple[str, ...]) -> Fix:
    name = constraint_name("ix", table.name, columns)
    t = qualified_table(dialect, table)
    args = f"{name!r}, {table.name!r}, {py_list(columns)}{schema_kw(table)}"
    if dialect == "postgresql":
        return Fix(f"CREATE INDEX CONCURRENTLY {quote(dialect, name)} ON {t} ({_columns(dialect, columns)});",
                   "with op.get_context().autocommit_block():\n"
                   f"    op.create_index({args}, postgresql_concurrently=True)")
    return Fix(f"CREATE INDEX {quote(dialect, name)} ON {t} ({_columns(dialect, columns)});",
               f"op.create_index({args})")


def add_unique(dialect: str, table: Table, columns: tuple[str, ...]) -> Fix:
    name = constraint_name("uq", table.name, columns)
    t = qualified_table(dialect, table)
    cols = _columns(dialect, columns)
    if dialect == "postgresql":
        return Fix(f"CREATE UNIQUE INDEX CONCURRENTLY {quote(dialect, name)} ON {t} ({cols});\n"
                   f"ALTER TABLE {t} ADD CONSTRAINT {quote(dialect, name)} UNIQUE USING INDEX {quote(dialect, name)};",
                   "with op.get_context().autocommit_block():\n"
                   f"    op.create_index({name!r}, {table.name!r}, {py_list(columns)}, unique=True, "
                   "postgresql_concurrently=True)\n"
                   f'op.execute("ALTER TABLE {table.name} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")')
    if dialect == "sqlite":
        return Fix(f"CREATE UNIQUE INDEX {quote(dialect, name)} ON {t} ({cols});",
                   f"op.create_index({name!r}, {table.name!r}, {py_list(columns)}, unique=True)")
    return Fix(f"ALTER TABLE {t} ADD CONSTRAINT {quote(dialect, name)} UNIQUE ({cols});",
               f"op.create_unique_constraint({name!r}, {table.name!r}, {py_list(columns)})")


def add_check(dialect: str, table: Table, name_hint: str, condition: str) -> Fix:
    name = constraint_name("ck", table.name, [name_hint])
    t = qualified_table(dialect, table)
    if dialect == "postgresql":
        return Fix(f"ALTER TABLE {t} ADD CONSTRAINT {quote(dialect, name)} CHECK ({condition}) NOT VALID;\n"
                   f"ALTER TABLE {t} VALIDATE CONSTRAINT {quote(dialect, name)};",
                   f"op.create_check_constraint({name!r}, {table.name!r}, {condition!r}, postgresql_not_valid=True)\n"
                   "# next revision:\n"
                   f'op.execute("ALTER TABLE {table.name} VALIDATE CONSTRAINT {name}")')
    if dialect == "sqlite":
        return Fix(f"-- SQLite cannot add a CHECK to an existing table: rebuild {table.name} with "
                   f"CHECK ({condition}) (Alembic batch mode)",
                   f"with op.batch_alter_table({table.name!r}) as batch:\n"
                   f"    batch.create_check_constraint({name!r}, {condition!r})")
    return Fix(f"ALTER TABLE {t} ADD CONSTRAINT {quote(dialect, name)} CHECK ({condition});",
               f"op.create_check_constraint({name!r}, {table.name!r}, {condition!r})")


def set_not_null(dialect: str, table: Table, column: Column) -> Fix:
    t = qualified_table(dialect, table)
    c = quote(dialect, column.name)
    existing = f"existing_type=sa.{sa_type_code(column)}"
    if dialect == "postgresql":
        helper = constraint_name("ck", table.name, [column.name, "not_null"])
        return Fix(f"ALTER TABLE {t} ADD CONSTRAINT {quote(dialect, helper)} CHECK ({c} IS NOT NULL) NOT VALID;\n"
                   f"ALTER TABLE {t} VALIDATE CONSTRAINT {quote(dialect, helper)};\n"
                   f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;\n"
                   f"ALTER TABLE {t} DROP CONSTRAINT {quote(dialect, helper)};",
                   f"op.create_check_constraint({helper!r}, {table.name!r}, '{column.name} IS NOT NULL', "
                   "postgresql_not_valid=True)\n# next revision:\n"
                   f'op.execute("ALTER TABLE {table.name} VALIDATE CONSTRAINT {helper}")\n'
                   f"op.alter_column({table.name!r}, {column.name!r}, {existing}, nullable=False)\n"
                   f"op.drop_constraint({helper!r}, {table.name!r}, type_='check')")
    if dialect == "sqlite":
        return Fix(f"-- SQLite cannot change a column's nullability: rebuild {table.name} (Alembic batch mode)",
                   f"with op.batch_alter_table({table.name!r}) as batch:\n"
                   f"    batch.alter_column({column.name!r}, {existing}, nullable=False)")
    return Fix(f"ALTER TABLE {t} MODIFY {c} {column.type_sql} NOT NULL;",
               f"op.alter_column({table.name!r}, {column.name!r}, {existing}, nullable=False)")


def change_type(dialect: str, table: Table, column: Column, new_sql: str, new_sa: str) -> Fix:
    t = qualified_table(dialect, table)
    c = quote(dialect, column.name)
    alembic = (f"op.alter_column({table.name!r}, {column.name!r}, existing_type=sa.{sa_type_code(column)}, "
               f"type_=sa.{new_sa})")
    if dialect == "postgresql":
        return Fix(f"-- rewrites the table under an exclusive lock; on a big table add a new column, backfill, "
                   f"switch\nALTER TABLE {t} ALTER COLUMN {c} TYPE {new_sql};", alembic)
    if dialect == "sqlite":
        return Fix(f"-- SQLite cannot change a column's type: rebuild {table.name} (Alembic batch mode)",
                   f"with op.batch_alter_table({table.name!r}) as batch:\n    batch.alter_column({column.name!r}, "
                   f"existing_type=sa.{sa_type_code(column)}, type_=sa.{new_sa})")
    null = "" if column.nullable else " NOT NULL"
    return Fix(f"ALTER TABLE {t} MODIFY {c} {new_sql}{null};", alembic)


def sa_type_code(column: Column) -> str:
    """The column's type as ``sa.`` code for an Alembic operation."""
    text = repr(column.type)
    return text if text[:1].isupper() else type(column.type).__name__ + "()"


def add_primary_key(dialect: str, table: Table) -> Fix:
    name = "id" if not table.has_column("id") else f"{table.name}_id"
    t = qualified_table(dialect, table)
    c = quote(dialect, name)
    if dialect == "postgresql":
        sql = f"ALTER TABLE {t} ADD COLUMN {c} BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"
    elif dialect in ("mysql", "mariadb"):
        sql = f"ALTER TABLE {t} ADD COLUMN {c} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY FIRST;"
    else:
        return Fix(f"-- SQLite cannot add a primary key to an existing table: rebuild {table.name} with "
                   f"{name} INTEGER PRIMARY KEY (Alembic batch mode)",
                   f"with op.batch_alter_table({table.name!r}, recreate='always') as batch:\n"
                   f"    batch.add_column(sa.Column({name!r}, sa.Integer(), primary_key=True))")
    # Alembic's add_column cannot declare a primary key: the statement goes through as written.
    return Fix(sql, f"op.execute({sql.rstrip(';')!r})")


def delete_orphans(dialect: str, table: Table, columns, parent: Table, parent_columns) -> Fix:
    """Data clean-up is never run for the user: the fix is the statement to review, not to paste blindly."""
    t, p = qualified_table(dialect, table), qualified_table(dialect, parent)
    match = " AND ".join(f"{p}.{quote(dialect, b)} = {t}.{quote(dialect, a)}"
                         for a, b in zip(columns, parent_columns, strict=True))
    present = " AND ".join(f"{t}.{quote(dialect, a)} IS NOT NULL" for a in columns)
    sql = (f"-- review first: these rows are deleted, not repaired\nDELETE FROM {t} WHERE {present} AND NOT EXISTS "
           f"(SELECT 1 FROM {p} WHERE {match});")
    return Fix(sql, f"op.execute({sql.splitlines()[-1].rstrip(';')!r})  # review first")


def delete_duplicates(dialect: str, table: Table, columns, keep_by: str) -> Fix:
    t = qualified_table(dialect, table)
    same = " AND ".join(f"newer.{quote(dialect, c)} = older.{quote(dialect, c)}" for c in columns)
    k = quote(dialect, keep_by)
    if dialect in ("mysql", "mariadb"):
        sql = (f"-- review first: keeps the oldest row of each group; merge quantities by hand if they matter\n"
               f"DELETE newer FROM {t} AS newer JOIN {t} AS older ON {same} AND newer.{k} > older.{k};")
    else:
        sql = (f"-- review first: keeps the oldest row of each group; merge quantities by hand if they matter\n"
               f"DELETE FROM {t} AS newer WHERE EXISTS (SELECT 1 FROM {t} AS older WHERE {same} "
               f"AND newer.{k} > older.{k});") if dialect == "postgresql" else (
               f"-- review first: keeps the oldest row of each group; merge quantities by hand if they matter\n"
               f"DELETE FROM {t} WHERE EXISTS (SELECT 1 FROM {t} AS older WHERE "
               + " AND ".join(f"{t}.{quote(dialect, c)} = older.{quote(dialect, c)}" for c in columns)
               + f" AND {t}.{k} > older.{k});")
    return Fix(sql, f"op.execute({sql.splitlines()[-1].rstrip(';')!r})  # review first")
