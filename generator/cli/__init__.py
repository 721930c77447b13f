"""The `cigen` command line: options -> typed values -> one call per command.

User mistakes (UserError, ProblemReport) print `path:line: code: message` lines and exit 2
with no traceback; anything else is a bug and shows its traceback. `python -m generator` and
the `cigen` console script are this one click group; commands load lazily (cli/app.py).
"""

from generator.cli.app import cli, main

__all__ = ["cli", "main"]
