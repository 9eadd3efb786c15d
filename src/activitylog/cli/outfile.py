"""The stream an export writes to: a file given by ``--output``, or standard output."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TextIO

from .base import CliError
from .terminal import Output


class OutputStream:
    """A UTF-8 text stream to ``path`` (written to a temporary file, then renamed) or stdout."""

    def __init__(self, path: str | None, out: Output, *, bom: bool) -> None:
        self.path = path
        self.out = out
        self.bom = bom
        self._tmp: Path | None = None
        self._stream: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.path is None:
            stream = self.out.stream
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                # Exports are UTF-8 whatever the locale, with CSV's own line endings kept.
                reconfigure(encoding="utf-8", newline="")
            if self.bom:
                stream.write("\ufeff")
            self._stream = stream
            return stream
        target = Path(self.path)
        if target.is_dir():
            raise CliError(f"--output {self.path} is a directory")
        try:
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        except OSError as exc:
            raise CliError(f"cannot write {self.path}: {exc.strerror}") from None
        self._tmp = Path(name)
        encoding = "utf-8-sig" if self.bom else "utf-8"
        self._stream = open(fd, "w", encoding=encoding, newline="")
        return self._stream

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._stream is not None
        if self._tmp is None:
            self._stream.flush()
            return
        self._stream.close()
        if exc_type is None:
            os.chmod(self._tmp, 0o666 & ~_umask())  # what open() would have given it
            os.replace(self._tmp, Path(self.path or ""))
        else:
            self._tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
