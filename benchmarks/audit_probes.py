"""The audit's data probes against the single hand-written SQL statement for the same question, on PostgreSQL.

    python benchmarks/audit_probes.py [--server postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
                                      [--rows 10000000] [--repeats 3] [--sample-rows 100000] [--json FILE]

A scratch database gets a parent table (a tenth of ``--rows``) and a child table of ``--rows`` rows whose
``parent_id`` misses now and then and whose ``code`` repeats now and then. Then, alternating, ``repeats`` times:
the orphan probe (``Probe.orphans``: rows, orphans and sample keys) beside ``SELECT count(*) … NOT EXISTS``, and
the duplicate probe (``Probe.duplicates``: rows, repeated groups and samples) beside ``SELECT count(*) FROM
(… GROUP BY … HAVING count(*) > 1)``; and each probe again with ``--sample-rows``. Target: within 1.5x of the
hand-written statement; the sampled probes bounded by the sample size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from integrity_kit.audit.probes import Probe
from integrity_kit.schema import build_snapshot

HAND_WRITTEN = {
    "orphans": "SELECT count(*) FROM child c WHERE c.parent_id IS NOT NULL "
               "AND NOT EXISTS (SELECT 1 FROM parent p WHERE p.id = c.parent_id)",
    "duplicates": "SELECT count(*) FROM (SELECT code FROM child WHERE code IS NOT NULL GROUP BY code "
                  "HAVING count(*) > 1) AS repeated",
}


def fill(engine, rows: int) -> None:
    parents = max(rows // 10, 1)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        connection.exec_driver_sql("CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id INTEGER, code TEXT)")
        connection.execute(text("INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, :n) AS g"),
                           {"n": parents})
        # Every 997th child points past the last parent (an orphan); codes repeat once every 1,000 rows or so.
        connection.execute(text(
            "INSERT INTO child SELECT g, CASE WHEN g % 997 = 0 THEN :parents + g ELSE 1 + g % :parents END, "
            "'c' || CASE WHEN g % 1000 = 0 THEN g - 1 ELSE g END FROM generate_series(1, :n) AS g"),
            {"n": rows, "parents": parents})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("CREATE INDEX ix_child_parent_id ON child (parent_id)")
        connection.exec_driver_sql("VACUUM ANALYZE")


def timed(work) -> tuple[float, object]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample-rows", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    server = make_url(args.server)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"ik_probes_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine = create_engine(server.set(database=name))
    results = {}
    try:
        started = time.perf_counter()
        fill(engine, args.rows)
        print(f"filled {args.rows:,} child rows in {time.perf_counter() - started:.0f} s")
        with engine.connect() as connection:
            snapshot = build_snapshot(connection)
            child, parent = snapshot.table("child"), snapshot.table("parent")
            full, sampled = Probe(connection), Probe(connection, sample_rows=args.sample_rows)
            probes = {
                "orphans": lambda probe: probe.orphans(child, ("parent_id",), parent, ("id",)),
                "duplicates": lambda probe: probe.duplicates(child, ("code",)),
            }
            for question, probe_call in probes.items():
                ours, theirs, small = [], [], []
                for repeat in range(args.repeats):
                    pair = [(ours, lambda c=probe_call: c(full).count),
                            (theirs, lambda q=question: connection.exec_driver_sql(HAND_WRITTEN[q]).scalar())]
                    counts = []
                    for bucket, work in pair if repeat % 2 == 0 else reversed(pair):
                        seconds, count = timed(work)
                        bucket.append(seconds)
                        counts.append(count)
                    assert counts[0] == counts[1], f"{question}: the probe and the statement disagree: {counts}"
                    small.append(timed(lambda c=probe_call: c(sampled))[0])
                print(question, "probe", [round(x, 2) for x in ours], "one SQL", [round(x, 2) for x in theirs])
                results[question] = {"probe_s": statistics.median(ours), "hand_written_s": statistics.median(theirs),
                                     "ratio": statistics.median(ours) / statistics.median(theirs),
                                     "sampled_probe_s": statistics.median(small), "found": counts[0]}
            connection.rollback()
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    print(f"{'question':<11} {'found':>8} {'probe':>9} {'one SQL':>9} {'ratio':>6} "
          f"{f'probe, sample {args.sample_rows:,}':>24}")
    for question, row in results.items():
        print(f"{question:<11} {row['found']:>8,} {row['probe_s']:>8.2f}s {row['hand_written_s']:>8.2f}s "
              f"{row['ratio']:>5.2f}x {row['sampled_probe_s']:>23.3f}s")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "repeats": args.repeats, "results": results}, indent=2))


if __name__ == "__main__":
    main()
