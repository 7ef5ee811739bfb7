"""The HTML report: read back with an HTML parser (every foreign key has its edge, every finding its evidence and
fix, hostile names stay text, nothing is fetched), laid out without overlaps at 7 and at 150 tables, loaded in
Debian's chromium through Playwright, and written by the CLI."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine

from examples.ecommerce import database, sample_data
from integrity_kit.audit import Report, audit
from integrity_kit.cli import cli
from integrity_kit.report import audit_html
from integrity_kit.report.html import diagram
from integrity_kit.schema import NotAnalysed
from tests.db import execute
from tests.servers import in_ci

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# Attributes through which a page loads something.
FETCHING = {"src", "href", "xlink:href", "srcset", "action", "poster", "data", "background", "formaction"}


class Page(HTMLParser):
    """What a test needs from the report: the tags, the edges, the boxes, the code blocks, the findings' text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attributes: list[tuple[str, str, str]] = []
        self.edges: list[dict[str, str]] = []
        self.boxes: list[tuple[float, float, float, float]] = []
        self.svg_size: tuple[float, float] | None = None
        self.code: list[str] = []
        self.articles: dict[str, list[str]] = {}
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._open: list[str] = []
        self._in_code = False
        self._article: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags[tag] += 1
        self.attributes += [(tag, name, value) for name, value in values.items()]
        classes = values.get("class", "").split()
        if tag == "path" and "fk" in classes:
            self.edges.append({"kind": classes[1], "from": values["data-from"], "to": values["data-to"]})
        if tag == "rect" and "box" in classes:
            self.boxes.append(tuple(float(values[k]) for k in ("x", "y", "width", "height")))
        if tag == "svg" and "er" in classes:
            self.svg_size = (float(values["width"]), float(values["height"]))
        if tag == "article":
            self._article = values["data-fingerprint"]
            self.articles[self._article] = []
        if tag == "script":
            self.scripts.append("")
        if tag == "code" and self._open[-1:] == ["pre"]:
            self._in_code = True
            self.code.append("")
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop() == tag:
                break
        if tag == "article":
            self._article = None
        if tag == "code":
            self._in_code = False

    def handle_data(self, data: str) -> None:
        if self._open[-1:] == ["script"]:
            self.scripts[-1] += data
            return
        self.text.append(data)
        if self._in_code:
            self.code[-1] += data
        if self._article:
            self.articles[self._article].append(data)


def _legacy_report(engine, rows: int = 500) -> Report:
    database.create_schema(engine, legacy=True)
    sample_data.load(engine, rows=rows, legacy=True)
    return audit(engine)


def _expected_edges(report: Report) -> Counter:
    snapshot = report.snapshot
    declared = Counter(("declared", f"{t.qualified_name}.{','.join(fk.columns)}",
                        f"{snapshot.referred_table(fk).qualified_name}.{','.join(fk.referred_columns)}")
                       for t in snapshot.tables for fk in t.foreign_keys)
    inferred = Counter(("inferred", f"{f.table}.{','.join(f.columns)}",
                        f"{f.target['table']}.{','.join(f.target['columns'])}")
                       for f in report.findings if f.rule == "missing-foreign-key")
    return declared + inferred


def _no_overlap(boxes: list[tuple[float, float, float, float]], size: tuple[float, float]) -> None:
    width, height = size
    for x, y, w, h in boxes:
        assert x >= 0 and x + w <= width and y >= 0 and y + h <= height
    for index, (x, y, w, h) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[index + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, "two tables drawn over each other"


def test_every_foreign_key_has_exactly_one_edge(app_engine, engine_name: str) -> None:
    report = _legacy_report(app_engine)
    page = Page(audit_html.render(report))
    expected = _expected_edges(report)
    # The legacy schema declares some keys and lacks others: both kinds must be drawn.
    assert {kind for kind, _f, _t in expected} == {"declared", "inferred"}
    assert Counter((e["kind"], e["from"], e["to"]) for e in page.edges) == expected
    assert len(page.boxes) == report.tables
    _no_overlap(page.boxes, page.svg_size)


@pytest.mark.engines("sqlite")
def test_every_finding_with_its_evidence_and_fix_as_the_json_has_them(app_engine) -> None:
    report = _legacy_report(app_engine)
    report = dataclasses.replace(report, not_analysed=[NotAnalysed("orders <b>", "probe failed: timeout & more")])
    text = audit_html.render(report)
    page = Page(text)
    findings = report.to_dict()["findings"]
    assert set(page.articles) == {f["fingerprint"] for f in findings} and len(page.articles) == len(findings)
    for finding in findings:
        shown = "".join(page.articles[finding["fingerprint"]])
        assert finding["message"] in shown and finding["code"] in shown and finding["rule"] in shown
        assert finding["severity"] in shown
        for name, value in finding["evidence"].items():
            assert name in shown
            assert (value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)) in shown
        if "fix" in finding:
            assert finding["fix"]["sql"] in page.code and finding["fix"]["alembic"] in page.code
    mistotalled = next(f for f in findings if f["rule"] == "derived-total-mismatch")
    assert json.dumps(mistotalled["evidence"]["sample_keys"]) in "".join(page.articles[mistotalled["fingerprint"]])
    everything = "".join(page.text)
    assert report.url in everything and "sqlite" in everything
    for severity, count in report.by_severity().items():
        assert f"{count} {severity}" in " ".join(everything.split())
    assert "orders <b>" in everything and "probe failed: timeout & more" in everything
    assert page.tags["b"] == 3  # the legend's three markers, not the table name


