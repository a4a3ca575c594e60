"""Where the database is and the limits the product runs with."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

DEFAULT_DB_FILE = Path("data") / "hwb.db"
DEFAULT_BUSY_TIMEOUT = 5.0  # seconds a writer waits for another before giving up (exit 4)


SYSTEM_CONFIG = Path("/etc/hwb-tui/config.toml")


def system_config() -> dict[str, object]:
    """The host's configuration (HWB_CONFIG, else /etc/hwb-tui/config.toml): where the database
    is when operators reach the console over SSH, readable by the service account only."""
    path = Path(os.environ.get("HWB_CONFIG") or SYSTEM_CONFIG)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (FileNotFoundError, PermissionError):
        return {}


def database_url(explicit: str | None = None) -> str:
    """--db wins, then HWB_DATABASE_URL, then the host's config file, then an SQLite file in the
    working directory's data/."""
    url = explicit or os.environ.get("HWB_DATABASE_URL") or system_config().get("database_url")
    if url:
        return str(url)
    DEFAULT_DB_FILE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_DB_FILE}"


DEFAULT_INBOX = Path("data") / "inbox"


def inbox_dir() -> Path:
    """Where MIS exports are dropped for provisioning: HWB_INBOX, then `inbox` in the host's
    config file, then the working directory's data/inbox/."""
    configured = os.environ.get("HWB_INBOX") or system_config().get("inbox")
    return Path(str(configured)) if configured else DEFAULT_INBOX


def busy_timeout() -> float:
    try:
        return float(os.environ.get("HWB_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT


DEFAULT_SERVICE_ACCOUNT = "hwb-svc"  # as deploy/sudoers.d/hwb-tui names it


def service_account() -> str:
    """The OS account the scheduled jobs run as (the host config's `service_account`): run by
    it, `health` covers every school; anyone else sees their own operator's schools."""
    return str(system_config().get("service_account") or DEFAULT_SERVICE_ACCOUNT)
