"""ProgressLine: a bar beside short text; without a bar the text has the whole line; a failure
wraps whole in the error colour."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Label

from workbench.widgets.status import ProgressLine

DONE = "600 test images predicted with best.pt (epoch 26) on the CPU, in 14 s"
FAILED = (
    "Export failed: /home/student/a-very-long-folder-name/of/exports cannot be used: "
    "a part of this path is a file, not a folder"
)


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ProgressLine()


def _shown(line: ProgressLine) -> str:
    """The label's text as far as it is on screen (the line clips a taller label)."""
    label = line.query_one("#progress-label", Label)
    visible = label.region.intersection(line.region)
    lines = label.render_lines(label.region.reset_offset)[: visible.height]
    return " ".join(strip.text.strip() for strip in lines).strip()


async def test_text_without_a_bar_is_whole_and_a_failure_wraps() -> None:
    app = _Host()
    async with app.run_test(size=(80, 24)) as pilot:
        line = app.query_one(ProgressLine)
        line.show("decoding", 3, 10)
        await pilot.pause()
        assert line.query_one("#progress-bar").display
        line.show(DONE)
        await pilot.pause()
        assert _shown(line) == DONE
        line.fail(FAILED)
        await pilot.pause()
        assert " ".join(_shown(line).split()) == FAILED and line.size.height >= 2
        line.show("working", 1, 2)
        await pilot.pause()
        assert line.size.height == 1 and not line.has_class("-failed")
