"""The README's tour: each command run for real, its output pasted in between the tour markers.

    python -m tests.readme_tour --write    # run the commands, rewrite the tour in README.md
    python -m tests.readme_tour --check    # run them and fail if the README shows different output

It also writes the headline benchmark figures from ``benchmarks/results.json`` (``benchmarks/run_all.py``).
The commands run in a scratch folder on a small legacy shop (``shop.db``), from this checkout's interpreter. The
check compares the words of the output with every number masked, so timings, measured counts and line wrapping
may move while every word must match; the demo, whose race numbers vary from run to run, is compared
by its step headings. ``tests/test_readme.py`` runs the check, so the tour cannot go stale.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- tour:start (written by `python -m tests.readme_tour --write`) -->", "<!-- tour:end -->"
BENCH_START = "<!-- bench:start (written by `python -m tests.readme_tour --write` from benchmarks/results.json) -->"
BENCH_END = "<!-- bench:end -->"
RESULTS = ROOT / "benchmarks" / "results.json"
FIXTURES = ROOT / "tests" / "migrations" / "fixtures"

LISTING = '''\
from sqlalchemy import create_engine

from examples.ecommerce import legacy

engine = create_engine("sqlite:///shop.db")
legacy.list_products(engine, limit=20)  # the product page, as a first project writes it
'''

ADD_TO_CART = '''\
from sqlalchemy import create_engine

from examples.ecommerce import legacy

engine = create_engine("sqlite:///shop.db")
legacy.add_to_cart(engine, user_id=1, product_id=7)  # one request, one buyer, nothing concurrent
'''


@dataclass(frozen=True)
class Stop:
    title: str
    shown: str  # the command as a reader types it
    argv: list[str]  # what runs (this interpreter)
    note: str = ""
    headings_only: bool = False
    collapsed: bool = False


def _ik(*args: str) -> list[str]:
    return [sys.executable, "-m", "integrity_kit", *args]


STOPS = [
    Stop("Build the legacy shop", "python -m examples.ecommerce init sqlite:///shop.db --legacy --rows 2000",
         [sys.executable, "-m", "examples.ecommerce", "init", "sqlite:///shop.db", "--legacy", "--rows", "2000"]),
    Stop("Audit it (two rules here; without --select, all of them)",
         "integrity-kit audit sqlite:///shop.db --select missing-foreign-key,derived-total-mismatch",
         _ik("audit", "sqlite:///shop.db", "--select", "missing-foreign-key,derived-total-mismatch"),
         note="Exit code 1: there are error findings (`--fail-on` sets the threshold). `--format json|sarif|markdown"
              "|html` for machines, PR comments and people; `--fix-migration fix.py` writes the Alembic revision."),
    Stop("What a rule checks and how to fix it", "integrity-kit explain unindexed-foreign-key",
         _ik("explain", "unindexed-foreign-key")),
    Stop("Find the N+1 in a program", "integrity-kit queries -- python listing.py",
         _ik("queries", "--", sys.executable, "listing.py"),
         note="`listing.py` is the product page of `examples/ecommerce/legacy.py`, called once:\n\n```python\n"
              + LISTING + "```"),
    Stop("Find a race risk in one plain run", "integrity-kit queries -- python add_to_cart.py",
         _ik("queries", "--", sys.executable, "add_to_cart.py"),
         note="`add_to_cart.py` puts one product in one cart, once, the way `examples/ecommerce/legacy.py` does:\n\n"
              "```python\n" + ADD_TO_CART + "```\n\nOn PostgreSQL or MariaDB, `--confirm DATABASE_URL` replays it "
              "from two sessions on a scratch copy and shows the duplicate line, and `pytest --detect-race-risks=fail` "
              "fails the plain test that called it."),
    Stop("Two buyers, one interleaving, every time", "integrity-kit race sqlite:///race.db --scheduled "
         "--strategy for-update", _ik("race", "sqlite:///race.db", "--scheduled", "--strategy", "for-update"),
         note="On PostgreSQL or MariaDB, `--strategy all` shows `naive` losing updates and overselling, and how "
              "each other strategy prevents it."),
    Stop("Which anomalies the engine allows at each isolation level", "integrity-kit anomalies sqlite:///race.db",
         _ik("anomalies", "sqlite:///race.db")),
    Stop("Lint a migration history", "integrity-kit lint-migrations tests/migrations/fixtures/unsafe "
         "--dialect postgresql", _ik("lint-migrations", str(FIXTURES / "unsafe"), "--dialect", "postgresql")),
    Stop("The whole story in one command", "integrity-kit demo", _ik("demo"), headings_only=True, collapsed=True),
]


def run_stop(stop: Stop, folder: Path) -> str:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "PYTHONPATH": str(ROOT)}
    env.pop("FORCE_COLOR", None)
    completed = subprocess.run(stop.argv, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"{stop.shown} exited {completed.returncode}: {completed.stderr.strip()[-500:]}")
    text = completed.stdout.replace(str(folder), ".").replace(str(ROOT) + "/", "")
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def render(outputs: list[str]) -> str:
    parts = [START, ""]
    for stop, output in zip(STOPS, outputs, strict=True):
        block = f"```console\n$ {stop.shown}\n{output}\n```"
        if stop.collapsed:
            block = f"<details><summary><code>$ {stop.shown}</code> (click to show its output)</summary>\n\n{block}" \
                    "\n\n</details>"
        parts += [f"**{stop.title}**", "", block, ""]
        if stop.note:
            parts += [stop.note, ""]
    parts.append(END)
    return "\n".join(parts)


def run_tour() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="ik-tour-") as scratch:
        folder = Path(scratch)
        (folder / "listing.py").write_text(LISTING)
        (folder / "add_to_cart.py").write_text(ADD_TO_CART)
        return [run_stop(stop, folder) for stop in STOPS]


def shape(text: str) -> list[str]:
    """The words of ``text`` with every number masked, the table rules dropped, and SQL column labels (``AS x``,
    which SQLAlchemy 2.0 renders and 2.1 does not) removed, so line wrapping and measured values may move."""
    masked = re.sub(r"\d+(?:[.,]\d+)*", "N", text)
    masked = re.sub(r"\s+AS\s+\w+(?=[,\s])", "", masked)
    return [word for word in masked.split() if word.strip("─━-")]


def _blocks(tour: str) -> list[str]:
    return re.findall(r"```console\n\$ [^\n]*\n(.*?)\n```", tour, flags=re.S)


def differences(readme_tour: str, outputs: list[str]) -> list[str]:
    """Where the README's tour and fresh output disagree, one message per stop."""
    shown = _blocks(readme_tour)
    if len(shown) != len(STOPS):
        return [f"the README shows {len(shown)} tour outputs, the tour has {len(STOPS)} stops"]
    problems = []
    for stop, old, new in zip(STOPS, shown, outputs, strict=True):
        if stop.headings_only:
            old_shape = re.findall(r"^N/N · .*$", re.sub(r"\d+", "N", old), flags=re.M)
            new_shape = re.findall(r"^N/N · .*$", re.sub(r"\d+", "N", new), flags=re.M)
        else:
            old_shape, new_shape = shape(old), shape(new)
        if old_shape != new_shape:
            first = next((i for i, (a, b) in enumerate(zip(old_shape, new_shape, strict=False)) if a != b),
                         min(len(old_shape), len(new_shape)))
            problems.append(f"{stop.shown}: from word {first + 1}, the README has "
                            f"{' '.join(old_shape[first:first + 12])!r}, the command printed "
                            f"{' '.join(new_shape[first:first + 12])!r}")
    return problems


