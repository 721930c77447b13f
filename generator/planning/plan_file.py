"""The plan file and earlier plans, read back in one place.

`.github/cigen/plan.json` is the plan the generated workflows run: per suite, each shard's files
with their planned seconds, one file a line (sorted, so a diff shows exactly what moved). The
gate job reads it to build each suite's matrix and the shard runner to find its files, so adding
a test or changing an `est_time` changes this file and no workflow. `render` keeps files in the
shards the committed plan file lists; `cigen plan --previous/--diff` read it or any plan JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.errors import Problem, ProblemReport, UserError, plural
from generator.model import Plan
from generator.names import is_generated

FORMAT_VERSION = 1

# What `--previous` and `--diff` need of a plan file; `plan_to_json` and the plan file write more.
PLAN_FILE_SCHEMA = {
    "type": "object",
    "required": ["suites"],
    "properties": {
        "suites": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["shards"],
                "properties": {
                    "shards": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["files"],
                            "properties": {
                                "files": {
                                    "type": "array",
                                    "items": {
                                        "anyOf": [
                                            {"type": "string"},
                                            {
                                                "type": "object",
                                                "required": ["file"],
                                                "properties": {"file": {"type": "string"}},
                                            },
                                        ]
                                    },
                                },
                                "est_time": {"type": "number"},
                                "est_seconds": {"type": "number"},
                            },
                        },
                    }
                },
            },
        }
    },
}


def read_plan_file(path: Path) -> dict:
    """A plan JSON document, checked against PLAN_FILE_SCHEMA; every problem at once."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UserError(str(path), 0, "plan-unreadable", f"cannot read plan: {error}") from None
    import jsonschema  # only commands that read a plan file pay for it

    errors = sorted(
        jsonschema.Draft202012Validator(PLAN_FILE_SCHEMA).iter_errors(data),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        problems = [
            Problem(str(path), 0, "bad-plan-file", f"{'.'.join(map(str, e.absolute_path)) or 'top level'}: {e.message}")
            for e in errors
        ]
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {path}")
    return data


def _path(entry: str | Mapping) -> str:
    """A shard's file as `cigen plan` writes it (a path) or the plan file does ({"file": path, ...})."""
    return entry if isinstance(entry, str) else entry["file"]


def shards_by_suite(document: Mapping) -> dict[str, list[list[str]]]:
    """suite -> each shard's files, in shard order: what `plan(previous=...)` takes."""
    return {
        name: [[_path(entry) for entry in shard["files"]] for shard in spec["shards"]]
        for name, spec in document["suites"].items()
    }


def plan_file_text(plan: Plan, regenerate: str) -> str:
    """The plan file: suites in config order, files by path, one a line, seconds rounded."""
    header = json.dumps(
        f"written by cigen render from cigen.yml and the registered tests. DO NOT EDIT. Regenerate: {regenerate}"
    )
    lines = ["{", f'  "@generated": {header},', f'  "version": {FORMAT_VERSION},', '  "suites": {']
    for s_index, suite_plan in enumerate(plan.suites):
        lines.append(f"    {json.dumps(suite_plan.suite.name)}: {{")
        lines.append('      "shards": [')
        for h_index, shard in enumerate(suite_plan.shards):
            lines.append(f'        {{"est_seconds": {_r(shard.est_seconds)}, "files": [')
            files = [
                f'          {{"file": {json.dumps(path)}, "est_seconds": {_r(seconds)}}}'
                for path, seconds in zip(shard.files, shard.file_seconds)
            ]
            lines.append(",\n".join(files))
            lines.append("        ]}" + ("," if h_index < len(suite_plan.shards) - 1 else ""))
        lines.append("      ]")
        lines.append("    }" + ("," if s_index < len(plan.suites) - 1 else ""))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _r(seconds: float) -> str:
    """Seconds as JSON, rounded to 0.1 s (float noise stays out of diffs)."""
    return json.dumps(round(float(seconds), 1))


def read_previous(path: Path) -> dict[str, list[list[str]]]:
    """The shards of a plan JSON file, for `plan(previous=...)`."""
    return shards_by_suite(read_plan_file(path))


def committed_shards(plan_path: Path) -> dict[str, list[list[str]]] | None:
    """The shards of the committed plan file, if cigen wrote one there; a file it cannot read
    back (hand-edited into something else) gives nothing, and the plan starts fresh."""
    if not is_generated(plan_path):
        return None
    try:
        return shards_by_suite(read_plan_file(plan_path))
    except (UserError, ProblemReport):
        return None


@dataclass(frozen=True)
class FileMove:
    """A file whose shard differs between two plans; None where it is absent."""

    path: str
    old_shard: int | None
    new_shard: int | None


@dataclass(frozen=True)
class SuiteDiff:
    """How one suite's plan changed: shard count, makespan, and the files that moved."""

    suite: str
    old_shards: int  # 0: the suite was not in the old plan
    new_shards: int  # 0: it is not in the new one
    old_makespan: float
    new_makespan: float
    moves: tuple[FileMove, ...]  # by path


def _shard_seconds(shard: Mapping) -> float:
    """A shard's planned seconds: `est_time` in plan JSON, `est_seconds` in the plan file."""
    return float(shard.get("est_time", shard.get("est_seconds", 0.0)))


def _shard_of(spec: Mapping | None) -> dict[str, int]:
    if spec is None:
        return {}
    return {_path(entry): index for index, shard in enumerate(spec["shards"]) for entry in shard["files"]}


def _makespan(spec: Mapping | None) -> float:
    return max((_shard_seconds(shard) for shard in spec["shards"]), default=0.0) if spec else 0.0


def diff_plans(old: Mapping, new: Mapping) -> list[SuiteDiff]:
    """Per suite whose shards changed (as written: index i runs as matrix entry i), in the
    new plan's order, then suites only the old plan has."""
    names = list(new["suites"]) + [name for name in old["suites"] if name not in new["suites"]]
    diffs = []
    for name in names:
        before, after = old["suites"].get(name), new["suites"].get(name)
        was, now = _shard_of(before), _shard_of(after)
        moves = tuple(
            FileMove(path, was.get(path), now.get(path))
            for path in sorted(set(was) | set(now))
            if was.get(path) != now.get(path)
        )
        count_before = len(before["shards"]) if before else 0
        count_after = len(after["shards"]) if after else 0
        if moves or count_before != count_after:
            diffs.append(SuiteDiff(name, count_before, count_after, _makespan(before), _makespan(after), moves))
    return diffs


def format_diff(diffs: list[SuiteDiff]) -> list[str]:
    """Readable lines: a header per suite, one line per file, and a one-line summary."""
    lines = []
    for diff in diffs:
        if not diff.old_shards:
            lines.append(
                f"{diff.suite}: new suite, {plural(diff.new_shards, 'shard')}, makespan {diff.new_makespan:g}s"
            )
        elif not diff.new_shards:
            lines.append(f"{diff.suite}: no longer planned (had {plural(diff.old_shards, 'shard')})")
        else:
            lines.append(
                f"{diff.suite}: {diff.old_shards} -> {plural(diff.new_shards, 'shard')}, "
                f"makespan {diff.old_makespan:g}s -> {diff.new_makespan:g}s"
            )
        for move in diff.moves:
            if move.old_shard is None:
                lines.append(f"  added    {move.path}  -> shard {move.new_shard}")
            elif move.new_shard is None:
                lines.append(f"  removed  {move.path}  (was shard {move.old_shard})")
            else:
                lines.append(f"  moved    {move.path}  shard {move.old_shard} -> {move.new_shard}")
    moved = sum(1 for d in diffs for m in d.moves if m.old_shard is not None and m.new_shard is not None)
    added = sum(1 for d in diffs for m in d.moves if m.old_shard is None)
    removed = sum(1 for d in diffs for m in d.moves if m.new_shard is None)
    if not diffs:
        lines.append("no changes")
    else:
        lines.append(
            f"{plural(len(diffs), 'suite')} changed: {plural(moved, 'file')} moved, {added} added, {removed} removed"
        )
    return lines
