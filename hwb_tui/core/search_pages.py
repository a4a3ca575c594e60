"""Search pages on SQLite at a million users: each search field walks the index that suits it.

SQLite keeps no value histograms, so left alone it cannot tell a search for "jones" (60,000
matches: walk the sort index, a page of matches comes at once) from "pritchard" (900: fetch them
through the name index and sort them), and it guesses wrong either way by a factor of a hundred.
So a search page is the merge of one small page per field, each taking its own path:

- surname: a surname starting with P sorts in a known range of the sort index (the sort key is
  surname key + "!" + forename key), so that range is walked directly: about `limit` rows read.
- forename and UPN: their matches lie evenly across the sort order. With many matches, walk the
  sort index until a page is found; with few, fetch them through the field's index and sort.
  A capped index-only count, costing microseconds, tells which.
- username: a username starting with P belongs to a surname starting with P (found above) or to
  a surname that is itself a shorter prefix of P ("JonesF…" for "jonesf"): those surnames' exact
  ranges are walked. With few username matches they are simply fetched through their index.

- a second word ("jones s"): it must match another field of the same person, as a rule the
  forename; the sort key is surname!forename, so each exact surname in range narrows to the
  range surname!word (_surname_parts, _walk_parts), and a count reads these same parts.

Plans are steered with SQLite's unary `+`, which keeps a condition but hides its index.
PostgreSQL takes the same paths (its estimates of prefix ranges mislead it as SQLite's lack
of them does), without the `+`.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, not_, or_, union, union_all
from sqlmodel import Session, col, select

from hwb_tui.core.access import Actor
from hwb_tui.core.models import User
from hwb_tui.core.names import prefix_upper_bound, welsh_key_prefixes, welsh_sort_key
from hwb_tui.core.user_query import (
    SEARCH_FIELDS,
    VIEWS,
    Cursor,
    Hidden,
    Query,
    cursor_of,
    field_ranges,
    looks_like_upn,
    run_page,
    sort_column,
    unindexed,
    view_kinds,
    where,
    words,
)

ESTIMATE_CAP = 20_000
# Usernames are fetched through their index only when few match: most usernames that match a
# common prefix belong to surnames that the surname path finds anyway, and reading them all just
# to drop them cost 20 ms a keystroke ("a" at a million users). Past this, only the surnames that
# are shorter prefixes of the word are walked; a username whose ASCII spelling differs from its
# surname's (Øster -> SterA) then shows once the word is specific enough to be fetched.
# 5,000, not fewer: "jonesd" (Joneses with a forename in D) matches 4,000 usernames and no
# surname; walking Jones's 85,000 rows for them took 300 ms on PostgreSQL, fetching them 10 ms.
USERNAME_FETCH_MAX = 5_000


def page(
    session: Session,
    actor: Actor,
    q: Query,
    after: Cursor | None,
    limit: int,
    backwards: bool,
) -> list[User]:
    if actor.schools is not None or q.school:
        # A few schools: walk those schools' slice of the sort index, every other index hidden.
        conds = where(actor, q, search_indexed=False, filters_indexed=False)
        return run_page(session, q, conds, after, limit, backwards)

    found: dict[int, User] = {}
    for conds, sort_indexed in _parts(session, actor, q, limit, counting=False):
        for user in run_page(session, q, conds, after, limit, backwards, sort_indexed):
            assert user.id is not None
            found[user.id] = user
    ordered = sorted(found.values(), key=lambda u: cursor_of(u, q.language))
    return ordered[-limit:] if backwards else ordered[:limit]


Parts = list[tuple[list[ColumnElement[bool]], bool]]  # (conditions, walk the sort index?)
# A second word splits a surname's range by forename only while its surnames are this few
# (each is an index probe to find, then a range or two to walk).
SPLIT_SURNAMES_MAX = 16


def _prefix(column: Any, key: str) -> ColumnElement[bool]:
    return and_(column >= key, column < prefix_upper_bound(key))


def _parts(session: Session, actor: Actor, q: Query, limit: int, counting: bool) -> Parts:
    """The parts a search's matches are read in (each a set of conditions, walked along the sort
    index or fetched and sorted), for a page of `limit`, or for `counting` them (no part then
    walks the whole sort index)."""
    keys = words(q.search)
    driver = max(keys, key=len)  # the longest word is the most selective, as a rule
    kinds = (q.kind,) if q.kind else VIEWS[q.view]
    with_upn = "learner" in kinds  # only learners have UPNs
    residual = [or_(*field_ranges(k, indexed=False, with_upn=with_upn))
                for k in keys if k is not driver]
    # fetching through a (kind, name key) index: kind usable, status only checked
    filters = where(actor, q.with_(search=""), filters_indexed=False, kind_indexed=True)
    upn_filters = where(actor, q.with_(search=""), filters_indexed=False)
    # walking a sort index: its own kind-led index when the view has one kind, else the global one
    scan_filters = where(actor, q.with_(search=""), filters_indexed=False,
                         kind_indexed=len(kinds) == 1)

    def field(name: str) -> Any:
        return unindexed(col(getattr(User, name)))

    prefix = _prefix
    kind_in = col(User.kind).in_(kinds)
    parts: Parts = []

    # surname: the sort ranges where such surnames are. The sort key begins with the surname's
    # (English: its search key; Welsh: its letters coded, every reading of a digraph in a
    # range of its own), so these ranges hold exactly the surnames that start with the word and
    # no surname condition is needed. None is given: PostgreSQL would take the two ranges for
    # independent, expect a hundredth of the rows, and intersect two indexes then sort 25,000
    # rows ("s": 200 ms) instead of walking the range. With a second word, each surname's
    # range narrows to that word's forenames (see _surname_parts).
    parts += _surname_parts(session, q, keys, driver, scan_filters, filters, residual)

    # forename and UPN: walk or fetch, whichever reads fewer rows
    spread = [("forename_key", driver)]
    if with_upn and (driver.isdigit() or (driver[0].isalpha() and driver[1:].isdigit())):
        spread.append(("upn", driver.upper()))
    for name, key in spread:
        # UPNs are learners' alone: counted on the UPN index, not walked through the kinds
        view = () if name == "upn" else (kind_in,)
        # Walking wins once matches pass sqrt(limit x rows walked): count no further than that.
        enough = min(ESTIMATE_CAP, int(math.sqrt(limit * _walked(session, q))) + 1)
        matches = _capped_count(session, *view, prefix(col(getattr(User, name)), key),
                                cap=enough)
        if matches == 0:
            continue
        walks = matches >= enough or _walk_is_cheaper(session, q, matches, limit)
        # a count never walks the whole sort index: it fetches, unless the walk is in ranges
        if walks and not (counting and _splitter(keys, driver) is None):
            parts += _walk_parts(session, q, keys, driver, kind_in, scan_filters, filters,
                                 residual, prefix(field(name), key), name == "forename_key")
        else:
            # UPNs through the UPN index alone: with kind usable, SQLite took a kind index
            # and sorted every learner ("a661": 5 s at a million users)
            parts.append(((upn_filters if name == "upn" else filters) + residual
                          + [prefix(col(getattr(User, name)), key)], False))

    # username: the surnames that are shorter prefixes of the word, or a direct fetch
    parts += _username_parts(session, q, driver, kind_in, scan_filters, filters, residual)
    return parts


def _splitter(keys: list[str], driver: str) -> str | None:
    """The word besides the driver whose ranges a search's walks are split by, if any: none
    when the driver starts with it (it matches wherever the driver does, walks find matches at
    once) or it looks like a UPN (a UPN range is no part of the sort order)."""
    others = [k for k in keys if k is not driver]
    other = max(others, key=len) if others else None
    if other is None or driver.startswith(other) or looks_like_upn(other):
        return None
    return other


def _surname_parts(session: Session, q: Query, keys: list[str], driver: str,
                   scan_filters: list[ColumnElement[bool]],
                   filters: list[ColumnElement[bool]],
                   residual: list[ColumnElement[bool]]) -> Parts:
    """Where the people whose surname starts with `driver` are, as parts to read.

    One word: the surname's sort ranges. Two words or more ("jones s"): the other word must
    match another field, as a rule the forename, and a person's sort key is surname!forename;
    so each exact surname of the range (a few index probes find them) gives the range
    surname!word, walked at once to its matches, where walking "jones" for forenames in S read
    76,000 rows (170 ms on PostgreSQL, 260 ms on SQLite). The same people whose username or
    UPN, not their forename, starts with the word: fetched when few usernames start with it
    (usernames follow surnames, so beyond USERNAME_FETCH_MAX they are those of surnames that
    start with the word, which a person whose surname starts with `driver` cannot have, as
    for the one-word username path); a UPN-like word keeps the plain walk.
    """
    sort_key = sort_column(q.language)
    starts = _surname_sort_prefixes(driver, q.language)
    other = _splitter(keys, driver)
    if other is None:
        return [(scan_filters + residual + [_prefix(sort_key, start)], True) for start in starts]
    ranges = _name_ranges(session, q, driver, other)
    if ranges is None:
        return [(scan_filters + residual + [_prefix(sort_key, start)], True) for start in starts]
    parts: Parts = [(scan_filters + residual + [_prefix(sort_key, r)], True) for r in ranges]
    usernames = _capped_count(session, col(User.kind).in_(view_kinds(q)),
                              _prefix(col(User.username_key), other), cap=USERNAME_FETCH_MAX)
    if 0 < usernames < USERNAME_FETCH_MAX:
        parts.append((filters + residual + [_prefix(col(User.username_key), other),
                                            _prefix(unindexed(col(User.surname_key)), driver)],
                      False))
    return parts


def _walk_parts(session: Session, q: Query, keys: list[str], driver: str,
                kind_in: ColumnElement[bool], scan_filters: list[ColumnElement[bool]],
                filters: list[ColumnElement[bool]], residual: list[ColumnElement[bool]],
                match: ColumnElement[bool], forename: bool) -> Parts:
    """Where the people whose forename (or UPN) `match`es the driver are, to walk.

    One word: the whole sort index. With another word ("s j"), that word must match the
    surname, the username or the UPN (the forename too only when the driver starts with it:
    then the plain walk finds a match every few rows): so the sort ranges of the surnames that
    start with it are walked, and the usernames that start with it as the surname parts say
    (where walking everyone for Siân-and-a-J read 400,000 rows: 2.8 s).
    """
    other = _splitter(keys, driver)
    if other is None:
        return [(scan_filters + residual + [match], True)]
    sort_key = sort_column(q.language)
    ranges = _name_ranges(session, q, other, driver) if forename else None
    if ranges is not None:  # each surname's range narrowed to the driver's forenames
        walks = [(scan_filters + residual + [_prefix(sort_key, r)], True) for r in ranges]
    else:
        walks = [(scan_filters + residual + [match, _prefix(sort_key, start)], True)
                 for start in _surname_sort_prefixes(other, q.language)]
    return walks + _username_parts(session, q, other, kind_in, scan_filters + [match],
                                   filters + [match], residual)


def _name_ranges(session: Session, q: Query, surname: str, forename: str) -> list[str] | None:
    """The sort-key ranges of the people whose surname starts with `surname` and forename with
    `forename` ("jones!s"): one per exact surname and reading of the forename; None when the
    surnames are more than SPLIT_SURNAMES_MAX (a walk along them then does better)."""
    sort_key = sort_column(q.language)
    surnames: list[str] = []
    for start in _surname_sort_prefixes(surname, q.language):
        found = _exact_surnames(session, sort_key, start, SPLIT_SURNAMES_MAX - len(surnames))
        if found is None:
            return None
        surnames += found
    forenames = _surname_sort_prefixes(forename, q.language)  # a forename's sort-key prefixes
    return [s + f for s in surnames for f in forenames]


def _exact_surnames(session: Session, sort_key: Any, start: str, most: int) -> list[str] | None:
    """The sort-key prefixes ("jones!") of the distinct surnames in the sort range `start`,
    each found by one probe of the sort index; None when there are more than `most`."""
    out: list[str] = []
    low, high = start, prefix_upper_bound(start)
    while True:
        key = session.exec(select(sort_key).where(sort_key >= low, sort_key < high)
                           .order_by(sort_key).limit(1)).first()
        if key is None:
            return out
        if len(out) == most:
            return None
        surname = key[:key.index("!") + 1]
        out.append(surname)
        low = prefix_upper_bound(surname)  # past every forename of this surname


def _username_parts(session: Session, q: Query, driver: str, kind_in: ColumnElement[bool],
                    scan_filters: list[ColumnElement[bool]],
                    filters: list[ColumnElement[bool]],
                    residual: list[ColumnElement[bool]]) -> Parts:
    """The people whose username, not their surname, starts with `driver`: fetched when few
    usernames start with it, else along the surnames that are shorter prefixes of it
    ("JonesF…" for "jonesf"; see USERNAME_FETCH_MAX)."""
    sort_key = sort_column(q.language)
    not_surname = not_(_prefix(unindexed(col(User.surname_key)), driver))
    matches = _capped_count(session, kind_in, _prefix(col(User.username_key), driver),
                            cap=USERNAME_FETCH_MAX)
    if matches and matches < USERNAME_FETCH_MAX:
        return [(filters + residual + [_prefix(col(User.username_key), driver), not_surname],
                 False)]
    if not matches:
        return []
    return [(scan_filters + residual + [_prefix(sort_key, start),
                                        _prefix(Hidden(col(User.username_key)), driver),
                                        not_surname], True)
            for m in range(1, len(driver))
            for start in _surname_sort_prefixes(driver[:m], q.language, exact=True)]


def _surname_sort_prefixes(key: str, language: str, exact: bool = False) -> list[str]:
    """Sort-key prefixes of every person whose surname key starts with `key` (or is `key`)."""
    starts = sorted(welsh_key_prefixes(key)) if language == "cy" else [key]
    if not exact:
        return starts
    # an exact surname is its key followed by the separator; in Welsh, only the variants
    # that spell the whole key (no half-digraph at the end) can be exact.
    if language == "cy":
        starts = sorted({welsh_sort_key(key)})
    return [s + "!" for s in starts]


def _capped_count(session: Session, *conds: ColumnElement[bool], cap: int) -> int:
    """Matches in view, counted on one index only and stopped at `cap`: microseconds."""
    inner = select(col(User.id)).where(*conds).limit(cap).subquery()
    return int(session.exec(select(func.count()).select_from(inner)).one())


_TOTALS: dict[str, dict[str, int]] = {}


def kind_totals(session: Session) -> dict[str, int]:
    """Users per kind, read once per database per process: only an input to plan choice."""
    url = str(session.get_bind().engine.url)
    if url not in _TOTALS:
        totals = _kind_statistics(session) if session.get_bind().dialect.name == "postgresql" \
            else None
        if totals is None:
            rows = session.exec(select(User.kind, func.count()).group_by(col(User.kind))).all()
            totals = {kind: int(n) for kind, n in rows}
        _TOTALS[url] = totals
    return _TOTALS[url]


def _kind_statistics(session: Session) -> dict[str, int] | None:
    """Users per kind from PostgreSQL's statistics (rows x each kind's share): no table read,
    where counting a million rows costs the first keystroke 100-200 ms. None before the
    table has been analysed."""
    row = session.connection().exec_driver_sql(
        "SELECT c.reltuples, s.most_common_vals::text, s.most_common_freqs "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname "
        "WHERE c.relname = 'user' AND n.nspname = current_schema() AND s.attname = 'kind'"
    ).first()
    if row is None or row[0] is None or row[0] <= 0 or row[1] is None:
        return None
    kinds = row[1].strip("{}").split(",")
    return {k.strip('"'): int(row[0] * f) for k, f in zip(kinds, row[2], strict=True)}


def _walk_is_cheaper(session: Session, q: Query, matches: int, limit: int) -> bool:
    """Walking the sort index reads about limit / density rows; fetching reads every match."""
    # `matches` are already within the view's kinds: the walk finds one every walked/matches rows
    return limit * _walked(session, q) / matches < matches


def _walked(session: Session, q: Query) -> int:
    """Rows of the sort index a walk goes through: the view's kind, else everyone."""
    totals = kind_totals(session)
    kinds = (q.kind,) if q.kind else VIEWS[q.view]
    return max(1, totals.get(kinds[0], 0) if len(kinds) == 1 else sum(totals.values()))


