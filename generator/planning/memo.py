"""Suite splits remembered between runs, beside the scan cache.

The branch-and-bound search is most of a warm `render` or `check`, and a suite's split depends
only on what `plan_suite` decides it from: each file's planned seconds, the budget, max_parallel,
the groups, the previous shards and the tolerance. A split is stored under a digest of exactly
those, so a changed input is a new key and is never served a stale split. The store records a
fingerprint of the planner's source and the Python version and is dropped whole when either
changes; it keeps only the splits of the last run. Safe to delete at any time.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.atomic import write_text_atomic

_FORMAT = 1
# The modules whose code decides a split: a change to any of them drops every stored split.
_PLANNER_SOURCES = ("plan.py", "planning/partition.py", "planning/stability.py", "planning/memo.py")


@dataclass(frozen=True)
class Split:
    """A suite's files per shard, in shard order, and what the plan reports about the split."""

    bins: tuple[tuple[str, ...], ...]
    optimal: bool
    lpt_makespan_seconds: float


def split_key(
    durations: Mapping[str, float],
    budget_seconds: float,
    max_parallel: int,
    groups: Sequence[Sequence[str]],
    previous: Sequence[Sequence[str]] | None,
    tolerance: float,
) -> str:
    """A digest of every input of a suite's split (floats as JSON writes them: exactly)."""
    inputs = [
        sorted(durations.items()),
        budget_seconds,
        max_parallel,
        [list(group) for group in groups],
        None if previous is None else [list(files) for files in previous],
        tolerance,
    ]
    return hashlib.blake2b(json.dumps(inputs, separators=(",", ":")).encode(), digest_size=16).hexdigest()


class SplitMemo:
    """Splits by key: those loaded from the store, and those this run used (what is saved)."""

    def __init__(self, stored: Mapping[str, object] | None = None):
        self._stored = dict(stored or {})
        self._used: dict[str, list] = {}

    def get(self, key: str, files: Sequence[str]) -> Split | None:
        """The stored split for `key`, if there is one that places exactly `files`."""
        split = _decode(self._stored.get(key))
        if split is None or sorted(path for shard in split.bins for path in shard) != sorted(files):
            return None
        self._used[key] = _encode(split)
        return split

    def put(self, key: str, split: Split) -> None:
        self._used[key] = _encode(split)

    @property
    def used(self) -> dict[str, list]:
        """What the store should hold after this run: the splits it used, as JSON values."""
        return dict(self._used)

    @property
    def changed(self) -> bool:
        return self._used != self._stored


def _encode(split: Split) -> list:
    return [[list(shard) for shard in split.bins], split.optimal, split.lpt_makespan_seconds]


def _decode(data: object) -> Split | None:
    """A stored split, or None for anything else (the store is a file anyone can edit)."""
    if not (isinstance(data, list) and len(data) == 3):
        return None
    bins, optimal, lpt_makespan = data
    if not (isinstance(bins, list) and isinstance(optimal, bool) and isinstance(lpt_makespan, float)):
        return None
    if not all(isinstance(shard, list) and all(isinstance(path, str) for path in shard) for shard in bins):
        return None
    return Split(tuple(tuple(shard) for shard in bins), optimal, lpt_makespan)


def _fingerprint() -> str:
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.blake2b(digest_size=16)
    for name in _PLANNER_SOURCES:
        digest.update((package / name).read_bytes())
    digest.update(f"{_FORMAT}:{sys.version_info[:2]}".encode())
    return digest.hexdigest()


def _store_path(directory: Path, root: Path) -> Path:
    key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
    return directory / f"splits-{key}.json"


def load_split_memo(directory: Path, root: Path) -> SplitMemo:
    """The splits stored for `root`; none when the store is missing, unreadable or stale."""
    try:
        stored = json.loads(_store_path(directory, root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return SplitMemo()
    if not isinstance(stored, dict) or stored.get("fingerprint") != _fingerprint():
        return SplitMemo()
    splits = stored.get("splits")
    return SplitMemo(splits if isinstance(splits, dict) else {})


def save_split_memo(memo: SplitMemo, directory: Path, root: Path) -> None:
    """Keep the splits this run used, when they are not what the store holds already."""
    if not memo.changed:
        return
    text = json.dumps({"fingerprint": _fingerprint(), "splits": memo.used}, separators=(",", ":"))
    try:
        write_text_atomic(_store_path(directory, root), text)
    except OSError:
        pass  # a read-only cache only costs speed (the scan cache, in the same folder, says so)
