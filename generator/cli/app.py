"""The `cigen` click group. Commands are imported only when they run, so `cigen --help` and
`cigen scan` do not pay for the libraries of commands they do not use (jinja2, urllib, ...)."""

from __future__ import annotations

import gc
import importlib
from dataclasses import dataclass

import click

from generator import __version__


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives, and its one-line help for `cigen --help` (tests check they agree)."""

    module: str
    attribute: str
    short_help: str


COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        "generator.cli.init_commands",
        "init_command",
        "Write a starter cigen.yml (never over an existing one) and print the next steps.",
    ),
    "scan": LazyCommand(
        "generator.cli.scan_commands", "scan", "List every CI registration in the tree (parsed, never imported)."
    ),
    "lint": LazyCommand(
        "generator.cli.scan_commands",
        "lint_command",
        "Check registrations against the config: every finding, one verdict each.",
    ),
    "plan": LazyCommand(
        "generator.cli.plan_commands",
        "plan_command",
        "Split every suite into time-balanced shards: pools, shard counts, files, cost.",
    ),
    "render": LazyCommand(
        "generator.cli.render_commands", "render", "Write the CI workflows from the tests and the config."
    ),
    "check": LazyCommand(
        "generator.cli.render_commands", "check", "Fail with a diff when the generated files are stale."
    ),
    "run-shard": LazyCommand(
        "generator.cli.run_shard_command",
        "run_shard_command",
        "Run one CI shard's test files (cigen's runner).",
    ),
    "timings": LazyCommand(
        "generator.cli.timing_commands",
        "timings",
        "Measured timings: calibrate a timings file; the timings loop's fetch and propose steps.",
    ),
    "mem": LazyCommand(
        "generator.cli.mem_commands",
        "mem_command",
        "GPU-memory advisor: does a model test fit a GPU, at which mem-fraction?",
    ),
    "rerun": LazyCommand("generator.cli.rerun_commands", "rerun", "/rerun-test PR comments: parse, check, report."),
    "health": LazyCommand(
        "generator.cli.health_commands",
        "health_command",
        "Runner and pool health from shard results; exit 1 when a runner is above the infra rate.",
    ),
    "runner-hook": LazyCommand(
        "generator.cli.health_commands",
        "runner_hook_command",
        "Print the job-started hook script for a pool's runners (health probes, drain), from cigen.yml.",
    ),
    "audit": LazyCommand(
        "generator.cli.audit_commands",
        "audit_command",
        "Check the repository's Actions settings cigen's workflows rely on; exit 1 when any is risky.",
    ),
}

MOVED = {"calibrate": "timings calibrate"}  # old command -> where it lives now


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None and name in MOVED:
            click.echo(f"Error: `cigen {name}` is now `cigen {MOVED[name]}`", err=True)
            ctx.exit(2)
        if entry is None:
            return None
        return getattr(importlib.import_module(entry.module), entry.attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, entry.short_help) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "terminal_width": 100},
)
@click.version_option(__version__, prog_name="cigen")
def cli() -> None:
    """Plan and generate GitHub Actions CI for GPU-heavy Python test suites."""


# The cyclic garbage collector's first generation runs every 700 allocations by default. A
# command builds tens of thousands of objects in a fraction of a second and frees them at exit,
# with almost no cycles among them: collecting 100 times less often saves a warm `scan` about
# 5 ms and a warm `check` about 10 (mypy raises its threshold for the same reason).
GC_THRESHOLD = (70_000, 10, 10)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLD)
    cli(prog_name="cigen")
