"""Overhead of query capture on a lazy-load-heavy loop: the same loop with and without capture, in one run.

    python benchmarks/query_overhead.py [--url sqlite://] [--parents 200] [--repeats 31] [--processes 5] [--json FILE]

Each repeat runs the loop plain, under ``capture()``, and with no-op listeners on the same public events (the part
of the overhead that is SQLAlchemy's own event machinery; order rotating, so drift hits every variant,
and a ``gc.collect()`` before each run, so no variant pays for another's garbage); the table shows medians and
the ratio of the medians, in wall-clock and CPU time, and the median of the per-repeat ratios as a check that is
less sensitive to other load on the machine. Detection (fingerprinting and grouping after the block) is timed
separately because it runs once, after the code under test. SQLite in memory is the worst case: the faster the
database, the larger the relative cost of anything done per statement. Target: at most 1.1x.

The whole measurement runs in ``--processes`` fresh interpreters and the headline is the median of their ratios:
where Python and SQLAlchemy objects land in memory differs from one process to the next, and so does the hit rate
of CPython's attribute caches; on a 2-core machine that alone moved one process's ratio by +-0.01 to 0.02, more
than repeats within a process do.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy
from sqlalchemy import ForeignKey, String, create_engine, event, select
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


TARGET = 1.1


def _verdict(*ratios: float) -> str:
    """The strictest reading decides, as in run_all.py: one of them can dip under the target by luck."""
    return f"{'within' if max(ratios) <= TARGET else 'ABOVE'} the {TARGET}x target"


def _noop(*_args) -> None:
    return None


def _noop_before(conn, cursor, statement, parameters, context, executemany):
    return statement, parameters


@contextmanager
def noop_hooks(engine):
    """The public events capture() listens to, registered the way it registers them, with listeners that do nothing:
    the cost SQLAlchemy itself adds (an ORMExecuteState and a second pre-execute pass per ORM statement, event
    dispatch per cursor execute)."""
    hooks = [(Session, "do_orm_execute", _noop, {}),
             (engine, "before_cursor_execute", _noop_before, {"retval": True}),
             (engine, "after_cursor_execute", _noop, {}), (engine, "handle_error", _noop, {})]
    for target, name, fn, options in hooks:
        event.listen(target, name, fn, **options)
    try:
        yield
    finally:
        for target, name, fn, _ in hooks:
            event.remove(target, name, fn)


def timed(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call. CPU time is what the process itself spent, so it stays meaningful
    when other work shares the machine; wall time is what a user waits."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="sqlite://", help="database URL (default: SQLite in memory)")
    parser.add_argument("--parents", type=int, default=200, help="parents, i.e. lazy loads per loop")
    parser.add_argument("--children", type=int, default=3, help="children per parent")
    parser.add_argument("--repeats", type=int, default=31, help="timed repeats of each variant")
    parser.add_argument("--processes", type=int, default=5, help="fresh interpreters to measure in (median taken)")
    parser.add_argument("--json", default=str(Path(__file__).with_suffix(".json")), help="where to write JSON")
    args = parser.parse_args()
    if args.processes > 1:
        across_processes(args)
        return
    measure(args)


def measure(args: argparse.Namespace) -> None:
    """One process's measurement, written to ``args.json``."""

    engine = setup(args.url, args.parents, args.children)
    for _ in range(3):  # warm the compiled cache, the pool and the fingerprint cache
        loop(engine)
        with capture(engine) as log:
            loop(engine)
        _ = log.n_plus_one

    def plain_loop():
        loop(engine)

    def with_capture():
        with capture(engine) as log:
            loop(engine)
        with_capture.log = log

    def with_noop_hooks():
        with noop_hooks(engine):
            loop(engine)

    plain, captured, hooks, detect = [], [], [], []
    variants = [(plain_loop, plain), (with_capture, captured), (with_noop_hooks, hooks)]
    for repeat in range(args.repeats):
        for fn, samples in variants[repeat % 3:] + variants[:repeat % 3]:  # rotate, so drift hits every variant
            samples.append(timed(fn))
        detect.append(timed(lambda: with_capture.log.n_plus_one))
    findings = with_capture.log.n_plus_one
    statements = len(with_capture.log.statements)
    Base.metadata.drop_all(engine)  # leave a shared server database as we found it
    engine.dispose()

    names = ("loop without capture", "loop with capture()", "same hooks, no-op listeners",
             "detection after the block")
    wall = [statistics.median(w for w, _ in v) for v in (plain, captured, hooks, detect)]
    cpu = [statistics.median(c for _, c in v) for v in (plain, captured, hooks, detect)]
    ratio, cpu_ratio = wall[1] / wall[0], cpu[1] / cpu[0]
    paired = statistics.median(c[0] / p[0] for c, p in zip(captured, plain, strict=True))
    print(f"lazy-load loop: {args.parents} parents x {args.children} children, {statements} statements per loop, "
          f"{args.repeats} repeats, {engine.url.render_as_string(hide_password=True)}, SQLAlchemy "
          f"{sqlalchemy.__version__}")
    print(f"{'variant':<30}{'wall ms':>10}{'vs plain':>10}{'cpu ms':>10}{'vs plain':>10}")
    for name, w, c in zip(names, wall, cpu, strict=True):
        print(f"{name:<30}{w * 1000:>10.2f}{w / wall[0]:>9.3f}x{c * 1000:>10.2f}{c / cpu[0]:>9.3f}x")
    print(f"capture overhead: {ratio:.3f}x wall, {cpu_ratio:.3f}x cpu, {paired:.3f}x median of per-repeat wall "
          f"ratios ({_verdict(ratio, cpu_ratio, paired)}); findings: {[(f.relationship, f.count) for f in findings]}")

    result = {
        "benchmark": "query_overhead",
        "url": engine.url.render_as_string(hide_password=True),
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "parents": args.parents,
        "children": args.children,
        "statements_per_loop": statements,
        "repeats": args.repeats,
        "median_wall_ms": dict(zip(("plain", "capture", "noop_hooks", "detection"), (w * 1000 for w in wall),
                                   strict=True)),
        "median_cpu_ms": dict(zip(("plain", "capture", "noop_hooks", "detection"), (c * 1000 for c in cpu),
                                  strict=True)),
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "median_paired_ratio": paired,
        "target": TARGET,
        "samples_wall_ms": {"plain": [w * 1000 for w, _ in plain], "capture": [w * 1000 for w, _ in captured],
                            "noop_hooks": [w * 1000 for w, _ in hooks]},
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


def across_processes(args: argparse.Namespace) -> None:
    """Run ``measure`` in fresh interpreters, one after the other, and report the median of their ratios."""
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for number in range(1, args.processes + 1):
            out = Path(scratch) / f"run{number}.json"
            print(f"process {number}/{args.processes}", flush=True)
            done = subprocess.run([sys.executable, __file__, "--url", args.url, "--parents", str(args.parents),
                                   "--children", str(args.children), "--repeats", str(args.repeats),
                                   "--processes", "1", "--json", str(out)], stdout=subprocess.DEVNULL)
            if done.returncode:
                sys.exit(f"error: measuring process {number} failed (exit code {done.returncode}); see above")
            runs.append(json.loads(out.read_text()))
    print(f"{'process':<10}{'wall':>9}{'cpu':>9}{'paired':>9}{'no-op hooks':>13}")
    for number, run in enumerate(runs, 1):
        hooks = run["median_wall_ms"]["noop_hooks"] / run["median_wall_ms"]["plain"]
        print(f"{number:<10}{run['ratio']:>8.3f}x{run['cpu_ratio']:>8.3f}x{run['median_paired_ratio']:>8.3f}x"
              f"{hooks:>12.3f}x")
    result = dict(runs[0], processes=args.processes, runs=runs)
    for key in ("ratio", "cpu_ratio", "median_paired_ratio"):
        result[key] = statistics.median(run[key] for run in runs)
    for key in ("median_wall_ms", "median_cpu_ms"):
        result[key] = {variant: statistics.median(run[key][variant] for run in runs) for variant in runs[0][key]}
    result.pop("samples_wall_ms")
    print(f"median of {args.processes} processes: {result['ratio']:.3f}x wall, {result['cpu_ratio']:.3f}x cpu, "
          f"{result['median_paired_ratio']:.3f}x per-repeat "
          f"({_verdict(result['ratio'], result['cpu_ratio'], result['median_paired_ratio'])})")
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
