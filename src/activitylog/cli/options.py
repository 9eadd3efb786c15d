"""Argument parsing: the parser class, the options commands share, and the command registrar."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from .outfile import STDOUT_NAME, OutputError
from .terminal import Output

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

#: What runs a command: its parsed arguments and where to write; returns the exit status.
Handler = Callable[[argparse.Namespace, Output], int]


class ArgumentParser(argparse.ArgumentParser):
    """Reports usage errors as one line plus a hint, exiting 2 like every usage error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        # argparse ignores write errors; help sent to a full disk or a closed pipe must not
        # end as a success, so they are reported like any other output's.
        if not message:
            return
        stream = file or sys.stderr
        to_stdout = stream is sys.stdout
        try:
            stream.write(message)
            if to_stdout:
                sys.stdout.flush()
        except OSError as exc:
            if to_stdout:
                raise OutputError(STDOUT_NAME, exc) from None


def color_options() -> ArgumentParser:
    """``--color``, which every command takes."""
    p = ArgumentParser(add_help=False)
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="color the output: on a terminal without NO_COLOR (auto, the "
                   "default), always, or never")
    return p


def database_option() -> ArgumentParser:
    """``--db PATH``, required: the database a reading command opens."""
    p = ArgumentParser(add_help=False)
    p.add_argument("--db", required=True, metavar="PATH",
                   help="the database file (it must exist; only `demo` creates one)")
    return p


def org_option() -> ArgumentParser:
    """``--org ORG``, required."""
    p = ArgumentParser(add_help=False)
    p.add_argument("--org", required=True, metavar="ORG", help="the organization id")
    return p


def format_option(choices: tuple[str, ...], default: str | None) -> ArgumentParser:
    """``--format``, one of ``choices``; required when there is no ``default``."""
    p = ArgumentParser(add_help=False)
    p.add_argument("--format", choices=choices, default=default, required=default is None,
                   help=f"output format ({', '.join(choices)})"
                   + (f"; default {default}" if default else ""))
    return p


class Commands:
    """Adds subcommands to the ``activitylog`` parser; each command module's ``register`` uses it."""

    def __init__(self, subparsers: argparse._SubParsersAction[ArgumentParser]) -> None:
        self._subparsers = subparsers

    def add(
        self,
        name: str,
        help: str,
        handler: Handler,
        *,
        parents: Sequence[ArgumentParser] = (),
        epilog: str | None = None,
    ) -> ArgumentParser:
        """A subcommand ``name`` running ``handler``, with the shared ``parents`` options.

        ``help`` is a lowercase phrase (shown in ``activitylog --help``); ``epilog`` shows
        examples under the command's own ``--help``.
        """
        parser = self._subparsers.add_parser(
            name, help=help, description=help[0].upper() + help[1:] + ".",
            parents=[*parents, color_options()], epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.set_defaults(handler=handler)
        return parser