def render_benchmarks(results: dict) -> str:
    """The headline rows of the last ``benchmarks/run_all.py`` run, as a Markdown table."""
    machine = results["machine"]
    lines = [BENCH_START, "", "| claim | integrity-kit | baseline | ratio | verdict |", "|---|---|---|---|---|"]
    for entry in results["benchmarks"]:
        for claim, ours, baseline, ratio, target, verdict in entry.get("headline", []):
            lines.append(f"| {claim} | {ours} | {baseline} | {ratio} | {verdict} (target {target}) |")
    dates = sorted({entry.get("measured", machine["date"]) for entry in results["benchmarks"]})
    when = machine["date"] if len(dates) == 1 else f"{dates[0]} to {dates[-1]} (each row's date in RESULTS.md)"
    lines += ["", f"Measured on {when}: {machine['cpu']}, {machine['cores']} cores; Python "
              f"{machine['python']}, SQLAlchemy {machine['sqlalchemy']}, {machine['postgresql']}. Reproduce with "
              f"`python benchmarks/run_all.py{' --quick' if results['quick'] else ''}`.", "", BENCH_END]
    return "\n".join(lines)


def section(text: str, start: str, end: str) -> str:
    if start not in text or end not in text:
        raise SystemExit(f"README.md has no markers {start} ... {end}")
    return text[text.index(start):text.index(end) + len(end)]


def current_tour(text: str) -> str:
    return section(text, START, END)


def main(argv: list[str]) -> int:
    if argv not in (["--write"], ["--check"]):
        print(__doc__.strip().splitlines()[2:4], file=sys.stderr)
        return 2
    text = README.read_text()
    tour, bench = current_tour(text), section(text, BENCH_START, BENCH_END)
    benchmarks = render_benchmarks(json.loads(RESULTS.read_text()))
    outputs = run_tour()
    if argv == ["--write"]:
        README.write_text(text.replace(tour, render(outputs)).replace(bench, benchmarks))
        print(f"rewrote the tour and the benchmark figures in {README}")
        return 0
    problems = differences(tour, outputs)
    if bench != benchmarks:
        problems.append("the benchmark figures differ from benchmarks/results.json")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("the README tour is stale: run `python -m tests.readme_tour --write`", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
