"""lint(): read the script directory, parse every revision, run the rules, apply inline ignores."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from integrity_kit import rulebook
from integrity_kit.errors import IntegrityKitError
from integrity_kit.migrations import ignores
from integrity_kit.migrations.model import DIALECTS, Finding, LintContext, Revision
from integrity_kit.migrations.rules import RULES
from integrity_kit.migrations.rules.mysql_online import parse_server_version
from integrity_kit.migrations.source import open_script_directory, ordered_scripts, parse_revision
from integrity_kit.migrations.sql import render_revision
from integrity_kit.migrations.syntax import dotted, kw_literal, literal


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

    def to_dict(self) -> dict:
        from integrity_kit import __version__

        by_severity: dict[str, int] = {}
        for finding in self.findings:
            by_severity[finding.severity.value] = by_severity.get(finding.severity.value, 0) + 1
        return {"tool": "integrity-kit", "version": __version__, "path": self.path, "dialect": self.dialect,
                "revisions": self.revisions,
                "summary": {"revisions": len(self.revisions), "findings": len(self.findings),
                            "by_severity": by_severity, "ignored": len(self.ignored)},
                "findings": [f.to_dict() for f in self.findings],
                "ignored": [f.to_dict() | {"reason": self.ignore_reasons.get(f.fingerprint)} for f in self.ignored],
                # findings whose ignore comment gives no reason: still reported above, listed here so CI can say why
                "ignores_without_reason": [f.to_dict() for f in self.unexplained_ignores],
                "not_analysed": self.not_analysed}


def lint(path: str | Path, *, dialect: str = "postgresql", since: str | None = None,
         select: list[str] | None = None, ignore: list[str] | None = None, render_sql: bool = True,
         server_version: str | None = None) -> LintResult:
    """Lint the Alembic script directory at ``path`` for ``dialect``; only revisions after ``since`` if given.

    ``select`` / ``ignore`` take rule codes (``IK810``), code prefixes (``IK81``) and names
    (``index-without-concurrently``). ``server_version`` (``mysql-8.0.35``, ``mariadb-10.11``) is the target server,
    for the rules whose answer depends on it."""
    if dialect not in DIALECTS:
        raise IntegrityKitError(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")
    parse_server_version(server_version, dialect)  # a bad value is a usage error before anything runs
    script = open_script_directory(path)
    scripts = ordered_scripts(script)
    if not scripts:
        raise IntegrityKitError(f"{path}: no revisions found in versions/")
    revisions = [parse_revision(s, Path(path), dialect) for s in scripts]
    context = LintContext(dialect=dialect, heads=tuple(script.get_heads()), server_version=server_version)
    for revision in revisions:
        _collect_foreign_keys(revision, context)
    targets = revisions
    if since is not None:
        try:
            newer = {s.revision for s in script.iterate_revisions("heads", since)} - {since}
        except Exception as error:
            raise IntegrityKitError(f"--since {since}: {error}") from error
        targets = [r for r in revisions if r.revision in newer]
    chosen = set(rulebook.select(RULES, select or (), ignore or ()))
    rules = [rule() for rule in RULES if rule in chosen and dialect in rule.dialects]
    result = LintResult(path=str(path), dialect=dialect, revisions=[r.revision for r in targets], findings=[])
    for revision in targets:
        if render_sql and isinstance(revision.down_revision, (tuple, list)):
            # A merge cannot be rendered on its own: prev:rev from either parent pulls in the other branch's
            # revisions. Merges rarely carry operations, and their Python source is still analysed.
            if revision.upgrade:
                result.not_analysed.append({"object": f"{revision.revision} (rendered SQL)",
                                            "reason": "merge revision: its SQL cannot be rendered on its own"})
        elif render_sql:
            try:
                revision.statements.extend(render_revision(Path(path), revision, dialect))
            except Exception as error:  # the user's env.py may need things we cannot provide offline
                reason = " ".join(str(error).split()) or type(error).__name__
                result.not_analysed.append({"object": f"{revision.revision} (rendered SQL)", "reason": reason[:200]})
        found = _dedupe([f for rule in rules for f in rule.check(revision, context)])
        kept, ignored, unexplained = ignores.apply(revision, found)
        result.findings.extend(kept)
        for finding, reason in ignored:
            result.ignored.append(finding)
            result.ignore_reasons[finding.fingerprint] = reason
        result.unexplained_ignores.extend(unexplained)
    result.findings.sort(key=lambda f: (f.path, f.line, f.code))
    return result


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
