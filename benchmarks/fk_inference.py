"""How many undeclared foreign keys the audit finds, beside SchemaSpy's and ruby-pg-extras' rules, on real schemas.

    python benchmarks/fk_inference.py [--engines sqlite,postgresql,mariadb] [--json FILE] [--timing-tables 1000]
                                      [--before REV] [--repeats 3]

Every schema of ``../shared/corpus`` (chinook in three dialects, sakila in three, employees) is loaded into a
scratch database; its declared foreign keys are the truth, and the snapshot the methods read has them taken away
(the same as loading the script with its FK clauses removed: the indexes stay, as they would). Then, in one run:

- ``audit``: the missing-foreign-key rule with the data probes (the rows prove or drop each candidate);
- ``audit --no-data``: the same rule on the schema alone;
- ``schemaspy``: SchemaSpy's implied-relationship rule (``ImpliedConstraintsFinder``): a column that is neither a
  foreign key nor part of its table's primary key, whose name equals a single-column primary key's name, ends in
  ``_<pk>`` or reads ``<table>…<pk>`` (case-blind), of the same type and length; dropped when two parents match;
- ``pg-extras``: ruby-pg-extras' ``missing_fk_constraints`` (``DetectFkColumn``): a column ending in ``_id`` whose
  first word, pluralised, is a table's name.

A found reference is ``(table, columns, target table)``; recall and precision are computed per schema, engine and
method, every miss and every wrong guess is listed with its reason, and the intact schema (FKs declared) is audited
too: any missing-foreign-key finding there is a false alarm. Among the audit's findings of confidence >= 0.9 the
share that is right is the calibration check. PostgreSQL and MariaDB are used when reachable (``IK_TEST_POSTGRES_URL``
/ ``IK_TEST_MYSQL_URL``), each schema in its own scratch database ``fk_bench_<hex>``, dropped afterwards.

Last, the rule's cost: the audit (``audit(url, data=False)``) and the rule's own ``check`` on a generated
1,000-table SQLite schema, timed here and, with ``--before REV``, with the package as it was at ``REV`` (extracted
with ``git archive`` into a temporary folder and run in a subprocess), so the two numbers come from one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Key = tuple[str, tuple[str, ...], str]
METHODS = ("audit", "audit --no-data", "schemaspy", "pg-extras")
# The corpus ships these without rows: the benchmark generates rows that keep their declared keys.
SCHEMA_ONLY = ("sakila", "employees")


def _key(table: str, columns: tuple[str, ...] | list[str], target: str) -> Key:
    # MySQL on a case-insensitive file system reports table names in lower case; compare case-blind.
    return (table.lower(), tuple(c.lower() for c in columns), target.lower())


# --- the baselines, on the same reflection ----------------------------------------------------------------------

def schemaspy(snapshot) -> dict[Key, dict[str, Any]]:
    """SchemaSpy's ``ImpliedConstraintsFinder.find`` over a Snapshot (see the module docstring)."""
    from integrity_kit.audit.naming import exact_type


    parents = []
    for table in snapshot.tables:
        if table.primary_key and len(table.primary_key.columns) == 1:
            parents.append((table, table.column(table.primary_key.columns[0])))
    found: dict[Key, dict[str, Any]] = {}
    for table in snapshot.tables:
        declared = {c for fk in table.foreign_keys for c in fk.columns}
        primary = set(table.primary_key.columns) if table.primary_key else set()
        for column in table.columns:
            if column.name in declared or column.name in primary:
                continue
            match = None
            for parent, key in parents:
                name_matches = (column.name.lower() == key.name.lower()
                                or re.fullmatch(f"(?i).*_{re.escape(key.name)}", column.name) is not None
                                or re.fullmatch(f"(?i){re.escape(parent.name)}.*{re.escape(key.name)}",
                                                column.name) is not None)
                if name_matches and exact_type(column) == exact_type(key):
                    if match is not None:  # two parents: SchemaSpy makes no implied relationship at all
                        match = None
                        break
                    match = (parent, key)
            if match and match[0] is not table:
                found[_key(table.name, (column.name,), match[0].name)] = {"signals": ["schemaspy name+type"]}
    return found


