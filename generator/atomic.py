"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_files_atomic(files: Mapping[Path, str]) -> list[Path]:
    """Write several files, each atomically; returns the paths whose content changed.

    Every output is rendered and validated before this is called, so a failure here can
    only be an OS error on one file; files already renamed stay complete.
    """
    changed = []
    for path in sorted(files):
        text = files[path]
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        write_text_atomic(path, text)
        changed.append(path)
    return changed
