"""The read side: scope, search, keyset paging and Welsh order, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from hwb_tui.core import directory
from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.core.errors import UserNotFound
from hwb_tui.core.models import User
from tests import builders as b

HERE, THERE = "6612001", "6612002"


@pytest.fixture
def two_schools(any_store: Store) -> Store:
    with any_store.write() as s:
        b.school(s, HERE, "Ysgol Gymraeg Aberystwyth")
        b.school(s, THERE, "Ysgol y Graig")
        b.operator(s, "admin")
        b.operator(s, "champion", role="digital-champion", schools=(HERE,))
        b.user(s, "Jones", "Siân", school=HERE)
        b.user(s, "Evans", "Llŷr", school=HERE, kind="ite")
        b.user(s, "Jones", "Sian", school=THERE)
        b.user(s, "Price", "Gwenllïan", school=THERE)
        b.user(s, "O'Brien", "Dafydd", school=THERE, kind="la")
    return any_store


def _all(store: Store, actor: Actor, q: directory.Query) -> list[User]:
    with store.read() as s:
        return directory.page(s, actor, q, limit=1000)


def test_champion_sees_only_their_school(two_schools: Store) -> None:
    champion = b.actor(two_schools, "champion")
    admin = b.actor(two_schools, "admin")
    q = directory.Query(status="all")
    with two_schools.read() as s:
        assert directory.count(s, champion, q) == 2
        assert directory.count(s, admin, q) == 5
        seen = directory.page(s, champion, q, limit=100)
        assert {u.school for u in seen} == {HERE}
        assert len(directory.page(s, admin, q, limit=100)) == 5


def test_champion_cannot_fetch_another_schools_user(two_schools: Store) -> None:
    champion = b.actor(two_schools, "champion")
    admin = b.actor(two_schools, "admin")
    with two_schools.read() as s:
        price = directory.find_username(s, admin, "PriceG@hwbcymru.net")
        assert price.id is not None
        with pytest.raises(UserNotFound):
            directory.get_user(s, champion, price.id)
        with pytest.raises(UserNotFound):
            directory.find_username(s, champion, "PriceG@hwbcymru.net")
        mine = directory.find_username(s, champion, "joness@hwbcymru.net")  # any case
        assert mine.school == HERE
        assert directory.get_user(s, champion, mine.id or 0).username == "JonesS@hwbcymru.net"


def test_school_filter_within_scope(two_schools: Store) -> None:
    champion = b.actor(two_schools, "champion")
    with two_schools.read() as s:
        assert directory.count(s, champion, directory.Query(status="all", school=THERE)) == 0


@pytest.mark.parametrize(("term", "expected"), [
    ("sian", {"JonesS@hwbcymru.net", "JonesS2@hwbcymru.net"}),
    ("SIÂN", {"JonesS@hwbcymru.net", "JonesS2@hwbcymru.net"}),
    ("llyr", {"EvansL@hwbcymru.net"}),
    ("o'bri", {"OBrienD@hwbcymru.net"}),
    ("obrien", {"OBrienD@hwbcymru.net"}),
    ("jon si", {"JonesS@hwbcymru.net", "JonesS2@hwbcymru.net"}),
    ("gwenllian", {"PriceG@hwbcymru.net"}),
    ("priceg", {"PriceG@hwbcymru.net"}),  # the username
    ("zzz", set()),
])
def test_search_is_case_accent_and_punctuation_insensitive(two_schools: Store, term: str,
                                                           expected: set[str]) -> None:
    admin = b.actor(two_schools, "admin")
    found = _all(two_schools, admin, directory.Query(status="all", search=term))
    assert {u.username for u in found} == expected


def test_search_finds_a_learner_by_upn(any_store: Store) -> None:
    upn = b.learner_upn(HERE, 7)
    with any_store.write() as s:
        b.school(s)
        b.operator(s, "admin")
        b.user(s, "Morgan", "Efa", kind="learner", upn=upn)
        b.user(s, "Morgan", "Elis", kind="learner", upn=b.learner_upn(HERE, 8))
    admin = b.actor(any_store, "admin")
    found = _all(any_store, admin, directory.Query(search=upn.lower()))
    assert [u.upn for u in found] == [upn]


# --- keyset paging ------------------------------------------------------------------------------

SURNAMES = ["Jones", "Lloyd", "Lyons", "Evans", "Chapman", "Cwm", "Davies", "Rhys", "Roberts",
            "ap Rhys", "Owen", "Ng", "Thomas", "Llywelyn", "Price"]


@pytest.fixture
def many(any_store: Store) -> Store:
    with any_store.write() as s:
        b.school(s)
        b.operator(s, "admin")
        for i in range(97):  # duplicates of (surname, forename): ties broken by id
            b.user(s, SURNAMES[i % len(SURNAMES)], ["Siân", "Aled", "Carys"][i % 3])
    return any_store


@pytest.mark.parametrize("language", ["en", "cy"])
@pytest.mark.parametrize("size", [1, 7, 10, 97, 100])
def test_keyset_pages_forward_cover_every_row_once_in_order(many: Store, language: str,
                                                            size: int) -> None:
    admin = b.actor(many, "admin")
    q = directory.Query(status="all", language=language)
    seen: list[User] = []
    after = None
    with many.read() as s:
        while True:
            batch = directory.page(s, admin, q, after=after, limit=size)
            if not batch:
                break
            seen.extend(batch)
            after = directory.cursor_of(batch[-1], language)
        whole = directory.page(s, admin, q, limit=1000)
    ids = [u.id for u in seen]
    assert len(ids) == len(set(ids)) == 97
    assert ids == [u.id for u in whole]
    keys = [directory.cursor_of(u, language) for u in seen]
    assert keys == sorted(keys)


@pytest.mark.parametrize("size", [1, 6, 50])
def test_keyset_pages_backward_cover_every_row_once(many: Store, size: int) -> None:
    admin = b.actor(many, "admin")
    q = directory.Query(status="all")
    with many.read() as s:
        whole = directory.page(s, admin, q, limit=1000)
        last = whole[-1]
        collected: list[User] = [last]
        before = directory.cursor_of(last, "en")
        while True:
            batch = directory.page(s, admin, q, after=before, limit=size, backwards=True)
            if not batch:
                break
            assert [directory.cursor_of(u, "en") for u in batch] == sorted(
                directory.cursor_of(u, "en") for u in batch)  # pages come back in forward order
            collected = batch + collected
            before = directory.cursor_of(batch[0], "en")
    assert [u.id for u in collected] == [u.id for u in whole]


# --- Welsh order in the database -----------------------------------------------------------------


def _order(store: Store, language: str, names: list[str]) -> list[str]:
    with store.write() as s:
        b.school(s)
        b.operator(s, "admin")
        for name in names:
            b.user(s, name, "Ann")
    admin = b.actor(store, "admin")
    return [u.surname for u in _all(store, admin, directory.Query(status="all",
                                                                   language=language))]


def test_welsh_order_puts_ll_after_l_and_ch_after_c(any_store: Store) -> None:
    names = ["Lyons", "Lloyd", "Lewis", "Chapman", "Cwm", "Davies", "Dda", "Rhys", "Roberts"]
    assert _order(any_store, "cy", names) == [
        "Cwm", "Chapman", "Davies", "Dda", "Lewis", "Lyons", "Lloyd", "Roberts", "Rhys"]


def test_english_order_is_plain_alphabetical(any_store: Store) -> None:
    names = ["Lyons", "Lloyd", "Lewis", "Chapman", "Cwm", "Davies", "Dda", "Rhys", "Roberts"]
    assert _order(any_store, "en", names) == [
        "Chapman", "Cwm", "Davies", "Dda", "Lewis", "Lloyd", "Lyons", "Rhys", "Roberts"]
