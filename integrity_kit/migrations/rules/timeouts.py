"""Timeout rules (PostgreSQL): a strong lock without a lock timeout queues every query on the table behind it."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from integrity_kit.migrations.classify import classify
from integrity_kit.migrations.collect import sql_of
from integrity_kit.migrations.model import Finding, LintContext, Op, Revision, Rule
from integrity_kit.migrations.rules._helpers import on_created, sql_created_tables
from integrity_kit.migrations.syntax import literal
from integrity_kit.rulebook import Severity

# Operations that take ACCESS EXCLUSIVE, SHARE or SHARE ROW EXCLUSIVE on a table that already exists.
STRONG_OPS = {"add_column", "drop_column", "alter_column", "rename_table", "drop_table", "create_foreign_key",
              "create_check_constraint", "create_unique_constraint", "create_primary_key", "drop_constraint",
              "create_exclude_constraint", "create_index", "drop_index"}
# What classify() calls the statements that take those locks (CONCURRENTLY forms and data changes do not).
STRONG_KINDS = {"create_index", "drop_index", "drop_table", "rename", "drop_column", "add_fk_or_check",
                "add_unique", "add_column", "add_column_not_null_no_default", "set_not_null", "alter_type",
                "alter_other"}

LOCKS = {"create_index": "SHARE", "create_foreign_key": "SHARE ROW EXCLUSIVE"}
SQL_LOCKS = {"create_index": "SHARE", "add_fk_or_check": "SHARE ROW EXCLUSIVE"}

_SETTING = r"(?:lock_timeout|statement_timeout)"
# The value after the setting; 0 (or DEFAULT, which is 0 unless the server says otherwise) means no timeout.
_VALUE = r"\s*(?:=|\bTO\b)\s*'?(?P<value>[^'\s;,)]+)"
_SET_TIMEOUT = re.compile(rf"\bSET\s+(?:LOCAL\s+|SESSION\s+)?{_SETTING}{_VALUE}|"
                          rf"set_config\s*\(\s*'{_SETTING}'\s*,\s*'(?P<config>[^']*)'", re.I)
# In env.py: a SET statement, libpq's options ("-c lock_timeout=5s"), or the setting's name as a key or keyword
_ENV_OPTION = re.compile(rf"-c\s*{_SETTING}\s*=\s*(?P<value>[^\s'\"]+)", re.I)
_ENV_KEY = re.compile(rf"^{_SETTING}$", re.I)
_NO_TIMEOUT = {"0", "0s", "0ms", "0min", "default"}
_ENV_NAME = {"lock_timeout", "statement_timeout"}
_WEAK_CLAUSE = re.compile(r"^\s*VALIDATE\s+CONSTRAINT\b", re.I)


def sets_timeout(sql: str) -> bool:
    """Whether ``sql`` sets a lock or statement timeout to something other than 0 (which turns it off)."""
    return any(next(v for v in match.groupdict().values() if v is not None).lower() not in _NO_TIMEOUT
               for pattern in (_SET_TIMEOUT, _ENV_OPTION) for match in pattern.finditer(sql))


@lru_cache(maxsize=64)
def env_sets_timeout(env_path: str) -> bool:
    """Whether the env.py at ``env_path`` sets a lock or statement timeout: in strings (comments and docstrings
    that merely mention the setting do not count) or as a keyword argument name."""
    try:
        text = Path(env_path).read_text(encoding="utf-8")
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (OSError, SyntaxError, tokenize.TokenError, UnicodeDecodeError):
        return False
    previous = None
    for token in tokens:
        if token.type == tokenize.STRING and previous not in {None, tokenize.NEWLINE, tokenize.INDENT,
                                                              tokenize.DEDENT, tokenize.NL}:
            value = literal_string(token.string)
            if value is not None and (sets_timeout(value) or _ENV_KEY.match(value)):
                return True
        elif token.type == tokenize.NAME and token.string in _ENV_NAME:
            return True
        if token.type not in {tokenize.COMMENT, tokenize.NL}:
            previous = token.type
    return False


def literal_string(source: str) -> str | None:
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


def env_file(revision: Revision) -> Path | None:
    """The env.py of the script directory a revision file sits in (versions/ may have sub-folders)."""
    for parent in list(Path(revision.path).resolve().parents)[:4]:
        if (parent / "env.py").is_file():
            return parent / "env.py"
    return None


def _table_phrase(table: str) -> str:
    return table if table.startswith(("a table", "the table")) else f"existing table {table}"


def _op_sql(op: Op) -> str | None:
    return sql_of(op.arg(0)) if op.name in {"execute", "exec_driver_sql"} else None


def _strong_sql(sql: str, created: set[str]) -> tuple[str, str] | None:
    """The table a statement strongly locks and how, None when it takes no strong lock on an existing table."""
    for action in classify(sql):
        if action.kind not in STRONG_KINDS or _WEAK_CLAUSE.match(action.detail):
            continue
        if action.table not in created:
            lock = SQL_LOCKS.get(action.kind, "ACCESS EXCLUSIVE")
            return action.table or "a table", f"{' '.join(sql.split()[:2]).upper()} takes {lock}"
    return None


class StrongLockWithoutTimeout(Rule):
    """A revision takes a strong lock on an existing table without setting a lock timeout first.

    ## What it checks

    On PostgreSQL, the first operation of each revision that takes an ACCESS EXCLUSIVE, SHARE or SHARE ROW
    EXCLUSIVE lock on a table the revision did not create (`add_column`, `alter_column`, `drop_column`,
    `rename_table`, `drop_table`, constraints, `create_index` / `drop_index` without CONCURRENTLY, and the same
    statements in SQL), when no `SET lock_timeout` (or `statement_timeout`) ran earlier in the revision. One finding
    per revision, at that first operation. It is quiet for the whole history when `env.py` sets a timeout: a
    `SET lock_timeout` it executes, `connect_args={"options": "-c lock_timeout=5s"}`, or the setting's name as a
    key or keyword argument. A timeout of 0 (or DEFAULT) turns it off and does not count.

    ## Why it matters

    Even an instant `ALTER TABLE` must wait for its lock behind every transaction already using the table, and
    while it waits, every new query on the table queues behind it: one long-running report or an idle-in-transaction
    session turns a millisecond migration into an outage of that table, for as long as the oldest transaction
    lasts. A lock timeout makes the migration give up (and be retried) instead. This is a setting for the whole
    project, not a flaw of one revision, so the finding is informational and one line in `env.py` settles it.

    ## Example

    ```python
    op.add_column("orders", sa.Column("note", sa.Text(), nullable=True))
    ```

    ## How to fix

    Once for every revision, in `env.py` (online mode), before `context.run_migrations()`:
    `connection.exec_driver_sql("SET lock_timeout = '5s'")`, or
    `create_engine(url, connect_args={"options": "-c lock_timeout=5s"})`. Or in the revision, before its first
    strong lock:

    ```python
    op.execute("SET lock_timeout = '5s'")
    op.add_column("orders", sa.Column("note", sa.Text(), nullable=True))
    ```

    Add `SET statement_timeout` too if a long statement should also give up; retry the deploy when the timeout
    fires.
    """

    code = "IK816"
    name = "strong-lock-without-timeout"
    severity = Severity.INFO
    about_locks = True
    summary = "A strong lock is taken on an existing table without a lock timeout set first."
    dialects = ("postgresql",)
    ignore_where = "Or set a lock timeout in env.py: it silences this rule for every revision."

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        env = env_file(revision)
        if env is not None and env_sets_timeout(str(env)):
            return
        created = sql_created_tables(revision)
        for op in revision.upgrade:
            sql = _op_sql(op)
            if sql is not None:
                if sets_timeout(sql):
                    return
                strong = _strong_sql(sql, created)
                if strong is not None:
                    yield self._finding(revision, op.line, *strong, sql)
                    return
                continue
            if op.name not in STRONG_OPS or on_created(op, revision, created):
                continue
            if op.name in {"create_index", "drop_index"} and literal(op.kw("postgresql_concurrently")) is True:
                continue
            index = literal(op.arg(0))
            unnamed = ("the table of index " + index if isinstance(index, str) else "the table of an index") \
                if op.name == "drop_index" else "a table named by a variable"
            lock = LOCKS.get(op.name, "ACCESS EXCLUSIVE")
            yield self._finding(revision, op.line, op.table or unnamed, f"{op.name}() takes {lock}", None)
            return
        # What only the rendered SQL shows (statements built at runtime, helpers we cannot read)
        for statement in revision.statements:
            if statement.origin != "rendered":
                continue
            if sets_timeout(statement.sql):
                return
            strong = _strong_sql(statement.sql, created)
            if strong is not None:
                yield self._finding(revision, revision.upgrade_line, *strong, statement.sql, source="sql")
                return

    def _finding(self, revision: Revision, line: int, table: str, what: str, sql: str | None, *,
                 source: str = "python") -> Finding:
        # A waiting ACCESS EXCLUSIVE request queues even plain reads; the SHARE modes queue only writes.
        queued = "query" if "ACCESS EXCLUSIVE" in what else "write"
        return self.finding(
            revision, line, f"{what} on {_table_phrase(table)} and no lock_timeout is set: while it waits for the "
            f"lock, every {queued} on the table queues behind it (one SET lock_timeout in env.py covers every "
            "revision)",
            table=None if table.startswith(("a table", "the table")) else table, source=source,
            subject=sql if sql is not None else None,
            fix="op.execute(\"SET lock_timeout = '5s'\")  # before the first strong lock of the revision\n"
                "# or once in env.py: connection.exec_driver_sql(\"SET lock_timeout = '5s'\") before "
                "run_migrations(),\n# or create_engine(url, connect_args={\"options\": \"-c lock_timeout=5s\"})")
