"""``integrity-kit demo``: the whole story on one database, step by step.

Build the legacy shop, audit it with evidence, find the N+1 in its product page, race its checkout, clean the data
and apply the fix migration the audit wrote (preflighted against the rows before and after the clean-up), then audit
again. Every number printed is measured during the run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from integrity_kit.audit import Finding, Report, audit
from integrity_kit.audit.apply import apply_revision, script_directory
from integrity_kit.audit.fixes import blocking_rows
from integrity_kit.audit.migration import plan_fixes, render_plan
from integrity_kit.audit.rules.keys import MissingForeignKey
from integrity_kit.connect import mask_url
from integrity_kit.demo.cleanup import CleanupStep, plan_cleanup, run_cleanup
from integrity_kit.demo.shop import DemoShop, Planted, load_shop
from integrity_kit.errors import IntegrityKitError, first_line
from integrity_kit.migrations.linter import lint
from integrity_kit.migrations.preflight import DataCheck
from integrity_kit.migrations.rules.data import FailsOnExistingRows
from integrity_kit.migrations.target import read_target
from integrity_kit.queries import capture
from integrity_kit.races import RaceResult, RaceSpace
from integrity_kit.races.scratch import DEFAULT_PREFIX
from integrity_kit.report.race_text import render_many

SAFE_STRATEGY = "for-update"
# More buyers than stock, and a short think time between read and write as request handling has, so an unsafe
# checkout has a window to lose updates in.
@dataclass(frozen=True)
class RaceSettings:
    workers: int = 8
    attempts: int = 30
    stock: int = 20
    think_ms: float = 5.0


RACE = RaceSettings()
PAGE = 20

STEPS = (
    ("Build the legacy shop",
     "Most databases that need this tool began as a first project: relations without keys, float money, no checks."),
    ("Audit it, with evidence from the data",
     "A finding you can act on says whether its fix would work today, and which rows stand in the way."),
    ("Find the N+1 in the product page",
     "One query per row is invisible on a laptop and a slow page in production; the fix is one line."),
    ("Race the checkout",
     "Two buyers who both read 'one left' both buy it, unless the checkout locks or re-checks the stock."),
    ("Clean the data and apply the fix migration",
     "Constraints stop the damage coming back; adding one fails until the rows that break it are gone."),
    ("Audit again",
     "The proof that a fix worked is the same check, run again, coming back without the errors."),
)

class DemoFailed(Exception):
    """A step failed; it has been reported already."""


@dataclass
class DemoResult:
    database: str
    rows: dict[str, int] = field(default_factory=dict)
    planted: list[Planted] = field(default_factory=list)
    damage_found: dict[str, tuple[int, int]] = field(default_factory=dict)  # label -> (found, planted)
    before: Report | None = None
    naive_statements: int = 0
    fixed_statements: int = 0
    n_plus_one: list[Any] = field(default_factory=list)
    races: list[RaceResult] = field(default_factory=list)
    cleanup: list[CleanupStep] = field(default_factory=list)
    migration_path: Path | None = None
    # The fix migration's operations judged against the rows, before and after the clean-up.
    preflight_before: list[DataCheck] = field(default_factory=list)
    preflight_after: list[DataCheck] = field(default_factory=list)
    after: Report | None = None
    report_path: Path | None = None
    failed_step: str | None = None
    seconds: float = 0.0


class Demo:
    def __init__(self, url: str, workdir: Path, *, console: Console, status: Console, rows: int,
                 keep: bool = False, reset: bool = False, debug: bool = False, shop: DemoShop | None = None) -> None:
        self.url, self.workdir, self.rows, self.keep, self.debug = url, workdir, rows, keep, debug
        self.reset = reset
        self.console, self.status = console, status
        self.shop = shop or load_shop()
        self.engine: Engine = self.shop.make_engine(url)
        self.result = DemoResult(database=mask_url(self.engine.url))

    def preflight(self) -> None:
        """Bad input before any step runs: an unreachable database, or one that holds the app's tables already."""
        try:
            present = self.shop.existing_tables(self.engine)
        except SQLAlchemyError as error:
            self.engine.dispose()
            raise IntegrityKitError(f"cannot reach {self.result.database}: {first_line(error)}") from None
        if present and not self.reset:
            self.engine.dispose()
            raise IntegrityKitError(f"{self.result.database} already has {', '.join(present)}; pass --reset to drop "
                                    "them, or use another database")

    def run(self) -> DemoResult:
        started = time.perf_counter()
        try:
            steps = (self.build_legacy_shop, self.audit_with_evidence, self.find_the_n_plus_one,
                     self.race_the_checkout, self.clean_and_migrate, self.audit_again)
            for number, ((title, why), step) in enumerate(zip(STEPS, steps, strict=True), start=1):
                with self._step(number, title, why):
                    step()
        except DemoFailed:
            pass
        finally:
            self.engine.dispose()
            self.result.seconds = time.perf_counter() - started
        if self.result.failed_step is None:
            self._epilogue()
        return self.result

    @contextmanager
    def _step(self, number: int, title: str, why: str) -> Iterator[None]:
        self.console.rule(f"[bold]{number}/{len(STEPS)} · {title}", align="left")
        self.console.print(f"[dim italic]{escape(why)}[/]")
        started = time.perf_counter()
        try:
            yield
        except Exception as error:  # the demo reports a failed step and stops; --debug shows the traceback
            if self.debug:
                raise
            self.result.failed_step = title
            kind = "" if isinstance(error, IntegrityKitError) else f"{type(error).__name__}: "
            message = first_line(error)
            self.console.print(f"[bold red]step {number} failed:[/] {escape(kind + message)}")
            raise DemoFailed from error
        self.console.print(f"[dim]({time.perf_counter() - started:.1f} s)[/]\n")

    def _progress(self, *columns: ProgressColumn | str) -> Progress:
        return Progress(*columns, console=self.status, transient=True, disable=not self.status.is_terminal)

    def build_legacy_shop(self) -> None:
        if self.reset:
            self.shop.drop(self.engine)
        with self._progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn()) as progress:
            task = progress.add_task("sample data", total=self.shop.expected_rows(self.rows))
            built = self.shop.build_legacy(self.engine, self.rows, lambda table, count: progress.update(
                task, advance=count, description=table))
        self.result.rows, self.result.planted = built.counts, built.planted
        summary = ", ".join(f"{name} {count:,}" for name, count in built.counts.items())
        self.console.print(f"Built the legacy schema in {escape(self.result.database)} and loaded "
                           f"{sum(built.counts.values()):,} rows: {summary}.")
        self.console.print("What its schema let in, on purpose, for the audit to find:")
        for planted in built.planted:
            self.console.print(f"  • {planted.label}: {escape(str(planted.keys))}")

    def _audit(self) -> Report:
        with self._progress(TextColumn("checking the data"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn()) as progress:
            task = progress.add_task("probes", total=None)
            return audit(self.url, on_progress=lambda done, total: progress.update(task, completed=done,
                                                                                   total=total))

    def audit_with_evidence(self) -> None:
        report = self.result.before = self._audit()
        self.console.print(f"{len(report.findings)} findings on {report.tables} tables: {_counts(report)}. "
                           "The audit only read (a read-only transaction).")
        self.console.print(_rules_table(report.findings))
        blocked = [finding for finding in report.findings if _blocking(finding)]
        if blocked:
            self.console.print("Rows that stand in the way of a fix, with their keys:")
            self.console.print(_evidence_table(blocked))
        self.result.damage_found = _damage_found(self.result.planted, report.findings)
        for label, (found, planted) in self.result.damage_found.items():
            mark = "[green]✓[/]" if found == planted else "[red]✗[/]"
            self.console.print(f"  {mark} {escape(label)}: {found} of {planted} reported with their key")
        example = next((f for f in report.findings if f.rule == MissingForeignKey.name and f.fix), None)
        if example is not None and example.fix is not None:
            self.console.print(f"Every finding carries its fix. For {escape(example.table)}."
                               f"{escape(', '.join(example.columns))}:")
            self.console.print(f"[cyan]{escape(example.fix.sql)}[/]", soft_wrap=True)
        if self.keep:
            self.result.report_path = self._write_html(report)
        missing = [label for label, (found, planted) in self.result.damage_found.items() if found < planted]
        if missing:
            raise IntegrityKitError(f"the audit missed planted damage: {', '.join(missing)}")

    def _write_html(self, report: Report) -> Path:
        from integrity_kit.report import audit_html

        path = self.workdir / "audit-report.html"
        path.write_text(audit_html.render(report), encoding="utf-8")
        self.console.print(f"The full report, with the entity-relationship diagram: {escape(str(path))}")
        return path

    def find_the_n_plus_one(self) -> None:
        with capture(self.engine) as naive:
            started = time.perf_counter()
            products = self.shop.list_products(self.engine, limit=PAGE, eager=False)
            naive_ms = (time.perf_counter() - started) * 1000
        with capture(self.engine) as fixed:
            started = time.perf_counter()
            self.shop.list_products(self.engine, limit=PAGE, eager=True)
            fixed_ms = (time.perf_counter() - started) * 1000
        self.result.naive_statements, self.result.fixed_statements = len(naive.statements), len(fixed.statements)
        self.result.n_plus_one = list(naive.n_plus_one)
        self.console.print(f"A page of {len(products)} products with their categories, as first written: "
                           f"{len(naive.statements)} statements in {naive_ms:.1f} ms.")
        for finding in naive.n_plus_one:
            self.console.print(f"  [yellow]N+1[/] {escape(finding.relationship or '?')}: {finding.count} "
                               f"{escape(finding.kind)} loads from {escape(finding.location or '?')}; "
                               f"fix: [cyan]{escape(finding.fix)}[/]")
        self.console.print(f"With the fix: {len(fixed.statements)} statement(s) in {fixed_ms:.1f} ms, "
                           f"N+1 findings: {len(fixed.n_plus_one)}.")
        if not naive.n_plus_one or fixed.n_plus_one:
            raise IntegrityKitError("the query capture did not tell the naive page from the fixed one")

    def race_the_checkout(self) -> None:
        strategies = ("naive", SAFE_STRATEGY)
        with self._progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn()) as progress, \
                RaceSpace(self.url, prefix=DEFAULT_PREFIX, max_workers=RACE.workers) as space:
            for strategy in strategies:
                task = progress.add_task(strategy, total=RACE.attempts)
                self.result.races.append(space.simulate(
                    strategy, workers=RACE.workers, attempts=RACE.attempts, stock=RACE.stock, think_ms=RACE.think_ms,
                    seed=1, progress=functools.partial(_advance, progress, task)))
        render_many(self.console, self.result.races)
        naive, safe = self.result.races
        self.console.print(f"naive: {_race_line(naive)}")
        self.console.print(f"{SAFE_STRATEGY}: {_race_line(safe)}")
        if not safe.invariants_held or safe.oversold_units:
            raise IntegrityKitError(f"the {SAFE_STRATEGY} checkout broke an invariant: this is a bug")

    def clean_and_migrate(self) -> None:
        before = self._before()
        assert before.snapshot is not None
        plan = plan_fixes(before.findings, before.snapshot, cleaned_up=True)  # run_cleanup goes first, below
        revision = render_plan(plan, before.url)
        path = self.result.migration_path = self.workdir / "fix_migration.py"
        path.write_text(revision, encoding="utf-8")
        self.result.preflight_before = self._preflight(revision)
        failing = [check for check in self.result.preflight_before if check.would_fail]
        self.console.print(f"Preflight (`lint-migrations --database`): {len(failing)} of the migration's "
                           f"{len(self.result.preflight_before)} probed operations would fail on these rows:")
        if failing:
            self.console.print(_preflight_table(failing))
        quote = self.engine.dialect.identifier_preparer.quote
        cleanup = plan_cleanup(before.findings, quote)
        self.console.print("The fix migration writes the data clean-up as comments: deleting someone's rows is a "
                           "decision. This database is the demo's own, so it decides, in one transaction:")
        self.result.cleanup = run_cleanup(self.engine, cleanup)
        for step in self.result.cleanup:
            self.console.print(f"  {escape(step.reason)}\n    [cyan]{escape(step.sql)}[/] → {step.rows} row(s)",
                               soft_wrap=True)
        self.result.preflight_after = self._preflight(revision)
        still = [check for check in self.result.preflight_after if check.would_fail]
        if still:
            self.console.print(_preflight_table(still))
            raise IntegrityKitError(f"after the clean-up, {len(still)} operation(s) of the fix migration would still "
                                    f"fail, e.g. {still[0].reason}")
        self.console.print(f"Preflight again after the clean-up: none of the {len(self.result.preflight_after)} "
                           "probed operations would fail.")
        started = time.perf_counter()
        with self.status.status("applying the fix migration", spinner="dots"):
            apply_revision(self.engine, revision, self.workdir / "alembic")
        self.console.print(f"Applied the fix migration with Alembic in {time.perf_counter() - started:.1f} s: it "
                           f"fixes {len(plan.fixed)} findings; {len(plan.skipped)} have no automatic fix.")
        if self.keep:
            self.console.print(f"It is kept at {escape(str(path))}.")

    def _preflight(self, revision: str) -> list[DataCheck]:
        """The fix migration judged against the shop's rows, as `lint-migrations --database` judges a pending one."""
        folder = script_directory(self.workdir / "preflight")
        (folder / "versions" / "integrity_kit_fixes.py").write_text(revision, encoding="utf-8")
        with self.status.status("preflight of the fix migration against the rows", spinner="dots"):
            target = read_target(self.url)
            linted = lint(folder, dialect=target.dialect, target=target, select=[FailsOnExistingRows.name],
                          render_sql=False)
        return linted.preflight.checks if linted.preflight else []

    def audit_again(self) -> None:
        before, after = self._before(), self._audit()
        self.result.after = after
        self.console.print(f"Before: {len(before.findings)} findings ({_counts(before)}).")
        self.console.print(f"After:  {len(after.findings)} findings ({_counts(after)}).")
        if after.findings:
            self.console.print("What is left needs a person (no automatic fix; `integrity-kit explain RULE`):")
            self.console.print(_rules_table(after.findings))
        errors = [finding for finding in after.findings if finding.severity.value == "error"]
        if errors:
            raise IntegrityKitError(f"{len(errors)} error finding(s) survived the fix migration, e.g. "
                                    f"{errors[0].rule} on {errors[0].table}")

    def _before(self) -> Report:
        if self.result.before is None:
            raise IntegrityKitError("the first audit did not run")
        return self.result.before

    def _epilogue(self) -> None:
        self.console.rule("[bold]Done", align="left")
        self.console.print(f"The whole story in {self.result.seconds:.1f} s. On your own database: "
                           "`integrity-kit audit DATABASE_URL`, `integrity-kit queries -- python app.py`, "
                           "`integrity-kit race DATABASE_URL --strategy all`, "
                           "`integrity-kit lint-migrations migrations/`.", soft_wrap=True)


