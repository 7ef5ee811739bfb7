"""A rule written in this one file runs, gathers evidence, blocks on it and plans its fix once it is registered:
registering it is the only change anywhere else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from integrity_kit.audit import audit, registry
from integrity_kit.audit.changes import AddCheck, Changes, Operation, ReviewRows, TableName, quote
from integrity_kit.audit.config import load
from integrity_kit.audit.evidence import judged
from integrity_kit.audit.fixes import blocking_rows
from integrity_kit.audit.migration import plan_fixes, write_fix_migration
from integrity_kit.audit.model import Finding, Rule, RuleOption, Severity
from integrity_kit.audit.probes import Probe
from integrity_kit.schema import Snapshot, Table
from tests.db import execute


class PositiveAmount(Rule):
    """An amount column that may go negative.

    ## What it checks

    Columns named in the `columns` option (default `amount`) without a CHECK.

    ## Why it matters

    A test rule.

    ## Example

    ```sql
    CREATE TABLE payments (id INTEGER PRIMARY KEY, amount INTEGER);
    ```

    ## How to fix

    Add `CHECK (amount > 0)`.
    """

    code = "IK999"
    name = "positive-amount"
    severity = Severity.WARNING
    summary = "Amount column has no CHECK (a test rule)."
    options = (RuleOption("columns", "Column names to check.", default=("amount",)),)
    blocking_evidence = ("negative_rows",)

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for column in table.columns:
                if column.name in self.option("columns") and not table.check_constraints:
                    condition = f"{quote(snapshot.dialect, column.name)} > 0"
                    yield self.finding(table, (column.name,), f"{table.name}.{column.name} may go negative",
                                       evidence={"condition": condition},
                                       changes=Changes(snapshot.dialect, (AddCheck(TableName.of(table), column.name,
                                                                                   condition),)))

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding:
        table = snapshot.table(finding.table, finding.schema)
        seen = probe.violations(table, finding.evidence["condition"])
        return judged(finding, seen, "negative_rows", "row(s) not positive",
                      clean_up=ReviewRows(TableName.of(table), "correct the rows that are not positive"))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "RULES", (*registry.RULES, PositiveAmount))


@pytest.fixture
def payments(tmp_path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'pay.db'}")
    execute(engine, "CREATE TABLE payments (id INTEGER PRIMARY KEY, amount INTEGER, fee INTEGER)",
            "INSERT INTO payments VALUES (1, 5, 1), (2, -3, 0)")
    yield engine
    engine.dispose()


def test_registering_is_enough_to_run_gather_evidence_and_plan(registered: None, payments: Engine) -> None:
    report = audit(payments, select=["positive-amount"])
    [finding] = report.findings
    assert (finding.rule, finding.columns) == ("positive-amount", ("amount",))
    assert finding.evidence["negative_rows"] == 1 and "adding it today would fail" in finding.message
    assert blocking_rows(finding) == {"negative_rows": 1}
    assert finding.fix is not None and finding.fix.sql.startswith("-- first correct the rows that are not positive")
    assert report.snapshot is not None
    plan = plan_fixes(report.findings, report.snapshot)
    # Its blocking rows remain (the clean-up is only a comment), so the CHECK it plans is left out, saying why.
    assert plan.fixed == [] and any("positive-amount payments(amount)" in item for item in plan.skipped)
    text = write_fix_migration(report.findings, report.snapshot, report.url)
    compile(text, "fix.py", "exec")
    assert "create_check_constraint" not in text and "1 negative rows remain" in text


def test_its_options_come_from_the_configuration(registered: None, payments: Engine, tmp_path) -> None:
    path = tmp_path / ".integrity-kit.toml"
    path.write_text('[rules.positive-amount]\ncolumns = ["fee"]\n')
    report = audit(payments, select=["IK999"], config=load(path))
    assert [finding.columns for finding in report.findings] == [("fee",)]
    path.write_text('[rules.positive-amount]\ncolums = ["fee"]\n')
    with pytest.raises(Exception, match="unknown option"):
        load(path)
