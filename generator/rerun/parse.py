"""/rerun-test comments -> validated targets: which registered test runs on which pool.

A comment, the scan (with the default branch's files, read only to parse them) and the config
in; a `RerunRequest` or `RerunRejected` out. The comment is one line: `/rerun-test`, one or
more selectors (`FILE` or `FILE::Class` or `FILE::Class.method`) and optionally `@<commit>`
(the full 40-hex SHA) last; anything but blanks on a later line is refused, not ignored. Every
selector is checked by shape (plain ASCII, no shell metacharacters, no globbing, no `..`, no
absolute path, bounded length), then by exact match against the scan: it must be a file with an
enabled registration of a backend the config plans, in a suite the config enables; a Class must
be defined at the file's top level and a method in that class (or in a base class defined in
the same file). Selectors may not overlap (`FILE` and `FILE::Class`). A file registered in
several such suites runs on every pool of every one of them (deduplicated), as CI would run it;
the whole request must fit the per-comment limits on test jobs and estimated GPU-minutes.

The command a target runs is an argv list (`python3 FILE [Class.method]`), never a shell string.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from hashlib import sha256
from math import ceil
from pathlib import Path

from generator.errors import Problem
from generator.model import Config, Registration
from generator.names import rerun_job_name
from generator.scan import read_source
from generator.tree import TreeScan

COMMAND = "/rerun-test"
DEFAULT_MAX_SELECTORS = 8
DEFAULT_MAX_JOBS = 4  # test jobs per comment (a selector runs once per pool of its suites)
DEFAULT_MAX_GPU_MINUTES = 1440  # estimated per comment: est. seconds / 60 x the pool's GPUs, summed
MAX_COMMENT_CHARS = 65536  # GitHub's own limit for a comment body
MAX_LINE_CHARS = 1000
MAX_SELECTOR_CHARS = 300
MAX_TEST_NAME_CHARS = 150
MAX_STATUS_CONTEXT_CHARS = 200
PYTHON = "python3"

_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_PATH = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*\.py\Z")
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_TEST_NAME = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})?\Z")
_PIN = re.compile(r"@[0-9a-fA-F]{40}\Z")
_SHORT_PIN = re.compile(r"@[0-9a-fA-F]{1,39}\Z")
_PIN_HELP = "name the commit as @ and its full 40-hex-digit SHA"
_GLOB = "*?[]"
_SHELL_METACHARACTERS = "$`;|&<>(){}!\\'\"~#"


class RerunRejected(Exception):
    """The comment is not a runnable /rerun-test request; nothing may run. Its problems are
    located on the comment's first line, the request's one line."""

    def __init__(self, problems: list[Problem]):
        self.problems = tuple(problems)
        super().__init__(self.reason)

    @property
    def code(self) -> str:
        return self.problems[0].code

    @property
    def reason(self) -> str:
        return "\n".join(p.message for p in self.problems)


def reject(code: str, message: str) -> RerunRejected:
    """A rejection with one reason, to raise."""
    return RerunRejected([Problem("comment", 1, code, message)])


@dataclass(frozen=True)
class Target:
    """One test run: a selector on one pool, with the argv the runner executes."""

    selector: str
    file: str
    test: str | None  # "Class" or "Class.method"
    pool: str
    labels: tuple[str, ...]
    suites: tuple[str, ...]
    timeout_minutes: int
    est_seconds: float = 0.0  # the whole file's estimate (measured where the plan has it), even for one test
    gpus: int = 1  # of the pool's runners

    @property
    def gpu_minutes(self) -> float:
        return self.est_seconds / 60 * self.gpus

    @property
    def argv(self) -> tuple[str, ...]:
        return (PYTHON, self.file) + ((self.test,) if self.test else ())

    @property
    def job_name(self) -> str:
        return rerun_job_name(self.pool, self.selector)

    @property
    def status_context(self) -> str:
        """The commit-status name; long selectors keep their start plus a short hash."""
        context = f"rerun-test {self.selector} ({self.pool})"
        if len(context) <= MAX_STATUS_CONTEXT_CHARS:
            return context
        digest = sha256(self.selector.encode()).hexdigest()[:8]
        keep = MAX_STATUS_CONTEXT_CHARS - len(f"rerun-test ...{digest} ({self.pool})")
        return f"rerun-test {self.selector[:keep]}...{digest} ({self.pool})"

    def to_json(self) -> dict:
        return {
            "selector": self.selector,
            "file": self.file,
            "test": self.test,
            "pool": self.pool,
            "labels": list(self.labels),
            "suites": list(self.suites),
            "timeout_minutes": self.timeout_minutes,
            "est_seconds": self.est_seconds,
            "gpus": self.gpus,
            "argv": list(self.argv),
            "job_name": self.job_name,
            "status_context": self.status_context,
        }

    @classmethod
    def from_json(cls, data: dict) -> Target:
        return cls(
            selector=data["selector"],
            file=data["file"],
            test=data["test"],
            pool=data["pool"],
            labels=tuple(data["labels"]),
            suites=tuple(data["suites"]),
            timeout_minutes=data["timeout_minutes"],
            est_seconds=data["est_seconds"],
            gpus=data["gpus"],
        )


@dataclass(frozen=True)
class RerunRequest:
    """An accepted comment: its selectors, the commit it pins (if any), the runs."""

    selectors: tuple[str, ...]
    pin: str | None  # the full lower-case commit SHA named with `@`, if any
    targets: tuple[Target, ...]

    @property
    def pools(self) -> tuple[str, ...]:
        return tuple(sorted({t.pool for t in self.targets}))

    @property
    def jobs(self) -> int:
        return len(self.targets)

    @property
    def gpu_minutes(self) -> int:
        return estimated_gpu_minutes(self.targets)

    def targets_by_pool(self) -> dict[str, list[dict]]:
        return {pool: [t.to_json() for t in self.targets if t.pool == pool] for pool in self.pools}

    def to_json(self) -> dict:
        return {
            "accepted": True,
            "selectors": list(self.selectors),
            "pin": self.pin,
            "pools": list(self.pools),
            "jobs": self.jobs,
            "gpu_minutes": self.gpu_minutes,
            "targets": [t.to_json() for t in self.targets],
        }


def estimated_gpu_minutes(targets: tuple[Target, ...] | list[Target]) -> int:
    """The targets' estimated GPU-minutes, rounded up (what budgets count)."""
    return ceil(round(sum(t.gpu_minutes for t in targets), 6))


