"""The few GitHub REST calls cigen makes (/rerun-test, `cigen audit`, the timings loop), through `requests`.

Every path argument is checked against a strict pattern before it becomes part of a URL,
the token only ever goes to `api_url`, and every call has a timeout. Every answer is read
through `answers.Answer` into typed values before anything uses it. Failures raise
`GitHubApiError` (a UserError: printed as one line, exit 2, no traceback).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

import requests

from generator.errors import UserError
from generator.github.answers import Answer, GitHubApiError

__all__ = [
    "Artifact",
    "ArtifactListing",
    "GitHub",
    "GitHubApiError",
    "IssueComment",
    "Job",
    "Permission",
    "Push",
    "RunOrigin",
    "Step",
]

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 20
MAX_PAGES = 10
MAX_COMMENT_PAGES = 20  # of 100 comments: how far back the budget count may read before it gives up
REACTIONS = frozenset({"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"})
STATUS_STATES = frozenset({"error", "failure", "pending", "success"})

_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?\Z")
_SLUG = re.compile(r"[A-Za-z0-9_.-]+\Z")
_SHA = re.compile(r"[0-9a-f]{40}\Z")
_REF = re.compile(r"[^\x00-\x20~^:?*\[\\\x7f]+\Z")
_ISSUE_URL = re.compile(r".*/issues/([1-9][0-9]*)\Z")


def _check(pattern: re.Pattern, value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise UserError("", 0, "github-api-argument", f"refusing to call the API with {what} {value!r}")
    return value


def _number(value: int, what: str) -> int:
    if type(value) is not int or value <= 0:
        raise UserError("", 0, "github-api-argument", f"refusing to call the API with {what} {value!r}")
    return value


@dataclass(frozen=True)
class Permission:
    """A collaborator's permission answer: who it is about and their role."""

    login: str
    user_id: int
    permission: str
    role_name: str | None


@dataclass(frozen=True)
class Push:
    """One entry of a branch's activity log (push, force push, branch creation...)."""

    after: str
    timestamp: datetime
    activity_type: str | None


@dataclass(frozen=True)
class IssueComment:
    """A comment on an issue or pull request, as far as the budget count reads it."""

    comment_id: int
    issue: int
    author: str
    author_type: str
    created_at: datetime
    body: str


@dataclass(frozen=True)
class Step:
    name: str
    started_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True)
class Job:
    """One job of a workflow run attempt, as the report reads it."""

    name: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    html_url: str | None
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Artifact:
    """One workflow-run artifact, as the timings loop lists them."""

    artifact_id: int
    name: str
    created_at: datetime
    expired: bool
    run_id: int | None = None  # the workflow run that uploaded it (answer.workflow_run.id), where GitHub says


@dataclass(frozen=True)
class ArtifactListing:
    """The artifacts a listing read, and whether it read every one it was asked for."""

    artifacts: tuple[Artifact, ...]
    total_count: int  # what GitHub says the repository has, of every name and age
    read: int  # entries read
    complete: bool  # False: it stopped at MAX_PAGES before reaching `since`


@dataclass(frozen=True)
class RunOrigin:
    """Where a workflow run came from: what the timings loop decides trust by."""

    run_id: int
    event: str  # push, schedule, pull_request, ...
    path: str  # the workflow file, .github/workflows/NAME.yml
    head_branch: str | None
    repository: str  # owner/name the run belongs to
    head_repository: str | None  # owner/name its code came from (a fork's for fork pull requests)
    run_attempt: int
    started_at: datetime


