"""Every rule is registered once, documented in the four sections, and explainable."""

from __future__ import annotations

import importlib
import pkgutil
import re

from click.testing import CliRunner

import integrity_kit.audit.rules as rules_package
from integrity_kit.audit.model import DOC_SECTIONS, Rule
from integrity_kit.audit.registry import RULES, select_rules
from integrity_kit.cli import cli

# DESIGN.md §4: the rule names are a public contract.
DESIGN_NAMES = {
    "missing-primary-key", "missing-foreign-key", "unindexed-foreign-key", "foreign-key-type-mismatch",
    "foreign-key-not-enforced", "foreign-key-violations", "missing-unique-constraint", "nullable-unique-column",
    "duplicate-rows", "missing-not-null", "missing-check-constraint", "check-violations", "float-for-money",
    "money-type", "timestamp-without-time-zone", "sentinel-default-on-reference", "redundant-index",
    "invalid-index", "table-without-index", "schema-drift",
}
# Rules added since, named the same way (additions are fine, renames are not).
ADDED_NAMES = {"derived-total-mismatch", "partition-missing-sibling-index",
               "partition-missing-sibling-foreign-key"}


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def test_every_rule_class_is_registered_once() -> None:
    for module in pkgutil.iter_modules(rules_package.__path__):
        importlib.import_module(f"{rules_package.__name__}.{module.name}")
    defined = {cls for cls in _all_subclasses(Rule) if cls.__module__.startswith("integrity_kit.audit.rules")}
    assert defined == set(RULES)
    assert len(RULES) == len(set(RULES))
    codes = [rule.code for rule in RULES]
    names = [rule.name for rule in RULES]
    assert len(codes) == len(set(codes)) and len(names) == len(set(names))
    assert all(re.fullmatch(r"IK\d{3}", code) for code in codes)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", name) for name in names)


def test_rule_names_come_from_the_design() -> None:
    names = {rule.name for rule in RULES}
    assert names == DESIGN_NAMES | ADDED_NAMES


def test_every_rule_is_documented_in_four_sections() -> None:
    for rule in RULES:
        sections = rule.doc_sections()
        assert list(sections) == list(DOC_SECTIONS), rule.name
        assert all(sections[title] for title in DOC_SECTIONS), rule.name
        assert rule.summary.endswith(".") and rule.severity


def test_rules_and_explain_commands() -> None:
    runner = CliRunner()
    listing = runner.invoke(cli, ["rules", "--format", "json"])
    assert listing.exit_code == 0
    assert [row["code"] for row in __import__("json").loads(listing.output)] == [rule.code for rule in RULES]
    for rule in RULES:
        for selector in (rule.code, rule.name):
            shown = runner.invoke(cli, ["explain", selector], terminal_width=100)
            assert shown.exit_code == 0 and "How to fix" in shown.output and rule.name in shown.output
    unknown = runner.invoke(cli, ["explain", "no-such-rule"])
    assert unknown.exit_code == 2 and "integrity-kit rules" in unknown.output


def test_selectors_take_codes_prefixes_and_names() -> None:
    assert {r.name for r in select_rules(["IK1"])} == {r.name for r in RULES if r.code.startswith("IK1")}
    assert [r.name for r in select_rules(["missing-foreign-key", "IK401"])] == ["missing-foreign-key",
                                                                               "float-for-money"]
    assert "float-for-money" not in {r.name for r in select_rules(ignore=["IK4"])}