@dataclass(frozen=True)
class RerunIndex:
    """What the parser needs from a scan: every file, its registrations, its scan errors, the
    root to read a file's classes from, and measured seconds per (suite, file) where known."""

    files: frozenset[str]
    registrations: dict[str, tuple[Registration, ...]]
    errors: dict[str, tuple[Problem, ...]]
    root: Path | None = None
    measured: dict[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def from_scan(cls, scan: TreeScan, measured: dict[tuple[str, str], float] | None = None) -> RerunIndex:
        registrations: dict[str, list[Registration]] = {}
        for registration in scan.registrations:
            registrations.setdefault(registration.path, []).append(registration)
        errors: dict[str, list[Problem]] = {}
        for problem in scan.errors:
            errors.setdefault(problem.path, []).append(problem)
        return cls(
            files=frozenset(scan.files),
            registrations={path: tuple(regs) for path, regs in registrations.items()},
            errors={path: tuple(problems) for path, problems in errors.items()},
            root=scan.root,
            measured=dict(measured or {}),
        )

    def paths_of(self, backends: tuple[str, ...]) -> list[str]:
        """Files with a registration of one of `backends`."""
        return sorted(p for p, regs in self.registrations.items() if any(r.backend in backends for r in regs))


def first_line(body: str) -> str:
    """The comment's first line without its line ending and surrounding blanks."""
    return body.split("\n", 1)[0].removesuffix("\r").strip(" \t")


def _check_characters(line: str) -> None:
    for column, char in enumerate(line, start=1):
        if char == "\t" or " " <= char <= "~":
            continue
        name = unicodedata.name(char, "control character" if unicodedata.category(char) == "Cc" else "unnamed")
        code = "control-character" if unicodedata.category(char) == "Cc" else "non-ascii"
        raise reject(
            code,
            f"character U+{ord(char):04X} ({name}) at column {column} is not allowed; "
            "a /rerun-test line is plain ASCII",
        )


def _check_path(selector: str, path: str) -> None:
    """Shape only: the registry decides whether the file exists."""
    quoted = ascii(selector)
    globbing = [c for c in path if c in _GLOB]
    if globbing:
        raise reject("glob", f"{quoted}: wildcard {globbing[0]!r} is not allowed; name one file exactly")
    shell = [c for c in path if c in _SHELL_METACHARACTERS]
    if shell:
        raise reject("shell-metacharacter", f"{quoted}: shell metacharacter {shell[0]!r} is not allowed")
    if path.startswith("/"):
        raise reject(
            "absolute-path", f"{quoted}: absolute paths are not allowed; use the path from the repository root"
        )
    segments = path.split("/")
    if ".." in segments:
        raise reject("path-traversal", f"{quoted}: '..' is not allowed in a path")
    if not path.endswith(".py"):
        raise reject("not-python", f"{quoted}: a selector names a .py test file")
    if "." in segments or "" in segments:
        raise reject("bad-path", f"{quoted}: write the path as `cigen scan` lists it (no './', no '//')")
    if not _PATH.match(path):
        raise reject(
            "bad-path",
            f"{quoted}: path segments are letters, digits, '_', '.' and '-', and do not start with '.' or '-'",
        )


def _split_selector(selector: str) -> tuple[str, str | None]:
    quoted = ascii(selector)
    if len(selector) > MAX_SELECTOR_CHARS:
        raise reject(
            "selector-too-long", f"a selector is {len(selector)} characters; the limit is {MAX_SELECTOR_CHARS}"
        )
    path, separator, test = selector.partition("::")
    _check_path(selector, path)
    if not separator:
        return path, None
    if not _TEST_NAME.match(test) or len(test) > MAX_TEST_NAME_CHARS:
        raise reject(
            "bad-test-name",
            f"{quoted}: after '::' give Class or Class.method "
            f"(Python identifiers, at most {MAX_TEST_NAME_CHARS} characters)",
        )
    return path, test


def _runnable_suites(path: str, index: RerunIndex, config: Config) -> list[Registration]:
    """The file's enabled registrations of planned backends whose suite the config enables, else why not."""
    quoted = ascii(path)
    if path not in index.files:
        hint = difflib.get_close_matches(path, index.paths_of(config.backends), n=1, cutoff=0.85)
        suffix = f"; did you mean {ascii(hint[0])}?" if hint else ""
        raise reject("not-registered", f"{quoted} is not a test file of this repository's scan{suffix}")
    registrations = index.registrations.get(path, ())
    if not registrations and path in index.errors:
        error = index.errors[path][0]
        raise reject("scan-error", f"{quoted} has a registration error: line {error.line}: {error.message}")
    if not registrations:
        raise reject("not-registered", f"{quoted} has no register_<backend>_ci(...) call")
    planned = [r for r in registrations if r.backend in config.backends]
    if not planned:
        backends = ", ".join(sorted({r.backend for r in registrations}))
        raise reject(
            "backend-not-planned",
            f"{quoted} is registered only for {backends}; /rerun-test runs {', '.join(config.backends)} tests",
        )
    enabled = [r for r in planned if r.enabled]
    if not enabled:
        raise reject("disabled", f"{quoted} is disabled for {planned[0].backend}: {planned[0].disabled}")
    runnable = [r for r in enabled if r.suite in config.suites and config.suites[r.suite].enabled]
    if runnable:
        return runnable
    unknown = sorted({r.suite for r in enabled if r.suite not in config.suites})
    if unknown:
        raise reject(
            "unknown-suite", f"{quoted} is registered in suite {ascii(unknown[0])}, which the config does not define"
        )
    disabled = ", ".join(sorted({r.suite for r in enabled}))
    raise reject("suite-disabled", f"{quoted} runs only in suite {disabled}, which the config disables")


def _class_members(tree: ast.Module) -> dict[str, frozenset[str]]:
    """Each top-level class -> the names it defines (methods and class attributes), with those of
    its bases that are classes defined in the same file (by plain name, as unittest finds them)."""
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def members(name: str, seen: frozenset[str]) -> set[str]:
        node = classes[name]
        names: set[str] = set()
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(item.name)
            elif isinstance(item, ast.Assign):
                names.update(t.id for t in item.targets if isinstance(t, ast.Name))
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                names.add(item.target.id)
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in classes and base.id not in seen:
                names |= members(base.id, seen | {base.id})
        return names

    return {name: frozenset(members(name, frozenset({name}))) for name in classes}


def read_classes(root: Path, path: str) -> dict[str, frozenset[str]] | None:
    """The file's top-level classes and their members, parsed (never imported); None when the
    file cannot be read or parsed, or its real path leaves the root."""
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(os.path.join(root, path))]) != real_root:
        return None
    data = read_source(root, path)
    if not isinstance(data, bytes):
        return None
    try:
        return _class_members(ast.parse(data))
    except (SyntaxError, ValueError):
        return None


