"""The plan file, `.github/cigen/plan.json`: its one writer, reader and checker.

Standard library only, Python >= 3.9. cigen imports this module, and ships a copy beside the
programs that read the plan file in CI (`.github/cigen/plan_file.py`), so every reader checks
the same shape and version:

    {
      "@generated": "written by cigen render ... DO NOT EDIT. Regenerate: ...",
      "version": 1,
      "suites": {
        "SUITE": {
          "shards": [
            {"est_seconds": 300.0, "files": [
              {"file": "test/registered/a/test_x.py", "est_seconds": 120.0},
              ...
            ]},
            ...

Suites in config order, shards in matrix order, each shard's files one a line and sorted, so a
diff shows exactly what moved; seconds are rounded to 0.1 s. Readers ignore keys they do not
know (`cigen plan --format json` writes this shape plus each suite's costs) and refuse a
version they do not know.

Reading, from cigen or a shipped program (`from generator.shipped import plan_file`):
`plan_file.read(path)` gives a PlanFile (suites -> shards -> files with their est_seconds), or
raises PlanFileError, whose text is one line: `PATH: CODE: MESSAGE`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

VERSION = 1
PLAN_PATH = ".github/cigen/plan.json"  # from the repository root

# Finding codes (generator/findings.py), first in each message after the file's path.
UNREADABLE = "plan-unreadable"
BAD_SHAPE = "bad-plan-file"
UNKNOWN_VERSION = "plan-version"


class PlanFileError(Exception):
    """A plan file that cannot be read, or is not this shape or version: `PATH: CODE: MESSAGE`."""

    def __init__(self, path: str, code: str, message: str):
        self.path = path
        self.code = code
        self.message = message
        super().__init__(f"{path}: {code}: {message}")


@dataclass(frozen=True)
class PlannedFile:
    """A test file in a shard, and its planned seconds."""

    path: str
    est_seconds: float


@dataclass(frozen=True)
class PlannedShard:
    """One matrix entry of a suite's job: its files and their planned seconds in all."""

    est_seconds: float
    files: tuple[PlannedFile, ...]

    @property
    def paths(self) -> list[str]:
        return [planned.path for planned in self.files]


@dataclass(frozen=True)
class PlanFile:
    """Per suite (in config order), its shards in matrix order."""

    suites: dict[str, tuple[PlannedShard, ...]]

    def shard_paths(self) -> dict[str, list[list[str]]]:
        """suite -> each shard's files, in shard order."""
        return {
            suite: [shard.paths for shard in shards]
            for suite, shards in self.suites.items()
        }

    def file_seconds(self) -> dict[tuple[str, str], float]:
        """(suite, file) -> the file's planned seconds."""
        return {
            (suite, planned.path): planned.est_seconds
            for suite, shards in self.suites.items()
            for shard in shards
            for planned in shard.files
        }


# --- writing -----------------------------------------------------------------------


def rounded(seconds: float) -> float:
    """Seconds as the plan file holds them: to 0.1 s, so float noise stays out of diffs."""
    return round(float(seconds), 1)


def document(plan: PlanFile) -> dict:
    """The plan as JSON data, without the `@generated` header."""
    return {
        "version": VERSION,
        "suites": {
            suite: {
                "shards": [
                    {
                        "est_seconds": rounded(shard.est_seconds),
                        "files": [
                            {"file": f.path, "est_seconds": rounded(f.est_seconds)}
                            for f in shard.files
                        ],
                    }
                    for shard in shards
                ]
            }
            for suite, shards in plan.suites.items()
        },
    }


