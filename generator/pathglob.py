"""cigen.yml's path filters in Python, as the gate's git pathspecs read them: `**/` any folders,
`*` and `?` within a name, `!pattern` excludes from the rest (git's `:(glob,exclude)`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache


@cache  # a render matches every suite's paths against the same few patterns thousands of times
def glob_regex(pattern: str) -> re.Pattern:
    """One glob as an anchored regex."""
    out, index = "", 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out, index = out + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            out, index = out + ".*", index + 2
        elif pattern[index] == "*":
            out, index = out + "[^/]*", index + 1
        elif pattern[index] == "?":
            out, index = out + "[^/]", index + 1
        else:
            out, index = out + re.escape(pattern[index]), index + 1
    return re.compile(out + r"\Z")


def path_filter_matches(patterns: Iterable[str], path: str) -> bool:
    """Whether a path filter (`!pattern` excludes) lets `path` through, as the gate's git diff does."""
    patterns = list(patterns)
    includes = [p for p in patterns if not p.startswith("!")]
    excludes = [p[1:] for p in patterns if p.startswith("!")]
    matched = any(glob_regex(p).match(path) for p in includes)
    return matched and not any(glob_regex(p).match(path) for p in excludes)
