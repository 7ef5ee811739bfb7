"""Where an undeclared reference may point: candidate generation for missing-foreign-key.

Every signal is a general rule over the snapshot's own names and types (never a list of known names): a column
named after a table (``user_id``, ``ArtistId``, ``artist``, ``billtoaddressid`` split on the known table names, the
last words of a longer table name), after another table's distinctive key (``emp_no``, ``customerid``), a role
before a table (``manager_staff_id``), a numbered role (``parent2``), the last word of a prefix family's table
(``forum_topic_reply.topic`` -> ``forum_topic``), a table whose name is composed of other tables' names (link and
alias tables), a shared-key extension table, and a composite key of the parent matched column for column. Each
candidate carries its confidence and the reasons for it; the type must match the target's key exactly or be a safe
widening.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from integrity_kit.audit.naming import exact_type, family, singular, table_key, words
from integrity_kit.schema import Column, Snapshot, Table

# Bytes of each integer type name (MySQL's and the standard's); SQLite stores every INT-affinity type in 8 bytes.
_INT_BYTES = {"TINYINT": 1, "SMALLINT": 2, "INT2": 2, "MEDIUMINT": 3, "INT": 4, "INT4": 4, "INTEGER": 4,
              "SERIAL": 4, "BIGINT": 8, "INT8": 8, "BIGSERIAL": 8}
_LENGTH = re.compile(r"\((\d+)")


@lru_cache(maxsize=1 << 14)
def _integer_width(type_sql: str) -> tuple[int, bool] | None:
    upper = type_sql.upper()
    name = re.split(r"[\s(]", upper, maxsplit=1)[0]
    if name not in _INT_BYTES:
        return None
    return _INT_BYTES[name], "UNSIGNED" in upper


def type_fit(child: Column, parent: Column, dialect: str) -> str | None:
    """``exact``, ``widening`` (the child holds every value the parent's key can), ``signedness`` (the same width,
    signed against unsigned: what MySQL schemas mix, fixed by a type change), or None: not a reference."""
    if exact_type(child) == exact_type(parent):
        return "exact"
    if family(child) != family(parent):
        return None
    if family(child) == "integer":
        if dialect == "sqlite":
            return "widening"  # SQLite stores every integer type the same way
        mine, theirs = _integer_width(child.type_sql), _integer_width(parent.type_sql)
        if mine is None or theirs is None:
            return "widening" if _plain_numeric(child, parent) else None
        (width, unsigned), (parent_width, parent_unsigned) = mine, theirs
        if unsigned == parent_unsigned and width >= parent_width:
            return "widening"
        if not unsigned and parent_unsigned and width > parent_width:
            return "widening"
        if width == parent_width:
            return "signedness"
        return None
    if family(child) == "string":
        mine_length, their_length = _LENGTH.search(child.type_sql), _LENGTH.search(parent.type_sql)
        if mine_length is None:  # TEXT, or an unbounded VARCHAR: holds any key
            return "widening"
        if their_length is not None and int(mine_length.group(1)) >= int(their_length.group(1)):
            return "widening"
        return None
    return None


def _plain_numeric(child: Column, parent: Column) -> bool:
    # NUMERIC(p, 0) keys of Oracle-born schemas against an integer: wide enough when it has 10 digits or more.
    digits = [int(m.group(1)) for m in (_LENGTH.search(c.type_sql) for c in (child, parent)) if m]
    return bool(digits) and min(digits) >= 10


@dataclass(frozen=True)
class Candidate:
    """One possible target for a column (or, for a composite reference, several columns)."""

    table: Table
    columns: tuple[Column, ...]
    target: Table
    target_columns: tuple[Column, ...]
    confidence: float
    signals: tuple[str, ...]

    @property
    def column(self) -> Column:
        return self.columns[0]

    @property
    def target_column(self) -> Column:
        return self.target_columns[0]


@dataclass
class ReferenceIndex:
    """What the guesses look tables up by, built once per snapshot."""

    dialect: str
    # table_key of the whole name -> tables with a single-column key, and that key.
    by_name: dict[str, list[tuple[Table, Column]]] = field(default_factory=dict)
    # table_key of the last word(s) of a longer name (``crm_customer`` under ``customer``).
    by_last_words: dict[str, list[tuple[Table, Column]]] = field(default_factory=dict)
    # lower-case name of a distinctive key column (``emp_no``, ``customerid``) -> its tables.
    by_key_name: dict[str, list[tuple[Table, Column]]] = field(default_factory=dict)
    # (schema, lower table name) -> the table, for prefix families.
    by_table: dict[tuple[str | None, str], Table] = field(default_factory=dict)
    # Word tuples of table names (last word singular) -> tables with a single-column key.
    by_words: dict[tuple[str, ...], list[tuple[Table, Column]]] = field(default_factory=dict)
    longest_name: int = 1
    # Composite primary or unique keys: (table, its key columns).
    composite: list[tuple[Table, tuple[Column, ...]]] = field(default_factory=list)

    @classmethod
    def of(cls, snapshot: Snapshot) -> ReferenceIndex:
        index = cls(snapshot.dialect)
        for table in snapshot.tables:
            index.by_table[(table.schema, table.name.lower())] = table
            key = _single_key(table)
            if key is None:
                composite = _composite_key(table)
                if composite:
                    index.composite.append((table, composite))
                continue
            parts = words(table.name)
            index.by_name.setdefault(table_key(table.name), []).append((table, key))
            if parts:
                shaped = (*parts[:-1], singular(parts[-1]))
                index.by_words.setdefault(shaped, []).append((table, key))
                index.longest_name = max(index.longest_name, len(shaped))
            for start in range(1, len(parts)):
                index.by_last_words.setdefault(table_key("_".join(parts[start:])), []).append((table, key))
            if _distinctive_key_name(table, key):
                index.by_key_name.setdefault(key.name.lower(), []).append((table, key))
            for unique in table.unique_constraints:
                if len(unique.columns) == 1 and table.has_column(unique.columns[0]):
                    other = table.column(unique.columns[0])
                    if other is not key and _distinctive_key_name(table, other):
                        index.by_key_name.setdefault(other.name.lower(), []).append((table, other))
        return index


def _single_key(table: Table) -> Column | None:
    if table.primary_key and len(table.primary_key.columns) == 1 and table.has_column(table.primary_key.columns[0]):
        return table.column(table.primary_key.columns[0])
    return None


def _composite_key(table: Table) -> tuple[Column, ...]:
    """The table's composite primary key when it holds no date or time (a period is not an identity)."""
    if not table.primary_key or len(table.primary_key.columns) < 2:
        return ()
    if not all(table.has_column(name) for name in table.primary_key.columns):
        return ()
    columns = tuple(table.column(name) for name in table.primary_key.columns)
    if any(family(c) not in ("integer", "string", "uuid") for c in columns):
        return ()
    return columns


