"""The ``activitylog`` parser built from the command modules, and ``main``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ActivityLogError, SchemaError, StoreError
from .base import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG, CliError
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
    "serve",
    "copy",
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


def dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--option -value`` written ``--option=-value`` where -value is no option.

    argparse reads any word starting with "-" as an option, so ``--search -deleted`` would be
    an error; a word that is not one of the command line's options is the option's value.
    """
    takes_value: set[str] = set()
    known: set[str] = set()
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        for action in current._actions:
            known.update(action.option_strings)
            if action.option_strings and action.nargs is None and action.const is None:
                takes_value.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            out.append(word)
            out.extend(words)
            break
        if word in takes_value:
            value = next(words, None)
            if value is None:
                out.append(word)
            elif value.startswith("-") and value != "-" and value.split("=", 1)[0] not in known:
                out.append(f"{word}={value}")
            else:
                out.extend((word, value))
            continue
        out.append(word)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        try:
            if not words:  # bare `activitylog`: what it can do
                parser.print_help()
                return EXIT_OK
            args = parser.parse_args(dash_values(parser, words))
        except SystemExit as exc:  # --help, --version and usage errors
            return (exc.code if isinstance(exc.code, int)
                    else EXIT_OK if exc.code is None else EXIT_USAGE)
        finally:
            sys.stdout.flush()
    except OutputError as exc:  # help or version written to a closed or full standard output
        return _output_failed(exc)
    except OSError as exc:
        return _output_failed(OutputError(STDOUT_NAME, exc))
    out = Output(args.color)
    try:
        code: int = args.handler(args, out)
        out.stream.flush()
        return code
    except OutputError as exc:
        return _output_failed(exc)
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


def _output_failed(exc: OutputError) -> int:
    if exc.name == STDOUT_NAME:
        silence_stdout()
    return exc.code if exc.broken_pipe else _fail(str(exc), exc.code)


def _fail(message: str, code: int) -> int:
    # Messages quote what the user typed and what the store holds: one line, inert.
    sys.stderr.write(f"{PROG}: error: {escape(message)}\n")
    return code
