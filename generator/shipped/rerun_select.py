"""/rerun-test comments -> validated targets: which registered tests run in which CI job.

The comment is one line: `/rerun-test`, one or more selectors and optionally `@<commit>` (the
full 40-hex SHA) last; anything but blanks on a later line is refused, not ignored. The
selector forms (sglang's `slash_command_handler.py` habits), each resolved against the
registry only, never against the file system:

- `test/registered/x.py`, `...::Class` or `...::Class.method`: the path from the root;
- `registered/x.py::Class.method`: the same path inside a suite's working directory (`test/`);
- `x.py`: a bare file name that exactly one registered file has (else refused, with the list);
- a glob (`test/registered/core/*.py`): every runnable registered file it matches;
- a suite name (`stage-b-test-small-1-gpu`): every runnable file registered in it;
- `--changed`: the registered test files the pull request changes, at the pinned head.

Every selector is checked by shape first (plain ASCII, no shell metacharacters, no `..`, no
absolute path, bounded length). A Class must be defined at the file's top level and a method
in that class (or in a base class defined in the same file). A file runs in the CI job of
every suite and pool it is registered for (its `job`), as CI would run it; the files one
selector picks for one job run together in one test job. The whole request must fit the
per-comment limits on test jobs and estimated GPU-minutes.

The registry is `.github/cigen/rerun-test.json`, written by `cigen render` from the default
branch's scan and config: the same plan the CI jobs run.
"""

from __future__ import annotations

import ast
import difflib
import fnmatch
import os
import re
import unicodedata
from dataclasses import dataclass
from hashlib import sha256
from math import ceil

COMMAND = "/rerun-test"
CHANGED = "--changed"
DEFAULT_MAX_SELECTORS = 8
DEFAULT_MAX_JOBS = 4  # test jobs per comment
DEFAULT_MAX_GPU_MINUTES = (
    1440  # estimated per comment: est. seconds / 60 x GPUs, summed
)
MAX_COMMENT_CHARS = 65536  # GitHub's own limit for a comment body
MAX_LINE_CHARS = 1000
MAX_SELECTOR_CHARS = 300
MAX_TEST_NAME_CHARS = 150
MAX_STATUS_CONTEXT_CHARS = 200
MAX_SOURCE_BYTES = (
    4 * 2**20
)  # a test file larger than this is not parsed for its classes
FORMS = (
    "test/registered/<dir>/test_<name>.py[::Class[.method]]",
    "registered/<dir>/test_<name>.py[::Class[.method]] (inside the suite's folder)",
    "test_<name>.py (a file name only one registered file has)",
    "a glob such as test/registered/<dir>/*.py",
    "a suite name",
    CHANGED + " (the registered test files this pull request changes)",
)

_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_PATH = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*\.py\Z")
_GLOB_PATH = re.compile(r"[A-Za-z0-9_.*?\[\]/-]+\Z")
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_TEST_NAME = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})?\Z")
_SUITE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_PIN = re.compile(r"@[0-9a-fA-F]{40}\Z")
_SHORT_PIN = re.compile(r"@[0-9a-fA-F]{1,39}\Z")
_PIN_HELP = "name the commit as @ and its full 40-hex-digit SHA"
_GLOB = "*?["
_SHELL_METACHARACTERS = "$`;|&<>(){}!\\'\"~#"


# --- refusals, the registry and what a request names ----------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a comment is not run: a stable code and one message."""

    code: str
    message: str


class RerunRejected(Exception):
    """The comment is not a runnable /rerun-test request; nothing may run."""

    def __init__(self, problems: list):
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
    return RerunRejected([Refusal(code, message)])


@dataclass(frozen=True)
class RerunJob:
    """One CI job a file can rerun in: a suite on a pool (the per-commit or nightly job)."""

    job_id: str
    suite: str
    pool: str
    gpus: int
    working_directory: str = ""

    def to_json(self) -> dict:
        return {
            "suite": self.suite,
            "pool": self.pool,
            "gpus": self.gpus,
            "working_directory": self.working_directory,
        }


