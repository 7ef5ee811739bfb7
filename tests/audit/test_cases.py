"""The case files mirror the rules: one file per registered audit rule, and each file's cases are its rule's."""

from __future__ import annotations

from integrity_kit.audit.registry import RULES
from tests.audit.cases import CASES, Case, case_modules


def test_every_registered_rule_has_a_case_file() -> None:
    files = case_modules()
    missing = [rule.name for rule in RULES if rule.name.replace("-", "_") not in files]
    assert missing == [], f"add tests/audit/cases/<rule>.py for {missing}"
    assert set(files) == {rule.name.replace("-", "_") for rule in RULES}, "a case file names no registered rule"


def test_each_case_file_holds_its_own_rule_and_says_where_else_it_is_tested() -> None:
    for name, module in case_modules().items():
        cases: list[Case] = module.CASES
        assert all(item.rule == name.replace("_", "-") for item in cases), name
        assert cases or getattr(module, "TESTED_BY", None), f"{name} has no case and names no test"


def test_case_ids_are_unique() -> None:
    ids = [item.id for item in CASES]
    assert len(ids) == len(set(ids))