def match_ids(q: Query) -> Any:
    """The ids of the users whose fields match the query's longest word, each field through its
    own index (kind-led for the names), as one UNION: what a search count reads."""
    driver = max(words(q.search), key=len)
    kinds = (q.kind,) if q.kind else VIEWS[q.view]
    hi = prefix_upper_bound(driver)
    parts = [
        select(col(User.id)).where(col(User.kind).in_(kinds), column >= driver, column < hi)
        for column in (col(User.surname_key), col(User.forename_key), col(User.username_key))
    ]
    if "learner" in kinds and (driver.isdigit() or (driver[0].isalpha()
                                                    and driver[1:].isdigit())):
        upn = driver.upper()
        parts.append(select(col(User.id)).where(col(User.upn) >= upn,
                                                col(User.upn) < prefix_upper_bound(upn)))
    return union(*parts)


def parts_count(session: Session, actor: Actor, q: Query, cap: int) -> int:
    """The matches of a search of several words, counted no further than cap + 1: the ids of
    the parts its pages are read in (_parts; none walks the whole sort index), at most cap + 1
    from each, as one UNION. Counting through the driver's fields instead read every Jones's
    id to count the Joneses in S (120-340 ms at a million users)."""
    parts = [select(col(User.id)).where(*conds).limit(cap + 1).subquery()
             for conds, _ in _parts(session, actor, q, cap + 1, counting=True)]
    if not parts:
        return 0
    ids = union(*[select(part.c.id) for part in parts]).subquery()
    inner = select(ids.c.id).limit(cap + 1).subquery()
    return int(session.exec(select(func.count()).select_from(inner)).one())


