"""Scan a whole test tree: find files by glob, scan each (through the cache), apply the
file-level rules sglang's `collect_tests` applies, and tie results to paths."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from generator.cache import ScanCache, default_cache_dir
from generator.config_document import ScanGlobs, read_document, scan_globs
from generator.errors import HasProblems, Problem, Severity, UserError, error
from generator.registration import Registration
from generator.scan import MAIN_HELP, FileScan, finding
from generator.scan_many import scan_files


@dataclass(frozen=True)
class TreeScan(HasProblems):
    """What one scan of a tree found."""

    root: Path
    files: tuple[str, ...]  # posix paths relative to root, sorted
    registrations: tuple[Registration, ...]
    problems: tuple[Problem, ...]


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


@cache
def _any_glob(patterns: tuple[str, ...]) -> re.Pattern:
    """One regex that matches what any of the globs matches (none: nothing)."""
    if not patterns:
        return re.compile(r"(?!)")
    return re.compile("|".join(f"(?:{glob_regex(pattern).pattern})" for pattern in patterns))


def _walk_root(pattern: str) -> str:
    """The folder a pattern cannot match outside of: its leading literal segments."""
    literal = []
    for segment in pattern.split("/")[:-1]:
        if any(ch in segment for ch in "*?["):
            break
        literal.append(segment)
    return "/".join(literal)


def _leaves(real_root: str, path: str) -> bool:
    """Whether `path`, its links resolved, is outside the folder whose real path is `real_root`."""
    real = os.path.realpath(path)
    return real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep)


def outside_root(rel: str, folder: bool) -> Problem:
    """A link out of the tree: named by its path in the tree, never by its target or content."""
    if folder:
        message = "a folder link that leads outside the scanned tree; nothing under it is scanned"
        return finding(0, "outside-root", message).at(rel)
    return finding(1, "outside-root", "a link that leads outside the scanned tree; the file is not read").at(rel)


def _is_folder(entry: os.DirEntry) -> bool:
    """A folder, or a link to one (as os.walk counts them); False where it cannot tell."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def discover_files(root: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> tuple[list[str], list[Problem]]:
    """Posix relative paths under root matching an include glob and no exclude glob, and an
    `outside-root` problem for each matching file, and each folder, whose real path leaves the
    root (a symbolic link out of the tree): such a file is listed but must never be read.

    Like `glob.glob(recursive=True)`, names starting with a dot are not matched.
    """
    include = tuple(p.removeprefix("./") for p in include)
    included = _any_glob(include)
    excluded = _any_glob(tuple(p.removeprefix("./") for p in exclude))
    found: set[str] = set()
    problems: list[Problem] = []
    root_text = os.fspath(root)
    real_root = os.path.realpath(root_text)
    for start in sorted({_walk_root(p) for p in include}):
        top = os.path.join(root_text, start) if start else root_text
        if start and os.path.isdir(top) and _leaves(real_root, top):
            problems.append(outside_root(start, folder=True))
            continue
        # os.walk's walk (links to folders listed, not entered; unreadable folders skipped), on
        # os.scandir's entries: they know whether they are links without one more stat per file.
        folders = [(top, start)]
        while folders:
            folder, rel_folder = folders.pop()
            prefix = rel_folder + "/" if rel_folder else ""
            try:
                with os.scandir(folder) as listing:
                    entries = list(listing)
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                rel = prefix + entry.name
                if _is_folder(entry):
                    if not entry.is_symlink():
                        folders.append((entry.path, rel))
                    elif _leaves(real_root, entry.path):
                        problems.append(outside_root(rel, folder=True))
                elif included.match(rel) and not excluded.match(rel):
                    found.add(rel)
                    if entry.is_symlink() and _leaves(real_root, entry.path):
                        problems.append(outside_root(rel, folder=False))
    return sorted(found), problems


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
    """Scan every matching file under root; problems from all files are collected. A file or
    folder whose real path leaves the root is reported (`outside-root`) and never read."""
    files, problems = discover_files(root, include, exclude)
    outside = {p.path for p in problems}
    readable = [rel for rel in files if rel not in outside]
    registrations: list[Registration] = []
    if cache is not None:
        results = cache.lookup_many(root, readable)
    else:
        results = {rel: result for rel, (_, result) in zip(readable, scan_files(os.fspath(root), readable))}
    for rel in readable:
        result = results[rel]
        registrations.extend(marker.at(rel) for marker in result.markers)
        problems.extend(problem.at(rel) for problem in (*result.findings, *_file_rules(result)))
    return TreeScan(
        root=root,
        files=tuple(files),
        registrations=tuple(sorted(registrations, key=lambda r: r.sort_key)),
        problems=tuple(sorted(problems)),
    )


def no_test_files(scan: TreeScan, globs: ScanGlobs) -> list[Problem]:
    """No test file at all is a wrong --root or include glob, not an empty CI: an error at the
    config's `tests.include`."""
    if scan.files:
        return []
    return [
        error(
            globs.source,
            globs.include_line,
            "no-test-files",
            f"no file under {scan.root} matches tests.include ({', '.join(globs.include)})",
            help="run from the repository root or pass --root; check tests.include in cigen.yml",
        )
    ]


def check_root(root: Path) -> None:
    """The tree's root is a folder; anything else is a wrong --root."""
    if not root.is_dir():
        raise UserError(str(root), 0, "no-root", "not a directory", help="pass the repository root with --root")


def read_tree(root: Path, config_path: Path | None = None, use_cache: bool = True) -> tuple[ScanGlobs, TreeScan]:
    """The config's test globs and a scan of the files they match: what `cigen scan` needs. The
    config is read and validated (generator/config_document.py) but not built into a Config."""
    check_root(root)
    cache_dir = default_cache_dir() if use_cache else None
    globs = scan_globs(read_document(config_path, root, cache_dir))
    cache = ScanCache(cache_dir) if cache_dir is not None else None
    return globs, scan_tree(root, globs.include, globs.exclude, cache)
