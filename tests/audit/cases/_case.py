"""The shape of a rule case: setup SQL, the findings the rule must make, and whether its fix can be applied to
show the rule quiet afterwards. Plain SQL that runs on every engine unless a case names its engines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

ALL = ("sqlite", "postgresql", "mariadb")
SERVERS = ("postgresql", "mariadb")


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    setup: tuple[str, ...]
    expected: frozenset[tuple[str, tuple[str, ...]]] = field(default_factory=frozenset)
    engines: tuple[str, ...] = ALL
    apply_fix_on: tuple[str, ...] = ()  # engines where running fix.sql must leave the rule quiet


def case(id: str, rule: str, setup: Iterable[str], expected: Iterable[tuple[str, tuple[str, ...]]] = (),
         engines: tuple[str, ...] = ALL, apply_fix_on: tuple[str, ...] = ()) -> Case:
    return Case(id, rule, tuple(setup), frozenset(expected), engines, apply_fix_on)
