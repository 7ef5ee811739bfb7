"""The HTML report's entity-relationship diagram, laid out one connected component at a time.

Tables joined by foreign keys (declared or inferred) form a component; each component is laid out on its own
(layers of references, a tall layer wrapped into several columns so the component stays about as wide as a
screen), framed and labelled, and the components are packed in rows, largest first, the isolated tables
together in one grid at the end. An edge therefore never leaves its component: no line crosses the picture.

The SVG is complete without a script (print, a browser with scripts off); ``diagram.js`` adds pan, zoom, fit and
the filters, and reads everything it needs from the attributes written here: ``data-component`` on each component
group, ``data-table`` on each box, ``data-child``/``data-parent`` (qualified table names) on each edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from importlib import resources

from integrity_kit.audit.model import Finding
from integrity_kit.report import er_diagram
from integrity_kit.report.er_diagram import Box, Edge, TableKey
from integrity_kit.schema import Snapshot, Table

COLUMN_GAP = 96  # between two layers: room for the curves
WRAP_GAP = 44  # between the columns one wrapped layer is split into
BOX_GAP = 28
COMPONENT_GAP = 72
FRAME_PAD = 16
LABEL = 26  # the component's caption above its frame
MARGIN = 24
ASPECT = 16 / 9  # the shape of a screen, which a large component is folded towards
PICTURE = 2.0  # the whole picture's width over its height: a wide screen's stage, below the report's summary
# Above this many tables a box lists only its key and reference columns, the rest collapsed to "… n more".
COMPACT_OVER = 60
MAX_GRID_COLUMNS = 8


@dataclass
class Component:
    index: int
    keys: list[TableKey]
    edges: list[Edge]
    isolated: bool = False
    width: float = 0.0
    height: float = 0.0
    x: float = 0.0
    y: float = 0.0

    @property
    def hub(self) -> TableKey:
        """The most connected table (first by name among equals): what the component is about."""
        degree = {key: 0 for key in self.keys}
        for edge in self.edges:
            for key in (er_diagram._key(edge.child), er_diagram._key(edge.parent)):
                degree[key] += 1
        return min(self.keys, key=lambda key: (-degree[key], _sort(key)))

    @property
    def caption(self) -> str:
        if self.isolated:
            return f"{len(self.keys)} table{'s' if len(self.keys) != 1 else ''} without references"
        return f"component {self.index}: {len(self.keys)} tables around {_name(self.hub)}"


@dataclass(frozen=True)
class Drawing:
    svg: str
    components: list[Component]


def script() -> str:
    """The diagram's script, shipped beside this module (package data), to be inlined in the report."""
    return resources.files(__package__).joinpath("diagram.js").read_text(encoding="utf-8")


def render(snapshot: Snapshot, findings: list[Finding], *, link: dict[TableKey, str] | None = None) -> Drawing:
    """The diagram as an inline ``<svg>`` (no namespace, no XML declaration) and its components. ``link`` maps a
    table to the id of its findings section: a box with findings links there."""
    all_edges = er_diagram.edges(snapshot, findings)
    counts = er_diagram._finding_counts(findings)
    compact = len(snapshot.tables) > COMPACT_OVER
    boxes = {er_diagram._key(table): _box(table, all_edges, compact) for table in snapshot.tables}
    parts_of = components(list(boxes), all_edges)
    for component in parts_of:
        _layout_component(component, boxes)
    width, height = _pack(parts_of)
    for component in parts_of:
        for key in component.keys:
            boxes[key].x += component.x + FRAME_PAD
            boxes[key].y += component.y + LABEL + FRAME_PAD
    declared = sum(edge.kind == "declared" for edge in all_edges)
    inferred = len(all_edges) - declared
    parts = [f'<svg class="er" role="img" aria-labelledby="er-title" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" data-components="{len(parts_of)}">',
             f'<title id="er-title">Entity-relationship diagram: {len(boxes)} tables in {len(parts_of)} '
             f'group{"s" if len(parts_of) != 1 else ""}, {declared} declared foreign keys, {inferred} missing'
             f'</title>', er_diagram._MARKERS]
    for component in parts_of:
        parts.append(f'<g class="component{" isolated" if component.isolated else ""}" '
                     f'data-component="{component.index}" data-tables="{len(component.keys)}" '
                     f'data-hub="{escape(_name(component.hub))}">')
        if len(parts_of) > 1:  # a frame and a caption only say something when there are several
            parts.append(f'<rect class="frame" x="{component.x:.1f}" y="{component.y + LABEL:.1f}" '
                         f'width="{component.width:.1f}" height="{component.height:.1f}" rx="8"/>'
                         f'<text class="caption" x="{component.x + 4:.1f}" y="{component.y + LABEL - 8:.1f}">'
                         f'{escape(component.caption)}</text>')
        # Edges first, so a box drawn later hides the stretch of an edge that passes behind it.
        parts += [_edge(edge, boxes) for edge in component.edges]
        parts += [er_diagram._box_svg(boxes[key], counts.get(key), (link or {}).get(key)) for key in component.keys]
        parts.append("</g>")
    parts.append("</svg>")
    return Drawing("\n".join(parts), parts_of)


