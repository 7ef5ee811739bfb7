"""The audit report as one self-contained HTML file: summary, the entity-relationship diagram, every finding with
its evidence and fix (as the JSON report has them), and what could not be analysed.

Self-contained means no network at all: inline CSS, one inline script (the diagram's pan, zoom and filters,
allowed by its hash and nothing else), no fonts or images from anywhere, and a Content-Security-Policy that would
block any that slipped in. Everything read from the database (table and column names, values in the evidence) is
escaped: a table called ``<script>`` is shown, never run.

The diagram comes right after the summary, before any long list: at hundreds of tables it opens on its largest
component at reading size, and the list of tables with findings is folded.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from html import escape
from typing import Any

from integrity_kit import __version__
from integrity_kit.audit.model import Finding
from integrity_kit.audit.runner import Report
from integrity_kit.report.html import diagram

_SCRIPT = diagram.script()
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-"
        + base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii") + "'")
_Key = tuple[str | None, str]
# A list of tables with findings longer than this starts folded: the findings below are the real list.
_OPEN_LIST = 24


def render(report: Report) -> str:
    groups = _by_table(report.findings)
    anchors = {key: f"t{index}" for index, key in enumerate(groups)}
    body = [_summary(report), _diagram(report, anchors), _jump(groups, anchors), _findings(groups, anchors),
            _not_analysed(report)]
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>integrity-kit audit: {_e(report.url)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f'<header class="top"><h1>integrity-kit audit</h1><p class="url"><code>{_e(report.url)}</code></p>'
            f"</header>\n<main>\n" + "\n".join(body) + "\n</main>\n"
            f'<footer>integrity-kit {_e(__version__)}: read-only audit; the JSON report '
            f"(<code>--format json</code>) holds the same findings.</footer>\n<script>{_SCRIPT}</script>\n</body>\n"
            f"</html>\n")


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _by_table(findings: Iterable[Finding]) -> dict[tuple[str | None, str], list[Finding]]:
    """Findings grouped by table, the tables in report order (most severe first, as the report is sorted)."""
    groups: dict[tuple[str | None, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.schema, finding.table), []).append(finding)
    return groups


def _name(key: tuple[str | None, str]) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def _summary(report: Report) -> str:
    counts = report.by_severity()
    cards = "".join(f'<div class="count {severity}"><span class="n">{count}</span> {severity}</div>'
                    for severity, count in counts.items())
    facts = [("Database", f"<code>{_e(report.url)}</code>"),
             ("Engine", _e(f"{report.dialect} {report.server_version or ''}".strip())),
             ("Schemas", _e(", ".join(report.schemas))), ("Tables", _e(report.tables)),
             ("Findings", _e(len(report.findings))), ("Not analysed", _e(len(report.not_analysed)))]
    if report.baseline_hidden:
        facts.append(("Hidden by the baseline", _e(report.baseline_hidden)))
    rows = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in facts)
    return (f'<section id="summary"><h2>Summary</h2><div class="summary"><div class="counts">{cards}</div>'
            f'<dl class="facts">{rows}</dl></div></section>')


def _jump(groups: dict[_Key, list[Finding]], anchors: dict[_Key, str]) -> str:
    if not groups:
        return ""
    links = "".join(f'<li><a href="#{anchors[key]}">{_e(_name(key))}</a> <span class="muted">'
                    f"({len(findings)})</span></li>" for key, findings in groups.items())
    opened = " open" if len(groups) <= _OPEN_LIST else ""
    return (f'<nav id="jump" aria-label="Tables with findings"><details{opened}><summary>Tables with findings '
            f'<span class="muted">({len(groups)})</span></summary><ul class="jump">{links}</ul></details></nav>')


def _diagram(report: Report, anchors: dict[_Key, str]) -> str:
    if report.snapshot is None:
        return '<section id="diagram"><h2>Entity-relationship diagram</h2><p>No schema was read.</p></section>'
    drawing = diagram.render(report.snapshot, report.findings, link=anchors)
    legend = ('<ul class="legend">'
              '<li><svg width="44" height="10" aria-hidden="true"><line class="legend-line declared" x1="2" y1="5" '
              'x2="42" y2="5"/></svg> declared foreign key (solid)</li>'
              '<li><svg width="44" height="10" aria-hidden="true"><line class="legend-line inferred" x1="2" y1="5" '
              'x2="42" y2="5"/></svg> missing foreign key: inferred by the audit, not in the database (dashed)</li>'
              '<li><b class="mk">PK</b> primary key &nbsp; <b class="mk">FK</b> declared reference &nbsp; '
              '<b class="mk missing">FK?</b> reference without a constraint</li>'
              "<li>arrows point at the referred table; a number on a table is its count of findings (a link)</li>"
              "</ul>")
    names = sorted(table.qualified_name for table in report.snapshot.tables)
    options = "".join(f'<option value="{_e(name)}"></option>' for name in names)
    groups = "".join(f'<option value="{component.index}">{_e(component.caption)}</option>'
                     for component in drawing.components)
    # Hidden until the script runs: without it the diagram is a plain scrolling picture and these do nothing.
    controls = ('<div class="er-controls" role="toolbar" aria-label="Diagram controls" hidden>'
                '<span class="er-zoombox"><button type="button" class="er-out" aria-label="Zoom out">&minus;</button>'
                '<span class="er-zoom" aria-live="polite">100%</span>'
                '<button type="button" class="er-in" aria-label="Zoom in">+</button>'
                '<button type="button" class="er-fit">Fit</button>'
                '<button type="button" class="er-reset">Whole diagram</button></span>'
                '<label>Table <input type="search" list="er-tables" autocomplete="off" spellcheck="false" '
                'placeholder="a name: it and its neighbours"></label>'
                f'<datalist id="er-tables">{options}</datalist>'
                '<label><input type="checkbox"> only missing keys</label>'
                f'<label{"" if len(drawing.components) > 1 else " hidden"}>Show <select>'
                f'<option value="">all components</option>{groups}</select></label></div>')
    hint = ('<p class="er-status muted" aria-live="polite" hidden></p>'
            '<p class="er-help muted">Drag to move, wheel or &minus;/+ to zoom; click a table for it and its '
            'neighbours, its name for its findings.</p>')
    # Title and controls on one line and the legend under the picture: the picture starts high in the first screen.
    return (f'<section id="diagram"><div class="er-head"><h2>Entity-relationship diagram</h2>{controls}</div>'
            f'<div class="scroll er-stage">{drawing.svg}</div>{hint}{legend}</section>')


def _findings(groups: dict[_Key, list[Finding]], anchors: dict[_Key, str]) -> str:
    if not groups:
        return '<section id="findings"><h2>Findings</h2><p class="clean">No findings.</p></section>'
    parts = ['<section id="findings"><h2>Findings</h2>']
    for key, findings in groups.items():
        parts.append(f'<section class="table-findings" id="{anchors[key]}"><h3>{_e(_name(key))} '
                     f'<span class="muted">{len(findings)} finding{"s" if len(findings) != 1 else ""}</span></h3>')
        parts += [_finding(finding.to_dict()) for finding in findings]
        parts.append("</section>")
    parts.append("</section>")
    return "\n".join(parts)


def _finding(data: dict[str, Any]) -> str:
    severity = data["severity"]
    columns = f" ({', '.join(data['columns'])})" if data["columns"] else ""
    target = data.get("target")
    pointing = ""
    if target:
        where = f"{target['schema']}.{target['table']}" if target.get("schema") else target["table"]
        pointing = f" → {where}({', '.join(target.get('columns', []))})"
    # Certain findings (most of them) say nothing with "confidence 1.0"; inferred ones say how sure they are.
    confidence = (f' <span class="muted conf">confidence {_e(data["confidence"])}</span>'
                  if data["confidence"] < 1 else "")
    head = (f'<header><span class="sev {severity}">{_e(severity)}</span> <code class="code">{_e(data["code"])}'
            f'</code> <span class="rule">{_e(data["rule"])}</span> <span class="obj">{_e(data["table"] + columns)}'
            f'{_e(pointing)}</span>{confidence}</header>')
    evidence = ""
    if data["evidence"]:
        rows = "".join(f"<tr><th>{_e(name)}</th><td>{_value(value)}</td></tr>" for name, value in
                       data["evidence"].items())
        evidence = f'<table class="evidence"><caption>Evidence</caption>{rows}</table>'
    fix = ""
    if data.get("fix"):
        fix = (f'<div class="fix"><div><h4>Fix: SQL</h4><pre><code>{_e(data["fix"]["sql"])}</code></pre></div>'
               f'<div><h4>Fix: Alembic</h4><pre><code>{_e(data["fix"]["alembic"])}</code></pre></div></div>')
    return (f'<article class="finding {severity}" data-rule="{_e(data["rule"])}" data-severity="{severity}" '
            f'data-fingerprint="{_e(data["fingerprint"])}">{head}<p class="message">{_e(data["message"])}</p>'
            f'{evidence}{fix}<p class="fp muted">fingerprint <code>{_e(data["fingerprint"])}</code></p></article>')


def _value(value: Any) -> str:
    """A value as the JSON report writes it; strings bare."""
    if isinstance(value, str):
        return _e(value)
    return f"<code>{_e(json.dumps(value, default=str, ensure_ascii=False))}</code>"


def _not_analysed(report: Report) -> str:
    if not report.not_analysed:
        return '<section id="not-analysed"><h2>Not analysed</h2><p class="clean">Everything was analysed.</p></section>'
    rows = "".join(f"<tr><td><code>{_e(item.object)}</code></td><td>{_e(item.reason)}</td></tr>"
                   for item in report.not_analysed)
    return (f'<section id="not-analysed"><h2>Not analysed</h2><p>The audit could not judge these; nothing about '
            f'them is known to be fine.</p><table class="plain"><tr><th>object</th><th>reason</th></tr>{rows}'
            f"</table></section>")


# Colours are a second signal only: severities are also words, missing keys are also dashed and marked FK?.
_STYLE = """
:root { --ink: #1e293b; --muted: #64748b; --line: #cbd5e1; --paper: #ffffff; --soft: #f1f5f9;
  --error: #b91c1c; --warning: #b45309; --info: #1d4ed8; --declared: #475569; --inferred: #d97706; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: var(--soft); line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
header.top { background: var(--ink); color: #fff; padding: 12px 32px; }
header.top h1 { margin: 0; font-size: 22px; }
header.top .url { margin: 4px 0 0; opacity: .85; overflow-wrap: anywhere; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 24px 32px; }
main > section { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: 16px 22px;
  margin: 18px 0; }
h2 { margin: 0 0 12px; font-size: 19px; }
h3 { font-size: 16px; margin: 18px 0 8px; overflow-wrap: anywhere; }
h4 { margin: 6px 0 4px; font-size: 13px; color: var(--muted); font-weight: 600; }
.muted { color: var(--muted); font-weight: normal; font-size: 13px; }
.counts { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 12px; }
.count { border: 1px solid var(--line); border-left-width: 6px; border-radius: 6px; padding: 6px 14px;
  min-width: 120px; }
.count .n { font-size: 22px; font-weight: 700; margin-right: 4px; }
.count.error { border-left-color: var(--error); } .count.warning { border-left-color: var(--warning); }
.count.info { border-left-color: var(--info); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.summary { display: flex; flex-wrap: wrap; gap: 8px 40px; align-items: flex-start; }
.summary .counts { margin-bottom: 0; }
.summary dl.facts { grid-template-columns: max-content minmax(0, 1fr) max-content minmax(0, 1fr); flex: 1; }
.summary dl.facts dd:first-of-type { grid-column: span 3; }
nav#jump { margin: 0 0 18px; padding: 0 4px; }
nav#jump summary { cursor: pointer; font-weight: 600; }
nav#jump ul.jump { margin-top: 8px; }
main > section#diagram { position: relative; left: 50%; transform: translateX(-50%); width: calc(100vw - 48px);
  max-width: 2400px; }
.er-head { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 28px; margin: 0 0 10px; }
.er-head h2 { margin: 0; }
.er-controls { display: flex; flex-wrap: wrap; gap: 6px 20px; align-items: center; font-size: 13px; }
.er-controls[hidden], .er-status[hidden] { display: none; }
.er-controls button, .er-controls select, .er-controls input { font: inherit; }
.er-controls button { padding: 3px 10px; border: 1px solid var(--line); border-radius: 4px; background: var(--paper);
  cursor: pointer; color: var(--ink); }
.er-controls button:hover { background: var(--soft); }
.er-zoombox { display: inline-flex; gap: 4px; align-items: center; }
.er-zoom { min-width: 3.6em; text-align: center; font-variant-numeric: tabular-nums; }
.er-controls input[type=search] { width: 22em; padding: 3px 6px; }
.er-status { margin: 6px 0 0; font-size: 13px; } .er-help { margin: 2px 0 0; font-size: 12px; }
.er-stage:not(.live) { max-height: 85vh; }
.er-stage.live { overflow: hidden; cursor: grab; touch-action: none; user-select: none; }
.er-stage.live svg.er { width: 100%; height: 100%; }
.er-stage.dragging { cursor: grabbing; }
svg.er .off { display: none; }
svg.er .faint { opacity: .3; }
svg.er .hit .box, svg.er .chosen .box { stroke: #1d4ed8; stroke-width: 3; }
svg.er .frame { fill: #f8fafc; stroke: #dbe3ec; }
svg.er .caption { fill: var(--muted); font: 600 14px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
.er-stage.live svg.er g.table { cursor: pointer; }
ul.jump { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
a { color: #1d4ed8; }
ul.legend { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 4px 24px;
  font-size: 13px; color: var(--muted); }
ul.legend svg { vertical-align: middle; }
.legend-line { stroke-width: 2; } .legend-line.declared { stroke: var(--declared); }
.legend-line.inferred { stroke: var(--inferred); stroke-dasharray: 7 5; }
b.mk { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; color: var(--ink); }
b.mk.missing { color: var(--inferred); }
.scroll { overflow: auto; border: 1px solid var(--line); border-radius: 6px; background: #fbfdff; }
svg.er { display: block; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
svg.er .box { fill: #fff; stroke: #94a3b8; } svg.er .head { fill: #334155; }
svg.er .name { fill: #fff; font-weight: 700; font-size: 13px; }
svg.er a .name { text-decoration: underline; }
svg.er .marker { font-size: 10px; font-weight: 700; fill: var(--muted); }
svg.er .pk .marker, svg.er .pk .col { fill: var(--ink); font-weight: 700; }
svg.er .fk-col .marker { fill: var(--declared); }
svg.er .fk-missing .marker, svg.er .fk-missing .col { fill: var(--inferred); font-weight: 700; }
svg.er .col { fill: var(--ink); } svg.er .type { fill: var(--muted); text-anchor: end; font-size: 11px; }
svg.er .more { fill: var(--muted); font-style: italic; }
svg.er .fk { fill: none; stroke-width: 1.6; }
svg.er .fk.declared { stroke: var(--declared); }
svg.er .fk.inferred { stroke: var(--inferred); stroke-dasharray: 7 5; stroke-width: 2; }
svg.er .arrow.declared { fill: var(--declared); } svg.er .arrow.inferred { fill: var(--inferred); }
svg.er .badge circle { stroke: #fff; stroke-width: 1.5; }
svg.er .badge.error circle { fill: var(--error); } svg.er .badge.warning circle { fill: var(--warning); }
svg.er .badge.info circle { fill: var(--info); }
svg.er .badge text { fill: #fff; font-size: 11px; font-weight: 700; text-anchor: middle; }
/* Hundreds of findings: the browser lays out only those near the screen (still found by search, still printed). */
section.table-findings { content-visibility: auto; contain-intrinsic-size: auto 480px; }
article.finding { border: 1px solid var(--line); border-left-width: 6px; border-radius: 6px; padding: 10px 14px;
  margin: 10px 0; }
article.finding.error { border-left-color: var(--error); }
article.finding.warning { border-left-color: var(--warning); } article.finding.info { border-left-color: var(--info); }
article.finding header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 10px; }
.sev { text-transform: uppercase; font-size: 11px; font-weight: 700; letter-spacing: .04em; padding: 1px 7px;
  border-radius: 4px; color: #fff; }
.sev.error { background: var(--error); } .sev.warning { background: var(--warning); }
.sev.info { background: var(--info); }
.rule { font-weight: 600; } .obj { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px;
  overflow-wrap: anywhere; }
.conf { margin-left: auto; }
.message { margin: 8px 0; overflow-wrap: anywhere; }
table.evidence, table.plain { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
table.evidence caption { text-align: left; font-weight: 600; color: var(--muted); padding-bottom: 2px; }
table.evidence th, table.plain th { text-align: left; font-weight: 600; padding: 2px 14px 2px 0; vertical-align: top;
  white-space: nowrap; }
table.evidence td, table.plain td { padding: 2px 14px 2px 0; overflow-wrap: anywhere; }
.fix { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(360px, 100%), 1fr)); gap: 0 16px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px; margin: 0;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.fp { margin: 6px 0 0; font-size: 12px; }
.clean { color: #15803d; font-weight: 600; }
footer { text-align: center; color: var(--muted); font-size: 12px; padding: 0 0 24px; }
@media print { body { background: #fff; } main > section { border: 0; } .scroll { overflow: visible; max-height: none; }
  .er-controls, .er-help { display: none; } }
"""
