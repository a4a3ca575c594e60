"""HwbApp: the console's application: language, global keys, the main screen."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Input

from hwb_tui.core.errors import HwbError
from hwb_tui.core.operators import remember_language
from hwb_tui.i18n import set_language, t
from hwb_tui.tui.screens.help import HelpScreen
from hwb_tui.tui.screens.main import MainScreen
from hwb_tui.tui.session import ConsoleApp


class HwbApp(ConsoleApp):
    """The console: its stylesheet, global keys and the main screen."""

    CSS_PATH = "hwb.tcss"
    TITLE = "hwb-tui"
    ENABLE_COMMAND_PALETTE = False  # every action has a key; the palette would need its own i18n

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "switch_language", "key.language", id="app.language"),
        Binding("question_mark", "help", "key.help", key_display="?", id="app.help"),
        Binding("q", "quit", "key.quit", id="app.quit"),
    ]

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.push_screen(MainScreen())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not super().check_action(action, parameters):
            return False
        if action in ("switch_language", "help", "quit"):
            if isinstance(self.screen, ModalScreen):
                return False  # a dialog is open: it has its own keys
            if isinstance(self.focused, Input):
                return False  # the key types into the search field
        return True

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.lang))

    def action_focus_table(self) -> None:
        if isinstance(self.screen, MainScreen):
            self.screen.table.focus()

    def action_switch_language(self) -> None:
        """Cymraeg / English: every label at once; selection, search and scroll are kept."""
        self.lang = "en" if self.lang == "cy" else "cy"
        set_language(self.lang)
        screen = self.screen
        if isinstance(screen, MainScreen):
            screen.apply_language()
            if screen.table.query_ is not None:
                screen.reload(screen.table.selected)
        self._remember_language(self.lang)

    @work(thread=True, exclusive=True, group="language", exit_on_error=False)
    def _remember_language(self, lang: str) -> None:
        try:
            with self.store.write() as session:
                remember_language(session, self.actor.login, lang)
        except HwbError as exc:
            if not self.call_from_thread(self.refused, exc):
                self.call_from_thread(self.notify, exc.message(lang), severity="warning")
            return
        self.call_from_thread(self.notify, t("tui.language_saved", lang, login=self.actor.login),
                              timeout=3)
