"""The headless commands; each module registers its parser and runs over the core."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hwb_tui import config
from hwb_tui.core.access import Actor, current_login, load_actor
from hwb_tui.core.dates import parse_date
from hwb_tui.core.db import Store, open_store
from hwb_tui.core.records import document, jsonable
from hwb_tui.i18n import current_language, set_language, t


@dataclass
class Context:
    """What every command needs: the database, opened once, and the operator running it."""

    db_url: str | None = None
    lang_explicit: bool = False
    _store: Store | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return config.database_url(self.db_url)

    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.url, config.busy_timeout())
        return self._store

    def actor(self) -> Actor:
        """The operator whose login runs this command; unknown logins are refused (exit 1).

        Without --lang or HWB_LANG the operator's remembered language is used.
        """
        login = current_login()  # who we are, before the database is even opened
        with self.store().read() as session:
            actor = load_actor(session, login)
        if not self.lang_explicit and _env_lang() is None:
            set_language(actor.language)
        return actor

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()


def _env_lang() -> str | None:
    return os.environ.get("HWB_LANG") or None


to_jsonable = jsonable  # the name commands used before core.records held it


def print_json(data: Any) -> None:
    """One JSON document on stdout: build it with core.records' serialisers."""
    sys.stdout.write(document(data))
    sys.stdout.write("\n")


__all__ = ["Context", "print_json", "to_jsonable", "current_language"]


def iso_date(value: str) -> date:
    """An argparse type for every date option: YYYY-MM-DD exactly, else a usage error (exit 2)."""
    day = parse_date(value, padded=True)
    if day is None:
        raise argparse.ArgumentTypeError(t("cli.bad_date", value=value))
    return day
