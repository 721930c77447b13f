"""Fixture repositories for act scenarios: git repos in tmp, recording test files, event payloads.

A recording test file appends one JSON line to $CIGEN_ACT_RECORDS (set by the harness) saying
which file ran, in which job (GITHUB_JOB) and shard (SHARD), with its pid and process group and the
variables $CIGEN_ACT_RECORD_ENV names (comma-separated) as the step saw them, then
behaves as asked: pass, fail, hang past any timeout, leave a "server" child behind in its own
process group (the runner's group kill must end it; its pid is recorded as server_pid), start a
server and hang (`server-hang`: the per-file timeout must end both), or fail once with an
accuracy-pattern line and pass the next time (`flaky`, remembered by a marker file beside the
records, so each act run starts afresh).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = "octo/fixture"  # act reads GITHUB_REPOSITORY from the origin remote; nothing contacts it
DEFAULT_BRANCH = "main"
REPO_ROOT = Path(__file__).resolve().parents[2]
BEHAVIORS = ("pass", "fail", "hang", "server", "server-hang", "flaky")
FLAKY_LINE = "AssertionError: 0.61 not greater than 0.65"  # sglang retries this (flaky-accuracy)

RECORDING_BODY = '''
import json
import os
import subprocess
import sys
import time

FILE = {file!r}
BEHAVIOR = {behavior!r}
SECONDS = {seconds!r}  # how long a passing or failing run takes


def record(**extra):
    """One JSON line about this run, appended to the file the act harness reads."""
    entry = {{
        "kind": "test",
        "file": FILE,
        "behavior": BEHAVIOR,
        "job": os.environ.get("GITHUB_JOB", ""),
        "shard": os.environ.get("SHARD"),
        "shard_files": os.environ.get("SHARD_FILES"),
        "workspace": os.environ.get("GITHUB_WORKSPACE", ""),
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "sid": os.getsid(0),
        "env": {{name: os.environ.get(name) for name in os.environ.get("CIGEN_ACT_RECORD_ENV", "").split(",") if name}},
        **extra,
    }}
    with open(os.environ["CIGEN_ACT_RECORDS"], "a") as records:
        records.write(json.dumps(entry, sort_keys=True) + "\\n")


def main():
    if BEHAVIOR in ("server", "server-hang"):
        # Same process group as this test: only a group kill by the runner ends it.
        server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        record(server_pid=server.pid)
        if BEHAVIOR == "server-hang":
            time.sleep(3600)
        return 0
    if BEHAVIOR == "flaky":
        marker = os.environ["CIGEN_ACT_RECORDS"] + ".flaky-" + FILE.replace("/", "_")
        first = not os.path.exists(marker)
        record(attempt=1 if first else 2)
        if first:
            open(marker, "w").close()
            print("Traceback (most recent call last):\\n{flaky_line}", flush=True)
            return 1
        return 0
    record()
    time.sleep(3600 if BEHAVIOR == "hang" else SECONDS)
    return {exit_code} if BEHAVIOR == "fail" else 0


if __name__ == "__main__":
    sys.exit(main())
'''

STAND_IN = '''

def {name}(*_arguments, **_registration):
    """Stands in for sglang's marker: cigen reads the call below without importing this file."""