def _distinctive_key_name(table: Table, key: Column) -> bool:
    """A key name that says whose key it is: several words (``emp_no``, ``CustomerId``) or one word that starts
    with the table's own name (``customerid`` of ``customer``); never a bare ``id`` or ``code``."""
    parts = words(key.name)
    if parts in (["id"], []):
        return False
    if len(parts) > 1:
        return True
    own = table_key(table.name)
    return len(parts[0]) > len(own) and parts[0].startswith(own)


Guess = tuple[str, str, float, str]  # (index to look in, key, score, signal)


def name_guesses(table: Table, column: Column, index: ReferenceIndex) -> list[Guess]:
    """Every table the column's name may point at, with a score and the reason."""
    guesses = list(_guesses_for_name(column.name))
    if _single_key(table) is column:  # a table's own key is named after its table, not after a parent's
        guesses = [guess for guess in guesses if guess[0] != "key"]
    # Prefix families: forum_topic_reply.topic (or topic_id) -> forum_topic, the table its name extends.
    parts = words(column.name)
    table_parts = words(table.name)
    column_word = parts[:-1] if parts[-1:] == ["id"] and len(parts) > 1 else parts
    for end in range(2, len(table_parts)):
        prefix = table_parts[:end]
        if column_word == prefix[-1:]:
            guesses.append(("family", "_".join(prefix), 0.7, f"{table.name} extends {'_'.join(prefix)}: "
                                                             f"{column.name} names its last word"))
    return guesses


@lru_cache(maxsize=1 << 16)
def _guesses_for_name(name: str) -> tuple[Guess, ...]:
    """The guesses that depend on the column's name alone (cached: the same names recur in every table)."""
    parts = words(name)
    if not parts:
        return ()
    guesses = _guesses_from_words(name, parts)
    # Numbered roles: parent1, parent2, approver_2, user_id_2 -> the name without its number.
    stripped = _without_number(parts)
    if stripped and stripped != parts:
        guesses += [(where, key, score - 0.05, f"{signal} (numbered role {name})")
                    for where, key, score, signal in _guesses_from_words(name, stripped) if where != "key"]
    return tuple(guesses)


def _without_number(parts: list[str]) -> list[str]:
    if parts[-1].isdigit():
        return parts[:-1]
    trimmed = parts[-1].rstrip("0123456789")
    return [*parts[:-1], trimmed] if trimmed and trimmed != parts[-1] else parts


