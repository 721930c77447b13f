"""Which workflow runs the timings loop may learn from: its only trust decision, in one place.

A shard's results file is written by the code the run checked out. A pull request's run (a
fork's above all) runs the pull request's code, which can write any number into that file, or
its own copy of the runner. So only runs of the default branch's kind are trusted: a `push`,
`schedule` or `workflow_dispatch` run of a generated workflow that has shard jobs, on a branch
of `workflows.branches`, whose code came from this repository. Everything is read from the
GitHub API's answer about the run, never from the artifact or its file.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.github.client import RunOrigin
from generator.model import Config

TRUSTED_EVENTS = ("push", "schedule", "workflow_dispatch")
SHARD_WORKFLOWS = ("per-commit", "nightly")  # the outputs whose shard jobs upload results artifacts


@dataclass(frozen=True)
class TrustedRuns:
    """What a run must be for its results to count."""

    repo: str  # owner/name
    workflows: frozenset[str]  # .github/workflows/NAME.yml
    branches: frozenset[str]

    def untrusted_reason(self, run: RunOrigin) -> str | None:
        """None for a run whose results may be used; else why not, as the summary counts it
        ("skipped 41 artifacts from pull_request runs")."""
        if run.event not in TRUSTED_EVENTS:
            return f"{run.event} runs"
        if run.repository.lower() != self.repo.lower() or (run.head_repository or "").lower() != self.repo.lower():
            return "runs of code from another repository"
        if workflow_file(run.path, self.repo) not in self.workflows:
            return "runs of other workflows"
        if run.head_branch not in self.branches:
            return "runs on other branches"
        return None


def workflow_file(path: str, repo: str) -> str:
    """A run's `path` as a repository path: `.github/workflows/x.yml` (GitHub sometimes answers
    `owner/name/.github/workflows/x.yml@ref`; another repository's prefix stays and matches nothing)."""
    path = path.split("@", 1)[0]
    prefix = f"{repo}/"
    return path[len(prefix) :] if path.lower().startswith(prefix.lower()) else path


def trusted_runs(config: Config, repo: str) -> TrustedRuns:
    """The trusted runs of `repo` under `config`: its shard workflows on its branches."""
    workflows = frozenset(f".github/workflows/{config.workflows.file_name(name)}" for name in SHARD_WORKFLOWS)
    return TrustedRuns(repo, workflows, frozenset(config.workflows.branches))