def _advance(progress: Progress, task: TaskID, _outcome: object) -> None:
    progress.update(task, advance=1)


def _counts(report: Report) -> str:
    return ", ".join(f"{count} {severity}" for severity, count in report.by_severity().items())


def _blocking(finding: Finding) -> bool:
    return bool(finding.evidence.get("sample_keys")) and bool(blocking_rows(finding))


def _rules_table(findings: list[Finding]) -> Table:
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (("rule", "left"), ("count", "right"), ("e.g.", "left"))
    for header, justify in columns:
        table.add_column(header, justify=justify, style="bold" if header == "rule" else None)
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    for rule, group in by_rule.items():
        first = group[0]
        target = first.table + (f"({', '.join(first.columns)})" if first.columns else "")
        table.add_row(f"{first.code} {rule}", str(len(group)), escape(target))
    return table


def _preflight_table(checks: list[DataCheck]) -> Table:
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    for header in ("line", "operation", "rows", "keys"):
        table.add_column(header, style="bold" if header == "operation" else None)
    for check in sorted(checks, key=lambda c: c.fails_at or c.line):
        keys = [item["key"] if isinstance(item, dict) else item for item in check.sample_keys]
        table.add_row(str(check.fails_at or check.line), escape(check.what), str(check.count), escape(str(keys)))
    return table


