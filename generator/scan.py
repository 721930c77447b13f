"""Read CI registrations from test files by parsing, never importing them.

Semantics are sglang's `sglang/test/ci/ci_register.py` (0.5.23): only top-level
`register_<backend>_ci(...)` expression statements count, `est_time` is required,
`suite=` and `stage=`+`runner_config=` are exclusive, and every file with an enabled
registration needs an `if __name__ == "__main__":` block that calls something.

We are stricter than sglang in a few places, each reported as a problem instead of being
silently dropped: non-constant arguments (sglang treats them as absent), a boolean or
non-finite `est_time`, and `None` for `suite`, `stage` or `runner_config`.

Speed: a cold scan does not build an AST of whole files. A small lexer finds where strings,
comments and brackets are, which gives every top-level logical line that starts with a
marker name or `if`; only those statements are parsed with `ast`. Files the lexer cannot
vouch for (`;` between statements, unterminated strings, PEP 701 f-strings) are parsed whole.
Many files at once are spread over worker processes by generator/scan_many.py.
"""

from __future__ import annotations

import ast
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass

from generator.backends import MARKERS
from generator.errors import Problem, Severity
from generator.registration import Registration

_POSITIONAL = ("est_time", "suite", "nightly", "disabled")
_KEYWORD_ONLY = ("stage", "runner_config")
_ALL_PARAMS = _POSITIONAL + _KEYWORD_ONLY
_UNKNOWN_MARKER = re.compile(r"register_\w+_ci\Z")
SHAPE_HELP = 'register_cuda_ci(est_time=60, stage="base-b", runner_config="1-gpu-large")'
MAIN_HELP = 'add `if __name__ == "__main__": unittest.main()` (or sys.exit(pytest.main([__file__])))'


@dataclass(frozen=True)
class Marker:
    """A registration before it is tied to a path (what the cache stores)."""

    line: int
    backend: str
    est_seconds: float
    suite: str
    stage: str | None
    runner_config: str | None
    nightly: bool
    disabled: str | None

    def at(self, path: str) -> Registration:
        return Registration(
            path=path,
            line=self.line,
            backend=self.backend,
            est_seconds=self.est_seconds,
            suite=self.suite,
            stage=self.stage,
            runner_config=self.runner_config,
            nightly=self.nightly,
            disabled=self.disabled,
        )


def finding(
    line: int, code: str, message: str, help: str | None = None, severity: Severity = Severity.ERROR
) -> Problem:
    """A problem before it is tied to a path (`Problem.at` adds it)."""
    return Problem("", line, code, message, severity, help)


@dataclass(frozen=True)
class FileScan:
    """Everything the scanner learns from one file's text."""

    markers: tuple[Marker, ...]
    has_main: bool
    findings: tuple[Problem, ...]