def _check_test(selector: str, path: str, test: str | None, classes: dict[str, frozenset[str]] | None) -> None:
    """A Class must be defined at the file's top level, a method in that class."""
    if test is None:
        return
    quoted = ascii(selector)
    if classes is None:
        raise reject("unknown-test", f"{quoted}: the file cannot be parsed to find {test}")
    name, _, method = test.partition(".")
    if name not in classes:
        hint = difflib.get_close_matches(name, sorted(classes), n=1, cutoff=0.8)
        suffix = f"; did you mean {hint[0]}?" if hint else ""
        raise reject("unknown-class", f"{quoted}: the file defines no top-level class {name}{suffix}")
    if method and method not in classes[name]:
        hint = difflib.get_close_matches(method, sorted(classes[name]), n=1, cutoff=0.8)
        suffix = f"; did you mean {hint[0]}?" if hint else ""
        raise reject(
            "unknown-method",
            f"{quoted}: class {name} has no method {method} in this file "
            f"(its own or a base class's defined here){suffix}",
        )


def _covers(outer: str | None, inner: str | None) -> bool:
    """Whether running `outer` (None: the whole file) already runs `inner` of the same file."""
    return outer is None or (inner is not None and inner.startswith(outer + "."))


def _overlaps(parsed: list[tuple[str, str, str | None]]) -> list[Problem]:
    """A selector that another one of the comment already runs (`FILE` and `FILE::Class`)."""
    problems = []
    for selector, path, test in parsed:
        outer = next((s for s, p, t in parsed if p == path and s != selector and _covers(t, test)), None)
        if outer is not None:
            message = f"{ascii(selector)} is already run by {ascii(outer)}; name only one of them"
            problems.append(Problem("comment", 1, "overlapping-selectors", message))
    return problems