_PLURAL_RULES = [  # ruby-pg-extras' DetectFkColumn::PLURAL_RULES, applied last rule first
    (r"s$", "s"), (r"^(ax|test)is$", r"\1es"), (r"(octop|vir)us$", r"\1i"), (r"(alias|status)$", r"\1es"),
    (r"(bu)s$", r"\1ses"), (r"(buffal|tomat)o$", r"\1oes"), (r"([ti])um$", r"\1a"), (r"sis$", "ses"),
    (r"(?:([^f])fe|([lr])f)$", r"\1\2ves"), (r"([^aeiouy]|qu)y$", r"\1ies"), (r"(x|ch|ss|sh)$", r"\1es"),
    (r"(matr|vert|ind)(?:ix|ex)$", r"\1ices"), (r"^(m|l)ouse$", r"\1ice"), (r"^(ox)$", r"\1en"),
    (r"(quiz)$", r"\1zes")]
_IRREGULAR = {"person": "people", "man": "men", "child": "children", "sex": "sexes", "move": "moves",
              "zombie": "zombies"}
_UNCOUNTABLE = {"equipment", "information", "rice", "money", "species", "series", "fish", "sheep", "jeans", "police"}


def _pluralize(word: str) -> str:


    if word.lower() in _UNCOUNTABLE:
        return word
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _IRREGULAR.values():
        return {v: k for k, v in _IRREGULAR.items()}[word]
    for rule, replacement in reversed(_PLURAL_RULES):
        if re.search(rule, word, re.IGNORECASE):
            return re.sub(rule, replacement, word, flags=re.IGNORECASE)  # unmatched groups: ''
    return word + "s"


def pg_extras(snapshot) -> dict[Key, dict[str, Any]]:
    """ruby-pg-extras' ``MissingFkConstraints`` + ``DetectFkColumn`` (see the module docstring)."""


    names = {table.name for table in snapshot.tables}
    found: dict[Key, dict[str, Any]] = {}
    for table in snapshot.tables:
        declared = {c for fk in table.foreign_keys for c in fk.columns}
        for column in table.columns:
            if column.name in declared or not re.search(r"_id$", column.name):
                continue
            target = _pluralize(column.name.split("_")[0])
            if target in names:
                found[_key(table.name, (column.name,), target)] = {"signals": ["pg-extras <word>_id"]}
    return found


# --- the audit --------------------------------------------------------------------------------------------------

def audit_rule(snapshot, url: URL | None) -> tuple[dict[Key, dict[str, Any]], list[str]]:
    """The missing-foreign-key rule on ``snapshot``; with ``url``, its data probes on a read-only connection with
    the audit's own time budget, as ``integrity-kit audit`` runs them."""
    from integrity_kit.audit.probes import Probe
    from integrity_kit.audit.rules.keys import MissingForeignKey
    from integrity_kit.audit.runner import run_rules
    from integrity_kit.audit.session import Budget, read_only

    if url is None:
        report = run_rules(snapshot, [MissingForeignKey], url="-")
    else:
        engine = create_engine(url)
        try:
            with engine.connect() as connection, read_only(connection, Budget(30.0, 3.0)):
                report = run_rules(snapshot, [MissingForeignKey], url="-", probe=Probe(connection))
        finally:
            engine.dispose()
    found = {}
    for finding in report.findings:
        if finding.rule != "missing-foreign-key" or not finding.target:
            continue
        found[_key(finding.table, finding.columns, finding.target["table"])] = {
            "confidence": round(finding.confidence, 2), "message": finding.message,
            "signals": finding.evidence.get("signals", []),
            **{k: v for k, v in finding.evidence.items() if k != "signals"}}
    return found, [f"{item.object}: {item.reason}" for item in report.not_analysed]


# --- scratch databases ------------------------------------------------------------------------------------------

