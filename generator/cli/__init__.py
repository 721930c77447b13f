"""The `cigen` command line: options -> typed values -> one call per command.

User mistakes (UserError, ProblemReport) print `path:line: code: message` lines and exit 2
with no traceback; anything else is a bug and shows its traceback. `python -m generator` and
the `cigen` console script are this one click group.
"""

from generator.cli import (  # noqa: F401  (each module registers its commands on `cli`)
    mem_commands,
    plan_commands,
    render_commands,
    rerun_commands,
    scan_commands,
    timing_commands,
)
from generator.cli.app import cli


def main() -> None:
    cli(prog_name="cigen")
