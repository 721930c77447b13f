"""The `cigen` click group; each command module adds its commands to it."""

from __future__ import annotations

import click

from generator import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "terminal_width": 100})
@click.version_option(__version__, prog_name="cigen")
def cli() -> None:
    """Plan and generate GitHub Actions CI for GPU-heavy Python test suites."""