SERVERS = {
    "postgresql": os.environ.get("IK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("IK_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def reachable(engine_name: str) -> str | None:
    if engine_name == "sqlite":
        return None
    engine = create_engine(SERVERS[engine_name], connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except Exception as error:  # any failure to connect means "no server here"
        return str(error).splitlines()[0]
    finally:
        engine.dispose()


@contextmanager
def scratch(engine_name: str) -> Iterator[URL]:
    if engine_name == "sqlite":
        with tempfile.TemporaryDirectory(prefix="fk_bench_") as folder:
            yield make_url(f"sqlite:///{folder}/corpus.db")
        return
    server = make_url(SERVERS[engine_name])
    name = f"fk_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield server.set(database=name)
        finally:
            drop = f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if engine_name == "postgresql" else "")
            with admin.connect() as connection:
                connection.execute(text(drop))
    finally:
        admin.dispose()


# --- rows for the schema-only loads -----------------------------------------------------------------------------

ROWS = 60


def fill(url: URL, snapshot, seed: int = 21) -> list[str]:
    """Rows for a schema the corpus ships without data (sakila, employees), consistent with its declared keys:
    keys 1..n (or ``k1``..``kn`` for text keys), each reference a random existing parent key (a composite one
    copies a parent row), and the other columns plausible values of their type (integers 1..200, so counts and
    lengths look like keys as often as they do in real data). Foreign-key checks are off while loading (sakila's
    store and staff refer to each other); tables a trigger already filled are left as they are. Returns the
    tables that could not be filled, with why."""
    from sqlalchemy import column as sa_column
    from sqlalchemy import insert
    from sqlalchemy import table as sa_table

    from integrity_kit.audit.naming import family

    rng = random.Random(seed)
    keys: dict[str, list[tuple[Any, ...]]] = {}
    for table in snapshot.tables:
        pk = table.primary_key.columns if table.primary_key else ()
        keys[table.name.lower()] = [tuple(_value(table.column(c), i, rng, family, key=True) for c in pk)
                                    for i in range(1, ROWS + 1)]
    problems = []
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name in ("mysql", "mariadb"):
                connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
            elif engine.dialect.name == "postgresql":
                connection.exec_driver_sql("SET session_replication_role = replica")  # FK triggers off
        for table in snapshot.tables:
            pk = table.primary_key.columns if table.primary_key else ()
            by_column = {}
            for fk in table.foreign_keys:
                by_column[fk.columns] = (fk.referred_table.lower(), fk.referred_columns)
            rows = []
            seen: set[tuple[Any, ...]] = set()
            uniques = [tuple(pk)] + [tuple(u.columns) for u in table.unique_constraints]
            uniques += [tuple(c for c in ix.columns if c) for ix in table.indexes if ix.unique]
            taken: dict[tuple[str, ...], set[tuple[Any, ...]]] = {u: set() for u in uniques if u}
            uniques = [u for u in uniques if u]
            for i in range(1, ROWS + 1):
                for _attempt in range(20):
                    row: dict[str, Any] = {}
                    for name, value in zip(pk, keys[table.name.lower()][i - 1], strict=True):
                        row[name] = value
                    for columns, (parent, parent_columns) in by_column.items():
                        parent_table = next((t for t in snapshot.tables if t.name.lower() == parent), None)
                        if parent_table is None or not keys.get(parent):
                            continue
                        parent_pk = parent_table.primary_key.columns if parent_table.primary_key else ()
                        # A unique reference (store.manager_staff_id) takes each parent once, in turn.
                        unique = any(set(columns) == set(u) for u in uniques)
                        pick = keys[parent][(i - 1) % len(keys[parent])] if unique else rng.choice(keys[parent])
                        chosen = dict(zip(parent_pk, pick, strict=True))
                        for child_column, parent_column in zip(columns, parent_columns, strict=True):
                            if parent_column in chosen:
                                row[child_column] = chosen[parent_column]
                    for c in table.columns:
                        if c.name in row or c.autoincrement is True and c.name in pk and not row.get(c.name):
                            continue
                        if c.server_default is not None or c.computed:
                            continue  # the database's own default (and tsvector triggers) fill these
                        value = _value(c, i, rng, family)
                        if value is _SKIP:
                            continue
                        row[c.name] = value
                    if all(tuple(row.get(n) for n in u) not in taken[u] for u in taken):
                        break
                for u in taken:
                    taken[u].add(tuple(row.get(n) for n in u))
                key = tuple(row.get(n) for n in pk)
                if key in seen:
                    continue
                seen.add(key)
                rows.append(row)
            names = sorted({n for row in rows for n in row})
            target = sa_table(table.name, *(sa_column(n) for n in names), schema=table.schema)
            try:
                with engine.begin() as connection:
                    if engine.dialect.name in ("mysql", "mariadb"):
                        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
                    elif engine.dialect.name == "postgresql":
                        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
                    quoted = engine.dialect.identifier_preparer.quote(table.name)
                    if connection.exec_driver_sql(f"SELECT COUNT(*) FROM {quoted}").scalar():
                        continue  # a trigger filled it from its parent (sakila's film_text)
                    connection.execute(insert(target), [{n: row.get(n) for n in names} for row in rows])
            except Exception as error:  # a table the generic values cannot satisfy is reported, not fatal
                problems.append(f"{table.name}: {str(error).splitlines()[0][:160]}")
    finally:
        engine.dispose()
    return problems


_SKIP = object()


def _value(c, i: int, rng: random.Random, family, key: bool = False) -> Any:
    kind = family(c)
    upper = c.type_sql.upper()
    if key and kind == "string":
        return f"k{i}"
    if key and kind == "integer":
        return i
    if kind == "integer":
        return i if c.name.lower().endswith("id") or "YEAR" in upper else rng.randint(1, 200)
    if "YEAR" in upper:
        return 2006
    if kind == "string":
        enum = getattr(c.type, "enums", None) or getattr(c.type, "values", None)
        if enum:
            return enum[0]
        length = getattr(c.type, "length", None) or 40
        return f"k{i}"[:length] if length < 4 else f"v{i}-{rng.randint(0, 999)}"[:length]
    if kind in ("numeric", "float"):
        return round(rng.uniform(0.5, 9.99), 2)
    if kind == "boolean":
        return bool(i % 2)
    if "DATE" in upper or "TIME" in upper:
        return f"2007-0{1 + i % 5}-{1 + i % 27:02d} 10:00:00" if "TIME" in upper else f"2007-0{1 + i % 5}-15"
    if "BLOB" in upper or "BINARY" in upper or "BYTEA" in upper:
        return b"x"
    return _SKIP if c.nullable else "0"


# --- one schema on one engine -----------------------------------------------------------------------------------

def score(truth: set[Key], found: dict[Key, dict[str, Any]]) -> dict[str, Any]:
    hits = truth & set(found)
    return {"declared": len(truth), "found": len(found), "right": len(hits),
            "recall": round(len(hits) / len(truth), 3) if truth else None,
            "precision": round(len(hits) / len(found), 3) if found else None}


def reasons(truth: set[Key], runs: dict[str, dict[Key, dict[str, Any]]], method: str,
            diagnose) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    found = runs[method]
    misses, wrong = [], []
    for key in sorted(truth - set(found)):
        table, columns, target = key
        other = [k for k in found if k[:2] == (table, columns)]
        if other:
            why = f"pointed at {other[0][2]} instead ({', '.join(found[other[0]].get('signals', []))})"
        elif method == "audit" and key in runs["audit --no-data"]:
            evidence = {k: v for k, v in runs["audit --no-data"][key].items() if k in ("confidence",)}
            why = f"found by name ({evidence}) but dropped by the data evidence"
        elif method.startswith("audit"):
            why = diagnose(key)
        else:
            why = "the rule's name pattern does not match"
        misses.append({"reference": f"{table}.{','.join(columns)} -> {target}", "reason": why})
    for key in sorted(set(found) - truth):
        table, columns, target = key
        right = [k for k in truth if k[:2] == (table, columns)]
        detail = found[key]
        why = (f"the column refers to {right[0][2]}" if right else "the column is no reference")
        why += f"; confidence {detail['confidence']}" if "confidence" in detail else ""
        why += f"; signals: {', '.join(detail.get('signals', []))}"
        wrong.append({"guess": f"{table}.{','.join(columns)} -> {target}", "reason": why})
    return misses, wrong


def one(schema: str, engine_name: str) -> dict[str, Any]:
    from integrity_kit.schema import build_snapshot
    from tests.audit.corpus import load

    with scratch(engine_name) as url:
        load(schema, engine_name, url)
        engine = create_engine(url)
        try:
            snapshot = build_snapshot(engine)
        finally:
            engine.dispose()
        truth = {_key(t.name, fk.columns, fk.referred_table) for t in snapshot.tables for fk in t.foreign_keys}
        generated: list[str] | None = None
        if schema in SCHEMA_ONLY:
            generated = fill(url, snapshot)
        stripped = dataclasses.replace(
            snapshot, tables=tuple(dataclasses.replace(table, foreign_keys=()) for table in snapshot.tables))
        rows = 0
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                for table in snapshot.tables:
                    quoted = engine.dialect.identifier_preparer.quote(table.name)
                    rows += connection.exec_driver_sql(f"SELECT COUNT(*) FROM {quoted}").scalar() or 0
        finally:
            engine.dispose()
        runs: dict[str, dict[Key, dict[str, Any]]] = {}
        problems: dict[str, list[str]] = {}
        timings: dict[str, float] = {}
        started = time.perf_counter()
        runs["audit"], problems["audit"] = audit_rule(stripped, url)
        timings["audit"] = time.perf_counter() - started
        started = time.perf_counter()
        runs["audit --no-data"], problems["audit --no-data"] = audit_rule(stripped, None)
        timings["audit --no-data"] = time.perf_counter() - started
        runs["schemaspy"] = schemaspy(stripped)
        runs["pg-extras"] = pg_extras(stripped)
        intact, _ = audit_rule(snapshot, url)
    diagnose = _diagnoser(stripped)
    result: dict[str, Any] = {"schema": schema, "engine": engine_name, "tables": len(snapshot.tables),
                              "rows": rows, "rows_generated": generated is not None, "not_filled": generated or [],
                              "intact_findings": sorted(f"{t}.{','.join(c)} -> {g}" for t, c, g in intact),
                              "methods": {}}
    confident = [(k, v) for k, v in runs["audit"].items() if v.get("confidence", 0) >= 0.9]
    result["confident"] = {"findings": len(confident), "right": sum(1 for k, _ in confident if k in truth)}
    for method in METHODS:
        misses, wrong = reasons(truth, runs, method, diagnose)
        result["methods"][method] = {**score(truth, runs[method]), "misses": misses, "wrong": wrong,
                                     "seconds": round(timings.get(method, 0.0), 3),
                                     "not_analysed": problems.get(method, [])}
    return result


def _diagnoser(snapshot):
    """Why the rule made no finding for a declared reference: the rule's own best candidate for the column, when
    the rule can say (``MissingForeignKey.candidates_for``), else only that it had none."""
    from integrity_kit.audit.rules import keys

    def diagnose(key: Key) -> str:
        table_name, columns, target = key
        table = next(t for t in snapshot.tables if t.name.lower() == table_name)
        if len(columns) > 1:
            return "a composite reference: no candidate"
        column = next(c for c in table.columns if c.name.lower() == columns[0])
        explain = getattr(keys.MissingForeignKey, "explain_column", None)
        if explain is None:
            return "no candidate reached the report threshold"
        return str(explain(keys.MissingForeignKey(), snapshot, table, column))

    return diagnose


# --- the rule's cost on 1,000 tables ----------------------------------------------------------------------------

def generated_schema(tables: int, seed: int = 1000) -> list[str]:
    """``tables`` tables in modules of 25 (``m07_invoice``): each refers to one or two earlier tables of its module
    by ``<parent>_id``, 70% of them declared, plus a few text and number columns."""
    rng = random.Random(seed)
    nouns = ("account", "customer", "order", "order_line", "invoice", "payment", "product", "category", "supplier",
             "warehouse", "shipment", "address", "contact", "employee", "department", "project", "task", "comment",
             "attachment", "price", "discount", "coupon", "review", "session", "event")
    statements = []
    for index in range(tables):
        module, position = divmod(index, len(nouns))
        name = f"m{module:02d}_{nouns[position]}"
        columns = ["id INTEGER PRIMARY KEY", "name VARCHAR(80) NOT NULL", "created_at TIMESTAMP",
                   "quantity INTEGER", "code VARCHAR(20)"]
        for _ in range(1 if position < 3 else rng.choice((1, 2))):
            if position == 0:
                break
            parent = f"m{module:02d}_{nouns[rng.randrange(position)]}"
            column = f"{parent}_id INTEGER"
            if column.split()[0] in {c.split()[0] for c in columns}:
                continue
            columns.append(column + (f" REFERENCES {parent} (id)" if rng.random() < 0.7 else ""))
        statements.append(f"CREATE TABLE {name} ({', '.join(columns)})")
    return statements


def timing(tables: int, repeats: int) -> dict[str, Any]:
    """Median seconds of ``audit(url, data=False)`` and of the rule's ``check`` alone, on a fresh SQLite file."""
    from integrity_kit.audit import audit
    from integrity_kit.audit.rules.keys import MissingForeignKey
    from integrity_kit.schema import build_snapshot

    with tempfile.TemporaryDirectory(prefix="fk_bench_") as folder:
        url = f"sqlite:///{folder}/generated.db"
        engine = create_engine(url)
        with engine.begin() as connection:
            for statement in generated_schema(tables):
                connection.exec_driver_sql(statement)
        snapshot = build_snapshot(engine)
        engine.dispose()
        whole, rule = [], []
        findings: list[Any] = []
        for _ in range(repeats):
            started = time.perf_counter()
            report = audit(url, data=False)
            whole.append(time.perf_counter() - started)
            started = time.perf_counter()
            findings = list(MissingForeignKey().check(snapshot))
            rule.append(time.perf_counter() - started)
        missing = sum(1 for f in report.findings if f.rule == "missing-foreign-key")
    # The generator's undeclared references are the truth here: `<parent>_id` columns without REFERENCES.
    truth = {(s.split()[2], part.split()[0], part.split()[0][:-3]) for s in generated_schema(tables)
             for part in s[s.index("(") + 1:-1].split(", ") if part.endswith("_id INTEGER")}
    found = {(f.table, f.columns[0], f.target["table"]) for f in findings}
    return {"tables": tables, "audit_s": round(statistics.median(whole), 3),
            "rule_check_s": round(statistics.median(rule), 4), "rule_findings": len(findings),
            "audit_missing_fk_findings": missing, "undeclared": len(truth), "right": len(found & truth)}


def timing_before(rev: str, tables: int, repeats: int) -> dict[str, Any] | None:
    """The same timing with the package as it was at ``rev``, in a subprocess whose path starts there."""
    with tempfile.TemporaryDirectory(prefix="fk_bench_before_") as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "integrity_kit"], capture_output=True)
        if archive.returncode != 0:
            print(f"--before {rev}: git archive failed: {archive.stderr.decode().strip()}", file=sys.stderr)
            return None
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        return timing_in_subprocess(Path(folder), tables, repeats)


