"""An immutable picture of a schema (tables, columns, keys, indexes, checks) for the audit rules to read.

Built from a live database with :func:`build_snapshot` or from SQLAlchemy models with
:func:`snapshot_from_metadata`; :func:`compare` lists how the two disagree (the ``schema-drift`` rule).
"""

from integrity_kit.schema.compare import Difference, compare
from integrity_kit.schema.from_models import load_metadata, snapshot_from_metadata
from integrity_kit.schema.reflect import build_snapshot
from integrity_kit.schema.snapshot import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    NotAnalysed,
    PrimaryKey,
    Snapshot,
    Table,
    UniqueConstraint,
)

__all__ = [
    "CheckConstraint",
    "Column",
    "Difference",
    "ForeignKey",
    "Index",
    "NotAnalysed",
    "PrimaryKey",
    "Snapshot",
    "Table",
    "UniqueConstraint",
    "build_snapshot",
    "compare",
    "load_metadata",
    "snapshot_from_metadata",
]
