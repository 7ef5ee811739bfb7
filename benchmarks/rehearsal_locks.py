"""What the migration rehearsal measures for a plain CREATE INDEX and for CREATE INDEX CONCURRENTLY on the same
PostgreSQL table, several times over, in one run (on MariaDB both revisions render a plain, online CREATE INDEX).

    python benchmarks/rehearsal_locks.py [--url URL] [--rows N] [--repeats N] [--json FILE]

A scratch database on the server of ``--url`` (default: the test server) gets ``items`` with ``--rows`` rows (a
128-character name, an int) at revision a1; the history has b2 (``op.create_index`` on name, in the revision's
transaction) and c3 (``postgresql_concurrently=True`` on (name, qty), in an ``autocommit_block``). Each repeat is
one ``rehearse()`` of both, with the default sessions (a reader and a writer by primary key). Printed per statement:
build time, lock held, longest writer and reader wait (medians and maxima over the repeats), and the sessions'
baseline maximum latency.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integrity_kit.migrations.rehearsal import rehearse  # noqa: E402
from tests.migrations.test_rehearsal import CONCURRENT, PLAIN, build_target, history  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    server = make_url(args.url)
    name = f"ik_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    folder = Path(tempfile.mkdtemp(prefix="ik_bench_"))
    rows: dict[str, list[dict[str, float]]] = {"plain": [], "concurrently": []}
    baselines: list[dict[str, float]] = []
    try:
        target = server.set(database=name)
        build_target(target, args.rows)
        directory = history(folder, PLAIN, CONCURRENT)
        for repeat in range(args.repeats):
            rehearsal = rehearse(directory, target.render_as_string(hide_password=False), max_rows=args.rows)
            for run in rehearsal.statements:
                kind = {"b2": "plain", "c3": "concurrently"}[run.revision]
                rows[kind].append({"build_s": run.duration or 0.0, "lock_held_s": run.lock_held or 0.0,
                                   "writer_wait_s": run.writer_wait or 0.0, "reader_wait_s": run.reader_wait or 0.0})
            baselines.append({kind: latency.longest or 0.0 for kind, latency in rehearsal.baseline.items()})
            print(f"repeat {repeat + 1}/{args.repeats}", file=sys.stderr)
    finally:
        with admin.connect() as connection:
            force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    columns = ("build_s", "lock_held_s", "writer_wait_s", "reader_wait_s")
    print(f"{args.rows:,} rows, {args.repeats} rehearsals; median (max) in seconds")
    print(f"{'statement':<14}" + "".join(f"{column:>20}" for column in columns))
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for kind, measured in rows.items():
        summary[kind] = {column: {"median": statistics.median(row[column] for row in measured),
                                  "max": max(row[column] for row in measured)} for column in columns}
        print(f"{kind:<14}" + "".join(f"{summary[kind][c]['median']:>12.3f} ({summary[kind][c]['max']:.3f})"
                                      for c in columns))
    for kind in ("writer", "reader"):
        values = [baseline[kind] for baseline in baselines]
        print(f"baseline {kind} max latency: median {statistics.median(values):.4f} s, max {max(values):.4f} s")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "repeats": args.repeats, "statements": summary,
                                         "baseline_max_s": baselines}, indent=2))


if __name__ == "__main__":
    main()
