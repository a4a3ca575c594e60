"""Where the database and the inbox are, who the service account is, and the limits the product
runs with."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from hwb_tui.core.errors import ConfigUnreadable

DEFAULT_DB_FILE = Path("data") / "hwb.db"
DEFAULT_INBOX = Path("data") / "inbox"
DEFAULT_BUSY_TIMEOUT = 5.0  # seconds a writer waits for another before giving up (exit 4)
DEFAULT_EXPORT_MIB = 64  # the largest export file read


SYSTEM_CONFIG = Path("/etc/hwb-tui/config.toml")


def config_path() -> Path:
    return Path(os.environ.get("HWB_CONFIG") or SYSTEM_CONFIG)


def system_config() -> dict[str, object]:
    """The host's configuration (HWB_CONFIG, else /etc/hwb-tui/config.toml): where the database
    is when operators reach the console over SSH, readable by the service account only.

    No file is no configuration; a file that is there but cannot be read or parsed is refused
    (ConfigUnreadable, exit 4): a default database in its place would be a different product.
    """
    path = config_path()
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigUnreadable(path=str(path), detail=exc.strerror or str(exc)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigUnreadable(path=str(path), detail=str(exc).splitlines()[0]) from None


def database_url(explicit: str | None = None) -> str:
    """--db wins, then HWB_DATABASE_URL, then the host's config file, then an SQLite file in the
    working directory's data/."""
    url = explicit or os.environ.get("HWB_DATABASE_URL") or system_config().get("database_url")
    if url:
        return str(url)
    DEFAULT_DB_FILE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_DB_FILE}"


def inbox_dir() -> Path:
    """Where MIS exports are dropped for provisioning, and the only folder the console reads
    exports from: HWB_INBOX, then `inbox` in the host's config file, then the working
    directory's data/inbox/."""
    configured = os.environ.get("HWB_INBOX") or system_config().get("inbox")
    return Path(str(configured)) if configured else DEFAULT_INBOX


def export_limit() -> int:
    """The largest export file read, in bytes: HWB_MAX_EXPORT_MIB, else `max_export_mib` in the
    config file, else 64 MiB."""
    value = os.environ.get("HWB_MAX_EXPORT_MIB") or system_config().get("max_export_mib")
    try:
        mib = float(str(value)) if value is not None else DEFAULT_EXPORT_MIB
    except ValueError:
        mib = DEFAULT_EXPORT_MIB
    if mib <= 0:
        mib = DEFAULT_EXPORT_MIB
    return int(mib * 1024 * 1024)


def busy_timeout() -> float:
    try:
        return float(os.environ.get("HWB_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT))
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT


DEFAULT_SERVICE_ACCOUNT = "hwb-svc"  # as deploy/sudoers.d/hwb-tui names it


def service_account() -> str:
    """The OS account the console and the scheduled jobs run as (the host config's
    `service_account`, else hwb-svc): run by it, `health` covers every school, and sudo's
    SUDO_USER is believed (core.access.current_login); anyone else is themselves.

    Taken from the config file only when root owns the file and nobody else may write it:
    HWB_CONFIG is an environment variable, and whoever sets it could otherwise name themselves
    the service account.
    """
    path = config_path()
    try:
        info = path.stat()
    except OSError:
        return DEFAULT_SERVICE_ACCOUNT
    if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return DEFAULT_SERVICE_ACCOUNT
    return str(system_config().get("service_account") or DEFAULT_SERVICE_ACCOUNT)
