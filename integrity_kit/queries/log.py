"""What a capture saw: the :class:`QueryLog` and a :class:`Statement` view per statement sent.

The capture's hot path (``capture.QueryCapture``) only appends to two flat lists the log is built on; everything
derived, such as the ORM context, the fingerprint and the location, is worked out here on first access rather than
while the application waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .callsite import display_path
from .detection import Duplicate, NPlusOne, find_duplicates, find_n_plus_one
from .fingerprint import fingerprint
from .orm_context import OrmContext, build_orm_context
from .parameters import jsonable
from .transactions import Transaction, build_transactions

if TYPE_CHECKING:
    from .race_risks import RaceRisk

# What the hot path records per statement, one after another in one flat list (a list or tuple per statement that
# outlives the statement makes the garbage collector run more often and look at more). The start time object is
# also the statement's token: the outcome names it, and while the log holds it no other statement's start can
# have its id. CALLERS is the (file, line) of every application frame further out, SCOPE the Flask request
# generation (see scopes), ACTIVATION the call into a library the application line made (see capture).
# ORM_KIND to ORM_PARENT_PATH are None for Core statements. CONNECTION_KEY is the id() of the Connection that sent
# it, which the transaction boundaries (see transactions) name too.
SQL, PARAMETERS, EXECUTEMANY, FILENAME, LINENO, FUNCTION, CALLERS, SCOPE, ACTIVATION = range(9)
ORM_KIND, ORM_MAPPER, ORM_PATH, ORM_PARENT_PATH, START, CONNECTION_KEY = range(9, 15)
FIELDS = 15
# What the hot path records per finished statement in the second flat list.
ENDED_START, ENDED_END, ENDED_ROWCOUNT = range(3)
ENDED_FIELDS = 3


class Statement:
    """One statement sent to the database: a view over what the capture's hot path recorded."""

    __slots__ = ("_r", "_log", "_outcome", "_orm", "_transaction")

    def __init__(self, fields: tuple[Any, ...], log: QueryLog) -> None:
        self._r = fields  # FIELDS values, at the offsets above
        self._log = log
        self._outcome: tuple[float, int] | None = None  # (end time, rowcount) once the cursor has finished
        self._orm: Any = False  # False: not worked out yet
        self._transaction: Transaction | None = None  # set when the log places statements in transactions

    @property
    def sql(self) -> str:
        """The SQL exactly as the driver received it."""
        return self._r[SQL]

    @property
    def parameters(self) -> Any:
        """The parameters exactly as the driver received them."""
        return self._r[PARAMETERS]

    @property
    def executemany(self) -> bool:
        """True for an executemany() batch."""
        return self._r[EXECUTEMANY]

    @property
    def filename(self) -> str | None:
        """The application file that sent it (None if unknown)."""
        return self._r[FILENAME]

    @property
    def lineno(self) -> int | None:
        """The line in ``filename``."""
        return self._r[LINENO]

    @property
    def function(self) -> str | None:
        """The function containing that line."""
        return self._r[FUNCTION]

    @property
    def callers(self) -> tuple[tuple[str, int], ...]:
        """(file, line) of the application frames that led to ``filename:lineno``, innermost first."""
        return self._r[CALLERS] or ()

    @property
    def scope(self) -> int:
        """The request this statement belongs to: statements of different Flask requests never form one N+1."""
        return self._r[SCOPE] or 0

    @property
    def activation(self) -> int:
        """Which call from the application line into a library sent this statement: equal for statements that one
        call (a ``commit()`` whose flush hooks loop, say) sent."""
        return self._r[ACTIVATION] or 0

    @property
    def call_path(self) -> tuple[Any, ...]:
        """The call site as detection keys it: the application line, the application path to it and the request."""
        return (self._r[FILENAME], self._r[LINENO], self._r[CALLERS], self._r[SCOPE])

    def finished(self) -> tuple[float, int] | None:
        """``(end time, rowcount)`` once the cursor has finished, else None."""
        if self._outcome is None:
            self._outcome = self._log.outcome(self._r[START])
        return self._outcome

    @property
    def duration(self) -> float:
        """Seconds the cursor spent executing (0.0 while the statement is still running)."""
        outcome = self.finished()
        return 0.0 if outcome is None else outcome[0] - self._r[START]

    @property
    def rowcount(self) -> int:
        """The cursor's rowcount (-1 when the driver does not know, e.g. SELECT on SQLite)."""
        outcome = self.finished()
        return -1 if outcome is None else outcome[1]

    @property
    def orm(self) -> OrmContext | None:
        """Why the ORM sent this statement (None for Core and ``text()``)."""
        if self._orm is False:
            r = self._r
            self._orm = (None if r[ORM_KIND] is None
                         else build_orm_context(r[ORM_KIND], r[ORM_MAPPER], r[ORM_PATH], r[ORM_PARENT_PATH]))
        return self._orm

    @property
    def transaction(self) -> int | None:
        """The id of the :class:`~integrity_kit.queries.transactions.Transaction` this statement ran in."""
        found = self._log.transaction_of(self)
        return None if found is None else found.id

    @property
    def connection(self) -> int | None:
        """The number of the database connection that sent it (1 for the first the capture saw)."""
        found = self._log.transaction_of(self)
        return None if found is None else found.connection

    @property
    def savepoint(self) -> str | None:
        """The innermost savepoint open when it was sent, if any."""
        found = self._log.transaction_of(self)
        savepoint = None if found is None else found.savepoint_of(self)
        return None if savepoint is None else savepoint.name

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sql)

    @property
    def location(self) -> str | None:
        """``path/to/file.py:42`` of the application line, relative to the working directory when inside it."""
        filename = self.filename
        if filename is None:
            return None
        return f"{display_path(filename)}:{self.lineno}"

    @property
    def is_select(self) -> bool:
        head = self.sql.lstrip(" \n\t(").upper()
        return head.startswith("SELECT") or head.startswith("WITH")

    def __repr__(self) -> str:
        return f"Statement({' '.join(self.sql.split())[:80]!r} at {self.location})"

    def to_dict(self) -> dict[str, Any]:
        orm = self.orm
        return {
            "sql": self.sql,
            "parameters": jsonable(self.parameters),
            "location": self.location,
            "duration_ms": round(self.duration * 1000, 3),
            "rowcount": self.rowcount,
            "orm": None if orm is None else {"kind": orm.kind, "entity": orm.entity, "relationship": orm.relationship},
            "transaction": self.transaction,
            "savepoint": self.savepoint,
        }


