"""The few GitHub REST calls cigen makes, through the standard library's `urllib`.

One client for everything that talks to GitHub: the /rerun-test gate and report (shipped into
`.github/cigen/`), `cigen audit` and the timings loop (which import it from the package).
Every path argument is checked against a strict pattern before it becomes part of a URL, the
token only ever goes to `api_url` (redirects are never followed with it), and every call has
a timeout. Every answer is read through `Answer` into typed values before anything uses it:
a missing field, a wrong type, a list entry that is not an object or a time without a
timezone raises `GitHubApiError` (code `github-answer`) naming the call and the field, never
the value. Failed calls raise `GitHubApiError` (code `github-api`), refused arguments code
`github-api-argument`: one line each, so callers fail closed without a traceback.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from urllib.parse import quote, urlencode

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 20
MAX_PAGES = 10
MAX_ANSWER_BYTES = 16 * 2**20  # an API answer larger than this is not one we asked for
MAX_DOWNLOAD_BYTES = (
    64 * 2**20
)  # an artifact zip larger than this is not a results file
REACTIONS = frozenset(
    {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
)
STATUS_STATES = frozenset({"error", "failure", "pending", "success"})
# Workflow-run states in the order a run goes through them (a run only moves forward).
RUN_STATES = (
    "requested",
    "waiting",
    "pending",
    "queued",
    "in_progress",
    "action_required",
    "success",
    "failure",
    "cancelled",
    "timed_out",
    "neutral",
    "stale",
)

_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?\Z")
_SLUG = re.compile(r"[A-Za-z0-9_.-]+\Z")
_SHA = re.compile(r"[0-9a-f]{40}\Z")
_REF = re.compile(r"[^\x00-\x20~^:?*\[\\\x7f]+\Z")
_WORKFLOW_FILE = re.compile(r"[A-Za-z0-9_.-]+\.ya?ml\Z")
_ISSUE_URL = re.compile(r".*/issues/([1-9][0-9]*)\Z")


# --- errors and answers: what the API said, checked field by field --------------------


@dataclass(frozen=True)
class ApiProblem:
    """Where a call went wrong and why: formatted like cigen's other problems."""

    path: str
    line: int
    code: str
    message: str

    def format(self) -> str:
        where = f"{self.path}: " if self.path else ""  # "" when no call was made
        return f"{where}{self.code}: {self.message}"


class GitHubApiError(Exception):
    """A GitHub API call failed (`github-api`), answered something unexpected
    (`github-answer`), or was refused before it was made (`github-api-argument`)."""

    def __init__(self, method: str, path: str, message: str, code: str = "github-api"):
        where = f"{method} {path}".strip()
        self.problem = ApiProblem(where, 0, code, message)
        super().__init__(self.problem.format())


def parse_time(text: str) -> datetime:
    """GitHub's ISO 8601 timestamps ('...Z'); ValueError unless it names its timezone."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{text!r} has no timezone")
    return value


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_KINDS = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "an integer",
    bool: "true or false",
}


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return next(
        (name for kind, name in _KINDS.items() if type(value) is kind),
        type(value).__name__,
    )


@dataclass(frozen=True)
class Answer:
    """One call's answer, read field by field; `where` names the part being read."""

    method: str
    path: str

    def error(self, message: str) -> GitHubApiError:
        return GitHubApiError(
            self.method, self.path, f"unexpected answer: {message}", "github-answer"
        )

    def _value(self, data: object, key: str, where: str, optional: bool) -> object:
        if not isinstance(data, dict):
            raise self.error(f"{where} is {_kind(data)}, not an object")
        if key not in data or (optional and data[key] is None):
            if optional:
                return None
            raise self.error(f"{where}.{key} is missing")
        return data[key]

    def _typed(self, data: object, key: str, where: str, kind: type, optional: bool):
        value = self._value(data, key, where, optional)
        if value is None and optional:
            return None
        if type(value) is not kind:
            raise self.error(f"{where}.{key} is {_kind(value)}, not {_KINDS[kind]}")
        return value

    def object(self, data: object, where: str = "answer") -> dict:
        if not isinstance(data, dict):
            raise self.error(f"{where} is {_kind(data)}, not an object")
        return data

    def objects(self, data: object, where: str = "answer") -> list:
        """A list whose every entry is an object."""
        if not isinstance(data, list):
            raise self.error(f"{where} is {_kind(data)}, not a list")
        for index, entry in enumerate(data):
            if not isinstance(entry, dict):
                raise self.error(f"{where}[{index}] is {_kind(entry)}, not an object")
        return data

    def child(self, data: object, key: str, where: str = "answer", optional=False):
        return self._typed(data, key, where, dict, optional)

    def string(self, data: object, key: str, where: str = "answer") -> str:
        return self._typed(data, key, where, str, False)

    def optional_string(self, data: object, key: str, where: str = "answer"):
        return self._typed(data, key, where, str, True)

    def integer(self, data: object, key: str, where: str = "answer") -> int:
        return self._typed(data, key, where, int, False)

    def boolean(self, data: object, key: str, where: str = "answer") -> bool:
        return self._typed(data, key, where, bool, False)

    def time(self, data: object, key: str, where: str = "answer", optional=False):
        text = self._typed(data, key, where, str, optional)
        if text is None:
            return None
        try:
            return parse_time(text)
        except ValueError:
            raise self.error(
                f"{where}.{key} is not an ISO 8601 time with a timezone"
            ) from None


