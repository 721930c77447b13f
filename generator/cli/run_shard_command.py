"""run-shard: the shard runner the generated jobs call, from the package."""

from __future__ import annotations

import sys

import click


@click.command(
    "run-shard",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run_shard_command(args: tuple[str, ...]) -> None:
    """Run one CI shard's test files (cigen's runner).

    `run-shard [run] ARGS`: the runner generated jobs call as `.github/cigen/run_shard.py`
    (generator/shipped/run_shard.py, standard library only). `run-shard run --help` lists its options.
    """
    from generator.shipped.run_shard import main as run_shard_main

    forwarded = list(args) if args and args[0] in ("run", "-h", "--help") else ["run", *args]
    sys.exit(run_shard_main(forwarded))
