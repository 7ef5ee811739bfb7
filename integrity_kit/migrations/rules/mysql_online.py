"""MySQL/MariaDB online DDL: which algorithm (INSTANT, INPLACE, COPY) each operation gets on which server version.

The version thresholds come from the MySQL Reference Manual, "Online DDL Operations"
(https://dev.mysql.com/doc/refman/8.4/en/innodb-online-ddl-operations.html) and the MariaDB Knowledge Base,
"InnoDB Online DDL Operations with the INSTANT Alter Algorithm" and "... with the INPLACE Alter Algorithm"
(https://mariadb.com/kb/en/innodb-online-ddl-operations-with-the-instant-alter-algorithm/,
https://mariadb.com/kb/en/innodb-online-ddl-operations-with-the-inplace-alter-algorithm/).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from integrity_kit.errors import IntegrityKitError
from integrity_kit.migrations.collect import sql_of
from integrity_kit.migrations.model import Finding, LintContext, Op, Revision, Rule
from integrity_kit.migrations.rules._helpers import (
    actions,
    normal_type,
    on_created,
    source,
    sql_created_tables,
    type_before,
)
from integrity_kit.migrations.rules.keys import column_ref
from integrity_kit.migrations.syntax import ast_text, dotted, literal
from integrity_kit.rulebook import Severity

Version = tuple[int, int, int]


@dataclass(frozen=True)
class ServerVersion:
    """What ``--server-version`` names: a family (mysql, mariadb, postgresql) and a version."""

    family: str
    version: Version

    def __str__(self) -> str:
        name = {"mysql": "MySQL", "mariadb": "MariaDB", "postgresql": "PostgreSQL"}[self.family]
        shown = self.version[:2] if self.version[2] == 0 else self.version
        return f"{name} {'.'.join(map(str, shown))}"


# Without --server-version: the oldest release of each family still supported upstream (MySQL 8.0 reached its end
# of life in April 2026, MariaDB 10.6 in July 2026), so the default describes servers people can still run safely.
ASSUMED = (ServerVersion("mysql", (8, 4, 0)), ServerVersion("mariadb", (10, 11, 0)))

_VERSION = re.compile(r"(?:(mysql|mariadb|postgresql|postgres|pg)[-_ ]?)?(\d+)(?:\.(\d+))?(?:\.(\d+))?"
                      r"(?:[-.+]?(mariadb))?\S*", re.I)


def parse_server_version(text: str | None, dialect: str) -> ServerVersion | None:
    """``mysql-8.0.35``, ``mariadb-10.11``, ``postgresql-16`` or what ``SELECT version()`` prints
    (``10.11.6-MariaDB``); None when not given. A bad value or one for another dialect is a usage error."""
    if text is None or not text.strip():
        return None
    match = _VERSION.fullmatch(text.strip())
    if not match:
        raise IntegrityKitError(f"--server-version {text!r}: expected FAMILY-VERSION such as mysql-8.0.35, "
                                "mariadb-10.11 or postgresql-16")
    family = (match.group(1) or match.group(5) or "").lower()
    family = {"postgres": "postgresql", "pg": "postgresql"}.get(family, family)
    if not family:
        family = "postgresql" if dialect == "postgresql" else "mysql" if dialect == "mysql" else ""
    if not family:
        raise IntegrityKitError(f"--server-version {text!r}: name the server, e.g. mysql-8.0.35 or mariadb-10.11")
    expected = {"postgresql": ("postgresql",), "mysql": ("mysql", "mariadb"), "sqlite": ()}[dialect]
    if family not in expected:
        raise IntegrityKitError(f"--server-version {text!r} is a {family} version but --dialect is {dialect}")
    numbers = tuple(int(group or 0) for group in match.group(2, 3, 4))
    return ServerVersion(family, (numbers[0], numbers[1], numbers[2]))


@dataclass(frozen=True)
class Outcome:
    """How the server runs one operation: its algorithm, whether it rebuilds the table, whether writes wait."""

    algorithm: str  # INSTANT, INPLACE or COPY
    rebuild: bool = False
    blocks_writes: bool = False
    note: str = ""

    def describe(self) -> str:
        if self.algorithm == "COPY":
            text = "runs ALGORITHM=COPY (the table is copied row by row, writes wait until it is done)"
        elif self.blocks_writes:
            text = "runs ALGORITHM=INPLACE but writes wait until it is done"
        elif self.rebuild:
            text = "runs ALGORITHM=INPLACE with a table rebuild (writes go on; every row and index is rewritten)"
        elif self.algorithm == "INPLACE":
            text = "runs ALGORITHM=INPLACE without a rebuild"
        else:
            text = "runs ALGORITHM=INSTANT"
        return f"{text}, {self.note}," if self.note else text


INSTANT = Outcome("INSTANT")
REBUILD = Outcome("INPLACE", rebuild=True)


def _since(server: ServerVersion, mysql: Version | None, mariadb: Version | None) -> bool:
    threshold = mysql if server.family == "mysql" else mariadb
    return threshold is not None and server.version >= threshold


# MySQL stores a VARCHAR's length in one byte up to 255 bytes, in two above: crossing that boundary changes every
# row. Alembic types carry no charset, so lengths are counted in utf8mb4's 4 bytes a character (MySQL 8's default).
BYTES_PER_CHAR = 4
_VARCHAR = re.compile(r"(?:sa\.|sqlalchemy\.|mysql\.)?(?:String|VARCHAR|Unicode|NVARCHAR)\((?:length\s*=\s*)?(\d+)")
_TEXT = re.compile(r"(?:sa\.|sqlalchemy\.|mysql\.)?(?:Text|UnicodeText|TEXT|MEDIUMTEXT|LONGTEXT|TINYTEXT)\b")


def type_change(existing: str | None, new: str, server: ServerVersion) -> Outcome:
    """The algorithm for a column type change from ``existing`` (an Alembic type's source; None: unknown)."""
    if existing is not None and normal_type(existing) is not None and normal_type(existing) == normal_type(new):
        return Outcome("INPLACE", note="the same type restated: metadata only")
    old = _VARCHAR.match(existing or "")
    wider = _VARCHAR.match(new)
    if old and wider and int(wider.group(1)) >= int(old.group(1)):
        old_bytes, new_bytes = int(old.group(1)) * BYTES_PER_CHAR, int(wider.group(1)) * BYTES_PER_CHAR
        if (old_bytes <= 255) == (new_bytes <= 255):
            return Outcome("INPLACE", note="a longer VARCHAR within the same length-byte range changes metadata only")
        return Outcome("COPY", note=f"VARCHAR({old.group(1)}) to VARCHAR({wider.group(1)}) crosses the 255-byte "
                       f"length-prefix boundary, counting {BYTES_PER_CHAR} bytes a character (utf8mb4)")
    if old and _TEXT.match(new):
        return Outcome("COPY", note="VARCHAR to TEXT changes the storage format: not free on MySQL/MariaDB")
    if existing is None:
        return Outcome("COPY", note="a type change copies the table; give existing_type= if it only widens a VARCHAR")
    return Outcome("COPY", note="a column type change")


def add_column(server: ServerVersion, *, anywhere: bool = False, auto_increment: bool = False) -> Outcome:
    if auto_increment:
        return Outcome("INPLACE", rebuild=True, blocks_writes=True, note="an auto-increment column")
    if anywhere:  # FIRST / AFTER: instant only once the server can place a column anywhere
        return INSTANT if _since(server, (8, 0, 29), (10, 4, 0)) else REBUILD
    return INSTANT if _since(server, (8, 0, 12), (10, 3, 2)) else REBUILD


def drop_column(server: ServerVersion) -> Outcome:
    return INSTANT if _since(server, (8, 0, 29), (10, 4, 0)) else REBUILD


def rename_column(server: ServerVersion) -> Outcome:
    return INSTANT if _since(server, (8, 0, 28), (10, 5, 0)) else Outcome("INPLACE")


def add_foreign_key(checks_off: bool) -> Outcome:
    if checks_off:
        return Outcome("INPLACE", note="foreign_key_checks is off: existing rows are not checked")
    return Outcome("COPY", note="adding a foreign key with foreign_key_checks on")


ADD_PRIMARY_KEY = Outcome("INPLACE", rebuild=True, note="a new primary key reorders the clustered index")
DROP_PRIMARY_KEY = Outcome("COPY", note="dropping a primary key without adding another in the same ALTER TABLE")
ADD_INDEX = Outcome("INPLACE")
FULLTEXT_INDEX = Outcome("INPLACE", blocks_writes=True, note="a FULLTEXT or SPATIAL index")


@dataclass(frozen=True)
class Step:
    """One operation of a revision as the MySQL rules see it: where it is and what each server does with it."""

    line: int
    table: str | None
    what: str
    outcomes: tuple[tuple[ServerVersion, Outcome], ...]
    assumed: bool
    source: str = "python"
    subject: str | None = None
    column: str | None = None
    new_type: str | None = None  # for a type change: the new type's source, so the fix names it

    @property
    def worst(self) -> Outcome:
        return max((outcome for _server, outcome in self.outcomes), key=_badness)

    def message(self) -> str:
        worst = self.worst
        where = [server for server, outcome in self.outcomes if outcome == worst]
        others = [(server, outcome) for server, outcome in self.outcomes if outcome != worst]
        text = f"{self.what} {worst.describe()} on {' and '.join(map(str, where))}"
        if others:
            text += "; it " + "; it ".join(f"{outcome.describe()} on {server}" for server, outcome in others)
        if self.assumed:
            text += " (no --server-version given: assumed the oldest releases still supported)"
        return text


def _badness(outcome: Outcome) -> int:
    return 3 if outcome.algorithm == "COPY" else 2 if outcome.blocks_writes else 1 if outcome.rebuild else 0


def _servers(context: LintContext) -> tuple[tuple[ServerVersion, ...], bool]:
    server = parse_server_version(context.server_version, context.dialect)
    return ((server,), False) if server is not None else (ASSUMED, True)


_FK_CHECKS_OFF = re.compile(r"\bSET\s+(?:SESSION\s+|@@SESSION\.|@@)?foreign_key_checks\s*=\s*(?:0|OFF)\b", re.I)
_EXPLICIT = re.compile(r"\bALGORITHM\s*=\s*(?:INSTANT|INPLACE|NOCOPY)\b", re.I)
# Syntax only PostgreSQL accepts: MySQL rejects the statement, so it never runs there to block anything.
_POSTGRESQL_ONLY = re.compile(r"\bUSING\s+INDEX\b|\bCONCURRENTLY\b|\bNOT\s+VALID\b|\bVALIDATE\s+CONSTRAINT\b", re.I)
_ADD_PK = re.compile(r"^ADD\s+(?:CONSTRAINT\s+\S+\s+)?PRIMARY\s+KEY\b", re.I)
_DROP_PK = re.compile(r"^DROP\s+PRIMARY\s+KEY\b", re.I)
_ADD_FK = re.compile(r"^ADD\s+(?:CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY\b", re.I)
_ADD_COLUMN = re.compile(r"^ADD\s+(?:COLUMN\s+)?(?!CONSTRAINT|PRIMARY|FOREIGN|UNIQUE|INDEX|KEY|FULLTEXT|SPATIAL|"
                         r"CHECK)[`\"]?(\w+)", re.I)
_DROP_COLUMN = re.compile(r"^DROP\s+(?:COLUMN\s+)?(?!CONSTRAINT|INDEX|KEY|PRIMARY|FOREIGN|CHECK)[`\"]?(\w+)", re.I)
_RENAME_COLUMN = re.compile(r"^RENAME\s+COLUMN\b", re.I)


def steps(revision: Revision, context: LintContext) -> Iterator[Step]:
    """Every operation of the upgrade on a table that already exists, with its algorithm on each server."""
    servers, assumed = _servers(context)
    created = sql_created_tables(revision)
    checks_off = False

    def step(op_or_line: Op | int, table: str | None, what: str, outcome_of, **extra) -> Step:
        line = op_or_line.line if isinstance(op_or_line, Op) else op_or_line
        return Step(line, table, what, tuple((server, outcome_of(server)) for server in servers), assumed, **extra)

    for op in revision.upgrade:
        sql = sql_of(op.arg(0)) if op.name in {"execute", "exec_driver_sql"} else None
        if sql and _FK_CHECKS_OFF.search(sql):
            checks_off = True
        if on_created(op, revision, created):
            continue
        table = op.table or "a table named by a variable"
        off = checks_off
        # By keyword or by position, as Alembic binds them (column_name=... is common in real histories).
        column_arg = op.column_node
        if op.name == "add_column":
            column = op.param("column")
            name = literal(column.args[0]) if isinstance(column, ast.Call) and column.args else None
            label = f"add column {column_ref(op.table, name)}"
            auto = _auto_increment(column)
            yield step(op, op.table, label, lambda s, auto=auto: add_column(s, auto_increment=auto))
            if _has_foreign_key(column):
                yield step(op, op.table, f"{label} with a foreign key", lambda _s, off=off: add_foreign_key(off))
        elif op.name == "drop_column":
            yield step(op, op.table, f"drop column {column_ref(op.table, literal(column_arg))}", drop_column)
        elif op.name == "alter_column":
            column = literal(column_arg)
            new_type = op.kw("type_")
            if new_type is not None:
                existing = type_before(revision, op, context)
                yield step(op, op.table, f"type change of {column_ref(op.table, column)} to {ast_text(new_type)}",
                           lambda s, e=existing, n=new_type: type_change(e, ast_text(n), s),
                           column=column if isinstance(column, str) else None, new_type=ast_text(new_type))
            elif op.has_kw("new_column_name"):
                yield step(op, op.table, f"rename column {column_ref(op.table, column)}", rename_column)
        elif op.name == "create_foreign_key":
            yield step(op, op.table, f"foreign key {_foreign_key_name(op, table)}",
                       lambda _s, off=off: add_foreign_key(off))
        elif op.name == "create_primary_key":
            yield step(op, op.table, f"primary key on {table}", lambda _s: ADD_PRIMARY_KEY)
        elif op.name == "drop_constraint" and literal(op.kw("type_")) == "primary":
            yield step(op, op.table, f"drop the primary key of {table}", lambda _s: DROP_PRIMARY_KEY)
        elif op.name == "create_index":
            prefix = str(literal(op.kw("mysql_prefix")) or "").upper()
            outcome = FULLTEXT_INDEX if prefix in {"FULLTEXT", "SPATIAL"} else ADD_INDEX
            index = literal(op.param("index_name"))
            label = f"index {index} on {table}" if isinstance(index, str) else f"an index on {table}"
            yield step(op, op.table, label, lambda _s, o=outcome: o)
    yield from _sql_steps(revision, servers, assumed, created)


def _sql_steps(revision: Revision, servers: tuple[ServerVersion, ...], assumed: bool,
               created: set[str]) -> Iterator[Step]:
    """The same classification for ALTER TABLE statements in the SQL (op.execute strings, rendered SQL). MODIFY and
    CHANGE are left to the Python pass: the old type is not in the statement."""
    checks_off = False
    for statement, action, line in actions(revision):
        if _FK_CHECKS_OFF.search(statement.sql):
            checks_off = True
        if action.table is None or action.table in created or _EXPLICIT.search(statement.sql):
            continue  # an explicit ALGORITHM makes the server refuse instead of copying
        if _POSTGRESQL_ONLY.search(statement.sql):
            continue
        clause = action.detail.strip()
        outcome_of = None
        if _ADD_PK.match(clause):
            what, outcome_of = "add primary key", (lambda _s: ADD_PRIMARY_KEY)
        elif _DROP_PK.match(clause):
            what, outcome_of = "drop primary key", (lambda _s: DROP_PRIMARY_KEY)
        elif _ADD_FK.match(clause):
            what, outcome_of = "add foreign key", (lambda _s, off=checks_off: add_foreign_key(off))
        elif match := _ADD_COLUMN.match(clause):
            upper = clause.upper()
            anywhere = bool(re.search(r"\b(FIRST|AFTER)\b", upper))
            auto = "AUTO_INCREMENT" in upper
            what = f"add column {match.group(1)}"
            outcome_of = partial(add_column, anywhere=anywhere, auto_increment=auto)
        elif (match := _DROP_COLUMN.match(clause)) and action.kind == "drop_column":
            what, outcome_of = f"drop column {match.group(1)}", drop_column
        elif _RENAME_COLUMN.match(clause):
            what, outcome_of = "rename column", rename_column
        if outcome_of is None:
            continue
        yield Step(line, action.table, f"ALTER TABLE {action.table} {what}",
                   tuple((server, outcome_of(server)) for server in servers), assumed,
                   source=source(statement), subject=statement.sql)


def _foreign_key_name(op: Op, table: str) -> str:
    """The constraint's name, or (autogenerate's ``create_foreign_key(None, ...)``) its columns and target."""
    name = literal(op.param("constraint_name"))
    if isinstance(name, str):
        return f"{name} on {table}"
    target = literal(op.param("referent_table"))
    columns = literal(op.param("local_cols"))
    if op.table is None or not isinstance(columns, list):
        return f"on {table}"
    return f"{table}({', '.join(map(str, columns))}) -> {target if isinstance(target, str) else 'another table'}"


def _auto_increment(column: ast.AST | None) -> bool:
    if not isinstance(column, ast.Call):
        return False
    keywords = {k.arg: literal(k.value) for k in column.keywords if k.arg}
    # MySQL renders no Identity(): only a primary key SQLAlchemy may autoincrement becomes AUTO_INCREMENT.
    return bool(keywords.get("primary_key")) and keywords.get("autoincrement") is not False


def _has_foreign_key(column: ast.AST | None) -> bool:
    return isinstance(column, ast.Call) and any(
        isinstance(a, ast.Call) and dotted(a.func).split(".")[-1] == "ForeignKey" for a in column.args)


_REFERENCES = ("MySQL: https://dev.mysql.com/doc/refman/8.4/en/innodb-online-ddl-operations.html — MariaDB: "
               "https://mariadb.com/kb/en/innodb-online-ddl-operations-with-the-instant-alter-algorithm/ and "
               "https://mariadb.com/kb/en/innodb-online-ddl-operations-with-the-inplace-alter-algorithm/")


class MysqlDdlBlocksWrites(Rule):
    """A MySQL/MariaDB schema change that copies the table or makes writes wait until it is done.

    ## What it checks

    On `--dialect mysql`, each operation on a table the revision did not create, for the server named by
    `--server-version` (for example `mysql-8.0.35`, `mariadb-10.11`); without it, for the oldest releases still
    supported upstream (MySQL 8.4 and MariaDB 10.11), and the message says so. It fires when the server runs the
    operation with `ALGORITHM=COPY`, or in place but without concurrent writes:

    | operation | MySQL | MariaDB |
    |---|---|---|
    | change a column's type (`alter_column(type_=...)`) | COPY | COPY |
    | `VARCHAR(n)` to `TEXT` | COPY | COPY |
    | widen `VARCHAR` across the 255-byte length prefix | COPY | COPY |
    | add a foreign key with `foreign_key_checks` on | COPY | COPY |
    | drop the primary key without adding another | COPY | COPY |
    | add an auto-increment column, a FULLTEXT or SPATIAL index | INPLACE, writes wait | INPLACE, writes wait |

    Widening a `VARCHAR` within the same length-prefix range is in place and only changes metadata; lengths are
    counted in utf8mb4's 4 bytes a character, since Alembic types carry no charset. SQL that names its own
    `ALGORITHM=INSTANT|INPLACE|NOCOPY` is left alone: the server refuses it rather than copying. `MODIFY` and
    `CHANGE` in hand-written SQL are not judged, since the old type is not in the statement: write them as
    `op.alter_column(..., existing_type=...)`, or add an explicit `ALGORITHM=` so the server refuses a copy.

    ## Why it matters

    With `ALGORITHM=COPY` the server creates a copy of the table, copies every row, and lets reads but no writes
    through until it swaps the copy in: minutes to hours of failed or queued writes on a large table, and replicas
    lag by the same time. The same operation on a small test database takes milliseconds, so nothing warns you.
    The manuals list each operation: MySQL's "Online DDL Operations"
    (https://dev.mysql.com/doc/refman/8.4/en/innodb-online-ddl-operations.html) and MariaDB's "InnoDB Online DDL
    Operations with the INPLACE Alter Algorithm"
    (https://mariadb.com/kb/en/innodb-online-ddl-operations-with-the-inplace-alter-algorithm/).

    ## Example

    ```python
    op.alter_column("users", "name", type_=sa.Text(), existing_type=sa.String(100))
    ```

    ## How to fix

    Keep the type when you can (a `VARCHAR` long enough, widened within its length-prefix range), or add a new
    column (INSTANT on MySQL 8.0.12+ / MariaDB 10.3.2+), backfill it in batches and switch reads to it; for very
    large tables use an online schema change tool (gh-ost, pt-online-schema-change). A foreign key on a table with
    data can be added in place with the checks off, once you have checked for orphans yourself.

    ```python
    op.add_column("users", sa.Column("name_text", sa.Text(), nullable=True))
    # next revision (no DDL): backfill in batches, then switch reads to name_text
    op.execute(sa.text("UPDATE users SET name_text = name WHERE id BETWEEN :lo AND :hi").bindparams(lo=1, hi=10_000))
    ```
    """

    code = "IK850"
    name = "mysql-ddl-blocks-writes"
    severity = Severity.WARNING
    about_locks = True
    summary = "A MySQL/MariaDB schema change copies the table or blocks writes while it runs."
    dialects = ("mysql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        for found in steps(revision, context):
            worst = found.worst
            if worst.algorithm == "COPY" or worst.blocks_writes:
                yield self.finding(revision, found.line, found.message(), table=found.table, fix=_fix(found, worst),
                                   source=found.source, subject=found.subject)


class MysqlDdlRebuildsTable(Rule):
    """A MySQL/MariaDB schema change that rebuilds the table in place.

    ## What it checks

    On `--dialect mysql`, operations the server runs with `ALGORITHM=INPLACE` and a table rebuild, for the server
    named by `--server-version` (or, without it, MySQL 8.4 and MariaDB 10.11, said in the message):

    | operation | INSTANT from | before that |
    |---|---|---|
    | add a column at the end (what `op.add_column` does) | MySQL 8.0.12, MariaDB 10.3.2 | INPLACE, rebuild |
    | add a column with `FIRST` / `AFTER` | MySQL 8.0.29, MariaDB 10.4 | INPLACE, rebuild |
    | drop a column | MySQL 8.0.29, MariaDB 10.4 | INPLACE, rebuild |
    | add a primary key (`create_primary_key`) | never | INPLACE, rebuild |

    Renaming a column (INSTANT from MySQL 8.0.28 / MariaDB 10.5, INPLACE without a rebuild before) and adding a
    secondary index (INPLACE, no rebuild) never fire.

    ## Why it matters

    Writes go on during an in-place rebuild, but the server rewrites every row and every index: the I/O of a full
    table copy, a temporary file as large as the table, replication lag for the whole rebuild on replicas that
    apply it single-threaded, and a short exclusive metadata lock at the start and the end. On a recent server the
    same change would have been INSTANT. MySQL documents each case in "Online DDL Operations"
    (https://dev.mysql.com/doc/refman/8.4/en/innodb-online-ddl-operations.html); MariaDB in "InnoDB Online DDL
    Operations with the INSTANT Alter Algorithm"
    (https://mariadb.com/kb/en/innodb-online-ddl-operations-with-the-instant-alter-algorithm/) and "Instant ADD
    COLUMN for InnoDB" (https://mariadb.com/kb/en/instant-add-column-for-innodb/).

    ## Example

    ```python
    op.create_primary_key("pk_cart_items", "cart_items", ["id"])
    ```

    ## How to fix

    Run it when the rebuild can be afforded (off-peak, with replicas watched), or with an online schema change tool
    for large tables; for column changes, upgrade to a server that runs them INSTANT and pass `--server-version`.
    When the rebuild is accepted, say so on the call:

    ```python
    op.create_primary_key("pk_cart_items", "cart_items", ["id"])  # integrity-kit: ignore[IK851] 2k rows
    ```
    """

    code = "IK851"
    name = "mysql-ddl-rebuilds-table"
    severity = Severity.INFO
    about_locks = True
    summary = "A MySQL/MariaDB schema change rebuilds the table in place."
    dialects = ("mysql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        for found in steps(revision, context):
            worst = found.worst
            if worst.rebuild and not worst.blocks_writes and worst.algorithm != "COPY":
                yield self.finding(revision, found.line, found.message(), table=found.table, fix=_fix(found, worst),
                                   source=found.source, subject=found.subject)


def _fix(found: Step, worst: Outcome) -> str:
    table = found.table or "<table>"
    if "foreign key" in found.what:
        return ('op.execute("SET foreign_key_checks = 0")  # check for orphans first: nothing checks old rows\n'
                "op.create_foreign_key(...)  # now ALGORITHM=INPLACE, no table copy\n"
                'op.execute("SET foreign_key_checks = 1")')
    if "drop primary key" in found.what or "drop the primary key" in found.what:
        return (f'op.execute("ALTER TABLE {table} DROP PRIMARY KEY, ADD PRIMARY KEY (<columns>)")  '
                "# one statement: INPLACE instead of COPY")
    if "type change" in found.what:
        column, new_type = found.column or "column", found.new_type or "sa.Text()"
        return (f'op.add_column("{table}", sa.Column("{column}_new", {new_type}, nullable=True))\n'
                "# backfill in batches in its own revision, switch reads, drop the old column later;\n"
                "# or run the change with gh-ost / pt-online-schema-change")
    return (f"# {worst.describe()}: run it off-peak or with gh-ost / pt-online-schema-change;\n"
            "# pass --server-version if your server is newer (it may run this INSTANT)")
