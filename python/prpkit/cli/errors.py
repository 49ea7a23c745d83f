"""The command line's user-facing errors: one line, and the exit status they map to."""

from __future__ import annotations

PILLOW_HINT = "pip install 'prpkit[images]'"


class CLIError(Exception):
    """A user-facing error: one line, exit status ``status``."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def unwritable(out: str, e: OSError) -> CLIError:
    """``--out`` cannot be written: one line naming the user's path and the system's
    reason (never an internal temporary or journal file)."""
    return CLIError(f"{out}: cannot write the results there ({e.strerror or e})")