def components(keys: list[TableKey], all_edges: list[Edge]) -> list[Component]:
    """Connected components (references in either direction), largest first; tables alone go last, together."""
    parent = {key: key for key in keys}

    def root(key: TableKey) -> TableKey:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for edge in all_edges:
        a, b = root(er_diagram._key(edge.child)), root(er_diagram._key(edge.parent))
        if a != b:
            parent[max(a, b, key=_sort)] = min(a, b, key=_sort)
    groups: dict[TableKey, list[TableKey]] = {}
    for key in sorted(keys, key=_sort):
        groups.setdefault(root(key), []).append(key)
    linked = {er_diagram._key(edge.child) for edge in all_edges} | {er_diagram._key(e.parent) for e in all_edges}
    alone = [key for group in groups.values() if len(group) == 1 and group[0] not in linked for key in group]
    joined = sorted((group for group in groups.values() if not (len(group) == 1 and group[0] not in linked)),
                    key=lambda group: (-len(group), _sort(group[0])))
    result = []
    for index, group in enumerate(joined, start=1):
        members = set(group)
        result.append(Component(index, group, [e for e in all_edges if er_diagram._key(e.child) in members]))
    if alone:
        result.append(Component(len(result) + 1, alone, [], isolated=True))
    return result


def _box(table: Table, all_edges: list[Edge], compact: bool) -> Box:
    box = er_diagram._box(table, all_edges)
    if not compact:
        return box
    keep = [row for row in box.rows if row[0]]
    box.hidden += len(box.rows) - len(keep)
    box.rows = keep
    box.row_of = {name: index for index, (_m, name, _t) in enumerate(keep)}
    longest = max((len(er_diagram._clip(name, er_diagram.MAX_NAME)) + len(er_diagram._clip(type_, er_diagram.MAX_TYPE))
                   + 6 for _m, name, type_ in keep), default=0)
    box.width = max(140.0, er_diagram.CHAR * max(len(er_diagram._clip(table.qualified_name, er_diagram.MAX_NAME)) + 5,
                                                 longest) + 2 * er_diagram.PAD)
    return box


def _layout_component(component: Component, boxes: dict[TableKey, Box]) -> None:
    """Place the component's boxes from (0, 0) and set its size (the frame's, padding included)."""
    members = {key: boxes[key] for key in component.keys}
    if component.isolated:
        order = component.keys
        per_row = max(1, min(MAX_GRID_COLUMNS, math.ceil(math.sqrt(len(order) * ASPECT / 2))))
        width, height = _grid(members, [order[start::per_row] for start in range(per_row)])
    else:
        layers = er_diagram._layers(members, component.edges)
        area = sum((box.width + COLUMN_GAP) * (box.height + BOX_GAP) for box in members.values())
        target = max(max(box.height for box in members.values()), math.sqrt(area / ASPECT))
        columns: list[tuple[list[TableKey], bool]] = []  # (column, last of its layer)
        for layer in layers:
            chunks = _wrap(layer, members, target)
            columns += [(chunk, index == len(chunks) - 1) for index, chunk in enumerate(chunks)]
        span = sum(max(members[k].width for k in column) + (COLUMN_GAP if last else WRAP_GAP)
                   for column, last in columns)
        if span > 2.2 * target * ASPECT:  # deeper than wide (a long chain): a grid in layer order instead
            order = [key for layer in layers for key in layer]
            per_row = max(1, min(MAX_GRID_COLUMNS, math.ceil(math.sqrt(len(order) * ASPECT / 2))))
            width, height = _grid(members, [order[start::per_row] for start in range(per_row)])
        else:
            width, height = _columns(members, columns)
    component.width, component.height = width + 2 * FRAME_PAD, height + 2 * FRAME_PAD


