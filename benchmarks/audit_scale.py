"""How the schema audit scales with the number of tables, against pg_dump --schema-only on the same database.

    python benchmarks/audit_scale.py [--server postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                     [--sizes 100,1000,3000] [--repeats 3] [--json FILE]

For each size a scratch database is filled with that many tables, each with a primary key, a foreign key to the
previous table (indexed), a unique natural key, a CHECK and a plain index; then, in one run, ``integrity-kit audit
--no-data --format json`` and ``pg_dump --schema-only`` are each timed as whole commands (process start included on
both sides), ``repeats`` times, alternating. The table shows medians, their ratio, and the audit's cost per table
(flat when cost grows linearly). A last column times the library call ``audit(url, data=False)`` inside this
process, without the interpreter start and imports (about 0.4 s of the command). Targets: 1,000 tables in under
5 s, and no slower than pg_dump.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from integrity_kit.audit import audit

CHUNK = 250


def schema_sql(tables: int, start: int = 0) -> str:
    statements = []
    for i in range(start, tables):
        parent = f", parent_id INTEGER REFERENCES t{i - 1:05d} (id)" if i else ""
        statements.append(
            f"CREATE TABLE t{i:05d} (id INTEGER PRIMARY KEY, code VARCHAR(20) NOT NULL UNIQUE, "
            f"name VARCHAR(100), amount NUMERIC(12, 2) NOT NULL CHECK (amount >= 0), "
            f"created_at TIMESTAMPTZ NOT NULL DEFAULT now(){parent})")
        if i:
            statements.append(f"CREATE INDEX ix_t{i:05d}_parent_id ON t{i:05d} (parent_id)")
        statements.append(f"CREATE INDEX ix_t{i:05d}_name ON t{i:05d} (name)")
    return ";\n".join(statements) + ";"


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):  # the audit exits 1 when it has findings
        raise SystemExit(f"{command[0]} failed ({completed.returncode}): {completed.stderr.strip()[:300]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sizes", default="100,1000,3000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not shutil.which("pg_dump"):
        raise SystemExit("pg_dump is not on PATH: the baseline cannot run")
    server = make_url(args.server)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    audit_cli = [sys.executable, "-m", "integrity_kit", "audit", "--no-data", "--format", "json"]
    rows = []
    for size in (int(part) for part in args.sizes.split(",")):
        name = f"ik_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        url = server.set(database=name)
        try:
            engine = create_engine(url)
            for start in range(0, size, CHUNK):  # one transaction per chunk: locks per transaction are limited
                with engine.begin() as connection:
                    connection.exec_driver_sql(schema_sql(min(size, start + CHUNK), start))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
            engine.dispose()
            dump = ["pg_dump", "--schema-only", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
                    "-U", url.username or "postgres", name]
            ours, theirs, library = [], [], []
            for repeat in range(args.repeats):
                pair = [(ours, audit_cli + [url.render_as_string(hide_password=False)]), (theirs, dump)]
                for bucket, command in pair if repeat % 2 == 0 else reversed(pair):
                    bucket.append(timed(command))
                started = time.perf_counter()
                audit(url.render_as_string(hide_password=False), data=False)
                library.append(time.perf_counter() - started)
            audit_s, dump_s = statistics.median(ours), statistics.median(theirs)
            rows.append({"tables": size, "audit_s": round(audit_s, 3), "pg_dump_s": round(dump_s, 3),
                         "ratio": round(audit_s / dump_s, 2), "audit_ms_per_table": round(audit_s * 1000 / size, 2),
                         "library_s": round(statistics.median(library), 3)})
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()
    print(f"{'tables':>7} {'audit --no-data':>16} {'pg_dump -s':>11} {'ratio':>6} {'audit ms/table':>15} "
          f"{'audit() in-process':>19}")
    for row in rows:
        print(f"{row['tables']:>7} {row['audit_s']:>15.2f}s {row['pg_dump_s']:>10.2f}s {row['ratio']:>5.2f}x "
              f"{row['audit_ms_per_table']:>15.2f} {row['library_s']:>18.2f}s")
    if args.json:
        args.json.write_text(json.dumps({"repeats": args.repeats, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