def text(plan: PlanFile, generated: str) -> str:
    """The plan file's text, one file a line; `generated` says who wrote it and how to
    regenerate it."""
    suites = document(plan)["suites"]
    lines = [
        "{",
        f'  "@generated": {json.dumps(generated)},',
        f'  "version": {VERSION},',
    ]
    lines.append('  "suites": {')
    for s_index, (suite, spec) in enumerate(suites.items()):
        lines.append(f"    {json.dumps(suite)}: {{")
        lines.append('      "shards": [')
        for h_index, shard in enumerate(spec["shards"]):
            seconds = json.dumps(shard["est_seconds"])
            lines.append(f'        {{"est_seconds": {seconds}, "files": [')
            lines.append(
                ",\n".join(f"          {json.dumps(f)}" for f in shard["files"])
            )
            last = h_index == len(spec["shards"]) - 1
            lines.append("        ]}" + ("" if last else ","))
        lines.append("      ]")
        lines.append("    }" + ("," if s_index < len(suites) - 1 else ""))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


# --- reading -----------------------------------------------------------------------


def read(path: str | os.PathLike) -> PlanFile:
    """The plan file at `path`, checked; PlanFileError names the first problem."""
    where = os.fspath(path)
    try:
        with open(where, encoding="utf-8") as handle:
            raw = handle.read()
    except OSError as error:
        message = f"cannot read: {error.strerror or error}"
        raise PlanFileError(where, UNREADABLE, message) from None
    except UnicodeDecodeError as error:
        raise PlanFileError(where, BAD_SHAPE, f"not UTF-8: {error}") from None
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise PlanFileError(where, BAD_SHAPE, f"invalid JSON: {error}") from None
    return parse(data, where)


def parse(data: object, path: str) -> PlanFile:
    """A plan file's JSON data, checked: the version first, then the shape."""
    if not isinstance(data, dict):
        raise bad(path, "expected a JSON object with 'version' and 'suites'")
    check_version(data.get("version"), path)
    suites = data.get("suites")
    if not isinstance(suites, dict):
        raise bad(path, "'suites' must be an object")
    planned = {}
    for suite, spec in suites.items():
        shards = spec.get("shards") if isinstance(spec, dict) else None
        if not isinstance(shards, list):
            raise bad(path, f"suites.{suite}.shards must be a list")
        planned[suite] = tuple(
            parse_shard(shard, path, f"suites.{suite}.shards[{index}]")
            for index, shard in enumerate(shards)
        )
    return PlanFile(planned)


def check_version(version: object, path: str) -> None:
    """Refuse a plan file of another version: its shape may mean something else."""
    if version == VERSION and type(version) is int:
        return
    found = "has no 'version'" if version is None else f"is version {shown(version)}"
    raise PlanFileError(
        path,
        UNKNOWN_VERSION,
        f"the plan file {found}; this cigen reads version {VERSION}. "
        "Regenerate it with `cigen render` (or `cigen plan --format json`).",
    )


def parse_shard(shard: object, path: str, where: str) -> PlannedShard:
    if not isinstance(shard, dict) or not isinstance(shard.get("files"), list):
        raise bad(path, f"{where}.files must be a list")
    planned = []
    for index, entry in enumerate(shard["files"]):
        at = f"{where}.files[{index}]"
        if not isinstance(entry, dict):
            raise bad(path, f"{at} must be an object with 'file' and 'est_seconds'")
        file = entry.get("file")
        if not isinstance(file, str) or not file:
            raise bad(path, f"{at}.file must be a non-empty path, got {shown(file)}")
        planned.append(PlannedFile(file, seconds(entry.get("est_seconds"), path, at)))
    return PlannedShard(seconds(shard.get("est_seconds"), path, where), tuple(planned))


def seconds(value: object, path: str, where: str) -> float:
    """`est_seconds`: a finite number >= 0."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            number = None
    if number is None or not math.isfinite(number) or number < 0:
        raise bad(
            path, f"{where}.est_seconds must be a number >= 0, got {shown(value)}"
        )
    return number


def bad(path: str, message: str) -> PlanFileError:
    return PlanFileError(path, BAD_SHAPE, message)


def shown(value: object) -> str:
    """A value as JSON in a message, cut to 40 characters."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
