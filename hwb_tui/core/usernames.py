"""Usernames for new accounts, one rule for every way an account is made (by hand, by a
provisioning run, the demo): SurnameF@hwbcymru.net, then SurnameF2, SurnameF3, …, the smallest
number free among usernames that fold to the same key (usernames are case-insensitive to people).

A national directory holds thousands of 'JonesS'; counting them for every school grows with the
directory (on PostgreSQL a 2,000-row school's first load spent seconds there). So each base keeps
where its free numbers begin (models.UsernameBase: every number below `free_from` is taken), and
a batch of names looks up only the numbers from there: one statement for the bases, one or two
for the usernames that would be issued. A trigger on user lowers `free_from` when a username is
freed, so a gap is still filled first.

Two writers issuing the same base at once (PostgreSQL: runs of two schools, an operator adding a
governor) take turns: reading the bases locks their rows until the writer commits, so the second
sees the first's usernames. SQLite has one writer at a time anyway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Connection
from sqlmodel import Session

from hwb_tui.core.names import search_key, username_base, username_from

# (surname, forename) -> (username base, its key): names repeat, folding them is not free.
_BASES: dict[tuple[str, str], tuple[str, str]] = {}
_CHUNK = 500  # keys per statement
_DIGITS = "0123456789"


def number_key(key: str, number: int) -> str:
    """The username key of `number` under base key `key`: 'jonesf', 'jonesf2', … (what
    accounts.username_key_of gives for the username: the digits are their own key)."""
    return key if number == 1 else f"{key}{number}"


def base_and_number(username_key: str) -> tuple[str, int]:
    """The inverse of number_key: 'jonesf12' -> ('jonesf', 12), 'jonesf' -> ('jonesf', 1)."""
    base = username_key.rstrip(_DIGITS)
    digits = username_key[len(base):]
    return base, int(digits) if digits else 1


class Numbering:
    """Collision numbers handed out in turn, per base key: the smallest number from
    `free_from[key]` (1 for a key not there) that is not in `taken[key]`. The demo numbers a
    fresh directory with an empty one; allocate_with_keys fills one from the store."""

    def __init__(self) -> None:
        self.free_from: dict[str, int] = {}
        self.taken: dict[str, set[int]] = {}

    def issue(self, base: str, key: str) -> tuple[str, str]:
        """(username, username key) of the next free number of `base` (whose key is `key`)."""
        n = self.free_from.get(key, 1)
        taken = self.taken.get(key)
        if taken:
            while n in taken:
                n += 1
        self.free_from[key] = n + 1
        return username_from(base, n), number_key(key, n)


def base_of(surname: str, forename: str) -> tuple[str, str]:
    """The username base of a name and its key ('JonesS', 'joness'), folded once per name."""
    found = _BASES.get((surname, forename))
    if found is None:
        if len(_BASES) > 200_000:
            _BASES.clear()
        base = username_base(surname, forename)
        found = _BASES[(surname, forename)] = (base, search_key(base))
    return found


def allocate_username(session: Session, surname: str, forename: str) -> str:
    """The next free username for this name: JonesF@…, then JonesF2@…, JonesF3@…"""
    return allocate_usernames(session, [(surname, forename)])[0]


def allocate_usernames(session: Session, names: list[tuple[str, str]]) -> list[str]:
    """Usernames for new accounts: SurnameF, then SurnameF2, …: the smallest free number, in
    a few statements for however many names (see the module docstring). The caller inserts
    them in the same transaction and then calls `issued`."""
    return [username for username, _ in allocate_with_keys(session, names)]


def allocate_with_keys(session: Session, names: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(username, username key) for each name; see allocate_usernames."""
    bases = [base_of(*name) for name in names]
    need = Counter(key for _, key in bases)
    conn = session.connection()
    numbering = Numbering()
    numbering.free_from = _lock_bases(conn, sorted(need))
    numbering.taken = _taken(conn, need, numbering.free_from)
    return [numbering.issue(base, key) for base, key in bases]


