"""``integrity-kit rules`` and ``integrity-kit explain``: the rule catalogue of both families."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from integrity_kit import rulebook
from integrity_kit.errors import IntegrityKitError

FAMILIES = ("audit", "migrations")


def family_rules(family: str) -> Sequence[type[rulebook.Rule]]:
    """The registry of one family, imported only when asked for (the migration rules bring Alembic)."""
    if family == "audit":
        from integrity_kit.audit.registry import RULES as AUDIT_RULES

        return AUDIT_RULES
    from integrity_kit.migrations.rules import RULES as MIGRATION_RULES

    return MIGRATION_RULES


@click.command("rules")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="A table for people, or JSON for scripts.")
@click.option("--family", type=click.Choice([*FAMILIES, "all"]), default="audit", show_default=True,
              help="Which rules: the audit's (live databases), the migration linter's, or both.")
def rules_command(output_format: str, family: str) -> None:
    """List every audit rule (or migration rule, with --family): code, name, severity, summary."""
    rules = [rule for name in (FAMILIES if family == "all" else (family,)) for rule in family_rules(name)]
    if output_format == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity.value,
                                "severities": [s.value for s in r.severities()], "summary": r.summary}
                               for r in rules], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("code", "name", "severity", "summary", box=None, header_style="bold")
    for rule in rules:
        table.add_row(rule.code, rule.name, rule.severity_text(), rule.summary)
    Console(emoji=False, highlight=False).print(table)


@click.command("explain", short_help="Show the documentation of one audit or migration rule.")
@click.argument("rule")
def explain_command(rule: str) -> None:
    """Show the documentation of one audit or migration RULE, given by code (IK101) or name
    (missing-foreign-key)."""
    from rich.console import Console
    from rich.markdown import Markdown

    found = _find(rule)
    console = Console(emoji=False, highlight=False)
    console.print(f"[bold]{found.code} {found.name}[/] ({found.severity_text()}): {found.summary}")
    console.print(Markdown(found.documentation()))


def _find(selector: str) -> type[rulebook.Rule]:
    try:
        return rulebook.find(family_rules("audit"), selector)
    except IntegrityKitError:
        return rulebook.find(family_rules("migrations"), selector)
