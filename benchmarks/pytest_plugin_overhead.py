"""CPU cost of the pytest plugin on a real test suite, and whether it changes any test's outcome.

    python benchmarks/pytest_plugin_overhead.py [--python PY] [--cwd DIR] [--repeats 3] [--json FILE] -- ARGS...

Runs ``PY -m pytest ARGS`` in three variants, order rotating per repeat so drift hits each: the plugin disabled
(``-p no:integrity_kit``, the baseline), installed but off (the default), and checking every test
(``--detect-n-plus-one=warn``, duplicates warned too). CPU is the child processes' user+system time (rusage), so
xdist workers count too. Each run writes a JUnit XML file; every test's outcome is compared with the baseline's,
and the table says how many differ. The headline is the ratio of median CPU, on / disabled (issue 20's bar: 1.15x).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

VARIANTS = {
    "disabled": ["-p", "no:integrity_kit"],
    "installed, off": [],
    "on (warn)": ["--detect-n-plus-one=warn"],
}


def _outcomes(junit: Path) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for case in ET.parse(junit).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        tags = {child.tag for child in case}
        outcomes[name] = next((tag for tag in ("failure", "error", "skipped") if tag in tags), "passed")
    return outcomes


def _run(python: str, cwd: str, args: list[str], extra: list[str], junit: Path) -> tuple[float, float, dict, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                                *extra, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if not junit.exists():
        sys.exit(f"pytest wrote no JUnit file (exit {completed.returncode}):\n{completed.stdout[-2000:]}")
    return cpu, wall, _outcomes(junit), completed.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the suite's venv")
    parser.add_argument("--cwd", default=os.getcwd(), help="where to run pytest")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("args", nargs="*", help="pytest arguments (after --)")
    options = parser.parse_args()

    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    outcomes: dict[str, dict[str, str]] = {}
    names = list(VARIANTS)
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(options.repeats):
            for name in names[repeat % len(names):] + names[:repeat % len(names)]:
                junit = Path(scratch, f"{repeat}-{names.index(name)}.xml")
                c, w, seen, _status = _run(options.python, options.cwd, options.args, VARIANTS[name], junit)
                cpu[name].append(c)
                wall[name].append(w)
                outcomes.setdefault(name, seen)
    base_cpu = statistics.median(cpu["disabled"])
    base = outcomes["disabled"]
    rows = []
    print(f"{'variant':<16} {'tests':>6} {'changed':>8} {'cpu s (median)':>15} {'wall s':>8} {'cpu ratio':>10}")
    for name in names:
        changed = sorted(t for t in set(base) | set(outcomes[name]) if base.get(t) != outcomes[name].get(t))
        median_cpu = statistics.median(cpu[name])
        row = {"variant": name, "tests": len(outcomes[name]), "outcomes_changed": changed,
               "cpu_s": cpu[name], "wall_s": wall[name], "cpu_ratio": round(median_cpu / base_cpu, 3)}
        rows.append(row)
        print(f"{name:<16} {len(outcomes[name]):>6} {len(changed):>8} {median_cpu:>15.2f} "
              f"{statistics.median(wall[name]):>8.2f} {row['cpu_ratio']:>9.3f}x")
        for test in changed[:10]:
            print(f"    changed: {test}: {base.get(test)} -> {outcomes[name].get(test)}")
    if options.json_path:
        Path(options.json_path).write_text(json.dumps({"args": options.args, "cwd": options.cwd,
                                                      "repeats": options.repeats, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