def issued(session: Session, keys: Sequence[str]) -> None:
    """Record that the usernames with these keys were inserted (in this transaction, by
    allocations of this transaction): each base's free numbers now begin after its highest."""
    highest: dict[str, int] = {}
    for username_key in keys:
        base, n = base_and_number(username_key)
        if n >= highest.get(base, 0):
            highest[base] = n
    conn = session.connection()
    larger = "GREATEST" if conn.dialect.name == "postgresql" else "MAX"
    _upsert(conn, [(key, n + 1) for key, n in sorted(highest.items())],
            f"{larger}(usernamebase.free_from, excluded.free_from)")


def _lock_bases(conn: Connection, keys: list[str]) -> dict[str, int]:
    """Each key's free_from (1 for a base with no row yet, which gets one), its row locked
    until the transaction ends (PostgreSQL: the upsert's row lock; a second writer of the same
    base waits here, under the store's lock_timeout). Keys sorted: two writers lock in the same
    order and cannot deadlock."""
    return dict(_upsert(conn, [(key, 1) for key in keys], "usernamebase.free_from",
                        returning=True))


def _upsert(conn: Connection, rows: list[tuple[str, int]], keep: str,
            returning: bool = False) -> list[tuple[str, int]]:
    """INSERT (key, free_from) rows, a key already there set to `keep`; plain SQL, as
    SQLAlchemy builds a statement of hundreds of rows slower than the database runs it."""
    mark = _mark(conn)
    out: list[tuple[str, int]] = []
    for i in range(0, len(rows), _CHUNK):
        chunk = rows[i:i + _CHUNK]
        sql = (f"INSERT INTO usernamebase (key, free_from) VALUES "
               f"{', '.join([f'({mark}, {mark})'] * len(chunk))} "
               f"ON CONFLICT (key) DO UPDATE SET free_from = {keep}")
        params = tuple(v for row in chunk for v in row)
        if returning:
            result = conn.exec_driver_sql(sql + " RETURNING key, free_from", params)
            out.extend((str(k), int(n)) for k, n in result)
        else:
            conn.exec_driver_sql(sql, params)
    return out


def _taken(conn: Connection, need: Counter[str], free_from: dict[str, int]
           ) -> dict[str, set[int]]:
    """The numbers already taken, per base, from its free_from on, as far as it takes to find
    as many free numbers as the base needs: the usernames those numbers would make, looked up
    by key (one statement; more only where some were taken, each reaching twice as far)."""
    taken: dict[str, set[int]] = {key: set() for key in need}
    start = dict(free_from)
    width = dict(need)
    missing = dict(need)
    while missing:
        probes: dict[str, tuple[str, int]] = {}
        for key in missing:
            for n in range(start[key], start[key] + width[key]):
                probes[number_key(key, n)] = (key, n)
        found = _existing(conn, list(probes))
        for username_key in found:
            key, n = probes[username_key]
            taken[key].add(n)
        for key in list(missing):
            hits = sum(1 for n in range(start[key], start[key] + width[key]) if n in taken[key])
            missing[key] -= width[key] - hits
            if missing[key] <= 0:
                del missing[key]
            else:
                start[key] += width[key]
                width[key] *= 2
    return taken


def _existing(conn: Connection, keys: list[str]) -> list[str]:
    """Which of these username keys the user table holds: a lookup in its username_key index.

    On PostgreSQL without statistics of the table (a directory still loading, autovacuum
    off), the planner guesses that 500 keys match a quarter of the rows and reads the whole
    table instead (150 ms a school at 600,000 users, and growing with the directory): these
    statements alone are told to use the index (enable_seqscan off, then on again)."""
    mark = _mark(conn)
    pg = conn.dialect.name == "postgresql"
    if pg:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    out: list[str] = []
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i:i + _CHUNK]
        sql = (f'SELECT username_key FROM "user" WHERE username_key IN '
               f"({', '.join([mark] * len(chunk))})")
        out.extend(str(k) for (k,) in conn.exec_driver_sql(sql, tuple(chunk)))
    if pg:
        # (not in a finally: after an error the transaction is over, and the setting with it)
        conn.exec_driver_sql("SET LOCAL enable_seqscan = on")
    return out


def _mark(conn: Connection) -> str:
    """The driver's positional parameter marker (exec_driver_sql passes SQL as written)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"