def timing_in_subprocess(source: Path, tables: int, repeats: int) -> dict[str, Any] | None:
    """``timing`` in a fresh interpreter whose ``integrity_kit`` comes from ``source``: both sides start equal
    (this process holds the corpus runs' objects, which slow its garbage collector down)."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    completed = subprocess.run([sys.executable, __file__, "--timing-only", str(tables), "--repeats", str(repeats)],
                               capture_output=True, text=True, env=env, cwd=source)
    if completed.returncode != 0:
        print(f"timing with {source}: {completed.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- the report -------------------------------------------------------------------------------------------------

def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def print_report(results: list[dict[str, Any]], skipped: dict[str, str]) -> dict[str, Any]:
    print(f"{'schema':<10} {'engine':<11} {'method':<16} {'FKs':>4} {'found':>6} {'right':>6} {'recall':>7} "
          f"{'precision':>10}")
    totals: dict[tuple[str, str], list[int]] = {}
    for result in results:
        for method in METHODS:
            m = result["methods"][method]
            print(f"{result['schema']:<10} {result['engine']:<11} {method:<16} {m['declared']:>4} {m['found']:>6} "
                  f"{m['right']:>6} {_fmt(m['recall']):>7} {_fmt(m['precision']):>10}")
            for scope in (result["engine"], "all"):
                bucket = totals.setdefault((scope, method), [0, 0, 0])
                bucket[0] += m["declared"]
                bucket[1] += m["found"]
                bucket[2] += m["right"]
    print()
    print(f"{'engine':<11} {'method':<16} {'FKs':>4} {'found':>6} {'right':>6} {'recall':>7} {'precision':>10}")
    summary = {}
    for (scope, method), (declared, found, right) in totals.items():
        recall = right / declared if declared else None
        precision = right / found if found else None
        summary[f"{scope}/{method}"] = {"declared": declared, "found": found, "right": right,
                                        "recall": None if recall is None else round(recall, 3),
                                        "precision": None if precision is None else round(precision, 3)}
        print(f"{scope:<11} {method:<16} {declared:>4} {found:>6} {right:>6} {_fmt(recall):>7} {_fmt(precision):>10}")
    confident = [r["confident"] for r in results]
    n, right = sum(c["findings"] for c in confident), sum(c["right"] for c in confident)
    print(f"\naudit findings with confidence >= 0.9: {n}, right: {right}"
          + (f" ({100 * right / n:.1f}%)" if n else ""))
    for result in results:
        where = f"{result['schema']}/{result['engine']}"
        origin = "generated" if result["rows_generated"] else "the corpus's own"
        print(f"{where}: {result['rows']} rows ({origin})"
              + (f"; not filled: {result['not_filled']}" if result["not_filled"] else ""))
        if result["intact_findings"]:
            print(f"{where}: intact schema, missing-foreign-key findings: {result['intact_findings']}")
        for method in ("audit", "audit --no-data"):
            m = result["methods"][method]
            for miss in m["misses"]:
                print(f"{where} [{method}] MISS {miss['reference']}: {miss['reason']}")
            for guess in m["wrong"]:
                print(f"{where} [{method}] WRONG {guess['guess']}: {guess['reason']}")
            for problem in m["not_analysed"]:
                print(f"{where} [{method}] not analysed: {problem}")
    for engine_name, reason in skipped.items():
        print(f"{engine_name}: skipped, unreachable ({reason})")
    return {"summary": summary, "confident": {"findings": n, "right": right}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql,mariadb")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--timing-tables", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", help="a git revision whose package is timed beside this one")
    parser.add_argument("--timing-only", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args()
    if args.timing_only:
        print(json.dumps(timing(args.timing_only, args.repeats)))
        return
    from tests.audit.corpus import FILES

    engines = args.engines.split(",")
    skipped = {name: reason for name in engines if (reason := reachable(name))}
    results = []
    for (schema, engine_name) in FILES:
        if engine_name in engines and engine_name not in skipped:
            results.append(one(schema, engine_name))
    report = print_report(results, skipped)
    cost: dict[str, Any] = {}
    if not args.skip_timing:
        # Alternated, so a busy machine slows both sides alike; each side keeps its best median.
        for _ in range(2):
            for label, run in (("after", lambda: timing_in_subprocess(ROOT, args.timing_tables, args.repeats)),
                               ("before", lambda: timing_before(args.before, args.timing_tables, args.repeats))):
                if label == "before" and not args.before:
                    continue
                row = run()
                if row and (label not in cost or row["audit_s"] < cost[label]["audit_s"]):
                    cost[label] = row
        print(f"\n{args.timing_tables}-table SQLite schema, best of two medians of {args.repeats} (alternated):")
        for label, row in cost.items():
            if row:
                print(f"  {label:<6} audit(data=False) {row['audit_s']:.3f} s, rule check {row['rule_check_s']:.4f} s, "
                      f"{row['rule_findings']} missing-foreign-key findings, "
                      f"{row.get('right', '?')} of {row.get('undeclared', '?')} undeclared references right")
        if cost.get("before"):
            before, after = cost["before"], cost["after"]
            print(f"  ratio after/before: audit {after['audit_s'] / before['audit_s']:.2f}x, "
                  f"rule check {after['rule_check_s'] / before['rule_check_s']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"results": results, **report, "cost": cost, "skipped": skipped},
                                        indent=2, default=str))


if __name__ == "__main__":
    main()
