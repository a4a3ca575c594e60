"""Two operators adding the same name at once both get an account, with different usernames."""

from __future__ import annotations

import threading
import time

from hwb_tui.core import accounts
from hwb_tui.core.db import Store
from tests import builders as b


def test_same_name_added_at_once_gets_the_next_number(any_store: Store) -> None:
    with any_store.write() as s:
        b.school(s)
        b.operator(s, "admin")
    actor = b.actor(any_store, "admin")
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with any_store.write() as s2:
                results["second"] = accounts.add_user(
                    s2, actor, kind="governor", school="6612001", surname="Jones",
                    forename="Siân").username
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with any_store.write() as s1:
        results["first"] = accounts.add_user(
            s1, actor, kind="governor", school="6612001", surname="Jones",
            forename="Sam").username
        racer = threading.Thread(target=second)
        racer.start()
        time.sleep(0.5)  # the second is now waiting on our row (PostgreSQL) or our lock (SQLite)
    racer.join(timeout=30)
    assert not errors, errors
    assert {results["first"], results["second"]} == {"JonesS@hwbcymru.net",
                                                     "JonesS2@hwbcymru.net"}