'''


def registrations(source: str) -> list[str]:
    """The top-level register_*_ci(...) statements of a test file, as written."""
    tree = ast.parse(source)
    return [
        ast.get_source_segment(source, node)
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id.startswith("register_")
        and node.value.func.id.endswith("_ci")
    ]


def recording_test(
    file: str, behavior: str = "pass", marks: list[str] | None = None, exit_code: int = 1, seconds: float = 0
) -> str:
    """A test file that records its run and then behaves as BEHAVIORS says (a pass or a fail after `seconds`).
    `marks`: registration statements to keep (their functions are stubbed so the file runs)."""
    assert behavior in BEHAVIORS, behavior
    marks = marks or []
    names = sorted({mark.split("(", 1)[0] for mark in marks})
    head = f'"""Recording test file (tests/act/fixture.py): {behavior}."""\n'
    stubs = "".join(STAND_IN.format(name=name) for name in names)
    body = RECORDING_BODY.format(
        file=file, behavior=behavior, exit_code=exit_code, flaky_line=FLAKY_LINE, seconds=seconds
    )
    return head + stubs + "\n" + "".join(f"{mark}\n" for mark in marks) + body


def recording_copy(source: str, file: str, behavior: str = "pass") -> str:
    """`source` (a real test file) as a recording file keeping its registrations."""
    return recording_test(file, behavior, registrations(source))


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def write_tree(root: Path, files: Mapping[str, str | None]) -> None:
    """Write (None: delete) files under root."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@dataclass(frozen=True)
class PullRequest:
    """A pull request of the fixture: its head commit on a branch and GitHub's merge commit."""

    number: int
    branch: str
    base_sha: str
    head_sha: str
    merge_sha: str


@dataclass(frozen=True)
class FixtureRepo:
    """A git repository in tmp whose origin claims to be github.com/octo/fixture."""

    path: Path

    @property
    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")

    def commit(self, files: Mapping[str, str | None], message: str = "change") -> str:
        """Commit `files` on the checked-out branch; the new SHA."""
        write_tree(self.path, files)
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return self.head

    def pull_request(self, files: Mapping[str, str | None], number: int = 1, branch: str = "feature") -> PullRequest:
        """Commit `files` on a new branch, merge it into the default branch as GitHub's test merge does
        (refs/pull/N/head, refs/pull/N/merge) and check that merge commit out, detached: act reads the
        pull request's GITHUB_SHA from the working copy."""
        base = git(self.path, "rev-parse", DEFAULT_BRANCH)
        git(self.path, "checkout", "-q", "-b", branch, base)
        head = self.commit(files, f"pull request #{number}")
        git(self.path, "checkout", "-q", "--detach", base)
        git(self.path, "merge", "-q", "--no-ff", "-m", f"Merge {head} into {base}", head)
        merge = self.head
        git(self.path, "update-ref", f"refs/pull/{number}/head", head)
        git(self.path, "update-ref", f"refs/pull/{number}/merge", merge)
        return PullRequest(number, branch, base, head, merge)

    def checkout(self, ref: str = DEFAULT_BRANCH) -> None:
        git(self.path, "checkout", "-q", ref)

    def clone(self, path: Path) -> FixtureRepo:
        """A copy at `path` with the same commits, origin and identity, on the default branch: one
        per concurrent act run, since a pull request checks out its merge commit in the working copy."""
        done = subprocess.run(
            ["git", "clone", "-q", "--no-hardlinks", str(self.path), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        git(path, "remote", "set-url", "origin", f"https://github.com/{REPOSITORY}.git")
        for key in ("user.name", "user.email", "commit.gpgsign"):
            git(path, "config", "--local", key, git(self.path, "config", "--local", key))
        return FixtureRepo(path)


def make_repo(path: Path, files: Mapping[str, str]) -> FixtureRepo:
    """A repository at `path` with one commit of `files` on main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", DEFAULT_BRANCH)
    identity = {"user.name": "cigen-fixture", "user.email": "fixture@cigen.local", "commit.gpgsign": "false"}
    for key, value in identity.items():
        git(path, "config", "--local", key, value)
    git(path, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    repo = FixtureRepo(path)
    repo.commit(files, "fixture")
    return repo


def render_and_commit(repo: FixtureRepo) -> FixtureRepo:
    """`cigen render` into the repository's .github/, committed: what a user pushes."""
    from tests.support.rendering import render_tree  # the generator, only where a fixture is rendered

    render_tree(repo.path, repo.path / ".github")
    repo.commit({}, "cigen render")
    return repo


def repository_payload() -> dict:
    return {
        "full_name": REPOSITORY,
        "name": REPOSITORY.split("/")[1],
        "default_branch": DEFAULT_BRANCH,
        "owner": {"login": REPOSITORY.split("/")[0]},
    }


def push_event(repo: FixtureRepo, branch: str = DEFAULT_BRANCH) -> dict:
    """A push of the branch's head (act takes GITHUB_SHA from `after` because `deleted` is false)."""
    after = git(repo.path, "rev-parse", branch)
    first = git(repo.path, "rev-list", "--count", after) == "1"
    before = "0" * 40 if first else git(repo.path, "rev-parse", f"{after}^")
    return {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "deleted": False,
        "created": False,
        "repository": repository_payload(),
        "sender": {"login": "octocat"},
    }


def dispatch_event(inputs: Mapping[str, str], branch: str = DEFAULT_BRANCH) -> dict:
    return {
        "ref": f"refs/heads/{branch}",
        "inputs": dict(inputs),
        "repository": repository_payload(),
        "sender": {"login": "octocat"},
    }


def pull_request_event(
    pr: PullRequest, labels: list[str] | None = None, action: str = "synchronize", draft: bool = False
) -> dict:
    """The event as GitHub sends it; `labels` and `draft` as they were when it was sent."""
    pull = {
        "number": pr.number,
        "state": "open",
        "draft": draft,
        "labels": [{"name": name} for name in labels or []],
        "head": {"ref": pr.branch, "sha": pr.head_sha, "repo": {"full_name": REPOSITORY}},
        "base": {"ref": DEFAULT_BRANCH, "sha": pr.base_sha, "repo": {"full_name": REPOSITORY}},
        "merge_commit_sha": pr.merge_sha,
    }
    return {
        "action": action,
        "number": pr.number,
        "pull_request": pull,
        "repository": repository_payload(),
        "sender": {"login": "octocat"},
    }


def issue_comment_event(
    number: int,
    body: str,
    login: str,
    association: str,
    comment_id: int = 101,
    created_at: str = "2026-07-20T10:00:00Z",
) -> dict:
    """A new comment on pull request `number` (an issue with a `pull_request` key)."""
    user = {"login": login, "id": 7, "type": "User"}
    comment = {
        "id": comment_id,
        "body": body,
        "user": user,
        "author_association": association,
        "created_at": created_at,
    }
    pull = {"url": f"https://api.github.com/repos/{REPOSITORY}/pulls/{number}"}
    issue = {"number": number, "state": "open", "pull_request": pull}
    return {"action": "created", "issue": issue, "comment": comment, "repository": repository_payload(), "sender": user}


# The fake nvidia-smi of the act scenarios. It answers the two queries cigen makes (the shard
# runner's preflight and action.yml's detect step) and a plain call. The card follows the job: a job
# whose id names 5090 is on an RTX 5090 runner, any other on an H100 (act cannot tell a step which
# labels picked its runner). The shard runner's preflight sees 8 such cards (enough for any pool's
# --gpus), the action's detect step one. CIGEN_FAKE_GPU (--env of the run) sets the state: idle, busy
# (3000 MiB free), hang (never answers) or none (the driver sees no GPU).
FAKE_NVIDIA_SMI = """#!/bin/sh
case "$GITHUB_JOB" in
  *5090*) name="NVIDIA GeForce RTX 5090"; total=32607 ;;
  *) name="NVIDIA H100 80GB HBM3"; total=81559 ;;
esac
case "${CIGEN_FAKE_GPU:-idle}" in
  idle) used=512 ;;
  busy) used=$((total - 3000)) ;;
  hang) exec sleep 600 ;;
  none) echo "No devices were found"; exit 6 ;;
  *) echo "fake nvidia-smi: unknown CIGEN_FAKE_GPU=$CIGEN_FAKE_GPU" >&2; exit 2 ;;
esac
free=$((total - used))
case "$1" in
  --query-gpu=index,uuid,memory.used,memory.free,memory.total)
    for index in 0 1 2 3 4 5 6 7; do echo "$index, GPU-fake-$index, $used, $free, $total"; done ;;
  --query-gpu=index,name,memory.total,memory.free) echo "0, $name, $total, $free" ;;
  --query-gpu=*) echo "fake nvidia-smi: unknown query $1" >&2; exit 2 ;;
  *) printf 'fake nvidia-smi\n| 0  %s | %sMiB / %sMiB |\n' "$name" "$used" "$total" ;;
esac
"""


def fake_gpu_bin(folder: Path) -> Path:
    """A folder holding the fake `nvidia-smi` above, to put first on PATH (bin_dirs)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "nvidia-smi"
    script.write_text(FAKE_NVIDIA_SMI)
    script.chmod(0o755)
    return folder


def venv_python_bin(folder: Path) -> Path:
    """A folder whose `python3` and `python` are this test environment's interpreter (torch,
    requests): the steps that run the stand-in server and its e2e test need them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("python3", "python"):
        script = folder / name
        script.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        script.chmod(0o755)
    return folder


def cigen_shim(folder: Path) -> Path:
    """A folder holding only `cigen` (this test environment's console script), to put first on PATH."""
    cigen = Path(sys.executable).parent / "cigen"
    assert cigen.is_file(), f"no cigen beside {sys.executable}: run `pip install -e .` (make test does)"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cigen").symlink_to(cigen)
    return folder


def cigen_action(folder: Path) -> Path:
    """A copy of cigen's composite action (action.yml and the generator package it runs), to serve
    as the pinned `workflows.action` through --local-repository."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_ROOT / "action.yml", folder / "action.yml")
    shutil.copytree(REPO_ROOT / "generator", folder / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    return folder
