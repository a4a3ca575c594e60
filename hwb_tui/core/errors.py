"""Errors a user can cause: each carries a message key for the i18n layer and an exit status.

An error is put into words where it is shown, in the language of whoever reads it (the console's
operator, the command line's --lang), never where it is raised: its parameters may themselves be
`Phrase`s, said in that same language.
"""

from __future__ import annotations

from typing import Any

from hwb_tui.i18n import t


class Phrase:
    """Words to be said later: a message key and its parameters (a detail inside an error)."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params

    def text(self, lang: str | None = None) -> str:
        return t(self.key, lang, **_said(self.params, lang))

    def __repr__(self) -> str:
        return f"Phrase({self.key!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Phrase) and (self.key, self.params) == (other.key, other.params)

    def __hash__(self) -> int:
        return hash(self.key)


def _said(params: dict[str, Any], lang: str | None) -> dict[str, Any]:
    return {k: v.text(lang) if isinstance(v, Phrase) else v for k, v in params.items()}


class HwbError(Exception):
    """An error fit to show to an operator: `key` names its message in the catalogue."""

    key = "error.generic"
    exit_code = 1

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(f"{self.key} {params}")

    def message(self, lang: str | None = None) -> str:
        """The error in `lang` (default: the current language), details included."""
        return t(self.key, lang=lang, **_said(self.params, lang))


class UsageError(HwbError):
    key = "error.usage"
    exit_code = 2


class DatabaseUnavailable(HwbError):
    key = "error.database_unavailable"
    exit_code = 4


class DatabaseNewer(HwbError):
    key = "error.database_newer"
    exit_code = 4


class UnknownOperator(HwbError):
    key = "error.unknown_operator"


class OperatorDisabled(HwbError):
    key = "error.operator_disabled"


class NotPermitted(HwbError):
    key = "error.not_permitted"


class UserNotFound(HwbError):
    key = "error.user_not_found"


class SchoolNotFound(HwbError):
    """An unregistered school: the message says how to register it."""

    key = "error.school_not_found"


class SchoolClosed(HwbError):
    key = "error.school_closed"


class SchoolExists(HwbError):
    key = "error.school_exists"


class InvalidDfES(HwbError):
    key = "error.invalid_dfes"


class NoOperatorsYet(UnknownOperator):
    """A new database with no operator: the message says what to run first."""

    key = "error.no_operators_yet"


class ManagedByMIS(HwbError):
    key = "error.managed_by_mis"


class ITEMustBeInformed(HwbError):
    key = "error.ite_must_be_informed"


class AlreadyDeactivated(HwbError):
    key = "error.already_deactivated"


class AlreadyActive(HwbError):
    key = "error.already_active"


class ActivationWindowPassed(HwbError):
    key = "error.activation_window_passed"


class AccountPurged(HwbError):
    key = "error.account_purged"


class ChangedMeanwhile(HwbError):
    key = "error.changed_meanwhile"


class InvalidValue(HwbError):
    key = "error.invalid_value"


class NotADemoDatabase(HwbError):
    """`demo` refuses a database that holds users it did not make: it would mix in fake ones."""

    key = "error.not_a_demo_database"


class DiskFull(DatabaseUnavailable):
    """The database could not grow: nothing of the change was kept (exit 4, as unavailable)."""

    key = "error.disk_full"


class BadFile(HwbError):
    """A file the operator named that cannot be used: `where` is the file, or file:line."""

    key = "error.bad_file"


class ExportRefused(HwbError):
    """A file an operator named is not read: outside the inbox, not a regular file, too large."""

    key = "error.export_refused"


class UnknownAccount(HwbError):
    """The process's real uid has no account on this host: there is nobody to be."""

    key = "error.unknown_account"


class ConfigUnreadable(HwbError):
    """The host's configuration file exists but cannot be read: never fall back to a default
    database behind the operator's back."""

    key = "error.config_unreadable"
    exit_code = 4


class DemoWillNotAdmit(HwbError):
    """`demo` makes the current login an administrator only of a database whose operators it
    made itself: never of one with real operators."""

    key = "error.demo_will_not_admit"
