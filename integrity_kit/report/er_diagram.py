"""The entity-relationship diagram of the HTML report: one box per table, one edge per foreign key, as inline SVG.

Declared foreign keys are drawn solid; the ones the audit infers but the database lacks (``missing-foreign-key``
findings) dashed, in a warning colour, and marked ``FK?`` in their table: dash and label carry the meaning without
colour. Every edge carries ``class="fk declared|inferred"`` and ``data-from``/``data-to`` for scripts and tests.

Layout: tables are layered by their references (a table sits to the right of every table it refers to), ordered
within a layer by their parents' positions to keep edges short, and each layer is a column. A schema too deep or
too wide for that (hundreds of tables) is laid out as a grid in the same order, so the picture grows down, never
sideways without bound. No graphviz: the few hundred lines of geometry are here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape

from integrity_kit.audit.model import Finding, Severity
from integrity_kit.audit.rules.keys import MissingForeignKey
from integrity_kit.schema import Snapshot, Table

CHAR = 7.4  # width of one character of the 12 px monospace font, rounded up
ROW = 18
HEADER = 26
PAD = 10
COLUMN_GAP = 96
BOX_GAP = 28
MARGIN = 24
MAX_ROWS = 14  # columns shown per table; key and reference columns first, then "… n more"
MAX_NAME = 36
MAX_TYPE = 16
# A layered picture stays readable up to about this many columns and this many tables in one of them.
MAX_LAYERS = 6
MAX_STACK = 10
MAX_GRID_COLUMNS = 8
# A reference within one column loops out to the right by up to 120 px (control point), about 90 px of curve.
LOOP_ROOM = 96

TableKey = tuple[str | None, str]


@dataclass(frozen=True)
class Edge:
    child: Table
    columns: tuple[str, ...]
    parent: Table
    parent_columns: tuple[str, ...]
    kind: str  # "declared" or "inferred"

    @property
    def source(self) -> str:
        return f"{self.child.qualified_name}.{','.join(self.columns)}"

    @property
    def target(self) -> str:
        return f"{self.parent.qualified_name}.{','.join(self.parent_columns)}"


@dataclass
class Box:
    table: Table
    rows: list[tuple[str, str, str]]  # (marker, column name, type)
    hidden: int
    width: float
    x: float = 0.0
    y: float = 0.0
    row_of: dict[str, int] = field(default_factory=dict)

    @property
    def height(self) -> float:
        return HEADER + ROW * (len(self.rows) + (1 if self.hidden else 0)) + PAD / 2

    def anchor_y(self, columns: tuple[str, ...]) -> float:
        """The middle of the first listed column's row, or of the header when that column is not shown."""
        index = self.row_of.get(columns[0]) if columns else None
        if index is None:
            return self.y + HEADER / 2
        return self.y + HEADER + ROW * index + ROW / 2


def edges(snapshot: Snapshot, findings: Iterable[Finding]) -> list[Edge]:
    """Every declared foreign key whose target is in the snapshot, then every missing-foreign-key finding."""
    found: list[Edge] = []
    for table in snapshot.tables:
        for fk in table.foreign_keys:
            parent = snapshot.referred_table(fk)
            if parent is not None:
                found.append(Edge(table, fk.columns, parent, fk.referred_columns, "declared"))
    for finding in findings:
        if finding.rule != MissingForeignKey.name or not finding.target:
            continue
        # The target as the fix-migration writer reads it: table, columns and an optional schema.
        target = finding.target
        if not (snapshot.has_table(finding.table, finding.schema)
                and snapshot.has_table(target["table"], target.get("schema"))):
            continue
        found.append(Edge(snapshot.table(finding.table, finding.schema), tuple(finding.columns),
                          snapshot.table(target["table"], target.get("schema")), tuple(target["columns"]),
                          "inferred"))
    return found


def render_svg(snapshot: Snapshot, findings: list[Finding], *, link: dict[TableKey, str] | None = None) -> str:
    """The diagram as an ``<svg>`` element (no XML declaration, no namespace: it is meant for inline HTML).
    ``link`` maps a table to the id of its findings section, so a box with findings links to them."""
    all_edges = edges(snapshot, findings)
    counts = _finding_counts(findings)
    boxes = {_key(table): _box(table, all_edges) for table in snapshot.tables}
    width, height = _layout(boxes, all_edges)
    parts = [f'<svg class="er" role="img" aria-labelledby="er-title" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}">',
             f'<title id="er-title">Entity-relationship diagram: {len(boxes)} tables, '
             f'{sum(e.kind == "declared" for e in all_edges)} declared foreign keys, '
             f'{sum(e.kind == "inferred" for e in all_edges)} missing</title>', _MARKERS]
    # Edges first, so a box drawn later hides the stretch of an edge that passes behind it.
    parts += [_edge(edge, boxes) for edge in all_edges]
    parts += [_box_svg(box, counts.get(key), (link or {}).get(key)) for key, box in boxes.items()]
    parts.append("</svg>")
    return "\n".join(parts)


