"""The headless core of the workbench: torch, numpy, PIL, sklearn, albumentations.

Never imports textual or anything under ``workbench.app``, ``workbench.screens`` or
``workbench.widgets`` (``tests/unit/test_import_hygiene.py`` checks it in a subprocess).
Engine functions return values or emit events; they never print.
"""
