"""rerun: the /rerun-test comment command's steps."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

import click

from generator.cli.common import input_options, reports_user_errors
from generator.errors import ProblemReport, UserError, plural
from generator.pipeline import read_inputs
from generator.rerun.gate import (
    CommentEvent,
    format_duration,
    parse_time,
    resolve_head,
    run_gate,
    run_report,
    write_outputs,
)
from generator.rerun.github import DEFAULT_API_URL, GitHub
from generator.rerun.parse import (
    DEFAULT_MAX_SELECTORS,
    MAX_COMMENT_CHARS,
    RerunIndex,
    RerunRejected,
    Target,
    parse_comment,
)
from generator.rerun.policy import DEFAULT_POLICY_PATH, authorize, load_policy

# /rerun-test ------------------------------------------------------------------------------


def read_comment(env_name: str | None) -> str:
    """The comment from $env_name or stdin (bounded), never from argv."""
    if env_name is not None:
        if env_name not in os.environ:
            raise UserError(f"${env_name}", 0, "no-comment", "the environment variable is not set")
        return os.environ[env_name]
    data = sys.stdin.buffer.read(MAX_COMMENT_CHARS * 4 + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError("comment", 1, "not-utf8", f"the comment is not UTF-8 text: {error.reason} at byte {error.start}") from None


def github_client(repo: str, api_url: str) -> GitHub:
    """A client whose token comes from $GITHUB_TOKEN only (never from the command line)."""
    return GitHub(repo=repo, token=os.environ.get("GITHUB_TOKEN", ""), api_url=api_url)


def github_options(command):
    """--repo and --api-url, defaulting to what GitHub Actions sets."""
    command = click.option(
        "--api-url", envvar="GITHUB_API_URL", default=DEFAULT_API_URL, show_default=True, help="GitHub REST API root ($GITHUB_API_URL)."
    )(command)
    command = click.option("--repo", envvar="GITHUB_REPOSITORY", required=True, help="owner/name ($GITHUB_REPOSITORY).")(command)
    return command


def event_options(command):
    """The comment event's fields, from the env: the workflow passes them so."""
    for name, envvar, kind, help in reversed(
        [
            ("--pr", "PR_NUMBER", click.IntRange(1), "Pull request number ($PR_NUMBER)."),
            ("--comment-id", "COMMENT_ID", click.IntRange(1), "The comment's id ($COMMENT_ID)."),
            ("--author", "COMMENT_AUTHOR", str, "The comment author's login ($COMMENT_AUTHOR)."),
            ("--commented-at", "COMMENT_CREATED_AT", str, "The comment's created_at ($COMMENT_CREATED_AT)."),
            ("--run-id", "GITHUB_RUN_ID", click.IntRange(1), "This workflow run ($GITHUB_RUN_ID)."),
        ]
    ):
        command = click.option(name, envvar=envvar, type=kind, required=True, help=help)(command)
    command = click.option(
        "--server-url", envvar="GITHUB_SERVER_URL", default="https://github.com", show_default=True, help="($GITHUB_SERVER_URL)"
    )(command)
    return command


def comment_time(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise UserError("", 0, "bad-time", f"COMMENT_CREATED_AT is not an ISO 8601 time: {text!r}") from None


def comment_event(
    repo: str,
    pr: int,
    comment_id: int,
    author: str,
    commented_at: str,
    run_id: int,
    server_url: str,
    body: str = "",
    author_id: int | None = None,
) -> CommentEvent:
    run_url = f"{server_url.rstrip('/')}/{repo}/actions/runs/{run_id}"
    return CommentEvent(repo, pr, comment_id, author, author_id, comment_time(commented_at), body, run_url)


POLICY = click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(DEFAULT_POLICY_PATH),
    show_default=True,
    help="The /rerun-test policy file; the default policy applies when it does not exist.",
)


@click.group("rerun")
def rerun() -> None:
    """/rerun-test PR comments: parse, check, report."""


@rerun.command("parse")
@input_options
@click.option("--from-env", "env_name", metavar="NAME", help="Read the comment from $NAME instead of stdin.")
@click.option("--max-selectors", type=click.IntRange(1, 32), default=DEFAULT_MAX_SELECTORS, show_default=True, help="Most selectors allowed.")
@reports_user_errors
def rerun_parse(root: Path, config_path: Path | None, no_cache: bool, env_name: str | None, max_selectors: int) -> None:
    """Validate a /rerun-test comment (stdin) against the scanned tree; JSON out, exit 2 if rejected."""
    body = read_comment(env_name)
    inputs = read_inputs(root, config_path, not no_cache)
    try:
        request = parse_comment(body, RerunIndex.from_scan(inputs.scan), inputs.config, max_selectors)
    except RerunRejected as rejected:
        click.echo(json.dumps({"accepted": False, "code": rejected.code, "reason": rejected.reason}, indent=2))
        raise ProblemReport(list(rejected.problems), "rejected: nothing runs.") from None
    click.echo(json.dumps(request.to_json(), indent=2))


