"""How long the migration linter takes on a 400-revision history, beside rendering the same history's SQL once with
Alembic and beside squawk on that SQL, in one run.

    python benchmarks/lint_speed.py [--revisions N] [--repeats N] [--squawk PATH] [--json FILE]

The history is generated into a temporary folder: a realistic mix of ``create_table`` with foreign keys,
``add_column``, ``create_index``, ``alter_column``, ``execute`` backfills and batch operations, one revision after
the other. Measured, each as its own process (start-up included), best of ``--repeats``:

(a) ``integrity-kit lint-migrations DIR`` (Python pass and rendered SQL), (b) the same with ``--no-sql``,
(c) ``alembic upgrade base:heads --sql`` on the same folder, which renders every revision's SQL once, and
(d) squawk on the SQL (c) printed: the pip ``squawk`` beside this Python or on PATH, else
``npm install --prefix <tmp> squawk-cli``; skipped with the reason printed when neither works.

Target: (a) within 2x of (c). Set PYTHONPATH to another checkout to measure its linter on the same history.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TARGET = 2.0
ENV_PY = '''"""Alembic environment of the generated history: offline rendering, one transaction per revision."""

from alembic import context

config = context.config
context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
'''
INI = """[alembic]
script_location = {directory}
sqlalchemy.url = postgresql://
path_separator = os
"""
REVISION = '''"""{doc}

Revision ID: {revision}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down_literal}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def _operation(index: int, tables: list[str]) -> tuple[str, str, str]:
    """(docstring, upgrade body, downgrade body) of revision ``index``: one kind in turn, on the tables so far."""
    kind = index % 6
    table = tables[index % len(tables)]
    if kind == 0 or len(tables) < 2:
        name = f"table_{index:04d}"
        parent = tables[-1]
        tables.append(name)
        return (f"create {name} referencing {parent}",
                f'op.create_table(\n        "{name}",\n        sa.Column("id", sa.Integer(), primary_key=True),\n'
                f'        sa.Column("{parent}_id", sa.Integer(), sa.ForeignKey("{parent}.id"), nullable=False),\n'
                f'        sa.Column("label", sa.String(100), nullable=True),\n    )',
                f'op.drop_table("{name}")')
    if kind == 1:
        return (f"add a column to {table}", f'op.add_column("{table}", sa.Column("c{index}", sa.Text(), '
                                            'nullable=True))', f'op.drop_column("{table}", "c{index}")')
    if kind == 2:
        return (f"index {table}.label", f'op.create_index("ix_{table}_label_{index}", "{table}", ["label"])',
                f'op.drop_index("ix_{table}_label_{index}", table_name="{table}")')
    if kind == 3:
        return (f"widen {table}.label", f'op.alter_column("{table}", "label", existing_type=sa.String(100), '
                                        'type_=sa.String(200))',
                f'op.alter_column("{table}", "label", existing_type=sa.String(200), type_=sa.String(100))')
    if kind == 4:
        return (f"backfill {table}.label", f'op.execute("UPDATE {table} SET label = \'none\' WHERE label IS NULL")',
                "pass")
    return (f"batch change of {table}",
            f'with op.batch_alter_table("{table}") as batch_op:\n'
            f'        batch_op.add_column(sa.Column("b{index}", sa.Integer(), nullable=True))\n'
            f'        batch_op.create_index("ix_{table}_b{index}", ["b{index}"])',
            f'with op.batch_alter_table("{table}") as batch_op:\n        batch_op.drop_index("ix_{table}_b{index}")\n'
            f'        batch_op.drop_column("b{index}")')


def generate(directory: Path, revisions: int) -> None:
    """Write env.py, alembic.ini and ``revisions`` revision files into ``directory``."""
    (directory / "versions").mkdir(parents=True)
    (directory / "env.py").write_text(ENV_PY)
    (directory / "alembic.ini").write_text(INI.format(directory=directory))
    tables = ["accounts"]
    down = None
    for index in range(revisions):
        revision = f"r{index:04d}"
        if index == 0:
            doc, upgrade, downgrade = ("the accounts table", 'op.create_table(\n        "accounts",\n'
                                       '        sa.Column("id", sa.Integer(), primary_key=True),\n'
                                       '        sa.Column("label", sa.String(100), nullable=True),\n    )',
                                       'op.drop_table("accounts")')
        else:
            doc, upgrade, downgrade = _operation(index, tables)
        (directory / "versions" / f"{revision}_step.py").write_text(REVISION.format(
            doc=doc, revision=revision, down=down or "", down_literal=f'"{down}"' if down else "None",
            upgrade="    " + upgrade, downgrade="    " + downgrade))
        down = revision


