"""Where command output goes: standard output or an ``--output`` path, and its write errors.

What ``--output PATH`` does, by the kind of file PATH is (symbolic links are followed):

- missing: created through a temporary file in the same folder, renamed into place at the end;
- a regular file: replaced the same way, atomically, so a failed or interrupted export leaves
  it as it was (its permission bits are kept; hard links to it keep the old content);
- a FIFO or a character device (``/dev/null``, ``/dev/full``, a terminal): written to as it
  is, never replaced or truncated;
- ``-``: standard output;
- a directory, a block device, a socket, or a symbolic link to nothing: refused (exit 2).

A write error (a full disk, the file size limit, ``/dev/full``) ends the command with one line
and exit status 1, leaving no temporary file; a reader that went away (``| head``) ends it
silently with status 141, as a command killed by SIGPIPE does.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

from .base import EXIT_FAILED, EXIT_USAGE, CliError

#: The exit status of a command whose reader went away: 128 + SIGPIPE, as the shell reports.
EXIT_BROKEN_PIPE = 141
STDOUT_NAME = "standard output"


class OutputError(CliError):
    """Writing the output failed: one line (none for a closed pipe), exit 1 (141 for a pipe)."""

    def __init__(self, name: str, exc: OSError) -> None:
        self.broken_pipe = exc.errno == errno.EPIPE
        self.name = name
        reason = exc.strerror or type(exc).__name__
        super().__init__(f"cannot write {name}: {reason}",
                         EXIT_BROKEN_PIPE if self.broken_pipe else EXIT_FAILED)


class GuardedStream:
    """A text stream whose write errors become :class:`OutputError` naming where it writes."""

    def __init__(self, stream: IO[str], name: str) -> None:
        self.raw = stream
        self.name = name

    def write(self, text: str) -> int:
        """Write ``text``; raises :class:`OutputError` when the system refuses it."""
        try:
            return self.raw.write(text)
        except OSError as exc:
            raise OutputError(self.name, exc) from None

    def flush(self) -> None:
        """Flush buffered text; raises :class:`OutputError` when the system refuses it."""
        try:
            self.raw.flush()
        except OSError as exc:
            raise OutputError(self.name, exc) from None

    def isatty(self) -> bool:
        """Whether the stream is a terminal."""
        try:
            return self.raw.isatty()
        except (AttributeError, ValueError):
            return False


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null after stdout failed.

    The interpreter flushes ``sys.stdout`` at exit; without this, text still buffered there
    fails again and Python prints a traceback-like warning and exits 120.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a real file (tests capture it): nothing will be flushed to a descriptor
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class OutputFile:
    """The stream of an ``--output`` value, as a context manager (see the module's rules)."""

    def __init__(self, path: str | None, stdout: GuardedStream, *, bom: bool) -> None:
        self.path = None if path == "-" else path
        self.stdout = stdout
        self.bom = bom
        self._tmp: Path | None = None
        self._target: Path | None = None
        self._file: IO[str] | None = None

    @property
    def to_stdout(self) -> bool:
        """Whether the output is standard output."""
        return self.path is None

    def __enter__(self) -> GuardedStream:
        if self.path is None:
            reconfigure = getattr(self.stdout.raw, "reconfigure", None)
            if reconfigure is not None:
                # Exports are UTF-8 whatever the locale, with CSV's own line endings kept.
                reconfigure(encoding="utf-8", newline="")
            if self.bom:
                self.stdout.write("\ufeff")
            return self.stdout
        encoding = "utf-8-sig" if self.bom else "utf-8"
        fd = self._open(self.path)
        self._file = open(fd, "w", encoding=encoding, newline="")
        return GuardedStream(self._file, self.path)

    def _open(self, path: str) -> int:
        """A descriptor to write ``path`` through, following the module's rules."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            if os.path.islink(path):
                raise CliError(f"--output {path} is a symbolic link to a missing file; "
                               "give the file's own path") from None
            return self._temporary(Path(path), mode=None)
        except OSError as exc:
            raise CliError(f"cannot write {path}: {exc.strerror}") from None
        kind = info.st_mode
        if stat.S_ISREG(kind):
            return self._temporary(Path(os.path.realpath(path)), mode=stat.S_IMODE(kind))
        if stat.S_ISFIFO(kind) or stat.S_ISCHR(kind):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
            except OSError as exc:
                raise CliError(f"cannot write {path}: {exc.strerror}") from None
            if not stat.S_ISFIFO(os.fstat(fd).st_mode) and not stat.S_ISCHR(os.fstat(fd).st_mode):
                os.close(fd)  # replaced between the two looks: refuse rather than guess
                raise CliError(f"--output {path} changed while it was opened")
            return fd
        what = ("a directory" if stat.S_ISDIR(kind) else "a block device" if stat.S_ISBLK(kind)
                else "a socket" if stat.S_ISSOCK(kind) else "not a regular file")
        raise CliError(f"--output {path} is {what}; exports are written to a regular file, "
                       "a FIFO, a character device such as /dev/null, or - (standard output)",
                       EXIT_USAGE)

    def _temporary(self, target: Path, mode: int | None) -> int:
        try:
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".tmp")
        except OSError as exc:
            raise CliError(f"cannot write {self.path}: {exc.strerror}") from None
        self._tmp, self._target = Path(name), target
        # mkstemp makes the file 0600; give it what the replaced file had, or what open() gives.
        os.fchmod(fd, mode if mode is not None else 0o666 & ~_umask())
        return fd

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._file is None:
            self.stdout.flush()
            return
        failed = exc_type is not None
        error: OutputError | None = None
        if not failed:
            try:
                self._file.flush()
                if self._tmp is not None:
                    os.fsync(self._file.fileno())
            except OSError as problem:
                error, failed = OutputError(self.path or "", problem), True
        try:
            self._file.close()
        except OSError as problem:
            if not failed:
                error, failed = OutputError(self.path or "", problem), True
        if self._tmp is not None:
            if failed:
                self._tmp.unlink(missing_ok=True)
            else:
                os.replace(self._tmp, self._target or "")
        if error is not None:
            raise error


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
