"""Small helpers for tests that build files and read command output."""

from __future__ import annotations

from pathlib import Path


def write_files(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def without_warnings(stderr: str) -> str:
    """stderr without the warning findings (and their help lines) every command prints."""
    kept, in_warning = [], False
    for line in stderr.splitlines(keepends=True):
        if line.startswith("  help: ") and in_warning:
            continue
        in_warning = ": warning: " in line or line.startswith("warning: ")
        if not in_warning:
            kept.append(line)
    return "".join(kept)