def _guesses_from_words(name: str, parts: list[str]) -> list[Guess]:
    guesses: list[Guess] = [("key", name.lower(), 0.7, f"name {name} is another table's key")]
    if parts[-1] == "id" and len(parts) > 1:
        stem = parts[:-1]
        guesses.append(("name", table_key("_".join(stem)), 0.75, f"name {name} = <table>_id"))
        guesses.append(("last", table_key("_".join(stem)), 0.6, f"name {name} = <last words of a table>_id"))
        for start in range(1, len(stem)):  # role prefix: manager_staff_id -> staff
            guesses.append(("name", table_key("_".join(stem[start:])), 0.6, f"name {name} = <role>_<table>_id"))
        if stem == ["parent"]:
            guesses.append(("self", "", 0.75, "parent_id refers to the same table"))
    elif len(parts) == 1 and parts[0].endswith("id") and len(parts[0]) > 4:
        # No separator (a CamelCase schema created unquoted): split on the known table names.
        stem_text = parts[0][:-2]
        guesses.append(("name", stem_text, 0.7, f"name {name} = <table>id, split on the table names"))
        for start in range(1, len(stem_text) - 2):
            guesses.append(("name", stem_text[start:], 0.55, f"name {name} = <role><table>id, split on the table "
                                                              "names"))
    elif parts[-1] != "id":
        whole = "_".join(parts)
        guesses.append(("name", table_key(whole), 0.6, f"name {name} is a table name"))
        guesses.append(("last", table_key(whole), 0.5, f"name {name} is the last word(s) of a table name"))
        for start in range(1, len(parts)):  # role prefix: begin_area -> area
            guesses.append(("name", table_key("_".join(parts[start:])), 0.5, f"name {name} = <role>_<table>"))
        if parts == ["parent"]:
            guesses.append(("self", "", 0.7, "parent refers to the same table"))
        if parts == ["type"]:  # vehicle.type -> vehicle_type
            guesses.append(("type", "", 0.6, "<table>.type -> <table>_type"))
    return guesses


def candidates(table: Table, column: Column, index: ReferenceIndex) -> Iterator[Candidate]:
    """The name-based candidates of one column, each target once, with its best score."""
    best: dict[tuple[str | None, str], Candidate] = {}
    for where, key, score, signal in name_guesses(table, column, index):
        for target, target_column in _lookup(table, where, key, index):
            if target is table and target_column.name == column.name:
                continue
            found = score_candidate(table, (column,), target, (target_column,), score, [signal], index.dialect)
            if found is None:
                continue
            seen = best.get((target.schema, target.name))
            if seen is None or found.confidence > seen.confidence:
                best[(target.schema, target.name)] = found
    yield from best.values()


def _lookup(table: Table, where: str, key: str, index: ReferenceIndex) -> list[tuple[Table, Column]]:
    if where == "self":
        own = _single_key(table)
        return [(table, own)] if own is not None else []
    if where == "key":
        return index.by_key_name.get(key, [])
    if where == "last":
        return [] if index.by_name.get(key) else index.by_last_words.get(key, [])
    if where == "type":
        return index.by_name.get(table_key(f"{table.name}_type"), [])
    if where == "family":
        parent = index.by_table.get((table.schema, key))
        own = _single_key(parent) if parent is not None else None
        return [(parent, own)] if parent is not None and own is not None else []
    return index.by_name.get(key, [])


def score_candidate(table: Table, columns: tuple[Column, ...], target: Table, target_columns: tuple[Column, ...],
                    score: float, signals: list[str], dialect: str) -> Candidate | None:
    """The candidate with its type and index signals, or None when a type cannot hold the target's keys."""
    signals = list(signals)
    confidence = score
    fits = [type_fit(c, t, dialect) for c, t in zip(columns, target_columns, strict=True)]
    if None in fits:
        return None
    described = ", ".join(f"{t.type_sql}" for t in target_columns)
    # Worded as before issue 21 (the README tour shows these signals).
    signals.append(f"type family {family(columns[0])} matches {target.name}."
                   f"{', '.join(t.name for t in target_columns)}")
    if all(fit == "exact" for fit in fits):
        confidence += 0.1
        signals.append("exact type match")
    elif "signedness" in fits:
        confidence -= 0.05
        signals.append(f"same width as {target.name}'s key but other signedness ({described})")
    else:
        confidence += 0.05
        signals.append(f"type is a safe widening of {target.name}'s key ({described})")
    if table.covering(tuple(c.name for c in columns)):
        confidence += 0.05
        signals.append("indexed")
    if table.schema != target.schema:
        confidence -= 0.1
        signals.append(f"in another schema ({target.schema})")
    return Candidate(table, columns, target, target_columns, round(min(confidence, 0.95), 2), tuple(signals))


def composed_of(table: Table, index: ReferenceIndex) -> list[tuple[Table, Column]]:
    """The tables a table's name is made of, in order (``film_actor`` -> film, actor; ``link_user_group`` ->
    user, group; ``artist_alias`` -> artist), matched on whole words, longest first; the table itself excluded."""
    parts = words(table.name)
    ends: list[tuple[Table, Column]] = []
    position = 0
    while position < len(parts):
        for length in range(min(index.longest_name, len(parts) - position), 0, -1):
            run = parts[position:position + length]
            shaped = (*run[:-1], singular(run[-1]))
            found = [entry for entry in index.by_words.get(shaped, []) if entry[0] is not table]
            if found:
                same = [entry for entry in found if entry[0].schema == table.schema] or found
                ends.append(same[0])
                position += length
                break
        else:
            position += 1
    return ends


def is_copy_of(table: Table, target: Table, columns: tuple[Column, ...]) -> bool:
    """A table keyed by the reference whose every other column repeats the target's (sakila's ``film_text``: a
    search copy of ``film`` kept by triggers): a copy of the target's rows, not a table that refers to them."""
    pk = table.primary_key.columns if table.primary_key else ()
    if tuple(c.name for c in columns) != pk:
        return False
    others = [c for c in table.columns if c.name not in pk]
    return bool(others) and all(target.has_column(c.name) for c in others)