@pytest.mark.engines("sqlite")
def test_hostile_names_are_shown_as_text(engine) -> None:
    hostile = 'x"; DROP TABLE users; --'
    script = "<script>alert(1)</script>"
    image = "<img src=x onerror=alert(1)>"
    execute(engine, "CREATE TABLE users (id INTEGER PRIMARY KEY)",
            f'CREATE TABLE "{script}" (id INTEGER PRIMARY KEY, user_id INTEGER, "{image}" FLOAT)',
            f'CREATE TABLE "{hostile.replace(chr(34), chr(34) * 2)}" (id INTEGER PRIMARY KEY, '
            "user_id INTEGER REFERENCES users (id))")
    report = audit(engine)
    text = audit_html.render(report)
    page = Page(text)
    # The one script is the report's own diagram script, byte for byte; nothing from the database runs.
    assert page.scripts == [diagram.script()] and page.tags["img"] == 0
    assert not [a for a in page.attributes if a[1].startswith("on")]
    everything = "".join(page.text)
    assert script in everything and image in everything and hostile in everything
    assert {("inferred", f"{script}.user_id", "users.id"), ("declared", f"{hostile}.user_id", "users.id")} <= \
        {(e["kind"], e["from"], e["to"]) for e in page.edges}


@pytest.mark.engines("sqlite")
def test_nothing_is_fetched_from_the_network(app_engine) -> None:
    text = audit_html.render(_legacy_report(app_engine))
    page = Page(text)
    assert "http://" not in text and "https://" not in text
    fetched = [(tag, name, value) for tag, name, value in page.attributes if name in FETCHING]
    # Only links inside the page (the diagram's tables to their findings).
    assert fetched and all(value.startswith("#") for _tag, _name, value in fetched)
    assert "@import" not in text and "@font-face" not in text
    assert all(part.startswith("#") for part in text.split("url(")[1:])
    assert page.tags["link"] == page.tags["iframe"] == 0
    # One inline script, the diagram's, with no source to fetch; the policy allows exactly it (by its hash).
    assert page.scripts == [diagram.script()] and not [a for a in page.attributes if a[0] == "script"]
    policy = next(value for _tag, name, value in page.attributes if name == "http-equiv" and
                  value == "Content-Security-Policy")
    assert policy
    csp = next(value for tag, name, value in page.attributes if tag == "meta" and name == "content" and
               "default-src" in value)
    digest = base64.b64encode(hashlib.sha256(diagram.script().encode()).digest()).decode()
    assert "default-src 'none'" in csp and f"script-src 'sha256-{digest}'" in csp and "unsafe-eval" not in csp
    assert csp.count("script-src") == 1 and "'unsafe-inline'" not in csp.split("script-src")[1]


@pytest.mark.engines("sqlite")
def test_a_hundred_and_fifty_tables_stay_bounded_and_apart(engine) -> None:
    statements = ["CREATE TABLE t000 (id INTEGER PRIMARY KEY, name VARCHAR(20))"]
    for index in range(1, 150):  # a long chain of declared keys, and a missing one every third table
        extra = f", t{index - 2:03d}_id INTEGER" if index % 3 == 0 else ""
        statements.append(f"CREATE TABLE t{index:03d} (id INTEGER PRIMARY KEY, t{index - 1:03d}_id INTEGER "
                          f"REFERENCES t{index - 1:03d} (id){extra}, note VARCHAR(40))")
    execute(engine, *statements)
    report = audit(engine, data=False)
    page = Page(audit_html.render(report))
    assert Counter((e["kind"], e["from"], e["to"]) for e in page.edges) == _expected_edges(report)
    assert len(page.boxes) == 150
    _no_overlap(page.boxes, page.svg_size)
    width, _height = page.svg_size
    assert width < 2600, "a deep schema must grow down, not sideways"