class _BadCall(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


# --------------------------------------------------------------------------- semantics


def _constant(node: ast.expr, name: str, func: str, line: int) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    raise _BadCall(
        finding(
            line,
            "non-constant-arg",
            f"{func}(): {name} must be a literal constant, got `{ast.unparse(node)}`",
            help="markers are read without importing the file, so values must be written out",
        )
    )


def _parse_marker(call: ast.Call, func: str, line: int) -> Marker:
    """One marker call -> Marker, or _BadCall with sglang's reason (and a code)."""
    if any(isinstance(arg, ast.Starred) for arg in call.args):
        raise _BadCall(finding(line, "starred-arg", f"{func}(): *args are not supported"))
    if len(call.args) > len(_POSITIONAL):
        raise _BadCall(
            finding(
                line,
                "too-many-args",
                f"{func}() takes at most {len(_POSITIONAL)} positional arguments "
                f"({', '.join(_POSITIONAL)}), got {len(call.args)}",
            )
        )
    values: dict[str, object] = {}
    for name, arg in zip(_POSITIONAL, call.args):
        values[name] = _constant(arg, name, func, line)
    for keyword in call.keywords:
        if keyword.arg is None:
            raise _BadCall(finding(line, "starred-arg", f"{func}(): **kwargs are not supported"))
        if keyword.arg not in _ALL_PARAMS:
            raise _BadCall(
                finding(
                    line,
                    "unknown-arg",
                    f"{func}(): unknown argument '{keyword.arg}'",
                    help=f"known arguments: {', '.join(_ALL_PARAMS)}",
                )
            )
        if keyword.arg in values:
            raise _BadCall(finding(line, "duplicate-arg", f"{func}(): argument '{keyword.arg}' given twice"))
        values[keyword.arg] = _constant(keyword.value, keyword.arg, func, line)

    if "est_time" not in values:
        raise _BadCall(
            finding(
                line,
                "missing-est-time",
                f"{func}(): est_time is required",
                help=f"{func}(est_time=60, suite=...)  # seconds",
            )
        )
    est_time = values["est_time"]
    if isinstance(est_time, bool) or not isinstance(est_time, (int, float)):
        raise _BadCall(finding(line, "bad-est-time", f"{func}(): est_time must be a number, got {est_time!r}"))
    if not math.isfinite(est_time) or est_time < 0:
        raise _BadCall(
            finding(
                line,
                "bad-est-time",
                f"{func}(): est_time must be a finite number of seconds >= 0, got {est_time!r}",
            )
        )

    has_stage, has_runner, has_suite = (
        "stage" in values,
        "runner_config" in values,
        "suite" in values,
    )
    if not ((has_stage and has_runner and not has_suite) or (has_suite and not has_stage and not has_runner)):
        raise _BadCall(
            finding(
                line,
                "suite-shape",
                f"{func}(): pass suite= or stage= + runner_config=, not both; "
                f"got stage={has_stage}, runner_config={has_runner}, suite={has_suite}",
                help=SHAPE_HELP,
            )
        )
    for name in ("suite", "stage", "runner_config"):
        if name in values and not isinstance(values[name], str):
            raise _BadCall(
                finding(
                    line, f"bad-{name.replace('_', '-')}", f"{func}(): {name} must be a string, got {values[name]!r}"
                )
            )
    nightly = values.get("nightly", False)
    if not isinstance(nightly, bool):
        raise _BadCall(finding(line, "bad-nightly", f"{func}(): nightly must be True or False, got {nightly!r}"))
    disabled = values.get("disabled")
    if disabled is not None and not isinstance(disabled, str):
        raise _BadCall(finding(line, "bad-disabled", f"{func}(): disabled must be a reason string, got {disabled!r}"))

    stage, runner_config = values.get("stage"), values.get("runner_config")
    suite = f"{stage}-test-{runner_config}" if has_stage else values["suite"]
    return Marker(
        line=line,
        backend=MARKERS[func],
        est_seconds=float(est_time),
        suite=suite,
        stage=stage,
        runner_config=runner_config,
        nightly=nightly,
        disabled=disabled,
    )


def _is_main_block(stmt: ast.If) -> bool:
    """sglang's test: `if __name__ == "__main__":` whose body calls something."""
    test = stmt.test
    if not (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    ):
        return False
    return any(isinstance(node, ast.Call) for body in stmt.body for node in ast.walk(body))


class _Collector:
    """Applies the marker and main-block rules to top-level statements."""

    def __init__(self) -> None:
        self.markers: list[Marker] = []
        self.findings: list[Problem] = []
        self.has_main = False

    def visit(self, stmt: ast.stmt, line_offset: int = 0) -> None:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            if not isinstance(call.func, ast.Name):
                return
            func, line = call.func.id, call.lineno + line_offset
            if func in MARKERS:
                try:
                    self.markers.append(_parse_marker(call, func, line))
                except _BadCall as bad:
                    self.findings.append(bad.problem)
            elif _UNKNOWN_MARKER.match(func):
                self.findings.append(
                    finding(
                        line,
                        "unknown-marker",
                        f"{func}() is not a CI marker and is ignored",
                        help=f"known markers: {', '.join(sorted(MARKERS))}",
                        severity=Severity.WARNING,
                    )
                )
        elif isinstance(stmt, ast.If) and _is_main_block(stmt):
            self.has_main = True

    def result(self) -> FileScan:
        return FileScan(tuple(self.markers), self.has_main, tuple(self.findings))


def _parse(text: str) -> ast.Module:
    """ast.parse without the compiler's warnings about the user's code (invalid escapes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text)


def scan_module(text: str) -> FileScan:
    """Reference path: parse the whole file with `ast` (also the fallback)."""
    collector = _Collector()
    try:
        module = _parse(text)
    except SyntaxError as error:
        return FileScan((), False, (_syntax_finding(error, 0),))
    for stmt in module.body:
        collector.visit(stmt)
    return collector.result()


def _syntax_finding(error: SyntaxError, line_offset: int) -> Problem:
    return finding((error.lineno or 1) + line_offset, "syntax-error", f"invalid Python: {error.msg}")


# --------------------------------------------------------------------------- fast path

# Strings and comments: everything in a file where code-looking text is not code. A quote
# prefix like r or b never changes where a string ends, so it needs no handling here.
_LITERAL = re.compile(
    r"""('''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"""
    r'''|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'''
    r"""|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"""
    r'''|"[^"\\\n]*(?:\\.[^"\\\n]*)*"'''
    r"|\#[^\n]*)",
    re.DOTALL,
)
# A statement at column 0 that may be a marker call or a main block.
_CANDIDATE = re.compile(r"\n\f*(register_\w*|if\b)")  # searched in "\n" + code
# Used inside one marker statement to find where its logical line ends.
_STATEMENT_TOKEN = re.compile(r"""(?P<literal>['"#])|(?P<open>[(\[{])|(?P<close>[)\]}])|(?P<newline>\n)""")
_PEP701_FSTRING = re.compile(r"(?<![\w])(?:[rRbB]?[fF]|[fF][rRbB])['\"]")
_GAP = "\x00"  # joins the code between literals; never valid in Python source


def _bracket_balance(text: str, start: int, end: int) -> int:
    """Opening minus closing brackets in text[start:end]."""
    return (
        text.count("(", start, end)
        + text.count("[", start, end)
        + text.count("{", start, end)
        - text.count(")", start, end)
        - text.count("]", start, end)
        - text.count("}", start, end)
    )


def _statement_end(text: str, start: int) -> int:
    """End of the simple statement (logical line) starting at `start`; -1 if unsure."""
    depth, pos, size = 0, start, len(text)
    while True:
        match = _STATEMENT_TOKEN.search(text, pos)
        if match is None:
            return size if depth == 0 else -1
        kind = match.lastgroup
        if kind == "literal":
            literal = _LITERAL.match(text, match.start())
            if literal is None:
                return -1
            pos = literal.end()
            continue
        pos = match.end()
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
        elif depth == 0:  # a newline outside brackets ends the logical line
            return match.start()


def _top_level_candidates(text: str) -> list[tuple[int, int, bool]] | None:
    """(start, end, is_if) of top-level statements that may be markers or main blocks.

    The code between strings and comments is joined into one string, so finding the
    candidates and the bracket depth in front of each is a handful of C-level calls.
    A marker candidate ends with its logical line; an `if` candidate runs to the next
    candidate, so its body is inside. None when this cannot vouch for the file.
    """
    if _GAP in text or "\r" in text:
        return None
    parts = _LITERAL.split(text)  # [code, literal, code, literal, ..., code]
    code = "\n" + _GAP.join(parts[0::2])
    if ";" in code or "'" in code or '"' in code or ("\\" in code and "\\" in code.replace("\\\n", "")):
        return None  # `a; b`, an unterminated string, or a stray backslash
    if _bracket_balance(code, 0, len(code)) != 0:
        return None
    found: list[tuple[int, int, bool]] = []
    open_if = -1
    depth = counted = 0
    for match in _CANDIDATE.finditer(code):
        at = match.start() + 1
        depth += _bracket_balance(code, counted, at)
        counted = at
        if depth != 0 or code.endswith("\\\n", 0, at):
            continue  # inside brackets, or the tail of a backslash-continued line
        gap_index = code.count(_GAP, 0, at)
        gap_start = code.rfind(_GAP, 0, at) + 1 if gap_index else 1
        start = sum(map(len, parts[: 2 * gap_index])) + (at - gap_start)
        if open_if >= 0:
            found.append((open_if, start, True))
            open_if = -1
        if match.group(1) == "if":
            open_if = start
            continue
        end = _statement_end(text, start)
        if end < 0:
            return None
        found.append((start, end, False))
    if open_if >= 0:
        found.append((open_if, len(text), True))
    return found


def scan_text(text: str) -> FileScan:
    """Scan one file's text; exact sglang semantics on every file `ast` can parse."""
    if "register_" not in text and "__main__" not in text:
        return FileScan((), False, ())
    if sys.version_info >= (3, 12) and _PEP701_FSTRING.search(text):
        return scan_module(text)  # PEP 701 lets f-strings nest quotes; our lexer does not
    candidates = _top_level_candidates(text)
    if candidates is None:
        return scan_module(text)
    collector = _Collector()
    for start, end, is_if in candidates:
        if is_if and text.find("__name__", start, end) < 0:
            continue  # cannot be a main block; skip parsing its body
        try:
            module = _parse(text[start:end])
        except SyntaxError:
            return scan_module(text)  # the whole-file parse reports the real error
        line_offset = text.count("\n", 0, start)
        for stmt in module.body[:1]:
            collector.visit(stmt, line_offset)
    return collector.result()


# --------------------------------------------------------------------------- bytes


def _decode(data: bytes) -> tuple[str | None, Problem | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return None, finding(line, "decode-error", f"not UTF-8 text: {error.reason} at byte {error.start}")


def read_source(root: str | os.PathLike, rel: str) -> bytes | FileScan:
    """The file's bytes, or a FileScan carrying why it could not be read."""
    try:
        with open(os.path.join(root, rel), "rb") as handle:
            return handle.read()
    except OSError as error:
        return FileScan((), False, (finding(1, "unreadable", f"cannot read: {error.strerror or error}"),))


def scan_bytes(data: bytes) -> FileScan:
    """Scan a file's raw bytes (UTF-8, as Python reads source by default)."""
    text, problem = _decode(data)
    if problem is not None:
        return FileScan((), False, (problem,))
    return scan_text(text)
