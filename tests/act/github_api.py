"""Every GitHub API route the generated workflows call, served by FakeGitHub for an act run.

One helper, `serve_github`, so a new call is one more route here. The per-commit gate reads the
pull request live; the /rerun-test gate reads the commenter's permission, the pull request, its
branch's push log and the repository's recent comments (the budget counts its own earlier
answers), then reacts, answers and sets commit statuses; the report reads the run's jobs, sets
statuses, updates the answer, reacts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.act.fixture import DEFAULT_BRANCH, REPOSITORY
from tests.support.rerun import FakeGitHub, Recorded, serve_runs

REPLY_ID = 555  # the id of the gate's answer comment
RUN_ID = 1  # act's GITHUB_RUN_ID
STARTED, COMPLETED = "2026-07-20T10:02:00Z", "2026-07-20T10:03:05Z"  # every test job's step, as the fake reports it


@dataclass(frozen=True)
class PullState:
    """The pull request as the API tells it now (labels and draft state may differ from the event's)."""

    number: int
    head_sha: str
    base_sha: str
    branch: str = "feature"
    labels: tuple[str, ...] = ()
    draft: bool = False
    pushed_at: str = "2026-07-20T09:58:00Z"  # when its head was pushed (the branch's activity log)

    def as_json(self) -> dict:
        repo = {"id": 1, "full_name": REPOSITORY}
        return {
            "number": self.number,
            "state": "open",
            "draft": self.draft,
            "labels": [{"name": name} for name in self.labels],
            "head": {"sha": self.head_sha, "ref": self.branch, "repo": repo},
            "base": {"sha": self.base_sha, "ref": DEFAULT_BRANCH, "repo": repo},
        }


def permission(login: str, role: str) -> dict:
    """The collaborator-permission answer for `login` (id 7, as the fixture's comments say)."""
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    return {"permission": legacy, "role_name": role, "user": {"login": login, "id": 7}}


def run_jobs(records: Path) -> dict:
    """The run's /rerun-test jobs as GitHub would list them, from what the recording files wrote: one
    job per test run (named `pool: selector`, as the workflow names it), concluded by its behaviour."""
    jobs = []
    lines = records.read_text().splitlines() if records.is_file() else []
    for entry in map(json.loads, lines):
        if entry["kind"] != "test" or not entry["job"].startswith("run-"):
            continue
        selector = entry["file"] + (f"::{entry['argv'][1]}" if len(entry["argv"]) > 1 else "")
        passed = entry["behavior"] in ("pass", "server")
        jobs.append(
            {
                "name": f"{entry['job'].removeprefix('run-')}: {selector}",
                "conclusion": "success" if passed else "failure",
                "started_at": STARTED,
                "completed_at": COMPLETED,
                "html_url": f"https://github.com/{REPOSITORY}/actions/runs/{RUN_ID}/job/{entry['job']}",
                "steps": [{"name": "Run the test", "started_at": STARTED, "completed_at": COMPLETED}],
            }
        )
    return {"total_count": len(jobs), "jobs": jobs}


def bot_answer(issue: int, jobs: int, gpu_minutes: int, created_at: str) -> dict:
    """An earlier answer of the /rerun-test gate as the comments API lists it: what the budget counts."""
    body = f"<!-- cigen:rerun-test jobs={jobs} gpu-minutes={gpu_minutes} -->\nearlier request"
    return {
        "id": 400 + issue,
        "issue_url": f"https://api.github.com/repos/{REPOSITORY}/issues/{issue}",
        "user": {"login": "github-actions[bot]", "type": "Bot"},
        "created_at": created_at,
        "body": body,
    }


def serve_github(
    api: FakeGitHub,
    pull: PullState,
    roles: Mapping[str, str] | None = None,
    records: Path | None = None,
    comment_id: int = 101,
    earlier: Sequence[dict] = (),
) -> FakeGitHub:
    """Answer every call the workflows make about `pull`: `roles` gives each login's permission
    (others are unknown to GitHub: 404), `records` the act run's records file (the run's jobs),
    `earlier` the repository's comments of the last day (e.g. `bot_answer`s)."""
    base = f"/repos/{REPOSITORY}"
    api.on("GET", f"{base}/pulls/{pull.number}", pull.as_json())
    for login, role in (roles or {}).items():
        api.on("GET", f"{base}/collaborators/{login}/permission", permission(login, role))
    pushes = [
        {
            "before": pull.base_sha,
            "after": pull.head_sha,
            "ref": f"refs/heads/{pull.branch}",
            "timestamp": pull.pushed_at,
            "activity_type": "push",
        }
    ]
    api.on("GET", f"{base}/activity", pushes)
    api.on("GET", f"{base}/issues/comments", list(earlier))  # what the budget counts
    api.on("POST", f"{base}/issues/comments/{comment_id}/reactions", {"content": "ok"}, status=201)
    api.on("POST", f"{base}/issues/{pull.number}/comments", {"id": REPLY_ID}, status=201)
    api.on("PATCH", f"{base}/issues/comments/{REPLY_ID}", {"id": REPLY_ID})
    api.on("POST", f"{base}/statuses/{pull.head_sha}", {"state": "ok"}, status=201)
    if records is not None:
        api.on("GET", f"{base}/actions/runs/{RUN_ID}/attempts/1/jobs", lambda _request: run_jobs(records))
    return api


def bodies(calls: list[Recorded], method: str, suffix: str) -> list[object]:
    """The JSON bodies of the calls `method` whose path ends with `suffix`, in order."""
    return [call.body for call in calls if call.method == method and call.path.endswith(suffix)]


def rerun_run_jobs(records: Path, targets: Sequence) -> dict:
    """The /rerun-test run's test jobs as GitHub lists them: one per target whose job ran a recording
    file, named `target.job_name` (as `name: ${{ matrix.target.job_name }}` names it), concluded by
    the files' behaviour."""
    lines = records.read_text().splitlines() if records.is_file() else []
    ran = [entry for entry in map(json.loads, lines) if entry["kind"] == "test"]
    jobs = []
    for target in targets:
        mine = [entry for entry in ran if entry["job"] == target.job and entry["file"] in target.files]
        if not mine:
            continue
        passed = all(entry["behavior"] in ("pass", "server") for entry in mine)
        jobs.append(
            {
                "name": target.job_name,
                "status": "completed",
                "conclusion": "success" if passed else "failure",
                "started_at": STARTED,
                "completed_at": COMPLETED,
                "html_url": f"https://github.com/{REPOSITORY}/actions/runs/{RUN_ID}/job/{target.job}",
                "steps": [{"name": "Run the test", "started_at": STARTED, "completed_at": COMPLETED}],
            }
        )
    return {"total_count": len(jobs), "jobs": jobs}


@contextmanager
def serve_rerun(
    pull: PullState,
    roles: Mapping[str, str],
    *,
    records: Path,
    targets: Sequence,
    runs: Sequence[dict] = (),
    run_jobs: Mapping[int, list[dict]] | None = None,
    comments: Sequence[dict] = (),
    changed: Sequence[dict] = (),
    comment_id: int = 101,
) -> Iterator[FakeGitHub]:
    """A started fake API for one /rerun-test comment on `pull`: `serve_github`'s routes, plus this
    workflow's earlier `runs` and their `run_jobs` (what the budgets count), the pull request's
    `changed` files, and the run's own jobs named after the gate's `targets`."""
    with FakeGitHub() as api:
        serve_github(api, pull, roles, comment_id=comment_id, earlier=comments)
        serve_runs(api, REPOSITORY, "cigen-rerun-test.yml", list(runs), dict(run_jobs or {}))
        api.on("GET", f"/repos/{REPOSITORY}/pulls/{pull.number}/files", list(changed))
        api.on(
            "GET",
            f"/repos/{REPOSITORY}/actions/runs/{RUN_ID}/attempts/1/jobs",
            lambda _request: rerun_run_jobs(records, targets),
        )
        yield api
