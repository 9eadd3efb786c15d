"""Where a command writes and how it looks there: color, terminal width, progress."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from typing import IO, Any, TextIO

from .outfile import STDOUT_NAME, GuardedStream

_ANSI = {"green": "32", "gray": "90", "red": "31", "bold": "1", "dim": "2"}


def color_enabled(stream: IO[str], mode: str = "auto") -> bool:
    """Whether to color ``stream``: ``always``, ``never``, or on a terminal without NO_COLOR."""
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return isatty(stream)


def isatty(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal (false for closed or fake streams)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Style:
    """Applies ANSI colors when enabled, and nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, color: str | None) -> str:
        if not self.enabled or not color or not text:
            return text
        return f"\x1b[{_ANSI[color]}m{text}\x1b[0m"


class Progress:
    """A one-line progress indicator on stderr, shown only when stderr is a terminal."""

    def __init__(self, label: str, total: int | None = None, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = isatty(self.stream)
        self.label = label
        self.total = total
        self.done = 0
        self._shown = 0.0

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        self.update(self.done + n)

    def update(self, done: int, total: int | None = None) -> None:
        """Set how many items are done (and the total, when it is known only now)."""
        self.done = done
        if total is not None:
            self.total = total
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._shown < 0.1 and done != self.total:
            return
        self._shown = now
        text = f"{self.label} {done:,}"
        if self.total:
            text += f"/{self.total:,} ({100 * done // self.total}%)"
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()

    def close(self) -> None:
        """Erase the indicator."""
        if self.enabled and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class Output:
    """Where a command writes, and how (color, terminal width)."""

    def __init__(self, color: str) -> None:
        self.stream = GuardedStream(sys.stdout, STDOUT_NAME)
        self.err: TextIO = sys.stderr
        self.style = Style(color_enabled(sys.stdout, color))
        tty = isatty(sys.stdout)
        self.width = shutil.get_terminal_size().columns if tty else None

    def print(self, text: str = "") -> None:
        """Write one line."""
        self.stream.write(text + "\n")

    def lines(self, lines: Sequence[str]) -> None:
        """Write several lines."""
        for line in lines:
            self.print(line)

    def json(self, data: Any) -> None:
        """Write indented JSON."""
        self.print(json.dumps(data, ensure_ascii=False, indent=2))