MAX_DOWNLOAD_BYTES = 64 * 2**20  # an artifact zip larger than this is not a results file


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

    def _call(
        self, method: str, path: str, *, params: dict | None = None, body: dict | None = None, missing_ok: bool = False
    ):
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
            raise Answer(method, path).error("the answer is not a JSON object")
        return data

    def get_object(self, path: str, missing_ok: bool = False) -> dict | None:
        """GET one object of this API (the audit's settings); None for a 404 when missing_ok."""
        return self._object("GET", path, missing_ok=missing_ok)

    def collaborator_permission(self, login: str) -> Permission | None:
        """Whose permission and which, or None when GitHub does not know the user."""
        path = f"/repos/{self.repo}/collaborators/{quote(_check(_LOGIN, login, 'login'))}/permission"
        data = self._object("GET", path, missing_ok=True)
        if data is None:
            return None
        answer = Answer("GET", path)
        user = answer.child(data, "user")
        role = answer.optional_string(data, "role_name")
        return Permission(
            login=answer.string(user, "login", "answer.user"),
            user_id=answer.integer(user, "id", "answer.user"),
            permission=answer.string(data, "permission"),
            role_name=role,
        )

    def team_id(self, team: str) -> int | None:
        """The numeric id of team `org/slug`, None when it does not exist (or is not visible)."""
        org, _, slug = team.partition("/")
        path = f"/orgs/{quote(_check(_SLUG, org, 'organization'))}/teams/{quote(_check(_SLUG, slug, 'team'))}"
        data = self._object("GET", path, missing_ok=True)
        return None if data is None else Answer("GET", path).integer(data, "id")

    def team_membership_state(self, team: str, login: str) -> str | None:
        """'active' or 'pending' for a member of `org/slug`, None for a non-member."""
        org, _, slug = team.partition("/")
        path = (
            f"/orgs/{quote(_check(_SLUG, org, 'organization'))}/teams/{quote(_check(_SLUG, slug, 'team'))}"
            f"/memberships/{quote(_check(_LOGIN, login, 'login'))}"
        )
        data = self._object("GET", path, missing_ok=True)
        return None if data is None else Answer("GET", path).string(data, "state")

    def pull(self, number: int) -> dict:
        """The pull request's raw answer; `gate.read_pull` reads it field by field."""
        path = f"/repos/{self.repo}/pulls/{_number(number, 'pull request')}"
        return Answer("GET", path).object(self._object("GET", path))

    def branch_activity(self, repo: str, branch: str) -> list[Push]:
        """The newest pushes, force pushes and branch changes of one branch, newest first."""
        path = f"/repos/{_check(_REPO, repo, 'repository')}/activity"
        params = {"ref": f"refs/heads/{_check(_REF, branch, 'branch')}", "direction": "desc", "per_page": 10}
        answer = Answer("GET", path)
        entries = answer.objects(self._call("GET", path, params=params))
        return [
            Push(
                after=answer.string(entry, "after", f"answer[{index}]"),
                timestamp=answer.time(entry, "timestamp", f"answer[{index}]"),
                activity_type=answer.optional_string(entry, "activity_type", f"answer[{index}]"),
            )
            for index, entry in enumerate(entries)
        ]

    def recent_comments(self, since: datetime) -> list[IssueComment]:
        """Every issue and pull-request comment of the repository created at or after `since`,
        newest first; GitHubApiError when there are more than the pages it may read."""
        path = f"/repos/{self.repo}/issues/comments"
        answer = Answer("GET", path)
        stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        comments: list[IssueComment] = []
        for page in range(1, MAX_COMMENT_PAGES + 1):
            params = {"since": stamp, "sort": "created", "direction": "desc", "per_page": 100, "page": page}
            entries = answer.objects(self._call("GET", path, params=params))
            batch = [_comment(answer, entry, f"page {page}[{i}]") for i, entry in enumerate(entries)]
            comments += [c for c in batch if c.created_at >= since]
            if len(batch) < 100 or any(c.created_at < since for c in batch):
                return comments
        too_many = f"more than {MAX_COMMENT_PAGES * 100} comments since {stamp}: cannot count them all"
        raise GitHubApiError("GET", path, too_many)

    def add_reaction(self, comment_id: int, content: str) -> None:
        if content not in REACTIONS:
            raise UserError("", 0, "github-api-argument", f"unknown reaction {content!r}")
        path = f"/repos/{self.repo}/issues/comments/{_number(comment_id, 'comment')}/reactions"
        self._call("POST", path, body={"content": content})

    def create_comment(self, issue: int, body: str) -> int:
        path = f"/repos/{self.repo}/issues/{_number(issue, 'issue')}/comments"
        data = self._object("POST", path, body={"body": body})
        comment_id = Answer("POST", path).integer(data, "id")
        if comment_id <= 0:
            raise Answer("POST", path).error("answer.id is not a comment id")
        return comment_id

    def update_comment(self, comment_id: int, body: str) -> None:
        self._call("PATCH", f"/repos/{self.repo}/issues/comments/{_number(comment_id, 'comment')}", body={"body": body})

    def set_status(self, sha: str, state: str, context: str, description: str, target_url: str) -> None:
        if state not in STATUS_STATES:
            raise UserError("", 0, "github-api-argument", f"unknown status state {state!r}")
        body = {"state": state, "context": context, "description": description[:140], "target_url": target_url}
        self._call("POST", f"/repos/{self.repo}/statuses/{_check(_SHA, sha, 'commit')}", body=body)

    def artifacts(self, prefix: str, since: datetime) -> ArtifactListing:
        """Unexpired artifacts whose name starts with `prefix`, created at or after `since`, newest
        first; `complete` is False when the listing had more than MAX_PAGES pages since then."""
        path = f"/repos/{self.repo}/actions/artifacts"
        answer = Answer("GET", path)
        found: list[Artifact] = []
        read = total = 0
        complete = False
        for page in range(1, MAX_PAGES + 1):
            data = answer.object(self._object("GET", path, params={"per_page": 100, "page": page}))
            entries = answer.objects(data.get("artifacts"), "answer.artifacts")
            total = answer.integer(data, "total_count")
            listed = [_artifact(answer, entry, f"artifacts[{read + i}]") for i, entry in enumerate(entries)]
            read += len(listed)
            found += [a for a in listed if a.name.startswith(prefix) and not a.expired and a.created_at >= since]
            if any(a.created_at < since for a in listed) or len(listed) < 100 or read >= total:
                complete = True  # the listing is newest first: the rest is older still, or there is no rest
                break
        ordered = sorted(found, key=lambda a: (a.created_at, a.artifact_id), reverse=True)
        return ArtifactListing(tuple(ordered), total, read, complete)

    def run_origin(self, run_id: int) -> RunOrigin:
        """One workflow run: its event, workflow file, branch, and the repositories it belongs to and came from."""
        path = f"/repos/{self.repo}/actions/runs/{_number(run_id, 'run')}"
        answer = Answer("GET", path)
        data = answer.object(self._object("GET", path))
        head = answer.child(data, "head_repository", optional=True)
        started = answer.time(data, "run_started_at", optional=True) or answer.time(data, "created_at")
        return RunOrigin(
            run_id=answer.integer(data, "id"),
            event=answer.string(data, "event"),
            path=answer.string(data, "path"),
            head_branch=answer.optional_string(data, "head_branch"),
            repository=answer.string(answer.child(data, "repository"), "full_name", "answer.repository"),
            head_repository=None if head is None else answer.string(head, "full_name", "answer.head_repository"),
            run_attempt=answer.integer(data, "run_attempt"),
            started_at=started,
        )

    def download_artifact(self, artifact_id: int) -> bytes:
        """The artifact's zip. GitHub answers with a redirect to its storage, which gets no token."""
        path = f"/repos/{self.repo}/actions/artifacts/{_number(artifact_id, 'artifact')}/zip"
        headers = {"Authorization": f"Bearer {self.token}", "X-GitHub-Api-Version": API_VERSION, "User-Agent": "cigen"}
        try:
            response = self.session.get(
                self.api_url.rstrip("/") + path, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False
            )
            if response.is_redirect and response.headers.get("Location"):
                # a pre-signed storage URL: the token stays with the API
                response = self.session.get(
                    response.headers["Location"], headers={"User-Agent": "cigen"}, timeout=TIMEOUT_SECONDS
                )
        except requests.RequestException as error:
            raise GitHubApiError("GET", path, f"request failed: {type(error).__name__}") from None
        if response.status_code != 200:
            raise GitHubApiError("GET", path, f"HTTP {response.status_code}")
        if len(response.content) > MAX_DOWNLOAD_BYTES:
            raise GitHubApiError("GET", path, f"the artifact is larger than {MAX_DOWNLOAD_BYTES // 2**20} MiB")
        return response.content

    def branch_head(self, branch: str) -> str | None:
        """The commit a branch points at, None when there is no such branch."""
        path = f"/repos/{self.repo}/git/ref/heads/{_check(_REF, branch, 'branch')}"
        data = self._object("GET", path, missing_ok=True)
        if data is None:
            return None
        answer = Answer("GET", path)
        return _check(_SHA, answer.string(answer.child(data, "object"), "sha", "answer.object"), "commit")

    def commit_tree(self, sha: str) -> str:
        path = f"/repos/{self.repo}/git/commits/{_check(_SHA, sha, 'commit')}"
        answer = Answer("GET", path)
        return answer.string(answer.child(self._object("GET", path), "tree"), "sha", "answer.tree")

    def file_text(self, path_in_repo: str, ref: str) -> str | None:
        """A file's text at `ref`, None when it does not exist there."""
        path = f"/repos/{self.repo}/contents/{quote(path_in_repo)}"
        data = self._object("GET", path, params={"ref": ref}, missing_ok=True)
        if data is None:
            return None
        answer = Answer("GET", path)
        if answer.string(data, "encoding") != "base64":
            raise answer.error("answer.encoding is not base64")
        return base64.b64decode(answer.string(data, "content")).decode("utf-8")

    def commit_files(self, files: dict[str, str], parent: str, message: str) -> str:
        """One commit on top of `parent` that writes `files` (path -> text); its sha."""
        answer = Answer("POST", f"/repos/{self.repo}/git")
        entries = []
        for file_path, text in sorted(files.items()):
            blob = self._object("POST", f"/repos/{self.repo}/git/blobs", body={"content": text, "encoding": "utf-8"})
            entries.append({"path": file_path, "mode": "100644", "type": "blob", "sha": answer.string(blob, "sha")})
        tree_body = {"base_tree": self.commit_tree(parent), "tree": entries}
        tree = answer.string(self._object("POST", f"/repos/{self.repo}/git/trees", body=tree_body), "sha")
        commit_body = {"message": message, "tree": tree, "parents": [parent]}
        return _check(
            _SHA,
            answer.string(self._object("POST", f"/repos/{self.repo}/git/commits", body=commit_body), "sha"),
            "commit",
        )

    def point_branch(self, branch: str, sha: str) -> None:
        """Make `branch` point at `sha`, creating it or moving it (it is cigen's own branch)."""
        if self.branch_head(branch) is None:
            self._call("POST", f"/repos/{self.repo}/git/refs", body={"ref": f"refs/heads/{branch}", "sha": sha})
        else:
            self._call(
                "PATCH",
                f"/repos/{self.repo}/git/refs/heads/{_check(_REF, branch, 'branch')}",
                body={"sha": sha, "force": True},
            )

    def open_pull(self, head: str, base: str, title: str, body: str) -> str:
        """The open pull request from `head` into `base` (created when there is none); its URL."""
        path = f"/repos/{self.repo}/pulls"
        owner = self.repo.split("/")[0]
        answer = Answer("GET", path)
        existing = answer.objects(
            self._call("GET", path, params={"head": f"{owner}:{head}", "base": base, "state": "open"})
        )
        if existing:
            return answer.string(existing[0], "html_url", "answer[0]")
        created = self._object("POST", path, body={"title": title, "head": head, "base": base, "body": body})
        return Answer("POST", path).string(created, "html_url")

    def run_jobs(self, run_id: int, attempt: int) -> list[Job]:
        """Every job of one attempt of a workflow run."""
        path = f"/repos/{self.repo}/actions/runs/{_number(run_id, 'run')}/attempts/{_number(attempt, 'attempt')}/jobs"
        return [_job(answer, job, where) for answer, entries in self._pages(path, "jobs") for where, job in entries]

    def _pages(self, path: str, key: str) -> Iterator[tuple[Answer, list[tuple[str, dict]]]]:
        """A listing's entries under `key`, a page of 100 at a time (at most MAX_PAGES), each with its
        place for error messages; stops at a short page or when `total_count` entries have come."""
        answer = Answer("GET", path)
        seen = 0
        for page in range(1, MAX_PAGES + 1):
            data = answer.object(self._object("GET", path, params={"per_page": 100, "page": page}))
            batch = answer.objects(data.get(key), f"answer.{key}")
            total = answer.integer(data, "total_count")
            yield answer, [(f"{key}[{seen + index}]", entry) for index, entry in enumerate(batch)]
            seen += len(batch)
            if len(batch) < 100 or seen >= total:
                return


