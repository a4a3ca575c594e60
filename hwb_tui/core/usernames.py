"""Usernames for new accounts, one rule for every way an account is made (by hand, by a
provisioning run): SurnameF@hwbcymru.net, then SurnameF2, SurnameF3, …, the smallest number free
among usernames that fold to the same key (usernames are case-insensitive to people).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from hwb_tui.core.names import search_key, username_base, username_from

_RANGE_CHUNK = 100
# (surname, forename) -> (username base, its key): names repeat, folding them is not free.
_BASES: dict[tuple[str, str], tuple[str, str]] = {}


def allocate_username(session: Session, surname: str, forename: str) -> str:
    """The next free username for this name: JonesF@…, then JonesF2@…, JonesF3@…"""
    return allocate_usernames(session, [(surname, forename)])[0]


def allocate_usernames(session: Session, names: list[tuple[str, str]]) -> list[str]:
    """Usernames for new accounts: SurnameF, then SurnameF2, …: the smallest free number, in
    a few queries for however many names.

    A national directory holds thousands of 'JonesS'; reading them all for every school would
    grow with the directory. So the database counts each base's usernames and finds the highest
    number: when they are equal the numbers are 1..n and the next is n + 1; only a base with
    gaps has its usernames read.
    """
    return [username for username, _ in allocate_with_keys(session, names)]


def allocate_with_keys(session: Session, names: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(username, username key) for each name; see allocate_usernames."""
    bases: list[tuple[str, str]] = []
    for name in names:
        found = _BASES.get(name)
        if found is None:
            base = username_base(*name)
            found = _BASES[name] = (base, search_key(base))
        bases.append(found)
    if len(_BASES) > 200_000:
        _BASES.clear()
    keys = sorted({key for _, key in bases})
    conn = session.connection()
    next_free: dict[str, int] = {}
    taken: dict[str, set[int]] = {}
    for i in range(0, len(keys), _RANGE_CHUNK):
        chunk = keys[i:i + _RANGE_CHUNK]
        # Plain SQL text: SQLAlchemy expressions for 100 ranges cost more than the query.
        # A base's usernames are the keys from 'jonesf' up to 'jonesf:' (':' follows '9').
        parts: list[str] = []
        params: dict[str, Any] = {}
        for j, key in enumerate(chunk):
            parts.append(
                f"SELECT {j}, COUNT(*), MAX(CASE WHEN "
                f"LENGTH(username_key) = :n{j} THEN 1 ELSE "
                f"CAST(SUBSTR(username_key, :s{j}) AS INTEGER) END) FROM \"user\" "
                f"WHERE username_key >= :lo{j} AND username_key < :hi{j}")
            params.update({f"n{j}": len(key), f"s{j}": len(key) + 1,
                           f"lo{j}": key, f"hi{j}": key + ":"})
        gaps: list[str] = []
        # each row names its base by position: a key echoed back through SQL could come back
        # changed (cast to a bounded type, a long name would be cut and then not be found)
        for j, count, highest in conn.execute(text(" UNION ALL ".join(parts)), params):
            key = chunk[int(j)]
            if int(count) == int(highest or 0):
                next_free[key] = int(count) + 1
                taken[key] = set()
            else:
                gaps.append(key)
        for key in gaps:
            numbers = taken[key] = set()
            stmt = text('SELECT username_key FROM "user" '
                        "WHERE username_key >= :lo AND username_key < :hi")
            for (found,) in conn.execute(stmt, {"lo": key, "hi": key + ":"}):
                suffix = found[len(key):]
                numbers.add(int(suffix) if suffix else 1)
            next_free[key] = 1
    out: list[tuple[str, str]] = []
    for base, key in bases:
        numbers = taken[key]
        # the smallest free number only grows (numbers are only added): resume from there
        n = next_free[key]
        while n in numbers:
            n += 1
        numbers.add(n)
        next_free[key] = n + 1
        # the key of 'JonesS2@…' is the base's key and the number: what username_key_of gives
        out.append((username_from(base, n), key if n == 1 else f"{key}{n}"))
    return out
