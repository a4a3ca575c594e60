"""What a listing of users asks for: the query, its conditions in the operator's scope, one
keyset page. `directory` chooses the plan and counts; `search_pages` plans searches on SQLite."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import Session, col, select

from hwb_tui.core import leaving
from hwb_tui.core.access import Actor, scope_clause
from hwb_tui.core.models import (
    ACTIVE,
    DEACTIVATED,
    MIS_KINDS,
    NON_MIS_KINDS,
    User,
)
from hwb_tui.core.names import prefix_upper_bound, search_key

# Views of the console and `users list`: which kinds each shows.
VIEWS: dict[str, tuple[str, ...]] = {
    "governors": ("governor",),
    "non-mis": NON_MIS_KINDS,
    "mis": MIS_KINDS,
    "all": MIS_KINDS + NON_MIS_KINDS,
}
STATUSES = ("active", "deactivated", "all", "expiring", "leaving")
EXPIRING_WITHIN = timedelta(weeks=8)
LEAVING_WITHIN_DAYS = 56  # the console's "Leaving soon": the same 8 weeks as "expiring"


@dataclass(frozen=True)
class Query:
    """What to list: a view or kind, a status filter, a search term, a school, an order."""

    view: str = "all"
    kind: str | None = None
    status: str = "active"  # active | deactivated | all | expiring | leaving
    search: str = ""
    school: str | None = None
    language: str = "en"  # sort order: English or Welsh alphabet
    today: date | None = None  # for "expiring" and "leaving"
    within_days: int = LEAVING_WITHIN_DAYS  # for "leaving": access ending within these days

    def with_(self, **changes: Any) -> Query:
        return replace(self, **changes)


def view_kinds(q: Query) -> tuple[str, ...]:
    """The kinds a query lists: its kind, else its view's."""
    return (q.kind,) if q.kind else VIEWS[q.view]


Cursor = tuple[str, int]  # (sort key, id) of a row: where a keyset page starts after


def sort_column(language: str) -> Any:
    return col(User.sort_cy) if language == "cy" else col(User.sort_en)


SEARCH_FIELDS = ("surname_key", "forename_key", "username_key")


# A search longer than this is cut to it (never a query the database cannot plan): no name is
# ten words long, and the field shows a hundred characters at most.
MAX_SEARCH_WORDS = 10
MAX_SEARCH_CHARS = 100


def words(term: str) -> list[str]:
    """The search keys of a search term: its first 10 words, of its first 100 characters."""
    return [k for k in (search_key(w) for w in term[:MAX_SEARCH_CHARS].split()[:MAX_SEARCH_WORDS])
            if k]


def looks_like_upn(key: str) -> bool:
    return key.isdigit() or (key[0].isalpha() and key[1:].isdigit())


def field_ranges(key: str, indexed: bool = True, with_upn: bool = True
                 ) -> list[ColumnElement[bool]]:
    """The prefix conditions one search word is tried against (surname, forename, username, UPN).

    `indexed=False` wraps each column in SQLite's no-op unary `+`, which keeps the meaning but
    stops the planner from using that column's index: the one way SQLite takes a plan hint.
    """
    hi = prefix_upper_bound(key)
    options = []
    for name in SEARCH_FIELDS:
        column: Any = col(getattr(User, name))
        if not indexed:
            column = unindexed(column)
        options.append(and_(column >= key, column < hi))
    if with_upn and looks_like_upn(key):
        upn: Any = col(User.upn) if indexed else unindexed(col(User.upn))
        options.append(and_(upn >= key.upper(), upn < prefix_upper_bound(key.upper())))
    return options


class Unindexed(ColumnElement[Any]):
    """`+column` on SQLite (its no-op unary plus, which stops the planner using that column's
    index: the one plan hint SQLite takes); the bare column on PostgreSQL, which keeps value
    statistics and needs no hint (and has no unary plus for text)."""

    inherit_cache = True  # one cached compiled statement per shape, not one per call
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]

    def __init__(self, element: Any) -> None:
        self.element = element
        self.type = element.type


@compiles(Unindexed)
def _compile_plain(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.element, **kw))


@compiles(Unindexed, "sqlite")
def _compile_sqlite(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.element, **kw))


def unindexed(column: Any) -> Any:
    """The column with its index hidden from SQLite's planner (see Unindexed)."""
    return Unindexed(column)


