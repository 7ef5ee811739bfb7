"""What SQLAlchemy's reflection does not say, read with one catalog SELECT per kind and per schema.

- PostgreSQL: which constraints are ``NOT VALID`` (``pg_constraint.convalidated``), row estimates
  (``pg_class.reltuples``), partitions (a partition is described by its parent, not as a table of its own) and
  tables owned by an extension (skipped: the extension, not the user, decides their shape). Index validity,
  predicates and access methods come with the indexes themselves (:mod:`integrity_kit.schema.postgresql`).
- MySQL/MariaDB: each table's storage engine and ``TABLE_ROWS`` (MyISAM ignores foreign keys).
- SQLite: whether ``PRAGMA foreign_keys`` is on (off means declared keys are not enforced) and row counts from
  ``sqlite_stat1`` when ANALYZE has written it (counting rows would read every table, which is not cheap).

Every identifier travels as a bind parameter; the only name ever placed in SQL text is an SQLite attached schema,
which has no bind form and goes through the dialect's identifier quoting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import exc, text
from sqlalchemy.engine import Connection


@dataclass
class SchemaExtras:
    """Per-schema facts keyed by table name (and constraint or index name where it applies)."""

    # Tables not to describe on their own: partitions (their parent is) and extension-owned tables.
    skip: set[str] = field(default_factory=set)
    partitioned: set[str] = field(default_factory=set)
    partitions: dict[str, list[str]] = field(default_factory=dict)
    row_estimates: dict[str, int | None] = field(default_factory=dict)
    engines: dict[str, str | None] = field(default_factory=dict)
    validated: dict[tuple[str, str | None], bool] = field(default_factory=dict)
    # Whether the database acts on declared foreign keys, per table (None: the same for every table).
    fk_enforced_everywhere: bool | None = True
    foreign_keys_pragma: bool | None = None

    def fk_enforced(self, table: str) -> bool:
        if self.fk_enforced_everywhere is not None:
            return self.fk_enforced_everywhere
        return (self.engines.get(table) or "").lower() in _FK_ENGINES


# Storage engines that implement foreign keys; every other one parses the clause and ignores it.
_FK_ENGINES = {"innodb", "ndbcluster", "ndb"}


def read_extras(connection: Connection, schema: str) -> SchemaExtras:
    """The dialect's extras for ``schema`` (its real name, not None)."""
    name = connection.dialect.name
    if name == "postgresql":
        return _postgresql(connection, schema)
    if name in ("mysql", "mariadb"):
        return _mysql(connection, schema)
    if name == "sqlite":
        return _sqlite(connection, schema)
    return SchemaExtras()


# One row per table-like relation with its parent, if it has exactly one: a declarative partition, or an
# inheritance child with no columns of its own (the pre-PostgreSQL-10 way to partition, as in sakila's
# payment_p2007_01 ... INHERITS (payment)). A child that adds columns is a table in its own right.
_PG_RELATIONS = text("""
SELECT c.relname, c.relkind, c.relispartition, c.reltuples, c.relnatts,
       pn.nspname AS parent_schema, p.relname AS parent_name, p.relnatts AS parent_natts,
       (SELECT count(*) FROM pg_catalog.pg_inherits ic WHERE ic.inhrelid = c.oid) AS parent_count,
       EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
               WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
         AS extension_owned
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid AND i.inhseqno = 1
LEFT JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'f')
""")

_PG_CONSTRAINTS = text("""
SELECT c.relname, con.conname, con.convalidated
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND con.contype IN ('f', 'c')
""")

def _postgresql(connection: Connection, schema: str) -> SchemaExtras:
    extras = SchemaExtras()
    parents: dict[str, str] = {}
    declarative: set[str] = set()
    # .all(): one fetch for the whole result instead of one driver call per row.
    for row in connection.execute(_PG_RELATIONS, {"schema": schema}).all():
        if row.extension_owned:
            extras.skip.add(row.relname)
            continue
        if row.relkind == "p":
            declarative.add(row.relname)
        # reltuples is -1 (PostgreSQL 14+) or 0 with no pages (older) until VACUUM/ANALYZE has run: unknown.
        estimate = row.reltuples
        extras.row_estimates[row.relname] = int(estimate) if estimate is not None and estimate >= 0 else None
        # A partition whose parent lives in another schema stays a table here: nothing else would report it.
        if row.parent_name is None or row.parent_schema != schema:
            continue
        inherited_partition = row.parent_count == 1 and row.relnatts == row.parent_natts
        if row.relispartition or inherited_partition:
            extras.skip.add(row.relname)
            parents[row.relname] = row.parent_name
    extras.partitioned = declarative | set(parents.values())
    # A partition is reported under its topmost parent in this schema, and its rows are the parent's rows. ANALYZE
    # gives a declaratively partitioned parent an estimate for the whole; an inheritance parent's own estimate
    # counts only the rows stored in it, so its children are added.
    leaves: dict[str, int] = {}
    for child in parents:
        top = child
        while top in parents:
            top = parents[top]
        extras.partitions.setdefault(top, []).append(child)
        leaf = extras.row_estimates.get(child)
        if child not in declarative and leaf is not None:
            leaves[top] = leaves.get(top, 0) + leaf
    for top, total in leaves.items():
        own = extras.row_estimates.get(top)
        if top in declarative:
            extras.row_estimates[top] = own if own is not None else total
        else:
            extras.row_estimates[top] = (own or 0) + total
    for row in connection.execute(_PG_CONSTRAINTS, {"schema": schema}).all():
        extras.validated[(row.relname, row.conname)] = bool(row.convalidated)
    return extras


_MYSQL_TABLES = text("""
SELECT TABLE_NAME AS table_name, ENGINE AS engine, TABLE_ROWS AS table_rows
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = :schema
""")


def _mysql(connection: Connection, schema: str) -> SchemaExtras:
    extras = SchemaExtras(fk_enforced_everywhere=None)
    for row in connection.execute(_MYSQL_TABLES, {"schema": schema}).all():
        extras.engines[row.table_name] = row.engine
        extras.row_estimates[row.table_name] = int(row.table_rows) if row.table_rows is not None else None
    return extras


def _sqlite(connection: Connection, schema: str) -> SchemaExtras:
    # The pragma is per connection: what it says is true of the connection the snapshot was read on.
    pragma = bool(connection.exec_driver_sql("PRAGMA foreign_keys").scalar())
    extras = SchemaExtras(fk_enforced_everywhere=pragma, foreign_keys_pragma=pragma)
    quoted = connection.dialect.identifier_preparer.quote_schema(schema)
    master = text(f"SELECT count(*) FROM {quoted}.sqlite_master WHERE type = 'table' AND name = :name")
    if not connection.execute(master, {"name": "sqlite_stat1"}).scalar():
        return extras
    try:
        rows = connection.execute(text(f"SELECT tbl, idx, stat FROM {quoted}.sqlite_stat1")).all()
    except exc.DBAPIError:
        return extras
    for table, _index, stat in rows:
        # The first number of every stat row is the table's row count as of the last ANALYZE.
        first = (stat or "").split(" ", 1)[0]
        if first.isdigit():
            extras.row_estimates[table] = int(first)
    return extras
