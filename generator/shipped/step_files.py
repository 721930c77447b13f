"""What a GitHub Actions step hands back to the runner: $GITHUB_OUTPUT, $GITHUB_ENV, job-log lines.

The runner reads those files as `name=value` lines, so a value holding a line break adds lines
of its own (`x<LF>result=passed` sets `result`), and a job-log line starting `::` is a workflow
command. Every write goes through here: names must be plain, values one line (no control
character but tab, no Unicode line separator), and all of a step's values are checked before
any is written. Standard library only (generator/shipped/): action.py and the shipped programs
run under whatever Python the runner has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,99}\Z")
_BREAKS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


class StepFileError(ValueError):
    """A name or value that cannot be written as one `name=value` line."""


def check_line(name: str, value: str) -> str:
    """`name=value`, or StepFileError when either would not stay one plain line."""
    if not _NAME.match(name):
        raise StepFileError(f"{name!r} is not a plain output name")
    found = _BREAKS.search(value)
    if found:
        raise StepFileError(
            f"{name}: the value holds {found.group()!r}, which would start a line of its own"
        )
    return f"{name}={value}"


def write_lines(path: Path | str, values: Mapping[str, str]) -> list[str]:
    """Append `name=value` lines to $GITHUB_OUTPUT or $GITHUB_ENV; all checked before any is written."""
    lines = [check_line(name, value) for name, value in values.items()]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return lines


def one_line(text: str) -> str:
    """`text` with every line break and control character shown as an escape (`\\n`), for a
    job-log line or a table cell that must stay one line."""
    return _BREAKS.sub(
        lambda match: match.group().encode("unicode_escape").decode("ascii"), text
    )


def append_summary(path: Path | str, markdown: str) -> None:
    """Append to the step summary; callers pass input-derived values through `one_line`."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown)
