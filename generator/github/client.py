"""The few GitHub REST calls cigen makes (/rerun-test, `cigen audit`, the timings loop):
generator/shipped/github_api.py, one stdlib `urllib` client that the programs shipped into
`.github/cigen/` and the package share."""

from __future__ import annotations

from generator.shipped.github_api import (
    DEFAULT_API_URL,
    Artifact,
    ArtifactListing,
    ChangedFile,
    GitHub,
    GitHubApiError,
    IssueComment,
    Job,
    Permission,
    Push,
    RunOrigin,
    Step,
    WorkflowRun,
)

__all__ = [
    "DEFAULT_API_URL",
    "Artifact",
    "ArtifactListing",
    "ChangedFile",
    "GitHub",
    "GitHubApiError",
    "IssueComment",
    "Job",
    "Permission",
    "Push",
    "RunOrigin",
    "Step",
    "WorkflowRun",
]
