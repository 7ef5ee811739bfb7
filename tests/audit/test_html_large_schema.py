"""The HTML report of a 400-table schema (tests/audit/schema_400.py: 22 connected components from 90 tables down to
2, declared and inferred keys, 25 isolated tables): laid out by component with no edge leaving its component,
and in Debian's chromium, offline from file://, opening on the diagram at reading size, zooming, panning and
filtering (a table and its neighbours, missing keys only, one component)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from integrity_kit.audit import Report, audit
from integrity_kit.report import audit_html
from tests.audit import schema_400
from tests.audit.test_html_report import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DRAWN,
    Page,
    _expected_edges,
    _visible_boxes,
)
from tests.servers import in_ci

VIEWPORT = {"width": 1280, "height": 900}
READABLE_PX = 9.99  # a table name drawn at a 10 px font size on screen is read without zooming


@dataclass(frozen=True)
class Built:
    schema: schema_400.Schema
    report: Report
    html: str
    path: Path
    render_ms: float


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    folder = tmp_path_factory.mktemp("schema400")
    engine = create_engine(f"sqlite:///{folder / 'app.db'}")
    try:
        schema = schema_400.build(engine)
        report = audit(engine)
    finally:
        engine.dispose()
    started = time.perf_counter()
    html = audit_html.render(report)
    render_ms = (time.perf_counter() - started) * 1000
    path = folder / "report.html"
    path.write_text(html, encoding="utf-8")
    yield Built(schema, report, html, path, render_ms)


def test_the_generated_schema_is_what_the_audit_reads(built: Built) -> None:
    assert built.report.tables == 400
    declared = Counter(declared for _c, _p, declared in built.schema.references)
    assert declared[True] > 200 and declared[False] > 80  # both kinds, in numbers that make a crowded picture
    edges = {(e["from"].split(".")[0], e["to"].split(".")[0], e["kind"]) for e in Page(built.html).edges}
    assert edges == {(child, parent, "declared" if declared else "inferred")
                     for child, parent, declared in built.schema.references}


def test_laid_out_by_component_with_no_edge_leaving_it(built: Built) -> None:
    page = Page(built.html)
    assert Counter((e["kind"], e["from"], e["to"]) for e in page.edges) == _expected_edges(built.report)
    assert len(page.boxes) == 400
    width, height = page.svg_size or (0, 0)
    for index, (x, y, w, h) in enumerate(page.boxes):
        assert x >= 0 and x + w <= width and y >= 0 and y + h <= height
        for x2, y2, w2, h2 in page.boxes[index + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, "two tables drawn over each other"
    groups = _components(built.html)
    # One group per connected component of the generator, largest first (then by name), the isolated tables last.
    expected = [set(c) for c in sorted((c for c in built.schema.components if len(c) > 1),
                                       key=lambda c: (-len(c), min(c)))]
    expected.append({c[0] for c in built.schema.components if len(c) == 1})
    assert [set(g["tables"]) for g in groups] == expected
    for group in groups:
        fx, fy, fw, fh = group["frame"]
        for x, y, w, h in group["boxes"]:
            assert fx <= x and x + w <= fx + fw and fy <= y and y + h <= fy + fh, "a table outside its frame"
        assert all(child in group["tables"] and parent in group["tables"] for child, parent in group["edges"])
        assert all(span <= fh for span in group["spans"])
        # Compact: a component is folded towards the screen's shape, never one very long row or column.
        assert fw < 4000 and fh < 2600
    assert sum(len(g["edges"]) for g in groups) == len(page.edges)
    # No curtains: an edge climbs a few boxes, not the picture (before: a median of 2,792 px and 9,857 at most).
    spans = sorted(span for g in groups for span in g["spans"])
    assert spans[len(spans) // 2] < 300 and spans[-1] < 1400
    # Packed: the frames fill most of the picture (before: one 3,832 x 11,289 px column for 375 tables).
    assert sum(g["frame"][2] * g["frame"][3] for g in groups) > 0.6 * width * height
    assert 1.2 < width / height < 3


def test_the_diagram_comes_before_the_long_lists(built: Built) -> None:
    text = built.html
    diagram, jump, findings = (text.index(marker) for marker in ('<section id="diagram"', '<nav id="jump"',
                                                                   '<section id="findings"'))
    assert text.index('<section id="summary"') < diagram < jump < findings
    # Hundreds of tables with findings: their list starts folded.
    assert "<details>" in text[jump:findings] and "<details open" not in text[jump:findings]


def test_in_chromium_offline_it_opens_readable_zooms_and_filters(built: Built) -> None:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: a missing browser is a failure, not a skip)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    schema = built.schema
    errors: list[str] = []
    requests: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, offline=True)
            page = context.new_page()
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(built.path.as_uri())
            page.wait_for_selector("svg.er[data-ready]", state="attached")
            load_ms = page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
            print(f"\n400 tables: {len(built.html.encode()) / 1024:.0f} KB of HTML, rendered in "
                  f"{built.render_ms:.0f} ms, parsed and scripted by chromium in {load_ms:.0f} ms")

            # The diagram is in the first viewport, filling what is left of it.
            stage = page.locator(".er-stage").bounding_box()
            assert stage and stage["y"] < VIEWPORT["height"] / 2 and stage["y"] + stage["height"] <= \
                VIEWPORT["height"] and stage["height"] >= 360 and stage["width"] > 1000
            # ... on the largest component, its names readable.
            labels = _visible_labels(page)
            largest = set(max(schema.components, key=len))
            assert len(labels) >= 12 and {name for name, _h in labels} <= largest
            assert min(height for _name, height in labels) >= READABLE_PX
            page.screenshot(path=str(ARTIFACTS / "er_400_initial.png"))

            # Zoom: the buttons and the wheel change the scale, and the names grow and shrink with it.
            scale = _scale(page)
            page.click(".er-in")
            assert _scale(page) == pytest.approx(scale * 1.25, rel=1e-3)
            assert min(h for _n, h in _visible_labels(page)) > min(h for _n, h in labels) * 1.2
            page.click(".er-out")
            page.click(".er-out")
            assert _scale(page) == pytest.approx(scale * 0.8, rel=1e-3)
            page.mouse.move(stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2)
            before = _scale(page)
            page.mouse.wheel(0, -300)
            page.wait_for_function(f"+document.querySelector('svg.er').getAttribute('data-scale') > {before}")
            page.mouse.wheel(0, 600)
            page.wait_for_function(f"+document.querySelector('svg.er').getAttribute('data-scale') < {before}")
            # Drag pans: the same point of the diagram moves with the pointer.
            view = _view_box(page)
            page.mouse.move(stage["x"] + 300, stage["y"] + 200)
            page.mouse.down()
            page.mouse.move(stage["x"] + 420, stage["y"] + 260, steps=4)
            page.mouse.up()
            moved = _view_box(page)
            assert moved[0] == pytest.approx(view[0] - 120 / _scale(page), abs=1)
            assert moved[1] == pytest.approx(view[1] - 60 / _scale(page), abs=1)
            # The keyboard zooms and moves too, once the picture has the focus.
            page.focus(".er-stage")
            before = _scale(page)
            page.keyboard.press("+")
            assert _scale(page) == pytest.approx(before * 1.25, rel=1e-3)
            view = _view_box(page)
            page.keyboard.press("ArrowRight")
            assert _view_box(page)[0] == pytest.approx(view[0] + 80 / _scale(page), abs=0.1)
            # The whole diagram fits the stage.
            page.click(".er-reset")
            assert all(_inside(box, stage) for box in _visible_boxes(page).values())
            assert len(_visible_boxes(page)) == 400

            # The filter: a table and exactly its neighbours, arranged around it and readable.
            chosen = _typical_table(schema)
            page.fill(".er-controls input[type=search]", chosen)
            shown = _visible_boxes(page)
            assert set(shown) == {chosen} | schema.neighbours(chosen)
            assert all(_inside(box, stage) for box in shown.values())
            edges = _visible_edges(page)
            assert Counter((child, parent) for child, parent, _kind in edges) == Counter(
                (child, parent) for child, parent, _d in schema.references if chosen in (child, parent))
            assert min(height for _name, height in _visible_labels(page)) >= READABLE_PX
            page.screenshot(path=str(ARTIFACTS / "er_400_filtered.png"))
            assert chosen in page.inner_text(".er-status")
            # With only the missing keys, the table and the neighbours it is joined to by a missing key.
            page.check(".er-controls input[type=checkbox]")
            missing = {child if parent == chosen else parent for child, parent, declared in schema.references
                       if chosen in (child, parent) and not declared}
            assert set(_visible_boxes(page)) == {chosen} | missing
            assert {kind for _c, _p, kind in _visible_edges(page)} == {"inferred"}
            page.uncheck(".er-controls input[type=checkbox]")
            assert set(_visible_boxes(page)) == {chosen} | schema.neighbours(chosen)
            # Typing part of a name that several tables share highlights them and filters nothing yet.
            page.fill(".er-controls input[type=search]", "order")
            assert "tables match" in page.inner_text(".er-status")
            # ... and Enter takes the first of them by name.
            page.press(".er-controls input[type=search]", "Enter")
            first = min(name for name in schema.tables if "order" in name)
            assert set(_visible_boxes(page)) == {first} | schema.neighbours(first)

            # Only the missing keys: no declared edge is drawn, every inferred one is.
            page.click(".er-reset")
            page.check(".er-controls input[type=checkbox]")
            edges = _visible_edges(page)
            assert {kind for _c, _p, kind in edges} == {"inferred"}
            assert len(edges) == sum(not declared for _c, _p, declared in schema.references)
            page.screenshot(path=str(ARTIFACTS / "er_400_missing_only.png"))
            page.uncheck(".er-controls input[type=checkbox]")
            assert {kind for _c, _p, kind in _visible_edges(page)} == {"declared", "inferred"}

            # The component picker: the second largest component alone, fitted.
            page.select_option(".er-controls select", "2")
            shown = _visible_boxes(page)
            assert set(shown) == set(sorted(schema.components, key=len, reverse=True)[1])
            assert all(_inside(box, stage) for box in shown.values())

            # A click on a table (not on its name's link) chooses it, as typing its name does.
            page.click(".er-reset")
            page.select_option(".er-controls select", "1")
            hub = page.get_attribute('g.component[data-component="1"]', "data-hub")
            assert hub
            box = page.locator(f'g.table[data-table="{hub}"]')
            size = box.bounding_box()
            assert size
            box.click(position={"x": size["width"] / 2, "y": size["height"] * 0.8})
            assert set(_visible_boxes(page)) == {hub} | schema.neighbours(hub)

            # Findings stay linked to their tables: a table's name leads to its findings.
            page.fill(".er-controls input[type=search]", chosen)
            link = page.locator(f'g.table[data-table="{chosen}"] a')
            anchor = (link.get_attribute("href") or "").removeprefix("#")
            assert anchor
            link.click()
            page.wait_for_function(f"location.hash === '#{anchor}'")
            section = page.locator(f"section#{anchor}")
            assert chosen in section.locator("h3").inner_text()
            assert section.evaluate("e => { const r = e.getBoundingClientRect(); return r.top >= -1 && "
                                    "r.top < innerHeight; }")
        finally:
            browser.close()
    assert errors == []
    assert requests == [built.path.as_uri()]


def _components(html: str) -> list[dict]:
    """Each ``g.component``'s tables, boxes, frame and edges, read with the test's HTML parser."""
    from html.parser import HTMLParser

    groups: list[dict] = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = {name: value or "" for name, value in attrs}
            classes = values.get("class", "").split()
            if tag == "g" and "component" in classes:
                groups.append({"tables": [], "boxes": [], "edges": [], "spans": [], "frame": None})
            elif tag == "g" and "table" in classes:
                groups[-1]["tables"].append(values["data-table"])
            elif tag == "rect" and "box" in classes:
                groups[-1]["boxes"].append(tuple(float(values[k]) for k in ("x", "y", "width", "height")))
            elif tag == "rect" and "frame" in classes:
                groups[-1]["frame"] = tuple(float(values[k]) for k in ("x", "y", "width", "height"))
            elif tag == "path" and "fk" in classes:
                groups[-1]["edges"].append((values["data-child"], values["data-parent"]))
                numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", values["d"])]
                groups[-1]["spans"].append(abs(numbers[-1] - numbers[1]))  # from the start's y to the end's

    Reader().feed(html)
    return groups


def _typical_table(schema: schema_400.Schema) -> str:
    """The first table (by name) of the second largest component with four to six neighbours, both kinds of key."""
    component = sorted(schema.components, key=len, reverse=True)[1]
    for name in sorted(component):
        kinds = {declared for child, parent, declared in schema.references if name in (child, parent)}
        if 4 <= len(schema.neighbours(name)) <= 6 and kinds == {True, False}:
            return name
    raise AssertionError("the generator made no table with four to six neighbours")


def _scale(page) -> float:
    return float(page.get_attribute("svg.er", "data-scale") or 0)


def _view_box(page) -> list[float]:
    return [float(v) for v in (page.get_attribute("svg.er", "viewBox") or "").split()]


def _inside(box: dict, stage: dict) -> bool:
    return (box["x"] >= stage["x"] - 1 and box["y"] >= stage["y"] - 1 and box["x"] + box["width"] <=
            stage["x"] + stage["width"] + 1 and box["y"] + box["height"] <= stage["y"] + stage["height"] + 1)


def _visible_edges(page) -> list[tuple[str, str, str]]:
    return [tuple(edge) for edge in page.evaluate("() => { " + DRAWN + """
      return Array.from(document.querySelectorAll('svg.er path.fk')).filter(drawn)
        .map(p => [p.dataset.child, p.dataset.parent, p.classList.contains('inferred') ? 'inferred' : 'declared']);
      }""")]


def _visible_labels(page) -> list[tuple[str, float]]:
    """The table names drawn inside the stage, with their font size on screen in px (the font's size in the
    diagram times the diagram's scale on screen)."""
    return [tuple(label) for label in page.evaluate("() => { " + DRAWN + """
        const stage = document.querySelector('.er-stage').getBoundingClientRect();
        return Array.from(document.querySelectorAll('svg.er g.table')).filter(drawn)
          .map(g => [g.dataset.table, g.querySelector('text.name')])
          .filter(([, text]) => { const r = text.getBoundingClientRect();
                                  return r.left >= stage.left && r.right <= stage.right && r.top >= stage.top &&
                                         r.bottom <= stage.bottom; })
          .map(([name, text]) => [name, parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a]);
        }""")]
