"""Checkout throughput per race strategy against the engine's hot-row ceiling, in one run.

    python benchmarks/race_throughput.py [--url postgresql://postgres@127.0.0.1/test] [--workers 1,4,16]
                                         [--orders 160] [--repeats 3] [--json FILE]

For each worker count, every strategy of the reference checkout places ``--orders`` one-unit orders of one product
(stock enough for all, so every checkout succeeds and the number measures the cost of the protection, not of
rejections) through :class:`integrity_kit.races.simulate.RaceSpace`; beside it, the same number of connections
run ``UPDATE ... SET stock = stock - 1 WHERE id = 1`` in autocommit, ``--orders`` times in total: the
pgbench-style single-row update rate, the most any checkout that touches that row can reach. The table shows
medians over ``--repeats`` (strategies and the ceiling interleaved, so drift hits all of them) and each strategy's
ratio to the ceiling at the same worker count. The run happens in an ``ik_race_*`` scratch schema that is dropped
at the end.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import threading
import time
from pathlib import Path

import sqlalchemy
from sqlalchemy import text

from integrity_kit.connect import mask_url
from integrity_kit.races.engines import dialect_name, server_version
from integrity_kit.races.simulate import RaceSpace

STRATEGIES = ("naive", "for-update", "conditional-update", "optimistic", "serializable")
CEILING = "single-row UPDATE (ceiling)"


def hot_row_rate(engine, workers: int, updates: int) -> float:
    """Updates per second of one row from ``workers`` autocommit connections behind a start barrier."""
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bench_hot_row"))
        connection.execute(text("CREATE TABLE bench_hot_row (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO bench_hot_row VALUES (1, :n)"), {"n": updates + 1})
    share = [updates // workers + (1 if i < updates % workers else 0) for i in range(workers)]
    start = threading.Barrier(workers + 1)
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def worker(count: int) -> None:
        with autocommit.connect() as connection:
            statement = text("UPDATE bench_hot_row SET stock = stock - 1 WHERE id = 1")
            start.wait()
            for _ in range(count):
                connection.execute(statement)

    threads = [threading.Thread(target=worker, args=(count,)) for count in share]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    with engine.connect() as connection:
        assert connection.execute(text("SELECT stock FROM bench_hot_row")).scalar_one() == 1  # every update landed
    return updates / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test", help="database URL")
    parser.add_argument("--workers", default="1,4,16", help="comma-separated worker counts")
    parser.add_argument("--orders", type=int, default=160, help="orders (and ceiling updates) per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per cell (median reported)")
    parser.add_argument("--json", default=str(Path(__file__).with_suffix(".json")), help="where to write JSON")
    args = parser.parse_args()
    counts = [int(part) for part in args.workers.split(",")]

    samples: dict[tuple[str, int], list[float]] = {}
    gave_up: dict[tuple[str, int], int] = {}
    with RaceSpace(args.url, prefix="ik_race_", max_workers=max(counts)) as space:
        space.simulate("conditional-update", workers=max(counts), attempts=max(counts) * 2, stock=10**6)  # warm-up
        server = f"{dialect_name(space.engine)} {server_version(space.engine)}"
        for workers in counts:
            for repeat in range(args.repeats):
                names = [CEILING, *STRATEGIES]
                shift = repeat % len(names)
                for name in names[shift:] + names[:shift]:  # rotate, so drift hits every variant
                    if name == CEILING:
                        rate = hot_row_rate(space.engine, workers, args.orders)
                    else:
                        result = space.simulate(name, workers=workers, attempts=args.orders, stock=args.orders)
                        # Stock for all, so no rejections; a checkout that gave up after its retries is counted.
                        gave_up[name, workers] = gave_up.get((name, workers), 0) + sum(result.errors.values())
                        rate = result.orders_per_s
                    samples.setdefault((name, workers), []).append(rate)
        with space.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS bench_hot_row"))

    medians = {key: statistics.median(values) for key, values in samples.items()}
    print(f"orders/s, median of {args.repeats}, {args.orders} one-unit orders per run, {server}, "
          f"{mask_url(args.url)}, SQLAlchemy {sqlalchemy.__version__}")
    header = f"{'':<30}" + "".join(f"{f'{w} worker' + ('s' if w > 1 else ''):>22}" for w in counts)
    print(header)
    for name in (CEILING, *STRATEGIES):
        cells = []
        for workers in counts:
            rate, ceiling = medians[name, workers], medians[CEILING, workers]
            cells.append(f"{rate:>12.0f}" + (f" ({rate / ceiling:5.2f}x)" if name != CEILING else " " * 9))
        print(f"{name:<30}" + "".join(f"{cell:>22}" for cell in cells))
    for (name, workers), count in sorted(gave_up.items()):
        if count:
            print(f"note: {name} at {workers} workers: {count} of {args.orders * args.repeats} checkouts gave up "
                  f"after their retries (too much contention)")

    result = {
        "benchmark": "race_throughput",
        "url": mask_url(args.url),
        "server": server,
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "orders": args.orders,
        "repeats": args.repeats,
        "workers": counts,
        "median_per_s": {name: {str(w): medians[name, w] for w in counts} for name in (CEILING, *STRATEGIES)},
        "ratio_to_ceiling": {name: {str(w): medians[name, w] / medians[CEILING, w] for w in counts}
                             for name in STRATEGIES},
        "gave_up": {name: {str(w): gave_up.get((name, w), 0) for w in counts} for name in STRATEGIES},
        "samples_per_s": {name: {str(w): samples[name, w] for w in counts} for name in (CEILING, *STRATEGIES)},
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
