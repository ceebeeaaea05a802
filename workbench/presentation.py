"""The class presentation (``workbench present``, the command palette's "Present"): the
assignment walked through in its order as slides made of the workbench's own screens.

A slide is a screen driven into the state worth showing by the screen's own actions, with a
one-line caption in the mode bar; :data:`SLIDES` declares them, in order. Space (or Page Down)
advances, Backspace (or Page Up) goes back; every other key still works the screen shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

NEXT_KEYS = "space,pagedown"
BACK_KEYS = "backspace,pageup"
KEYS_HINT = "␣ next ⌫ back"
"""How the caption says which keys step (the mode bar has no room for more)."""


@dataclass(frozen=True)
class Slide:
    """One step of the walk: which screen, what to do there, what it shows."""

    title: str
    caption: str
    """One line: what the audience sees."""
    mode: str
    """The screen (its mode name in :data:`workbench.screens.SCREENS`)."""
    actions: tuple[str, ...] = ()
    """Actions of that screen that bring it into the state shown, in order; ``{run}`` stands
    for the presented run's path (without a run they are left out)."""
    comparison: bool = False
    """Shown only when there are several runs to compare."""


SLIDES: tuple[Slide, ...] = (
    Slide("Q1", "autograd's own graph, stepped through to x.grad, z.grad", "autograd", ("last",)),
    Slide("Q2", "Δw11 by the chain rule, and every way it vanishes", "backprop", ("cases",)),
    Slide(
        "Q3 split", "first 5 images of each class in each split", "data",
        ("show_tab('tab-grid')",),
    ),
    Slide(
        "Q3 augment", "random augmentations of one training image", "data",
        ("show_tab('tab-augment')",),
    ),
    Slide(
        "Q3 curves", "loss and accuracy per epoch, train and validation", "train",
        ("show_run({run})",),
    ),
    Slide("Q3 tuning", "every run with its hyper-parameters and results", "runs", comparison=True),
    Slide(
        "Q3 test", "test metrics and confusion matrix (test split)", "evaluate",
        ("open({run})", "tab('m')"),
    ),
    Slide(
        "Q3 errors", "misclassified, worst first, with Grad-CAM (←/→)", "evaluate",
        ("open({run})", "tab('w')"),
    ),
    Slide("Demo", "the model live on any image: e path, b browse, n/p", "demo", ("open({run})",)),
)  # fmt: skip
"""The walk, in the assignment's order."""


class Presentation:
    """Which slide is shown, for which run; :meth:`show` drives the app there."""

    def __init__(self, run: Path | None, slides: Sequence[Slide] = SLIDES) -> None:
        self.run = run
        self.slides = list(slides)
        self.index = 0

    @classmethod
    def for_runs(cls, runs_root: Path, run: Path | None = None) -> Presentation:
        """A presentation of ``run`` (default: the newest finished run under ``runs_root``),
        with the comparison slide only when there are runs to compare."""
        from workbench.engine.run_query import ANY_DATA, find_runs, newest_finished_run

        if run is None:
            newest = newest_finished_run(runs_root, ANY_DATA)
            run = newest.path if newest is not None else None
        several = len(find_runs(runs_root, checkpoint="any")) > 1
        return cls(run, [s for s in SLIDES if several or not s.comparison])

    def step(self, delta: int) -> None:
        self.index = max(0, min(len(self.slides) - 1, self.index + delta))

    @property
    def slide(self) -> Slide:
        return self.slides[self.index]

    def caption(self) -> str:
        """The mode bar's line while presenting."""
        slide = self.slide
        return f"{self.index + 1}/{len(self.slides)} {slide.title}: {slide.caption}  {KEYS_HINT}"

    def actions(self) -> list[str]:
        """The current slide's actions, with the run filled in (left out without a run)."""
        if self.run is None:
            return [a for a in self.slide.actions if "{run}" not in a]
        return [a.format(run=repr(str(self.run))) for a in self.slide.actions]

    async def show(self, app: App[None]) -> None:
        """Switch to the slide's screen and run its actions there."""
        if app.current_mode != self.slide.mode:
            await app.switch_mode(self.slide.mode)
        for action in self.actions():
            await app.run_action(action, app.screen)
