"""Username numbers from where each base's free numbers begin (core.usernames): a gap left by a
purge or a reverted run is filled first, a base with no record is looked for from 1, and two
first loads at once never issue the same username (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import delete, select, update

from hwb_tui.core.db import Store, open_store
from hwb_tui.core.housekeeping import tombstone_username
from hwb_tui.core.models import User, UsernameBase
from hwb_tui.core.usernames import (
    Numbering,
    allocate_usernames,
    base_and_number,
    issued,
    number_key,
)
from hwb_tui.provisioning import ProvisionOptions, provision
from tests import builders as b
from tests.provisioning.conftest import SIMS_LEARNERS, csv_bytes, learner_row


def _free_from(store: Store, key: str) -> int | None:
    with store.read() as s:
        return s.execute(select(UsernameBase.free_from).where(UsernameBase.key == key)
                         ).scalar_one_or_none()


def _jones(store: Store, count: int) -> list[int]:
    """`count` accounts named Jones Siân, issued as a run issues them; their ids."""
    with store.write() as s:
        b.school(s)
        users = [b.user(s, "Jones", "Siân") for _ in range(count)]
        issued(s, [u.username_key for u in users])
        return [u.id or 0 for u in users]


def test_keys_and_numbers() -> None:
    assert [number_key("joness", n) for n in (1, 2, 12)] == ["joness", "joness2", "joness12"]
    assert [base_and_number(k) for k in ("joness", "joness2", "joness12")] == [
        ("joness", 1), ("joness", 2), ("joness", 12)]
    fresh = Numbering()  # the demo's: nothing taken yet
    assert [fresh.issue("JonesS", "joness")[0] for _ in range(3)] == [
        "JonesS@hwbcymru.net", "JonesS2@hwbcymru.net", "JonesS3@hwbcymru.net"]
    assert fresh.issue("JONESS", "joness") == ("JONESS4@hwbcymru.net", "joness4")


def test_issuing_moves_the_base_on(any_store: Store) -> None:
    _jones(any_store, 3)
    assert _free_from(any_store, "joness") == 4
    with any_store.write() as s:
        assert allocate_usernames(s, [("Jones", "Sam"), ("Evans", "Siân")]) == [
            "JonesS4@hwbcymru.net", "EvansS@hwbcymru.net"]


def test_a_purged_username_is_issued_again_first(any_store: Store) -> None:
    ids = _jones(any_store, 4)
    with any_store.write() as s:
        # housekeeping's purge replaces the username with a tombstone
        tomb = tombstone_username(ids[1])
        s.execute(update(User).where(User.id == ids[1])
                  .values(username=tomb, username_key=tomb.split("@")[0]))
    assert _free_from(any_store, "joness") == 2
    with any_store.write() as s:
        assert allocate_usernames(s, [("Jones", "Sam")] * 2) == [
            "JonesS2@hwbcymru.net", "JonesS5@hwbcymru.net"]


def test_a_deleted_account_frees_its_number(any_store: Store) -> None:
    ids = _jones(any_store, 3)
    with any_store.write() as s:  # a reverted run deletes the accounts it created
        s.execute(delete(User).where(User.id == ids[0]))
    assert _free_from(any_store, "joness") == 1
    with any_store.write() as s:
        assert allocate_usernames(s, [("Jones", "Sam")] * 2) == [
            "JonesS@hwbcymru.net", "JonesS4@hwbcymru.net"]


def test_a_base_with_no_record_is_looked_for_from_one(any_store: Store) -> None:
    """Accounts written without issuing (an older version, a bulk load): still no clash."""
    with any_store.write() as s:
        b.school(s)
        for _ in range(40):
            b.user(s, "Jones", "Siân")  # allocates, inserts, never records the issue
        s.execute(delete(User).where(User.username_key == "joness17"))
    assert _free_from(any_store, "joness") == 1  # the row allocating made: nothing recorded
    with any_store.write() as s:
        got = allocate_usernames(s, [("Jones", "Sam")] * 3)
    assert got == ["JonesS17@hwbcymru.net", "JonesS41@hwbcymru.net", "JonesS42@hwbcymru.net"]


def _export(folder: Path, dfes: str, count: int) -> Path:
    rows = [learner_row(i, "Jones" if i % 2 else "Evans", "Siân" if i % 3 else "Sam",
                        dfes=dfes) for i in range(1, count + 1)]
    path = folder / f"{dfes}-learners.csv"
    path.write_bytes(csv_bytes(SIMS_LEARNERS, rows))
    return path


def test_two_first_loads_at_once_issue_every_username_once(any_store: Store,
                                                            tmp_path: Path) -> None:
    schools = ["6612001", "6612002", "6612003"]
    with any_store.write() as s:
        for dfes in schools:
            b.school(s, dfes)
    exports = [_export(tmp_path, dfes, 300) for dfes in schools]
    outcomes: dict[str, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(schools))

    def load(export: Path, dfes: str) -> None:
        store = open_store(any_store.url, busy_timeout=60)
        try:
            start.wait()
            report = provision(store, [export], dfes, ProvisionOptions())
            outcomes[dfes] = report.schools[0].outcome
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            store.dispose()

    threads = [threading.Thread(target=load, args=(e, d)) for e, d in zip(exports, schools,
                                                                            strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert outcomes == dict.fromkeys(schools, "applied")
    with any_store.read() as s:
        keys = list(s.execute(select(User.username_key)).scalars())
    assert len(keys) == len(set(keys)) == 900
    numbers: dict[str, list[int]] = {}
    for key in keys:
        base, n = base_and_number(key)
        numbers.setdefault(base, []).append(n)
    # every base numbered 1, 2, … with no gap: each run saw the others' usernames
    assert {base: sorted(ns) == list(range(1, len(ns) + 1)) for base, ns in numbers.items()} \
        == dict.fromkeys(numbers, True)
    assert {base: _free_from(any_store, base) for base in numbers} == {
        base: len(ns) + 1 for base, ns in numbers.items()}