def _artifact(answer: Answer, entry: dict, where: str) -> Artifact:
    run = answer.child(entry, "workflow_run", where, optional=True)
    run_id = None if run is None or run.get("id") is None else answer.integer(run, "id", f"{where}.workflow_run")
    return Artifact(
        artifact_id=answer.integer(entry, "id", where),
        name=answer.string(entry, "name", where),
        created_at=answer.time(entry, "created_at", where),
        expired=answer.boolean(entry, "expired", where),
        run_id=run_id,
    )


def _comment(answer: Answer, entry: dict, where: str) -> IssueComment:
    user = answer.child(entry, "user", where)
    match = _ISSUE_URL.match(answer.string(entry, "issue_url", where))
    if match is None:
        raise answer.error(f"{where}.issue_url does not name an issue")
    return IssueComment(
        comment_id=answer.integer(entry, "id", where),
        issue=int(match.group(1)),
        author=answer.string(user, "login", f"{where}.user"),
        author_type=answer.string(user, "type", f"{where}.user"),
        created_at=answer.time(entry, "created_at", where),
        body=answer.string(entry, "body", where),
    )


def _job(answer: Answer, job: dict, where: str) -> Job:
    steps = answer.objects(job.get("steps") or [], f"{where}.steps")
    return Job(
        name=answer.string(job, "name", where),
        conclusion=answer.optional_string(job, "conclusion", where),
        started_at=answer.time(job, "started_at", where, optional=True),
        completed_at=answer.time(job, "completed_at", where, optional=True),
        html_url=answer.optional_string(job, "html_url", where),
        steps=tuple(
            Step(
                name=answer.string(step, "name", f"{where}.steps[{i}]"),
                started_at=answer.time(step, "started_at", f"{where}.steps[{i}]", optional=True),
                completed_at=answer.time(step, "completed_at", f"{where}.steps[{i}]", optional=True),
            )
            for i, step in enumerate(steps)
        ),
    )