@pytest.mark.engines("sqlite")
def test_the_report_in_a_real_browser(app_engine, tmp_path) -> None:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: a missing browser is a failure, not a skip)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    report = _legacy_report(app_engine)
    path = tmp_path / "report.html"
    path.write_text(audit_html.render(report), encoding="utf-8")
    expected = _expected_edges(report)
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            declared = page.locator("svg.er path.fk.declared")
            inferred = page.locator("svg.er path.fk.inferred")
            assert declared.count() == sum(n for (kind, _f, _t), n in expected.items() if kind == "declared")
            assert inferred.count() == sum(n for (kind, _f, _t), n in expected.items() if kind == "inferred")
            # Dashed really means dashed once the stylesheet is applied, and solid stays solid.
            assert inferred.first.evaluate("e => getComputedStyle(e).strokeDasharray") != "none"
            assert declared.first.evaluate("e => getComputedStyle(e).strokeDasharray") == "none"
            assert page.locator("svg.er g.table").count() == report.tables
            assert page.locator("article.finding").count() == len(report.findings)
            diagram = page.locator("svg.er").bounding_box()
            assert diagram and diagram["width"] > 300 and diagram["height"] > 200
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "html-report-legacy.png"), full_page=True)
            page.locator("#diagram").screenshot(path=str(ARTIFACTS / "html-report-legacy-diagram.png"))
        finally:
            browser.close()
    assert errors == []
    assert requests == [path.as_uri()]
    assert (ARTIFACTS / "html-report-legacy.png").stat().st_size > 10_000


@pytest.mark.engines("sqlite")
def test_the_cli_writes_the_file_and_exits_as_for_the_other_formats(app_engine, engine_url, tmp_path) -> None:
    url = engine_url.render_as_string(hide_password=False)
    database.create_schema(app_engine, legacy=True)
    runner = CliRunner()
    output = tmp_path / "report.html"
    result = runner.invoke(cli, ["audit", url, "--format", "html", "--output", str(output)])
    as_json = runner.invoke(cli, ["audit", url, "--format", "json"])
    assert result.exit_code == as_json.exit_code == 1
    assert result.output == ""
    page = Page(output.read_text(encoding="utf-8"))
    assert len(page.articles) == json.loads(as_json.output)["summary"]["findings"]
    quiet = runner.invoke(cli, ["audit", url, "--format", "html", "--fail-on", "never"])
    assert quiet.exit_code == 0 and quiet.output.startswith("<!DOCTYPE html>")


def test_a_clean_database_exits_0(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'clean.db'}"
    engine = create_engine(url)
    try:
        execute(engine, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    finally:
        engine.dispose()
    result = CliRunner().invoke(cli, ["audit", url, "--format", "html", "--fail-on", "info"])
    assert result.exit_code == 0
    assert "No findings." in result.output and "Everything was analysed." in result.output


@pytest.mark.engines("sqlite")
def test_the_diagram_filter_takes_hostile_names_as_text(engine, tmp_path) -> None:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: a missing browser is a failure, not a skip)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    script = "<script>alert(1)</script>"
    quoted = 'a"b\'c'
    execute(engine, "CREATE TABLE users (id INTEGER PRIMARY KEY)",
            f'CREATE TABLE "{script}" (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))',
            f'CREATE TABLE "{quoted.replace(chr(34), chr(34) * 2)}" (id INTEGER PRIMARY KEY, user_id INTEGER)',
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    path = tmp_path / "report.html"
    path.write_text(audit_html.render(audit(engine)), encoding="utf-8")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
            page.goto(path.as_uri())
            page.wait_for_selector("svg.er[data-ready]", state="attached")
            # Two groups: the three tables around users, and notes alone.
            assert page.locator("svg.er g.component").count() == 2
            page.fill(".er-controls input[type=search]", script)
            assert set(_visible_boxes(page)) == {script, "users"}
            assert script in page.inner_text(".er-status")
            page.fill(".er-controls input[type=search]", quoted)
            assert set(_visible_boxes(page)) == {quoted, "users"}
            page.fill(".er-controls input[type=search]", "users")
            assert set(_visible_boxes(page)) == {script, quoted, "users"}
        finally:
            browser.close()
    assert errors == []


# Drawn means the browser gave it a box: an element hidden by the filters (display: none) has an empty one.
DRAWN = "const drawn = e => { const r = e.getBoundingClientRect(); return r.width > 0 || r.height > 0; };"


def _visible_boxes(page) -> dict[str, dict]:
    """Each drawn table's box on screen, as the browser lays it out (hidden ones are not drawn)."""
    return page.evaluate("() => { " + DRAWN + """
      return Object.fromEntries(Array.from(document.querySelectorAll('svg.er g.table')).filter(drawn)
        .map(g => { const r = g.querySelector('rect.box').getBoundingClientRect();
                    return [g.dataset.table, {x: r.x, y: r.y, width: r.width, height: r.height}]; })); }""")
