"""Load the public sample schemas in ../shared/corpus into a scratch database with the engine's own client, and
measure how many of their foreign keys the missing-foreign-key rule recovers once the keys are taken away."""

from __future__ import annotations

import dataclasses
import os
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, create_engine

from integrity_kit.audit.rules.keys import MissingForeignKey
from integrity_kit.schema import build_snapshot


def _corpus() -> Path:
    """The shared corpus beside the checkout (``../shared/corpus``), wherever the checkout was cloned to, or
    ``IK_CORPUS_DIR``."""
    if os.environ.get("IK_CORPUS_DIR"):
        return Path(os.environ["IK_CORPUS_DIR"])
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "corpus").is_dir():
            return parent / "shared" / "corpus"
    return Path("/work/shared/corpus")


CORPUS = _corpus()
FILES = {
    ("chinook", "sqlite"): "chinook_sqlite.sql",
    ("chinook", "postgresql"): "chinook_postgresql.sql",
    ("chinook", "mariadb"): "chinook_mysql.sql",
    ("sakila", "sqlite"): "sakila_sqlite_schema.sql",
    ("sakila", "postgresql"): "sakila_postgres_schema.sql",
    ("sakila", "mariadb"): "sakila_mysql_schema.sql",
    ("employees", "mariadb"): "employees_mysql_schema.sql",
}
# Lines that create, drop or switch databases: the scratch database is already the target.
_DATABASE_LINES = re.compile(r"^\s*(CREATE DATABASE|DROP DATABASE|USE |\\c )", re.IGNORECASE)


def script(schema: str, engine_name: str) -> str:
    path = CORPUS / FILES[(schema, engine_name)]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: set IK_CORPUS_DIR to the shared corpus of sample schemas")
    text = path.read_text(encoding="utf-8", errors="replace")
    text = "\n".join(line for line in text.splitlines() if not _DATABASE_LINES.match(line))
    return text.replace("sakila.", "") if engine_name == "mariadb" else text


def load(schema: str, engine_name: str, url: URL) -> None:
    sql = script(schema, engine_name)
    if engine_name == "sqlite":
        connection = sqlite3.connect(url.database)
        try:
            connection.executescript(sql)
        finally:
            connection.close()
        return
    if engine_name == "postgresql":
        command = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
                   "-U", url.username or "postgres", "-d", url.database]
    else:
        command = ["mariadb", "--protocol=tcp", "-h", url.host or "127.0.0.1", "-P", str(url.port or 3306),
                   "-u", url.username or "root", url.database]
    env = {"PGPASSWORD": url.password or "", "MYSQL_PWD": url.password or "", "PATH": "/usr/bin:/bin"}
    completed = subprocess.run(command, input=sql, capture_output=True, text=True, env=env, timeout=300)
    if completed.returncode != 0:
        raise RuntimeError(f"loading {schema} into {engine_name} failed: {completed.stderr.strip()[:500]}")


@dataclass(frozen=True)
class Recovery:
    declared: frozenset
    found: frozenset

    @property
    def recovered(self) -> frozenset:
        return self.declared & self.found

    @property
    def recall(self) -> float:
        return len(self.recovered) / len(self.declared)

    @property
    def precision(self) -> float:
        return len(self.recovered) / len(self.found) if self.found else 1.0


def _key(table: str, column: str, target: str) -> tuple[str, str, str]:
    # MySQL on a case-insensitive file system reports table names in lower case; compare case-blind.
    return (table.lower(), column.lower(), target.lower())


def fk_recovery(url: URL) -> Recovery:
    """Take the declared single-column foreign keys away from the snapshot and ask the rule to find them again:
    the same as loading the schema with its FK clauses removed (the indexes stay, as they would)."""
    engine = create_engine(url)
    try:
        snapshot = build_snapshot(engine)
    finally:
        engine.dispose()
    declared = {_key(t.name, fk.columns[0], fk.referred_table) for t in snapshot.tables for fk in t.foreign_keys
                if len(fk.columns) == 1}
    stripped = dataclasses.replace(
        snapshot, tables=tuple(dataclasses.replace(table, foreign_keys=()) for table in snapshot.tables))
    found = {_key(f.table, f.columns[0], f.target["table"]) for f in MissingForeignKey().check(stripped)}
    return Recovery(frozenset(declared), frozenset(found))