def _wrap(layer: list[TableKey], members: dict[TableKey, Box], target: float) -> list[list[TableKey]]:
    """A layer cut into columns of about equal height, none much taller than ``target``."""
    total = sum(members[key].height + BOX_GAP for key in layer)
    count = max(1, math.ceil(total / (target + BOX_GAP)))
    share = total / count
    chunks: list[list[TableKey]] = [[]]
    filled = 0.0
    for key in layer:
        height = members[key].height + BOX_GAP
        if chunks[-1] and filled + height / 2 > share * len(chunks) and len(chunks) < count:
            chunks.append([])
        chunks[-1].append(key)
        filled += height
    return chunks


def _columns(members: dict[TableKey, Box], columns: list[tuple[list[TableKey], bool]]) -> tuple[float, float]:
    heights = [sum(members[k].height for k in column) + BOX_GAP * (len(column) - 1) for column, _last in columns]
    tallest = max(heights)
    x = 0.0
    for (column, last), height in zip(columns, heights, strict=True):
        y = (tallest - height) / 2  # shorter columns centred beside the tallest
        for key in column:
            members[key].x, members[key].y = x, y
            y += members[key].height + BOX_GAP
        x += max(members[k].width for k in column) + (COLUMN_GAP if last else WRAP_GAP)
    # The last gap is kept as room for an edge that loops out to the right of its column.
    return x - COLUMN_GAP + er_diagram.LOOP_ROOM, tallest


def _grid(members: dict[TableKey, Box], columns: list[list[TableKey]]) -> tuple[float, float]:
    columns = [column for column in columns if column]
    rows = max(len(column) for column in columns)
    heights = [max((members[column[r]].height for column in columns if r < len(column)), default=0.0)
               for r in range(rows)]
    x = 0.0
    for column in columns:
        y = 0.0
        for r, key in enumerate(column):
            members[key].x, members[key].y = x, y
            y += heights[r] + BOX_GAP
        x += max(members[k].width for k in column) + COLUMN_GAP
    return x - COLUMN_GAP + er_diagram.LOOP_ROOM, sum(heights) + BOX_GAP * (rows - 1)


def _pack(parts: list[Component]) -> tuple[float, float]:
    """Components in rows (shelves), largest first; returns the picture's size."""
    area = sum((c.width + COMPONENT_GAP) * (c.height + LABEL + COMPONENT_GAP) for c in parts)
    limit = max([math.sqrt(area * PICTURE)] + [component.width for component in parts])
    x, y, shelf, width = float(MARGIN), float(MARGIN), 0.0, float(MARGIN)
    for component in parts:
        if x > MARGIN and x + component.width > MARGIN + limit:
            x, y, shelf = float(MARGIN), y + shelf + COMPONENT_GAP, 0.0
        component.x, component.y = x, y
        x += component.width + COMPONENT_GAP
        shelf = max(shelf, component.height + LABEL)
        width = max(width, x - COMPONENT_GAP)
    return width + MARGIN, y + shelf + MARGIN


def _edge(edge: Edge, boxes: dict[TableKey, Box]) -> str:
    """As :mod:`er_diagram` draws an edge, with the two tables named for the script."""
    drawn = er_diagram._edge(edge, boxes)
    child, parent = boxes[er_diagram._key(edge.child)], boxes[er_diagram._key(edge.parent)]
    # Where the edge meets each box, from the box's top: the script redraws the edge when it moves the boxes.
    rows = f"{child.anchor_y(edge.columns) - child.y:.0f} {parent.anchor_y(edge.parent_columns) - parent.y:.0f}"
    named = (f'<path data-child="{escape(edge.child.qualified_name)}" '
             f'data-parent="{escape(edge.parent.qualified_name)}" data-rows="{rows}" ')
    return named + drawn.removeprefix("<path ")


def _name(key: TableKey) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def _sort(key: TableKey) -> tuple[str, str]:
    return (key[0] or "", key[1].lower())
