"""Typed reads of GitHub API answers: generator/shipped/github_api.py's `Answer`, the one
implementation the shipped programs and the package share (every field checked before use;
a surprise is a `GitHubApiError` with code `github-answer`)."""

from __future__ import annotations

from generator.shipped.github_api import Answer, GitHubApiError, parse_time

__all__ = ["Answer", "GitHubApiError", "parse_time"]