def _refuse(what: str, value: object) -> GitHubApiError:
    return GitHubApiError(
        "", "", f"refusing to call the API with {what} {value!r}", "github-api-argument"
    )


def _check(pattern: re.Pattern, value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise _refuse(what, value)
    return value


def _number(value: int, what: str) -> int:
    if type(value) is not int or value <= 0:
        raise _refuse(what, value)
    return value


# --- what the callers get: plain records ----------------------------------------------


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
    """A comment on an issue or pull request."""

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
    """One job of a workflow run, as the report and the budget read it."""

    name: str
    conclusion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    html_url: str | None
    steps: tuple[Step, ...]
    status: str = "completed"
    run_attempt: int = 1


@dataclass(frozen=True)
class WorkflowRun:
    """One run of a workflow, as the /rerun-test budget lists them."""

    run_id: int
    title: (
        str  # display_title: the workflow's run-name, set from the event when it starts
    )
    event: str
    status: str
    conclusion: str | None
    created_at: datetime


@dataclass(frozen=True)
class ChangedFile:
    """One file of a pull request's diff."""

    path: str
    status: str  # added, modified, removed, renamed, ...


@dataclass(frozen=True)
class Artifact:
    """One workflow-run artifact, as the timings loop lists them."""

    artifact_id: int
    name: str
    created_at: datetime
    expired: bool
    run_id: int | None = (
        None  # the run that uploaded it (workflow_run.id), if GitHub says
    )


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
    head_repository: str | None  # owner/name its code came from (a fork's, for forks)
    run_attempt: int
    started_at: datetime


# --- the client: one urllib session, the calls cigen makes ----------------------------


@cache
def _opener():
    """The urllib opener, built on the first request: importing urllib.request (and with it
    http.client, ssl and email) costs every command that only renders about 10 ms."""
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        """A redirect is answered as it is: the token never follows it anywhere."""

        def redirect_request(self, req, fp, code, msg, headers, newurl):
            return None

    return urllib.request.build_opener(NoRedirects())


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict
    content: bytes


def _send(method: str, url: str, headers: dict, data: bytes | None, limit: int):
    """One HTTP exchange; HTTP error statuses are answers too (never raised)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with _opener().open(request, timeout=TIMEOUT_SECONDS) as reply:
            return Response(reply.status, dict(reply.headers), reply.read(limit + 1))
    except urllib.error.HTTPError as reply:
        content = reply.read(limit + 1) if reply.fp is not None else b""
        return Response(reply.code, dict(reply.headers or {}), content)


def _failure(error: BaseException) -> str:
    """What went wrong on the way, by kind (never the URL or the token)."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, BaseException):
        error = reason
    kind = type(error).__name__
    if isinstance(error, (ConnectionError, TimeoutError)) or "timed out" in str(error):
        kind = "ConnectionError" if isinstance(error, ConnectionError) else "Timeout"
    return f"request failed: {kind}"


@dataclass(frozen=True)
class GitHub:
    """A client for one repository (`owner/name`) with one token."""

    repo: str
    token: str
    api_url: str = DEFAULT_API_URL

    def __post_init__(self) -> None:
        _check(_REPO, self.repo, "repository")
        if not self.token:
            raise GitHubApiError(
                "", "", "no GitHub token: set GITHUB_TOKEN", "github-token"
            )

    def _headers(self) -> dict:
        return {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "cigen",
        }

    def _call(
        self, method: str, path: str, *, params=None, body=None, missing_ok=False
    ):
        url = self.api_url.rstrip("/") + path
        if params:
            url += "?" + urlencode(params)
        headers = self._headers()
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            response = _send(method, url, headers, data, MAX_ANSWER_BYTES)
        except (OSError, ValueError) as error:
            raise GitHubApiError(method, path, _failure(error)) from None
        if response.status == 404 and missing_ok:
            return None
        if not 200 <= response.status < 300:
            message = ""
            try:
                message = str(json.loads(response.content).get("message", ""))[:200]
            except (ValueError, AttributeError):
                pass
            detail = f"HTTP {response.status}" + (f": {message}" if message else "")
            raise GitHubApiError(method, path, detail)
        if len(response.content) > MAX_ANSWER_BYTES:
            raise GitHubApiError(method, path, "the answer is too large")
        if response.status == 204 or not response.content:
            return None
        try:
            return json.loads(response.content)
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
        name = quote(_check(_LOGIN, login, "login"))
        path = f"/repos/{self.repo}/collaborators/{name}/permission"
        data = self._object("GET", path, missing_ok=True)
        if data is None:
            return None
        answer = Answer("GET", path)
        user = answer.child(data, "user")
        return Permission(
            login=answer.string(user, "login", "answer.user"),
            user_id=answer.integer(user, "id", "answer.user"),
            permission=answer.string(data, "permission"),
            role_name=answer.optional_string(data, "role_name"),
        )

    def _team_path(self, team: str) -> str:
        org, _, slug = team.partition("/")
        org = quote(_check(_SLUG, org, "organization"))
        return f"/orgs/{org}/teams/{quote(_check(_SLUG, slug, 'team'))}"

    def team_id(self, team: str) -> int | None:
        """The numeric id of team `org/slug`, None when it does not exist (or is not visible)."""
        path = self._team_path(team)
        data = self._object("GET", path, missing_ok=True)
        return None if data is None else Answer("GET", path).integer(data, "id")

    def team_membership_state(self, team: str, login: str) -> str | None:
        """'active' or 'pending' for a member of `org/slug`, None for a non-member."""
        name = quote(_check(_LOGIN, login, "login"))
        path = f"{self._team_path(team)}/memberships/{name}"
        data = self._object("GET", path, missing_ok=True)
        return None if data is None else Answer("GET", path).string(data, "state")

    def pull(self, number: int) -> dict:
        """The pull request's raw answer; the gate reads it field by field."""
        path = f"/repos/{self.repo}/pulls/{_number(number, 'pull request')}"
        return Answer("GET", path).object(self._object("GET", path))

    def pull_files(self, number: int, max_pages: int = 30) -> list[ChangedFile]:
        """The files a pull request changes (GitHub lists at most 3,000)."""
        path = f"/repos/{self.repo}/pulls/{_number(number, 'pull request')}/files"
        answer = Answer("GET", path)
        found: list = []
        for page in range(1, max_pages + 1):
            params = {"per_page": 100, "page": page}
            entries = answer.objects(self._call("GET", path, params=params))
            found += [
                ChangedFile(
                    answer.string(entry, "filename", f"page {page}[{i}]"),
                    answer.string(entry, "status", f"page {page}[{i}]"),
                )
                for i, entry in enumerate(entries)
            ]
            if len(entries) < 100:
                return found
        raise GitHubApiError("GET", path, "more changed files than can be listed")

    def branch_activity(self, repo: str, branch: str) -> list[Push]:
        """The newest pushes, force pushes and branch changes of one branch, newest first."""
        path = f"/repos/{_check(_REPO, repo, 'repository')}/activity"
        ref = f"refs/heads/{_check(_REF, branch, 'branch')}"
        params = {"ref": ref, "direction": "desc", "per_page": 10}
        answer = Answer("GET", path)
        entries = answer.objects(self._call("GET", path, params=params))
        return [
            Push(
                after=answer.string(entry, "after", f"answer[{index}]"),
                timestamp=answer.time(entry, "timestamp", f"answer[{index}]"),
                activity_type=answer.optional_string(
                    entry, "activity_type", f"answer[{index}]"
                ),
            )
            for index, entry in enumerate(entries)
        ]

    def workflow_runs(
        self, workflow: str, since: datetime, status: str, max_pages: int = MAX_PAGES
    ) -> list[WorkflowRun]:
        """Runs of one workflow file created at or after `since`, in one state (GitHub's
        `status` filter takes a status or a conclusion); GitHubApiError past `max_pages`.
        """
        name = _check(_WORKFLOW_FILE, workflow, "workflow file")
        if status not in RUN_STATES:
            raise _refuse("run state", status)
        path = f"/repos/{self.repo}/actions/workflows/{name}/runs"
        query = {"created": f">={utc_stamp(since)}", "status": status}
        runs: list = []
        pages = self._pages(path, "workflow_runs", query, max_pages, complete=True)
        for answer, entries in pages:
            runs += [_run(answer, entry, where) for where, entry in entries]
        return [run for run in runs if run.created_at >= since]

    def recent_comments(self, since: datetime) -> list[IssueComment]:
        """Issue and pull-request comments of the repository created at or after `since`,
        newest first (at most MAX_PAGES pages)."""
        path = f"/repos/{self.repo}/issues/comments"
        answer = Answer("GET", path)
        stamp = utc_stamp(since)
        comments: list = []
        for page in range(1, MAX_PAGES + 1):
            params = {
                "since": stamp,
                "sort": "created",
                "direction": "desc",
                "per_page": 100,
                "page": page,
            }
            entries = answer.objects(self._call("GET", path, params=params))
            batch = [
                _comment(answer, entry, f"page {page}[{i}]")
                for i, entry in enumerate(entries)
            ]
            comments += [c for c in batch if c.created_at >= since]
            if len(batch) < 100 or any(c.created_at < since for c in batch):
                return comments
        raise GitHubApiError(
            "GET", path, f"more comments since {stamp} than can be read"
        )

    # --- writes: reactions, comments, statuses ----------------------------------------

    def add_reaction(self, comment_id: int, content: str) -> None:
        if content not in REACTIONS:
            raise _refuse("reaction", content)
        comment = _number(comment_id, "comment")
        path = f"/repos/{self.repo}/issues/comments/{comment}/reactions"
        self._call("POST", path, body={"content": content})

    def create_comment(self, issue: int, body: str) -> int:
        path = f"/repos/{self.repo}/issues/{_number(issue, 'issue')}/comments"
        data = self._object("POST", path, body={"body": body})
        comment_id = Answer("POST", path).integer(data, "id")
        if comment_id <= 0:
            raise Answer("POST", path).error("answer.id is not a comment id")
        return comment_id

    def update_comment(self, comment_id: int, body: str) -> None:
        comment = _number(comment_id, "comment")
        path = f"/repos/{self.repo}/issues/comments/{comment}"
        self._call("PATCH", path, body={"body": body})

    def set_status(
        self, sha: str, state: str, context: str, description: str, target_url: str
    ) -> None:
        if state not in STATUS_STATES:
            raise _refuse("status state", state)
        body = {
            "state": state,
            "context": context,
            "description": description[:140],
            "target_url": target_url,
        }
        path = f"/repos/{self.repo}/statuses/{_check(_SHA, sha, 'commit')}"
        self._call("POST", path, body=body)

    def artifacts(self, prefix: str, since: datetime) -> ArtifactListing:
        """Unexpired artifacts named `prefix...`, created at or after `since`, newest
        first; `complete` is False when the listing had more than MAX_PAGES pages since
        then. It reads its own pages: `total_count` and how many were read are part of
        the answer."""
        path = f"/repos/{self.repo}/actions/artifacts"
        answer = Answer("GET", path)
        found: list = []
        read = total = 0
        complete = False
        for page in range(1, MAX_PAGES + 1):
            params = {"per_page": 100, "page": page}
            data = answer.object(self._object("GET", path, params=params))
            entries = answer.objects(data.get("artifacts"), "answer.artifacts")
            total = answer.integer(data, "total_count")
            listed = [
                _artifact(answer, entry, f"artifacts[{read + i}]")
                for i, entry in enumerate(entries)
            ]
            read += len(listed)
            found += [
                a
                for a in listed
                if a.name.startswith(prefix) and not a.expired and a.created_at >= since
            ]
            older = any(a.created_at < since for a in listed)
            if older or len(listed) < 100 or read >= total:
                # newest first: the rest is older still, or there is no rest
                complete = True
                break
        ordered = sorted(
            found, key=lambda a: (a.created_at, a.artifact_id), reverse=True
        )
        return ArtifactListing(tuple(ordered), total, read, complete)

    def run_origin(self, run_id: int) -> RunOrigin:
        """One workflow run: its event, workflow file, branch, and the repositories it
        belongs to and came from."""
        path = f"/repos/{self.repo}/actions/runs/{_number(run_id, 'run')}"
        answer = Answer("GET", path)
        data = answer.object(self._object("GET", path))
        head = answer.child(data, "head_repository", optional=True)
        started = answer.time(data, "run_started_at", optional=True) or answer.time(
            data, "created_at"
        )
        repository = answer.child(data, "repository")
        head_name = None
        if head is not None:
            head_name = answer.string(head, "full_name", "answer.head_repository")
        return RunOrigin(
            run_id=answer.integer(data, "id"),
            event=answer.string(data, "event"),
            path=answer.string(data, "path"),
            head_branch=answer.optional_string(data, "head_branch"),
            repository=answer.string(repository, "full_name", "answer.repository"),
            head_repository=head_name,
            run_attempt=answer.integer(data, "run_attempt"),
            started_at=started,
        )

    def download_artifact(self, artifact_id: int) -> bytes:
        """The artifact's zip. GitHub answers with a redirect to its storage, which gets no
        token."""
        artifact = _number(artifact_id, "artifact")
        path = f"/repos/{self.repo}/actions/artifacts/{artifact}/zip"
        headers = self._headers()
        try:
            response = _send(
                "GET",
                self.api_url.rstrip("/") + path,
                headers,
                None,
                MAX_DOWNLOAD_BYTES,
            )
            location = {k.lower(): v for k, v in response.headers.items()}.get(
                "location"
            )
            if response.status in (301, 302, 303, 307, 308) and location:
                # a pre-signed storage URL: the token stays with the API
                plain = {"User-Agent": "cigen"}
                response = _send("GET", location, plain, None, MAX_DOWNLOAD_BYTES)
        except (OSError, ValueError) as error:
            raise GitHubApiError("GET", path, _failure(error)) from None
        if response.status != 200:
            raise GitHubApiError("GET", path, f"HTTP {response.status}")
        if len(response.content) > MAX_DOWNLOAD_BYTES:
            limit = MAX_DOWNLOAD_BYTES // 2**20
            raise GitHubApiError(
                "GET", path, f"the artifact is larger than {limit} MiB"
            )
        return response.content

    def branch_head(self, branch: str) -> str | None:
        """The commit a branch points at, None when there is no such branch."""
        path = f"/repos/{self.repo}/git/ref/heads/{_check(_REF, branch, 'branch')}"
        data = self._object("GET", path, missing_ok=True)
        if data is None:
            return None
        answer = Answer("GET", path)
        target = answer.child(data, "object")
        return _check(_SHA, answer.string(target, "sha", "answer.object"), "commit")

    def commit_tree(self, sha: str) -> str:
        path = f"/repos/{self.repo}/git/commits/{_check(_SHA, sha, 'commit')}"
        answer = Answer("GET", path)
        tree = answer.child(self._object("GET", path), "tree")
        return answer.string(tree, "sha", "answer.tree")

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
        git = f"/repos/{self.repo}/git"
        answer = Answer("POST", git)
        entries = []
        for file_path, text in sorted(files.items()):
            blob = self._object(
                "POST", f"{git}/blobs", body={"content": text, "encoding": "utf-8"}
            )
            entries.append(
                {
                    "path": file_path,
                    "mode": "100644",
                    "type": "blob",
                    "sha": answer.string(blob, "sha"),
                }
            )
        tree_body = {"base_tree": self.commit_tree(parent), "tree": entries}
        tree = answer.string(
            self._object("POST", f"{git}/trees", body=tree_body), "sha"
        )
        commit_body = {"message": message, "tree": tree, "parents": [parent]}
        commit = self._object("POST", f"{git}/commits", body=commit_body)
        return _check(_SHA, answer.string(commit, "sha"), "commit")

    def point_branch(self, branch: str, sha: str) -> None:
        """Make `branch` point at `sha`, creating it or moving it (it is cigen's own)."""
        if self.branch_head(branch) is None:
            body = {"ref": f"refs/heads/{branch}", "sha": sha}
            self._call("POST", f"/repos/{self.repo}/git/refs", body=body)
        else:
            ref = _check(_REF, branch, "branch")
            path = f"/repos/{self.repo}/git/refs/heads/{ref}"
            self._call("PATCH", path, body={"sha": sha, "force": True})

    def open_pull(self, head: str, base: str, title: str, body: str) -> str:
        """The open pull request from `head` into `base` (created when there is none)."""
        path = f"/repos/{self.repo}/pulls"
        owner = self.repo.split("/")[0]
        answer = Answer("GET", path)
        query = {"head": f"{owner}:{head}", "base": base, "state": "open"}
        existing = answer.objects(self._call("GET", path, params=query))
        if existing:
            return answer.string(existing[0], "html_url", "answer[0]")
        wanted = {"title": title, "head": head, "base": base, "body": body}
        created = self._object("POST", path, body=wanted)
        return Answer("POST", path).string(created, "html_url")

    def run_jobs(self, run_id: int, attempt: int | None = None) -> list[Job]:
        """Every job of one attempt of a workflow run, or of all its attempts (None)."""
        run = _number(run_id, "run")
        if attempt is None:
            path, query = (
                f"/repos/{self.repo}/actions/runs/{run}/jobs",
                {"filter": "all"},
            )
        else:
            number = _number(attempt, "attempt")
            path, query = (
                f"/repos/{self.repo}/actions/runs/{run}/attempts/{number}/jobs",
                {},
            )
        return [
            _job(answer, job, where)
            for answer, entries in self._pages(path, "jobs", query)
            for where, job in entries
        ]

    def _pages(
        self,
        path: str,
        key: str,
        query: dict | None = None,
        max_pages: int = MAX_PAGES,
        complete: bool = False,
    ) -> Iterator[tuple[Answer, list]]:
        """A listing's entries under `key`, 100 a page (at most `max_pages`; past them a
        GitHubApiError when the listing must be `complete`), each with its place for error
        messages; stops at a short page or when `total_count` entries have come."""
        answer = Answer("GET", path)
        seen = 0
        for page in range(1, max_pages + 1):
            params = {**(query or {}), "per_page": 100, "page": page}
            data = answer.object(self._object("GET", path, params=params))
            batch = answer.objects(data.get(key), f"answer.{key}")
            total = answer.integer(data, "total_count")
            yield (
                answer,
                [
                    (f"{key}[{seen + index}]", entry)
                    for index, entry in enumerate(batch)
                ],
            )
            seen += len(batch)
            if len(batch) < 100 or seen >= total:
                return
        if complete:
            raise GitHubApiError("GET", path, f"more than {max_pages} pages to read")


# --- reading answers into records -----------------------------------------------------


def _artifact(answer: Answer, entry: dict, where: str) -> Artifact:
    run = answer.child(entry, "workflow_run", where, optional=True)
    run_id = None
    if run is not None and run.get("id") is not None:
        run_id = answer.integer(run, "id", f"{where}.workflow_run")
    return Artifact(
        artifact_id=answer.integer(entry, "id", where),
        name=answer.string(entry, "name", where),
        created_at=answer.time(entry, "created_at", where),
        expired=answer.boolean(entry, "expired", where),
        run_id=run_id,
    )


def _run(answer: Answer, entry: dict, where: str) -> WorkflowRun:
    return WorkflowRun(
        run_id=answer.integer(entry, "id", where),
        title=answer.string(entry, "display_title", where),
        event=answer.string(entry, "event", where),
        status=answer.string(entry, "status", where),
        conclusion=answer.optional_string(entry, "conclusion", where),
        created_at=answer.time(entry, "created_at", where),
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
    attempt = job.get("run_attempt", 1)
    return Job(
        name=answer.string(job, "name", where),
        conclusion=answer.optional_string(job, "conclusion", where),
        started_at=answer.time(job, "started_at", where, optional=True),
        completed_at=answer.time(job, "completed_at", where, optional=True),
        html_url=answer.optional_string(job, "html_url", where),
        steps=tuple(
            Step(
                name=answer.string(step, "name", f"{where}.steps[{i}]"),
                started_at=answer.time(
                    step, "started_at", f"{where}.steps[{i}]", optional=True
                ),
                completed_at=answer.time(
                    step, "completed_at", f"{where}.steps[{i}]", optional=True
                ),
            )
            for i, step in enumerate(steps)
        ),
        status=answer.optional_string(job, "status", where) or "completed",
        run_attempt=attempt if type(attempt) is int and attempt > 0 else 1,
    )