@rerun.command("authorize")
@github_options
@POLICY
@click.option("--user", envvar="COMMENT_AUTHOR", required=True, help="GitHub login to check ($COMMENT_AUTHOR).")
@click.option("--user-id", envvar="COMMENT_AUTHOR_ID", type=click.IntRange(1), help="Its numeric id, cross-checked ($COMMENT_AUTHOR_ID).")
@reports_user_errors
def rerun_authorize(repo: str, api_url: str, policy_path: Path, user: str, user_id: int | None) -> None:
    """Check live whether a user may run /rerun-test under the policy; exit 2 if not."""
    verdict = authorize(load_policy(policy_path), github_client(repo, api_url), user, user_id)
    click.echo(json.dumps({"allowed": verdict.allowed, "reason": verdict.reason}, indent=2))
    if not verdict.allowed:
        raise UserError(str(policy_path), 0, "not-allowed", verdict.reason)


@rerun.command("head")
@github_options
@POLICY
@click.option("--pr", envvar="PR_NUMBER", type=click.IntRange(1), required=True, help="Pull request number ($PR_NUMBER).")
@click.option("--commented-at", envvar="COMMENT_CREATED_AT", required=True, help="The comment's created_at ($COMMENT_CREATED_AT).")
@click.option("--pin", help="Hex prefix of the commit the comment names, if any.")
@reports_user_errors
def rerun_head(repo: str, api_url: str, policy_path: Path, pr: int, commented_at: str, pin: str | None) -> None:
    """Print the PR head SHA if it is provably what the commenter saw; exit 2 if it moved."""
    github = github_client(repo, api_url)
    try:
        head, sha = resolve_head(github, repo, pr, pin.lower() if pin else None, comment_time(commented_at), load_policy(policy_path))
    except RerunRejected as rejected:
        raise ProblemReport(list(rejected.problems), "the head commit cannot be pinned.") from None
    click.echo(json.dumps({"head_sha": sha, "head_repo": head.repo, "fork": head.fork}, indent=2))


@rerun.command("gate")
@input_options
@github_options
@POLICY
@event_options
@click.option("--author-id", envvar="COMMENT_AUTHOR_ID", type=click.IntRange(1), help="($COMMENT_AUTHOR_ID)")
@click.option("--body-env", default="COMMENT_BODY", show_default=True, metavar="NAME", help="Environment variable holding the comment.")
@click.option("--output", "output_path", envvar="GITHUB_OUTPUT", type=click.Path(dir_okay=False, path_type=Path), help="($GITHUB_OUTPUT)")
@click.option("--summary", "summary_path", envvar="GITHUB_STEP_SUMMARY", type=click.Path(dir_okay=False, path_type=Path), help="($GITHUB_STEP_SUMMARY)")
@reports_user_errors
def rerun_gate(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    repo: str,
    api_url: str,
    policy_path: Path,
    pr: int,
    comment_id: int,
    author: str,
    commented_at: str,
    run_id: int,
    server_url: str,
    author_id: int | None,
    body_env: str,
    output_path: Path | None,
    summary_path: Path | None,
) -> None:
    """The workflow's gate step: authorize, parse, pin the head, answer; writes step outputs."""
    event = comment_event(repo, pr, comment_id, author, commented_at, run_id, server_url, read_comment(body_env), author_id)
    inputs = read_inputs(root, config_path, not no_cache)
    result = run_gate(event, RerunIndex.from_scan(inputs.scan), inputs.config, load_policy(policy_path), github_client(repo, api_url))
    line = f"accepted: {plural(len(result.request.targets), 'test run')} at {result.head_sha}" if result.accepted else f"rejected: {result.reason}"
    click.echo(line)
    if output_path is not None:
        write_outputs(output_path, result.outputs())
    if summary_path is not None:
        with summary_path.open("a", encoding="utf-8") as summary:
            summary.write(f"/rerun-test {line}\n")


@rerun.command("report")
@github_options
@event_options
@click.option("--run-attempt", envvar="GITHUB_RUN_ATTEMPT", type=click.IntRange(1), default=1, show_default=True, help="($GITHUB_RUN_ATTEMPT)")
@click.option("--head-sha", envvar="HEAD_SHA", required=True, help="The commit the gate pinned ($HEAD_SHA).")
@click.option("--targets", "targets_json", envvar="TARGETS", required=True, help="The gate's targets output ($TARGETS).")
@click.option("--reply-id", envvar="REPLY_ID", default="", help="The gate's answer comment to update ($REPLY_ID).")
@reports_user_errors
def rerun_report(
    repo: str,
    api_url: str,
    pr: int,
    comment_id: int,
    author: str,
    commented_at: str,
    run_id: int,
    server_url: str,
    run_attempt: int,
    head_sha: str,
    targets_json: str,
    reply_id: str,
) -> None:
    """The workflow's report step: test outcomes -> commit statuses, the answer, a reaction."""
    event = comment_event(repo, pr, comment_id, author, commented_at, run_id, server_url)
    try:
        targets = [Target.from_json(t) for pool_targets in json.loads(targets_json).values() for t in pool_targets]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError("", 0, "bad-targets", "TARGETS is not the gate's targets output") from None
    reply = int(reply_id) if reply_id.isdigit() else None
    results = run_report(github_client(repo, api_url), targets, head_sha, event, reply, run_id, run_attempt)
    for result in results:
        click.echo(f"{result.target.selector} ({result.target.pool}): {result.words}, {format_duration(result.seconds)}")


