"""Project configuration for the audit: ``[tool.integrity-kit]`` in ``pyproject.toml``, or ``.integrity-kit.toml``.

    [tool.integrity-kit]
    select = ["IK1", "float-for-money"]      # rules to run (default: all); the command line's --select wins
    ignore = ["timestamp-without-time-zone"]  # added to --ignore
    fail-on = "warning"                       # default for --fail-on
    external-ids = ["stripe_*", "*_external_id"]  # a rule's option at the top level: every rule declaring it

    [tool.integrity-kit.rules.missing-foreign-key]  # options for one rule (name or code), as the rule declares
    external-ids = ["stripe_*"]

    [tool.integrity-kit.severity]             # per-rule severity overrides
    missing-not-null = "info"

    [tool.integrity-kit.per-object-ignores]   # glob on "table" or "table.column" (schema-qualified if not default)
    "orders.legacy_*" = ["missing-not-null"]
    "audit_log" = ["*"]

The file is looked for in the current directory and its parents; ``.integrity-kit.toml`` (keys at the top level)
wins over ``pyproject.toml``. A typo is an error, not a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from integrity_kit.audit import registry
from integrity_kit.audit.model import Finding, Rule, RuleContext, Severity
from integrity_kit.audit.registry import matching
from integrity_kit.errors import IntegrityKitError
from integrity_kit.schema import Snapshot

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found]  # installed only on 3.10, where it is needed

GENERAL_KEYS = {"select", "ignore", "fail-on", "severity", "per-object-ignores", "rules"}


def option_keys() -> set[str]:
    """Options some rule declares: accepted at the top level too, for every rule that declares them."""
    return {option.key for rule in registry.RULES for option in rule.options}


@dataclass(frozen=True)
class AuditConfig:
    source: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str | None = None
    external_ids: tuple[str, ...] = ()  # the top-level ``external-ids`` (kept as a field for library callers)
    # Rule options: rule name -> option key -> value; top-level option keys under "*".
    options: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    severity: dict[str, Severity] = field(default_factory=dict)  # rule name -> severity
    per_object_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)  # glob -> rule names

    def context_for(self, rule: type[Rule], models: Snapshot | None = None) -> RuleContext:
        """The context ``rule`` runs with: its declared options' values (its own table wins over the top level)."""
        general = {**self.options.get("*", {}), **({"external-ids": self.external_ids} if self.external_ids else {})}
        own = self.options.get(rule.name, {})
        declared = {option.key for option in rule.options}
        values = {key: value for key, value in {**general, **own}.items() if key in declared}
        return RuleContext(options=values, models=models)

    def adjust(self, findings: list[Finding]) -> list[Finding]:
        """Findings after the severity overrides and the per-object ignores."""
        kept = []
        for finding in findings:
            if self._ignored(finding):
                continue
            if finding.rule in self.severity:
                finding = dataclasses.replace(finding, severity=self.severity[finding.rule])
            kept.append(finding)
        return kept

    def _ignored(self, finding: Finding) -> bool:
        table = f"{finding.schema}.{finding.table}" if finding.schema else finding.table
        objects = [table] + [f"{table}.{column}" for column in finding.columns]
        for pattern, rules in self.per_object_ignores.items():
            if any(fnmatchcase(name, pattern) for name in objects) and ("*" in rules or finding.rule in rules):
                return True
        return False


def find(start: Path | None = None) -> Path | None:
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        for name in (".integrity-kit.toml", "pyproject.toml"):
            candidate = folder / name
            if candidate.is_file() and (name != "pyproject.toml" or _has_section(candidate)):
                return candidate
    return None


def _has_section(pyproject: Path) -> bool:
    return "integrity-kit" in _read(pyproject).get("tool", {})


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise IntegrityKitError(f"{path}: {error}") from None


def load(path: Path | None = None) -> AuditConfig:
    """The configuration at ``path`` (default: found from the current directory), or an empty one."""
    path = path or find()
    if path is None:
        return AuditConfig()
    data = _read(path)
    where = str(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("integrity-kit", {})
        where = f"{path} [tool.integrity-kit]"
    known = GENERAL_KEYS | option_keys()
    unknown = set(data) - known
    if unknown:
        raise IntegrityKitError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))} "
                                f"(known: {', '.join(sorted(known))})")
    try:
        return AuditConfig(
            source=where,
            select=_strings(data, "select"),
            ignore=_strings(data, "ignore"),
            fail_on=_fail_on(data.get("fail-on")),
            external_ids=_strings(data, "external-ids"),
            options=_options(data),
            severity={_rule_name(rule): Severity(level) for rule, level in data.get("severity", {}).items()},
            per_object_ignores={str(glob): tuple(_rule_name(rule) if rule != "*" else "*" for rule in rules)
                                for glob, rules in data.get("per-object-ignores", {}).items()},
        )
    except IntegrityKitError as error:
        raise IntegrityKitError(f"{where}: {error}") from None
    except (ValueError, TypeError, AttributeError) as error:
        raise IntegrityKitError(f"{where}: {error}") from None


def _options(data: dict[str, Any]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Rule options from the top level and from ``[rules.<rule>]`` tables, validated against the declarations."""
    options: dict[str, dict[str, tuple[str, ...]]] = {}
    declared = {option.key: option for rule in registry.RULES for option in rule.options}
    top = {key: declared[key].parse(value) for key, value in data.items() if key in declared}
    if top:
        options["*"] = top
    tables = data.get("rules", {})
    if not isinstance(tables, dict):
        raise IntegrityKitError("rules must be a table of rule tables")
    for selector, values in tables.items():
        name = _rule_name(selector)
        rule = next(rule for rule in registry.RULES if rule.name == name)
        own = {option.key: option for option in rule.options}
        if not isinstance(values, dict):
            raise IntegrityKitError(f"rules.{selector} must be a table")
        unknown = set(values) - set(own)
        if unknown:
            raise IntegrityKitError(f"rules.{selector}: unknown option(s) {', '.join(sorted(unknown))} "
                                    f"(known: {', '.join(sorted(own)) or 'none'})")
        options[name] = {key: own[key].parse(value) for key, value in values.items()}
    return options


def _strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise IntegrityKitError(f"{key} must be a list of strings")
    return tuple(value)


def _fail_on(value: object) -> str | None:
    if value is not None and value not in ("error", "warning", "info", "never"):
        raise IntegrityKitError(f"fail-on must be error, warning, info or never, not {value!r}")
    return value


def _rule_name(selector: str) -> str:
    rules = matching(selector)
    if len(rules) != 1:
        raise IntegrityKitError(f"{selector!r} names {len(rules)} rules; name one rule (code or name)")
    return rules[0].name
