"""Models: the SQLAlchemy models and the live database disagree."""

from __future__ import annotations

from collections.abc import Iterator

from integrity_kit.audit.model import Finding, Rule, Severity
from integrity_kit.schema import Snapshot, Table
from integrity_kit.schema.compare import compare


class SchemaDrift(Rule):
    """The SQLAlchemy models and the live database disagree.

    ## What it checks

    With `--models module:Base`, every table, column (type and nullability), foreign key (and its actions),
    uniqueness, index and check the models declare is compared with the database, both ways. Objects are matched
    by what they do, not their names: a unique index and a unique constraint over the same columns agree.

    ## Why it matters

    The models are what the team reads and tests against; the database is what production enforces. A
    constraint in the models but not the database protects nothing; a column type that differs loses data on
    the round trip.

    ## Example

    ```python
    email: Mapped[str] = mapped_column(String(255), unique=True)  # the database has no unique index
    ```

    ## How to fix

    Generate a migration (`alembic revision --autogenerate`), review it against the finding, and run it; or change
    the models if the database is right.
    """

    code = "IK601"
    name = "schema-drift"
    severity = Severity.ERROR
    summary = "SQLAlchemy models and the live database disagree."

    def applies_to(self, snapshot: Snapshot) -> bool:
        return self.context.models is not None

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        if self.context.models is None:
            return
        for difference in compare(self.context.models, snapshot):
            table = Table(name=difference.table, schema=difference.schema)
            about_column = difference.kind.endswith("column") or difference.kind.startswith("column-")
            columns = (difference.object,) if difference.object and about_column else ()
            yield self.finding(table, columns, difference.message,
                               evidence={"kind": difference.kind, "object": difference.object,
                                         "models": difference.models, "live": difference.live})
