"""A :class:`~integrity_kit.queries.capture.QueryLog` for people: the N+1 patterns with their fixes, the duplicates."""

from __future__ import annotations

from rich.console import Console

from integrity_kit.queries.capture import QueryLog
from integrity_kit.report.console import markup_safe, recorded


def _one_line(sql: str) -> str:
    return " ".join(sql.split())


def engines_and_levels(where: tuple[str, ...] | list[str]) -> str:
    """``postgresql READ COMMITTED, postgresql SERIALIZABLE, sqlite ...`` as ``postgresql READ COMMITTED/SERIALIZABLE;
    sqlite ...``: one group per engine, in the order given."""
    groups: dict[str, list[str]] = {}
    for entry in where:
        engine, _, level = entry.partition(" ")
        if level and level.split(" ")[0] in ("READ", "REPEATABLE", "SERIALIZABLE"):
            groups.setdefault(engine, []).append(level)
        else:
            groups.setdefault(entry, [])
    return "; ".join(f"{engine} {'/'.join(levels)}" if levels else engine for engine, levels in groups.items()) or "-"


def _race_risks(console: Console, log: QueryLog) -> None:
    from integrity_kit.queries.race_risks import verdict_text

    if not log.statements:
        return
    risks = log.race_risks
    if not log.transactions:
        console.print("[yellow]race risks: not analysed (no transaction was captured)[/]")
        return
    console.print()
    breaking = sum(1 for risk in risks if risk.verdict == "risk")
    console.print(f"[bold]{breaking}[/] race risk(s) in {len(log.transactions)} transaction(s)"
                  + (f", {len(risks) - breaking} the engine turns into an error or an abort" if len(risks) > breaking
                     else ""))
    for number, risk in enumerate(risks, 1):
        colour = "red" if risk.verdict == "risk" else "yellow"
        console.print()
        console.print(f"[bold {colour}]race risk #{number}[/] {risk.pattern} on [bold]{markup_safe(risk.table)}[/] "
                      f"({markup_safe(', '.join(risk.columns))}): {markup_safe(verdict_text(risk))}")
        console.print(f"  [dim]read:[/]  [cyan]{markup_safe(risk.read_location or '<unknown>')}[/]  "
                      f"{markup_safe(_one_line(risk.read.sql))}")
        console.print(f"  [dim]write:[/] [cyan]{markup_safe(risk.write_location or '<unknown>')}[/]  "
                      f"{markup_safe(_one_line(risk.write.sql))}")
        console.print(f"  [dim]ran at:[/] {markup_safe(risk.transaction.dialect)} "
                      f"{markup_safe(risk.isolation_level or 'unknown isolation level')}")
        console.print(f"  [dim]breaks on:[/] {markup_safe(engines_and_levels(risk.breaks_on))}")
        if risk.retry_needed_on:
            console.print("  [dim]aborts one side (retry needed) on:[/] "
                          f"{markup_safe(engines_and_levels(risk.retry_needed_on))}")
        if risk.note:
            console.print(f"  [dim]note:[/] {markup_safe(risk.note)}")
        fix_lines = risk.fix.splitlines() or [""]
        console.print(f"  [green]fix:[/] {markup_safe(fix_lines[0])}")
        for line in fix_lines[1:]:
            console.print(f"       {markup_safe(line)}")
        confirmed = risk.confirmed
        if confirmed is not None:
            mark = "[bold red]reproduced[/]" if confirmed.get("reproduced") else "[green]not reproduced[/]"
            console.print(f"  [dim]--confirm:[/] {mark}: {markup_safe(str(confirmed.get('outcome')))}"
                          + (f" ({markup_safe(str(confirmed['error']))})" if confirmed.get("error") else ""))
            if confirmed.get("detail"):
                console.print(f"    {markup_safe(str(confirmed['detail']))}")


def render(log: QueryLog, *, console: Console | None = None, show_statements: bool = False) -> str:
    """Print to ``console``; without one, the text a file gets (no colour, lines never wrapped)."""
    if console is None:
        # A fix is code to paste: wrapped at 80 columns it is no longer valid code, so a file gets whole lines.
        return recorded(lambda file_console: render(log, console=file_console, show_statements=show_statements),
                        width=None, soft_wrap=True)
    n_plus_one = log.n_plus_one
    duplicates = log.duplicates
    total_ms = sum(s.duration for s in log.statements) * 1000
    console.print(
        f"[bold]{len(log.statements)}[/] statements ({total_ms:.1f} ms in the database), "
        f"[bold]{len(n_plus_one)}[/] N+1 pattern(s), [bold]{len(duplicates)}[/] duplicate(s)"
    )
    if not log.statements:
        console.print("[yellow]No SQL was captured: did the program use SQLAlchemy?[/]")
    for number, finding in enumerate(n_plus_one, 1):
        what = finding.relationship or {"lookup": "one query per row", "count": "a COUNT per row",
                                        "column": "a column load per row"}.get(finding.kind, "repeated query")
        console.print()
        console.print(f"[bold red]N+1 #{number}[/] {markup_safe(what)}: [bold]{finding.count}[/] similar queries "
                      f"from [cyan]{markup_safe(finding.location or '<unknown>')}[/]")
        console.print(f"  [green]fix:[/] {markup_safe(finding.fix)}")
        if finding.explanation:
            console.print(f"  [dim]{markup_safe(finding.explanation)}[/]")
        console.print(f"  [dim]sample:[/] {markup_safe(_one_line(finding.sample_sql))}")
    for duplicate in duplicates:
        console.print()
        console.print(f"[bold yellow]duplicate[/] sent {duplicate.count} times from "
                      f"[cyan]{markup_safe(', '.join(duplicate.locations) or '<unknown>')}[/]")
        console.print(f"  [dim]sql:[/] {markup_safe(_one_line(duplicate.sql))}  [dim]parameters:[/] "
                      f"{markup_safe(repr(duplicate.parameters))}")
    _race_risks(console, log)
    if show_statements and log.statements:
        console.print()
        console.print("[bold]statements[/]")
        for number, statement in enumerate(log.statements, 1):
            # one line per statement, never wrapped, so it can be grepped and diffed
            console.print(f"{number:>4}. {markup_safe(statement.location or '?')}  {statement.duration * 1000:.2f} ms  "
                          f"{markup_safe(_one_line(statement.sql))}", soft_wrap=True)
    return ""
