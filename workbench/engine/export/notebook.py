"""The student's notebook: written from a run, executed headless, optionally rendered as HTML.

:func:`~workbench.engine.export.notebook_parts.notebook_cells` lays out the assignment in
order (setup, Q1, Q2, Q3 a–k). :func:`write_notebook` saves the
notebook atomically, executes it with ``nbclient`` on the ``ipykernel`` kernel of this Python
(so every output is in the delivered file) and, if asked, renders one HTML file with
``nbconvert``. ``workbench notebook``, ``workbench --export`` and the Export screen call it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine.atomic import atomic_write_text
from workbench.engine.export.notebook_parts import Cell, notebook_cells
from workbench.engine.progress import ProgressFn, report

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from workbench.engine.export.registry import Sources

NOTEBOOK_IPYNB = "notebook.ipynb"
NOTEBOOK_HTML = "notebook.html"
CELL_TIMEOUT = 900
"""Seconds one cell may run when the notebook is executed (a CPU evaluation of a big set)."""


class NotebookFailed(Exception):
    """A cell failed when the notebook was executed (the notebook is saved up to it)."""


# ------------------------------------------------------------------- writing and running


def build_notebook(cells: Sequence[Cell]) -> NotebookNode:
    """An nbformat 4 notebook of ``cells`` with the Python 3 kernel named in its metadata."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(c.text)
        if c.kind == "markdown"
        else nbformat.v4.new_code_cell(c.text)
        for c in cells
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def execute_notebook(
    notebook: NotebookNode,
    folder: Path,
    *,
    timeout: int = CELL_TIMEOUT,
    progress: ProgressFn | None = None,
) -> None:
    """Run every cell in a fresh kernel of this Python, with ``folder`` as the working
    directory. :class:`NotebookFailed` names the first failing cell (the notebook then holds
    the outputs up to it)."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    total = len(notebook.cells)

    def executed(cell: Any, cell_index: int, **_: Any) -> None:
        report(progress, "executing the notebook", cell_index + 1, total)

    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        on_cell_executed=executed,
        # the kernel's own start-up warnings (e.g. about its local TCP transport) are not the
        # student's business; errors still show
        extra_arguments=["--log-level=ERROR"],
    )
    try:
        # the kernel's own output goes nowhere: under the TUI it would scribble over the screen
        client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except NoSuchKernel:
        raise NotebookFailed(
            "no Python kernel to execute the notebook (install ipykernel in this environment, "
            "or write it with --no-execute)"
        ) from None
    except CellExecutionError as error:
        index = next(
            (
                number
                for number, cell in enumerate(notebook.cells, start=1)
                if any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            ),
            0,
        )
        raise NotebookFailed(
            f"cell {index} of the notebook failed: {error.ename}: {error.evalue}"
        ) from None


def notebook_html(notebook: NotebookNode) -> str:
    """The notebook as one HTML page (its figures are embedded as data URIs)."""
    from nbconvert import HTMLExporter

    body, _resources = HTMLExporter().from_notebook_node(notebook)
    return str(body)


def _save(notebook: NotebookNode, path: Path) -> Path:
    import nbformat

    nbformat.validate(notebook)
    return atomic_write_text(path, nbformat.writes(notebook) + "\n")


def write_notebook(
    sources: Sources,
    out_dir: str | Path,
    *,
    name: str = NOTEBOOK_IPYNB,
    execute: bool = True,
    html: bool = False,
    progress: ProgressFn | None = None,
) -> list[Path]:
    """``notebook.ipynb`` (executed unless ``execute`` is False) and, with ``html``, the
    executed notebook as HTML, plus the ``test_report.json`` its part (i) checks against.

    A notebook whose execution fails is still saved, with the outputs up to the failing
    cell, before the error is raised: the student sees where it stopped.
    """
    from workbench.engine.export.evaluation import write_test_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = write_test_report(sources.evaluation().report, out)
    notebook = build_notebook(notebook_cells(sources))
    path = out / name
    if execute:
        try:
            execute_notebook(notebook, out, progress=progress)
        finally:
            written.append(_save(notebook, path))
    else:
        written.append(_save(notebook, path))
    if html:
        written.append(atomic_write_text(path.with_suffix(".html"), notebook_html(notebook)))
    return written


def notebook_summary(notebook_path: Path) -> dict[str, Any]:
    """Cells, code cells, error outputs and size of a written notebook (for the CLI)."""
    document = json.loads(notebook_path.read_text(encoding="utf-8"))
    cells = document.get("cells", [])
    errors = sum(
        1
        for cell in cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    )
    return {
        "cells": len(cells),
        "code_cells": sum(cell.get("cell_type") == "code" for cell in cells),
        "errors": errors,
        "bytes": notebook_path.stat().st_size,
    }


__all__ = [
    "NOTEBOOK_HTML",
    "NOTEBOOK_IPYNB",
    "Cell",
    "NotebookFailed",
    "build_notebook",
    "execute_notebook",
    "notebook_html",
    "write_notebook",
]
