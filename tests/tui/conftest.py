"""Console test data: two schools, operators of each role, and users of every kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from hwb_tui.core.access import Actor
from hwb_tui.core.db import Store
from hwb_tui.core.models import DEACTIVATED
from hwb_tui.tui.app import HwbApp
from tests import builders

TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
HOME = "6612001"
OTHER = "6612002"
HOSTILE = ("[@click=app.quit]x[/]", "Smith [/]", "Evil\x1b[31mRed\x1b[0m")


@dataclass
class Seed:
    store: Store
    ids: dict[str, int]

    def actor(self, login: str) -> Actor:
        return builders.actor(self.store, login)

    def app(self, login: str = "admin", **kwargs: object) -> HwbApp:
        return HwbApp(self.store, self.actor(login), today=TODAY, now=NOW, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def seed(store: Store) -> Iterator[Seed]:
    yield build_seed(store)


@pytest.fixture
def seed_any(any_store: Store) -> Iterator[Seed]:
    """The same data on SQLite and on PostgreSQL (skipped without a server)."""
    yield build_seed(any_store)


def build_seed(store: Store) -> Seed:
    ids: dict[str, int] = {}
    with store.write() as s:
        builders.school(s, HOME, "Ysgol Gymraeg Aberystwyth")
        builders.school(s, OTHER, "Penglais School")
        builders.operator(s, "admin")
        builders.operator(s, "champ", role="digital-champion", schools=(HOME,))
        builders.operator(s, "cymro", schools=(HOME, OTHER), language="cy")

        def add(key: str, surname: str, forename: str, **kw: object) -> None:
            u = builders.user(s, surname, forename, **kw)  # type: ignore[arg-type]
            assert u.id is not None
            ids[key] = u.id

        add("jones", "Jones", "Siân", expires_on=date(2027, 8, 31))
        add("evans", "Evans", "Dafydd", expires_on=date(2027, 8, 31))
        add("williams", "Williams", "Ann", expires_on=date(2027, 8, 31))
        add("llewelyn", "Llewelyn", "Gwen", expires_on=date(2027, 8, 31))
        add("lyons", "Lyons", "Ann", expires_on=date(2027, 8, 31))
        add("lloyd", "Lloyd", "Huw", expires_on=date(2026, 12, 20))  # expiring within 8 weeks
        add("morgan", "Morgan", "Rhys", status=DEACTIVATED,
            deactivated_at=datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
        add("pritchard", "Pritchard", "Owain", school=OTHER, expires_on=date(2027, 8, 31))
        add("roberts", "Roberts", "Ffion", kind="ite", expires_on=date(2027, 6, 30))
        add("hughes", "Hughes", "Cai", kind="learner",
            upn=builders.learner_upn(HOME, 1), year_group=12)
        add("davies", "Davies", "Mair", kind="staff", staff_code="MDA")
        for i, name in enumerate(HOSTILE):
            add(f"hostile{i}", name, "Zed", expires_on=date(2027, 8, 31))
    return Seed(store, ids)
