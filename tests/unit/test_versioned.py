"""The one conditional UPDATE (core.versioned): a row is written only while it is as read."""

from __future__ import annotations

from sqlmodel import col, select

from hwb_tui.core.db import Store
from hwb_tui.core.models import ACTIVE, DEACTIVATED, User
from hwb_tui.core.versioned import VersionedUpdate
from tests import builders


def _seed(store: Store, n: int = 3) -> list[tuple[int, int]]:
    with store.write() as session:
        builders.school(session)
        users = [builders.user(session, f"Jones{i}", "Siân") for i in range(n)]
        return [(u.id or 0, u.version) for u in users]


def _rows(store: Store) -> list[tuple[str, int]]:
    with store.read() as session:
        return [(u.status, u.version)
                for u in session.exec(select(User).order_by(col(User.id))).all()]


def test_one_writes_while_unchanged_and_adds_one_to_the_version(any_store: Store) -> None:
    (uid, version), *_ = _seed(any_store)
    writer = VersionedUpdate(["status"], status=ACTIVE)
    with any_store.write() as session:
        assert writer.one(session.connection(), uid, version, {"status": DEACTIVATED})
    assert _rows(any_store)[0] == (DEACTIVATED, version + 1)
    with any_store.write() as session:  # the same read again: the row has moved on
        assert not writer.one(session.connection(), uid, version, {"status": DEACTIVATED})
    assert _rows(any_store)[0] == (DEACTIVATED, version + 1)


def test_one_checks_the_status_and_every_condition(any_store: Store) -> None:
    (uid, version), *_ = _seed(any_store)
    with any_store.write() as session:
        conn = session.connection()
        assert not VersionedUpdate(["status"], status=DEACTIVATED).one(
            conn, uid, version, {"status": ACTIVE})
        never = User.__table__.c.id < 0  # type: ignore[attr-defined]
        assert not VersionedUpdate(["status"], never).one(conn, uid, version,
                                                          {"status": DEACTIVATED})
    assert _rows(any_store)[0] == (ACTIVE, version)


def test_many_says_whether_every_row_was_as_read(any_store: Store) -> None:
    seeded = _seed(any_store)
    writer = VersionedUpdate(["status"])
    rows = [writer.row(uid, version, {"status": DEACTIVATED}) for uid, version in seeded]
    with any_store.write() as session:
        assert writer.many(session.connection(), rows) is True
    assert _rows(any_store) == [(DEACTIVATED, v + 1) for _, v in seeded]
    stale = [writer.row(uid, version + (i == 1), {"status": ACTIVE})
             for i, (uid, version) in enumerate(seeded)]
    with any_store.write() as session:
        assert writer.many(session.connection(), stale) is False
    assert writer.written(stale[0]) == (ACTIVE,) and writer.user_id(stale[2]) == seeded[2][0]
