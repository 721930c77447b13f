"""Earlier plans: the committed plan file's shards, `cigen plan --previous` and `--diff`.

The plan file's shape, version and path are generator/shipped/plan_file.py's; this module reads
it with cigen's errors. `render` keeps files in the shards the committed plan file lists;
`cigen plan --previous/--diff` read it or any `cigen plan --format json` output (the same shape)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.errors import UserError, plural
from generator.names import is_generated
from generator.shipped import plan_file
from generator.shipped.plan_file import PlanFile, PlannedShard


def read_plan(path: Path) -> PlanFile:
    """A plan file or `cigen plan --format json` output; a UserError names what is wrong."""
    try:
        return plan_file.read(path)
    except plan_file.PlanFileError as error:
        raise UserError(error.path, 0, error.code, error.message) from None


def committed_shards(plan_path: Path) -> dict[str, list[list[str]]] | None:
    """The shards of the committed plan file, if cigen wrote one there; a file it cannot read
    back (hand-edited into something else, or of another version) gives nothing, and the plan
    starts fresh."""
    if not is_generated(plan_path):
        return None
    try:
        return plan_file.read(plan_path).shard_paths()
    except plan_file.PlanFileError:
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


def _shard_of(shards: tuple[PlannedShard, ...] | None) -> dict[str, int]:
    if shards is None:
        return {}
    return {path: index for index, shard in enumerate(shards) for path in shard.paths}


def _makespan(shards: tuple[PlannedShard, ...] | None) -> float:
    return max((shard.est_seconds for shard in shards), default=0.0) if shards else 0.0


def diff_plans(old: PlanFile, new: PlanFile) -> list[SuiteDiff]:
    """Per suite whose shards changed (as written: index i runs as matrix entry i), in the
    new plan's order, then suites only the old plan has."""
    names = list(new.suites) + [name for name in old.suites if name not in new.suites]
    diffs = []
    for name in names:
        before, after = old.suites.get(name), new.suites.get(name)
        was, now = _shard_of(before), _shard_of(after)
        moves = tuple(
            FileMove(path, was.get(path), now.get(path))
            for path in sorted(set(was) | set(now))
            if was.get(path) != now.get(path)
        )
        count_before = len(before) if before else 0
        count_after = len(after) if after else 0
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
