"""The base class of every workbench screen: mode bar on top, footer below, shared habits.

A screen subclasses :class:`WorkbenchScreen`, sets ``HELP`` (markdown shown by ``?``) and
implements ``compose_body``. Its thread workers' failures become notifications here, so a screen
never crashes or freezes on an engine error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent
from textual.worker import Worker, WorkerState

from workbench.widgets.modebar import ModeBar

if TYPE_CHECKING:
    from workbench.app import WorkbenchApp

PICTURES_HELP = """
**Pictures** are drawn with the terminal's own graphics (Kitty, Sixel) where it has them, else
with coloured half-blocks. A terminal without truecolor (tmux gives `TERM=tmux-256color` by
default) gets them dithered onto its 256 colours: grainy but true to colour. For full colour in
tmux, add `set -as terminal-features ",*:RGB"` to `~/.tmux.conf` (tmux 3.2+; older:
`set -ga terminal-overrides ",*:Tc"`), restart the tmux server, and start the workbench with
`COLORTERM=truecolor` set (ssh does not pass it on: export it in the remote shell's profile).
"""
"""The part of the ``?`` help of the screens that show pictures (Data, Evaluate)."""

PANE_SCROLL_BINDINGS: list[Binding] = [
    Binding("pagedown", "scroll_pane('page_down')", "Scroll", key_display="PgUp PgDn ↑↓"),
    Binding("pageup", "scroll_pane('page_up')", "Scroll up a page", show=False),
    Binding("down", "scroll_pane('down')", "Scroll down", show=False),
    Binding("up", "scroll_pane('up')", "Scroll up", show=False),
]
"""Keys that scroll the visible tab of a tabbed screen wherever the focus is (a focused widget
that scrolls itself, a table say, keeps them): without them a tab of pictures only scrolled
after Tab had walked the focus through the fields to it."""


class WorkbenchScreen(Screen[None]):
    """A top-level screen of the workbench (one per mode)."""

    HELP: ClassVar[str] = ""
    """Markdown shown by the ``?`` help: what the screen is for and how to use it."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 (Textual API)
    """Screens get the class -narrow below 120 columns and -wide from 120 on (see app.tcss)."""
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]  # noqa: RUF012 (Textual API)
    """And -short below 34 rows, -tall from 34 on."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    @property
    def wb(self) -> WorkbenchApp:
        """The app, typed."""
        return cast("WorkbenchApp", self.app)

    def on_mount(self) -> None:
        """Register with the app, which asks every opened screen before quitting. (Textual
        calls this and a subclass's own ``on_mount`` alike.)"""
        self.wb.opened_screens.append(self)

    def compose(self) -> ComposeResult:
        yield ModeBar()
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between the mode bar and the footer."""
        yield from ()

    def busy_reason(self) -> str | None:
        """Work that quitting now would abandon (one line), or None."""
        return None

    def exit_note(self) -> str | None:
        """A line to print in the shell after the app quits (e.g. a run that keeps going)."""
        return None

    def action_leave_field(self) -> None:
        """Take the focus off the current field, so that number keys switch screens again."""
        self.set_focus(None)

    def action_scroll_pane(self, how: str) -> None:
        """Scroll the visible tab's pane: ``how`` is up, down, page_up or page_down."""
        tabs = self.query(TabbedContent).first()
        pane = tabs.active_pane
        if pane is None:
            return
        scroller = pane.query(ScrollableContainer).first()
        scroll = {
            "up": scroller.scroll_up,
            "down": scroller.scroll_down,
            "page_up": scroller.scroll_page_up,
            "page_down": scroller.scroll_page_down,
        }[how]
        scroll(animate=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.wb.report_worker_error(event.worker)
