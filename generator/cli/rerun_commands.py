"""rerun: the /rerun-test comment command's steps."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime
from pathlib import Path

import click

from generator.cli.common import github_client, github_options, input_options, reports_user_errors
from generator.errors import ProblemReport, UserError
from generator.pipeline import read_inputs
from generator.rerun.budget import planned_seconds
from generator.rerun.gate import (
    CommentEvent,
    GateResult,
    Setup,
    format_duration,
    is_command,
    jobs_text,
    parse_time,
    resolve_head,
    run_gate,
    run_report,
)
from generator.rerun.parse import (
    MAX_COMMENT_CHARS,
    Registry,
    RerunRejected,
    Target,
    parse_comment,
    problems_of,
    registry_from_scan,
)
from generator.rerun.policy import DEFAULT_POLICY_PATH, authorize, load_policy
from generator.shipped.plan_file import PLAN_PATH
from generator.shipped.step_files import StepFileError, append_summary, write_lines

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
        raise UserError(
            "comment", 1, "not-utf8", f"the comment is not UTF-8 text: {error.reason} at byte {error.start}"
        ) from None


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
        "--server-url",
        envvar="GITHUB_SERVER_URL",
        default="https://github.com",
        show_default=True,
        help="($GITHUB_SERVER_URL)",
    )(command)
    return command


def comment_time(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        message = f"COMMENT_CREATED_AT is not an ISO 8601 time with a timezone: {text!r}"
        raise UserError("", 0, "bad-time", message) from None


def comment_event(
    repo: str,
    pr: int,
    comment_id: int,
    author: str,
    commented_at: str,
    run_id: int,
    server_url: str,
    body: str = "",
    author_id: int = 0,
    association: str = "",
    run_attempt: int = 1,
) -> CommentEvent:
    run_url = f"{server_url.rstrip('/')}/{repo}/actions/runs/{run_id}"
    return CommentEvent(
        repo,
        pr,
        comment_id,
        author,
        author_id,
        comment_time(commented_at),
        body,
        run_url,
        association,
        run_id,
        run_attempt,
    )


def rerun_registry(root: Path, config, scan) -> Registry:
    """The registry of the tree, with the planned seconds of its plan file where it has one."""
    return registry_from_scan(config, scan, planned_seconds(root / PLAN_PATH))


def write_outputs(path: Path, outputs: dict[str, str]) -> None:
    """$GITHUB_OUTPUT through the one checked writer; a value that is not one line is a UserError."""
    try:
        write_lines(path, outputs)
    except StepFileError as error:
        raise UserError(str(path), 0, "bad-output", str(error)) from None


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
@POLICY
@click.option("--from-env", "env_name", metavar="NAME", help="Read the comment from $NAME instead of stdin.")
@click.option(
    "--changed-file",
    "changed",
    multiple=True,
    metavar="PATH",
    help="A file the pull request changes, for --changed (repeatable; the workflow reads them from the API).",
)
@reports_user_errors
def rerun_parse(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    policy_path: Path,
    env_name: str | None,
    changed: tuple[str, ...],
) -> None:
    """Validate a /rerun-test comment (stdin) against the scanned tree; JSON out, exit 2 if rejected."""
    body = read_comment(env_name)
    inputs = read_inputs(root, config_path, not no_cache)
    limits = load_policy(policy_path).limits
    registry = rerun_registry(root, inputs.config, inputs.scan)
    try:
        request = parse_comment(body, registry, root, limits, changed or None)
    except RerunRejected as rejected:
        click.echo(json.dumps({"accepted": False, "code": rejected.code, "reason": rejected.reason}, indent=2))
        raise ProblemReport(problems_of(rejected), "rejected: nothing runs.") from None
    click.echo(json.dumps(request.to_json(), indent=2))


@rerun.command("authorize")
@github_options
@POLICY
@click.option("--user", envvar="COMMENT_AUTHOR", required=True, help="GitHub login to check ($COMMENT_AUTHOR).")
@click.option(
    "--user-id", envvar="COMMENT_AUTHOR_ID", type=click.IntRange(1), required=True, help="Its id ($COMMENT_AUTHOR_ID)."
)
@reports_user_errors
def rerun_authorize(repo: str, api_url: str, policy_path: Path, user: str, user_id: int) -> None:
    """Check live whether a user may run /rerun-test under the policy; exit 2 if not."""
    verdict = authorize(load_policy(policy_path), github_client(repo, api_url), user, user_id)
    click.echo(json.dumps({"allowed": verdict.allowed, "reason": verdict.reason}, indent=2))
    if not verdict.allowed:
        raise UserError(str(policy_path), 0, "not-allowed", verdict.reason)


@rerun.command("head")
@github_options
@POLICY
@click.option(
    "--pr", envvar="PR_NUMBER", type=click.IntRange(1), required=True, help="Pull request number ($PR_NUMBER)."
)
@click.option(
    "--commented-at", envvar="COMMENT_CREATED_AT", required=True, help="The comment's created_at ($COMMENT_CREATED_AT)."
)
@click.option("--pin", help="The full 40-hex SHA of the commit the comment names, if any.")
@reports_user_errors
def rerun_head(repo: str, api_url: str, policy_path: Path, pr: int, commented_at: str, pin: str | None) -> None:
    """Print the PR head SHA if it is provably what the commenter saw; exit 2 if it moved."""
    if pin is not None and not re.fullmatch(r"[0-9a-fA-F]{40}", pin):
        raise UserError("--pin", 0, "short-pin", "give the full 40-hex-digit commit SHA")
    github = github_client(repo, api_url)
    try:
        head, sha = resolve_head(
            github, repo, pr, pin.lower() if pin else None, comment_time(commented_at), load_policy(policy_path)
        )
    except RerunRejected as rejected:
        raise ProblemReport(problems_of(rejected), "the head commit cannot be pinned.") from None
    click.echo(json.dumps({"head_sha": sha, "head_repo": head.repo, "fork": head.fork}, indent=2))


@rerun.command("gate")
@input_options
@github_options
@POLICY
@event_options
@click.option(
    "--author-id", envvar="COMMENT_AUTHOR_ID", type=click.IntRange(1), required=True, help="($COMMENT_AUTHOR_ID)"
)
@click.option(
    "--author-association",
    envvar="COMMENT_AUTHOR_ASSOCIATION",
    required=True,
    help="The commenter's author_association ($COMMENT_AUTHOR_ASSOCIATION); NONE, FIRST_TIMER, ... are refused.",
)
@click.option(
    "--run-attempt",
    envvar="GITHUB_RUN_ATTEMPT",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="($GITHUB_RUN_ATTEMPT) a re-run of a request is refused.",
)
@click.option(
    "--body-env",
    default="COMMENT_BODY",
    show_default=True,
    metavar="NAME",
    help="Environment variable holding the comment.",
)
@click.option(
    "--output",
    "output_path",
    envvar="GITHUB_OUTPUT",
    type=click.Path(dir_okay=False, path_type=Path),
    help="($GITHUB_OUTPUT)",
)
@click.option(
    "--summary",
    "summary_path",
    envvar="GITHUB_STEP_SUMMARY",
    type=click.Path(dir_okay=False, path_type=Path),
    help="($GITHUB_STEP_SUMMARY)",
)
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
    author_id: int,
    author_association: str,
    run_attempt: int,
    body_env: str,
    output_path: Path | None,
    summary_path: Path | None,
) -> None:
    """The workflow's gate step: command, authorize, parse, pin the head, budgets, answer; writes step outputs.

    A refused request exits 0 after answering, with accepted=false; only a failure to answer exits 2
    (accepted=false is written first either way)."""
    body = read_comment(body_env)
    event = comment_event(
        repo,
        pr,
        comment_id,
        author,
        commented_at,
        run_id,
        server_url,
        body,
        author_id,
        author_association,
        run_attempt,
    )
    result = GateResult(False, "the gate did not finish")
    try:
        if not is_command(event.body):  # case-sensitive, before anything is read or any API call
            result = GateResult(False, "ignored: the comment does not start with /rerun-test (case-sensitive)")
        else:
            inputs = read_inputs(root, config_path, not no_cache)
            registry = rerun_registry(root, inputs.config, inputs.scan)
            workflow = inputs.config.workflows.file_name("rerun-test")
            setup = Setup(load_policy(policy_path), registry, workflow)
            result = run_gate(event, setup, str(root), github_client(repo, api_url))
    finally:
        if output_path is not None:
            write_outputs(output_path, result.outputs())
    if result.accepted:
        line = f"accepted: {jobs_text(result.request.jobs)} at {result.head_sha}"
    else:
        line = f"rejected: {result.reason}"
    click.echo(line)
    if summary_path is not None:
        detail = line if result.accepted else "rejected:\n\n```text\n" + result.reason.replace("`", "'") + "\n```"
        append_summary(summary_path, f"/rerun-test {detail}\n")


@rerun.command("report")
@github_options
@event_options
@click.option(
    "--run-attempt",
    envvar="GITHUB_RUN_ATTEMPT",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="($GITHUB_RUN_ATTEMPT)",
)
@click.option("--head-sha", envvar="HEAD_SHA", required=True, help="The commit the gate pinned ($HEAD_SHA).")
@click.option(
    "--targets", "targets_json", envvar="TARGETS", required=True, help="The gate's targets output ($TARGETS)."
)
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
    event = comment_event(repo, pr, comment_id, author, commented_at, run_id, server_url, run_attempt=run_attempt)
    try:
        targets = [Target.from_json(t) for job_targets in json.loads(targets_json).values() for t in job_targets]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError("", 0, "bad-targets", "TARGETS is not the gate's targets output") from None
    reply = int(reply_id) if reply_id.isdigit() else None
    results = run_report(github_client(repo, api_url), targets, head_sha, event, reply)
    for result in results:
        click.echo(
            f"{result.target.selector} ({result.target.pool}): {result.words}, {format_duration(result.seconds)}"
        )
