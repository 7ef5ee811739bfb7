"""One rule base for the audit and the migration linter: metadata, selectors, documentation, summaries."""

from __future__ import annotations

import pytest

from integrity_kit import rulebook
from integrity_kit.audit.registry import RULES as AUDIT_RULES
from integrity_kit.errors import IntegrityKitError
from integrity_kit.migrations.linter import lint
from integrity_kit.migrations.rules import RULES as MIGRATION_RULES
from tests.migrations.test_fingerprint import UNSAFE

FAMILIES = pytest.mark.parametrize("rules", [AUDIT_RULES, MIGRATION_RULES], ids=["audit", "migrations"])


@FAMILIES
def test_both_families_share_the_metadata(rules) -> None:
    for rule in rules:
        assert issubclass(rule, rulebook.Rule)
        assert isinstance(rule.severity, rulebook.Severity)
        # one summary style: a sentence with a capital and a full stop
        assert rule.summary[:1].isupper() and rule.summary.endswith("."), rule.code


@FAMILIES
def test_one_selector_grammar(rules) -> None:
    first = rules[0]
    family = first.code[:3]
    assert rulebook.matching(rules, first.code) == [first]
    assert rulebook.matching(rules, first.name.upper()) == [first]
    assert rulebook.matching(rules, family) == [rule for rule in rules if rule.code.startswith(family)]
    assert rulebook.find(rules, first.code.lower()) is first
    assert first not in rulebook.select(rules, ignore=[first.name])


@FAMILIES
@pytest.mark.parametrize("selector", ["IK9", "no-such-rule", " "])
def test_one_message_for_a_bad_selector(rules, selector: str) -> None:
    for pick in (rulebook.matching, rulebook.find):
        with pytest.raises(IntegrityKitError) as raised:
            pick(rules, selector)
        assert str(raised.value) == str(rulebook.bad_selector(selector))


def test_the_linter_and_the_audit_reject_a_selector_alike() -> None:
    from integrity_kit.audit.registry import select_rules

    with pytest.raises(IntegrityKitError) as audit_error:
        select_rules(["IK9"])
    with pytest.raises(IntegrityKitError) as lint_error:
        lint(UNSAFE, select=["IK9"], render_sql=False)
    assert str(audit_error.value) == str(lint_error.value)


def test_every_migration_rule_gets_the_generated_ignore_section() -> None:
    for rule in MIGRATION_RULES:
        assert "How to ignore" not in (rule.__doc__ or ""), f"{rule.name}: the section is generated, not written"
        section = rule.doc_sections()["How to ignore"]
        assert f"ignore[{rule.name}]" in section and f"`{rule.code}`" in section
        assert rule.ignore_where in section


def test_doc_sections_are_parsed_once_for_both_families() -> None:
    assert rulebook.doc_sections("intro\n\n## A\n\none\n\n## B\ntwo\n") == {"A": "one", "B": "two"}
    audit_rule = AUDIT_RULES[0]
    assert audit_rule.doc_sections() == rulebook.doc_sections(audit_rule.documentation())


def test_a_severity_reads_as_its_word() -> None:
    assert f"({rulebook.Severity.ERROR})" == "(error)" and str(rulebook.Severity.INFO) == "info"
    assert rulebook.Severity.WARNING == "warning" and rulebook.Severity.ERROR.rank > rulebook.Severity.INFO.rank


def test_a_finding_carries_only_a_severity_its_rule_declares(tmp_path) -> None:
    import json
    import sqlite3

    from click.testing import CliRunner

    from integrity_kit.audit import audit
    from integrity_kit.audit.model import Rule
    from integrity_kit.cli import cli
    from integrity_kit.schema.snapshot import Table

    class Loud(Rule):
        code, name, severity, summary = "IK999", "loud", rulebook.Severity.INFO, "Says too much."

    with pytest.raises(ValueError, match="loud reports error findings but declares only info"):
        Loud().finding(Table("t"), (), "m", severity=rulebook.Severity.ERROR)

    # IK104 is an error where a database ignores a declared key, a warning on SQLite (a per-connection setting):
    # the catalogue says both, and the finding's severity is one of them.
    listed = {r["code"]: r for r in json.loads(CliRunner().invoke(cli, ["rules", "--format", "json"]).output)}
    assert listed["IK104"]["severities"] == ["error", "warning"]
    assert listed["IK100"]["severities"] == ["error"]
    path = tmp_path / "fk.db"
    with sqlite3.connect(path) as connection:
        connection.executescript("CREATE TABLE p (id INTEGER PRIMARY KEY);"
                                 "CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id));")
    shown = [f for f in audit(f"sqlite:///{path}").findings if f.code == "IK104"]
    assert [f.severity.value for f in shown] == ["warning"]
    assert "warning on SQLite" in CliRunner().invoke(cli, ["explain", "IK104"], terminal_width=200).output