class QueryLog:
    """What one capture saw. ``n_plus_one`` and ``duplicates`` are computed from ``statements`` on access.

    ``started`` and ``ended`` are the flat lists the capture appends to (FIELDS values per statement, ENDED_FIELDS
    per finished statement), ``boundaries`` its list of transaction boundaries (see transactions); a log built
    without them starts empty.
    """

    def __init__(self, threshold: int = 2, *, started: list[Any] | None = None,
                 ended: list[Any] | None = None, boundaries: list[tuple[Any, ...]] | None = None,
                 dialect: str | None = None, engines: Any = None) -> None:
        self._started: list[Any] = [] if started is None else started
        self._ended: list[Any] = [] if ended is None else ended
        self._boundaries: list[tuple[Any, ...]] = [] if boundaries is None else boundaries
        self._dialect = dialect
        self._transactions: list[Transaction] = []
        self._placed = (0, 0)  # (statements, boundaries) the transactions were built from
        self._engines = engines if engines is not None else ()  # the engines the capture saw begin transactions
        self._schema: Any = None  # what says which columns are unique (see use_schema)
        self._race_risks: list[RaceRisk] = []
        self._risks_for: tuple[int, int, Any] | None = None
        self._outcomes: dict[int, tuple[float, int]] = {}
        self._statements: list[Statement] = []
        self.threshold = threshold

    @property
    def statements(self) -> list[Statement]:
        """Every statement sent so far, in order."""
        started, done = self._started, self._statements
        first, last = len(done) * FIELDS, len(started) - len(started) % FIELDS
        if first < last:
            done.extend(Statement(tuple(started[i:i + FIELDS]), self) for i in range(first, last, FIELDS))
        return done

    def outcome(self, start: float) -> tuple[float, int] | None:
        """``(end time, rowcount)`` of the statement whose start time object is ``start``, once it has finished."""
        ended, outcomes = self._ended, self._outcomes
        for i in range(len(outcomes) * ENDED_FIELDS, len(ended) - len(ended) % ENDED_FIELDS, ENDED_FIELDS):
            outcomes[id(ended[i + ENDED_START])] = (ended[i + ENDED_END], ended[i + ENDED_ROWCOUNT])
        return outcomes.get(id(start))

    @property
    def transactions(self) -> list[Transaction]:
        """Every transaction seen so far, in the order they began, each with its statements."""
        statements = self.statements
        seen = (len(statements), len(self._boundaries))
        if seen != self._placed:
            self._transactions = build_transactions(statements, self._boundaries[:seen[1]],
                                                    _connection_key, self._dialect)
            self._placed = seen
        return self._transactions

    def transaction(self, id: int) -> Transaction:
        """The transaction numbered ``id``."""
        for transaction in self.transactions:
            if transaction.id == id:
                return transaction
        raise KeyError(f"no transaction {id} in this capture")

    def use_schema(self, schema: Any) -> None:
        """Judge check-then-insert risks by this schema's unique keys: an Engine or URL (its live schema), a MetaData or
        a declarative base. Without one, the models of the ORM statements captured and then the captured engines'
        live schema say."""
        self._schema = schema
        self._risks_for = None

    @property
    def race_risks(self) -> list[RaceRisk]:
        """Race risks in the transactions seen so far (see :mod:`integrity_kit.queries.race_risks`)."""
        transactions = self.transactions
        seen = (*self._placed, self._schema)
        if seen != self._risks_for:
            from .race_risks import find_race_risks
            from .unique_keys import UniqueKeyLookup

            lookup = UniqueKeyLookup(self._schema, self.statements, self._engines)
            self._race_risks = find_race_risks(transactions, unique_keys=lookup)
            self._risks_for = seen
        return self._race_risks

    def transaction_of(self, statement: Statement) -> Transaction | None:
        """The transaction ``statement`` (one of this log's) ran in."""
        _ = self.transactions  # places every statement seen so far
        return statement._transaction

    def clear(self) -> None:
        """Forget what was recorded so far (the capture keeps running)."""
        for statement in self._statements:  # views handed out earlier keep their duration and rowcount
            statement.finished()
        self._statements = []
        del self._started[:]  # in place: the capture appends to these very lists
        del self._ended[:]
        del self._boundaries[:]
        self._outcomes = {}
        self._transactions = []
        self._placed = (0, 0)
        self._race_risks = []
        self._risks_for = None

    def __len__(self) -> int:
        return len(self.statements)

    def __iter__(self) -> Iterator[Statement]:
        return iter(self.statements)

    @property
    def count(self) -> int:
        return len(self.statements)

    @property
    def n_plus_one(self) -> list[NPlusOne]:
        return find_n_plus_one(self.statements, threshold=self.threshold)

    @property
    def duplicates(self) -> list[Duplicate]:
        return find_duplicates(self.statements)

    def to_dict(self) -> dict[str, Any]:
        return {
            "statements": [s.to_dict() for s in self.statements],
            "n_plus_one": [f.to_dict() for f in self.n_plus_one],
            "duplicates": [d.to_dict() for d in self.duplicates],
            "race_risks": [r.to_dict() for r in self.race_risks],
            "transactions": [t.to_dict() for t in self.transactions],
        }


def _connection_key(statement: Statement) -> Any:
    return statement._r[CONNECTION_KEY]
