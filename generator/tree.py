"""Scan a whole test tree: find files by glob, scan each (through the cache), apply the
file-level rules sglang's `collect_tests` applies, and tie results to paths."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from generator.cache import ScanCache
from generator.errors import Problem, Severity
from generator.model import Registration
from generator.scan import MAIN_HELP, FileScan, finding, read_source, scan_bytes


@dataclass(frozen=True)
class TreeScan:
    """What one scan of a tree found."""

    root: Path
    files: tuple[str, ...]  # posix paths relative to root, sorted
    registrations: tuple[Registration, ...]
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


@cache
def glob_regex(pattern: str) -> re.Pattern:
    """A gitignore-style glob as a regex over posix relative paths: `**/` spans folders,
    `*` and `?` stay inside one path segment."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _walk_root(pattern: str) -> str:
    """The folder a pattern cannot match outside of: its leading literal segments."""
    literal = []
    for segment in pattern.split("/")[:-1]:
        if any(ch in segment for ch in "*?["):
            break
        literal.append(segment)
    return "/".join(literal)


def discover_files(root: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """Posix relative paths under root matching an include glob and no exclude glob.

    Like `glob.glob(recursive=True)`, names starting with a dot are not matched.
    """
    include = tuple(p.removeprefix("./") for p in include)
    includes = [glob_regex(p) for p in include]
    excludes = [glob_regex(p.removeprefix("./")) for p in exclude]
    found: set[str] = set()
    root_text = os.fspath(root)
    for start in sorted({_walk_root(p) for p in include}):
        top = os.path.join(root_text, start) if start else root_text
        for folder, dirs, names in os.walk(top):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel_folder = folder[len(root_text) :].strip(os.sep).replace(os.sep, "/")
            prefix = rel_folder + "/" if rel_folder else ""
            for name in names:
                if name.startswith("."):
                    continue
                rel = prefix + name
                if any(r.match(rel) for r in includes) and not any(r.match(rel) for r in excludes):
                    found.add(rel)
    return sorted(found)


def _file_rules(result: FileScan) -> list[Problem]:
    """sglang's collect_tests: a marker is required, and an enabled one needs a main block."""
    if not result.markers:
        if any(f.severity is Severity.ERROR for f in result.findings):
            return []  # its markers are already reported as broken
        return [
            finding(
                1,
                "no-marker",
                "no register_<backend>_ci(...) call at top level",
                help="register the file, e.g. register_cuda_ci(est_time=60, suite=...), "
                "or exclude it under tests.exclude in cigen.yml",
            )
        ]
    enabled = [m for m in result.markers if m.disabled is None]
    if enabled and not result.has_main:
        return [
            finding(
                enabled[0].line,
                "missing-main",
                'no `if __name__ == "__main__":` block that runs the tests; '
                "`python3 FILE` would exit green without running anything",
                help=MAIN_HELP,
            )
        ]
    return []


def scan_tree(
    root: Path,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    cache: ScanCache | None = None,
) -> TreeScan:
    """Scan every matching file under root; problems from all files are collected."""
    files = discover_files(root, include, exclude)
    registrations: list[Registration] = []
    problems: list[Problem] = []
    results = cache.lookup_many(root, files, scan_bytes) if cache else None
    for rel in files:
        if results is not None:
            result = results[rel]
        else:
            data = read_source(root, rel)
            result = data if isinstance(data, FileScan) else scan_bytes(data)
        registrations.extend(marker.at(rel) for marker in result.markers)
        problems.extend(problem.at(rel) for problem in (*result.findings, *_file_rules(result)))
    return TreeScan(
        root=root,
        files=tuple(files),
        registrations=tuple(sorted(registrations, key=lambda r: r.sort_key)),
        problems=tuple(sorted(problems)),
    )