def _est_seconds(path: str, suites: tuple[str, ...], registrations: list[Registration], index: RerunIndex) -> float:
    """The file's estimate on a pool: the longest of its suites there, measured where the plan says."""
    estimates = [index.measured.get((r.suite, path), r.est_seconds) for r in registrations if r.suite in suites]
    return max(estimates, default=0.0)


def _targets(
    selector: str, path: str, test: str | None, suites: list[Registration], config: Config, index: RerunIndex
) -> list[Target]:
    by_pool: dict[str, list[str]] = {}
    for registration in suites:
        for pool in config.suites[registration.suite].pools:
            names = by_pool.setdefault(pool, [])
            if registration.suite not in names:
                names.append(registration.suite)
    return [
        Target(
            selector=selector,
            file=path,
            test=test,
            pool=pool,
            labels=config.pools[pool].labels,
            suites=tuple(names),
            timeout_minutes=ceil(max(config.suites[s].per_file_timeout_seconds for s in names) / 60),
            est_seconds=_est_seconds(path, tuple(names), suites, index),
            gpus=config.pools[pool].gpus,
        )
        for pool, names in sorted(by_pool.items())
    ]


@dataclass(frozen=True)
class CommentLimits:
    """What one comment may ask for: selectors, test jobs, estimated GPU-minutes."""

    max_selectors: int = DEFAULT_MAX_SELECTORS
    max_jobs: int = DEFAULT_MAX_JOBS
    max_gpu_minutes: int = DEFAULT_MAX_GPU_MINUTES