def _evidence_table(findings: list[Finding]) -> Table:
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    for header in ("rule", "object", "rows", "keys"):
        table.add_column(header, style="bold" if header == "rule" else None)
    for finding in findings:
        keys = [item["key"] if isinstance(item, dict) else item for item in finding.evidence["sample_keys"]]
        count = next(iter(blocking_rows(finding).values()))
        table.add_row(finding.rule, escape(f"{finding.table}({', '.join(finding.columns)})"), str(count),
                      escape(str(keys)))
    return table


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _damage_found(planted: list[Planted], findings: list[Finding]) -> dict[str, tuple[int, int]]:
    """For each kind of planted damage: how many of its rows some finding on the right table names by key."""
    named: dict[str, set] = {}
    for finding in findings:
        for item in finding.evidence.get("sample_keys") or []:
            named.setdefault(finding.table, set()).add(_key(item["key"] if isinstance(item, dict) else item))
    return {damage.label: (sum(_key(key) in named.get(damage.table, set()) for key in damage.keys), len(damage.keys))
            for damage in planted}


def _race_line(result: RaceResult) -> str:
    errors = sum(result.errors.values())
    parts = [f"{result.orders_placed} of {result.attempts} checkouts ordered", f"{result.units_sold} units sold "
             f"from {result.initial_stock}", f"oversold {result.oversold_units}", f"lost updates {result.lost_updates}"]
    if result.rejected:
        parts.append(f"{result.rejected} refused as out of stock")
    if errors:
        parts.append(f"{errors} failed with an error ({', '.join(f'{code}×{n}' for code, n in result.errors.items())})")
    return ", ".join(parts)
