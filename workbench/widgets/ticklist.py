"""A SelectionList whose ticks show in the characters, not only in the colour."""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import Checkbox, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

UNTICKED = " "
"""What an unticked row's box holds (a ticked one keeps Textual's ``X``)."""


class TickList(SelectionList[str]):
    """Textual's list draws ``▐X▌`` before every row, ticked or not, and tells them apart by
    colour alone; in a monochrome terminal (or under ``NO_COLOR``) every row looked ticked.
    Here an unticked row's box is empty: ``▐ ▌``."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        if len(segments) < 3 or segments[1].text != Checkbox.BUTTON_INNER:
            return strip
        try:
            option = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return strip
        if option.value in self.selected:
            return strip
        segments[1] = Segment(UNTICKED * len(segments[1].text), segments[1].style)
        return Strip(segments, strip.cell_length)
