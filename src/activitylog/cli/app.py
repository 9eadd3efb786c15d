"""The ``activitylog`` parser built from the command modules, and ``main``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ActivityLogError, SchemaError, StoreError
from .base import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, PROG, CliError
from .options import ArgumentParser, Commands
from .outfile import STDOUT_NAME, OutputError, silence_stdout
from .terminal import Output
from .text import escape

#: The command modules of this package, in the order ``activitylog --help`` lists them. Each
#: defines ``register(commands: Commands)``; adding a command is adding its module's name here.
COMMANDS: list[str] = [
    "demo",
    "list",
    "categories",
    "export",
    "verify",
    "stats",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``activitylog`` command."""
    parser = ArgumentParser(
        prog=PROG,
        description="Read, export, verify and chart an activitylog database; or build a demo one.",
        epilog=f"Start with `{PROG} demo`, then follow the commands it suggests. "
        f"`{PROG} COMMAND --help` explains each command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=ArgumentParser)
    subparsers.required = True
    commands = Commands(subparsers)
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else EXIT_USAGE
    out = Output(args.color)
    try:
        code: int = args.handler(args, out)
        out.stream.flush()
        return code
    except OutputError as exc:
        if exc.name == STDOUT_NAME:
            silence_stdout()
        return exc.code if exc.broken_pipe else _fail(str(exc), exc.code)
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except StoreError as exc:
        return _fail(str(exc) or type(exc).__name__,
                     EXIT_USAGE if isinstance(exc, SchemaError) else EXIT_FAILED)
    except ActivityLogError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return EXIT_INTERRUPTED


def _fail(message: str, code: int) -> int:
    # Messages quote what the user typed and what the store holds: one line, inert.
    sys.stderr.write(f"{PROG}: error: {escape(message)}\n")
    return code