_MARKERS = ('<defs>'
            '<marker id="arrow-declared" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
            'orient="auto"><path class="arrow declared" d="M0,0 L10,5 L0,10 z"/></marker>'
            '<marker id="arrow-inferred" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
            'orient="auto"><path class="arrow inferred" d="M0,0 L10,5 L0,10 z"/></marker>'
            '</defs>')


def _key(table: Table) -> TableKey:
    return (table.schema, table.name)


def _finding_counts(findings: Iterable[Finding]) -> dict[TableKey, tuple[int, Severity]]:
    counts: dict[TableKey, tuple[int, Severity]] = {}
    for finding in findings:
        key = (finding.schema, finding.table)
        count, worst = counts.get(key, (0, finding.severity))
        counts[key] = (count + 1, max(worst, finding.severity, key=lambda s: s.rank))
    return counts


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _box(table: Table, all_edges: list[Edge]) -> Box:
    pk = set(table.primary_key.columns) if table.primary_key else set()
    declared = {c for e in all_edges if e.child is table and e.kind == "declared" for c in e.columns}
    inferred = {c for e in all_edges if e.child is table and e.kind == "inferred" for c in e.columns}

    def marker(name: str) -> str:
        return "PK" if name in pk else "FK" if name in declared else "FK?" if name in inferred else ""

    # Keys and references first in the choice (edges need their rows), then the table's own order.
    ranked = sorted(table.columns, key=lambda c: marker(c.name) == "")
    shown = {c.name for c in ranked[:MAX_ROWS]}
    rows = [(marker(c.name), c.name, c.type_sql) for c in table.columns if c.name in shown]
    longest_row = max((len(_clip(name, MAX_NAME)) + len(_clip(type_, MAX_TYPE)) + 6 for _m, name, type_ in rows),
                      default=0)
    width = max(140.0, CHAR * max(len(_clip(table.qualified_name, MAX_NAME)) + 5, longest_row) + 2 * PAD)
    box = Box(table, rows, len(table.columns) - len(rows), width)
    box.row_of = {name: index for index, (_m, name, _t) in enumerate(rows)}
    return box


