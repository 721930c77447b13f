"""Ending a process group: SIGTERM, a grace period, then SIGKILL to whatever is left.

Standard library only (generator/shipped/). The shard runner ends each test's group with it,
and cigen's action (generator/action.py) the groups it started. A test and the servers it
starts share the group, so ending the group ends the servers too; zombies do not count as
left, since an orphan is reaped by init, which in a container may take its time (or never).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

POLL_SECONDS = 0.05


def members(group: int, environ_entry: bytes | None = None) -> list[int] | None:
    """The live (not zombie) processes of `group`, by pid; with `environ_entry`
    (b"NAME=value"), only those whose environment holds it. None without /proc."""
    try:
        pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    except OSError:
        return None
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            if len(fields) < 3 or fields[2] != str(group).encode() or fields[0] == b"Z":
                continue
            if environ_entry is not None:
                with open(f"/proc/{pid}/environ", "rb") as handle:
                    if environ_entry not in handle.read().split(b"\0"):
                        continue
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        found.append(pid)
    return found


def alive(group: int) -> bool:
    """Whether a process of the group still runs (without /proc: whether the group exists,
    so a zombie member keeps it alive until reaped)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a member we may not signal still runs
    found = members(group)
    return True if found is None else bool(found)


def end(
    group: int,
    grace_seconds: float,
    still_running: Callable[[], bool] | None = None,
    announce: Callable[[signal.Signals], None] | None = None,
) -> bool:
    """SIGTERM the group while `still_running()` (default: `alive(group)`), wait up to
    `grace_seconds` for it to end, then SIGKILL; `announce(signal)` is called before each
    signal. Returns whether a signal was sent."""
    running = still_running or (lambda: alive(group))
    sent = False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not running():
            return sent
        if announce is not None:
            announce(sig)
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return sent
        sent = True
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline:
            if not running():
                return sent
            time.sleep(POLL_SECONDS)
    return sent
