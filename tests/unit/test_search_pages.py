"""The planned search paths return exactly what the plain query returns, on SQLite and on
PostgreSQL (where the same per-field paths run without SQLite's plan hints)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from hwb_tui.core import directory, search_pages
from hwb_tui.core.db import Store, open_store
from hwb_tui.core.directory import Query, cursor_of, run_page, where
from hwb_tui.core.models import DEACTIVATED
from tests import builders as b
from tests.conftest import pg_schema

SURNAMES = ["Jones", "Jonas", "Jonesy", "Jenkins", "Lloyd", "Lyons", "Llŷr", "ap Rhys", "O'Brien",
            "Chapman", "Cwm", "Bangor", "Ng", "Pritchard", "Phillips", "Thomas", "Davies",
            "Ffransis",
            "Fychan", "Rhydderch", "Siôn", "Lewis", "Evans", "Williams", "Ddu", "Dafis"]
FORENAMES = ["Siân", "Sian", "Dafydd", "Ieuan", "Gwenllïan", "Rhys", "Ffion", "Llinos", "Cerys",
             "Osian", "Chris", "Ng", "Jon", "Fflur", "Thomas", "Elin"]
KINDS = ["learner", "learner", "learner", "staff", "governor", "ite", "la", "rec", "other"]
SCHOOLS = ("6612001", "6612002", "6702001")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def directory_store(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    if request.param == "postgres":
        with pg_schema() as url:
            yield from _filled(open_store(url))
    else:
        path: Path = tmp_path_factory.mktemp("search") / "hwb.db"
        yield from _filled(open_store(f"sqlite:///{path}"))


def _filled(store: Store) -> Iterator[Store]:
    rng = random.Random(7)
    with store.write() as s:
        for dfes in SCHOOLS:
            b.school(s, dfes)
        b.operator(s, "admin")
        b.operator(s, "champion", role="digital-champion", schools=("6612002",))
        for i in range(900):
            kind = rng.choice(KINDS)
            school = rng.choice(SCHOOLS)
            b.user(s, rng.choice(SURNAMES), rng.choice(FORENAMES), kind=kind, school=school,
                   status=DEACTIVATED if rng.random() < 0.1 else "active",
                   upn=b.learner_upn(school, i % 1000, 10 + i // 1000) if kind == "learner"
                   else None)
    if store.dialect == "postgresql":
        with store.write() as s:
            s.execute(text('ANALYZE "user"'))  # statistics, as autovacuum keeps them
    yield store
    store.dispose()


TERMS = ["j", "jo", "jon", "jones", "jonesf", "jonesd2", "l", "ll", "llo", "ly", "c", "ch", "cw",
         "ban", "bang", "n", "ng", "ap", "aprh", "obr", "sian", "siân", "dd", "ff", "ffi", "rh",
         "jones s", "s jones", "ll g", "zz", "66", "a661", "thomas", "th", "d", "da",
         "s j", "sian jo", "g ll", "jones jo", "rh ap", "j 66"]


# 3: forces the walking and big-username paths, and two words' walks unsplit (one surname)
@pytest.mark.parametrize("cap", [20_000, 3])
@pytest.mark.parametrize("language", ["en", "cy"])
def test_planned_pages_equal_the_plain_query(
    directory_store: Store, language: str, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_pages, "ESTIMATE_CAP", cap)
    fetch_max = min(cap, search_pages.USERNAME_FETCH_MAX)
    monkeypatch.setattr(search_pages, "USERNAME_FETCH_MAX", fetch_max)
    if cap == 3:
        monkeypatch.setattr(search_pages, "SPLIT_SURNAMES_MAX", 1)
    for login, views, statuses in (("admin", ("all", "governors", "non-mis", "mis"), ("active",)),
                                   ("admin", ("all",), ("all",)),
                                   ("champion", ("all",), ("active",))):
        actor = b.actor(directory_store, login)
        with directory_store.read() as s:
            for view in views:
                for status in statuses:
                    for term in TERMS:
                        q = Query(view=view, status=status, search=term, language=language)
                        plain = run_page(s, q, where(actor, q), None, 10_000, False)
                        # first page, a middle page forwards, and backwards from the end
                        assert _ids(directory.page(s, actor, q, limit=7)) == _ids(plain[:7]), (
                            login, view, status, term)
                        if len(plain) > 9:
                            mid = cursor_of(plain[4], language)
                            assert _ids(directory.page(s, actor, q, after=mid, limit=5)) == _ids(
                                plain[5:10]), (login, view, term, "forward")
                            end = cursor_of(plain[-1], language)
                            assert _ids(directory.page(s, actor, q, after=end, limit=5,
                                                       backwards=True)) == _ids(plain[-6:-1]), (
                                login, view, term, "backward")
                        assert directory.count(s, actor, q) == len(plain)
                        # capped (as the console counts): exact up to the cap, never "over" it
                        # when it is not (PostgreSQL's estimate only ever skips the counting)
                        assert directory.count(s, actor, q, cap=len(plain)) == len(plain)
                        if plain:
                            assert directory.count(s, actor, q, cap=len(plain) - 1) == len(plain)


def test_capped_count_stops_past_the_cap(directory_store: Store) -> None:
    actor = b.actor(directory_store, "admin")
    with directory_store.read() as s:
        q = Query(search="j")
        full = directory.count(s, actor, q)
        assert full > 20
        assert directory.count(s, actor, q, cap=10) == 11
        assert directory.count(s, actor, q, cap=full) == full


def _ids(users: list) -> list[int]:  # type: ignore[type-arg]
    return [u.id for u in users]
