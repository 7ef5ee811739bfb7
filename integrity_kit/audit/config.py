"""Project configuration for the audit: ``[tool.integrity-kit]`` in ``pyproject.toml``, or ``.integrity-kit.toml``.

    [tool.integrity-kit]
    select = ["IK1", "float-for-money"]      # rules to run (default: all); the command line's --select wins
    ignore = ["timestamp-without-time-zone"]  # added to --ignore
    fail-on = "warning"                       # default for --fail-on
    external-ids = ["stripe_*", "*_external_id"]  # column names that are never foreign keys

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

from integrity_kit.audit.model import Finding, Severity
from integrity_kit.audit.registry import matching
from integrity_kit.errors import IntegrityKitError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEYS = {"select", "ignore", "fail-on", "external-ids", "severity", "per-object-ignores"}


@dataclass(frozen=True)
class AuditConfig:
    source: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    fail_on: str | None = None
    external_ids: tuple[str, ...] = ()
    severity: dict[str, Severity] = field(default_factory=dict)  # rule name -> severity
    per_object_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)  # glob -> rule names

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
    unknown = set(data) - KEYS
    if unknown:
        raise IntegrityKitError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))} "
                                f"(known: {', '.join(sorted(KEYS))})")
    try:
        return AuditConfig(
            source=where,
            select=_strings(data, "select"),
            ignore=_strings(data, "ignore"),
            fail_on=_fail_on(data.get("fail-on")),
            external_ids=_strings(data, "external-ids"),
            severity={_rule_name(rule): Severity(level) for rule, level in data.get("severity", {}).items()},
            per_object_ignores={str(glob): tuple(_rule_name(rule) if rule != "*" else "*" for rule in rules)
                                for glob, rules in data.get("per-object-ignores", {}).items()},
        )
    except IntegrityKitError as error:
        raise IntegrityKitError(f"{where}: {error}") from None
    except (ValueError, TypeError, AttributeError) as error:
        raise IntegrityKitError(f"{where}: {error}") from None


def _strings(data: dict, key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise IntegrityKitError(f"{key} must be a list of strings")
    return tuple(value)


def _fail_on(value) -> str | None:
    if value is not None and value not in ("error", "warning", "info", "never"):
        raise IntegrityKitError(f"fail-on must be error, warning, info or never, not {value!r}")
    return value


def _rule_name(selector: str) -> str:
    rules = matching(selector)
    if len(rules) != 1:
        raise IntegrityKitError(f"{selector!r} names {len(rules)} rules; name one rule (code or name)")
    return rules[0].name
