"""Fixture repositories for act scenarios: git repos in tmp, recording test files, event payloads.

A recording test file appends one JSON line to $CIGEN_ACT_RECORDS (set by the harness) saying
which file ran, in which job (GITHUB_JOB) and shard (SHARD), with its pid and process group, then
behaves as asked: pass, fail, hang past any timeout, or leave a "server" child behind in its own
process group (the runner's group kill must end it; its pid is recorded as server_pid).
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
BEHAVIORS = ("pass", "fail", "hang", "server")

RECORDING_BODY = '''
import json
import os
import subprocess
import sys
import time

FILE = {file!r}
BEHAVIOR = {behavior!r}


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
        **extra,
    }}
    with open(os.environ["CIGEN_ACT_RECORDS"], "a") as records:
        records.write(json.dumps(entry, sort_keys=True) + "\\n")


def main():
    if BEHAVIOR == "server":
        # Same process group as this test: only a group kill by the runner ends it.
        server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        record(server_pid=server.pid)
        return 0
    record()
    if BEHAVIOR == "hang":
        time.sleep(3600)
    return {exit_code} if BEHAVIOR == "fail" else 0


if __name__ == "__main__":
    sys.exit(main())
'''

STAND_IN = '''

def {name}(**_registration):
    """Stands in for sglang's marker: cigen reads the call below without importing this file."""
'''


def registrations(source: str) -> list[str]:
    """The top-level register_*_ci(...) statements of a test file, as written."""
    tree = ast.parse(source)
    return [
        ast.get_source_segment(source, node)
        for node in tree.body
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
        and node.value.func.id.startswith("register_") and node.value.func.id.endswith("_ci")
    ]


def recording_test(file: str, behavior: str = "pass", marks: list[str] | None = None, exit_code: int = 1) -> str:
    """A test file that records its run and then passes, fails, hangs or leaves a server behind.
    `marks`: registration statements to keep (their functions are stubbed so the file runs)."""
    assert behavior in BEHAVIORS, behavior
    marks = marks or []
    names = sorted({mark.split("(", 1)[0] for mark in marks})
    head = f'"""Recording test file (tests/act/fixture.py): {behavior}."""\n'
    stubs = "".join(STAND_IN.format(name=name) for name in names)
    body = RECORDING_BODY.format(file=file, behavior=behavior, exit_code=exit_code)
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


def repository_payload() -> dict:
    return {"full_name": REPOSITORY, "name": REPOSITORY.split("/")[1], "default_branch": DEFAULT_BRANCH,
            "owner": {"login": REPOSITORY.split("/")[0]}}


def push_event(repo: FixtureRepo, branch: str = DEFAULT_BRANCH) -> dict:
    """A push of the branch's head (act takes GITHUB_SHA from `after` because `deleted` is false)."""
    after = git(repo.path, "rev-parse", branch)
    first = git(repo.path, "rev-list", "--count", after) == "1"
    before = "0" * 40 if first else git(repo.path, "rev-parse", f"{after}^")
    return {"ref": f"refs/heads/{branch}", "before": before, "after": after, "deleted": False, "created": False,
            "repository": repository_payload(), "sender": {"login": "octocat"}}


def dispatch_event(inputs: Mapping[str, str], branch: str = DEFAULT_BRANCH) -> dict:
    return {"ref": f"refs/heads/{branch}", "inputs": dict(inputs), "repository": repository_payload(),
            "sender": {"login": "octocat"}}


def pull_request_event(pr: PullRequest, labels: list[str] | None = None, action: str = "synchronize") -> dict:
    pull = {
        "number": pr.number,
        "state": "open",
        "labels": [{"name": name} for name in labels or []],
        "head": {"ref": pr.branch, "sha": pr.head_sha, "repo": {"full_name": REPOSITORY}},
        "base": {"ref": DEFAULT_BRANCH, "sha": pr.base_sha, "repo": {"full_name": REPOSITORY}},
        "merge_commit_sha": pr.merge_sha,
    }
    return {"action": action, "number": pr.number, "pull_request": pull, "repository": repository_payload(),
            "sender": {"login": "octocat"}}


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
