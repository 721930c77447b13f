"""Where generated files go on disk, which earlier ones are stale, and writing them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.atomic import write_files_atomic
from generator.names import is_generated


def github_dir(workflows_dir: Path) -> Path:
    """`--out` names the workflows folder; other outputs (actionlint.yaml) go beside it."""
    return workflows_dir.parent


def output_files(rendered: Mapping[str, str], workflows_dir: Path) -> dict[Path, str]:
    base = github_dir(workflows_dir)
    return {
        (workflows_dir / path.removeprefix("workflows/")) if path.startswith("workflows/") else base / path: text
        for path, text in rendered.items()
    }


def stale_outputs(files: Mapping[Path, str], workflows_dir: Path) -> list[Path]:
    """Files cigen generated earlier that it no longer generates (a workflow left with no jobs)."""
    candidates = sorted(
        [*workflows_dir.glob("*.yml"), *workflows_dir.glob("*.yaml"), github_dir(workflows_dir) / "actionlint.yaml"]
    )
    return [path for path in candidates if path not in files and path.is_file() and is_generated(path)]


@dataclass(frozen=True)
class WriteResult:
    changed: tuple[Path, ...]
    removed: tuple[Path, ...]


def write_generated(files: Mapping[Path, str], workflows_dir: Path) -> WriteResult:
    """Write every output atomically, then remove the generated files no longer produced."""
    stale = stale_outputs(files, workflows_dir)
    changed = write_files_atomic(files)
    for path in stale:
        path.unlink()
    return WriteResult(tuple(changed), tuple(stale))
