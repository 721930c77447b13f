"""`cigen check`: render in memory, compare with the files on disk, show a unified diff."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.render.files import stale_outputs


@dataclass(frozen=True)
class Drift:
    """One generated file whose committed text is not what a fresh render gives."""

    path: Path
    state: str  # "missing" | "differs" | "stale" (generated earlier, no longer produced)
    diff: str  # unified diff from the committed text to the fresh one


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return path.read_bytes().decode("utf-8", errors="replace")


def _shown(path: Path, root: Path) -> str:
    """The path as `git diff` would name it: relative to the repository root where it is inside."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix().lstrip("/")


def _diff(path: Path, old: str | None, new: str | None, root: Path) -> str:
    shown = _shown(path, root)
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=f"a/{shown}" if old is not None else "/dev/null",
        tofile=f"b/{shown}" if new is not None else "/dev/null",
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def find_drift(files: Mapping[Path, str], github_dir: Path, root: Path) -> list[Drift]:
    """Every rendered file that is missing or differs on disk, then every stale one; diffs name
    files relative to `root`, as git does."""
    drift = []
    for path in sorted(files):
        committed = _read(path)
        if committed != files[path]:
            state = "missing" if committed is None else "differs"
            drift.append(Drift(path, state, _diff(path, committed, files[path], root)))
    for path in stale_outputs(files, github_dir):
        drift.append(Drift(path, "stale", _diff(path, _read(path), None, root)))
    return drift