class Hidden(Unindexed):
    """A text column whose index no database may use: `+col` on SQLite, `(col || '')` on
    PostgreSQL. Only where PostgreSQL's estimate is known to mislead, since an expression has no
    statistics: the username filter of a walk along one exact surname's range, where both
    ranges look like a single row to PostgreSQL and it took the username index, reading every
    'pritch…' username (20,000) five times for one keystroke."""

    inherit_cache = True


@compiles(Hidden, "postgresql")
def _compile_pg_hidden(element: Hidden, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.element, **kw)} || '')"


class UnindexedOrder(Unindexed):
    """A sort key no index can deliver, on every database: ORDER BY it sorts the rows fetched.

    Used when the matches are few enough to fetch and sort. PostgreSQL would otherwise often
    walk the sort index instead (its estimate of the matches is good, but it prices a walk's
    random heap reads low): "pr" as a forename walked 33,000 rows for 100 (240 ms) where
    fetching its 3,460 matches and sorting them takes a few milliseconds. An ORDER BY
    expression, unlike a WHERE one, changes no row estimate.
    """

    inherit_cache = True


@compiles(UnindexedOrder, "postgresql")
def _compile_pg_order(element: UnindexedOrder, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.element, **kw)} || '')"


def search_clause(term: str, indexed: bool = True, with_upn: bool = True
                   ) -> ColumnElement[bool] | None:
    """Each word of the term must prefix-match the surname, forename, username or UPN."""
    clauses = [or_(*field_ranges(key, indexed, with_upn)) for key in words(term)]
    if not clauses:
        return None
    return and_(*clauses)


def where(
    actor: Actor,
    q: Query,
    *,
    search_indexed: bool = True,
    filters_indexed: bool = True,
    kind_indexed: bool | None = None,
) -> list[ColumnElement[bool]]:
    """Every condition of `q` within the actor's scope.

    The flags change no result, only which indexes SQLite may use (see search_pages):
    `filters_indexed` covers kind and status, `kind_indexed` overrides it for kind alone.
    """
    kind_ok = filters_indexed if kind_indexed is None else kind_indexed

    def c(column: Any, indexed: bool) -> Any:
        return column if indexed else unindexed(column)

    conds: list[ColumnElement[bool]] = [scope_clause(actor)]
    kinds = (q.kind,) if q.kind else VIEWS[q.view]
    # Always name the kinds, even all of them: the search indexes lead with kind.
    if len(kinds) == 1:
        conds.append(c(col(User.kind), kind_ok) == kinds[0])
    else:
        conds.append(c(col(User.kind), kind_ok).in_(kinds))
    if q.status == "active":
        conds.append(c(col(User.status), filters_indexed) == ACTIVE)
    elif q.status == "deactivated":
        conds.append(c(col(User.status), filters_indexed) == DEACTIVATED)
    elif q.status == "expiring":
        today = q.today or date.today()
        conds.append(c(col(User.status), filters_indexed) == ACTIVE)
        conds.append(c(col(User.expires_on), filters_indexed) <= today + EXPIRING_WITHIN)
    elif q.status == "leaving":
        conds.append(c(col(User.status), filters_indexed) == ACTIVE)
        conds.append(leaving.clause(q.today or date.today(), q.within_days))
    if q.school:
        conds.append(col(User.school) == q.school)
    # only learners have UPNs: a view without learners never searches them
    search = search_clause(q.search, indexed=search_indexed, with_upn="learner" in kinds)
    if search is not None:
        conds.append(search)
    return conds


def run_page(
    session: Session,
    q: Query,
    conds: list[ColumnElement[bool]],
    after: Cursor | None,
    limit: int,
    backwards: bool,
    sort_indexed: bool = True,
) -> list[User]:
    """One keyset page of users meeting `conds`, in the query's sort order."""
    key = sort_column(q.language)
    order_key: Any = key if sort_indexed else UnindexedOrder(key)
    stmt = select(User).where(*conds)
    if after is not None:
        pos = tuple_(key, col(User.id))
        stmt = stmt.where(pos < tuple_(*after) if backwards else pos > tuple_(*after))
    if backwards:
        stmt = stmt.order_by(order_key.desc(), col(User.id).desc())
    else:
        stmt = stmt.order_by(order_key, col(User.id))
    rows = list(session.exec(stmt.limit(limit)).all())
    if backwards:
        rows.reverse()
    return rows


def is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def cursor_of(user: User, language: str) -> Cursor:
    assert user.id is not None
    return (user.sort_cy if language == "cy" else user.sort_en, user.id)
