"""/rerun-test comments -> validated targets: which registered test runs on which pool.

Pure: a comment, the scan and the config in; a `RerunRequest` or `RerunRejected` out. Only
the comment's first line is read. It must be `/rerun-test` followed by one or more selectors
(`FILE` or `FILE::Class` or `FILE::Class.method`) and optionally `@<commit>` last. Every
selector is checked by shape (plain ASCII, no shell metacharacters, no globbing, no `..`, no
absolute path, bounded length) and then by exact match against the scan: it must be a file
with an enabled registration of a backend the config plans, in a suite the config enables. A
file registered in several such suites runs on every pool of every one of them (deduplicated),
as CI would run it.

The command a target runs is an argv list (`python3 FILE [Class.method]`), never a shell string.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from hashlib import sha256
from math import ceil

from generator.errors import Problem
from generator.model import Config, Registration
from generator.names import rerun_job_name
from generator.tree import TreeScan

COMMAND = "/rerun-test"
DEFAULT_MAX_SELECTORS = 8
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
_PIN = re.compile(r"@[0-9a-fA-F]{7,40}\Z")
_GLOB = "*?[]"
_SHELL_METACHARACTERS = "$`;|&<>(){}!\\'\"~#"


class RerunRejected(Exception):
    """The comment is not a runnable /rerun-test request; nothing may run. Its problems are
    located on the comment's first line, the only one read."""

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
        )


@dataclass(frozen=True)
class RerunRequest:
    """An accepted comment: its selectors, the commit it pins (if any), the runs."""

    selectors: tuple[str, ...]
    pin: str | None  # lower-case hex prefix named with `@`, if any
    targets: tuple[Target, ...]

    @property
    def pools(self) -> tuple[str, ...]:
        return tuple(sorted({t.pool for t in self.targets}))

    def targets_by_pool(self) -> dict[str, list[dict]]:
        return {pool: [t.to_json() for t in self.targets if t.pool == pool] for pool in self.pools}

    def to_json(self) -> dict:
        return {
            "accepted": True,
            "selectors": list(self.selectors),
            "pin": self.pin,
            "pools": list(self.pools),
            "targets": [t.to_json() for t in self.targets],
        }


@dataclass(frozen=True)
class RerunIndex:
    """What the parser needs from a scan: every file, its registrations, its scan errors."""

    files: frozenset[str]
    registrations: dict[str, tuple[Registration, ...]]
    errors: dict[str, tuple[Problem, ...]]

    @classmethod
    def from_scan(cls, scan: TreeScan) -> RerunIndex:
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
        raise reject("absolute-path", f"{quoted}: absolute paths are not allowed; use the path from the repository root")
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
        raise reject("selector-too-long", f"a selector is {len(selector)} characters; the limit is {MAX_SELECTOR_CHARS}")
    path, separator, test = selector.partition("::")
    _check_path(selector, path)
    if not separator:
        return path, None
    if not _TEST_NAME.match(test) or len(test) > MAX_TEST_NAME_CHARS:
        raise reject(
            "bad-test-name",
            f"{quoted}: after '::' give Class or Class.method (Python identifiers, at most {MAX_TEST_NAME_CHARS} characters)",
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
        raise reject("unknown-suite", f"{quoted} is registered in suite {ascii(unknown[0])}, which the config does not define")
    disabled = ", ".join(sorted({r.suite for r in enabled}))
    raise reject("suite-disabled", f"{quoted} runs only in suite {disabled}, which the config disables")


def _targets(selector: str, path: str, test: str | None, suites: list[Registration], config: Config) -> list[Target]:
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
        )
        for pool, names in sorted(by_pool.items())
    ]


def parse_comment(body: str, index: RerunIndex, config: Config, max_selectors: int = DEFAULT_MAX_SELECTORS) -> RerunRequest:
    """The request in a comment's first line, or RerunRejected with every reason."""
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
    words = tokens[1:]
    pin = None
    if words and words[-1].startswith("@"):
        if not _PIN.match(words[-1]):
            raise reject("bad-pin", f"{ascii(words[-1])}: name the commit as @ and 7 to 40 hex digits")
        pin = words.pop()[1:].lower()
    misplaced = [w for w in words if w.startswith("@")]
    if misplaced:
        raise reject("bad-pin", f"{ascii(misplaced[0])}: the @commit comes last, after the selectors")
    if not words:
        raise reject("no-selector", f"name at least one test: {COMMAND} test/registered/<dir>/test_<name>.py[::Class.method]")
    if len(words) > max_selectors:
        raise reject("too-many-selectors", f"{len(words)} selectors; at most {max_selectors} per comment")
    repeated = sorted({w for w in words if words.count(w) > 1})
    if repeated:
        raise reject("duplicate-selector", f"{ascii(repeated[0])} is named twice")
    problems: list[Problem] = []
    targets: list[Target] = []
    for selector in words:
        try:
            path, test = _split_selector(selector)
            suites = _runnable_suites(path, index, config)
        except RerunRejected as rejected:
            problems.extend(rejected.problems)
            continue
        targets.extend(_targets(selector, path, test, suites, config))
    if problems:
        raise RerunRejected(problems)
    return RerunRequest(selectors=tuple(words), pin=pin, targets=tuple(targets))
