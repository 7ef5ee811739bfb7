"""Keys: primary keys, foreign keys that are missing, unindexed, mistyped or not enforced."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

from integrity_kit.audit.changes import (
    AddForeignKey,
    AddPrimaryKey,
    Changes,
    ChangeType,
    ConvertToInnoDB,
    CreateIndex,
    DeleteOrphans,
    ForeignKeysPragma,
    KeptAttributes,
    Operation,
    TableName,
    ValidateConstraint,
    sa_type,
)
from integrity_kit.audit.evidence import deletion_headline, judged
from integrity_kit.audit.model import DataRule, Finding, Rule, RuleOption, Severity
from integrity_kit.audit.naming import exact_type, family, words
from integrity_kit.audit.probes import Presence, Probe
from integrity_kit.audit.references import (
    Candidate,
    candidates,
    composed_of,
    is_copy_of,
    score_candidate,
    type_fit,
)
from integrity_kit.audit.references import ReferenceIndex as References
from integrity_kit.schema import Column, ForeignKey, Index, Snapshot, Table


class MissingPrimaryKey(Rule):
    """A table without a primary key.

    ## What it checks

    Every table has a primary key (or, failing that, a unique constraint over NOT NULL columns).

    ## Why it matters

    Without a key, two rows can be identical and nothing can point at exactly one of them: updates and deletes by
    value hit every copy, ORMs cannot track the row, and replication tools refuse or crawl.

    ## Example

    ```sql
    CREATE TABLE audit_log (happened_at TIMESTAMP, message TEXT);
    ```

    ## How to fix

    Add a surrogate key (`id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`) or declare the natural key.
    """

    code = "IK100"
    name = "missing-primary-key"
    severity = Severity.ERROR
    summary = "Table has no primary key."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            if table.primary_key and table.primary_key.columns:
                continue
            if any(all(not table.column(c).nullable for c in u.columns if table.has_column(c))
                   for u in table.unique_constraints):
                continue
            yield self.finding(table, (), f"{table.qualified_name} has no primary key: rows cannot be told apart",
                               changes=Changes(snapshot.dialect, (AddPrimaryKey.surrogate(table),)))


class MissingForeignKey(Rule):
    """A column that refers to another table's key without a foreign key constraint.

    ## What it checks

    Columns that hold another table's key but carry no foreign key. Candidates come from general rules over the
    schema's own names, never from a list of known names:

    - the column is named after a table: `user_id`, `ArtistId`, the bare table name `artist`, the last word(s)
      of a longer table name (`customer_id` -> `crm_customer`), a role before the table (`manager_staff_id`,
      `begin_area`), a numbered role (`parent1`, `user_id_2`), `parent_id` for the same table, `<table>.type`
      for `<table>_type`;
    - names without any separator (a CamelCase schema created unquoted) are split on the known table names:
      `billtoaddressid` -> role `billto`, table `address`;
    - the column has exactly the name of another table's distinctive key (`emp_no`, `dept_no`, `customerid`; a
      bare `id` or `code` says nothing about whose key it is);
    - the table is named after others: a link table `<a>_<b>` or `link_<a>_<b>` whose key columns (`a`/`b`,
      `source`/`target`) refer to its ends in order, an alias table `<t>_alias` whose `new`/`old` columns refer
      to `<t>`, a shared-key extension `<t>_meta` whose key the database does not generate and nothing else
      refers to; a prefix family `<p>_<x>.<last word of p>` -> `<p>`;
    - a parent's composite key repeated column for column (`shipment_line(order_no, line_no)` ->
      `order_line`); tables keyed by exactly the same columns are siblings, and a key holding a date is a period;
    - weakest, as warnings that say so ("no name tie"): an indexed integer `…id` column named after no table
      points at the one table of its key type that nothing else refers to and that holds at most one reference
      itself (Chinook's `SupportRepId` -> `Employee`); an indexed, nullable column of its own table's key type
      named after nothing is a hierarchy (`ReportsTo`). With data, the values must confirm them: every value a
      key of the target, and for a hierarchy no row pointing at itself and no loop.

    The type must match the target's key exactly or be a safe widening (`BIGINT` holding `INT` keys, a longer
    `VARCHAR`); a column of another type (an external `stripe_customer_id` string) is never a candidate, and
    polymorphic `<name>_type`/`<name>_id` pairs are skipped: they point at several tables by design. A table
    keyed like another whose every other column repeats it (sakila's `film_text`, a search copy of `film`) is a
    copy, not a reference. Each signal adds to the confidence, with its reason in the evidence (`signals`); two
    parents that fit equally are reported once as ambiguous, naming both (`also_possible`), at a lower
    confidence, never as a silent guess. A target in the column's own schema is preferred.

    With data, the values have the last word: a candidate with three distinct values or more, fewer than half of
    which exist in the target's key, is a count, a rating or a year sharing a word with a table (`units_on_order`
    beside `orders`), not a reference, and is not reported; a few orphans keep the finding and say that adding
    the key today fails. The values also find references no name ties to their target (Chinook's `SupportRepId`
    and `ReportsTo` -> `Employee`): an integer `…id` column whose values (three distinct or more) are all keys
    of the one fitting table no other reference reaches, or a nullable column over its own table's key whose
    values form a tree (no row points at itself, no loop): a count or a version that happens to hold valid keys
    loops or points at its own row. When orphans remain and their clean-up would delete more than 10% of the
    table, the finding says so first ("the clean-up deletes 77 of 77 rows (100%)").

    ## Why it matters

    Without the constraint the database accepts an order for a user who does not exist, and deleting a product
    leaves cart lines pointing at nothing. Application checks race; the constraint does not.

    ## Example

    ```sql
    CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL);  -- no REFERENCES users (id)
    ```

    ## How to fix

    Remove the orphans first (the finding's evidence says how many there are), then add the constraint; on
    PostgreSQL add it `NOT VALID` and `VALIDATE` it in a second step so writes are not blocked while it scans.
    Index the column too when nothing covers it: joins and the parent's deletes read it.
    """

    code = "IK101"
    name = "missing-foreign-key"
    severity = Severity.ERROR
    summary = "Column refers to another table's key but has no foreign key constraint."
    options = (RuleOption("external-ids", "Column-name globs that hold ids from elsewhere and are never foreign "
                                          "keys, e.g. `[\"stripe_*\", \"*_external_id\"]`."),)
    blocking_evidence = ("orphan_rows",)
    REPORT_AT = 0.5
    ERROR_AT = 0.8
    other_severities = {Severity.WARNING: f"when the evidence is weaker (confidence below {ERROR_AT})"}
    # Share of a candidate's distinct values its target must hold to stay a candidate: the corpus references hold
    # all of theirs (1.0), counts, ratings and years beside an id range hold none or a few.
    PRESENT_AT_LEAST = 0.5
    # One or two distinct values say too little to overrule the name (a new table, a single orphan).
    JUDGED_FROM = 3

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table, groups in self._all_candidates(snapshot)[1]:
            for found in groups:
                if found[0].confidence >= self.REPORT_AT:
                    yield self._report(snapshot, table, found)

    def _skipped(self, table: Table) -> set[str]:
        """Columns that are never references: declared ones, polymorphic ids, external ids, a lone ``id`` key."""
        skipped = {column for fk in table.foreign_keys for column in fk.columns} | _polymorphic_ids(table)
        external_ids = self.option("external-ids")
        if external_ids:
            skipped |= {c.name for c in table.columns
                        if any(fnmatchcase(c.name.lower(), pattern.lower()) for pattern in external_ids)}
        return skipped

    def _all_candidates(self, snapshot: Snapshot) -> tuple[References, list[tuple[Table, list[list[Candidate]]]]]:
        """Per table, per reference: its candidates, best first. Names first, for every table; then the tables
        named after others, which need to know what the names already reach. The last snapshot's answer is kept:
        other rules (derived totals) and the data pass ask again about the same snapshot."""
        options = self.option("external-ids")
        cached = _LAST_CANDIDATES.get("last")
        if cached is not None and cached[0] is snapshot and cached[1] == options:
            return cached[2], cached[3]
        index = References.of(snapshot)
        result = self._compute_candidates(snapshot, index)
        _LAST_CANDIDATES["last"] = (snapshot, options, index, result)
        return index, result

    def _compute_candidates(self, snapshot: Snapshot,
                            index: References) -> list[tuple[Table, list[list[Candidate]]]]:
        named = []
        # (schema, lower name) of every table some reference reaches: declared, or a column's best guess.
        referred: set[tuple[str | None, str]] = set()
        for table in snapshot.tables:
            skipped = self._skipped(table)
            per_column, reached = self._named(table, index, skipped)
            named.append((table, skipped, per_column, reached))
            referred |= {key for key in reached if key != (table.schema, table.name.lower())}
        outgoing: dict[tuple[str | None, str], int] = {}
        for table, skipped, per_column, reached in named:
            for candidate in self._composed(table, index, per_column, skipped, reached, referred):
                per_column.setdefault(candidate.column.name, []).append(candidate)
                if candidate.confidence >= self.REPORT_AT:
                    reached.add((candidate.target.schema, candidate.target.name.lower()))
            own = (table.schema, table.name.lower())
            referred |= {key for key in reached if key != own}
            outgoing[own] = len(reached - {own})
        # Entities nothing refers to yet and that hold at most one reference themselves: where a role column
        # named after nothing points, when there is exactly one of them.
        entities = [(t, key) for group in index.by_name.values() for t, key in group
                    if (t.schema, t.name.lower()) not in referred and outgoing.get((t.schema, t.name.lower()), 0) <= 1]
        result = []
        for table, skipped, per_column, _reached in named:
            for candidate in self._unnamed(table, index, per_column, skipped, entities):
                per_column[candidate.column.name] = [candidate]
            groups = list(per_column.values())
            groups += [[candidate] for candidate in self._composite(table, index, skipped)]
            result.append((table, groups))
        return result

    # Marks the candidates of _unnamed in their signals: the values must confirm them (a tree, no orphans).
    UNNAMED = "no name tie"

    def _unnamed(self, table: Table, index: References, per_column: dict[str, list[Candidate]], skipped: set[str],
                 entities: list[tuple[Table, Column]]) -> Iterator[Candidate]:
        """Indexed integer columns no name ties to a table (Chinook's SupportRepId, ReportsTo): an ``…id`` role
        points at the one entity nothing else refers to; a nullable column of the table's own key type, named
        after nothing, at its own table (a hierarchy). Weak without data (a warning); the values confirm them."""
        own_key = _single_key_column(table)
        for column in table.columns:
            if column.name in per_column or column.name in skipped or column is own_key:
                continue
            if family(column) != "integer" or not table.covering((column.name,)):
                continue
            lower = column.name.lower()
            if words(column.name)[-1:] == ["id"] or (lower.endswith("id") and len(lower) > 4):
                fitting = [(t, key) for t, key in entities if t is not table
                           and type_fit(column, key, index.dialect) in ("exact", "widening")]
                if len(fitting) == 1:
                    target, key = fitting[0]
                    found = score_candidate(table, (column,), target, (key,), 0.4, [
                        f"{self.UNNAMED}: {column.name} is an indexed id of no table's name; {target.name} is the "
                        "only table of its key type nothing else refers to"], index.dialect)
                    if found:
                        yield found
            elif own_key is not None and column.nullable and type_fit(column, own_key, index.dialect) == "exact":
                found = score_candidate(table, (column,), table, (own_key,), 0.35, [
                    f"{self.UNNAMED}: {column.name} is an indexed, nullable column of {table.name}'s own key type "
                    "(a hierarchy)"], index.dialect)
                if found:
                    yield found

    def _named(self, table: Table, index: References,
               skipped: set[str]) -> tuple[dict[str, list[Candidate]], set[tuple[str | None, str]]]:
        """The candidates the column names give, and the tables they (or the declared keys) reach."""
        pk = table.primary_key.columns if table.primary_key else ()
        per_column: dict[str, list[Candidate]] = {}
        reached = {(fk.referred_schema or table.schema, fk.referred_table.lower()) for fk in table.foreign_keys}
        for column in table.columns:
            if column.name in skipped or (pk == (column.name,) and column.name.lower() == "id"):
                continue
            found = sorted(candidates(table, column, index), key=lambda c: (-c.confidence, c.target.name))
            if not found:
                continue
            if found[0].confidence >= self.REPORT_AT:
                reached.add((found[0].target.schema, found[0].target.name.lower()))
            if is_copy_of(table, found[0].target, found[0].columns):
                continue  # a copy of the target's rows (a search table), not a reference to them
            per_column[column.name] = found
        return per_column, reached

    def _composed(self, table: Table, index: References, per_column: dict[str, list[Candidate]], skipped: set[str],
                  reached: set[tuple[str | None, str]],
                  referred: set[tuple[str | None, str]]) -> Iterator[Candidate]:
        """Link, alias and extension tables: a table named after other tables whose remaining key columns say
        nothing about their target (``user_group.left``, ``artist_alias.new``, ``post_meta.id``)."""
        ends = composed_of(table, index)
        open_ends = [(t, key) for t, key in ends if (t.schema, t.name.lower()) not in reached]
        if not open_ends:
            return
        pk = table.primary_key.columns if table.primary_key else ()
        keyed = {name for u in table.unique_constraints for name in u.columns} | set(pk)
        keyed |= {name for ix in table.indexes for name in ix.columns if name}
        free = [c for c in table.columns if c.name not in per_column and c.name not in skipped and pk != (c.name,)
                and any(type_fit(c, key, index.dialect) for _t, key in open_ends)]
        # The free columns carry the table's meaning only when keyed, or when the table holds nothing else: a
        # quantity beside other data is not an end.
        only_these = all(c.name in pk or c in free or c.name in skipped for c in table.columns)
        free = [c for c in free if c.name in keyed or only_these]
        named = " and ".join(t.name for t, _key in ends)
        if len(ends) >= 2 and len(free) == len(open_ends):
            for position, (column, (target, key)) in enumerate(zip(free, open_ends, strict=True), start=1):
                found = score_candidate(table, (column,), target, (key,), 0.6,
                                        [f"{table.name} is named after {named}: {column.name} is end {position}"],
                                        index.dialect)
                if found:
                    yield found
        elif len(ends) == 1 and free:
            target, key = ends[0]
            for column in free:
                found = score_candidate(table, (column,), target, (key,), 0.55,
                                        [f"{table.name} is named after {target.name}, and {column.name} holds "
                                         f"values of its key type"], index.dialect)
                if found:
                    yield found
        elif len(ends) == 1 and len(pk) == 1 and not _generated(table.column(pk[0])) \
                and (table.schema, table.name.lower()) not in referred:
            # Shared-key extension (post_meta.id = post.id): its key is assigned from the parent, never generated,
            # and nothing else refers to it (a lookup table such as vehicle_type is referred to).
            target, key = ends[0]
            found = score_candidate(table, (table.column(pk[0]),), target, (key,), 0.6,
                                    [f"{table.name} extends {target.name}: its key {pk[0]} is not generated, so "
                                     f"it is {target.name}'s"], index.dialect)
            if found and not is_copy_of(table, target, found.columns):
                yield found

    def _composite(self, table: Table, index: References, skipped: set[str]) -> Iterator[Candidate]:
        """A parent's composite key repeated column for column (``shipment_line(order_id, line_no)`` ->
        ``order_line``); a table keyed by exactly the same columns is a sibling, not a child."""
        own = tuple(sorted(table.primary_key.columns)) if table.primary_key else ()
        for parent, key in index.composite:
            if parent is table or own == tuple(sorted(c.name for c in key)):
                continue
            if not all(table.has_column(c.name) and c.name not in skipped for c in key):
                continue
            columns = tuple(table.column(c.name) for c in key)
            found = score_candidate(table, columns, parent, key, 0.7,
                                    [f"columns ({', '.join(c.name for c in key)}) repeat {parent.name}'s "
                                     "composite key"], index.dialect)
            if found:
                yield found

    def _report(self, snapshot: Snapshot, table: Table, candidates: list[Candidate]) -> Finding:
        best = candidates[0]
        # A target in the table's own schema outranks same-named tables elsewhere: auditing more schemas must not
        # turn a clear reference into an ambiguous one.
        own_schema = best.target.schema == table.schema
        rivals = [c for c in candidates[1:] if c.confidence >= best.confidence - 0.1
                  and not (own_schema and c.target.schema != table.schema)]
        confidence = best.confidence - (0.15 if rivals else 0.0)
        columns = tuple(c.name for c in best.columns)
        target_columns = tuple(c.name for c in best.target_columns)
        shown = ", ".join(columns)
        unindexed = not table.covering(columns)
        message = (f"{table.qualified_name}.{shown} looks like a reference to "
                   f"{best.target.qualified_name}.{', '.join(target_columns)} but has no foreign key")
        if rivals:
            message += (" (ambiguous: " + ", ".join(f"{c.target.qualified_name}.{c.target_column.name}"
                                                     for c in rivals) + " fits as well)")
        if unindexed:
            message += " (and no index)"
        evidence: dict[str, Any] = {"signals": list(best.signals)}
        if rivals:
            evidence["also_possible"] = [f"{c.target.qualified_name}.{c.target_column.name}" for c in rivals]
        target: dict[str, Any] = {"table": best.target.name, "columns": list(target_columns)}
        if best.target.schema:
            target["schema"] = best.target.schema
        operations: list[Operation] = [CreateIndex(TableName.of(table), columns)] if unindexed else []
        for column, target_column in zip(best.columns, best.target_columns, strict=True):
            if snapshot.dialect in ("mysql", "mariadb") and exact_type(column) != exact_type(target_column):
                # InnoDB refuses a foreign key between columns of different types ("incorrectly formed"): INT and
                # INT UNSIGNED, SMALLINT and INT. The child takes the parent's type first.
                message += f"; {column.name}'s type {column.type_sql} must become {target_column.type_sql} first"
                operations.append(ChangeType(TableName.of(table), column.name, target_column.type_sql,
                                             sa_type(target_column, snapshot.dialect),
                                             sa_type(column, snapshot.dialect), column.nullable,
                                             KeptAttributes.of(column, snapshot.dialect)))
        operations.append(AddForeignKey(TableName.of(table), columns, TableName.of(best.target), target_columns))
        return self.finding(
            table, columns, message, confidence=confidence, target=target, evidence=evidence,
            severity=Severity.ERROR if confidence >= self.ERROR_AT else Severity.WARNING,
            changes=Changes(snapshot.dialect, tuple(operations)))

    def check_with_data(self, snapshot: Snapshot, probe: Probe) -> Iterator[Finding]:
        """References no name ties to their target (``SupportRepId``, ``ReportsTo`` -> ``Employee``), found from
        the values: an integer column whose values (three distinct or more) are all keys of exactly one fitting
        table, with the reasons. Only columns the names left without a candidate are examined."""
        index, every = self._all_candidates(snapshot)
        named: dict[tuple[str | None, str], set[str]] = {}
        referred: set[tuple[str | None, str]] = set()
        outgoing: dict[tuple[str | None, str], int] = {}
        for table, groups in every:
            named[(table.schema, table.name)] = {c.name for group in groups for c in group[0].columns}
            targets = {(g[0].target.schema, g[0].target.name) for g in groups if g[0].confidence >= self.REPORT_AT}
            targets |= {(fk.referred_schema or table.schema, fk.referred_table) for fk in table.foreign_keys}
            targets.discard((table.schema, table.name))
            referred |= targets
            outgoing[(table.schema, table.name)] = len(targets)
        for table in snapshot.tables:
            own_key = _single_key_column(table)
            skipped = self._skipped(table) | named[(table.schema, table.name)]
            for column in table.columns:
                if column.name in skipped or (own_key is not None and column is own_key):
                    continue
                if family(column) != "integer" or column.type_sql.upper().startswith(("BOOL", "TINYINT(1)")):
                    continue
                reference_named = words(column.name)[-1:] == ["id"] or column.name.lower().endswith("id")
                if not reference_named and not (own_key is not None and column.nullable):
                    continue
                finding = self._from_values(snapshot, index, table, column, own_key, reference_named, probe,
                                            referred, outgoing)
                if finding is not None:
                    yield finding

    # Data-only references are judged against at most this many fitting tables (each costs one probe).
    MOST_TARGETS = 40

    def _from_values(self, snapshot: Snapshot, index: References, table: Table, column: Column, own_key: Column | None,
                     reference_named: bool, probe: Probe, referred: set[tuple[str | None, str]],
                     outgoing: dict[tuple[str | None, str], int]) -> Finding | None:
        fitting = [(t, key) for group in index.by_name.values() for t, key in group
                   if type_fit(column, key, snapshot.dialect) in ("exact", "widening")]
        if not reference_named:  # a column named after nothing may only point at its own table (ReportsTo)
            fitting = [(t, key) for t, key in fitting if t is table]
        if not fitting or len(fitting) > self.MOST_TARGETS:
            return None
        contained = []
        for target, key in fitting:
            # Most fitting tables fail on the first rows already; only the rest are read in full.
            first = probe.presence(table, (column.name,), target, (key.name,), first_rows=self.FIRST_ROWS)
            if first.present != first.distinct:
                continue
            presence = probe.presence(table, (column.name,), target, (key.name,))
            if presence.distinct < self.JUDGED_FROM or presence.present != presence.distinct:
                continue
            if target is table and not self._is_hierarchy(probe, table, key, column):
                continue
            contained.append((target, key, presence))
        if not contained:
            return None
        own = [entry for entry in contained if entry[0] is table]
        # The table the rest of the schema does not reach yet, holding at most one reference itself, is the
        # entity a role column points at (an order line holds several references and is nobody's parent).
        entities = own or [entry for entry in contained if (entry[0].schema, entry[0].name) not in referred
                           and outgoing.get((entry[0].schema, entry[0].name), 0) <= 1]
        if not entities:
            return None
        target, key, presence = entities[0]
        why = ("its own table's key, none pointing at its own row" if target is table else
               f"the only fitting table no other reference reaches, out of {len(contained)} holding every value")
        signals = [f"all {presence.distinct} distinct values are keys of {target.name}.{key.name}: {why}"]
        candidate = score_candidate(table, (column,), target, (key,), 0.55, signals, snapshot.dialect)
        if candidate is None:
            return None
        rivals = [Candidate(table, (column,), t, (k,), candidate.confidence, ()) for t, k, _p in entities[1:]]
        return self._report(snapshot, table, [candidate, *rivals])

    # A self-reference found from the values alone is checked for cycles in memory up to this many rows.
    HIERARCHY_ROWS = 20_000

    def _is_hierarchy(self, probe: Probe, table: Table, key: Column, column: Column) -> bool:
        """Following the column from any row ends at a row without one, never at the row itself or in a loop:
        a tree (who reports to whom). A count or a version whose values happen to be keys loops."""
        if probe.self_matches(table, column.name, key.name):
            return False
        pairs = probe.pairs(table, key.name, column.name, self.HIERARCHY_ROWS)
        if pairs is None:
            return False
        parent = dict(pairs)
        done: set[Any] = set()
        for start in parent:
            path: set[Any] = set()
            node = start
            while node in parent and node not in done:
                if node in path:
                    return False
                path.add(node)
                node = parent[node]
            done |= path
        return True

    # Rows read for the first, cheap verdict on a candidate before its full scans.
    FIRST_ROWS = 1000

    def _refuted(self, presence: Presence) -> bool:
        share = presence.share
        return share is not None and presence.distinct >= self.JUDGED_FROM and share < self.PRESENT_AT_LEAST

    def explain_column(self, snapshot: Snapshot, table: Table, column: Column) -> str:
        """Why the names give no finding for ``column``: its best candidate and score, or that none ties it to a
        table (for the benchmark's list of misses)."""
        index, _groups = self._all_candidates(snapshot)
        found = sorted(candidates(table, column, index), key=lambda c: -c.confidence)
        if not found:
            return (f"no name ties {column.name} to a table (only the values can, with data)"
                    if family(column) == "integer" else f"no name ties {column.name} to a table")
        best = found[0]
        return (f"best candidate {best.target.name}.{best.target_column.name} at {best.confidence} "
                f"(below {self.REPORT_AT}): {'; '.join(best.signals)}")

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding | None:
        """Orphans: child rows whose value matches no row of the target (a key with none is also likelier). A
        candidate whose distinct values are mostly absent from the target is a count, a year or a rating that
        shares a name with a table, not a reference: dropped (judged from three distinct values up). The share
        of the target's keys the column uses is part of the evidence."""
        assert finding.target is not None
        table = snapshot.table(finding.table, finding.schema)
        target = snapshot.table(finding.target["table"], finding.target.get("schema"))
        target_columns = tuple(finding.target["columns"])
        if table is target and any(signal.startswith(self.UNNAMED) for signal in finding.evidence["signals"]):
            own_key = _single_key_column(table)
            if own_key is None or not self._is_hierarchy(probe, table, own_key, table.column(finding.columns[0])):
                return None  # a count or a version over the table's own keys, not who reports to whom
        # The first rows first: a candidate they already refute costs no full scan.
        first = probe.presence(table, finding.columns, target, target_columns, first_rows=self.FIRST_ROWS)
        if self._refuted(first):
            return None
        presence = probe.presence(table, finding.columns, target, target_columns)
        if self._refuted(presence):
            return None
        seen = probe.orphans(table, finding.columns, target, target_columns)
        if presence.share is not None:
            keys = probe.row_count(target)
            finding = dataclasses.replace(finding, evidence={
                **finding.evidence, "distinct_values": presence.distinct, "present_in_target": presence.present,
                "target_keys": keys, "target_keys_used": round(presence.present / keys, 3) if keys else None})
        return judged(finding, seen, "orphan_rows", "orphan row(s)", confidence_step=0.05,
                      clean_up=DeleteOrphans(TableName.of(table), finding.columns, TableName.of(target),
                                             target_columns))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


# One entry: the last snapshot asked about, its external-ids option, its index and its candidates.
_Groups = list[tuple[Table, list[list[Candidate]]]]
_LAST_CANDIDATES: dict[str, tuple[Snapshot, tuple[str, ...], References, _Groups]] = {}


def _single_key_column(table: Table) -> Column | None:
    if table.primary_key and len(table.primary_key.columns) == 1 and table.has_column(table.primary_key.columns[0]):
        return table.column(table.primary_key.columns[0])
    return None


def _generated(column: Column) -> bool:
    """The database makes this key's values (identity, a sequence default, AUTO_INCREMENT); SQLite's INTEGER
    PRIMARY KEY always does."""
    default = (column.server_default or "").lower()
    return column.autoincrement is True or column.identity or "nextval" in default


def _polymorphic_ids(table: Table) -> set[str]:
    """``commentable_id`` beside ``commentable_type``: one column pointing at several tables by design."""
    names = {column.name.lower(): column.name for column in table.columns}
    skipped = set()
    for lower, name in names.items():
        for suffix in ("_id", "id"):
            if lower.endswith(suffix) and len(lower) > len(suffix):
                stem = lower[: -len(suffix)].rstrip("_")
                if f"{stem}_type" in names or f"{stem}type" in names:
                    skipped.add(name)
    return skipped


def is_fk_indexed(table: Table, fk: ForeignKey) -> bool:
    """The strict rule: a valid index, PK or unique constraint whose leading columns are exactly the FK's columns
    (in any order); a partial index only when its predicate is the FK's own ``IS NOT NULL``."""
    for key in table.covering(fk.columns):
        if isinstance(key, Index):
            if not key.valid or key.has_expressions:
                continue
            if key.is_partial and not _not_null_predicate(key.predicate or "", fk.columns):
                continue
        return True
    return False


def _not_null_predicate(predicate: str, columns: tuple[str, ...]) -> bool:
    text = predicate.lower().replace('"', "").replace("(", "").replace(")", "").strip()
    wanted = " and ".join(f"{column.lower()} is not null" for column in columns)
    return text == wanted


class UnindexedForeignKey(Rule):
    """A foreign key with no index that leads with its columns.

    ## What it checks

    Each declared foreign key has a valid index (or the primary key, or a unique constraint) whose *leading*
    columns are exactly the key's columns, in any order. A partial index counts only when its predicate is the
    key's own `IS NOT NULL`; an invalid index never counts. MySQL/InnoDB creates such an index by itself.

    ## Why it matters

    Every delete or key update on the parent looks for children: without the index that is a full scan of the
    child table, holding locks while it runs. Joins from parent to children scan too.

    ## Example

    ```sql
    CREATE TABLE cart_items (id INTEGER PRIMARY KEY, cart_id INTEGER REFERENCES carts (id));  -- no index
    ```

    ## How to fix

    `CREATE INDEX CONCURRENTLY ix_cart_items_cart_id ON cart_items (cart_id)` on PostgreSQL (a plain
    `CREATE INDEX` elsewhere).
    """

    code = "IK102"
    name = "unindexed-foreign-key"
    severity = Severity.WARNING
    summary = "Foreign key has no index leading with its columns."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for fk in table.foreign_keys:
                if is_fk_indexed(table, fk):
                    continue
                target: dict[str, Any] = {"table": fk.referred_table, "columns": list(fk.referred_columns)}
                if fk.referred_schema:
                    target["schema"] = fk.referred_schema
                yield self.finding(
                    table, fk.columns, f"foreign key {table.qualified_name}({', '.join(fk.columns)}) -> "
                    f"{fk.referred} has no index: deletes on {fk.referred_table} scan {table.name}",
                    target=target, changes=Changes(snapshot.dialect, (CreateIndex(TableName.of(table), fk.columns),)))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


class ForeignKeyTypeMismatch(Rule):
    """A foreign key column whose type differs from the column it refers to.

    ## What it checks

    Each column of a declared foreign key has the same type as the referred column (`INTEGER` vs `BIGINT`,
    `VARCHAR(36)` vs `UUID`, different lengths).

    ## Why it matters

    The narrower side overflows first (an `INTEGER` child of a `BIGINT` parent breaks at 2^31), and joins across
    types need casts that can stop an index from being used.

    ## Example

    ```sql
    CREATE TABLE users (id BIGINT PRIMARY KEY);
    CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id INTEGER REFERENCES users (id));
    ```

    ## How to fix

    Change the child column to the parent's type (`ALTER TABLE orders ALTER COLUMN user_id TYPE BIGINT`); on a
    big table that is a rewrite: add a new column, backfill, switch.
    """

    code = "IK103"
    name = "foreign-key-type-mismatch"
    severity = Severity.ERROR
    summary = "Foreign key column type differs from the referred column's type."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for fk in table.foreign_keys:
                target = snapshot.referred_table(fk)
                if target is None:
                    continue
                for name, referred in zip(fk.columns, fk.referred_columns, strict=False):
                    if not (table.has_column(name) and target.has_column(referred)):
                        continue
                    column, parent = table.column(name), target.column(referred)
                    if exact_type(column) == exact_type(parent):
                        continue
                    yield self.finding(
                        table, (name,), f"{table.qualified_name}.{name} is {column.type_sql} but refers to "
                        f"{target.qualified_name}.{referred}, which is {parent.type_sql}",
                        target={"table": target.name, "columns": [referred]},
                        evidence={"type": column.type_sql, "referred_type": parent.type_sql},
                        changes=Changes(snapshot.dialect, (ChangeType(
                            TableName.of(table), name, parent.type_sql, sa_type(parent, snapshot.dialect),
                            sa_type(column, snapshot.dialect), column.nullable,
                            KeptAttributes.of(column, snapshot.dialect)),)))


class ForeignKeyNotEnforced(Rule):
    """A foreign key the database declares but does not enforce.

    ## What it checks

    SQLite connections without `PRAGMA foreign_keys = ON` (the default: the pragma is per connection), MySQL
    tables on an engine without foreign keys (MyISAM), and PostgreSQL constraints left `NOT VALID` (new rows are
    checked, the existing ones never were).

    ## Why it matters

    The schema promises integrity the data does not have: orphans get in, and every reader trusts the promise.

    ## Example

    ```python
    engine = create_engine("sqlite:///shop.db")  # no PRAGMA foreign_keys = ON on connect
    ```

    ## How to fix

    SQLite: run `PRAGMA foreign_keys = ON` on every connection (a SQLAlchemy `connect` event). MySQL: convert the
    table to InnoDB. PostgreSQL: `ALTER TABLE … VALIDATE CONSTRAINT …` once the orphans are gone.
    """

    code = "IK104"
    name = "foreign-key-not-enforced"
    severity = Severity.ERROR
    other_severities = {Severity.WARNING: "on SQLite, where enforcement is a setting of each connection"}
    summary = "Foreign key is declared but not enforced (SQLite pragma off, MyISAM, NOT VALID)."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        if snapshot.dialect == "sqlite" and snapshot.foreign_keys_pragma is False:
            yield from self._sqlite_pragma_off(snapshot)
        for table in snapshot.tables:
            for fk in table.foreign_keys:
                target = {"table": fk.referred_table, "columns": list(fk.referred_columns)}
                if snapshot.dialect == "sqlite" and snapshot.foreign_keys_pragma is False:
                    continue  # reported once for the whole database above
                elif table.engine and table.engine.upper() != "INNODB" and snapshot.dialect in ("mysql", "mariadb"):
                    yield self.finding(
                        table, fk.columns, f"{table.name} uses {table.engine}, which ignores its foreign key to "
                        f"{fk.referred}", target=target,
                        changes=Changes(snapshot.dialect, (ConvertToInnoDB(TableName.of(table)),)))
                elif not fk.validated:
                    yield self.finding(
                        table, fk.columns, f"foreign key {fk.name} on {table.qualified_name} is NOT VALID: rows "
                        "that existed when it was added were never checked", target=target,
                        changes=Changes(snapshot.dialect, (ValidateConstraint(TableName.of(table), fk.name or ""),)))

    def _sqlite_pragma_off(self, snapshot: Snapshot) -> Iterator[Finding]:
        # The pragma belongs to the connection, not the file: one finding for the database, not one per table.
        tables = [table for table in snapshot.tables if table.foreign_keys]
        if not tables:
            return
        names = [table.name for table in tables]
        yield self.finding(
            tables[0], (), f"the foreign keys of {len(tables)} table(s) ({', '.join(names)}) are enforced only on "
            "connections that run PRAGMA foreign_keys = ON; SQLite's default, and the audit's connection, is off",
            severity=Severity.WARNING, evidence={"tables": names},
            changes=Changes(snapshot.dialect, (ForeignKeysPragma(TableName.of(tables[0])),)))


class ForeignKeyViolations(DataRule):
    """Rows that break a declared foreign key.

    ## What it checks

    For every declared foreign key, child rows whose key is set but matches no parent row (an anti-join). They
    exist where the key is not enforced: SQLite connections without `PRAGMA foreign_keys`, MyISAM tables, PostgreSQL
    constraints added `NOT VALID`, or data loaded with checks switched off.

    ## Why it matters

    Every reader trusts the declaration: joins silently drop these rows, and an ORM that loads the parent gets
    nothing back. The first `VALIDATE CONSTRAINT` or table rebuild fails on them.

    ## Example

    ```sql
    PRAGMA foreign_keys = OFF;
    INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (1, 999999, 1);  -- no product 999999
    ```

    ## How to fix

    Decide per row: delete it, or point it at a real parent (the evidence lists sample keys). Then make sure the
    key is enforced (see `foreign-key-not-enforced`).
    """

    code = "IK105"
    name = "foreign-key-violations"
    severity = Severity.ERROR
    summary = "Rows break a declared foreign key."
    blocking_evidence = ("orphan_rows",)

    def check_data(self, snapshot: Snapshot, probe: Probe) -> Iterator[Finding]:
        for table in snapshot.tables:
            for fk in table.foreign_keys:
                parent = snapshot.referred_table(fk)
                if parent is None:
                    continue
                evidence = self.measure(f"{table.qualified_name}({', '.join(fk.columns)})",
                                        functools.partial(probe.orphans, table, fk.columns, parent,
                                                          fk.referred_columns))
                if evidence is None or not evidence.count:
                    continue
                headline = deletion_headline(evidence)
                found = evidence.to_dict("orphan_rows")
                if headline:
                    found.update(clean_up_deletes=evidence.deletes, table_rows=evidence.table_rows)
                yield self.finding(
                    table, fk.columns, f"{evidence.count} row(s) of {table.qualified_name} point at no "
                    f"{parent.qualified_name} row through ({', '.join(fk.columns)}){headline}, e.g. "
                    f"{evidence.samples[:3]}",
                    target={"table": parent.name, "columns": list(fk.referred_columns)},
                    evidence=found,
                    changes=Changes(snapshot.dialect, (DeleteOrphans(TableName.of(table), fk.columns,
                                                                     TableName.of(parent), fk.referred_columns),)))
