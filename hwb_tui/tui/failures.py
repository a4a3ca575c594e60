"""The one answer to a worker that failed: a notification in the operator's language.

Every `@work` in the console runs with `exit_on_error=False`, so an error in a worker never ends
an operator's session; each node that starts workers sends failed ones here. An error of our
own (the database unavailable, a rule) says what it is; anything else says that the action
failed, goes to the log with its traceback, and the console carries on.
"""

from __future__ import annotations

from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

from hwb_tui.core.errors import HwbError
from hwb_tui.i18n import current_language, t


def failed(event: Worker.StateChanged) -> bool:
    """Whether `event` says its worker ended with an error."""
    return event.state is WorkerState.ERROR


def report(node: DOMNode, error: BaseException | None) -> None:
    """Tell the operator that a worker of `node` failed, and why, in their language."""
    app = node.app
    refused = getattr(app, "refused", None)
    if isinstance(error, HwbError) and refused is not None and refused(error):
        return  # the operator has been withdrawn: the console says so once, and stops
    lang = getattr(app, "lang", None) or current_language()
    if isinstance(error, HwbError):
        text = error.message(lang)
    else:
        app.log.error("worker failed", error)
        text = t("tui.worker_failed", lang, error=type(error).__name__)
    app.notify(text, severity="error", timeout=10)
