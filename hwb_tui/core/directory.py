"""The read side: scoped search, counts and keyset pages of users."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, tuple_
from sqlmodel import Session, col, select

from hwb_tui.core.access import Actor, scope_clause
from hwb_tui.core.errors import UserNotFound
from hwb_tui.core.models import ACTIVE, DEACTIVATED, MIS_KINDS, NON_MIS_KINDS, User
from hwb_tui.core.names import prefix_upper_bound, search_key

# Views of the console and `users list`: which kinds each shows.
VIEWS: dict[str, tuple[str, ...]] = {
    "governors": ("governor",),
    "non-mis": NON_MIS_KINDS,
    "mis": MIS_KINDS,
    "all": MIS_KINDS + NON_MIS_KINDS,
}
STATUSES = ("active", "deactivated", "all", "expiring")
EXPIRING_WITHIN = timedelta(weeks=8)


@dataclass(frozen=True)
class Query:
    """What to list: a view or kind, a status filter, a search term, a school, an order."""

    view: str = "all"
    kind: str | None = None
    status: str = "active"  # active | deactivated | all | expiring
    search: str = ""
    school: str | None = None
    language: str = "en"  # sort order: English or Welsh alphabet
    today: date | None = None  # for "expiring"

    def with_(self, **changes: Any) -> Query:
        return replace(self, **changes)


Cursor = tuple[str, int]  # (sort key, id) of a row: where a keyset page starts after


def sort_column(language: str) -> Any:
    return col(User.sort_cy) if language == "cy" else col(User.sort_en)


def _search_clause(term: str) -> ColumnElement[bool] | None:
    """Each word of the term must prefix-match the surname, forename, username or UPN."""
    clauses = []
    for word in term.split():
        key = search_key(word)
        if not key:
            continue
        hi = prefix_upper_bound(key)
        options = [
            and_(col(User.surname_key) >= key, col(User.surname_key) < hi),
            and_(col(User.forename_key) >= key, col(User.forename_key) < hi),
            and_(col(User.username_key) >= key, col(User.username_key) < hi),
        ]
        if key[0].isalpha() and key[1:].isdigit() or key.isdigit():
            upn = key.upper()
            options.append(and_(col(User.upn) >= upn, col(User.upn) < prefix_upper_bound(upn)))
        clauses.append(or_(*options))
    if not clauses:
        return None
    return and_(*clauses)


def where(actor: Actor, q: Query) -> list[ColumnElement[bool]]:
    """Every condition of `q` within the actor's scope."""
    conds: list[ColumnElement[bool]] = [scope_clause(actor)]
    kinds = (q.kind,) if q.kind else VIEWS[q.view]
    if len(kinds) == 1:
        conds.append(col(User.kind) == kinds[0])
    elif set(kinds) != set(VIEWS["all"]):
        conds.append(col(User.kind).in_(kinds))
    if q.status == "active":
        conds.append(col(User.status) == ACTIVE)
    elif q.status == "deactivated":
        conds.append(col(User.status) == DEACTIVATED)
    elif q.status == "expiring":
        today = q.today or date.today()
        conds.append(col(User.status) == ACTIVE)
        conds.append(col(User.expires_on) <= today + EXPIRING_WITHIN)
    if q.school:
        conds.append(col(User.school) == q.school)
    search = _search_clause(q.search)
    if search is not None:
        conds.append(search)
    return conds


def count(session: Session, actor: Actor, q: Query) -> int:
    stmt = select(func.count()).select_from(User).where(*where(actor, q))
    return int(session.exec(stmt).one())


def page(
    session: Session,
    actor: Actor,
    q: Query,
    after: Cursor | None = None,
    limit: int = 100,
    backwards: bool = False,
) -> list[User]:
    """Up to `limit` users in sort order after `after` (or before it, when `backwards`).

    Keyset paging: the cost of a page does not grow with how far into the directory it is.
    Backwards pages come back in forward order too.
    """
    key = sort_column(q.language)
    stmt = select(User).where(*where(actor, q))
    if after is not None:
        pos = tuple_(key, col(User.id))
        stmt = stmt.where(pos < tuple_(*after) if backwards else pos > tuple_(*after))
    if backwards:
        stmt = stmt.order_by(key.desc(), col(User.id).desc())
    else:
        stmt = stmt.order_by(key, col(User.id))
    rows = list(session.exec(stmt.limit(limit)).all())
    if backwards:
        rows.reverse()
    return rows


def cursor_of(user: User, language: str) -> Cursor:
    assert user.id is not None
    return (user.sort_cy if language == "cy" else user.sort_en, user.id)


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    """One user within the actor's scope."""
    user = session.get(User, user_id)
    if user is None or not actor.covers(user.school):
        raise UserNotFound(user=str(user_id))
    return user


def find_username(session: Session, actor: Actor, username: str) -> User:
    user = session.exec(select(User).where(col(User.username) == username)).first()
    if user is None:
        # usernames are case-insensitive to people: JonesF@… is jonesf@…
        user = session.exec(
            select(User).where(func.lower(col(User.username)) == username.lower())
        ).first()
    if user is None or not actor.covers(user.school):
        raise UserNotFound(user=username)
    return user
