"""The ``activitylog`` command line: build the demo, read, export, verify and chart a log.

Every reading command acts as an operator of the database: it reads an organization's log as
that organization's Owner would. Nothing but ``demo`` ever creates a database file.

Exit codes: 0 success, 1 verification found damage or the store failed, 2 a usage error (bad
arguments, a missing or foreign database, an unknown organization, category, time zone or
cursor), 130 interrupted.

Layout: one module per command (``demo``, ``list``, ``categories``, ``export``, ``verify``,
``stats``...), and the pieces they share: :mod:`.app` (the parser and ``main``), :mod:`.options`
(the parser class, shared options, the :class:`~.options.Commands` registrar), :mod:`.base`
(``CliError``, exit statuses), :mod:`.terminal` (color, width, progress, :class:`~.terminal.Output`),
:mod:`.tables`, :mod:`.database` (opening a ``--db``), :mod:`.filters` (the filter options and
their query), :mod:`.records` (entries as JSON, CSV and table rows), :mod:`.outfile`.

Adding a command ``NAME``:

1. write ``cli/NAME.py`` with ``register(commands)`` adding the command and its options, and a
   handler ``run(args, out) -> int`` (the exit status); for example::

       def register(commands: Commands) -> None:
           p = commands.add("NAME", "do something to a log", run,
                            parents=[database_option(), org_option()], epilog=EXAMPLES)
           p.add_argument("--flag", help="...")

       def run(args: argparse.Namespace, out: Output) -> int:
           with open_log(args.db) as log:
               ...
           return 0

   Import optional dependencies inside ``run`` so that ``activitylog --help`` never needs them;
   raise :class:`~.base.CliError` for a usage error (one line, exit 2);
2. add ``"NAME"`` to :data:`.app.COMMANDS` (one line).
"""

from __future__ import annotations

from .app import build_parser, main
from .records import CSV_COLUMNS, csv_row, entry_record

# The export formats are the same wherever entries leave the log (the web viewer too).
__all__ = ["CSV_COLUMNS", "build_parser", "csv_row", "entry_record", "main"]
