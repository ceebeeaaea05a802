"""A labelled one-line input with its error line below it: the fields of the Autograd and
Backprop screens, one widget instead of a copy in each."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static


class LabelledInput(Vertical):
    """``label [value      ]`` on one row; :meth:`show_error` shows a message under it and
    marks the input. The input's id is ``{prefix}-{name}``, the error's ``{prefix}-error-{name}``,
    so a screen queries them by the field's name."""

    DEFAULT_CSS = """
    LabelledInput { height: auto; width: 1fr; }
    LabelledInput > .field-row { height: 1; }
    LabelledInput > .field-row Label { width: auto; padding-right: 1; }
    LabelledInput > .field-row Input { border: none; height: 1; padding: 0 1; width: 1fr; }
    LabelledInput > .field-row Input:focus { border: none; background: $boost; }
    LabelledInput > .field-row Input.-invalid { border: none; background: $error 20%; }
    LabelledInput > .field-error { color: $error; height: auto; display: none; }
    LabelledInput > .field-error.-shown { display: block; }
    """

    def __init__(self, prefix: str, name: str, label: str, value: str) -> None:
        super().__init__(id=f"{prefix}-field-{name}")
        self.prefix, self.field_name, self.label, self.value = prefix, name, label, value

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(self.label)
            yield Input(self.value, id=f"{self.prefix}-{self.field_name}", select_on_focus=False)
        yield Static("", classes="field-error", id=f"{self.prefix}-error-{self.field_name}")

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    def show_error(self, text: str) -> None:
        """Show ``text`` under the field and mark the input (an empty text clears both)."""
        error = self.query_one(".field-error", Static)
        error.update(text)
        error.set_class(bool(text), "-shown")
        self.input.set_class(bool(text), "-invalid")
