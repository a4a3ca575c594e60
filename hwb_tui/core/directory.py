"""The read side: scoped search, counts and keyset pages of users, and one user by id or name.

The query and its conditions are `user_query`'s; searches on SQLite take `search_pages`' plans.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from hwb_tui.core import search_pages
from hwb_tui.core.access import Actor, recheck
from hwb_tui.core.errors import UserNotFound
from hwb_tui.core.models import AuditEvent, School, User
from hwb_tui.core.user_query import (
    EXPIRING_WITHIN,
    LEAVING_WITHIN_DAYS,
    MAX_SEARCH_CHARS,
    MAX_SEARCH_WORDS,
    STATUSES,
    VIEWS,
    Cursor,
    Query,
    cursor_of,
    is_sqlite,
    run_page,
    search_clause,
    view_kinds,
    where,
    words,
)

# The names every reader of users imports from here (some are user_query's, re-exported).
__all__ = [
    "EXPIRING_WITHIN", "LEAVING_WITHIN_DAYS", "MAX_SEARCH_CHARS", "MAX_SEARCH_WORDS", "STATUSES",
    "VIEWS", "Cursor", "Query", "count",
    "cursor_of", "every_page", "find_username", "get_user", "history", "page", "run_page",
    "school_of", "view_kinds", "warm", "where",
]


def count(session: Session, actor: Actor, q: Query, cap: int | None = None) -> int:
    """How many users match; with `cap`, counting stops past it (the result is then cap + 1).

    A search on SQLite counts through the search fields' indexes only, so its cost grows with
    the matches (and stops at the cap), never with the size of the view.
    """
    actor = recheck(session, actor)  # the operator as they are now, before every read
    conds = where(actor, q)
    if is_sqlite(session) and words(q.search) and actor.schools is None and not q.school:
        # The matches' ids through each search field's own index (a union), then their rows:
        # the cost is the matches, stopped at the cap, never the size of the view.
        conds = [col(User.id).in_(search_pages.match_ids(q))] + where(
            actor, q.with_(search=""), filters_indexed=False) + [
            c for c in [search_clause(q.search, indexed=False,
                                       with_upn="learner" in view_kinds(q))] if c is not None]
    if cap is None:
        stmt = select(func.count()).select_from(User).where(*conds)
        return int(session.exec(stmt).one())
    if (words(q.search) and session.get_bind().dialect.name == "postgresql"
            and _planner_rows(session, select(col(User.id)).where(*conds))
            > max(cap * OVER_CAP_MARGIN, OVER_CAP_FLOOR)):
        return cap + 1
    if words(q.search) and actor.schools is None and not q.school:
        if len(words(q.search)) == 1:
            # One word: counted field by field, stopping at the cap.
            return search_pages.capped_count(session, actor, q, cap)
        # More words: in the parts a page is read in, each narrowed by the other word.
        return search_pages.parts_count(session, actor, q, cap)
    inner = select(col(User.id)).where(*conds).limit(cap + 1).subquery()
    return int(session.exec(select(func.count()).select_from(inner)).one())


# PostgreSQL's estimate of a search's matches, from its statistics, is within a few times of the
# truth (it takes the words for independent and the fields' ranges for overlapping). Past ten
# times the cap, the matches are surely over it: "over 10,000" is said without counting them,
# which for "j" or "jones" means reading 10,001 rows (50-170 ms at a million users).
OVER_CAP_MARGIN = 10
OVER_CAP_FLOOR = 1_000  # estimates of a few rows are guesses (a table's minimum is one row)


def _planner_rows(session: Session, stmt: Any) -> float:
    """The rows PostgreSQL's planner expects `stmt` to return (planning only: well under 1 ms)."""
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    plan: Any = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}",
                                     compiled.params).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


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
    Backwards pages come back in forward order too. A search on SQLite takes the planned
    paths of core.search_pages, so a page costs about the same for "jones" and "pritchard".
    """
    actor = recheck(session, actor)
    if words(q.search):
        return search_pages.page(session, actor, q, after, limit, backwards)
    if is_sqlite(session) and actor.schools is None and not q.school:
        # Walk the sort index (the view's own kind-led one when it has one kind): SQLite would
        # otherwise gather a multi-kind view's 900,000 rows through the kind index and sort them.
        conds = where(actor, q, filters_indexed=False, kind_indexed=len(view_kinds(q)) == 1)
        return run_page(session, q, conds, after, limit, backwards)
    return run_page(session, q, where(actor, q), after, limit, backwards)


def warm(session: Session) -> None:
    """Read ahead what a search's plan needs once per process (users per kind: at a million
    users on SQLite, counting them cost the first keystroke of a session 100-160 ms)."""
    search_pages.kind_totals(session)


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    """One user within the actor's scope."""
    actor = recheck(session, actor)
    user = session.get(User, user_id)
    if user is None or not actor.covers(user.school):
        raise UserNotFound(user=str(user_id))
    return user


def find_username(session: Session, actor: Actor, username: str) -> User:
    actor = recheck(session, actor)
    user = session.exec(select(User).where(col(User.username) == username)).first()
    if user is None:
        # usernames are case-insensitive to people: JonesF@… is jonesf@…
        user = session.exec(
            select(User).where(func.lower(col(User.username)) == username.lower())
        ).first()
    if user is None or not actor.covers(user.school):
        raise UserNotFound(user=username)
    return user


def history(session: Session, user: User) -> list[AuditEvent]:
    """The audit events about `user`, oldest first (the caller has found the user in scope)."""
    stmt = select(AuditEvent).where(col(AuditEvent.user_id) == user.id).order_by(
        col(AuditEvent.id)
    )
    return list(session.exec(stmt).all())


def school_of(session: Session, user: User) -> School | None:
    """The school record of `user` (its names in both languages)."""
    return session.get(School, user.school)


def every_page(session: Session, actor: Actor, q: Query, size: int = 1000
               ) -> Iterator[list[User]]:
    """Every matching user, a keyset page at a time: memory stays flat for a million rows."""
    after: Cursor | None = None
    while True:
        batch = page(session, actor, q, after=after, limit=size)
        if not batch:
            return
        yield batch
        after = cursor_of(batch[-1], q.language)
        session.expunge_all()  # the identity map would otherwise hold every row read
        if len(batch) < size:
            return
