"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """An existing file keeps its permissions; a new one gets 0666 minus the umask, as open() gives."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it."""
    import tempfile  # with random and shutil, a cost a warm `cigen scan`, which writes nothing, should not pay

    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
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
