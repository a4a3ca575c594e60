"""The main screen: sidebar, search field, virtual user table, details panel and footer."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Input, Label, Static
from textual.worker import Worker

from hwb_tui.core import accounts, bulk, directory, schools
from hwb_tui.core.access import Action, needs_informed
from hwb_tui.core.directory import Query
from hwb_tui.core.errors import HwbError
from hwb_tui.core.models import User
from hwb_tui.core.names import display_safe
from hwb_tui.core.runs import waiting_runs
from hwb_tui.i18n import t
from hwb_tui.tui import failures
from hwb_tui.tui.keys import localise_bindings
from hwb_tui.tui.screens.add_user import AddUserModal
from hwb_tui.tui.screens.bulk import BulkConfirmModal, action_menu, lifetime_menu
from hwb_tui.tui.screens.confirm import ConfirmModal
from hwb_tui.tui.screens.manage import extend_menu, manage_menu
from hwb_tui.tui.screens.provisioning import ProvisioningPane
from hwb_tui.tui.session import ConsoleApp
from hwb_tui.tui.widgets.details import DetailsPanel
from hwb_tui.tui.widgets.header import HeaderBar
from hwb_tui.tui.widgets.sidebar import Sidebar
from hwb_tui.tui.widgets.user_table import UserTable

USER_VIEWS = ("governors", "non-mis", "mis")
ADD_VIEWS = ("governors", "non-mis")  # Add user: non-MIS accounts only
BASE_FILTERS = ("active", "deactivated", "all")
NOT_CHANGED_SHOWN = 5  # a bulk change's result names this many who were not changed


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "view('governors')", "key.governors", show=False, id="main.governors"),
        Binding("n", "view('non-mis')", "key.non-mis", show=False, id="main.non_mis"),
        Binding("l", "view('mis')", "key.mis", show=False, id="main.mis"),
        Binding("p", "view('provisioning')", "key.provisioning", show=False,
                id="main.provisioning"),
        # Priority: acted on as the key arrives, so keys that arrive with it in one burst (a slow
        # SSH link) already go to the search field or the table, not to the old focus.
        Binding("slash", "search", "key.search", key_display="/", priority=True,
                id="main.search"),
        Binding("enter", "to_table", "key.to_table", priority=True, id="main.to_table"),
        # Not in the footer (it would push "q Quit" off 80 columns in Welsh): the table's
        # heading says "␣ mark", and ? lists it.
        Binding("space", "mark", "key.mark", key_display="␣", show=False, id="main.mark"),
        Binding("m", "manage", "key.manage", id="main.manage"),
        Binding("f", "filter", "key.filter", id="main.filter"),
        Binding("a", "add", "key.add", id="main.add"),
        Binding("escape", "back", "key.back", id="main.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = "governors"
        self.status = "active"
        self.school_names: dict[str, tuple[str, str]] = {}
        # The marked users of this view, by id: kept while scrolling and searching, cleared when
        # the view changes. The table draws the marks from this same dict.
        self.marks: dict[int, User] = {}
        self._had_selection: bool | None = None

    @property
    def hwb(self) -> ConsoleApp:
        assert isinstance(self.app, ConsoleApp)
        return self.app

    @property
    def lang(self) -> str:
        return self.hwb.lang

    @property
    def table(self) -> UserTable:
        return self.query_one(UserTable)

    @property
    def details(self) -> DetailsPanel:
        return self.query_one(DetailsPanel)

    def compose(self) -> ComposeResult:
        app = self.hwb
        yield HeaderBar(app.actor, id="header")
        yield Static(id="banner")
        with Horizontal(id="body"):
            yield Sidebar(id="sidebar")
            with ContentSwitcher(initial="users", id="switcher"):
                with Vertical(id="users"):
                    yield Static(id="table-title")
                    with Horizontal(id="searchbar"):
                        yield Label(id="search-label")
                        # a longer search is cut by the core anyway (directory.words)
                        yield Input(id="search", compact=True,
                                    max_length=directory.MAX_SEARCH_CHARS)
                        yield Static(id="count")
                    yield UserTable(app.store, app.actor, id="table", marks=self.marks)
                    yield DetailsPanel(id="details")
                yield ProvisioningPane(app.store, app.actor, id="provisioning")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#banner").display = False
        self.apply_language()
        self.table.focus()
        self.reload()
        self._load_schools()
        self._count_expiring()
        self.count_held()

    # ---- what the screen shows ---------------------------------------------------------------

    def current_query(self) -> Query:
        search = self.query_one("#search", Input).value
        return Query(view=self.view if self.view in USER_VIEWS else "governors",
                     status=self.status, search=search, language=self.lang,
                     today=self.hwb.today)

    def apply_language(self) -> None:
        """Every label in the current language (the table reloads in that language's order)."""
        lang = self.lang
        for node in [self, self.app, *self.query("*")]:
            localise_bindings(node, lang)
        self.query_one(HeaderBar).show(lang)
        self.query_one(Sidebar).show(self.view, lang, self.status)
        self.query_one("#search-label", Label).update(Text(t("tui.search_label", lang) + ": "))
        self.query_one("#search", Input).placeholder = t("tui.search_placeholder", lang)
        self.table.set_language(lang)
        self._show_details(self.table.selected)
        self._show_count(self.table.total)
        self.query_one(ProvisioningPane).set_language(lang)
        self._show_banner(self._expiring)
        self._show_title()
        self.refresh_bindings()

    _expiring = 0

    _count_text = ""

    def _show_count(self, total: int | None) -> None:
        if total is None:
            # as wide as the count it stands for: the search field keeps its width, and the
            # screen is not laid out again for it
            text = "…".rjust(len(self._count_text))
        elif self.table.count_is_over_cap(total):
            # a search's count stops past the cap (core.user_window.DirectorySource.count)
            text = t("tui.count_over", self.lang, count=f"{self.table.source.count_cap:,}")
        else:
            text = t("tui.count", self.lang, count=f"{total:,}")
        # Laid out again only when its width changes: a layout repaints the table below too.
        self.query_one("#count", Static).update(
            Text(text), layout=cell_len(text) != cell_len(self._count_text))
        self._count_text = text

    def _show_title(self) -> None:
        """The table's heading: the view in words, and how many are marked (the status filter
        is in the sidebar: both would not fit 80 columns in Welsh)."""
        if self.view not in USER_VIEWS:
            return
        lang = self.lang
        title = Text(t(f"tui.view.{self.view}", lang), style="bold", no_wrap=True,
                     overflow="ellipsis", end="")
        if self.marks:
            title.append(" · ")
            title.append(t("tui.marked", lang, count=len(self.marks)), style="bold reverse")
            title.append(" " + t("tui.marked_hint", lang), style="dim")
        elif self.view != "mis":  # MIS accounts cannot be marked
            title.append(" · ")
            title.append(t("tui.mark_hint", lang), style="dim")
        self.query_one("#table-title", Static).update(title)

    def _show_details(self, user: User | None) -> None:
        name = ""
        if user is not None and user.school in self.school_names:
            en, cy = self.school_names[user.school]
            name = cy if self.lang == "cy" else en
        self.details.show(user, self.lang, name)

    _held = 0

    def _show_banner(self, count: int) -> None:
        """The expiring accounts and the held runs in the operator's scope, each on its line."""
        banner = self.query_one("#banner", Static)
        lines = []
        if count:
            lines.append(t("tui.banner.expiring", self.lang, count=f"{count:,}"))
        if self._held:
            lines.append(t("tui.banner.held", self.lang, count=f"{self._held:,}"))
        banner.display = bool(lines)
        if lines:
            banner.update(Text("\n".join(lines)))

    def reload(self, anchor: User | None = None, *, debounce: bool = False) -> None:
        # The count shown stays with the rows shown: "…" comes with the new rows (Counted(None)).
        self.table.load(self.current_query(), anchor=anchor, debounce=debounce)

    # ---- messages from the widgets -----------------------------------------------------------

    @on(UserTable.Selected)
    def _selected(self, event: UserTable.Selected) -> None:
        self._show_details(event.user)
        # The footer depends on the selection only through "is anyone selected" (Manage User);
        # redrawing it on every move cost the main thread more than the page query itself.
        has_selection = event.user is not None
        if has_selection != self._had_selection:
            self._had_selection = has_selection
            self.refresh_bindings()

    @on(UserTable.Counted)
    def _counted(self, event: UserTable.Counted) -> None:
        self._show_count(event.count)

    @on(UserTable.ViewDetails)
    def _view_details(self) -> None:
        self.set_focus(self.details)

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        self.reload(debounce=True)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.set_focus(self.table)

    @on(Sidebar.Chosen)
    def _sidebar_chosen(self, event: Sidebar.Chosen) -> None:
        self.action_view(event.view)

    # ---- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        focused = self.focused
        typing = isinstance(focused, Input)
        if action == "to_table":
            return typing
        if action == "search":
            return not typing and self.view in USER_VIEWS
        if typing and action not in ("back",):
            return False  # the key types into the search field
        in_users = self.view in USER_VIEWS
        if action == "manage":
            return in_users and (self.table.selected is not None or bool(self.marks))
        if action == "mark":
            return in_users and self.table.selected is not None
        if action == "add":
            return self.view in ADD_VIEWS
        if action in ("filter", "search"):
            return in_users
        if action == "back":
            return typing or isinstance(focused, DetailsPanel)
        return True

    def action_view(self, view: str) -> None:
        changed = view != self.view
        self.view = view
        if changed:
            self._unmark_all()  # marks belong to the view they were made in
        if self.status == "expiring" and view not in ADD_VIEWS:
            self.status = "active"  # only non-MIS accounts expire
        self._show_title()
        self.query_one(Sidebar).show(view, self.lang, self.status)
        switcher = self.query_one(ContentSwitcher)
        if view == "provisioning":
            switcher.current = "provisioning"
            self.query_one(ProvisioningPane).activate()
        else:
            switcher.current = "users"
            if changed or self.table.query_ is None:
                self.reload()
            self.set_focus(self.table)
        self.refresh_bindings()

    # Focus moves at once (Screen.set_focus), not later (Widget.focus): over a slow SSH link
    # "/" and the letters after it arrive together, and the letters must land in the field.
    def action_search(self) -> None:
        if self.view in USER_VIEWS:
            self.set_focus(self.query_one("#search", Input))

    def action_to_table(self) -> None:
        self.set_focus(self.table)

    def action_back(self) -> None:
        self.set_focus(self.table)

    def action_filter(self) -> None:
        filters = (BASE_FILTERS + (("expiring",) if self.view in ADD_VIEWS else ())
                   + ("leaving",))
        index = filters.index(self.status) if self.status in filters else -1
        self.status = filters[(index + 1) % len(filters)]
        self.query_one(Sidebar).show(self.view, self.lang, self.status)
        self._show_title()
        self.reload(self.table.selected)

    # ---- marking, and acting on the marked set ---------------------------------------------

    def action_mark(self) -> None:
        """space: mark or unmark the selected user, then move down (marking a run of rows)."""
        user = self.table.selected
        if user is None or user.id is None:
            return
        if user.id in self.marks:
            del self.marks[user.id]
        elif bulk.markable(self.hwb.actor, user):
            self.marks[user.id] = user
        else:
            self.notify(t("tui.mark.mis" if user.source == "mis" else "tui.mark.not_yours",
                          self.lang), severity="warning")
            return
        self._show_title()
        self.table.refresh()
        self.table.action_move(1)
        self.refresh_bindings()

    def _unmark_all(self) -> None:
        if self.marks:
            self.marks.clear()
            self.table.refresh()
            self.refresh_bindings()

    def _manage_marked(self) -> None:
        lang, today = self.lang, self.hwb.today
        marked = list(self.marks.values())
        actions = bulk.actions_for(marked, today)
        if not actions:
            self.notify(t("tui.bulk.nothing", lang), severity="warning")
            return

        def chosen(choice: str | None) -> None:
            if choice is None:
                self.table.focus()
                return
            action = bulk.BulkAction(choice)
            if action is bulk.BulkAction.EXTEND:
                applies = [u for u in marked if bulk.applies(action, u, today)]
                self.app.push_screen(lifetime_menu(len(applies), lang),
                                     lambda lifetime: self._confirm_bulk(action, lifetime))
            else:
                self._confirm_bulk(action, None)

        self.app.push_screen(action_menu(actions, len(marked), lang), chosen)

    def _confirm_bulk(self, action: bulk.BulkAction, lifetime: str | None) -> None:
        if action is bulk.BulkAction.EXTEND and lifetime is None:
            self.table.focus()
            return
        today = self.hwb.today
        marked = list(self.marks.values())
        users = [u for u in marked if bulk.applies(action, u, today)]
        ite = bulk.needs_informed(action, users, today)
        dialog = BulkConfirmModal(action, users, len(marked) - len(users), len(ite), self.lang,
                                  lifetime)

        def answered(yes: bool | None) -> None:
            self.table.focus()
            if yes:
                # Yes is only possible with the statement ticked when ITE students are in it
                self._change_marked(action, users, bool(ite), lifetime)

        self.app.push_screen(dialog, answered)

    @work(thread=True, group="change", exit_on_error=False)
    def _change_marked(self, action: bulk.BulkAction, users: list[User], informed: bool,
                       lifetime: str | None) -> None:
        app = self.hwb
        targets = [bulk.Target(username=u.username, user_id=u.id, version=u.version)
                   for u in users]
        results: list[bulk.Result] = []
        try:
            for result in bulk.change_many(app.store, app.actor, action, targets,
                                           informed=informed, lifetime=lifetime,
                                           today=app.today):
                results.append(result)
        except HwbError as exc:  # the operator's own standing (disabled, narrowed) or the db
            app.call_from_thread(self._marked_changed, action, results, exc)
            return
        app.call_from_thread(self._marked_changed, action, results, None)

    def _marked_changed(self, action: bulk.BulkAction, results: list[bulk.Result],
                        stopped: HwbError | None) -> None:
        lang = self.lang
        summary = bulk.summarise(results)
        lines = [t(f"tui.bulk.done.{action}", lang, count=summary.changed)]
        failed = [r for r in results if not r.done]
        if failed:
            lines.append(t("tui.bulk.not_changed", lang, count=len(failed)))
            for r in failed[:NOT_CHANGED_SHOWN]:
                who = (f"{r.user.surname}, {r.user.forename}" if r.user else r.username)
                lines.append(f"• {display_safe(who)}: {r.message(lang)}")
            if len(failed) > NOT_CHANGED_SHOWN:
                lines.append(t("tui.bulk.and_more", lang, count=len(failed) - NOT_CHANGED_SHOWN))
        if stopped is not None:
            lines.append(stopped.message(lang))
        self.notify("\n".join(lines), severity="warning" if failed or stopped else "information",
                    timeout=20 if failed or stopped else 8, markup=False)
        for r in results:
            if r.done and r.user is not None and r.user.id is not None:
                self.marks.pop(r.user.id, None)
                self.table.replace_row(r.user)
            elif r.user is not None:
                self._refresh_user(r.user)  # show who won the race as they are now
        self._show_title()
        self.table.recount()
        self._count_expiring()
        self.refresh_bindings()

    def action_manage(self) -> None:
        if self.marks:
            self._manage_marked()
            return
        user = self.table.selected
        if user is None:
            self.notify(t("tui.no_selection", self.lang))
            return
        menu = manage_menu(user, self.hwb.actor, self.hwb.today, self.lang)

        def chosen(choice: str | None) -> None:
            if choice in (Action.DEACTIVATE, Action.ACTIVATE):
                action = Action(choice)
                self.app.push_screen(ConfirmModal(user, action, self.lang),
                                     lambda yes: self._confirmed(bool(yes), action, user))
            elif choice == Action.EXTEND:
                self.app.push_screen(extend_menu(user, self.lang),
                                     lambda lifetime: self._extend(user, lifetime))

        self.app.push_screen(menu, chosen)

    def _confirmed(self, yes: bool, action: Action, user: User) -> None:
        if yes:
            self._change(action, user, None)
        self.table.focus()

    def _extend(self, user: User, lifetime: str | None) -> None:
        if lifetime:
            self._change(Action.EXTEND, user, lifetime)
        self.table.focus()

    def action_add(self) -> None:
        if self.view not in ADD_VIEWS:
            self.notify(t("tui.add_not_here", self.lang))
            return
        kind = "governor" if self.view == "governors" else None
        self.app.push_screen(AddUserModal(self.hwb.store, self.hwb.actor, self.lang, kind,
                                          self.hwb.today), self._added)

    def _added(self, user: User | None) -> None:
        self.table.focus()
        if user is None:
            return
        self.notify(t("tui.done.add", self.lang, username=user.username))
        if self.status not in ("active", "all"):
            self.status = "active"
            self.query_one(Sidebar).show(self.view, self.lang, self.status)
        self.reload(user)
        self._count_expiring()

    # ---- workers: every database call off the event loop -------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if failures.failed(event):
            failures.report(self, event.worker.error)

    @work(thread=True, group="change", exit_on_error=False)
    def _change(self, action: Action, user: User, lifetime: str | None) -> None:
        app = self.hwb
        assert user.id is not None
        try:
            with app.store.write() as session:
                if action is Action.DEACTIVATE:
                    change = accounts.deactivate(
                        session, app.actor, user.id, ite_informed=needs_informed(action, user),
                        expected_version=user.version)
                elif action is Action.ACTIVATE:
                    change = accounts.activate(session, app.actor, user.id, today=app.today,
                                               expected_version=user.version)
                else:
                    assert lifetime is not None
                    change = accounts.extend(session, app.actor, user.id, lifetime,
                                             today=app.today)
        except HwbError as exc:
            app.call_from_thread(self._change_failed, exc, user)
            return
        app.call_from_thread(self._changed, action, change.user)

    def _changed(self, action: Action, user: User) -> None:
        params = {"username": user.username}
        if user.id in self.marks:
            self.marks[user.id] = user  # a marked user changed one by one: mark as they are now
        if action is Action.EXTEND:
            params["date"] = user.expires_on.isoformat() if user.expires_on else "?"
        self.notify(t(f"tui.done.{action}", self.lang, **params))
        self.table.replace_row(user)
        self.table.recount()
        self._count_expiring()

    def forget_users(self) -> None:
        """Show no user any more: the operator has been withdrawn (HwbApp.refused)."""
        self.table.forget()
        self.details.show(None, self.lang, "")

    def _change_failed(self, exc: HwbError, user: User) -> None:
        if self.hwb.refused(exc):
            return
        # A lost race or a rule: say so plainly, then show the user as they are now.
        self.notify(exc.message(self.lang), severity="warning", timeout=10)
        self._refresh_user(user)

    @work(thread=True, group="refresh-user", exit_on_error=False)
    def _refresh_user(self, user: User) -> None:
        app = self.hwb
        assert user.id is not None
        try:
            with app.store.read() as session:
                fresh = directory.get_user(session, app.actor, user.id)
        except HwbError as exc:
            app.call_from_thread(app.refused, exc)
            return
        app.call_from_thread(self._refreshed, fresh)

    def _refreshed(self, fresh: User) -> None:
        if fresh.id in self.marks:
            if bulk.markable(self.hwb.actor, fresh):
                self.marks[fresh.id] = fresh  # marked as they are now
            else:
                del self.marks[fresh.id]
            self._show_title()
        self.table.replace_row(fresh)
        self.table.recount()

    @work(thread=True, group="schools", exit_on_error=False)
    def _load_schools(self) -> None:
        app = self.hwb
        try:
            with app.store.read() as session:
                names = schools.names_in_scope(session, app.actor)
        except HwbError as exc:
            app.call_from_thread(app.refused, exc)
            return
        app.call_from_thread(self._schools_loaded, names)

    def _schools_loaded(self, names: dict[str, tuple[str, str]]) -> None:
        self.school_names = names
        self._show_details(self.table.selected)

    @work(thread=True, exclusive=True, group="expiring", exit_on_error=False)
    def _count_expiring(self) -> None:
        app = self.hwb
        query = Query(view="non-mis", status="expiring", today=app.today)
        try:
            with app.store.read() as session:
                count = directory.count(session, app.actor, query)
        except HwbError as exc:
            app.call_from_thread(app.refused, exc)
            return
        app.call_from_thread(self._expiring_counted, count)

    def _expiring_counted(self, count: int) -> None:
        self._expiring = count
        self._show_banner(count)

    @work(thread=True, exclusive=True, group="held", exit_on_error=False)
    def count_held(self) -> None:
        """Count the held runs waiting in the operator's scope (core.runs), for the banner."""
        app = self.hwb
        with app.store.read() as session:
            count = len(waiting_runs(session, app.actor, app.now()))
        app.call_from_thread(self._held_counted, count)

    def _held_counted(self, count: int) -> None:
        self._held = count
        self._show_banner(self._expiring)

