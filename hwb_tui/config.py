"""Where the database is and the limits the product runs with."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB_FILE = Path("data") / "hwb.db"
DEFAULT_BUSY_TIMEOUT = 5.0  # seconds a writer waits for another before giving up (exit 4)


def database_url(explicit: str | None = None) -> str:
    """--db wins, then HWB_DATABASE_URL, then an SQLite file in the working directory's data/."""
    url = explicit or os.environ.get("HWB_DATABASE_URL")
    if url:
        return url
    DEFAULT_DB_FILE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_DB_FILE}"


def busy_timeout() -> float:
    try:
        return float(os.environ.get("HWB_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT
