"""lint(): read the script directory, parse every revision, run the rules, apply inline ignores."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from integrity_kit import rulebook
from integrity_kit.errors import IntegrityKitError
from integrity_kit.migrations import ignores
from integrity_kit.migrations.activity import size_class
from integrity_kit.migrations.model import DIALECTS, Finding, LintContext, Op, Revision, Rule, parse_column
from integrity_kit.migrations.preflight import Preflight, run_preflight
from integrity_kit.migrations.rules import BY_KEY, RULES
from integrity_kit.migrations.rules.history import without_any_downgrade
from integrity_kit.migrations.rules.mysql_online import parse_server_version
from integrity_kit.migrations.source import RevisionFile, parse_revision, read_history
from integrity_kit.migrations.sql import render_history
from integrity_kit.migrations.syntax import ast_text, dotted, kw_literal, literal
from integrity_kit.migrations.target import VERSION_TABLE, TargetState, pending_revisions
from integrity_kit.rulebook import Severity


@dataclass
class LintResult:
    path: str
    dialect: str
    revisions: list[str]
    findings: list[Finding]
    ignored: list[Finding] = field(default_factory=list)
    ignore_reasons: dict[str, str] = field(default_factory=dict)  # fingerprint of an ignored finding -> its reason
    unexplained_ignores: list[Finding] = field(default_factory=list)
    not_analysed: list[dict] = field(default_factory=list)
    read_by_python: int = 0  # revisions linted whose upgrade()/downgrade() the Python pass read
    sql_rendered: int | None = None  # revisions linted whose SQL rendered; None: the SQL pass was skipped
    notes: list[str] = field(default_factory=list)  # how the SQL was rendered, when not by the project's env.py
    preflight: Preflight | None = None  # with --database: the pending operations judged against the live rows

    def summary_line(self) -> str:
        """How much of the history was read, so a short report is never mistaken for "nothing found"."""
        rendered = "SQL not rendered (--no-sql)" if self.sql_rendered is None else f"{self.sql_rendered} SQL rendered"
        return f"{len(self.revisions)} revisions, {self.read_by_python} read by the Python pass, {rendered}"

    def to_dict(self) -> dict:
        from integrity_kit import __version__

        by_severity: dict[str, int] = {}
        for finding in self.findings:
            by_severity[finding.severity.value] = by_severity.get(finding.severity.value, 0) + 1
        return {"tool": "integrity-kit", "version": __version__, "path": self.path, "dialect": self.dialect,
                "revisions": self.revisions,
                "summary": {"revisions": len(self.revisions), "findings": len(self.findings),
                            "by_severity": by_severity, "ignored": len(self.ignored),
                            "read_by_python_pass": self.read_by_python, "sql_rendered": self.sql_rendered,
                            "not_analysed": len(self.not_analysed)},
                "notes": self.notes,
                "findings": [f.to_dict() for f in self.findings],
                "ignored": [f.to_dict() | {"reason": self.ignore_reasons.get(f.fingerprint)} for f in self.ignored],
                # findings whose ignore comment gives no reason: still reported above, listed here so CI can say why
                "ignores_without_reason": [f.to_dict() for f in self.unexplained_ignores],
                "not_analysed": self.not_analysed} | ({} if self.preflight is None else {"preflight": {
                    "probed": self.preflight.probed, "checks": [
                        {"revision": c.revision, "path": c.path, "line": c.line, "table": c.table, "what": c.what,
                         "reason": c.reason, **c.data()} for c in self.preflight.checks]}})


def lint(path: str | Path, *, dialect: str = "postgresql", since: str | None = None,
         select: list[str] | None = None, ignore: list[str] | None = None, render_sql: bool = True,
         server_version: str | None = None, target: TargetState | None = None,
         probe_data: bool = True) -> LintResult:
    """Lint the Alembic script directory at ``path`` for ``dialect``; only revisions after ``since`` if given, or
    only those ``target`` (a live database's ``alembic_version``, see :func:`read_target`) has not applied.

    ``select`` / ``ignore`` take rule codes (``IK810``), code prefixes (``IK81``) and names
    (``index-without-concurrently``). ``server_version`` (``mysql-8.0.35``, ``mariadb-10.11``) is the target server,
    for the rules whose answer depends on it."""
    if dialect not in DIALECTS:
        raise IntegrityKitError(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")
    parse_server_version(server_version, dialect)  # a bad value is a usage error before anything runs
    history = read_history(path)
    problems: list[dict] = list(history.not_analysed)
    revisions: list[Revision] = []
    for file in history.files:
        revision = _python_pass(file, Path(path), dialect, problems)
        if revision is not None:
            revisions.append(revision)
    read = {revision.revision for revision in revisions}
    shown = {file.revision: file.shown for file in history.files}  # as not-analysed entries name files
    context = LintContext(dialect=dialect, heads=history.heads, server_version=server_version)
    types: dict[tuple[str, str], str] = {}
    not_null: set[tuple[str, str]] = set()
    for revision in revisions:
        _isolated(problems, shown[revision.revision], revision, "collecting its foreign keys", _collect_foreign_keys,
                  revision, context)
        if any(op.name == "alter_column" for op in revision.upgrade):  # only alter_column asks what came before
            context.types_before[revision.revision] = dict(types)
            context.not_null_before[revision.revision] = frozenset(not_null)
        _isolated(problems, shown[revision.revision], revision, "following its column changes", _follow_columns,
                  revision, types, not_null)
    context.no_downgrades = without_any_downgrade(revisions) if len(revisions) == len(history.files) else ()
    wanted = [file.revision for file in history.files]
    if since is not None:
        newer = history.descendants(since)
        wanted = [revision for revision in wanted if revision in newer]
    target_note = None
    if target is not None:
        if not target.has_version_table:
            _schema_matches_base(target, revisions)
        wanted = pending_revisions(history, target)
        target_note = _target_note(target, len(wanted), len(history.files))
    linted = set(wanted)
    context.no_downgrades_reported_on = next((r for r in context.no_downgrades if r in linted), None)
    targets = [revision for revision in revisions if revision.revision in linted]
    chosen = set(rulebook.select(RULES, select or (), ignore or ()))
    rules = [rule() for rule in RULES if rule in chosen and dialect in rule.dialects]
    result = LintResult(path=str(path), dialect=dialect, revisions=wanted, findings=[],
                        read_by_python=len([r for r in wanted if r in read]), sql_rendered=None)
    if target_note:
        result.notes.append(target_note)
    if render_sql:
        rendering = render_history(history.directory, history.files, dialect, history.version_locations,
                                   history.ini, url="mariadb+pymysql://" if target and target.mariadb else None)
        wanted_files = {file.shown for file in history.files if file.revision in linted}
        problems.extend(item for item in rendering.not_analysed
                        if item["object"].removesuffix(" (rendered SQL)") in wanted_files
                        or not item["object"].endswith(" (rendered SQL)"))
        result.notes.extend(rendering.notes)
        result.sql_rendered = len([r for r in wanted if r in rendering.statements])
        for revision in targets:
            revision.statements.extend(rendering.statements.get(revision.revision, []))
    if target is not None and probe_data and target.connect_url:
        context.preflight = run_preflight(target.connect_url, targets, dialect)
        problems.extend(context.preflight.not_analysed)
        result.notes.append(_preflight_note(context.preflight, target))
        result.preflight = context.preflight
    result.not_analysed = problems
    for revision in targets:
        found: list[Finding] = []
        for rule in rules:
            found.extend(_isolated(problems, shown[revision.revision], revision, f"rule {rule.name}", _check, rule,
                                   revision, context) or [])
        kept, ignored, unexplained = ignores.apply(revision, _dedupe(found))
        result.findings.extend(kept)
        for finding, reason in ignored:
            result.ignored.append(finding)
            result.ignore_reasons[finding.fingerprint] = reason
        result.unexplained_ignores.extend(unexplained)
    if context.preflight is not None:
        result.findings = [_with_data(finding, context.preflight, BY_KEY.get(finding.code))
                           for finding in result.findings]
    result.findings.sort(key=lambda f: (f.path, f.line, f.code))
    return result


def _preflight_note(preflight: Preflight, target: TargetState) -> str:
    failing = [check for check in preflight.checks if check.would_fail]
    open_ = [check for check in preflight.checks if check.would_fail is None]
    note = (f"preflight: {preflight.probed} operation(s) of the pending revisions probed against the rows of "
            f"{target.url}: {len(failing)} would fail")
    if open_:
        note += f", {len(open_)} not conclusive (a pending revision writes the rows first)"
    return note


def _with_data(finding: Finding, preflight: Preflight, rule: type[Rule] | None) -> Finding:
    """The finding with what the rows say about its operation, its table's size, who is in the table's way now,
    and, for a finding about locks, the severity that size and activity give it."""
    check = preflight.check_at(finding.revision, finding.line)
    rows, size = preflight.size(finding.table)
    data = check.data() if check is not None else {"would_fail": None, "count": None, "sample_keys": [],
                                                   "rows": rows, "bytes": size}
    seen = preflight.activity.get(finding.table or "")
    blockers = tuple(blocker.to_dict() for blocker in seen.blockers) if seen is not None else ()
    finding = dataclasses.replace(finding, data=data, blockers=blockers)
    if rule is None or not rule.about_locks or seen is None:
        return finding
    proven = [blocker for blocker in seen.blockers if blocker.scope == "table"]
    kind = size_class(seen)
    if proven:
        holder = proven[0]
        age = f", {holder.age_seconds:.0f} s" if holder.age_seconds is not None else ""
        return dataclasses.replace(finding, severity=Severity.ERROR, message=(
            f"{finding.message}; {len(proven)} session(s) hold or wait for locks on {finding.table} now (pid "
            f"{holder.pid}, {holder.state or 'state unknown'}{age}): the migration would queue behind them and "
            "everything after it behind the migration"))
    if kind == "small":
        return dataclasses.replace(finding, severity=Severity.INFO, message=(
            f"{finding.message}; {finding.table} holds {_size_text(rows, size)}: the lock is brief at this size"))
    if kind == "large":
        return dataclasses.replace(finding, severity=Severity.ERROR, message=(
            f"{finding.message}; {finding.table} holds {_size_text(rows, size)}: the lock lasts seconds or more"))
    return finding


def _size_text(rows: int | None, size: int | None) -> str:
    parts = ([f"about {rows:,} rows"] if rows is not None else []) + \
        ([f"{size / 1024 ** 2:.1f} MiB" if size >= 1024 ** 2 else f"{size / 1024:.0f} KiB"] if size is not None else [])
    return ", ".join(parts) or "an unknown number of rows"


def _schema_matches_base(target: TargetState, revisions: list[Revision]) -> None:
    """A database without ``alembic_version`` is taken to be at the base only when it holds none of the history's
    tables; otherwise every revision would be "pending" and the first CREATE TABLE would fail, so it is an error
    that says which revision its tables match, if any."""
    present = set(target.tables)
    states: list[tuple[str, frozenset[str]]] = []
    tables: set[str] = set()
    everything: set[str] = set()
    for revision in revisions:
        for op in revision.upgrade:
            name = op.table
            if name is None:
                continue
            if op.name == "create_table":
                tables.add(name)
            elif op.name == "drop_table":
                tables.discard(name)
            elif op.name == "rename_table":
                new = literal(op.param("new_table_name"))
                tables.discard(name)
                if isinstance(new, str):
                    tables.add(new)
                    everything.add(new)
        tables |= revision.created_by_metadata
        tables -= revision.dropped_by_metadata
        everything |= tables
        states.append((revision.revision, frozenset(tables)))
    found = present & everything
    if not found:
        return
    matching = [revision for revision, state in states if state & everything == frozenset(found)]
    shown = ", ".join(sorted(found)[:5]) + (" ..." if len(found) > 5 else "")
    if matching:
        where = (f"revision {matching[0]}" if len(matching) == 1 else
                 f"any of the revisions {matching[0]} to {matching[-1]} (table names alone cannot tell which)")
        raise IntegrityKitError(f"{target.url} has no {VERSION_TABLE} table but holds this history's tables "
                                f"({shown}), as they are after {where}: `alembic stamp REVISION` with the one it is "
                                "at, then lint again; taking every revision as pending would be wrong")
    raise IntegrityKitError(f"{target.url} has no {VERSION_TABLE} table and its tables ({shown}) match no revision "
                            "of this history: is this the right database and the right script directory?")


def _target_note(target: TargetState, pending: int, total: int) -> str:
    if not target.has_version_table:
        return (f"{target.url} has no alembic_version table: all {total} revisions are pending and were linted")
    at = ", ".join(target.current) or "no revision (the table is empty)"
    return f"{target.url} is at {at}: {pending} of {total} revisions are pending and were linted"


def _python_pass(file: RevisionFile, base: Path, dialect: str, problems: list[dict]) -> Revision | None:
    """The revision as the Python pass reads it, or None (and a not-analysed entry) when it cannot be read."""
    if file.syntax_error is not None:
        problems.append({"object": file.shown, "reason": f"{file.syntax_error}: neither read by the Python pass "
                                                         "nor rendered; the revisions after it are"})
        return None
    try:
        return parse_revision(file, base, dialect)
    except Exception as error:  # a call shape the collector does not know must not stop the other revisions
        line = _line_of(error)
        problems.append({"object": file.shown + (f":{line}" if line else ""),
                         "reason": f"the Python pass failed on it: {type(error).__name__}: {_first_line(error)}"})
        return None


T = TypeVar("T")


def _check(rule: Rule, revision: Revision, context: LintContext) -> list[Finding]:
    return list(rule.check(revision, context))


def _isolated(problems: list[dict], path: str, revision: Revision, what: str, function: Callable[..., T],
              *args: Any) -> T | None:
    """Run one check; an exception in it is a not-analysed entry (revision, file, line, what ran), not a crash."""
    try:
        return function(*args)
    except Exception as error:  # one bug in one rule costs that rule on that revision only
        line = _line_of(error)
        problems.append({"object": path + (f":{line}" if line else "") + f" ({revision.revision})",
                         "reason": f"{what} failed: {type(error).__name__}: {_first_line(error)}"})
        return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


def _line_of(error: BaseException) -> int | None:
    """The revision line being looked at when ``error`` was raised: the innermost frame holding an op.* call or
    a syntax node."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        for value in trace.tb_frame.f_locals.values():
            if isinstance(value, Op):
                line = value.line
            elif isinstance(value, ast.AST) and not isinstance(value, ast.Module) and hasattr(value, "lineno"):
                line = value.lineno
        trace = trace.tb_next
    return line


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """The rendered SQL repeats what the Python source already showed; keep the finding with the exact line."""
    primary = [f for f in findings if f.source != "sql"]
    out = list(dict.fromkeys(primary))
    for finding in findings:
        if finding.source != "sql":
            continue
        if any(p.code == finding.code and (p.table == finding.table or None in (p.table, finding.table))
               for p in primary):
            continue
        if finding not in out:
            out.append(finding)
    return out


def _follow_columns(revision: Revision, types: dict[tuple[str, str], str], not_null: set[tuple[str, str]]) -> None:
    """Apply the upgrade's column changes, in history order, to ``types`` ((table, column) -> type source) and to
    ``not_null`` (the columns declared NOT NULL), so a later ``alter_column`` that states neither ``existing_type``
    nor ``existing_nullable`` still knows what it changes from."""
    def declare(table: str, node: ast.AST | None) -> None:
        column = parse_column(node)
        if column is None or not column.name:
            return
        if column.type_source:
            types[(table, column.name)] = column.type_source
        (not_null.discard if column.nullable else not_null.add)((table, column.name))

    def move(old: tuple[str, str], new: tuple[str, str]) -> None:
        if old in types:
            types[new] = types.pop(old)
        if old in not_null:
            not_null.discard(old)
            not_null.add(new)

    for op in revision.upgrade:
        table = op.table
        if table is None:
            continue
        if op.name == "create_table":
            for arg in op.call.args[1:]:
                declare(table, arg)
        elif op.name == "add_column":
            declare(table, op.param("column"))
        elif op.name == "drop_column":
            key = (table, str(literal(op.param("column_name"))))
            types.pop(key, None)
            not_null.discard(key)
        elif op.name == "drop_table":
            for key in [key for key in types if key[0] == table]:
                del types[key]
            not_null.difference_update({key for key in not_null if key[0] == table})
        elif op.name == "rename_table":
            new = literal(op.param("new_table_name"))
            if isinstance(new, str):
                for key in {key for key in [*types, *not_null] if key[0] == table}:
                    move(key, (new, key[1]))
        elif op.name == "alter_column":
            name = literal(op.param("column_name"))
            if not isinstance(name, str):
                continue
            if op.has_kw("type_"):
                types[(table, name)] = ast_text(op.kw("type_"))
            nullable = literal(op.kw("nullable"))
            if isinstance(nullable, bool):
                (not_null.discard if nullable else not_null.add)((table, name))
            renamed = literal(op.kw("new_column_name"))
            if isinstance(renamed, str):
                move((table, name), (table, renamed))


def _collect_foreign_keys(revision: Revision, context: LintContext) -> None:
    """Remember every foreign key the history declares: referenced table -> [(child, ondelete)]."""
    def remember(parent: str, child: str | None, ondelete: str | None) -> None:
        if child:  # a child table that is not a literal in the source cannot be matched to a batch rebuild
            context.fks.setdefault(parent, []).append((child, ondelete))

    for op in revision.upgrade:
        if op.name == "create_table":
            for arg in op.call.args[1:]:
                if not isinstance(arg, ast.Call):
                    continue
                kind = dotted(arg.func).split(".")[-1]
                if kind == "ForeignKeyConstraint" and len(arg.args) >= 2:
                    targets = literal(arg.args[1]) or []
                    for target in targets:
                        remember(str(target).split(".")[0], op.table, kw_literal(arg, "ondelete"))
                elif kind == "Column":
                    for inner in arg.args:
                        if isinstance(inner, ast.Call) and dotted(inner.func).split(".")[-1] == "ForeignKey":
                            target = literal(inner.args[0]) if inner.args else None
                            if target:
                                remember(str(target).split(".")[0], op.table, kw_literal(inner, "ondelete"))
        elif op.name == "create_foreign_key":
            if op.receiver == "batch":
                child, parent = op.batch_table, literal(op.arg(1))
            else:
                child, parent = literal(op.arg(1)), literal(op.arg(2))
            if parent:
                remember(parent, child, literal(op.kw("ondelete")))