def _layers(boxes: dict[TableKey, Box], all_edges: list[Edge]) -> list[list[TableKey]]:
    """Longest-path layering (every table to the right of the tables it refers to), cycles broken by name, then
    each layer ordered by the mean position of its parents (two sweeps)."""
    parents: dict[TableKey, set[TableKey]] = {key: set() for key in boxes}
    children: dict[TableKey, set[TableKey]] = {key: set() for key in boxes}
    for edge in all_edges:
        child, parent = _key(edge.child), _key(edge.parent)
        if child != parent and child in boxes and parent in boxes:
            parents[child].add(parent)
            children[parent].add(child)
    waiting = {key: len(parents[key]) for key in boxes}
    layer: dict[TableKey, int] = {}
    ready = sorted((key for key, count in waiting.items() if count == 0), key=_sort_name)
    while len(layer) < len(boxes):
        if not ready:  # a cycle: start it at its first table by name
            ready = [min((key for key in boxes if key not in layer), key=lambda k: (waiting[k], _sort_name(k)))]
        key = ready.pop(0)
        if key in layer:
            continue
        layer[key] = max((layer[p] + 1 for p in parents[key] if p in layer), default=0)
        for child in sorted(children[key], key=_sort_name):
            waiting[child] -= 1
            if waiting[child] == 0 and child not in layer:
                ready.append(child)
    columns: list[list[TableKey]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for key in sorted(boxes, key=_sort_name):
        columns[layer[key]].append(key)
    for _sweep in range(2):
        position = {key: index for column in columns for index, key in enumerate(column)}
        for column in columns[1:]:
            column.sort(key=lambda key: _barycentre(key, parents[key], position))
            position.update({key: index for index, key in enumerate(column)})
    return columns


def _barycentre(key: TableKey, parents: set[TableKey], position: dict[TableKey, int]) -> float:
    placed = [position[p] for p in parents if p in position]
    return sum(placed) / len(placed) if placed else position[key]


def _sort_name(key: TableKey) -> tuple[str, str]:
    return (key[0] or "", key[1].lower())


def _layout(boxes: dict[TableKey, Box], all_edges: list[Edge]) -> tuple[float, float]:
    """Place every box; return the picture's width and height."""
    if not boxes:
        return 2 * MARGIN, 2 * MARGIN
    columns = _layers(boxes, all_edges)
    if len(columns) > MAX_LAYERS or max(len(column) for column in columns) > MAX_STACK:
        order = [key for column in columns for key in column]
        per_row = min(MAX_GRID_COLUMNS, math.ceil(math.sqrt(len(order))))
        columns = [order[start::per_row] for start in range(per_row)]
        return _place_grid(boxes, columns, per_row)
    return _place_columns(boxes, columns)


def _place_columns(boxes: dict[TableKey, Box], columns: list[list[TableKey]]) -> tuple[float, float]:
    heights = [sum(boxes[k].height for k in column) + BOX_GAP * (len(column) - 1) for column in columns]
    tallest = max(heights)
    x: float = MARGIN
    for column, height in zip(columns, heights, strict=True):
        y = MARGIN + (tallest - height) / 2  # shorter columns centred beside the tallest
        width = max(boxes[k].width for k in column)
        for key in column:
            boxes[key].x, boxes[key].y = x, y
            y += boxes[key].height + BOX_GAP
        x += width + COLUMN_GAP
    return x - COLUMN_GAP + MARGIN + LOOP_ROOM, tallest + 2 * MARGIN


def _place_grid(boxes: dict[TableKey, Box], columns: list[list[TableKey]], per_row: int) -> tuple[float, float]:
    rows = max(len(column) for column in columns)
    row_heights = [max((boxes[column[r]].height for column in columns if r < len(column)), default=0)
                   for r in range(rows)]
    x: float = MARGIN
    for column in columns:
        y: float = MARGIN
        for r, key in enumerate(column):
            boxes[key].x, boxes[key].y = x, y
            y += row_heights[r] + BOX_GAP
        x += max((boxes[k].width for k in column), default=0) + COLUMN_GAP
    return x - COLUMN_GAP + MARGIN + LOOP_ROOM, sum(row_heights) + BOX_GAP * (rows - 1) + 2 * MARGIN


def _edge(edge: Edge, boxes: dict[TableKey, Box]) -> str:
    child, parent = boxes[_key(edge.child)], boxes[_key(edge.parent)]
    y1, y2 = child.anchor_y(edge.columns), parent.anchor_y(edge.parent_columns)
    if parent.x + parent.width <= child.x:  # parent to the left: leave left, arrive on its right side
        x1, d1, x2, d2 = child.x, -1, parent.x + parent.width, 1
    elif parent.x >= child.x + child.width:
        x1, d1, x2, d2 = child.x + child.width, 1, parent.x, -1
    else:  # same column (or the same table): a loop out to the right and back
        x1, d1, x2, d2 = child.x + child.width, 1, parent.x + parent.width, 1
    bend = max(36.0, abs(x2 - x1) / 2) if d1 != d2 else 30.0 + min(90.0, abs(y2 - y1) / 4)
    path = (f"M{x1:.1f},{y1:.1f} C{x1 + d1 * bend:.1f},{y1:.1f} {x2 + d2 * bend:.1f},{y2:.1f} "
            f"{x2 + d2 * 2:.1f},{y2:.1f}")
    what = "declared foreign key" if edge.kind == "declared" else "missing foreign key (inferred, not declared)"
    return (f'<path class="fk {edge.kind}" data-from="{escape(edge.source)}" data-to="{escape(edge.target)}" '
            f'd="{path}" marker-end="url(#arrow-{edge.kind})"><title>{escape(edge.source)} → '
            f'{escape(edge.target)}: {what}</title></path>')


def _box_svg(box: Box, count: tuple[int, Severity] | None, anchor: str | None) -> str:
    name = box.table.qualified_name
    x, y, w = box.x, box.y, box.width
    parts = [f'<g class="table" data-table="{escape(name)}">',
             f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{box.height:.1f}" rx="5"/>',
             f'<path class="head" d="M{x:.1f},{y + HEADER:.1f} v{-HEADER + 5} q0,-5 5,-5 h{w - 10:.1f} '
             f'q5,0 5,5 v{HEADER - 5} z"/>']
    title = f'<text class="name" x="{x + PAD:.1f}" y="{y + 17:.1f}">{escape(_clip(name, MAX_NAME))}' \
            f'<title>{escape(name)}</title></text>'
    if count and anchor:
        title = f'<a href="#{escape(anchor)}">{title}</a>'
    parts.append(title)
    if count:
        number, worst = count
        label = f"{number} finding{'s' if number != 1 else ''}, worst: {worst.value}"
        parts.append(f'<g class="badge {worst.value}"><circle cx="{x + w - 14:.1f}" cy="{y + HEADER / 2:.1f}" '
                     f'r="9"/><text x="{x + w - 14:.1f}" y="{y + HEADER / 2 + 4:.1f}">{number}</text>'
                     f'<title>{label}</title></g>')
    for index, (marker, column, type_) in enumerate(box.rows):
        row_y = y + HEADER + ROW * index + ROW / 2 + 4
        kind = {"PK": "pk", "FK": "fk-col", "FK?": "fk-missing"}.get(marker, "")
        parts.append(f'<g class="column {kind}"><text class="marker" x="{x + PAD:.1f}" y="{row_y:.1f}">'
                     f'{marker}</text><text class="col" x="{x + PAD + 4 * CHAR:.1f}" y="{row_y:.1f}">'
                     f'{escape(_clip(column, MAX_NAME))}<title>{escape(column)} {escape(type_)}</title></text>'
                     f'<text class="type" x="{x + w - PAD:.1f}" y="{row_y:.1f}">{escape(_clip(type_, MAX_TYPE))}'
                     f'</text></g>')
    if box.hidden:
        row_y = y + HEADER + ROW * len(box.rows) + ROW / 2 + 4
        parts.append(f'<text class="more" x="{x + PAD + 4 * CHAR:.1f}" y="{row_y:.1f}">… {box.hidden} more '
                     f'column{"s" if box.hidden != 1 else ""}</text>')
    parts.append("</g>")
    return "".join(parts)
