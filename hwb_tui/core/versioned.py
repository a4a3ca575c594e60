"""The conditional UPDATE: the one way an account's row is changed once it exists.

A row is written only while it is as its writer read it (the same version, and where the writer
says so the same status and further conditions), and every write adds one to the version. So two
writers that read the same row cannot both win: the loser's UPDATE matches no row, and the
writer decides what that means (an operator is told who changed it first, housekeeping leaves
the operator's change alone, a provisioning run rolls back whole).

Core statements, not ORM updates: one statement per shape of change, reused for every row
(housekeeping and a provisioning run change tens of thousands of rows), and run for many rows at
once when the caller needs only to know that all of them matched: on PostgreSQL one
`UPDATE … FROM (VALUES …)` per few thousand rows (an executemany there is a round trip per row),
elsewhere one executemany.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, Update, bindparam, update

from hwb_tui.core.models import User

USERS: Table = User.__table__  # type: ignore[attr-defined]
# PostgreSQL takes at most 65,535 parameters a statement: many() sends VALUES lists of at most
# this many.
_PG_PARAMETERS = 30_000


class VersionedUpdate:
    """UPDATE user SET `columns`, version = version + 1 WHERE the row's id and version are those
    read (and its status is `status`, and every one of `conditions` holds)."""

    def __init__(self, columns: Iterable[str], *conditions: ColumnElement[bool],
                 status: str | None = None) -> None:
        self.columns = tuple(columns)
        # only the id and version: rows can then be matched to a VALUES list (see many)
        self.plain = status is None and not conditions
        where = [USERS.c.id == bindparam("b_id"), USERS.c.version == bindparam("b_version")]
        if status is not None:
            where.append(USERS.c.status == status)
        self.statement: Update = (
            update(USERS)
            .where(*where, *conditions)
            .values({**{c: bindparam(f"v_{c}") for c in self.columns},
                     "version": USERS.c.version + 1})
        )

    @staticmethod
    def row(user_id: int | None, version: int | None, values: Mapping[str, Any]
            ) -> dict[str, Any]:
        """One row's parameters: its id and version as read, and its new `values` (one for each
        of the statement's columns)."""
        params = {f"v_{k}": v for k, v in values.items()}
        params["b_id"] = user_id
        params["b_version"] = version
        return params

    @staticmethod
    def user_id(params: Mapping[str, Any]) -> int:
        return int(params["b_id"])

    def written(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The values `params` write, in the order of `columns`."""
        return tuple(params[f"v_{c}"] for c in self.columns)

    def one(self, connection: Connection, user_id: int | None, version: int | None,
            values: Mapping[str, Any]) -> bool:
        """Change one row; True when it was still as read (this writer won)."""
        result = connection.execute(self.statement, self.row(user_id, version, values))
        return bool(result.rowcount)

    def many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> bool | None:
        """Change every row of `rows` (built by `row`) in one executemany: True when every one
        was still as read, False when one was not, None when the driver cannot count."""
        if not rows:
            return True
        if connection.dialect.name == "postgresql" and self.plain:
            # every chunk, even after one that missed: the caller then finds, among rows that
            # all hold either what this wrote or another writer's change, the one that lost
            step = max(1, _PG_PARAMETERS // (len(self.columns) + 2))
            matched = sum(self._from_values(connection, rows[i:i + step])
                          for i in range(0, len(rows), step))
            return matched == len(rows)
        result = connection.execute(self.statement, list(rows))
        if len(rows) > 1 and not connection.dialect.supports_sane_multi_rowcount:
            return None
        return bool(result.rowcount == len(rows))

    def _from_values(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """PostgreSQL: `rows` as one `UPDATE "user" … FROM (VALUES …)`, each row only where its
        version is as read; how many rows matched. Each value is cast to its column's type (a
        NULL in a VALUES list would otherwise be text)."""
        prep = connection.dialect.identifier_preparer
        types = connection.dialect.type_compiler_instance
        casts = ["%s::integer", "%s::integer",
                 *(f"%s::{types.process(USERS.c[c].type)}" for c in self.columns)]
        row = f"({', '.join(casts)})"
        names = ", ".join(["b_id", "b_version", *(f"v_{c}" for c in self.columns)])
        sets = ", ".join(f"{prep.quote(c)} = v.v_{c}" for c in self.columns)
        sql = (f"UPDATE {prep.format_table(USERS)} AS u SET {sets}, version = u.version + 1 "
               f"FROM (VALUES {', '.join([row] * len(rows))}) AS v({names}) "
               "WHERE u.id = v.b_id AND u.version = v.b_version")
        params: list[Any] = []
        for p in rows:
            params.extend((p["b_id"], p["b_version"], *self.written(p)))
        return int(connection.exec_driver_sql(sql, tuple(params)).rowcount)
