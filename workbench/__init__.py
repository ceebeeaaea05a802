"""workbench: a terminal workbench for deep-learning coursework.

Imports neither torch nor textual, so ``workbench --help`` stays instant.
"""

__version__ = "0.1.0"