@dataclass
class Timing:
    wall_s: float  # best of the runs
    cpu_s: float  # best of the runs: user + system time of the process, steadier than wall time on a busy machine
    exit_code: int


def timed(command: list[str], repeats: int, *, stdout: Path | None = None) -> Timing:
    """The best wall and CPU time of ``repeats`` runs and the last exit code."""
    wall, cpu, code = float("inf"), float("inf"), 0
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        with open(stdout, "w") if stdout else open(os.devnull, "w") as out:
            code = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, timeout=3600).returncode
        wall = min(wall, time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = min(cpu, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return Timing(wall, cpu, code)


def squawk_command(explicit: str | None, scratch: Path) -> tuple[list[str] | None, str]:
    """How to run squawk, or None and why not."""
    beside = Path(sys.executable).parent / "squawk"
    found = explicit or shutil.which("squawk") or (str(beside) if beside.exists() else None)
    if found:
        return [found], "pip squawk-cli"
    if not shutil.which("npm"):
        return None, "no squawk on PATH and no npm to install squawk-cli"
    prefix = scratch / "npm"
    completed = subprocess.run(["npm", "install", "--silent", "--prefix", str(prefix), "squawk-cli"],
                               capture_output=True, text=True, timeout=600)
    binary = prefix / "node_modules" / ".bin" / "squawk"
    if completed.returncode != 0 or not binary.exists():
        reason = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"npm install squawk-cli failed: {reason}"
    return [str(binary)], "npm squawk-cli"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=400, help="revisions in the generated history")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument("--squawk", default=None, help="the squawk executable (default: found or npm-installed)")
    parser.add_argument("--json", default=None, help="where to write the numbers as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        directory = scratch / "history"
        generate(directory, args.revisions)
        lint = [sys.executable, "-m", "integrity_kit", "lint-migrations", str(directory), "--format", "json"]
        report = scratch / "lint.json"
        full = timed(lint, args.repeats, stdout=report)
        data = json.loads(report.read_text())
        no_sql = timed([*lint, "--no-sql"], args.repeats)
        sql_file = scratch / "history.sql"
        render_command = [sys.executable, "-m", "alembic", "-c", str(directory / "alembic.ini"), "upgrade",
                          "base:heads", "--sql"]
        render = timed(render_command, args.repeats, stdout=sql_file)
        if render.exit_code != 0:
            raise SystemExit(f"alembic upgrade base:heads --sql failed with exit code {render.exit_code}")
        squawk, how = squawk_command(args.squawk, scratch)
        squawk_time = timed([*squawk, str(sql_file)], args.repeats) if squawk is not None else None
        summary = data.get("summary", {})
        ratio, cpu_ratio = full.wall_s / render.wall_s, full.cpu_s / render.cpu_s
        print(f"generated history: {args.revisions} revisions ({sql_file.stat().st_size // 1024} KiB of SQL); "
              f"best of {args.repeats} runs, process start included; wall (cpu) seconds")
        print(f"(a) integrity-kit lint-migrations:          {full.wall_s:7.2f} s ({full.cpu_s:.2f} s)  exit "
              f"{full.exit_code}, {summary.get('findings')} findings, SQL of {summary.get('sql_rendered', '?')} "
              "revisions")
        print(f"(b) integrity-kit lint-migrations --no-sql: {no_sql.wall_s:7.2f} s ({no_sql.cpu_s:.2f} s)")
        print(f"(c) alembic upgrade base:heads --sql:       {render.wall_s:7.2f} s ({render.cpu_s:.2f} s)")
        if squawk_time is not None:
            print(f"(d) squawk on that SQL ({how}):     {squawk_time.wall_s:7.2f} s ({squawk_time.cpu_s:.2f} s)")
        else:
            print(f"(d) squawk skipped: {how}")
        verdict = "met" if max(ratio, cpu_ratio) <= TARGET else "NOT met"
        print(f"full lint / one rendering: {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu (target <= {TARGET}x: {verdict})")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "revisions": args.revisions, "repeats": args.repeats, "full_s": round(full.wall_s, 3),
                "full_cpu_s": round(full.cpu_s, 3), "no_sql_s": round(no_sql.wall_s, 3),
                "no_sql_cpu_s": round(no_sql.cpu_s, 3), "render_once_s": round(render.wall_s, 3),
                "render_once_cpu_s": round(render.cpu_s, 3),
                "squawk_s": None if squawk_time is None else round(squawk_time.wall_s, 3), "squawk": how,
                "findings": summary.get("findings"), "sql_rendered": summary.get("sql_rendered"),
                "ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3), "target": TARGET}, indent=2) + "\n")

if __name__ == "__main__":
    main()
