"""The few GitHub REST calls /rerun-test makes, through `requests`.

Every path argument is checked against a strict pattern before it becomes part of a URL,
the token only ever goes to `api_url`, and every call has a timeout. Failures raise
`GitHubApiError` (a UserError: printed as one line, exit 2, no traceback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from generator.errors import UserError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 20
MAX_PAGES = 10
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
STATUS_STATES = frozenset({"error", "failure", "pending", "success"})

_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?\Z")
_SLUG = re.compile(r"[A-Za-z0-9_.-]+\Z")
_SHA = re.compile(r"[0-9a-f]{40}\Z")
_REF = re.compile(r"[^\x00-\x20~^:?*\[\\\x7f]+\Z")


class GitHubApiError(UserError):
    """A GitHub API call failed or answered something unexpected."""

    def __init__(self, method: str, path: str, message: str):
        super().__init__(f"{method} {path}", 0, "github-api", message)


def _check(pattern: re.Pattern, value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise UserError("", 0, "github-api-argument", f"refusing to call the API with {what} {value!r}")
    return value


def _number(value: int, what: str) -> int:
    if type(value) is not int or value <= 0:
        raise UserError("", 0, "github-api-argument", f"refusing to call the API with {what} {value!r}")
    return value


@dataclass(frozen=True)
class GitHub:
    """A client for one repository (`owner/name`) with one token."""

    repo: str
    token: str
    api_url: str = DEFAULT_API_URL
    session: requests.Session = field(default_factory=requests.Session, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check(_REPO, self.repo, "repository")
        if not self.token:
            raise UserError("", 0, "github-token", "no GitHub token: set GITHUB_TOKEN")

    def _call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None, missing_ok: bool = False):
        url = self.api_url.rstrip("/") + path
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "cigen-rerun-test",
        }
        try:
            response = self.session.request(
                method, url, params=params, json=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False
            )
        except requests.RequestException as error:
            raise GitHubApiError(method, path, f"request failed: {type(error).__name__}") from None
        if response.status_code == 404 and missing_ok:
            return None
        if not 200 <= response.status_code < 300:
            message = ""
            try:
                message = str(response.json().get("message", ""))[:200]
            except (ValueError, AttributeError):
                pass
            raise GitHubApiError(method, path, f"HTTP {response.status_code}" + (f": {message}" if message else ""))
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise GitHubApiError(method, path, "the answer is not JSON") from None

    def _object(self, method: str, path: str, **kwargs) -> dict | None:
        data = self._call(method, path, **kwargs)
        if data is not None and not isinstance(data, dict):
            raise GitHubApiError(method, path, "expected a JSON object")
        return data

    def collaborator_permission(self, login: str) -> dict | None:
        """`{"permission", "role_name", "user"}`, or None when GitHub does not know the user."""
        path = f"/repos/{self.repo}/collaborators/{quote(_check(_LOGIN, login, 'login'))}/permission"
        return self._object("GET", path, missing_ok=True)

    def team_membership_state(self, team: str, login: str) -> str | None:
        """'active' or 'pending' for a member of `org/slug`, None for a non-member."""
        org, _, slug = team.partition("/")
        path = (
            f"/orgs/{quote(_check(_SLUG, org, 'organization'))}/teams/{quote(_check(_SLUG, slug, 'team'))}"
            f"/memberships/{quote(_check(_LOGIN, login, 'login'))}"
        )
        data = self._object("GET", path, missing_ok=True)
        return None if data is None else data.get("state")

    def pull(self, number: int) -> dict:
        return self._object("GET", f"/repos/{self.repo}/pulls/{_number(number, 'pull request')}")

    def branch_activity(self, repo: str, branch: str) -> list[dict]:
        """The newest pushes, force pushes and branch changes of one branch, newest first."""
        path = f"/repos/{_check(_REPO, repo, 'repository')}/activity"
        params = {"ref": f"refs/heads/{_check(_REF, branch, 'branch')}", "direction": "desc", "per_page": 10}
        data = self._call("GET", path, params=params)
        if not isinstance(data, list):
            raise GitHubApiError("GET", path, "expected a JSON array")
        return data

    def add_reaction(self, comment_id: int, content: str) -> None:
        if content not in REACTIONS:
            raise UserError("", 0, "github-api-argument", f"unknown reaction {content!r}")
        path = f"/repos/{self.repo}/issues/comments/{_number(comment_id, 'comment')}/reactions"
        self._call("POST", path, body={"content": content})

    def create_comment(self, issue: int, body: str) -> int:
        path = f"/repos/{self.repo}/issues/{_number(issue, 'issue')}/comments"
        data = self._object("POST", path, body={"body": body})
        if not data or type(data.get("id")) is not int:
            raise GitHubApiError("POST", path, "the answer has no comment id")
        return data["id"]

    def update_comment(self, comment_id: int, body: str) -> None:
        self._call("PATCH", f"/repos/{self.repo}/issues/comments/{_number(comment_id, 'comment')}", body={"body": body})

    def set_status(self, sha: str, state: str, context: str, description: str, target_url: str) -> None:
        if state not in STATUS_STATES:
            raise UserError("", 0, "github-api-argument", f"unknown status state {state!r}")
        body = {"state": state, "context": context, "description": description[:140], "target_url": target_url}
        self._call("POST", f"/repos/{self.repo}/statuses/{_check(_SHA, sha, 'commit')}", body=body)

    def run_jobs(self, run_id: int, attempt: int) -> list[dict]:
        """Every job of one attempt of a workflow run."""
        path = f"/repos/{self.repo}/actions/runs/{_number(run_id, 'run')}/attempts/{_number(attempt, 'attempt')}/jobs"
        jobs: list[dict] = []
        for page in range(1, MAX_PAGES + 1):
            data = self._object("GET", path, params={"per_page": 100, "page": page}) or {}
            batch = data.get("jobs")
            if not isinstance(batch, list):
                raise GitHubApiError("GET", path, "the answer has no job list")
            jobs.extend(batch)
            if len(batch) < 100 or len(jobs) >= data.get("total_count", 0):
                break
        return jobs
