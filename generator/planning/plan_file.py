"""Earlier plans, read back in one place: plan JSON files (`cigen plan --format json`) for
`--previous` (keep files in place) and `--diff` (what moved), and the shards the committed
generated workflows list (what `render` keeps stable)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.errors import Problem, ProblemReport, UserError, plural
from generator.model import Config
from generator.names import is_generated, job_id

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# What `--previous` and `--diff` need of a plan file; `plan_to_json` writes more.
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
                            "required": ["files", "est_time"],
                            "properties": {
                                "files": {"type": "array", "items": {"type": "string"}},
                                "est_time": {"type": "number"},
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

    errors = sorted(jsonschema.Draft202012Validator(PLAN_FILE_SCHEMA).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        problems = [
            Problem(str(path), 0, "bad-plan-file", f"{'.'.join(map(str, e.absolute_path)) or 'top level'}: {e.message}")
            for e in errors
        ]
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {path}")
    return data


def shards_by_suite(document: Mapping) -> dict[str, list[list[str]]]:
    """suite -> each shard's files, in shard order: what `plan(previous=...)` takes."""
    return {name: [list(shard["files"]) for shard in spec["shards"]] for name, spec in document["suites"].items()}


def read_previous(path: Path) -> dict[str, list[list[str]]]:
    """The shards of a plan JSON file, for `plan(previous=...)`."""
    return shards_by_suite(read_plan_file(path))


def committed_shards(workflows_dir: Path, config: Config) -> dict[str, list[list[str]]]:
    """Each suite's shards as the generated workflows on disk list them (suite -> files per
    shard, in shard order). Files cigen did not generate, or cannot read back, give nothing."""
    suite_of_job = {job_id(suite.name): suite.name for suite in config.suites.values()}
    shards: dict[str, dict[int, list[str]]] = {}
    for path in sorted(workflows_dir.glob("*.yml")):
        if not is_generated(path):
            continue
        try:
            workflow = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
            for name, job in (workflow.get("jobs") or {}).items():
                for entry in ((job.get("strategy") or {}).get("matrix") or {}).get("include") or []:
                    if name in suite_of_job and isinstance(entry.get("shard"), int) and isinstance(entry.get("files"), list):
                        shards.setdefault(suite_of_job[name], {})[entry["shard"]] = [str(f) for f in entry["files"]]
        except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
            continue
    return {suite: [by_index[i] for i in sorted(by_index)] for suite, by_index in sorted(shards.items())}


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


def _shard_of(spec: Mapping | None) -> dict[str, int]:
    if spec is None:
        return {}
    return {path: index for index, shard in enumerate(spec["shards"]) for path in shard["files"]}


def _makespan(spec: Mapping | None) -> float:
    return max((float(shard["est_time"]) for shard in spec["shards"]), default=0.0) if spec else 0.0


def diff_plans(old: Mapping, new: Mapping) -> list[SuiteDiff]:
    """Per suite whose shards changed (as written: index i runs as matrix entry i), in the
    new plan's order, then suites only the old plan has."""
    names = list(new["suites"]) + [name for name in old["suites"] if name not in new["suites"]]
    diffs = []
    for name in names:
        before, after = old["suites"].get(name), new["suites"].get(name)
        was, now = _shard_of(before), _shard_of(after)
        moves = tuple(
            FileMove(path, was.get(path), now.get(path)) for path in sorted(set(was) | set(now)) if was.get(path) != now.get(path)
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
            lines.append(f"{diff.suite}: new suite, {plural(diff.new_shards, 'shard')}, makespan {diff.new_makespan:g}s")
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