@dataclass(frozen=True)
class Registry:
    """What may be rerun: each runnable file's jobs and estimated seconds there, and why
    the other registered files may not run."""

    jobs: dict  # job id -> RerunJob
    files: dict  # path -> {job id: estimated seconds}
    refused: dict  # path -> Refusal

    @classmethod
    def from_json(cls, data: dict) -> Registry:
        jobs = {
            job_id: RerunJob(
                job_id,
                spec["suite"],
                spec["pool"],
                spec["gpus"],
                spec.get("working_directory", ""),
            )
            for job_id, spec in data["jobs"].items()
        }
        files = {path: dict(spec) for path, spec in data["files"].items()}
        refused = {path: Refusal(*why) for path, why in data["refused"].items()}
        return cls(jobs, files, refused)

    def to_json(self) -> dict:
        return {
            "jobs": {
                job_id: job.to_json() for job_id, job in sorted(self.jobs.items())
            },
            "files": {
                path: dict(sorted(spec.items()))
                for path, spec in sorted(self.files.items())
            },
            "refused": {
                p: [r.code, r.message] for p, r in sorted(self.refused.items())
            },
        }

    @property
    def registered(self) -> list:
        return sorted(set(self.files) | set(self.refused))

    @property
    def suites(self) -> list:
        return sorted({job.suite for job in self.jobs.values()})

    @property
    def folders(self) -> list:
        """The suites' working directories, where `registered/x.py` may be found."""
        return sorted(
            {j.working_directory for j in self.jobs.values() if j.working_directory}
        )


@dataclass(frozen=True)
class Target:
    """One test job: the files one selector picks for one CI job, with their test name."""

    selector: str
    job: str  # the rerun job id (suite x pool)
    suite: str
    pool: str
    files: tuple
    test: str | None = None  # "Class" or "Class.method", with exactly one file
    est_seconds: float = 0.0  # the files' estimates (measured where the plan has them)
    gpus: int = 1

    @property
    def gpu_minutes(self) -> int:
        """What the budgets count for this job: its estimate x GPUs, rounded up."""
        return ceil(round(self.est_seconds / 60 * self.gpus, 6))

    @property
    def job_name(self) -> str:
        """The test job's name: what the report finds it by and the budget counts."""
        return job_name(self.selector, self.suite, self.pool, self.gpu_minutes)

    @property
    def status_context(self) -> str:
        """The commit-status name; long selectors keep their start plus a short hash."""
        where = f"({self.suite} on {self.pool})"
        context = f"rerun-test {self.selector} {where}"
        if len(context) <= MAX_STATUS_CONTEXT_CHARS:
            return context
        digest = sha256(self.selector.encode()).hexdigest()[:8]
        keep = max(MAX_STATUS_CONTEXT_CHARS - len(f"rerun-test ...{digest} {where}"), 0)
        return f"rerun-test {self.selector[:keep]}...{digest} {where}"

    def to_json(self) -> dict:
        return {
            "selector": self.selector,
            "job": self.job,
            "suite": self.suite,
            "pool": self.pool,
            "files": list(self.files),
            "test": self.test,
            "est_seconds": self.est_seconds,
            "gpus": self.gpus,
            "gpu_minutes": self.gpu_minutes,
            "job_name": self.job_name,
            "status_context": self.status_context,
        }

    @classmethod
    def from_json(cls, data: dict) -> Target:
        return cls(
            selector=data["selector"],
            job=data["job"],
            suite=data["suite"],
            pool=data["pool"],
            files=tuple(data["files"]),
            test=data["test"],
            est_seconds=data["est_seconds"],
            gpus=data["gpus"],
        )


_JOB_NAME = re.compile(r".* \(([0-9]{1,9}) GPU-min\)\Z")


def job_name(selector: str, suite: str, pool: str, gpu_minutes: int) -> str:
    return f"{selector} on {pool}: {suite} ({gpu_minutes} GPU-min)"


