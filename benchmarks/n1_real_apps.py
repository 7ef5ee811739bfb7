"""The pytest plugin on a real application's own test suite: outcomes, CPU cost and findings (issue 20).

    python benchmarks/n1_real_apps.py APP_DIR [--python VENV/bin/python] [--tests PATH ...] [--repeats 2]
        [--details FILE] [--json FILE] [--timeout SECONDS] [--detect-race-risks] [--env KEY=VALUE ...]

APP_DIR is a checkout of the application (an unpacked sdist) whose venv has the application, its test requirements
and integrity-kit installed (``--python`` names that venv's interpreter; default ``APP_DIR/../venv/bin/python``).
Each repeat runs the suite twice in subprocesses, in alternating order: without the plugin (``-p no:integrity_kit``)
and with it (``--detect-n-plus-one=warn --write-n-plus-one-baseline FILE``, the way a team adopts the check). CPU
time is the children's user+system time around each run (``resource.getrusage``), so it counts pytest and nothing
of this script. Outcomes are read per test from ``--junit-xml``; the table says how many tests changed outcome
between the two runs (must be 0). Findings are the entries the plugin wrote to its baseline.

``--details FILE`` adds one run with ``benchmarks/n1_findings_plugin.py`` that writes every finding in full (sample
SQL, fix, explanation, application path, source line) as JSON lines, for hand-checking.

``--detect-race-risks`` (issue 24) adds ``--detect-race-risks=warn`` to the plugin runs, so the baseline also
records race risks (counted by pattern), and the details run writes every race risk in full (``to_dict()``, the
read's and the write's source lines, the test) for hand-checking; verdicts are counted from that run, since the
baseline does not record them. ``--env KEY=VALUE`` sets an environment variable for every run (e.g. the
application's test database URL). A run whose output has the plugin's "integrity-kit plugin errors" section is
reported as such.
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
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _outcomes(junit: Path) -> dict[str, str]:
    """test id -> passed | failed | error | skipped, from a JUnit XML report."""
    outcomes: dict[str, str] = {}
    if not junit.exists():
        return outcomes
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        tags = {child.tag for child in case}
        outcome = ("failed" if "failure" in tags else "error" if "error" in tags
                   else "skipped" if "skipped" in tags else "passed")
        if outcomes.get(name) in ("failed", "error"):
            continue  # a setup error and a call failure of one test: keep the failure
        outcomes[name] = outcome
    return outcomes


def run_suite(python: str, app: Path, tests: list[str], extra: list[str], timeout: float,
              env: dict[str, str] | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="ik-n1-") as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [python, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider", f"--junit-xml={junit}", *extra]
        before_cpu, before_wall = _children_cpu(), time.perf_counter()
        proc = subprocess.run(command, cwd=app, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
        cpu, wall = _children_cpu() - before_cpu, time.perf_counter() - before_wall
        outcomes = _outcomes(junit)
    tail = [line for line in proc.stdout.splitlines() if line.strip()][-1:] or [proc.stderr.strip()[-300:]]
    errors = proc.stdout.split("integrity-kit plugin errors", 1)[1][:3000] if (
        "integrity-kit plugin errors" in proc.stdout) else ""
    return {"command": command, "exit": proc.returncode, "cpu_s": cpu, "wall_s": wall, "outcomes": outcomes,
            "summary": tail[0], "stdout_tail": proc.stdout[-3000:], "plugin_errors": errors}


def _count(outcomes: dict[str, str], kind: str) -> int:
    return sum(1 for v in outcomes.values() if v == kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", type=Path, help="the application's checkout (where its tests run from)")
    parser.add_argument("--python", help="the interpreter of the application's venv")
    parser.add_argument("--tests", nargs="*", default=[], help="test paths (default: pytest's own discovery)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--details", type=Path, help="write every finding in full (JSON lines) to this file")
    parser.add_argument("--json", type=Path, help="write the measurements to this file")
    parser.add_argument("--detect-race-risks", action="store_true",
                        help="also detect race risks (--detect-race-risks=warn) and count them")
    parser.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE",
                        help="environment variables for every run (e.g. the test database URL)")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    race_flags = ["--detect-race-risks=warn"] if args.detect_race_risks else []
    app = args.app.resolve()
    if not app.is_dir():
        print(f"n1_real_apps: {app} is not a directory", file=sys.stderr)
        return 2
    python = args.python or str(app.parent / "venv" / "bin" / "python")
    if not Path(python).exists():
        print(f"n1_real_apps: no interpreter at {python} (pass --python)", file=sys.stderr)
        return 2

    plain_runs, plugin_runs = [], []
    baseline: list[dict] = []
    race_baseline: list[dict] = []
    for repeat in range(args.repeats):
        order = ("plain", "plugin") if repeat % 2 == 0 else ("plugin", "plain")
        for variant in order:
            if variant == "plain":
                plain_runs.append(run_suite(python, app, args.tests, ["-p", "no:integrity_kit"], args.timeout, env))
            else:
                with tempfile.TemporaryDirectory(prefix="ik-n1-base-") as tmp:
                    written = Path(tmp) / "baseline.json"
                    plugin_runs.append(run_suite(python, app, args.tests, [
                        "--detect-n-plus-one=warn", f"--write-n-plus-one-baseline={written}", *race_flags],
                        args.timeout, env))
                    if written.exists():
                        data = json.loads(written.read_text())
                        baseline = data["n_plus_one"]
                        race_baseline = data.get("race_risks", [])
            last = (plain_runs if variant == "plain" else plugin_runs)[-1]
            print(f"  repeat {repeat + 1} {variant:6s}: cpu {last['cpu_s']:.1f} s, {last['summary']}", file=sys.stderr)

    plain, plugin = plain_runs[0]["outcomes"], plugin_runs[0]["outcomes"]
    changed = sorted(t for t in set(plain) | set(plugin) if plain.get(t) != plugin.get(t))
    cpu_plain = statistics.median(r["cpu_s"] for r in plain_runs)
    cpu_plugin = statistics.median(r["cpu_s"] for r in plugin_runs)
    ratio = cpu_plugin / cpu_plain if cpu_plain else float("nan")

    details = 0
    race_details: list[dict] = []
    if args.details:
        args.details.unlink(missing_ok=True)
        details_env = {**env, "IK_N1_FINDINGS_FILE": str(args.details.resolve()),
                       "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH", "")]))}
        if args.detect_race_risks:
            details_env["IK_RACE_FINDINGS"] = "1"
        run_suite(python, app, args.tests, ["-p", "n1_findings_plugin", "--detect-n-plus-one=off"], args.timeout,
                  details_env)
        if args.details.exists():
            rows = [json.loads(line) for line in args.details.read_text().splitlines()]
            details = sum(1 for row in rows if not row.get("duplicate") and not row.get("race"))
            race_details = [row for row in rows if row.get("race")]

    rows = [
        ("tests", f"{len(plain)}"),
        ("passed without / with plugin", f"{_count(plain, 'passed')} / {_count(plugin, 'passed')}"),
        ("failed+error without / with", f"{_count(plain, 'failed') + _count(plain, 'error')} / "
                                        f"{_count(plugin, 'failed') + _count(plugin, 'error')}"),
        ("skipped without / with", f"{_count(plain, 'skipped')} / {_count(plugin, 'skipped')}"),
        ("tests whose outcome changed", f"{len(changed)}"),
        (f"CPU s without (median of {len(plain_runs)})", f"{cpu_plain:.2f}"),
        (f"CPU s with (median of {len(plugin_runs)})", f"{cpu_plugin:.2f}"),
        ("CPU ratio with/without (target <= 1.15x)", f"{ratio:.3f}x"),
        ("N+1 findings (plugin baseline)", f"{len(baseline)}"),
    ]
    if args.details:
        rows.append(("N+1 findings (details run)", f"{details}"))
    if args.detect_race_risks:
        by_pattern = Counter(entry["what"].split(" ", 1)[0] for entry in race_baseline)
        rows.append(("race-risk findings (plugin baseline)", f"{len(race_baseline)}"))
        rows += [(f"  {pattern}", f"{count}") for pattern, count in sorted(by_pattern.items())]
        sites = {(entry["what"], entry["read"], entry["location"]) for entry in race_baseline}
        rows.append(("  distinct (what, read, write) sites", f"{len(sites)}"))
        if args.details:
            verdicts = Counter(f"{row['pattern']} / {row['verdict']}" for row in race_details)
            rows.append(("race-risk findings (details run)", f"{len(race_details)}"))
            rows += [(f"  {key}", f"{count}") for key, count in sorted(verdicts.items())]
    errors = [run["plugin_errors"] for run in plugin_runs if run["plugin_errors"]]
    rows.append(("plugin runs with plugin errors", f"{len(errors)}"))
    width = max(len(k) for k, _ in rows)
    print(f"| {app.name} | |\n|---|---|")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")
    for test in changed[:20]:
        print(f"changed: {test}: {plain.get(test)} -> {plugin.get(test)}")
    for text in errors[:1]:
        print(f"integrity-kit plugin errors{text}")
    if args.json:
        args.json.write_text(json.dumps({
            "app": app.name, "tests": len(plain), "changed": changed, "cpu_plain": [r["cpu_s"] for r in plain_runs],
            "cpu_plugin": [r["cpu_s"] for r in plugin_runs], "ratio": ratio, "findings": baseline,
            "race_risks": race_baseline, "plugin_errors": errors,
            "summaries": {"plain": [r["summary"] for r in plain_runs], "plugin": [r["summary"] for r in plugin_runs]},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
