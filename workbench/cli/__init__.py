"""Sub-commands of ``workbench``: one module each, with ``add_parser(sub)`` and ``run(args)``.

Modules here import torch and the engine lazily, inside ``run``, so ``workbench --help`` and the
TUI's first frame do not pay torch's import (about 1-2 s).
"""

COMMANDS: tuple[str, ...] = (
    "split",
    "train",
    "eval",
    "predict",
    "present",
    "notebook",
    "sweep",
    "bench",
    "autograd",
    "backprop",
)
"""Sub-command modules, in the order ``workbench --help`` lists them."""
