"""What every rule of every family shares: its metadata, its documentation and how selectors pick rules.

The audit rules (:mod:`integrity_kit.audit`) and the migration rules (:mod:`integrity_kit.migrations`) both derive
from :class:`Rule`, so ``--select``/``--ignore``, ``integrity-kit explain``, the rule pages and SARIF read one
shape, and a bad selector gets one message whichever command it was given to.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import ClassVar, TypeVar

from integrity_kit.errors import IntegrityKitError


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:  # "error" in messages and f-strings, as the strings the linter used to hold
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


class Rule:
    """A rule's public identity: ``code`` (``IK`` + 3 digits), ``name`` (kebab-case, the stable id), ``severity``,
    ``summary`` (one sentence with a capital and a full stop), and its Markdown docstring in ``## Section`` blocks."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    # Other severities a finding of this rule can carry, each with when it does: shown by `rules` and `explain`.
    other_severities: ClassVar[dict[Severity, str]] = {}

    @classmethod
    def severities(cls) -> tuple[Severity, ...]:
        return (cls.severity, *cls.other_severities)

    @classmethod
    def severity_text(cls) -> str:
        """``error``, or ``error, or warning when ...`` for a rule whose findings can carry another severity."""
        others = (f"{severity.value} {when}" for severity, when in cls.other_severities.items())
        return ", or ".join((cls.severity.value, *others))

    @classmethod
    def documentation(cls) -> str:
        """The docstring, then the sections every rule of the family shares (see :meth:`generated_sections`)."""
        written = inspect.cleandoc(cls.__doc__ or "")
        generated = cls.generated_sections()
        return "\n\n".join([written, *(f"## {title}\n\n{text}" for title, text in generated.items())]) \
            if generated else written

    @classmethod
    def generated_sections(cls) -> dict[str, str]:
        """Boilerplate sections written from the metadata instead of pasted into every docstring."""
        return {}

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        """The documentation's ``## Section`` blocks by title."""
        return doc_sections(cls.documentation())


def doc_sections(documentation: str) -> dict[str, str]:
    """The ``## Section`` blocks of a Markdown text by title (the text before the first one is left out)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in documentation.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {title: "\n".join(lines).strip() for title, lines in sections.items()}


def fingerprint(*identity: object) -> str:
    """The one fingerprint policy: a hash of what a finding is about (rule, object, operation), never of its
    wording or its evidence, so rewording a message keeps every baseline and SARIF alert."""
    return hashlib.sha256(json.dumps(list(identity), default=str).encode()).hexdigest()[:16]


R = TypeVar("R", bound=type[Rule])


def bad_selector(selector: str) -> IntegrityKitError:
    return IntegrityKitError(f"no rule matches {selector!r} (use a code such as IK101, a prefix such as IK1, or a "
                             "name such as missing-foreign-key; `integrity-kit rules` lists them)")


def matching(rules: Sequence[R], selector: str) -> list[R]:
    """Rules a selector names: a code (IK101), a code prefix (IK1) or a name (missing-foreign-key)."""
    key = selector.strip().lower()
    found = [rule for rule in rules if rule.name == key or rule.code.lower().startswith(key)]
    if not found or not key:
        raise bad_selector(selector)
    return found


def find(rules: Sequence[R], selector: str) -> R:
    """The one rule a code or a name stands for (a prefix names a family, not a rule)."""
    key = selector.strip().lower()
    for rule in rules:
        if key in (rule.code.lower(), rule.name):
            return rule
    raise bad_selector(selector)


def select(rules: Sequence[R], select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[R]:
    """The rules ``select`` names (all when empty, in the order named) less those ``ignore`` names."""
    wanted = list(select)
    chosen = [rule for selector in wanted for rule in matching(rules, selector)] if wanted else list(rules)
    dropped = {rule for selector in ignore for rule in matching(rules, selector)}
    return list(dict.fromkeys(rule for rule in chosen if rule not in dropped))
