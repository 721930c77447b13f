"""audit: the repository's Actions settings that cigen's workflows rely on, ok or risky."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from generator.cli.common import FORMAT, format_table, github_client, github_options, reports_user_errors
from generator.errors import EXIT_DRIFT, plural


@click.command("audit")
@github_options
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="cigen.yml (default: ROOT/cigen.yml): whose actions the workflows use.",
)
@FORMAT
@reports_user_errors
def audit_command(repo: str, api_url: str, root: Path, config_path: Path | None, fmt: str) -> None:
    """Check the repository's Actions settings cigen's workflows rely on; exit 1 when any is risky.

    Reads, with a repository admin's token from $GITHUB_TOKEN (never from the command line): the
    fork pull-request approval policy, the default GITHUB_TOKEN permissions, whether Actions may
    approve pull requests, the allowed actions (each pattern judged by what it matches: no wildcard
    owner; an exact owner/repo@<sha>, or any action of an owner the workflows use), and whether
    actions must be pinned to a full SHA. A setting that cannot be read is unknown, and risky.
    Exit 2 on an API error."""
    from generator.audit import action_owners, audit_repository  # the API client: only when the command runs
    from generator.config import load_config

    owners = action_owners(load_config(config_path, root))
    findings = audit_repository(github_client(repo, api_url), owners)
    risky = [finding for finding in findings if not finding.ok]
    if fmt == "json":
        document = {"repo": repo, "risky": len(risky), "settings": [f.to_json() for f in findings]}
        click.echo(json.dumps(document, indent=2))
    else:
        rows = [(f.setting, f.value, f.verdict, "-" if f.ok else f.fix) for f in findings]
        click.echo(format_table(("setting", "value", "verdict", "fix"), rows))
        verdict = f"{plural(len(risky), 'risky setting')} in" if risky else "every setting checked is ok in"
        click.echo(f"\n{verdict} {repo}; SECURITY.md says why each matters.")
    if risky:
        sys.exit(EXIT_DRIFT)