def check_comment_budget(request: RerunRequest, limits: CommentLimits) -> None:
    """Refuse a request that queues more test jobs or estimated GPU-minutes than one comment may."""
    if request.jobs > limits.max_jobs:
        raise reject(
            "too-many-jobs",
            f"{request.jobs} test jobs ({len(request.selectors)} selectors on their pools); "
            f"at most {limits.max_jobs} per comment",
        )
    if request.gpu_minutes > limits.max_gpu_minutes:
        raise reject(
            "too-many-gpu-minutes",
            f"an estimated {request.gpu_minutes} GPU-minutes (each file's estimated time x its pool's GPUs); "
            f"at most {limits.max_gpu_minutes} per comment",
        )


def _check_later_lines(body: str) -> None:
    """The request is the first line; anything but blanks after it is refused, not ignored."""
    rest = body.split("\n", 1)[1] if "\n" in body else ""
    for number, line in enumerate(rest.split("\n"), start=2):
        if line.strip(" \t\r"):
            raise reject(
                "extra-lines",
                f"line {number} is not empty; a /rerun-test comment is one line (explain in a separate comment)",
            )


def _take_pin(words: list[str]) -> str | None:
    """The full commit SHA named last with `@`, removed from `words`; a short one is refused."""
    if not words or not words[-1].startswith("@"):
        return None
    if _SHORT_PIN.match(words[-1]):
        raise reject(
            "short-pin",
            f"{ascii(words[-1])}: a short SHA is not accepted (another commit can share its first digits); {_PIN_HELP}",
        )
    if not _PIN.match(words[-1]):
        raise reject("bad-pin", f"{ascii(words[-1])}: {_PIN_HELP}")
    return words.pop()[1:].lower()


def parse_comment(body: str, index: RerunIndex, config: Config, limits: CommentLimits | None = None) -> RerunRequest:
    """The request in a one-line comment, or RerunRejected with every reason."""
    limits = limits or CommentLimits()
    if len(body) > MAX_COMMENT_CHARS:
        raise reject("comment-too-long", f"the comment is {len(body)} characters; the limit is {MAX_COMMENT_CHARS}")
    line = first_line(body)
    if len(line) > MAX_LINE_CHARS:
        raise reject("line-too-long", f"the first line is {len(line)} characters; the limit is {MAX_LINE_CHARS}")
    _check_characters(line)
    tokens = line.split()
    if not tokens or tokens[0] != COMMAND:
        got = ascii(tokens[0]) if tokens else "an empty line"
        raise reject("unknown-command", f"the first line must start with {COMMAND}, got {got}")
    _check_later_lines(body)
    words = tokens[1:]
    pin = _take_pin(words)
    misplaced = [w for w in words if w.startswith("@")]
    if misplaced:
        raise reject("bad-pin", f"{ascii(misplaced[0])}: the @commit comes last, after the selectors")
    if not words:
        raise reject(
            "no-selector", f"name at least one test: {COMMAND} test/registered/<dir>/test_<name>.py[::Class.method]"
        )
    if len(words) > limits.max_selectors:
        raise reject("too-many-selectors", f"{len(words)} selectors; at most {limits.max_selectors} per comment")
    repeated = sorted({w for w in words if words.count(w) > 1})
    if repeated:
        raise reject("duplicate-selector", f"{ascii(repeated[0])} is named twice")
    problems: list[Problem] = []
    targets: list[Target] = []
    parsed: list[tuple[str, str, str | None]] = []
    classes: dict[str, dict[str, frozenset[str]] | None] = {}
    for selector in words:
        try:
            path, test = _split_selector(selector)
            suites = _runnable_suites(path, index, config)
            if test is not None and path not in classes:
                classes[path] = read_classes(index.root, path) if index.root is not None else None
            _check_test(selector, path, test, classes.get(path))
        except RerunRejected as rejected:
            problems.extend(rejected.problems)
            continue
        parsed.append((selector, path, test))
        targets.extend(_targets(selector, path, test, suites, config, index))
    problems.extend(_overlaps(parsed))
    if problems:
        raise RerunRejected(problems)
    request = RerunRequest(selectors=tuple(words), pin=pin, targets=tuple(targets))
    check_comment_budget(request, limits)
    return request