def job_gpu_minutes(name: str) -> int | None:
    """The estimate a test job's name carries, None for a job that is not a test job."""
    match = _JOB_NAME.match(name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class RerunRequest:
    """An accepted comment: its selectors, the commit it pins (if any), the test jobs."""

    selectors: tuple
    pin: str | None  # the full lower-case commit SHA named with `@`, if any
    targets: tuple

    @property
    def jobs(self) -> int:
        return len(self.targets)

    @property
    def gpu_minutes(self) -> int:
        """The estimate of every job together, rounded up once."""
        exact = sum(t.est_seconds / 60 * t.gpus for t in self.targets)
        return ceil(round(exact, 6))

    @property
    def job_ids(self) -> tuple:
        return tuple(sorted({t.job for t in self.targets}))

    def targets_by_job(self) -> dict:
        return {
            job: [t.to_json() for t in self.targets if t.job == job]
            for job in self.job_ids
        }

    def to_json(self) -> dict:
        return {
            "accepted": True,
            "selectors": list(self.selectors),
            "pin": self.pin,
            "jobs": self.jobs,
            "gpu_minutes": self.gpu_minutes,
            "targets": [t.to_json() for t in self.targets],
        }


@dataclass(frozen=True)
class Comment:
    """A comment's one line, read: its selectors (in order), `--changed`, and the pin."""

    words: tuple
    pin: str | None

    @property
    def changed(self) -> bool:
        return CHANGED in self.words


@dataclass(frozen=True)
class CommentLimits:
    """What one comment may ask for: selectors, test jobs, estimated GPU-minutes."""

    max_selectors: int = DEFAULT_MAX_SELECTORS
    max_jobs: int = DEFAULT_MAX_JOBS
    max_gpu_minutes: int = DEFAULT_MAX_GPU_MINUTES


# --- reading the comment: characters, lines, the pin ----------------------------------


def first_line(body: str) -> str:
    """The comment's first line without its line ending and surrounding blanks."""
    return body.split("\n", 1)[0].removesuffix("\r").strip(" \t")


def _check_characters(line: str) -> None:
    for column, char in enumerate(line, start=1):
        if char == "\t" or " " <= char <= "~":
            continue
        control = unicodedata.category(char) == "Cc"
        name = unicodedata.name(char, "control character" if control else "unnamed")
        raise reject(
            "control-character" if control else "non-ascii",
            f"character U+{ord(char):04X} ({name}) at column {column} is not allowed; "
            "a /rerun-test line is plain ASCII",
        )


def _check_later_lines(body: str) -> None:
    """The request is the first line; anything but blanks after it is refused."""
    rest = body.split("\n", 1)[1] if "\n" in body else ""
    for number, line in enumerate(rest.split("\n"), start=2):
        if line.strip(" \t\r"):
            raise reject(
                "extra-lines",
                f"line {number} is not empty; a /rerun-test comment is one line "
                "(explain in a separate comment)",
            )


def _take_pin(words: list) -> str | None:
    """The full commit SHA named last with `@`, removed from `words`."""
    if not words or not words[-1].startswith("@"):
        return None
    if _SHORT_PIN.match(words[-1]):
        raise reject(
            "short-pin",
            f"{ascii(words[-1])}: a short SHA is not accepted (another commit can share "
            f"its first digits); {_PIN_HELP}",
        )
    if not _PIN.match(words[-1]):
        raise reject("bad-pin", f"{ascii(words[-1])}: {_PIN_HELP}")
    return words.pop()[1:].lower()


def read_comment(body: str, limits: CommentLimits) -> Comment:
    """The comment's shape: one plain line, the command, selectors, the pin."""
    if len(body) > MAX_COMMENT_CHARS:
        raise reject(
            "comment-too-long",
            f"the comment is {len(body)} characters; the limit is {MAX_COMMENT_CHARS}",
        )
    line = first_line(body)
    if len(line) > MAX_LINE_CHARS:
        raise reject(
            "line-too-long",
            f"the first line is {len(line)} characters; the limit is {MAX_LINE_CHARS}",
        )
    _check_characters(line)
    tokens = line.split()
    if not tokens or tokens[0] != COMMAND:
        got = ascii(tokens[0]) if tokens else "an empty line"
        raise reject(
            "unknown-command", f"the first line must start with {COMMAND}, got {got}"
        )
    _check_later_lines(body)
    words = tokens[1:]
    pin = _take_pin(words)
    misplaced = [w for w in words if w.startswith("@")]
    if misplaced:
        raise reject(
            "bad-pin",
            f"{ascii(misplaced[0])}: the @commit comes last, after the selectors",
        )
    if not words:
        raise reject(
            "no-selector",
            f"name at least one test: {COMMAND} "
            "test/registered/<dir>/test_<name>.py[::Class.method]",
        )
    if len(words) > limits.max_selectors:
        raise reject(
            "too-many-selectors",
            f"{len(words)} selectors; at most {limits.max_selectors} per comment",
        )
    repeated = sorted({w for w in words if words.count(w) > 1})
    if repeated:
        raise reject("duplicate-selector", f"{ascii(repeated[0])} is named twice")
    return Comment(tuple(words), pin)


# --- selectors: paths, names, globs, suites, --changed --------------------------------


def _check_shape(selector: str, path: str) -> None:
    """Shape only: the registry decides whether the file exists."""
    quoted = ascii(selector)
    shell = [c for c in path if c in _SHELL_METACHARACTERS]
    if shell:
        raise reject(
            "shell-metacharacter",
            f"{quoted}: shell metacharacter {shell[0]!r} is not allowed",
        )
    if path.startswith("/"):
        raise reject(
            "absolute-path",
            f"{quoted}: absolute paths are not allowed; "
            "use the path from the repository root",
        )
    if ".." in path.split("/"):
        raise reject("path-traversal", f"{quoted}: '..' is not allowed in a path")


def _check_segments(selector: str, path: str) -> None:
    segments = path.split("/")
    if "." in segments or "" in segments:
        raise reject(
            "bad-path",
            f"{ascii(selector)}: write the path as `cigen scan` lists it "
            "(no './', no '//')",
        )


def _unknown_form(selector: str) -> RerunRejected:
    return reject(
        "unknown-form",
        f"{ascii(selector)} is not a test file (.py), a glob, a suite name or {CHANGED}",
    )


def _split_test(selector: str) -> tuple:
    quoted = ascii(selector)
    if len(selector) > MAX_SELECTOR_CHARS:
        raise reject(
            "selector-too-long",
            f"a selector is {len(selector)} characters; "
            f"the limit is {MAX_SELECTOR_CHARS}",
        )
    path, separator, test = selector.partition("::")
    _check_shape(selector, path)
    if not separator:
        return path, None
    if not _TEST_NAME.match(test) or len(test) > MAX_TEST_NAME_CHARS:
        raise reject(
            "bad-test-name",
            f"{quoted}: after '::' give Class or Class.method "
            f"(Python identifiers, at most {MAX_TEST_NAME_CHARS} characters)",
        )
    return path, test


def _runnable(path: str, registry: Registry) -> str:
    """The path itself when it may run, else RerunRejected with why not."""
    if path in registry.files:
        return path
    if path in registry.refused:
        refusal = registry.refused[path]
        raise reject(refusal.code, refusal.message)
    hint = difflib.get_close_matches(path, registry.registered, n=1, cutoff=0.85)
    suffix = f"; did you mean {ascii(hint[0])}?" if hint else ""
    raise reject(
        "not-registered",
        f"{ascii(path)} is not a test file of this repository's scan{suffix}",
    )


def _resolve_path(path: str, registry: Registry) -> str:
    """A path from the root, or inside a suite's folder (sglang's `registered/...`)."""
    if path in registry.files or path in registry.refused:
        return _runnable(path, registry)
    inside = [
        f"{folder}/{path}"
        for folder in registry.folders
        if f"{folder}/{path}" in registry.files
        or f"{folder}/{path}" in registry.refused
    ]
    if len(inside) == 1:
        return _runnable(inside[0], registry)
    if len(inside) > 1:
        raise _ambiguous(path, inside)
    return _runnable(path, registry)


def _ambiguous(name: str, paths: list) -> RerunRejected:
    listed = "\n".join(f"- {p}" for p in sorted(paths))
    return reject(
        "ambiguous-name",
        f"{ascii(name)} names {len(paths)} registered files; give the path of one:\n"
        + listed,
    )


def _resolve_bare(name: str, registry: Registry) -> str:
    """A file name exactly one registered file has."""
    found = [p for p in registry.registered if p.rsplit("/", 1)[-1] == name]
    if len(found) > 1:
        raise _ambiguous(name, found)
    if found:
        return _runnable(found[0], registry)
    names = sorted({p.rsplit("/", 1)[-1] for p in registry.registered})
    hint = difflib.get_close_matches(name, names, n=1, cutoff=0.85)
    suffix = f"; did you mean {ascii(hint[0])}?" if hint else ""
    raise reject(
        "not-registered", f"no registered test file is named {ascii(name)}{suffix}"
    )


def _resolve_glob(pattern: str, registry: Registry) -> list:
    """Every runnable file the glob matches, from the root or inside a suite's folder."""
    if not _GLOB_PATH.match(pattern):
        raise reject(
            "bad-glob",
            f"{ascii(pattern)}: a glob is path characters and * ? [ ] only",
        )
    prefixes = [""] + [f"{folder}/" for folder in registry.folders]
    found = sorted(
        {
            path
            for path in registry.files
            for prefix in prefixes
            if path.startswith(prefix)
            and fnmatch.fnmatchcase(path[len(prefix) :], pattern)
        }
    )
    if not found:
        raise reject(
            "glob-matches-nothing",
            f"{ascii(pattern)} matches no test file /rerun-test can run",
        )
    return found


def _resolve_suite(name: str, registry: Registry) -> list:
    jobs = {job_id for job_id, job in registry.jobs.items() if job.suite == name}
    found = sorted(p for p, spec in registry.files.items() if jobs & set(spec))
    if not found:
        raise reject("empty-suite", f"suite {ascii(name)} has no test file to run")
    return found


@dataclass(frozen=True)
class Selection:
    """What one selector picked: files (one with a test name), and the suite it limits to."""

    selector: str
    files: tuple
    test: str | None = None
    suite: str | None = None


def select(
    selector: str, registry: Registry, changed: tuple | None = None
) -> Selection:
    """One selector -> the registered files it names (RerunRejected if none may run)."""
    if selector == CHANGED:
        return _select_changed(registry, changed)
    if selector.startswith("-"):
        raise _unknown_form(selector)
    path, test = _split_test(selector)
    if any(c in path for c in _GLOB):
        if test is not None:
            raise reject(
                "glob-with-test",
                f"{ascii(selector)}: '::' names a test of one file, not of a glob",
            )
        _check_segments(selector, path)
        return Selection(selector, tuple(_resolve_glob(path, registry)))
    if "/" not in path and not path.endswith(".py"):
        if test is None and _SUITE.match(path) and path in registry.suites:
            return Selection(
                selector, tuple(_resolve_suite(path, registry)), None, path
            )
        raise _unknown_form(selector)
    if not path.endswith(".py"):
        raise reject(
            "not-python", f"{ascii(selector)}: a selector names a .py test file"
        )
    _check_segments(selector, path)
    if not _PATH.match(path):
        raise reject(
            "bad-path",
            f"{ascii(selector)}: path segments are letters, digits, '_', '.' and '-', "
            "and do not start with '.' or '-'",
        )
    if "/" not in path:
        return Selection(selector, (_resolve_bare(path, registry),), test)
    return Selection(selector, (_resolve_path(path, registry),), test)


def _select_changed(registry: Registry, changed: tuple | None) -> Selection:
    if changed is None:
        raise reject(
            "changed-unknown",
            f"{CHANGED} needs the pull request's changed files, which were not read",
        )
    found = sorted(p for p in set(changed) if p in registry.files)
    if not found:
        raise reject(
            "nothing-changed",
            f"{CHANGED}: this pull request changes no test file /rerun-test can run "
            "(new test files run once they are registered on the default branch)",
        )
    return Selection(CHANGED, tuple(found))


# --- tests, overlaps and the budget of one comment ------------------------------------


def _class_members(tree: ast.Module) -> dict:
    """Each top-level class -> the names it defines (methods and class attributes), with
    those of its bases that are classes defined in the same file (by plain name, as
    unittest finds them)."""
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def members(name: str, seen: frozenset) -> set:
        node = classes[name]
        names: set = set()
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(item.name)
            elif isinstance(item, ast.Assign):
                names.update(t.id for t in item.targets if isinstance(t, ast.Name))
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                names.add(item.target.id)
        for base in node.bases:
            if (
                isinstance(base, ast.Name)
                and base.id in classes
                and base.id not in seen
            ):
                names |= members(base.id, seen | {base.id})
        return names

    return {name: frozenset(members(name, frozenset({name}))) for name in classes}


def read_classes(root: str, path: str) -> dict | None:
    """The file's top-level classes and their members, parsed (never imported); None when
    the file cannot be read or parsed, or its real path leaves the root."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([real_root, real]) != real_root:
        return None
    try:
        with open(real, "rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_SOURCE_BYTES:
        return None
    try:
        return _class_members(ast.parse(data))
    except (SyntaxError, ValueError):
        return None


def check_test(selector: str, test: str | None, classes: dict | None) -> None:
    """A Class must be defined at the file's top level, a method in that class."""
    if test is None:
        return
    quoted = ascii(selector)
    if classes is None:
        raise reject(
            "unknown-test", f"{quoted}: the file cannot be parsed to find {test}"
        )
    name, _, method = test.partition(".")
    if name not in classes:
        hint = difflib.get_close_matches(name, sorted(classes), n=1, cutoff=0.8)
        suffix = f"; did you mean {hint[0]}?" if hint else ""
        raise reject(
            "unknown-class",
            f"{quoted}: the file defines no top-level class {name}{suffix}",
        )
    if method and method not in classes[name]:
        hint = difflib.get_close_matches(method, sorted(classes[name]), n=1, cutoff=0.8)
        suffix = f"; did you mean {hint[0]}?" if hint else ""
        raise reject(
            "unknown-method",
            f"{quoted}: class {name} has no method {method} in this file "
            f"(its own or a base class's defined here){suffix}",
        )


def _covers(outer: str | None, inner: str | None) -> bool:
    """Whether running `outer` (None: the whole file) already runs `inner`."""
    return outer is None or (inner is not None and inner.startswith(outer + "."))


def _overlaps(selections: list) -> list:
    """A selector whose files another selector of the comment already runs."""
    problems = []
    for chosen in selections:
        outer = next(
            (
                other.selector
                for other in selections
                if other.selector != chosen.selector
                and set(other.files) & set(chosen.files)
                and _covers(other.test, chosen.test)
                and (len(other.files) > 1 or len(chosen.files) == 1)
            ),
            None,
        )
        if outer is not None:
            message = (
                f"{ascii(chosen.selector)} is already run by {ascii(outer)}; "
                "name only one of them"
            )
            problems.append(Refusal("overlapping-selectors", message))
    return problems


def targets_of(selection: Selection, registry: Registry) -> list:
    """The test jobs of one selection: its files grouped by the CI job they run in."""
    by_job: dict = {}
    for path in selection.files:
        for job_id, seconds in registry.files[path].items():
            if (
                selection.suite is None
                or registry.jobs[job_id].suite == selection.suite
            ):
                by_job.setdefault(job_id, []).append((path, seconds))
    targets = []
    for job_id, entries in sorted(by_job.items()):
        job = registry.jobs[job_id]
        targets.append(
            Target(
                selector=selection.selector,
                job=job_id,
                suite=job.suite,
                pool=job.pool,
                files=tuple(path for path, _ in entries),
                test=selection.test,
                est_seconds=round(sum(seconds for _, seconds in entries), 3),
                gpus=job.gpus,
            )
        )
    return targets


def check_comment_budget(request: RerunRequest, limits: CommentLimits) -> None:
    """Refuse a request that queues more test jobs or GPU-minutes than one comment may."""
    selectors = len(request.selectors)
    count = f"{selectors} selector" + ("" if selectors == 1 else "s")
    if request.jobs > limits.max_jobs:
        raise reject(
            "too-many-jobs",
            f"{request.jobs} test jobs ({count} on their pools); "
            f"at most {limits.max_jobs} per comment",
        )
    if request.gpu_minutes > limits.max_gpu_minutes:
        raise reject(
            "too-many-gpu-minutes",
            f"an estimated {request.gpu_minutes} GPU-minutes (each file's "
            "estimated time x its pool's GPUs); "
            f"at most {limits.max_gpu_minutes} per comment",
        )


def resolve(
    comment: Comment,
    registry: Registry,
    root: str | None,
    limits: CommentLimits,
    changed: tuple | None = None,
) -> RerunRequest:
    """The comment's selectors against the registry (and the default branch's files at
    `root`, for class names): the test jobs, or RerunRejected with every reason."""
    problems: list = []
    selections: list = []
    classes: dict = {}
    for selector in comment.words:
        try:
            selection = select(selector, registry, changed)
            if selection.test is not None:
                path = selection.files[0]
                if path not in classes:
                    classes[path] = (
                        read_classes(root, path) if root is not None else None
                    )
                check_test(selector, selection.test, classes[path])
        except RerunRejected as rejected:
            problems.extend(rejected.problems)
            continue
        selections.append(selection)
    problems.extend(_overlaps(selections))
    if problems:
        raise RerunRejected(problems)
    targets = [t for s in selections for t in targets_of(s, registry)]
    request = RerunRequest(comment.words, comment.pin, tuple(targets))
    check_comment_budget(request, limits)
    return request


def parse_comment(
    body: str,
    registry: Registry,
    root: str | None,
    limits: CommentLimits | None = None,
    changed: tuple | None = None,
) -> RerunRequest:
    """The request in a one-line comment, or RerunRejected with every reason."""
    limits = limits or CommentLimits()
    return resolve(read_comment(body, limits), registry, root, limits, changed)
