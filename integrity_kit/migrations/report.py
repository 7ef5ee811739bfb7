"""Renderers for lint results: text (rich), JSON, SARIF 2.1.0."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from integrity_kit.migrations.linter import LintResult
from integrity_kit.migrations.rules import RULES

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def render_text(result: LintResult, console: Console) -> None:
    for finding in result.findings:
        style = _STYLE.get(finding.severity, "")
        console.print(f"[bold]{escape(finding.path)}:{finding.line}[/] [{style}]{finding.code}[/] "
                      f"[{style}]{finding.rule}[/] {escape(finding.message)}"
                      + (" [dim](rendered SQL)[/]" if finding.source == "sql" else ""))
        if finding.fix:
            for line in finding.fix.splitlines():
                console.print(f"    [green]{escape(line)}[/]")
    for finding in result.unexplained_ignores:
        console.print(f"[bold]{escape(finding.path)}:{finding.line}[/] [yellow]ignore comment for {finding.rule} "
                      "has no reason, so it ignores nothing[/]")
    for item in result.not_analysed:
        console.print(f"[dim]not analysed: {escape(item['object'])}: {escape(item['reason'])}[/]")
    count = len(result.findings)
    summary = (f"{len(result.revisions)} revision(s) linted for {result.dialect}: "
               f"{count} finding(s), {len(result.ignored)} ignored with a reason")
    console.print(f"[{'bold red' if count else 'bold green'}]{escape(summary)}[/]")


def render_json(result: LintResult) -> str:
    return json.dumps(result.to_dict(), indent=2)


def render_sarif(result: LintResult) -> str:
    from integrity_kit import __version__

    levels = {"error": "error", "warning": "warning", "info": "note"}
    rules = [{"id": rule.code, "name": rule.name, "shortDescription": {"text": rule.summary},
              "fullDescription": {"text": (rule.__doc__ or "").strip().splitlines()[0]},
              "help": {"text": (rule.__doc__ or "").strip(), "markdown": (rule.__doc__ or "").strip()},
              "defaultConfiguration": {"level": levels[rule.severity]}} for rule in RULES]
    index = {rule.code: i for i, rule in enumerate(RULES)}
    results = []
    # Ignored findings go in as suppressed results with the reason, as code-scanning tools expect for in-source
    # suppressions, so a dismissal stays visible and reviewable.
    suppressed = {finding.fingerprint for finding in result.ignored}
    for finding in result.findings + result.ignored:
        entry = {"ruleId": finding.code, "ruleIndex": index[finding.code], "level": levels[finding.severity],
                 "message": {"text": finding.message},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": Path(finding.path).as_posix()},
                                                     "region": {"startLine": finding.line}}}],
                 "partialFingerprints": {"integrityKit/v1": finding.fingerprint},
                 "properties": {"revision": finding.revision, "source": finding.source}}
        if finding.fix:
            entry["message"]["text"] += "\nSafe sequence:\n" + finding.fix
        if finding.fingerprint in suppressed:
            entry["suppressions"] = [{"kind": "inSource",
                                      "justification": result.ignore_reasons.get(finding.fingerprint, "")}]
        results.append(entry)
    sarif = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
             "runs": [{"tool": {"driver": {"name": "integrity-kit", "version": __version__,
                                           "informationUri": "https://github.com/integrity-kit/integrity-kit",
                                           "rules": rules}},
                       "results": results}]}
    return json.dumps(sarif, indent=2)
