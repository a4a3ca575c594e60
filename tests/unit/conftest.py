"""Fixtures of the unit tests that run the CLI in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hwb_tui.core.db import Store, open_store
from hwb_tui.i18n import set_language
from tests import builders as b


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store on a SQLite file that the CLI run in this process opens too (b.cli_env)."""
    url = f"sqlite:///{tmp_path / 'hwb.db'}"
    b.cli_env(monkeypatch, url)
    store = open_store(url)
    yield store
    store.dispose()
    set_language("en")