def capped_count(session: Session, actor: Actor, q: Query, cap: int) -> int:
    """The matches of a search, counted no further than cap + 1: one part per field of the
    longest word, each through that field's own index and excluding the earlier fields'
    matches (so no row counts twice), run one after the other until cap + 1 rows are found.

    The cost is the rows counted, at most cap + 1, on both databases: a union of every match's
    id, then filtered, read all 300,000 'j…' ids to count 10,001 of them (120 ms).
    """
    keys = words(q.search)
    driver = max(keys, key=len)
    kinds = view_kinds(q)
    with_upn = "learner" in kinds
    residual = [or_(*field_ranges(k, indexed=False, with_upn=with_upn))
                for k in keys if k is not driver]
    named = where(actor, q.with_(search=""), filters_indexed=False, kind_indexed=True)
    hidden = where(actor, q.with_(search=""), filters_indexed=False)
    fields: list[tuple[str, str]] = [(name, driver) for name in SEARCH_FIELDS]
    if with_upn and looks_like_upn(driver):
        fields.append(("upn", driver.upper()))
    parts: list[Any] = []
    for i, (name, key) in enumerate(fields):
        column = col(getattr(User, name))
        earlier = [not_(and_(unindexed(col(getattr(User, n))) >= k,
                             unindexed(col(getattr(User, n))) < prefix_upper_bound(k)))
                   for n, k in fields[:i]]
        # names through their kind-led index; UPNs (learners' alone) through the UPN index
        conds = (hidden if name == "upn" else named) + residual + earlier + [
            column >= key, column < prefix_upper_bound(key)]
        parts.append(select(literal_column("1").label("one")).select_from(User).where(*conds))
    matches = union_all(*parts).limit(cap + 1).subquery()
    return int(session.exec(select(func.count()).select_from(matches)).one())
