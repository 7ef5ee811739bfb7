"""Overhead of query capture on a lazy-load-heavy loop: the same loop with and without capture, in one run.

    python benchmarks/query_overhead.py [--url sqlite://] [--parents 200] [--repeats 15] [--json FILE]

Each repeat runs the loop once plain and once under ``capture()`` (order alternating, so drift hits both sides,
and a ``gc.collect()`` before each run, so neither side pays for the other's garbage); the table shows medians and
the ratio of the medians, and the median of the per-repeat ratios as a check that is less sensitive to other load
on the machine. Detection (fingerprinting and grouping after the block) is timed
separately because it runs once, after the code under test. SQLite in memory is the worst case: the faster the
database, the larger the relative cost of anything done per statement. Target: at most 1.1x.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from pathlib import Path

import sqlalchemy
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from integrity_kit.queries import capture


class Base(DeclarativeBase):
    pass


class Parent(Base):
    __tablename__ = "bench_parents"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    children: Mapped[list[Child]] = relationship(back_populates="parent")


class Child(Base):
    __tablename__ = "bench_children"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("bench_parents.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    parent: Mapped[Parent] = relationship(back_populates="children")


def setup(url: str, parents: int, children: int):
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(Parent(name=f"p{i}", children=[Child(name=f"c{i}.{j}") for j in range(children)])
                        for i in range(parents))
        session.commit()
    return engine


def loop(engine) -> int:
    """The N+1 everyone writes: one query for the parents, one lazy load per parent's children."""
    touched = 0
    with Session(engine) as session:
        for parent in session.scalars(select(Parent)):
            for child in parent.children:
                touched += len(child.name)
    return touched


def timed(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="sqlite://", help="database URL (default: SQLite in memory)")
    parser.add_argument("--parents", type=int, default=200, help="parents, i.e. lazy loads per loop")
    parser.add_argument("--children", type=int, default=3, help="children per parent")
    parser.add_argument("--repeats", type=int, default=31, help="timed repeats of each variant")
    parser.add_argument("--json", default=str(Path(__file__).with_suffix(".json")), help="where to write JSON")
    args = parser.parse_args()

    engine = setup(args.url, args.parents, args.children)
    for _ in range(3):  # warm the compiled cache, the pool and the fingerprint cache
        loop(engine)
        with capture(engine) as log:
            loop(engine)
        _ = log.n_plus_one

    plain, captured, detect = [], [], []
    for repeat in range(args.repeats):
        def with_capture():
            with capture(engine) as log:
                loop(engine)
            with_capture.log = log

        if repeat % 2:
            captured.append(timed(with_capture))
            plain.append(timed(lambda: loop(engine)))
        else:
            plain.append(timed(lambda: loop(engine)))
            captured.append(timed(with_capture))
        detect.append(timed(lambda: with_capture.log.n_plus_one))
    findings = with_capture.log.n_plus_one
    statements = len(with_capture.log.statements)
    Base.metadata.drop_all(engine)  # leave a shared server database as we found it
    engine.dispose()

    base, instrumented, analysis = (statistics.median(v) for v in (plain, captured, detect))
    ratio = instrumented / base
    paired = statistics.median(c / p for c, p in zip(captured, plain, strict=True))
    rows = [
        ("loop without capture", base, 1.0),
        ("loop with capture()", instrumented, ratio),
        ("detection after the block", analysis, analysis / base),
    ]
    print(f"lazy-load loop: {args.parents} parents x {args.children} children, {statements} statements per loop, "
          f"{args.repeats} repeats, {engine.url.render_as_string(hide_password=True)}")
    print(f"{'variant':<28}{'median ms':>12}{'vs plain':>10}")
    for name, seconds, factor in rows:
        print(f"{name:<28}{seconds * 1000:>12.2f}{factor:>9.2f}x")
    verdict = "within" if ratio <= 1.1 else "ABOVE"
    print(f"capture overhead ratio {ratio:.3f}x ({verdict} the 1.1x target; median of per-repeat ratios "
          f"{paired:.3f}x); "
          f"findings: {[(f.relationship, f.count) for f in findings]}")

    result = {
        "benchmark": "query_overhead",
        "url": engine.url.render_as_string(hide_password=True),
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "parents": args.parents,
        "children": args.children,
        "statements_per_loop": statements,
        "repeats": args.repeats,
        "median_ms": {"plain": base * 1000, "capture": instrumented * 1000, "detection": analysis * 1000},
        "ratio": ratio,
        "median_paired_ratio": paired,
        "target": 1.1,
        "samples_ms": {"plain": [s * 1000 for s in plain], "capture": [s * 1000 for s in captured]},
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
