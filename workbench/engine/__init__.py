"""The headless core of the workbench: torch, numpy, PIL, sklearn, albumentations.

Never imports textual or anything under ``workbench.app``, ``workbench.screens`` or
``workbench.widgets`` (``tests/unit/test_import_hygiene.py`` checks it in a subprocess, and
the import-linter contract in ``pyproject.toml`` statically, in ``make test``).
Engine functions return values or emit events; they never print.
"""
