"""What every command shares: the program's name, and the error a command stops with."""

from __future__ import annotations

PROG = "activitylog"
DEFAULT_DEMO_DB = "activitylog-demo.db"

#: Exit statuses: success, damage found or the store failed, a usage error, interrupted.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(Exception):
    """A user mistake or an unusable input: printed as one line, exit ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code
