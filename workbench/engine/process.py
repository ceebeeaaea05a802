"""Is a process still there? Only for the TUI's own child before it has started a run: whether a
run is being trained is its lock (:meth:`workbench.engine.runs.Run.is_live`), never a pid, which
the system may have given to another process since."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
